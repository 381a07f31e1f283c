package main

import (
	"context"

	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/lab"
	"github.com/tappaas/tappaas/steps/install"
)

// faulty wraps the node executor: the first command starting with prefix
// fails (like the API behind pvesh/qm answering 500) or is delayed.
type faulty struct {
	exec.Executor
	prefix string
	delay  time.Duration
	fail   string
	mu     sync.Mutex
	fired  int
}

func (f *faulty) Run(ctx context.Context, c exec.Cmd) (exec.Result, error) {
	if strings.HasPrefix(c.Script, f.prefix) {
		f.mu.Lock()
		f.fired++
		n := f.fired
		f.mu.Unlock()
		if f.delay > 0 {
			select {
			case <-time.After(f.delay):
			case <-ctx.Done():
				return exec.Result{}, ctx.Err()
			}
		} else if n == 1 {
			return exec.Result{Code: 255, Stderr: f.fail}, &exec.ExitError{Cmd: c.Script, Code: 255, Stderr: f.fail}
		}
	}
	return f.Executor.Run(ctx, c)
}

// Faults: each run either recovers by itself or stops with a message naming
// the step and the next action; the rerun then finishes and the lab holds
// exactly one of everything.
func TestInstallFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	cases := []struct {
		name     string
		wrap     *faulty
		fault    *lab.Fault
		recovers bool
		step     string
	}{
		{name: "api 500 on the backup job", wrap: &faulty{prefix: "pvesh create /cluster/backup", fail: "500 Internal Server Error: lab injected"}, step: "pbs.backup-job"},
		{name: "qm create fails for the firewall VM", wrap: &faulty{prefix: "qm create 110", fail: "500 unable to create VM 110 - lab injected"}, step: "firewall.vm"},
		// PVE busy (nothing changed): the runner retries the step after re-checking it.
		{name: "cluster lock timeout on the backup job", wrap: &faulty{prefix: "pvesh create /cluster/backup", fail: "cfs-lock 'file-jobs_cfg' error: got lock request timeout"}, recovers: true},
		{name: "qm lock timeout for the firewall VM", wrap: &faulty{prefix: "qm create 110", fail: "trying to acquire lock...\ncan't lock file '/var/lock/qemu-server/lock-110.conf' - got timeout"}, recovers: true},
		{name: "ssh drop at command 15", fault: &lab.Fault{DropAt: 15}, recovers: true},
		{name: "ssh drop at command 40", fault: &lab.Fault{DropAt: 40}, recovers: true},
		{name: "ssh drop at command 60", fault: &lab.Fault{DropAt: 60}, recovers: true},
		{name: "ssh drop at command 95", fault: &lab.Fault{DropAt: 95}, recovers: true},
		{name: "ssh drop at command 130", fault: &lab.Fault{DropAt: 130}, recovers: true},
		{name: "slow download", wrap: &faulty{prefix: "curl", delay: 1500 * time.Millisecond}, recovers: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Not parallel: labs in one process interfere (see the report).
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var node *ssh.Client
			code, out, err := labInstall(t, ctx, dir, true, nil, func(o *installOptions) {
				o.sessionHook = func(s *install.Session) { node, _ = s.Targets.Node.(*ssh.Client) }
				if c.fault != nil {
					o.labFaults = []lab.Fault{*c.fault}
				}
				if c.wrap != nil {
					o.wrapNode = func(e exec.Executor) exec.Executor { c.wrap.Executor = e; return c.wrap }
				}
			})
			if c.wrap != nil && c.wrap.fired == 0 {
				t.Fatalf("the fault never fired")
			}
			if c.fault != nil && c.fault.DropAt > 0 && (node == nil || node.Dials() < 2) {
				t.Fatalf("the connection was never dropped and re-dialled")
			}
			if c.recovers {
				if code != 0 {
					t.Fatalf("did not recover: exit %d: %v\n%s", code, err, tail(out, 20))
				}
			} else {
				if code != 1 || err == nil {
					t.Fatalf("want exit 1, got %d (%v)", code, err)
				}
				msg := err.Error()
				if !strings.Contains(msg, c.step) || !strings.Contains(msg, "run the same command again") {
					t.Fatalf("message must name step %s and the next action: %s", c.step, msg)
				}
				code, out, err = labInstall(t, ctx, dir, false, nil)
				if code != 0 {
					t.Fatalf("rerun: exit %d: %v\n%s", code, err, tail(out, 20))
				}
			}
			assertConverged(t, dir)
		})
	}
}

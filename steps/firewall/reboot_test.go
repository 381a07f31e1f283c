package firewall

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
)

// vmProc fakes PVE's view of one VM's QEMU process: `qm reboot` (and a
// stop and start) runs a new one.
type vmProc struct {
	mu       sync.Mutex
	pid      int
	running  bool
	reboots  int
	failBoot bool   // qm reboot fails (the guest ignores ACPI)
	onReboot func() // runs at each reboot, p.mu held
}

func newVMProc(f *exectest.Fake, vmid int) *vmProc {
	p := &vmProc{pid: 4100, running: true}
	f.Reply(`^hostname$`, "tappaas1\n", 0)
	f.On(fmt.Sprintf(`^pvesh get /nodes/tappaas1/qemu/%d/status/current --output-format json$`, vmid), func(_ context.Context, inv *exectest.Invocation) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.running {
			fmt.Fprint(inv.Stdout, `{"status":"stopped","vmid":110}`)
			return 0, nil
		}
		fmt.Fprintf(inv.Stdout, `{"status":"running","pid":%d,"vmid":110,"uptime":3}`, p.pid)
		return 0, nil
	})
	f.On(fmt.Sprintf(`^qm (reboot|stop|start) %d`, vmid), func(_ context.Context, inv *exectest.Invocation) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch inv.Match[1] {
		case "reboot":
			if p.failBoot {
				fmt.Fprintln(inv.Stderr, "VM quit/powerdown failed")
				return 255, nil
			}
			p.pid += 7
			p.reboots++
			if p.onReboot != nil {
				p.onReboot()
			}
		case "stop":
			p.running = false
		case "start":
			p.running = true
			p.pid += 7
			p.reboots++
		}
		return 0, nil
	})
	return p
}

type fakeKeyscan struct {
	mu  sync.Mutex
	key string
	err error
}

func (k *fakeKeyscan) FirewallHostKey(context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.key, k.err
}

// taken sets up a firewall taken over by firewall.config (key pushed,
// certificate pinned) on a node whose VM 110 runs.
func taken(t *testing.T) (*fakeFW, *exectest.Fake, *vmProc, *steps.Runtime, config.Install) {
	t.Helper()
	fw := newFW()
	node := exectest.NewFake()
	p := newVMProc(node, 110)
	node.Reply(`^test -f `, "", 1)
	cfg := config.Defaults()
	r := rt()
	if err := (&Config{Node: node, Cfg: cfg, API: fw, Pusher: fw, WaitAPI: 1e9}).Apply(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return fw, node, p, r, cfg
}

// TestRebootOnceAfterThePush: the firewall is rebooted once after its
// configuration was pushed (upstream config-firewall.sh does, and 26.1 runs
// its migrations only at boot); Check is done only for a QEMU process newer
// than the push with the pinned identities back; a rerun, or a resume
// after the reboot was sent, does not reboot again.
func TestRebootOnceAfterThePush(t *testing.T) {
	t.Parallel()
	fw, node, p, r, cfg := taken(t)
	ks := &fakeKeyscan{key: "ssh-ed25519 AAAAfirewall"}
	s := &Reboot{Node: node, Cfg: cfg, API: fw, SSH: ks, Wait: 1e9}
	ctx := context.Background()
	if pid, _ := steps.Get(r.Facts, FactPushedPID); pid != 4100 {
		t.Fatalf("pushed pid %d, want 4100", pid)
	}
	if st, err := s.Check(ctx, r); err != nil || st.Done {
		t.Fatalf("done before the reboot: %+v %v", st, err)
	}
	if err := s.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	if p.reboots != 1 {
		t.Fatalf("%d reboots, want 1", p.reboots)
	}
	if st, err := s.Check(ctx, r); err != nil || !st.Done {
		t.Fatalf("after the reboot: %+v %v", st, err)
	}
	// A second Apply (resume after the reboot) does not reboot again.
	if err := s.Apply(ctx, r); err != nil || p.reboots != 1 {
		t.Fatalf("second apply: %v, %d reboots", err, p.reboots)
	}
	// A new push needs a new reboot.
	if err := (&Config{Node: node, Cfg: cfg, API: fw, Pusher: fw, WaitAPI: 1e9}).Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Check(ctx, r); st.Done {
		t.Fatal("done although the configuration was pushed again")
	}
}

func TestRebootFallsBackToStopStart(t *testing.T) {
	t.Parallel()
	fw, node, p, r, cfg := taken(t)
	p.failBoot = true
	s := &Reboot{Node: node, Cfg: cfg, API: fw, Wait: 1e9}
	if err := s.Apply(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Check(context.Background(), r); err != nil || !st.Done || !strings.Contains(strings.Join(node.Scripts(), "\n"), "qm stop 110") {
		t.Fatalf("%+v %v", st, err)
	}
}

// TestRebootStopsOnChangedIdentity: a firewall that comes back with another
// certificate or SSH host key is a hard stop, not something to wait out.
func TestRebootStopsOnChangedIdentity(t *testing.T) {
	t.Parallel()
	for _, what := range []string{"certificate", "ssh host key"} {
		fw, node, p, r, cfg := taken(t)
		ks := &fakeKeyscan{key: "ssh-ed25519 AAAAfirewall"}
		s := &Reboot{Node: node, Cfg: cfg, API: fw, SSH: ks, Wait: 5e9}
		// The change happens with the reboot.
		p.onReboot = func() {
			if what == "certificate" {
				fw.mu.Lock()
				fw.fp = strings.Repeat("cd", 32)
				fw.mu.Unlock()
			} else {
				ks.mu.Lock()
				ks.key = "ssh-ed25519 AAAAimpostor"
				ks.mu.Unlock()
			}
		}
		err := s.Apply(context.Background(), r)
		if err == nil || !strings.Contains(err.Error(), "came back with another") {
			t.Errorf("%s: got %v", what, err)
		}
		if _, err := s.Check(context.Background(), r); err == nil {
			t.Errorf("%s: Check did not report the change", what)
		}
	}
}

func TestRebootWaitsForAStoppedVM(t *testing.T) {
	t.Parallel()
	fw, node, p, r, cfg := taken(t)
	p.running = false
	s := &Reboot{Node: node, Cfg: cfg, API: fw, Wait: 1e9}
	if st, _ := s.Check(context.Background(), r); st.Done {
		t.Fatal("done with the VM stopped")
	}
	if err := s.Apply(context.Background(), r); err == nil || !strings.Contains(err.Error(), "qm start 110") {
		t.Fatalf("got %v", err)
	}
}

// downFW is a firewall API that does not answer while down is set.
type downFW struct {
	*fakeFW
	mu   sync.Mutex
	down bool
}

func (d *downFW) set(v bool) { d.mu.Lock(); d.down = v; d.mu.Unlock() }

func (d *downFW) Fingerprint(ctx context.Context) (string, error) {
	d.mu.Lock()
	down := d.down
	d.mu.Unlock()
	if down {
		return "", fmt.Errorf("dial tcp 10.0.0.1:443: connect: connection refused")
	}
	return d.fakeFW.Fingerprint(ctx)
}

// TestRebootResumeDoesNotRebootTwice: the run dies while waiting for the
// firewall to come back; the resumed run finds a boot since the push and
// only waits.
func TestRebootResumeDoesNotRebootTwice(t *testing.T) {
	t.Parallel()
	fw, node, p, r, cfg := taken(t)
	d := &downFW{fakeFW: fw}
	p.onReboot = func() { d.set(true) } // still booting
	s := &Reboot{Node: node, Cfg: cfg, API: d, Wait: 3e8}
	if err := s.Apply(context.Background(), r); err == nil || !strings.Contains(err.Error(), "not back after its reboot") {
		t.Fatalf("got %v", err)
	}
	if st, err := s.Check(context.Background(), r); err != nil || st.Done {
		t.Fatalf("done while the firewall is down: %+v %v", st, err)
	}
	d.set(false)
	if st, err := s.Check(context.Background(), r); err != nil || !st.Done {
		t.Fatalf("after it came back: %+v %v", st, err)
	}
	if err := s.Apply(context.Background(), r); err != nil || p.reboots != 1 {
		t.Fatalf("resume: %v, %d reboots (want 1)", err, p.reboots)
	}
}

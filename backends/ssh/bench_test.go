package ssh

import (
	"context"
	"os"
	osexec "os/exec"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
)

// BenchmarkSSH100Commands compares 100 sequential commands over one tappaas
// connection with 100 fresh OpenSSH `ssh host cmd` invocations (the way the
// bash installers work) against the same sshd, as user tappaasbench whose
// login shell is /bin/sh. Metrics: ms per 100 commands for each, their
// ratio, and the per-command overhead.
func BenchmarkSSH100Commands(b *testing.B) {
	if _, err := osexec.LookPath("ssh"); err != nil {
		b.Skip("OpenSSH client not installed")
	}
	ensureUser(b, "tappaasbench")
	s := startSSHD(b, sshdOptions{})
	kh := s.knownHosts(b)
	ctx := context.Background()
	cfg := Config{Addr: s.addr, User: "tappaasbench", KnownHostsFile: kh, Signers: s.config(b).Signers}
	c, err := Dial(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	sshArgs := []string{"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=" + kh,
		"-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-i", s.clientFile,
		"-p", s.port(), "tappaasbench@127.0.0.1", "true"}
	// Sanity: both paths work.
	if out, err := osexec.Command("ssh", sshArgs...).CombinedOutput(); err != nil {
		b.Fatalf("ssh: %v %s", err, out)
	}
	var ours, theirs time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range 100 {
			if _, err := c.Run(ctx, exec.Cmd{Script: "true"}); err != nil {
				b.Fatal(err)
			}
		}
		ours += time.Since(t0)
		t0 = time.Now()
		for range 100 {
			cmd := osexec.Command("ssh", sshArgs...)
			cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("ssh: %v %s", err, out)
			}
		}
		theirs += time.Since(t0)
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Milliseconds())/n, "tappaas-ms/100cmd")
	b.ReportMetric(float64(theirs.Milliseconds())/n, "openssh-ms/100cmd")
	b.ReportMetric(float64(theirs)/float64(ours), "speedup")
	b.ReportMetric(float64(ours.Microseconds())/n/100, "tappaas-us/cmd")
	b.ReportMetric(float64(theirs.Microseconds())/n/100, "openssh-us/cmd")
}

// BenchmarkRunPersistentVsSession: one command (`true`) on a persistent
// shell and on a session of its own, same connection and sshd (user
// tappaasbench, login shell /bin/sh).
func BenchmarkRunPersistentVsSession(b *testing.B) {
	ensureUser(b, "tappaasbench")
	s := startSSHD(b, sshdOptions{})
	ctx := context.Background()
	c, err := Dial(ctx, Config{Addr: s.addr, User: "tappaasbench", KnownHostsFile: s.knownHosts(b), Signers: s.config(b).Signers})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if !c.Persistent() {
		b.Fatal("no persistent shell")
	}
	for _, persistent := range []bool{true, false} {
		name := "persistent"
		if !persistent {
			name = "session-per-command"
		}
		b.Run(name, func(b *testing.B) {
			c.conn.agents = persistent
			defer func() { c.conn.agents = true }()
			for b.Loop() {
				if _, err := c.Run(ctx, exec.Cmd{Script: "true"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

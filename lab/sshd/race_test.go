package sshd_test

import (
	"context"
	"io"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/lab/sshd"
)

// Requests that arrive after the command started (a late pty-req, env)
// change nothing the running handler reads: no data race (go test -race).
func TestLateSessionRequestsDoNotRace(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := start(t, func(c *sshd.Config) {
		c.Handler = func(ctx context.Context, _, _ string, _ io.Reader, _, _ io.Writer) int {
			for range 200 {
				if i, ok := sshd.InfoFromContext(ctx); ok && i.PTY {
					return 9
				}
			}
			<-release
			i, _ := sshd.InfoFromContext(ctx)
			if i.PTY || i.Env["LATE"] != "" {
				return 8
			}
			return 0
		}
	})
	c := f.dial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("x"); err != nil {
		t.Fatal(err)
	}
	ok, _ := s.SendRequest("pty-req", true, gossh.Marshal(struct {
		Term             string
		Cols, Rows, W, H uint32
		Modes            string
	}{Term: "xterm", Cols: 80, Rows: 24}))
	if ok {
		t.Error("a pty-req after exec was accepted")
	}
	if err := s.Setenv("LATE", "1"); err == nil {
		t.Error("an env request after exec was accepted")
	}
	close(release)
	if err := s.Wait(); err != nil {
		t.Fatalf("the handler saw the late requests: %v", err)
	}
}

package ssh

import (
	"context"
	"testing"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/exec/exectest"
)

func TestSSHConformance(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	exectest.Run(t, func(t *testing.T) exec.Executor { return s.dial(t, s.config(t)) })
}

func TestSSHBasic(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	c := s.dial(t, s.config(t))
	res, err := c.Run(context.Background(), exec.Cmd{Script: "echo hi; id -u"})
	if err != nil || res.Stdout != "hi\n0\n" {
		t.Fatalf("%+v %v", res, err)
	}
	if c.conn.wrap != true {
		t.Fatal("watchdog not enabled on a real sshd")
	}
}

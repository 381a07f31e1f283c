package exectest

import (
	"context"
	"errors"
	"testing"

	"github.com/tappaas/tappaas/backends/exec"
)

func TestFakeConformance(t *testing.T) {
	Run(t, func(t *testing.T) exec.Executor { return SuiteFake() })
}

func TestFakeRecordsAndUnknown(t *testing.T) {
	f := NewFake().Reply(`^pveversion$`, "pve-manager/9.2.11/abc\n", 0).Fail(`^qm list`, exec.ErrConnectionLost)
	var unknown []string
	f.OnUnknown = func(s string) { unknown = append(unknown, s) }
	ctx := context.Background()
	res, err := f.Run(ctx, exec.Cmd{Script: "pveversion", Sudo: true})
	if err != nil || res.Stdout != "pve-manager/9.2.11/abc\n" {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := f.Run(ctx, exec.Cmd{Script: "qm list --full"}); !errors.Is(err, exec.ErrConnectionLost) {
		t.Fatalf("want ErrConnectionLost, got %v", err)
	}
	_, err = f.Run(ctx, exec.Cmd{Script: "nosuchcmd --x"})
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Code != 127 {
		t.Fatalf("unknown command: %v", err)
	}
	if len(unknown) != 1 || unknown[0] != "nosuchcmd --x" {
		t.Fatalf("OnUnknown saw %q", unknown)
	}
	calls := f.Calls()
	if len(calls) != 3 || calls[0].Script != "pveversion" || !calls[0].Sudo || f.Scripts()[2] != "nosuchcmd --x" {
		t.Fatalf("calls %+v", calls)
	}
	f.FailWrites(errors.New("disk full"))
	if err := f.WriteFile(ctx, "/x", nil, 0o600); err == nil {
		t.Fatal("FailWrites ignored")
	}
}

package exec_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/exec/exectest"
)

func TestLocalConformance(t *testing.T) {
	exectest.Run(t, func(t *testing.T) exec.Executor { return exec.NewLocal() })
}

// Cancellation must kill the whole process group, not only the shell.
func TestLocalCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	l := exec.NewLocal()
	pids := make(chan int, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := l.Run(ctx, exec.Cmd{Script: `sleep 60 & echo $!; sh -c 'sleep 61 & echo $!; wait' & wait`,
			Stdout: func(s string) {
				if n, err := strconv.Atoi(s); err == nil {
					pids <- n
				}
			}})
		done <- err
	}()
	var got []int
	for len(got) < 2 {
		select {
		case p := <-pids:
			got = append(got, p)
		case <-time.After(10 * time.Second):
			t.Fatal("no pids printed")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("want Canceled, got %v", err)
	}
	for _, p := range got {
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(p, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("grandchild %d survived cancellation", p)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// A background child holding stdout open must not hang Run forever.
func TestLocalBackgroundChildDoesNotHang(t *testing.T) {
	t.Parallel()
	l := exec.NewLocal()
	l.WaitDelay = 200 * time.Millisecond
	start := time.Now()
	res, err := l.Run(context.Background(), exec.Cmd{Script: `sleep 5 & echo started`})
	if err != nil || res.Stdout != "started\n" {
		t.Fatalf("%+v %v", res, err)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatal("Run waited for the background child")
	}
}

func TestLocalWriteFileLeavesNoTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := exec.NewLocal()
	name := filepath.Join(dir, "s.json")
	for i := range 3 {
		if err := l.WriteFile(context.Background(), name, []byte(strings.Repeat("x", i)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("leftovers: %v", ents)
	}
	st, _ := os.Stat(name)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}

func TestIsSudoPasswordPrompt(t *testing.T) {
	for _, s := range []string{"sudo: a password is required\n", "sudo: a terminal is required to read the password; either use the -S option"} {
		if !exec.IsSudoPasswordPrompt(s) {
			t.Errorf("%q not recognised", s)
		}
	}
	if exec.IsSudoPasswordPrompt("permission denied") {
		t.Error("false positive")
	}
}

func TestLineWriterCapKeepsTail(t *testing.T) {
	var lines []string
	w := exec.NewLineWriter(10, func(s string) { lines = append(lines, s) })
	w.Write([]byte("abc\r\ndef\nghij"))
	w.Write([]byte("klmnop\n"))
	w.Flush()
	if got := strings.Join(lines, "|"); got != "abc|def|ghijklmnop" {
		t.Fatalf("lines %q", got)
	}
	if w.String() != "hijklmnop\n" {
		t.Fatalf("tail %q", w.String())
	}
}

func FuzzLineWriter(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), 3)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		var got []string
		w := exec.NewLineWriter(64, func(s string) { got = append(got, s) })
		if split < 0 || split > len(data) {
			split = len(data) / 2
		}
		w.Write(data[:split])
		w.Write(data[split:])
		w.Flush()
		want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(data) == 0 {
			want = nil
		}
		if len(got) != len(want) {
			t.Fatalf("got %d lines want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != strings.TrimSuffix(want[i], "\r") {
				t.Fatalf("line %d: %q vs %q", i, got[i], want[i])
			}
		}
		if len(w.String()) > 64 {
			t.Fatal("cap exceeded")
		}
	})
}

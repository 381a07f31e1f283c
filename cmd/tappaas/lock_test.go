package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/lab"
)

const labLock = "/var/lib/tappaas/lock"

// labFile reads a file of the lab node's shell ("" when missing).
func labFile(t *testing.T, l *lab.Lab, name string) (string, bool) {
	t.Helper()
	var out, errb bytes.Buffer
	code := l.Run(context.Background(), "cat "+exec.Quote(name), nil, &out, &errb)
	return out.String(), code == 0
}

// putLabLock writes a lock of holder h on the lab node.
func putLabLock(t *testing.T, l *lab.Lab, h state.Holder) {
	t.Helper()
	b, _ := json.Marshal(h)
	var errb bytes.Buffer
	if code := l.Run(context.Background(), "mkdir -p /var/lib/tappaas && cat > "+labLock, bytes.NewReader(b), &bytes.Buffer{}, &errb); code != 0 {
		t.Fatalf("write the lock: %s", errb.String())
	}
}

var otherRun = state.Holder{ID: "6f1c2a4e-8b1d-4c3e-9a7f-0d2b5e8c1f3a", User: "root", Host: "laptop", PID: 4242,
	Since: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}

// A second installer refused by the lock writes nothing on the node (its
// answers used to go to the journal before the lock, reusing serials of
// the running one), and its message names the full lock path and the
// unlock command.
func TestInstallRefusedByLockWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var l *lab.Lab
	code, out, err := labInstall(t, ctx, dir, true, func(lb *lab.Lab) { l = lb; putLabLock(t, lb, otherRun) })
	var le *state.LockError
	if code != 1 || !errors.As(err, &le) {
		t.Fatalf("exit %d, %v: want 1 and a *state.LockError\n%s", code, err, out)
	}
	for _, want := range []string{"root@192.168.1.10:22:" + labLock, "tappaas unlock " + otherRun.ID, "laptop"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	for _, f := range []string{"journal.jsonl", "state.json", "secrets.json"} {
		if got, ok := labFile(t, l, "/var/lib/tappaas/"+f); ok {
			t.Errorf("the refused run wrote %s:\n%s", f, got)
		}
	}
	if got, _ := labFile(t, l, labLock); !strings.Contains(got, otherRun.ID) {
		t.Errorf("the lock changed: %q", got)
	}
}

// lockDrop loses the answer of the lock create (the create reached the
// node), then fails every node command but the checkpoint's own, so the
// run stops at its first step.
type lockDrop struct {
	exec.Executor
	dropped atomic.Bool
}

func (d *lockDrop) Run(ctx context.Context, c exec.Cmd) (exec.Result, error) {
	if strings.Contains(c.Script, "set -C") && strings.Contains(c.Script, labLock) && !d.dropped.Swap(true) {
		res, err := d.Executor.Run(ctx, c)
		if err != nil {
			return res, err
		}
		return exec.Result{Code: -1}, fmt.Errorf("command on %s: %w: lab injected after the create", d.Target(), exec.ErrConnectionLost)
	}
	if d.dropped.Load() && !strings.Contains(c.Script, "/var/lib/tappaas") {
		return exec.Result{Code: 255}, &exec.ExitError{Cmd: c.Script, Code: 255, Stderr: "lab injected"}
	}
	return d.Executor.Run(ctx, c)
}

// A link dropped during the lock create: the retry finds the lock with
// this run's ID and goes on, instead of "another tappaas is running" about
// itself; the lock is released at the end.
func TestInstallLockCreateLinkDrop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var l *lab.Lab
	d := &lockDrop{}
	code, out, err := labInstall(t, ctx, dir, true, func(lb *lab.Lab) { l = lb }, func(o *installOptions) {
		o.wrapNode = func(e exec.Executor) exec.Executor { d.Executor = e; return d }
	})
	if !d.dropped.Load() {
		t.Fatal("the lock create was never seen")
	}
	var le *state.LockError
	if errors.As(err, &le) || strings.Contains(fmt.Sprint(err), "another tappaas") {
		t.Fatalf("the run was refused by its own lock: %v\n%s", err, out)
	}
	if code != 1 || !strings.Contains(fmt.Sprint(err), "lab injected") {
		t.Fatalf("exit %d, %v: want the first step's injected failure\n%s", code, err, out)
	}
	if got, ok := labFile(t, l, labLock); ok {
		t.Fatalf("lock not released: %s", got)
	}
}

// `tappaas unlock ID`: shows the holder, refuses a wrong ID, asks for
// confirmation (only "yes"), and removes the lock.
func TestUnlockCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var l *lab.Lab
	unlock := func(id, stdin string, yes bool, reset bool) (int, string, error) {
		var out bytes.Buffer
		o := unlockOptions{id: id}
		o.lab, o.labDir, o.labReset, o.logFile, o.yes = true, dir, reset, dir+"/unlock.log", yes
		o.labHook = func(lb *lab.Lab) {
			l = lb
			if reset {
				putLabLock(t, lb, otherRun)
			}
		}
		code, err := runUnlock(ctx, o, strings.NewReader(stdin), &out, &out)
		return code, out.String(), err
	}
	code, out, err := unlock("wrong-id", "", true, true)
	if code != 1 || !errors.Is(err, state.ErrLockIDMismatch) || !strings.Contains(err.Error(), "root@laptop pid 4242") {
		t.Fatalf("wrong ID: exit %d %v\n%s", code, err, out)
	}
	if _, ok := labFile(t, l, labLock); !ok {
		t.Fatal("a wrong ID removed the lock")
	}
	code, out, err = unlock(otherRun.ID, "no\n", false, false)
	if code != 2 || err == nil || !strings.Contains(out, "held by root@laptop pid 4242 since 2026-12-01T09:00:00Z") || !strings.Contains(out, "Only 'yes'") {
		t.Fatalf("not confirmed: exit %d %v\n%s", code, err, out)
	}
	if _, ok := labFile(t, l, labLock); !ok {
		t.Fatal("an unconfirmed unlock removed the lock")
	}
	code, out, err = unlock(otherRun.ID, "yes\n", false, false)
	if code != 0 || err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("confirmed: exit %d %v\n%s", code, err, out)
	}
	if got, ok := labFile(t, l, labLock); ok {
		t.Fatalf("lock still there: %s", got)
	}
	if code, _, err := unlock(otherRun.ID, "", true, false); code != 1 || !errors.Is(err, state.ErrNoLock) {
		t.Fatalf("no lock: exit %d %v", code, err)
	}
}

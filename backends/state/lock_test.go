package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/backends/state/statetest"
)

// lostAnswerFS creates the lock on the target, then reports the link lost
// (the answer never came back), once.
type lostAnswerFS struct {
	state.FS
	fired atomic.Bool
	retry bool // retry a lost call, as the installer's retrying FS does
}

func (f *lostAnswerFS) CreateExclusive(name string, data []byte, perm fs.FileMode) error {
	if name == state.LockFile && !f.fired.Swap(true) {
		if err := f.FS.CreateExclusive(name, data, perm); err != nil {
			return err
		}
		if !f.retry {
			return fmt.Errorf("create %s: %w", name, io.ErrUnexpectedEOF)
		}
	}
	return f.FS.CreateExclusive(name, data, perm)
}

// A link dropped during the lock create: the create went through, so the
// lock on the target is this run's own. Lock recognises it by its ID
// instead of reporting this (live) process as "another tappaas".
func TestLockCreateAnswerLost(t *testing.T) {
	t.Parallel()
	for _, retry := range []bool{false, true} {
		t.Run(fmt.Sprintf("retried=%v", retry), func(t *testing.T) {
			t.Parallel()
			fsys := &lostAnswerFS{FS: statetest.NewMemFS(), retry: retry}
			s := open(t, fsys)
			s.PIDAlive = func(int) bool { return true } // this process is alive
			unlock, err := s.Lock(context.Background(), holder)
			if err != nil {
				t.Fatalf("Lock after a lost answer = %v, want the run's own lock", err)
			}
			if !fsys.fired.Load() {
				t.Fatal("the fault never fired")
			}
			if err := s.RecordStep("a", state.Record{Status: state.StatusDone}); err != nil {
				t.Fatal(err)
			}
			if err := unlock(); err != nil {
				t.Fatalf("unlock: %v", err)
			}
			if _, err := fsys.ReadFile(state.LockFile); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("lock left behind: %v", err)
			}
		})
	}
}

// Nothing touches the state before the lock: every change of a store that
// does not hold it is refused, and no file is written.
func TestChangesNeedTheLock(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	s := open(t, fsys)
	for name, change := range map[string]func() error{
		"SetInput":   func() error { return s.SetInput("k", 1) },
		"SetFact":    func() error { return s.SetFact("k", json.RawMessage("1")) },
		"RecordStep": func() error { return s.RecordStep("a", state.Record{Status: state.StatusDone}) },
		"SetPlan":    func() error { return s.SetPlan("install", holder) },
		"SetSecret":  func() error { return s.Secrets().SetSecret("pw", "x") },
	} {
		if err := change(); !errors.Is(err, state.ErrNotLocked) {
			t.Errorf("%s without the lock = %v, want ErrNotLocked", name, err)
		}
	}
	for _, f := range []string{state.JournalFile, state.StateFile, state.SecretsFile} {
		if _, err := fsys.ReadFile(f); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s written without the lock (%v)", f, err)
		}
	}
	if s.Serial() != 0 || len(s.Inputs()) != 0 {
		t.Errorf("in-memory state changed without the lock: serial %d inputs %v", s.Serial(), s.Inputs())
	}
	unlock, err := s.Lock(context.Background(), holder)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetInput("k", 1); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := s.SetInput("k", 2); !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("SetInput after unlock = %v, want ErrNotLocked", err)
	}
}

// A store opened before another run changed the state reads it again when
// it takes the lock: its changes follow the other run's, no serial is
// reused and nothing is lost when the state is rebuilt from the journal.
func TestLockRereadsState(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	late := open(t, fsys) // opened first, locks last
	first := openLocked(t, fsys)
	if err := first.SetInput("answers", "first"); err != nil {
		t.Fatal(err)
	}
	if err := first.Secrets().SetSecret("pve.token", "tok-first"); err != nil {
		t.Fatal(err)
	}
	lease, _ := first.Held()
	if _, err := first.ForceUnlock(lease.Holder.ID); err != nil { // as if its run ended
		t.Fatal(err)
	}
	unlock, err := late.Lock(context.Background(), holder)
	if err != nil {
		t.Fatal(err)
	}
	if v := string(late.Inputs()["answers"]); v != `"first"` {
		t.Errorf("after Lock the store still has the state of Open: answers = %q", v)
	}
	if err := late.Secrets().SetSecret("firewall.root", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := late.RecordStep("a", state.Record{Status: state.StatusDone}); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	j, _ := fsys.ReadFile(state.JournalFile)
	seen := map[uint64]bool{}
	for line := range strings.Lines(string(j)) {
		var e struct{ Serial uint64 }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if seen[e.Serial] {
			t.Fatalf("serial %d reused in the journal:\n%s", e.Serial, j)
		}
		seen[e.Serial] = true
	}
	if err := fsys.Remove(state.StateFile); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove(state.PrevFile); err != nil {
		t.Fatal(err)
	}
	rebuilt := open(t, fsys) // from the journal alone
	if _, ok := rebuilt.Step("a"); !ok || string(rebuilt.Inputs()["answers"]) != `"first"` {
		t.Fatalf("rebuilt from the journal: steps %v inputs %v", rebuilt.Steps(), rebuilt.Inputs())
	}
	if v, _ := rebuilt.Secrets().Secret("pve.token"); v != "tok-first" {
		t.Errorf("the other run's secret was overwritten: %q", v)
	}
}

// `tappaas unlock ID` (as terraform force-unlock): only the right ID
// removes the lock; the holder is returned to be shown.
func TestForceUnlock(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	s := open(t, fsys)
	if _, err := s.ForceUnlock("x"); !errors.Is(err, state.ErrNoLock) {
		t.Fatalf("ForceUnlock without a lock = %v, want ErrNoLock", err)
	}
	holderStore := openLocked(t, fsys)
	lease, _ := holderStore.Held()
	got, err := s.ReadLock()
	if err != nil || got != lease.Holder {
		t.Fatalf("ReadLock = %+v, %v; want %+v", got, err, lease.Holder)
	}
	_, err = s.ForceUnlock("0b7c1a52-0000-4000-8000-000000000000")
	if !errors.Is(err, state.ErrLockIDMismatch) || !strings.Contains(err.Error(), "root@tappaas1 pid 1234") {
		t.Fatalf("wrong ID = %v, want ErrLockIDMismatch naming the holder", err)
	}
	if _, err := fsys.ReadFile(state.LockFile); err != nil {
		t.Fatalf("a wrong ID removed the lock: %v", err)
	}
	h, err := s.ForceUnlock(lease.Holder.ID)
	if err != nil || h != lease.Holder {
		t.Fatalf("ForceUnlock(right ID) = %+v, %v", h, err)
	}
	if _, err := fsys.ReadFile(state.LockFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("lock still there: %v", err)
	}
	// A lock of an older tappaas has no ID: it is never matched.
	old, _ := json.Marshal(state.Holder{User: "root", Host: "tappaas1", PID: 5})
	if err := fsys.CreateExclusive(state.LockFile, old, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ForceUnlock(""); !errors.Is(err, state.ErrLockIDMismatch) || !strings.Contains(err.Error(), "remove mem:lock by hand") {
		t.Fatalf("lock without an ID = %v", err)
	}
}

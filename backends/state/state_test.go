package state_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/backends/state/statetest"
)

// modeFS adds Mode (via the local disk) to an FS rooted at dir.
type modeFS struct {
	state.FS
	dir string
}

func (m modeFS) Mode(name string) (fs.FileMode, bool) {
	fi, err := os.Stat(filepath.Join(m.dir, name))
	if err != nil {
		return 0, false
	}
	return fi.Mode().Perm(), true
}

func TestDirFSConformance(t *testing.T) {
	t.Parallel()
	statetest.TestFS(t, func(t *testing.T) state.FS { return state.DirFS(t.TempDir()) })
}

func TestMemFSConformance(t *testing.T) {
	t.Parallel()
	statetest.TestFS(t, func(t *testing.T) state.FS { return statetest.NewMemFS() })
}

func TestExecFSConformance(t *testing.T) {
	t.Parallel()
	statetest.TestFS(t, func(t *testing.T) state.FS {
		dir := t.TempDir()
		return modeFS{state.ExecFS(exec.NewLocal(), dir), dir}
	})
}

func open(t *testing.T, fsys state.FS) *state.Store {
	t.Helper()
	s, err := state.Open(fsys)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// openLocked opens the store and takes its run lock until the test ends
// (every change needs it).
func openLocked(t *testing.T, fsys state.FS) *state.Store {
	t.Helper()
	s := open(t, fsys)
	unlock, err := s.Lock(context.Background(), holder)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	t.Cleanup(func() { unlock() })
	return s
}

var holder = state.Holder{User: "root", Host: "tappaas1", PID: 1234, Since: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}

func fill(t *testing.T, s *state.Store) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetInput("site.domain", "example.org"))
	must(s.SetFact("firewall.vmid", json.RawMessage("101")))
	must(s.RecordStep("node.repos", state.Record{Status: state.StatusRunning, Attempts: 1}))
	must(s.RecordStep("node.repos", state.Record{Status: state.StatusDone, Attempts: 1, Detail: "no-subscription on"}))
	must(s.RecordStep("pbs.install", state.Record{Status: state.StatusFailed, Attempts: 2, Error: "apt-get exited 100"}))
}

func checkFilled(t *testing.T, s *state.Store) {
	t.Helper()
	if r, ok := s.Step("node.repos"); !ok || r.Status != state.StatusDone || r.Detail != "no-subscription on" {
		t.Errorf("node.repos = %+v, %v", r, ok)
	}
	if r, ok := s.Step("pbs.install"); !ok || r.Status != state.StatusFailed || r.Attempts != 2 {
		t.Errorf("pbs.install = %+v, %v", r, ok)
	}
	if v := string(s.Facts()["firewall.vmid"]); v != "101" {
		t.Errorf("fact firewall.vmid = %q", v)
	}
	if v := string(s.Inputs()["site.domain"]); v != `"example.org"` {
		t.Errorf("input site.domain = %q", v)
	}
}

func TestStoreRoundTripAndModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tappaas")
	fsys := state.DirFS(dir)
	s := openLocked(t, fsys)
	fill(t, s)
	if err := s.Secrets().SetSecret("firewall.root", "s3cr3t-Value!"); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, fsys)
	checkFilled(t, s2)
	if v, ok := s2.Secrets().Secret("firewall.root"); !ok || v != "s3cr3t-Value!" {
		t.Errorf("secret = %q, %v", v, ok)
	}
	if s2.Serial() != s.Serial() || s.Serial() != 5 {
		t.Errorf("serials %d, %d; want 5", s.Serial(), s2.Serial())
	}
	if w := s2.Warnings(); len(w) != 0 {
		t.Errorf("warnings on a clean store: %q", w)
	}
	for name, want := range map[string]fs.FileMode{".": 0o700, state.StateFile: 0o600, state.JournalFile: 0o600, state.SecretsFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", name, fi.Mode().Perm(), want)
		}
	}
	// The secret is nowhere but secrets.json.
	for _, name := range []string{state.StateFile, state.JournalFile} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if bytes.Contains(b, []byte("s3cr3t")) {
			t.Errorf("%s contains the secret", name)
		}
	}
	// One journal line per change.
	b, _ := os.ReadFile(filepath.Join(dir, state.JournalFile))
	if n := bytes.Count(b, []byte("\n")); n != 5 {
		t.Errorf("journal has %d lines, want 5:\n%s", n, b)
	}
}

func TestOpenTightensDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "st")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	open(t, state.DirFS(dir))
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %o, want 700", fi.Mode().Perm())
	}
}

func TestTornWrite(t *testing.T) {
	t.Parallel()
	damage := map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"garbage":   func([]byte) []byte { return []byte("\x00\x17garbage{{{") },
		"empty":     func([]byte) []byte { return nil },
		"wrongtype": func([]byte) []byte { return []byte(`{"schema":1,"steps":{"a":{"status":"exploded"}}}`) },
	}
	for name, dmg := range damage {
		for _, withJournal := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/journal=%v", name, withJournal), func(t *testing.T) {
				t.Parallel()
				fsys := statetest.NewMemFS()
				s := open(t, fsys)
				unlock, err := s.Lock(context.Background(), holder)
				if err != nil {
					t.Fatal(err)
				}
				fill(t, s)
				if err := unlock(); err != nil {
					t.Fatal(err)
				}
				unlock, err = s.Lock(context.Background(), holder) // saves the previous good copy
				if err != nil {
					t.Fatal(err)
				}
				if err := s.RecordStep("late.step", state.Record{Status: state.StatusDone}); err != nil {
					t.Fatal(err)
				}
				if err := unlock(); err != nil {
					t.Fatal(err)
				}
				good, _ := fsys.ReadFile(state.StateFile)
				if err := fsys.WriteFileAtomic(state.StateFile, dmg(good), 0o600); err != nil {
					t.Fatal(err)
				}
				if !withJournal {
					if err := fsys.Remove(state.JournalFile); err != nil {
						t.Fatal(err)
					}
				}
				s2 := open(t, fsys)
				w := strings.Join(s2.Warnings(), "\n")
				if !strings.Contains(w, "damaged") || !strings.Contains(w, state.PrevFile) {
					t.Errorf("warning does not tell the operator: %q", w)
				}
				checkFilled(t, s2)
				_, late := s2.Step("late.step")
				if late != withJournal {
					t.Errorf("late.step recovered = %v, want %v (only the journal knows it)", late, withJournal)
				}
				if kept, err := fsys.ReadFile(state.StateFile + ".damaged"); err != nil || !bytes.Equal(kept, dmg(good)) {
					t.Errorf("damaged copy not kept: %v", err)
				}
			})
		}
	}
}

func TestTornWriteNoFallback(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	if err := fsys.WriteFileAtomic(state.StateFile, []byte(`{"schema":1,`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := state.Open(fsys)
	if !errors.Is(err, state.ErrCorrupt) || !strings.Contains(err.Error(), "no previous good copy") || !strings.Contains(err.Error(), "start afresh") {
		t.Fatalf("Open = %v, want ErrCorrupt saying there is no previous copy and what to do", err)
	}
	if err := fsys.WriteFileAtomic(state.PrevFile, []byte(`garbage`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = state.Open(fsys)
	if !errors.Is(err, state.ErrCorrupt) || !strings.Contains(err.Error(), "damaged too") {
		t.Fatalf("Open = %v, want ErrCorrupt saying both are damaged", err)
	}
	// With the journal, the store is rebuilt from it alone.
	line := `{"serial":1,"at":"2026-11-23T12:00:00Z","kind":"step","step":"a","record":{"status":"done"}}` + "\n"
	if err := fsys.AppendFile(state.JournalFile, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := state.Open(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := s.Step("a"); !ok || r.Status != state.StatusDone {
		t.Fatalf("a = %+v, %v: not rebuilt from the journal", r, ok)
	}
	if w := strings.Join(s.Warnings(), "\n"); !strings.Contains(w, "rebuilt from the journal") {
		t.Fatalf("warnings %q", w)
	}
}

func TestSchemaTooNewRefused(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	if err := fsys.WriteFileAtomic(state.StateFile, []byte(`{"schema":7,"serial":3,"steps":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fsys.WriteFileAtomic(state.PrevFile, []byte(`{"schema":1,"serial":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := state.Open(fsys)
	var se *state.SchemaError
	if !errors.As(err, &se) || !errors.Is(err, state.ErrSchemaTooNew) || se.Found != 7 {
		t.Fatalf("Open = %v, want *SchemaError{Found: 7}", err)
	}
	if !strings.Contains(err.Error(), "newer tappaas") {
		t.Errorf("message does not say what to do: %v", err)
	}
}

func TestMigrateSchema0(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	v0 := `{"serial":4,"done":["node.repos","node.packages"],"facts":{"node.nic":"\"eno1\""},"inputs":{}}`
	if err := fsys.WriteFileAtomic(state.StateFile, []byte(v0), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openLocked(t, fsys)
	for _, id := range []string{"node.repos", "node.packages"} {
		if r, ok := s.Step(id); !ok || r.Status != state.StatusDone {
			t.Errorf("%s after migration = %+v, %v", id, r, ok)
		}
	}
	if s.Serial() != 4 {
		t.Errorf("serial %d, want 4", s.Serial())
	}
	if err := s.RecordStep("x", state.Record{Status: state.StatusDone}); err != nil {
		t.Fatal(err)
	}
	b, _ := fsys.ReadFile(state.StateFile)
	f, err := state.Decode(b)
	if err != nil || f.Schema != state.SchemaVersion || len(f.Steps) != 3 {
		t.Fatalf("rewritten state = %+v, %v", f, err)
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	if _, ok := m["done"]; ok {
		t.Error("schema-0 field \"done\" survived the migration")
	}
	// A malformed schema-0 file is a clear error.
	if _, err := state.Decode([]byte(`{"done":"node.repos"}`)); !errors.Is(err, state.ErrCorrupt) || !strings.Contains(err.Error(), "done") {
		t.Errorf("Decode(bad v0) = %v", err)
	}
}

func TestJournalReplayAndSnapshotEvery(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	s := openLocked(t, fsys)
	s.SnapshotEvery = time.Hour
	if err := s.RecordStep("a", state.Record{Status: state.StatusDone}); err != nil { // first write snapshots
		t.Fatal(err)
	}
	for i := range 10 {
		if err := s.RecordStep(fmt.Sprintf("s%d", i), state.Record{Status: state.StatusDone}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := fsys.ReadFile(state.StateFile)
	f, _ := state.Decode(b)
	if f.Serial != 1 {
		t.Fatalf("snapshot serial %d, want 1 (later changes only in the journal)", f.Serial)
	}
	if err := s.SetPlan("install", holder); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, fsys)
	if name, by, at := s2.Plan(); name != "install" || by != holder || at.IsZero() {
		t.Errorf("Plan() after replay = %q, %+v, %v", name, by, at)
	}
	if s2.Serial() != 12 || len(s2.Steps()) != 11 {
		t.Fatalf("replayed serial %d with %d steps, want 12 and 11", s2.Serial(), len(s2.Steps()))
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	b, _ = fsys.ReadFile(state.StateFile)
	if f, _ := state.Decode(b); f.Serial != 12 || f.Plan != "install" {
		t.Fatalf("after Flush snapshot serial %d plan %q, want 12 and install", f.Serial, f.Plan)
	}
}

func TestJournalTornLine(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	s := open(t, fsys)
	unlock, err := s.Lock(context.Background(), holder)
	if err != nil {
		t.Fatal(err)
	}
	s.SnapshotEvery = time.Hour
	if err := s.RecordStep("a", state.Record{Status: state.StatusDone}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordStep("b", state.Record{Status: state.StatusDone}); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := fsys.AppendFile(state.JournalFile, []byte(`{"serial":3,"kind":"st`), 0o600); err != nil { // torn append
		t.Fatal(err)
	}
	s2 := openLocked(t, fsys)
	if w := strings.Join(s2.Warnings(), "\n"); !strings.Contains(w, "damaged line") {
		t.Errorf("no warning for the torn journal line: %q", w)
	}
	if _, ok := s2.Step("b"); !ok {
		t.Fatal("b lost")
	}
	s2.SnapshotEvery = time.Hour
	if err := s2.RecordStep("c", state.Record{Status: state.StatusDone}); err != nil {
		t.Fatal(err)
	}
	s3 := open(t, fsys)
	if _, ok := s3.Step("c"); !ok {
		t.Fatal("an entry appended after a torn line was lost")
	}
}

func TestLockRefusesSecondHolder(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	a := open(t, fsys)
	a.PIDAlive = func(int) bool { return true }
	unlock, err := a.Lock(context.Background(), holder)
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, fsys)
	b.PIDAlive = func(int) bool { return true }
	_, err = b.Lock(context.Background(), state.Holder{User: "admin", Host: "tappaas1", PID: 999})
	var le *state.LockError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock = %v, want *LockError", err)
	}
	if le.Holder.PID != 1234 || le.Holder.User != "root" {
		t.Errorf("LockError holder %+v", le.Holder)
	}
	lease, _ := a.Held()
	id := lease.Holder.ID
	if le.Holder.ID != id || id == "" {
		t.Errorf("LockError lock ID %q, want the holder's %q", le.Holder.ID, id)
	}
	want := "state lock held by root@tappaas1 pid 1234 since 2026-11-23T12:00:00Z (lock ID " + id + "): another tappaas is running; wait for it or, if it died, run `tappaas unlock " + id + "` (it removes mem:lock)"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q\nwant it to start %q", err, want)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock2, err := b.Lock(context.Background(), state.Holder{User: "admin", Host: "tappaas1", PID: 999})
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
}

func TestLockMessageNamesPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := open(t, state.DirFS(dir))
	if _, err := a.Lock(context.Background(), state.CurrentHolder()); err != nil {
		t.Fatal(err)
	}
	_, err := open(t, state.DirFS(dir)).Lock(context.Background(), state.CurrentHolder())
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "lock")) {
		t.Fatalf("Lock while held by this live process = %v, want a LockError naming %s", err, filepath.Join(dir, "lock"))
	}
}

func TestLockStaleTakenOver(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	dead := state.Holder{User: "root", Host: "tappaas1", PID: 777, Since: holder.Since}
	old, _ := json.Marshal(dead)
	if err := fsys.CreateExclusive(state.LockFile, old, 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, fsys)
	s.PIDAlive = func(pid int) bool { return pid != 777 }
	unlock, err := s.Lock(context.Background(), holder)
	if err != nil {
		t.Fatalf("Lock over a stale lock: %v", err)
	}
	lease, ok := s.Held()
	if w := strings.Join(lease.Warnings(), "\n"); !ok || !strings.Contains(w, "pid 777") || !strings.Contains(w, "mem:lock") {
		t.Errorf("take-over not reported: %q", w)
	}
	cur, _ := fsys.ReadFile(state.LockFile)
	if !bytes.Contains(cur, []byte(`"pid":1234`)) {
		t.Errorf("lock now %s", cur)
	}
	if _, err := fsys.ReadFile("lock.takeover"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("take-over guard left behind: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestLockRemoteOrDamagedNotTakenOver(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"remote":  `{"user":"root","host":"laptop","pid":777}`,
		"damaged": `{"user":"ro`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fsys := statetest.NewMemFS()
			if err := fsys.CreateExclusive(state.LockFile, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := open(t, fsys)
			s.PIDAlive = func(int) bool { return false }
			_, err := s.Lock(context.Background(), holder)
			var le *state.LockError
			if !errors.As(err, &le) {
				t.Fatalf("Lock = %v, want *LockError", err)
			}
			if name == "remote" && (!le.Remote || !strings.Contains(err.Error(), "laptop")) {
				t.Errorf("remote holder: %v", err)
			}
			if name == "damaged" && !le.Damaged {
				t.Errorf("damaged lock: %v", err)
			}
		})
	}
}

// TestLockStaleTakeoverRace: many runs race for one stale lock; exactly one
// wins, on every FS.
func TestLockStaleTakeoverRace(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(t *testing.T) state.FS{
		"mem": func(t *testing.T) state.FS { return statetest.NewMemFS() },
		"dir": func(t *testing.T) state.FS { return state.DirFS(t.TempDir()) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for round := range 20 {
				fsys := mk(t)
				dead, _ := json.Marshal(state.Holder{User: "root", Host: "tappaas1", PID: 1})
				if err := fsys.CreateExclusive(state.LockFile, dead, 0o600); err != nil {
					t.Fatal(err)
				}
				const n = 6
				var wg sync.WaitGroup
				wins := make(chan int, n)
				for i := range n {
					s := open(t, fsys)
					s.PIDAlive = func(pid int) bool { return pid != 1 }
					wg.Go(func() {
						_, err := s.Lock(context.Background(), state.Holder{User: "root", Host: "tappaas1", PID: 100 + i})
						var le *state.LockError
						switch {
						case err == nil:
							wins <- i
						case errors.As(err, &le):
						default:
							t.Errorf("round %d racer %d: %v", round, i, err)
						}
					})
				}
				wg.Wait()
				close(wins)
				var w []int
				for i := range wins {
					w = append(w, i)
				}
				if len(w) != 1 {
					t.Fatalf("round %d: %d winners %v, want exactly 1", round, len(w), w)
				}
				cur, _ := fsys.ReadFile(state.LockFile)
				if !bytes.Contains(cur, fmt.Appendf(nil, `"pid":%d`, 100+w[0])) {
					t.Fatalf("round %d: lock %s does not name the winner %d", round, cur, 100+w[0])
				}
			}
		})
	}
}

func TestUnlockDetectsLostLock(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	s := open(t, fsys)
	unlock, err := s.Lock(context.Background(), holder)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove(state.LockFile); err != nil {
		t.Fatal(err)
	}
	if err := fsys.CreateExclusive(state.LockFile, []byte(`{"user":"x","host":"y","pid":5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("unlock = %v, want ErrLockLost", err)
	}
	if _, err := fsys.ReadFile(state.LockFile); err != nil {
		t.Fatal("unlock removed somebody else's lock")
	}
}

func TestSecretsDamagedDoesNotLeak(t *testing.T) {
	t.Parallel()
	fsys := statetest.NewMemFS()
	if err := fsys.WriteFileAtomic(state.SecretsFile, []byte(`{"secrets":{"pw":"hunter2`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := state.Open(fsys)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Open = %v, want an error without the secret", err)
	}
}

func TestRecordStepRejectsBadInput(t *testing.T) {
	t.Parallel()
	s := open(t, statetest.NewMemFS())
	if err := s.RecordStep("", state.Record{Status: state.StatusDone}); err == nil {
		t.Error("empty ID accepted")
	}
	if err := s.RecordStep("a", state.Record{Status: "exploded"}); err == nil {
		t.Error("unknown status accepted")
	}
	if err := s.SetFact("k", json.RawMessage("{")); err == nil {
		t.Error("invalid fact JSON accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"schema":1,"serial":3,"inputs":{},"facts":{"a":1},"steps":{"x":{"status":"done"}}}`))
	f.Add([]byte(`{"serial":4,"done":["a","b"]}`))
	f.Add([]byte(`{"schema":99}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"schema":-1}`))
	f.Add([]byte(`{"schema":1,"steps":{"":{"status":"done"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := state.Decode(data)
		if err != nil {
			if !errors.Is(err, state.ErrCorrupt) && !errors.Is(err, state.ErrSchemaTooNew) {
				t.Fatalf("Decode error %v matches neither ErrCorrupt nor ErrSchemaTooNew", err)
			}
			return
		}
		enc, err := state.Encode(file)
		if err != nil {
			t.Fatalf("Encode of a decoded file: %v", err)
		}
		again, err := state.Decode(enc)
		if err != nil {
			t.Fatalf("re-Decode: %v", err)
		}
		enc2, _ := state.Encode(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip differs:\n%s\n%s", enc, enc2)
		}
	})
}

func TestStoreOverExecFS(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "var", "lib", "tappaas")
	s := open(t, state.ExecFS(exec.NewLocal(), dir))
	s.SnapshotEvery = 0
	unlock, err := s.Lock(context.Background(), holder)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s)
	if err := s.Secrets().SetSecret("pve.token", "tok"); err != nil {
		t.Fatal(err)
	}
	_, err = open(t, state.ExecFS(exec.NewLocal(), dir)).Lock(context.Background(), state.Holder{User: "x", Host: "laptop", PID: 9})
	var le *state.LockError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "local:"+filepath.Join(dir, "lock")) {
		t.Fatalf("second Lock over ExecFS = %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	checkFilled(t, open(t, state.DirFS(dir)))
	for name, want := range map[string]fs.FileMode{".": 0o700, state.StateFile: 0o600, state.JournalFile: 0o600, state.SecretsFile: 0o600, state.PrevFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", name, fi.Mode().Perm(), want)
		}
	}
}

// FuzzOpenJournal: any journal (with or without a snapshot) opens without a
// panic, and what it yields is valid.
func FuzzOpenJournal(f *testing.F) {
	f.Add([]byte(`{"serial":1,"kind":"step","step":"a","record":{"status":"done"}}`+"\n"), false)
	f.Add([]byte(`{"serial":2,"kind":"fact","key":"k","value":3}`+"\n"+`{"serial":1,"kind":"plan","key":"p","by":{"pid":1}}`), true)
	f.Add([]byte("{\"serial\":9,\"kind\":\"input\",\"key\":\"\",\"value\":1}\n\x00garbage"), true)
	f.Fuzz(func(t *testing.T, journal []byte, withSnapshot bool) {
		fsys := statetest.NewMemFS()
		if withSnapshot {
			if err := fsys.WriteFileAtomic(state.StateFile, []byte(`{"schema":1,"serial":1,"steps":{"x":{"status":"done"}}}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := fsys.AppendFile(state.JournalFile, journal, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := state.Open(fsys)
		if err != nil {
			return
		}
		unlock, err := s.Lock(context.Background(), holder)
		if err != nil {
			t.Fatalf("Lock after Open: %v", err)
		}
		defer unlock()
		for id, r := range s.Steps() {
			if id == "" || !(r.Status == state.StatusRunning || r.Done() || r.Status == state.StatusFailed || r.Status == state.StatusInterrupted) {
				t.Fatalf("replay produced step %q %+v", id, r)
			}
		}
		if err := s.RecordStep("after", state.Record{Status: state.StatusDone}); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		s2, err := state.Open(fsys)
		if err != nil {
			t.Fatalf("reopen after a write: %v", err)
		}
		if _, ok := s2.Step("after"); !ok {
			t.Fatal("a change after replay was lost")
		}
	})
}

func TestLockReusedPIDIsStale(t *testing.T) {
	t.Parallel()
	host, _ := os.Hostname()
	me := state.Holder{User: "root", Host: host, PID: os.Getpid()}
	for _, tc := range []struct {
		name  string
		since time.Time
		stale bool
	}{
		{"live holder", time.Now().Add(time.Minute), false},
		{"pid reused after the holder died", time.Now().Add(-24 * time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := statetest.NewMemFS()
			old := me
			old.Since = tc.since
			b, _ := json.Marshal(old)
			if err := fsys.CreateExclusive(state.LockFile, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s := open(t, fsys) // PIDAlive nil: the real probe
			_, err := s.Lock(context.Background(), state.Holder{User: "root", Host: host, PID: os.Getpid() + 1})
			var le *state.LockError
			if tc.stale && err != nil {
				t.Fatalf("lock of a reused PID not taken over: %v", err)
			}
			if !tc.stale && !errors.As(err, &le) {
				t.Fatalf("lock of a live holder: %v, want *LockError", err)
			}
		})
	}
}

// flakyRead fails reads of one file with a transient error (a dropped link).
type flakyRead struct {
	state.FS
	name string
}

var errLinkDropped = errors.New("ssh: connection lost")

func (f flakyRead) ReadFile(name string) ([]byte, error) {
	if name == f.name {
		return nil, errLinkDropped
	}
	return f.FS.ReadFile(name)
}

// A file that could not be read is not a damaged file: Open reports the
// read error (no "%!w(<nil>)", no advice to throw the state away, no
// rebuild that would ignore the unread copy).
func TestTransientReadErrorIsNotDamage(t *testing.T) {
	t.Parallel()
	for name, setup := range map[string]func(*statetest.MemFS){
		"state missing":          func(*statetest.MemFS) {},
		"state damaged":          func(m *statetest.MemFS) { _ = m.WriteFileAtomic(state.StateFile, []byte(`{"schema":1,`), 0o600) },
		"state missing, journal": func(m *statetest.MemFS) { _ = m.AppendFile(state.JournalFile, []byte("{}\n"), 0o600) },
		"journal unreadable":     func(m *statetest.MemFS) { _ = m.WriteFileAtomic(state.StateFile, []byte(`x`), 0o600) },
	} {
		fsys := statetest.NewMemFS()
		setup(fsys)
		_ = fsys.WriteFileAtomic(state.PrevFile, []byte(`{"schema":1}`), 0o600)
		unreadable := state.PrevFile
		if name == "journal unreadable" {
			_ = fsys.Remove(state.PrevFile)
			unreadable = state.JournalFile
		}
		_, err := state.Open(flakyRead{fsys, unreadable})
		if !errors.Is(err, errLinkDropped) {
			t.Errorf("%s: Open = %v, want the read error", name, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "%!") || strings.Contains(msg, "afresh") || strings.Contains(msg, "move the state") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

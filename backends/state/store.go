package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"sync"
	"time"
)

// DefaultSnapshotEvery is the SnapshotEvery Open sets: rewriting a
// 1,000-record state.json on every transition costs about 1 ms on tmpfs
// (see BenchmarkCheckpointWrite), the fsync'd journal append about 10 µs,
// and the journal alone makes every change durable.
const DefaultSnapshotEvery = 250 * time.Millisecond

// SchemaVersion is the state.json schema this binary writes.
const SchemaVersion = 1

// File names inside the state directory.
const (
	StateFile    = "state.json"      // the current snapshot
	PrevFile     = "state.json.prev" // the previous good snapshot (torn-write fallback)
	JournalFile  = "journal.jsonl"   // append-only history, one JSON line per change
	SecretsFile  = "secrets.json"    // credentials, 0600
	LockFile     = "lock"            // the run lock (holder JSON)
	takeoverFile = "lock.takeover"   // guards the take-over of a stale lock
)

// Step record statuses.
const (
	StatusRunning     = "running"
	StatusDone        = "done"
	StatusSkipped     = "skipped" // found already done by Check (or skipped by the operator)
	StatusFailed      = "failed"
	StatusInterrupted = "interrupted"
)

func validStatus(s string) bool {
	switch s {
	case StatusRunning, StatusDone, StatusSkipped, StatusFailed, StatusInterrupted:
		return true
	}
	return false
}

// Record is the checkpoint of one step.
type Record struct {
	Status   string    `json:"status"` // running|done|skipped|failed|interrupted
	Attempts int       `json:"attempts,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Error is the last error's text (never a secret: steps keep secrets
	// out of error text).
	Error string `json:"error,omitempty"`
	// Detail is Check's detail (the skip reason) or the operator's choice.
	Detail string `json:"detail,omitempty"`
}

// Done reports whether the record says the step's effect exists.
func (r Record) Done() bool { return r.Status == StatusDone || r.Status == StatusSkipped }

// File is the decoded state.json.
type File struct {
	Schema  int                        `json:"schema"`
	Serial  uint64                     `json:"serial"`
	Plan    string                     `json:"plan,omitempty"`
	Updated time.Time                  `json:"updated,omitzero"`
	By      *Holder                    `json:"by,omitempty"`
	Inputs  map[string]json.RawMessage `json:"inputs"`
	Facts   map[string]json.RawMessage `json:"facts"`
	Steps   map[string]Record          `json:"steps"`
}

func newFile() *File {
	return &File{Schema: SchemaVersion, Inputs: map[string]json.RawMessage{}, Facts: map[string]json.RawMessage{}, Steps: map[string]Record{}}
}

// ErrCorrupt is matched (errors.Is) by decode errors of a damaged state.json.
var ErrCorrupt = errors.New("state file is damaged")

// ErrSchemaTooNew is matched by *SchemaError when state.json was written by
// a newer tappaas.
var ErrSchemaTooNew = errors.New("state file is from a newer tappaas")

// SchemaError says state.json has a schema this binary does not know.
type SchemaError struct {
	Found, Known int
}

// Error says which schema was found and what to do.
func (e *SchemaError) Error() string {
	return fmt.Sprintf("state.json has schema %d but this tappaas knows schema %d at most: it was written by a newer tappaas; run that version (or newer) instead", e.Found, e.Known)
}

// Is makes errors.Is(err, ErrSchemaTooNew) true.
func (e *SchemaError) Is(target error) bool { return target == ErrSchemaTooNew }

// migrations[v] turns a schema-v document into a schema-(v+1) one.
var migrations = map[int]func(m map[string]json.RawMessage) error{
	0: migrate0to1,
}

// migrate0to1 upgrades the prototype shape (schema 0: no "schema" key, a
// "done" list of step IDs, optional "facts") to schema 1 (per-step records).
func migrate0to1(m map[string]json.RawMessage) error {
	steps := map[string]Record{}
	if raw, ok := m["done"]; ok {
		var done []string
		if err := json.Unmarshal(raw, &done); err != nil {
			return fmt.Errorf("schema 0 field \"done\": want a list of step IDs: %w", err)
		}
		for _, id := range done {
			steps[id] = Record{Status: StatusDone, Detail: "migrated from schema 0"}
		}
		delete(m, "done")
	}
	raw, err := json.Marshal(steps)
	if err != nil {
		return err
	}
	m["steps"] = raw
	m["schema"] = json.RawMessage("1")
	return nil
}

// Decode parses a state.json document, migrating older schemas. A newer
// schema is a *SchemaError; anything malformed matches ErrCorrupt and says
// what is wrong. Decode never panics on any input.
func Decode(data []byte) (*File, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrCorrupt)
	}
	schema := 0
	if raw, ok := m["schema"]; ok {
		if err := json.Unmarshal(raw, &schema); err != nil {
			return nil, fmt.Errorf("%w: field \"schema\": %v", ErrCorrupt, err)
		}
	}
	if schema < 0 {
		return nil, fmt.Errorf("%w: field \"schema\" is %d", ErrCorrupt, schema)
	}
	if schema > SchemaVersion {
		return nil, &SchemaError{Found: schema, Known: SchemaVersion}
	}
	for v := schema; v < SchemaVersion; v++ {
		if err := migrations[v](m); err != nil {
			return nil, fmt.Errorf("%w: migrating schema %d to %d: %v", ErrCorrupt, v, v+1, err)
		}
	}
	mig, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	f := newFile()
	if err := json.Unmarshal(mig, f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if f.Schema != SchemaVersion {
		return nil, fmt.Errorf("%w: field \"schema\" is %d after migration", ErrCorrupt, f.Schema)
	}
	if f.Inputs == nil {
		f.Inputs = map[string]json.RawMessage{}
	}
	if f.Facts == nil {
		f.Facts = map[string]json.RawMessage{}
	}
	if f.Steps == nil {
		f.Steps = map[string]Record{}
	}
	for id, r := range f.Steps {
		if id == "" {
			return nil, fmt.Errorf("%w: a step record has an empty ID", ErrCorrupt)
		}
		if !validStatus(r.Status) {
			return nil, fmt.Errorf("%w: step %q has unknown status %q", ErrCorrupt, id, r.Status)
		}
	}
	for k, v := range f.Facts {
		if len(v) == 0 || !json.Valid(v) {
			return nil, fmt.Errorf("%w: fact %q has no valid value", ErrCorrupt, k)
		}
	}
	for k, v := range f.Inputs {
		if len(v) == 0 || !json.Valid(v) {
			return nil, fmt.Errorf("%w: input %q has no valid value", ErrCorrupt, k)
		}
	}
	return f, nil
}

// Encode renders f as state.json.
func Encode(f *File) ([]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// journalEntry is one line of journal.jsonl.
type journalEntry struct {
	Serial uint64          `json:"serial"`
	At     time.Time       `json:"at"`
	By     *Holder         `json:"by,omitempty"`
	Kind   string          `json:"kind"` // step | fact | input | plan
	Step   string          `json:"step,omitempty"`
	Record *Record         `json:"record,omitempty"`
	Key    string          `json:"key,omitempty"`
	Value  json.RawMessage `json:"value,omitempty"`
}

// Store is the checkpoint store of one state directory: state.json (the
// snapshot), journal.jsonl (the write-ahead history), secrets.json and the
// run lock. Safe for concurrent use. See doc.go for the durability rules.
type Store struct {
	fsys FS

	// Now is the clock (a seam for tests); nil means time.Now.
	Now func() time.Time
	// PIDAlive reports whether a process of this host is alive (a seam for
	// tests); nil means a signal-0 probe plus a check, from /proc, that the
	// process started before the holder took the lock (PID reuse).
	PIDAlive func(pid int) bool
	// SnapshotEvery bounds how often state.json is rewritten: 0 rewrites it
	// on every change; a positive value rewrites it at most that often
	// (the journal, appended and fsync'd on every change, carries the rest
	// and Open replays it). Flush and unlock write it. Open sets
	// DefaultSnapshotEvery.
	SnapshotEvery time.Duration

	mu         sync.Mutex
	f          *File
	snapSerial uint64    // serial of the last snapshot written or read
	snapAt     time.Time // when it was written
	journalNL  bool      // the journal's last line is torn: start with '\n'
	warnings   []string
	secrets    *Secrets
	lockID     string // this Store's lock ID, made by the first Lock
	lease      *Lease // the run lock this Store holds (nil: none)
}

// Open loads the store in fsys, creating the directory (0700) when needed.
// A damaged state.json falls back to the previous good copy plus the
// journal, and Warnings says so; a state.json from a newer tappaas is
// refused with a *SchemaError. An empty directory is a fresh store.
func Open(fsys FS) (*Store, error) {
	if err := fsys.MkdirAll(".", 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	s := &Store{fsys: fsys, SnapshotEvery: DefaultSnapshotEvery}
	if err := s.reload(); err != nil {
		return nil, err
	}
	s.secrets = &Secrets{s: s, m: map[string]string{}}
	if err := s.secrets.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// reload (s.mu held, or during Open) reads state.json and replays the
// journal; Warnings then describe what this read found.
func (s *Store) reload() error {
	s.warnings = nil
	s.journalNL = false
	f, err := s.load()
	if err != nil {
		return err
	}
	s.f = f
	s.snapSerial = f.Serial
	return s.replayJournal()
}

func (s *Store) where(name string) string { return s.fsys.Where(name) }

func (s *Store) warnf(format string, a ...any) {
	s.warnings = append(s.warnings, fmt.Sprintf(format, a...))
}

func (s *Store) load() (*File, error) {
	data, err := s.fsys.ReadFile(StateFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", s.where(StateFile), err)
	}
	missing := err != nil
	what := "is missing"
	var cause error
	if !missing {
		f, derr := Decode(data)
		if derr == nil {
			return f, nil
		}
		if errors.Is(derr, ErrSchemaTooNew) {
			return nil, derr
		}
		cause = derr
		what = fmt.Sprintf("was damaged (%v)", derr)
		// Keep the damaged bytes for inspection; best effort.
		if s.fsys.WriteFileAtomic(StateFile+".damaged", data, 0o600) == nil {
			what += fmt.Sprintf(" and is kept as %s", s.where(StateFile+".damaged"))
		}
	}
	prev, perr := s.fsys.ReadFile(PrevFile)
	if missing && errors.Is(perr, fs.ErrNotExist) {
		return newFile(), nil // a fresh store (a leftover journal is replayed)
	}
	if perr != nil && !errors.Is(perr, fs.ErrNotExist) {
		// Could not read (a dropped link, a permission): nothing is known
		// to be damaged, so nothing is to be thrown away.
		return nil, fmt.Errorf("read %s: %w", s.where(PrevFile), perr)
	}
	prevState := "there is no previous good copy"
	if perr == nil {
		pf, pderr := Decode(prev)
		if pderr == nil {
			s.warnf("%s %s; recovered from the previous good copy %s (serial %d) and the journal", s.where(StateFile), what, s.where(PrevFile), pf.Serial)
			return pf, nil
		}
		if errors.Is(pderr, ErrSchemaTooNew) {
			return nil, pderr
		}
		if cause == nil {
			cause = pderr
		}
		prevState = fmt.Sprintf("the previous copy %s is damaged too (%v)", s.where(PrevFile), pderr)
	}
	_, jerr := s.fsys.ReadFile(JournalFile)
	if jerr == nil {
		s.warnf("%s %s and %s; rebuilt from the journal %s", s.where(StateFile), what, prevState, s.where(JournalFile))
		return newFile(), nil
	}
	if !errors.Is(jerr, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", s.where(JournalFile), jerr)
	}
	if cause == nil { // unreachable today: missing + no previous copy is a fresh store
		cause = ErrCorrupt
	}
	return nil, fmt.Errorf("%s %s and %s, and there is no journal to rebuild it from: %w; move the state directory away to start afresh (every step is re-checked on the target)", s.where(StateFile), what, prevState, cause)
}

// replayJournal applies journal entries newer than the loaded snapshot.
func (s *Store) replayJournal() error {
	data, err := s.fsys.ReadFile(JournalFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", s.where(JournalFile), err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		s.journalNL = true
	}
	bad := 0
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var e journalEntry
		if err := json.Unmarshal(line, &e); err != nil {
			bad++
			continue
		}
		if e.Serial <= s.f.Serial {
			continue
		}
		switch e.Kind {
		case "step":
			if e.Step == "" || e.Record == nil || !validStatus(e.Record.Status) {
				bad++
				continue
			}
			s.f.Steps[e.Step] = *e.Record
		case "fact":
			if e.Key == "" || !json.Valid(e.Value) {
				bad++
				continue
			}
			s.f.Facts[e.Key] = e.Value
		case "input":
			if e.Key == "" || !json.Valid(e.Value) {
				bad++
				continue
			}
			s.f.Inputs[e.Key] = e.Value
		case "plan":
			s.f.Plan = e.Key
			s.f.By = e.By
		default:
			bad++
			continue
		}
		s.f.Serial = e.Serial
		s.f.Updated = e.At
	}
	if bad > 0 {
		s.warnf("%s has %d damaged line(s); they were ignored", s.where(JournalFile), bad)
	}
	return nil
}

// Warnings returns what the operator must be told about this store (a
// damaged state.json that was recovered, a stale lock taken over, …).
func (s *Store) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.warnings...)
}

// Serial is the number of changes ever made to the store.
func (s *Store) Serial() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Serial
}

// Snapshot returns a deep copy of the current state.
func (s *Store) Snapshot() File {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *s.f
	c.Inputs = maps.Clone(s.f.Inputs)
	c.Facts = maps.Clone(s.f.Facts)
	c.Steps = maps.Clone(s.f.Steps)
	if s.f.By != nil {
		h := *s.f.By
		c.By = &h
	}
	return c
}

// Plan returns the name of the plan last run against this store and who
// ran it when ("" when none).
func (s *Store) Plan() (name string, by Holder, updated time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.By != nil {
		by = *s.f.By
	}
	return s.f.Plan, by, s.f.Updated
}

// SetPlan records the plan being run and by whom.
func (s *Store) SetPlan(name string, by Holder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mustHold(); err != nil {
		return err
	}
	s.f.Plan = name
	s.f.By = &by
	return s.commit(journalEntry{Kind: "plan", Key: name, By: &by})
}

// Facts returns a copy of the persisted facts.
func (s *Store) Facts() map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.f.Facts)
}

// SetFact persists one fact (a JSON value) before returning.
func (s *Store) SetFact(key string, raw json.RawMessage) error {
	if key == "" {
		return errors.New("fact key is empty")
	}
	if !json.Valid(raw) {
		return fmt.Errorf("fact %q: value is not valid JSON", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mustHold(); err != nil {
		return err
	}
	if old, ok := s.f.Facts[key]; ok && bytes.Equal(old, raw) {
		return nil
	}
	raw = bytes.Clone(raw)
	s.f.Facts[key] = raw
	return s.commit(journalEntry{Kind: "fact", Key: key, Value: raw})
}

// Inputs returns a copy of the persisted non-secret inputs.
func (s *Store) Inputs() map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.f.Inputs)
}

// SetInput persists one non-secret input (JSON-encoded) before returning.
// Secrets go to Secrets(), never here.
func (s *Store) SetInput(key string, v any) error {
	if key == "" {
		return errors.New("input key is empty")
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("input %q: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mustHold(); err != nil {
		return err
	}
	s.f.Inputs[key] = raw
	return s.commit(journalEntry{Kind: "input", Key: key, Value: raw})
}

// Step returns the checkpoint of a step.
func (s *Store) Step(id string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.f.Steps[id]
	return r, ok
}

// Steps returns a copy of every step record.
func (s *Store) Steps() map[string]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.f.Steps)
}

// RecordStep persists a step transition: one journal line (appended and
// fsync'd) and the state.json snapshot (see SnapshotEvery), before
// returning.
func (s *Store) RecordStep(id string, r Record) error {
	if id == "" {
		return errors.New("step ID is empty")
	}
	if !validStatus(r.Status) {
		return fmt.Errorf("step %q: unknown status %q", id, r.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mustHold(); err != nil {
		return err
	}
	s.f.Steps[id] = r
	return s.commit(journalEntry{Kind: "step", Step: id, Record: &r})
}

// Flush writes state.json now if the journal is ahead of it.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snapSerial == s.f.Serial {
		return nil
	}
	if err := s.mustHold(); err != nil {
		return err
	}
	return s.writeSnapshot()
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// commit (s.mu held) bumps the serial, appends the journal entry and
// rewrites the snapshot per SnapshotEvery.
func (s *Store) commit(e journalEntry) error {
	s.f.Serial++
	now := s.now()
	s.f.Updated = now
	e.Serial = s.f.Serial
	e.At = now
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if s.journalNL {
		line = append([]byte{'\n'}, line...)
	}
	line = append(line, '\n')
	if err := s.fsys.AppendFile(JournalFile, line, 0o600); err != nil {
		return fmt.Errorf("append to %s: %w", s.where(JournalFile), err)
	}
	s.journalNL = false
	if s.SnapshotEvery > 0 && now.Sub(s.snapAt) < s.SnapshotEvery {
		return nil
	}
	return s.writeSnapshot()
}

func (s *Store) writeSnapshot() error {
	data, err := Encode(s.f)
	if err != nil {
		return err
	}
	if err := s.fsys.WriteFileAtomic(StateFile, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", s.where(StateFile), err)
	}
	s.snapSerial = s.f.Serial
	s.snapAt = s.now()
	return nil
}

// keepPrev (s.mu held) saves the current state as the previous good copy:
// the fallback for a damaged state.json, completed by replaying the
// journal. Called once per run when the lock is taken.
func (s *Store) keepPrev() error {
	data, err := Encode(s.f)
	if err != nil {
		return err
	}
	if err := s.fsys.WriteFileAtomic(PrevFile, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", s.where(PrevFile), err)
	}
	return nil
}

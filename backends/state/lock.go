package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Holder says who holds (or held) the run lock.
type Holder struct {
	// ID identifies one lock: a random UUID made when the lock is taken
	// (Lock fills it in). A create that is retried after its answer was
	// lost recognises its own lock by it, and `tappaas unlock ID` names
	// the lock it removes, as `terraform force-unlock ID` does. Locks of
	// older tappaas versions have none.
	ID    string    `json:"id,omitempty"`
	User  string    `json:"user"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// String renders "root@tappaas1 pid 1234 since 2026-11-23T12:00:00Z".
func (h Holder) String() string {
	u, host := h.User, h.Host
	if u == "" {
		u = "?"
	}
	if host == "" {
		host = "?"
	}
	s := fmt.Sprintf("%s@%s pid %d", u, host, h.PID)
	if !h.Since.IsZero() {
		s += " since " + h.Since.UTC().Format(time.RFC3339)
	}
	return s
}

// CurrentHolder describes this process.
func CurrentHolder() Holder {
	h := Holder{PID: os.Getpid(), Since: time.Now().UTC().Truncate(time.Second)}
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	} else {
		h.User = os.Getenv("USER")
	}
	h.Host, _ = os.Hostname()
	return h
}

// newLockID returns a random version-4 UUID.
func newLockID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// LockError is returned by Lock when another run holds the lock.
type LockError struct {
	// Holder is who holds it (zero when the lock file is unreadable).
	Holder Holder
	// Path is where the lock file lives.
	Path string
	// Damaged is true when the lock file could not be parsed.
	Damaged bool
	// Remote is true when the holder runs on another host, so tappaas cannot
	// tell whether it is still alive.
	Remote bool
}

// Error names the holder, its lock ID and what to do.
func (e *LockError) Error() string {
	if e.Damaged {
		return fmt.Sprintf("state lock %s is held but its holder cannot be read: if no tappaas is running on this node, remove %s and start again", e.Path, e.Path)
	}
	msg := fmt.Sprintf("state lock held by %s", e.Holder)
	if e.Holder.ID != "" {
		msg += " (lock ID " + e.Holder.ID + ")"
	}
	msg += ": another tappaas is running; wait for it or, if it died"
	if e.Remote {
		msg += fmt.Sprintf(" (it ran on %s, so tappaas cannot check)", e.Holder.Host)
	}
	if e.Holder.ID == "" {
		return msg + fmt.Sprintf(", remove %s and start again", e.Path)
	}
	return msg + fmt.Sprintf(", run `tappaas unlock %s` (it removes %s) and start again", e.Holder.ID, e.Path)
}

// Errors of the lock.
var (
	// ErrNotLocked is returned by every change to a Store that does not
	// hold the run lock: nothing touches the state before the lock.
	ErrNotLocked = errors.New("the state is not locked by this run")
	// ErrNoLock is returned by ReadLock and ForceUnlock when no lock exists.
	ErrNoLock = errors.New("no state lock")
	// ErrLockIDMismatch is returned by ForceUnlock when the lock has another ID.
	ErrLockIDMismatch = errors.New("lock ID does not match")
)

// Lease describes the run lock a Store holds.
type Lease struct {
	// Holder is this run, with its lock ID.
	Holder Holder
	// Path is where the lock file lives (Where of the FS).
	Path string
	// TookOver is the holder of the stale lock this run replaced (nil
	// when the lock was free).
	TookOver *Holder
}

// Warnings are what the operator must be told about taking the lock: the
// take-over of a stale lock.
func (l Lease) Warnings() []string {
	if l.TookOver == nil {
		return nil
	}
	return []string{fmt.Sprintf("took over the state lock %s of %s: that process is gone", l.Path, *l.TookOver)}
}

// ErrLockLost is returned by the unlock function when the lock file no
// longer names this run (someone removed it or took it over).
var ErrLockLost = errors.New("state lock was lost")

// holderAlive reports whether the holder's process still runs on this
// host: a signal-0 probe, and, where /proc tells when the process started,
// a process that started after the holder took the lock is not the holder
// (its PID was reused, e.g. after the node rebooted).
func holderAlive(h Holder) bool {
	if h.PID <= 0 {
		return false
	}
	if err := syscall.Kill(h.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if start, ok := processStart(h.PID); ok && !h.Since.IsZero() && start.After(h.Since.Add(2*time.Second)) {
		return false
	}
	return true
}

// processStart reads a process's start time from /proc (Linux).
func processStart(pid int) (time.Time, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
	if i < 0 {
		return time.Time{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64) // field 22: starttime in clock ticks
	if err != nil {
		return time.Time{}, false
	}
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for line := range strings.Lines(string(st)) {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			const userHZ = 100 // USER_HZ on every Linux PVE runs on
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / userHZ), true
		}
	}
	return time.Time{}, false
}

func (s *Store) alive(h Holder) bool {
	if s.PIDAlive != nil {
		return s.PIDAlive(h.PID)
	}
	return holderAlive(h)
}

// stale reports whether the lock of old can be taken over by h: same host
// (so the PID is meaningful here) and the holder's process is gone.
func (s *Store) stale(old, h Holder) bool {
	return old.Host != "" && old.Host == h.Host && old.PID > 0 && !s.alive(old)
}

func (s *Store) readLock(name string) (Holder, []byte, error) {
	data, err := s.fsys.ReadFile(name)
	if err != nil {
		return Holder{}, nil, err
	}
	var h Holder
	if err := json.Unmarshal(data, &h); err != nil || h.PID == 0 {
		return Holder{}, data, fmt.Errorf("%w: lock file %s", ErrCorrupt, s.where(name))
	}
	return h, data, nil
}

// Lock takes the run lock for h (use CurrentHolder; Lock gives it this
// Store's lock ID). When another live run holds it, the error is a
// *LockError naming the holder and its lock ID. A lock with this Store's ID
// is its own — a create whose answer was lost after it reached the target
// — and is kept. A lock whose holder ran on this host (h.Host) and whose
// process is gone is taken over: under a second exclusive file
// (lock.takeover) the lock is re-read, removed and created afresh
// exclusively, so two runs racing for a stale lock never both win; Held
// then names the replaced holder. Once locked, the store re-reads
// state.json, the journal and secrets.json (another run may have changed
// them since Open) and saves the previous good copy of state.json (the
// torn-write fallback). Every change to the store needs the lock. unlock
// writes the snapshot and removes the lock if it still names this run.
func (s *Store) Lock(ctx context.Context, h Holder) (unlock func() error, err error) {
	s.mu.Lock()
	if s.lease != nil {
		held := s.lease.Holder.ID
		s.mu.Unlock()
		return nil, fmt.Errorf("take state lock %s: this run holds it already (lock ID %s)", s.where(LockFile), held)
	}
	if s.lockID == "" {
		s.lockID = newLockID()
	}
	if h.ID == "" {
		h.ID = s.lockID
	}
	s.mu.Unlock()
	if h.Since.IsZero() {
		h.Since = s.now().UTC().Truncate(time.Second)
	}
	data, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	path := s.where(LockFile)
	for range 4 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := s.fsys.CreateExclusive(LockFile, data, 0o600)
		if err == nil {
			return s.locked(h, data, nil)
		}
		if !errors.Is(err, fs.ErrExist) {
			// The create may have reached the target before the link
			// failed: a lock with this ID is ours.
			if cur, curData, rerr := s.readLock(LockFile); rerr == nil && cur.ID == h.ID {
				return s.locked(h, curData, nil)
			}
			return nil, fmt.Errorf("take state lock %s: %w", path, err)
		}
		old, oldData, rerr := s.readLock(LockFile)
		switch {
		case errors.Is(rerr, fs.ErrNotExist):
			continue // released meanwhile: try again
		case rerr != nil:
			return nil, &LockError{Path: path, Damaged: true}
		}
		if old.ID == h.ID {
			// Ours: an earlier create went through and its answer was
			// lost (the link dropped; the caller retried).
			return s.locked(h, oldData, nil)
		}
		if !s.stale(old, h) {
			return nil, &LockError{Holder: old, Path: path, Remote: old.Host != h.Host}
		}
		won, terr := s.takeOver(oldData, data, h)
		if terr != nil {
			return nil, terr
		}
		if won {
			return s.locked(h, data, &old)
		}
	}
	return nil, fmt.Errorf("take state lock %s: it keeps changing hands; try again", path)
}

// takeOver replaces the stale lock whose bytes are oldData. won is false
// when the lock changed meanwhile (the caller looks again).
func (s *Store) takeOver(oldData, data []byte, h Holder) (won bool, err error) {
	path := s.where(LockFile)
	if err := s.fsys.CreateExclusive(takeoverFile, data, 0o600); err != nil {
		other, _, rerr := s.readLock(takeoverFile)
		if rerr == nil && other.ID == h.ID {
			// Our own guard, created by a retried call whose answer was
			// lost: clear it and look again.
			if err := s.fsys.Remove(takeoverFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("take over state lock %s: %w", path, err)
			}
			return false, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("take over state lock %s: %w", path, err)
		}
		// Another run is taking over. If it died doing so, clear its
		// guard and let the caller retry; otherwise it wins.
		if rerr == nil && s.stale(other, h) {
			if err := s.fsys.Remove(takeoverFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("take over state lock %s: %w", path, err)
			}
			return false, nil
		}
		if errors.Is(rerr, fs.ErrNotExist) {
			return false, nil
		}
		return false, &LockError{Holder: other, Path: path, Damaged: rerr != nil}
	}
	defer s.fsys.Remove(takeoverFile)
	cur, err := s.fsys.ReadFile(LockFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("take over state lock %s: %w", path, err)
	}
	if err == nil {
		if !bytes.Equal(cur, oldData) {
			return false, nil // someone else got it meanwhile
		}
		if err := s.fsys.Remove(LockFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("take over state lock %s: %w", path, err)
		}
	}
	if err := s.fsys.CreateExclusive(LockFile, data, 0o600); err != nil {
		if cur, _, rerr := s.readLock(LockFile); rerr == nil && cur.ID == h.ID {
			return true, nil // ours: the create went through, its answer was lost
		}
		if errors.Is(err, fs.ErrExist) {
			return false, nil // a fresh run took it after the removal
		}
		return false, fmt.Errorf("take over state lock %s: %w", path, err)
	}
	return true, nil
}

// locked records the lease, re-reads the state under the lock and saves
// the previous good copy.
func (s *Store) locked(h Holder, data []byte, tookOver *Holder) (func() error, error) {
	s.mu.Lock()
	s.lease = &Lease{Holder: h, Path: s.where(LockFile), TookOver: tookOver}
	err := s.reload()
	if err == nil {
		err = s.keepPrev()
	}
	s.mu.Unlock()
	if err == nil {
		err = s.secrets.reload()
	}
	var once sync.Once
	var uerr error
	unlock := func() error {
		once.Do(func() {
			s.mu.Lock()
			ferr := error(nil)
			if s.snapSerial != s.f.Serial {
				ferr = s.writeSnapshot()
			}
			s.lease = nil
			s.mu.Unlock()
			cur, err := s.fsys.ReadFile(LockFile)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				uerr = fmt.Errorf("%w: %s is gone", ErrLockLost, s.where(LockFile))
			case err != nil:
				uerr = fmt.Errorf("release state lock: %w", err)
			case !bytes.Equal(cur, data):
				uerr = fmt.Errorf("%w: %s now names another run", ErrLockLost, s.where(LockFile))
			default:
				uerr = s.fsys.Remove(LockFile)
			}
			uerr = errors.Join(ferr, uerr)
		})
		return uerr
	}
	if err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// Held reports the run lock this Store holds (false when it holds none).
func (s *Store) Held() (Lease, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lease == nil {
		return Lease{}, false
	}
	l := *s.lease
	return l, true
}

// mustHold (s.mu held) refuses changes without the run lock.
func (s *Store) mustHold() error {
	if s.lease == nil {
		return fmt.Errorf("%w: take the run lock before changing the state in %s", ErrNotLocked, s.where("."))
	}
	return nil
}

// LockPath is where the run lock lives, in full (for messages).
func (s *Store) LockPath() string { return s.where(LockFile) }

// ReadLock returns the holder of the run lock: ErrNoLock when there is
// none, a *LockError with Damaged set when it cannot be read.
func (s *Store) ReadLock() (Holder, error) {
	h, _, err := s.readLock(LockFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Holder{}, fmt.Errorf("%w at %s: nothing to unlock", ErrNoLock, s.where(LockFile))
	case errors.Is(err, ErrCorrupt):
		return Holder{}, &LockError{Path: s.where(LockFile), Damaged: true}
	case err != nil:
		return Holder{}, fmt.Errorf("read state lock %s: %w", s.where(LockFile), err)
	}
	return h, nil
}

// ForceUnlock removes the run lock if its ID is id, whoever holds it, and
// returns the holder it removed (`tappaas unlock ID`, as `terraform
// force-unlock`). It is for a lock whose run can no longer release it —
// killed on another host, or a lost link — and changes nothing else. A
// wrong ID (ErrLockIDMismatch), no lock (ErrNoLock) or a lock that changed
// while it looked changes nothing. A lock without an ID (written by an
// older tappaas) or a damaged one cannot be matched: remove it by hand.
func (s *Store) ForceUnlock(id string) (Holder, error) {
	path := s.where(LockFile)
	h, data, err := s.readLock(LockFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Holder{}, fmt.Errorf("%w at %s: nothing to unlock", ErrNoLock, path)
	case errors.Is(err, ErrCorrupt):
		return Holder{}, &LockError{Path: path, Damaged: true}
	case err != nil:
		return Holder{}, fmt.Errorf("read state lock %s: %w", path, err)
	}
	if h.ID == "" {
		return h, fmt.Errorf("%w: the state lock %s held by %s has no lock ID (an older tappaas wrote it); if no tappaas is running, remove %s by hand", ErrLockIDMismatch, path, h, path)
	}
	if id != h.ID {
		return h, fmt.Errorf("%w: %q is not the ID of the state lock %s, held by %s (lock ID %s)", ErrLockIDMismatch, id, path, h, h.ID)
	}
	cur, err := s.fsys.ReadFile(LockFile)
	if err != nil || !bytes.Equal(cur, data) {
		return h, fmt.Errorf("the state lock %s changed while unlocking; look again", path)
	}
	if err := s.fsys.Remove(LockFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return h, fmt.Errorf("remove state lock %s: %w", path, err)
	}
	return h, nil
}

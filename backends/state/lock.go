package state

import (
	"bytes"
	"context"
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

// Error names the holder and says what to do.
func (e *LockError) Error() string {
	if e.Damaged {
		return fmt.Sprintf("state lock %s is held but its holder cannot be read: if no tappaas is running on this node, remove %s and start again", e.Path, e.Path)
	}
	msg := fmt.Sprintf("state lock held by %s: another tappaas is running; wait for it or, if it died", e.Holder)
	if e.Remote {
		msg += fmt.Sprintf(" (it ran on %s, so tappaas cannot check)", e.Holder.Host)
	}
	return msg + fmt.Sprintf(", remove %s and start again", e.Path)
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

// Lock takes the run lock for h (use CurrentHolder). When another live run
// holds it, the error is a *LockError naming the holder. A lock whose holder
// ran on this host (h.Host) and whose process is gone is taken over: under a
// second exclusive file (lock.takeover) the lock is re-read, removed and
// created afresh exclusively, so two runs racing for a stale lock never both
// win. On success the previous good copy of state.json is saved (the
// torn-write fallback). unlock removes the lock if it still names h.
func (s *Store) Lock(ctx context.Context, h Holder) (unlock func() error, err error) {
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
			return s.locked(data)
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("take state lock %s: %w", path, err)
		}
		old, oldData, rerr := s.readLock(LockFile)
		switch {
		case errors.Is(rerr, fs.ErrNotExist):
			continue // released meanwhile: try again
		case rerr != nil:
			return nil, &LockError{Path: path, Damaged: true}
		}
		if !s.stale(old, h) {
			return nil, &LockError{Holder: old, Path: path, Remote: old.Host != h.Host}
		}
		won, terr := s.takeOver(oldData, data, h)
		if terr != nil {
			return nil, terr
		}
		if won {
			s.mu.Lock()
			s.warnf("took over the state lock of %s: that process is gone", old)
			s.mu.Unlock()
			return s.locked(data)
		}
	}
	return nil, fmt.Errorf("take state lock %s: it keeps changing hands; try again", path)
}

// takeOver replaces the stale lock whose bytes are oldData. won is false
// when the lock changed meanwhile (the caller looks again).
func (s *Store) takeOver(oldData, data []byte, h Holder) (won bool, err error) {
	path := s.where(LockFile)
	if err := s.fsys.CreateExclusive(takeoverFile, data, 0o600); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("take over state lock %s: %w", path, err)
		}
		// Another run is taking over. If it died doing so, clear its
		// guard and let the caller retry; otherwise it wins.
		other, _, rerr := s.readLock(takeoverFile)
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
		if errors.Is(err, fs.ErrExist) {
			return false, nil // a fresh run took it after the removal
		}
		return false, fmt.Errorf("take over state lock %s: %w", path, err)
	}
	return true, nil
}

func (s *Store) locked(data []byte) (func() error, error) {
	s.mu.Lock()
	err := s.keepPrev()
	s.mu.Unlock()
	var once sync.Once
	var uerr error
	unlock := func() error {
		once.Do(func() {
			s.mu.Lock()
			ferr := error(nil)
			if s.snapSerial != s.f.Serial {
				ferr = s.writeSnapshot()
			}
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

package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// dirLockFile is the lock that gives one lab process its directory: two
// labs simulating the same node from one directory would each run a full
// install on their own copy and overwrite each other's model.
const dirLockFile = "lab.lock"

// ErrDirInUse is matched by the error of Start when another lab process
// (or another Lab in this process) serves the directory.
var ErrDirInUse = errors.New("lab directory in use")

// lockDir takes an exclusive flock(2) on dir/lab.lock. The kernel drops it
// when the process dies, so a killed lab never leaves the directory locked.
// The file names the holder for the refusal message.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	name := filepath.Join(dir, dirLockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(name)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "another process"
			}
			return nil, fmt.Errorf("lab: %s is used by another lab (%s): %w; stop that one, or give this one its own directory (--lab-dir)", dir, who, ErrDirInUse)
		}
		return nil, fmt.Errorf("lab: lock %s: %w", name, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = fmt.Fprintf(f, "pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	}
	return f, nil
}

// Package shell is the lab's POSIX-ish shell: it parses the command lines the
// installer sends over SSH (quoting, &&, ||, ;, pipes, redirections for the
// simple cases) and runs them against registered commands and a virtual
// filesystem. Product-specific commands (pveversion, qm, zpool, …) are
// registered by the simulators that own the model they change.
package shell

import (
	"context"
	"io"
	"io/fs"
	"time"
)

// Env is what one command invocation sees.
type Env struct {
	Ctx    context.Context
	Args   []string // Args[0] is the command name
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	FS     FS
	Vars   map[string]string // environment
	User   string            // the SSH user ("root")
	// Dir is the current working directory (absolute); resolve relative
	// path arguments with Abs.
	Dir string

	st *state // the interpreter state that runs this command (for Exec)
}

// Command runs one invocation and returns its exit status.
type Command func(e *Env) int

// FS is the virtual filesystem a shell works on. Paths are absolute and
// cleaned. Errors match io/fs sentinels (fs.ErrNotExist, fs.ErrExist, ...).
type FS interface {
	ReadFile(name string) ([]byte, error)
	WriteFile(name string, data []byte, mode fs.FileMode) error
	AppendFile(name string, data []byte, mode fs.FileMode) error
	Stat(name string) (FileInfo, error)
	Remove(name string) error
	RemoveAll(name string) error
	Rename(from, to string) error
	Chmod(name string, mode fs.FileMode) error
	MkdirAll(name string, mode fs.FileMode) error
	// ReadDir lists the names directly below dir, sorted.
	ReadDir(dir string) ([]string, error)
}

// FileInfo is what Stat returns.
type FileInfo struct {
	Name    string
	Size    int64
	Mode    fs.FileMode
	IsDir   bool
	ModTime time.Time
}

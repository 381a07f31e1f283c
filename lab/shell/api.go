// Package shell is the lab's POSIX-ish shell: it parses the command lines the
// installer sends over SSH (quoting, &&, ||, ;, pipes, redirections for the
// simple cases) and runs them against registered commands and a virtual
// filesystem. Product-specific commands (pveversion, qm, zpool, …) are
// registered by the simulators that own the model they change.
//
// # Language
//
// Words with '…', "…", $'…' and \ escapes; $VAR, ${VAR}, ${VAR:-w} and the
// other POSIX parameter forms plus bash's ${v/p/r}, ${v//p/r} and
// ${v:off:len}; $?, $$, $!, $#, $@, $1…; $(…), `…` and $((…)) (with
// assignment operators); brace expansion ({a,b}, {1..3}); field splitting
// and globbing against the FS; ~; && || ; & and newlines; pipelines (each
// stage in its own goroutine, io.Pipe between them, SIGPIPE status 141);
// the redirections < > >> >| &> n>&m n<&m n>&- (descriptors 0–9),
// here-documents (<<EOF, <<'EOF', <<-EOF) and here-strings (<<<);
// VAR=value prefixes; if/elif/else, while, until, for, case, { }, ( ),
// [[ … ]], functions with local variables, trap … EXIT; set -e -u -x -C
// -o pipefail. Arrays and awk are not supported. What the parser does not
// know is a syntax error with bash's message and status 2. Run itself is
// bash -c (a login shell running an SSH command line); RunSh is /bin/sh -c.
// sh and /bin/sh are bash too unless Interp.Sh is "dash" (a PVE node's
// /bin/sh, which the lab node sets), in which case they parse and report
// like dash. The
// differential tests (TestAgainstRealBash, TestCoreutilsAgainstReal) hold
// the output, messages and statuses to real bash and GNU coreutils.
// Background jobs (&) run concurrently and may outlive Run, like nohup'd
// processes; wait waits for them; kill signals a Run's process group
// ($$, or 0 for one's own).
//
// # Commands
//
// Lookup order: shell builtins that change the shell itself (cd, export,
// set, exit, sh/bash -c, eval, ., read, kill, wait, command, type, …; not
// replaceable), functions, registered commands (Register; bare names are
// also found as /usr/bin/NAME etc.), executable files in the FS (by path or
// along $PATH; #! sh/bash scripts run in a child shell). An unknown command
// is status 127 with bash's "bash: line N: NAME: command not found". The
// replaceable coreutils (cat, grep, sha256sum, …) follow GNU's output and
// error messages for the options the installer uses.
//
// # Concurrency and failure
//
// An Interp is safe for concurrent use: every Run is an independent shell
// process with its own variables, directory and options, sharing the
// command table and the filesystem (whose implementations must be safe for
// concurrent use, as MemFS is). Cancelling Run's context stops the script
// before its next command and interrupts sleeps and waits; Run then
// returns 130 (or 128+signal when kill(1) stopped it). Commands must honour
// Env.Ctx. Nothing in this package panics on bad input: the parser is
// fuzzed (FuzzParse, FuzzRun).
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
	// UID and GID own the file (0, root, where the FS keeps no owners).
	UID, GID int
}

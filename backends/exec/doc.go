// Package exec defines Executor, the one way steps run commands and move
// files on a target (the local node, or a host over SSH), and Local, its
// implementation on this machine. The SSH implementation lives in
// backends/ssh; exectest holds the conformance suite every implementation
// (and every fake used by step tests) must pass, and Fake.
//
// # Semantics every Executor honours
//
//   - Run executes Cmd.Script with /bin/sh -c semantics and waits. Exit 0 is
//     success; any other exit is *ExitError (Code -1 when killed by a
//     signal) carrying the tail of standard error. The Result is returned
//     alongside the error so callers can inspect captured output.
//   - Output: each complete line (without "\n", a trailing "\r" removed) is
//     passed to Cmd.Stdout / Cmd.Stderr as it arrives, from one goroutine per
//     stream; a final unterminated line is delivered when the stream ends.
//     Result.Stdout/Stderr keep at most MaxOutput bytes each — the tail.
//   - Cancellation: when ctx is cancelled or Cmd.Timeout expires the whole
//     command is killed (locally: SIGKILL to its process group; over SSH: see
//     backends/ssh) and the error wraps ctx.Err() — context.Canceled or
//     context.DeadlineExceeded — so errors.Is works.
//   - Cmd.Secret keeps the script out of every error and log line: errors
//     say "(secret)" instead (see Display).
//   - Cmd.Sudo runs the command through `sudo -n` when the executor's user is
//     not root; a sudo that wants a password yields an error wrapping
//     ErrSudoPassword.
//   - Files are read and written as the executor's user, never through
//     sudo: a file WriteFile creates belongs to that user and its login
//     group, like one the user's own programs create. This is the one way
//     to set a file's owner: write it over an executor connected as the
//     user who must own it — root for the node and the firewall, tappaas
//     for its home on tappaas-cicd, where upstream's scripts, running as
//     tappaas, read and chmod the key, credentials and configuration
//     (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/install1.sh:79-80,
//     pre-update.sh:199).
//   - ReadFile returns an error matching fs.ErrNotExist for a missing file
//     and fs.ErrPermission for one the user may not read.
//   - WriteFile is atomic: readers see the old content or the new, never a
//     partial file, also when the write is cancelled half-way; parents are
//     created (0755) and the file gets exactly mode. Where the user may not
//     write, the error matches fs.ErrPermission.
//   - Concurrency: all methods are safe for concurrent use.
//   - Idempotence: ReadFile is read-only; WriteFile with the same data is a
//     no-op in effect; Run is as idempotent as the script it runs.
//   - Connection loss (remote executors): a command interrupted by a dropped
//     link returns an error wrapping ErrConnectionLost; whether it took
//     effect is unknown, so callers re-Check before re-running.
package exec

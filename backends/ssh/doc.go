// Package ssh is the exec.Executor over SSH (golang.org/x/crypto/ssh): one
// connection per host, many sessions on it, keepalives, reconnection, host
// key pinning in an OpenSSH known_hosts file, and file transfer without an
// SFTP subsystem.
//
// # Host keys
//
// The server's key is checked against Config.KnownHostsFile (OpenSSH format,
// hashed entries included). A known, matching key connects. A key for a
// host that has a different key on record is a hard stop:
// *HostKeyChangedError names the known_hosts file and line; nothing is
// retried and no callback is asked. An unknown host is accepted only when
// Config.AcceptFingerprint equals its SHA-256 fingerprint ("SHA256:…",
// headless) or Config.Trust says yes (interactive); it is then appended to
// known_hosts. Otherwise the dial fails with *UnknownHostKeyError carrying
// the fingerprint to confirm. The client only negotiates host key algorithms
// of the types on record for a known host, so a server offering another
// key type cannot be mistaken for a changed key.
//
// # Connection life cycle
//
// Dial connects once (auth: ssh-agent, Config.Signers, Config.KeyFiles with a
// passphrase callback, then password callback). Each Run opens a session on
// the shared connection. A keepalive (keepalive@openssh.com, want-reply)
// goes out every Config.KeepAlive; no reply within Config.KeepAliveTimeout
// closes the link. A command running when the link dies returns an error
// wrapping exec.ErrConnectionLost; whether it took effect is unknown. The
// next call re-dials (Config.Redial attempts with exponential backoff).
// Host key and authentication failures are never retried.
//
// # How a command reaches the target
//
// The login shell of the SSH user parses the command line sshd gets, and
// that shell is not always sh: OPNsense's root logs in to tcsh (FreeBSD's
// /bin/csh), which refuses `{ …; }` groups ("{: Command not found."), sh
// builtins such as export, `$(…)`, a newline inside quotes and any `!`.
// So the command line is always the same csh- and sh-safe bootstrap
//
//	exec /bin/sh -c 'IFS= read -r s && eval "$(printf %b "$s")"'
//
// and the script follows on the session's stdin as its first line, with
// backslashes and newlines escaped for printf %b. /bin/sh reads exactly that
// line (the read builtin reads byte by byte from a pipe), decodes it and
// evaluates it; the rest of stdin is the command's (Cmd.Stdin, then the
// watchdog's lifeline below). The script — including Cmd.Env, exported by
// the script itself — never appears in a process's argv or in sshd's log;
// only sudo'd scripts of non-root users are passed to `sudo /bin/sh -c` as
// an argument. The target needs a POSIX /bin/sh with printf and read (every
// Linux, FreeBSD, OPNsense, NixOS); a target whose probe fails even the
// bootstrap gets the raw script as the command line, as a last resort.
//
// # Cancellation and what kills the remote command
//
// On ctx cancellation or Cmd.Timeout the client sends the "signal" channel
// request for SIGKILL and closes the session. OpenSSH's sshd delivers the
// signal with killpg to the session's process group — but only for
// non-root logins: for root it refuses ("session signalling requires
// privilege separation", verified with OpenSSH 9.2), and root is how
// tappaas reaches a node. sshd also does not kill a non-pty session's
// processes when its channel closes. So every command additionally runs
// under a small POSIX-sh watchdog: the session's stdin is
// kept open by the client for the command's life and read by a background
// `read` loop; when it reaches EOF — the session was closed or the
// connection died — and the command is still running, the watchdog kills
// the session's whole process group (`kill -KILL 0`). The command itself
// gets /dev/null (or exactly the Cmd.Stdin bytes, framed with `head -c N`)
// as stdin, so Cmd.Stdin is read into memory first (at most MaxStdin
// bytes). Processes the command put into a new session (setsid,
// systemd-run) survive, as they should. On connect the client probes the
// target once (`id -u` under the watchdog, which also tells whether the
// user is root); a target that cannot run the watchdog gets the bootstrap
// without it and relies on the signal request alone. The lab's simulated
// shell runs the watchdog too (its probe passes; TestLabConformance).
// Config.DisableWatchdog skips the probe and the watchdog (the user counts
// as root when Config.User is "root"). Commands under sudo by a non-root user run as
// root and cannot be killed by the user's signals; their cancellation
// relies on sudo relaying the session's end.
//
// # Persistent sessions
//
// A session per command costs a channel open, an exec request, a login
// shell, /bin/sh and the watchdog's double fork on the target: about 16 ms
// per command on loopback, where the command itself takes microseconds. So
// commands without stdin run on persistent remote shells, as Mitogen does
// for Ansible: a session started with the same boot line runs agentScript,
// one /bin/sh that reads framed requests on its stdin — a random token line,
// a line count and the script's lines — runs each script in a subshell
// (its exports, cd and exit stay its own) with /dev/null as stdin, and ends
// its stdout and stderr with a marker carrying the token (and, on stdout,
// the exit code). Output streams as it comes; stderr stays separate. One
// watchdog serves the session: the reader that copies requests into the
// loop kills the session's process group when the session's stdin ends,
// so cancelling a command (or Cmd.Timeout) closes its session, which kills
// the command's process group exactly as before, and a lost connection
// does the same. Up to two idle shells are kept per connection (each holds
// one of the MaxSessions slots, given up to a waiting call); a command
// with Cmd.Stdin, and every command on a target whose probe cannot run
// agentScript or the watchdog, gets a session of its own as described
// above. The probe runs `id -u` through a persistent shell once.
//
// # Files
//
// ReadFile runs `cat` (fs.ErrNotExist when the file is missing). WriteFile
// streams the data to `cat > <dir>/.<name>.tmp-<random>`, verifies its
// SHA-256 on the target (`sha256sum -c`), chmods, syncs and renames it into
// place with `mv -f`, so a cut link never leaves a partial file at path.
// Both act as Config.User, never through sudo (see backends/exec: a
// file belongs to the user who writes it). Both are idempotent, so a link lost
// while one runs is retried once on a fresh connection (Run never is: a
// command that started may have taken effect).
//
// # Concurrency
//
// A *Client is safe for concurrent use; concurrent Runs are concurrent
// sessions (sshd's MaxSessions, default 10, bounds them).
package ssh

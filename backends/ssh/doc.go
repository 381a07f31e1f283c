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
// `cat`; when it reaches EOF — the session was closed or the connection died
// — and the command is still running, the watchdog kills the session's
// whole process group (`kill -KILL 0`). The command itself gets /dev/null
// (or exactly the Cmd.Stdin bytes, framed with `head -c N`) as stdin, so
// Cmd.Stdin is read into memory first (at most MaxStdin bytes). Processes the
// command put into a new session (setsid, systemd-run) survive, as they
// should. On connect the client probes the target once; a target whose
// shell cannot run the watchdog (the lab's simulated shell) gets plain
// commands and relies on the signal request alone. Config.DisableWatchdog
// skips the probe. Commands under sudo by a non-root user run as root and
// cannot be killed by the user's signals; their cancellation relies on sudo
// relaying the session's end.
//
// # Files
//
// ReadFile runs `cat` (fs.ErrNotExist when the file is missing). WriteFile
// streams the data to `cat > <dir>/.<name>.tmp-<random>`, verifies its
// SHA-256 on the target (`sha256sum -c`), chmods, syncs and renames it into
// place with `mv -f`, so a cut link never leaves a partial file at path.
// Both use sudo for non-root users.
//
// # Concurrency
//
// A *Client is safe for concurrent use; concurrent Runs are concurrent
// sessions (sshd's MaxSessions, default 10, bounds them).
package ssh

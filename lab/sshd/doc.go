// Package sshd is the lab's SSH server: the real SSH protocol
// (golang.org/x/crypto/ssh) on a loopback port, with a pinned host key,
// public-key and password authentication, exec and interactive shell
// sessions run by a Handler (normally a lab/shell interpreter), signals,
// env requests, keepalives, direct-tcpip forwarding (ProxyJump) through a
// dial function, and fault injection (drop every connection, or drop the
// link at the K-th command).
//
// # Sessions
//
// An exec request runs Config.Handler with the command line, the channel as
// stdin and its stdout/stderr streams (merged, with \n → \r\n, when a pty
// was requested), and returns the status as "exit-status". A "signal"
// request (KILL, TERM, …) cancels the Handler's context and the client gets
// "exit-signal" with that name at once, as from a killed process. A
// "shell" request gives a line-by-line prompt (Config.Prompt), each line
// run by the Handler with empty stdin; exit or EOF ends it. "env" requests
// before exec/shell are visible through EnvFromContext. Subsystems (sftp),
// X11 and agent forwarding are refused. Global requests — among them
// keepalive@openssh.com — are answered with a failure reply, as OpenSSH's
// sshd does; any reply proves the link is alive.
//
// # Forwarding
//
// direct-tcpip channels are dialled with Config.Dial (the lab's dial
// table), so a client can reach a VM behind the node through the node;
// without Dial they are refused as "administratively prohibited".
//
// # Faults and failure
//
// DropAll closes every open TCP connection abruptly: running handlers are
// cancelled, no exit status is sent, and clients see the connection lost.
// Config.Hooks is consulted for every command with its sequence number
// (DropAtCommand): FaultDropBefore severs the link before the command runs,
// FaultDropAfter after it ran but before its status is sent (the client
// cannot know whether it took effect). Handshakes time out after 15 s.
//
// # Concurrency and shutdown
//
// A Server serves any number of connections and sessions at once; each
// session's handler runs in its own goroutine. Close is idempotent: it
// stops listening, severs every connection, cancels running handlers and
// waits for every goroutine the server started (handlers must honour their
// context).
package sshd

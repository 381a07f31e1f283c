// Package pve is the thin Proxmox VE API client of tappaas: a pinned,
// authenticated transport with typed errors, built on
// github.com/luthermonson/go-proxmox v0.8.2 (Proxmox() hands out the typed
// go-proxmox client over the same transport), plus the few raw calls where
// go-proxmox is wrong (docs/pve-api.md#go-proxmox-gaps). Add calls when a step or the manager needs them.
//
// # TLS pinning without InsecureSkipVerify
//
// PVE serves a self-signed (cluster-CA-signed) certificate. tappaas pins its
// SHA-256 fingerprint (Config.Fingerprint, learned over the already trusted
// SSH channel, "AA:BB:…" as `pvenode cert info` prints it) with
// backends/tlspin, the one pinner of PVE and OPNsense: learn, then pin, the
// pinned leaf as the only root, never InsecureSkipVerify. A changed
// certificate fails with *tlspin.MismatchError naming both fingerprints
// before any request is sent.
//
// # Authentication
//
// An API token (Config.TokenID/TokenSecret → "Authorization: PVEAPIToken=")
// for everything; a root@pam ticket (LoginTicket; cookie + CSRF header on
// writes) only where PVE demands it — ClusterCreate uses the ticket even
// when a token is set, and fails with ErrNeedTicket without one. A client
// without a token uses the ticket for all calls. Tickets are renewed once
// on a 401 with the remembered login (memory only).
//
// # Errors
//
// Every non-2xx reply becomes *APIError (Message = the body's "message",
// else PVE's HTTP reason phrase, which carries the text) or *ParamError for
// 400 with the "errors" map. errors.Is works with ErrNotFound (404 and PVE's
// 500 "… does not exist"), ErrUnauthorized (401/403), ErrForbidden (403) and
// ErrNotImplemented (501). Transport failures are *NetError,
// *tlspin.MismatchError and *tlspin.CertError; *APIError
// (502/503/504/429/595/596) and *NetError have Retryable() true for the
// step runner. The typed errors are produced in the HTTP transport, so
// calls made through go-proxmox (Proxmox()) get them too. Secrets
// (passwords, token secrets) never appear in errors or logs; the log gets
// method and path only.
//
// # Where go-proxmox is bypassed (raw calls through Do)
//
//   - ClusterCreate returns a UPID to wait for (go-proxmox's CreateCluster
//     hands it back as a "status" string and never waits).
//   - Every call returning a task parses the UPID strictly; go-proxmox's
//     NewTask panics on a UPID with a missing field.
//   - WaitTask reports a failed task as *TaskError (go-proxmox's Task.Wait
//     returns nil whatever the outcome) and treats "WARNINGS: n" as success
//     (go-proxmox: failure); it streams log lines and honours ctx between
//     polls.
//
// # Concurrency, ordering, idempotence
//
// A Client is safe for concurrent use. Calls are not retried by the client
// (the step runner retries Retryable errors); reads are idempotent, creates
// are not (callers Check first). WaitTask polls every Config.TaskPoll and
// stops waiting on ctx cancellation without stopping the task.
package pve

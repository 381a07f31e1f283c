// Package opnsense is tappaas' typed client for the OPNsense REST API
// (https://<firewall>/api/<module>/<controller>/<command>[/<param>…]).
//
// The upstream Go client (browningluke/opnsense-go) is not available to us;
// this package follows its resource shape (docs/opnsense-api.md#endpoints): a
// resource is a module/controller pair plus a command suffix and a "monad"
// (the JSON key wrapping a record), and every typed resource is a thin layer
// over the generic Search/Get/Add/Set/Del calls.
//
// # Transport and trust
//
// Requests use HTTP Basic auth (user = API key, password = API secret) over
// HTTPS/1.1 through the DialFunc given in Config (the lab routes 10.0.0.1:443
// to loopback; the product passes exec.SystemDial).
//
// The firewall's web-GUI certificate is self-signed, so it is pinned by the
// SHA-256 fingerprint of its leaf certificate (Config.Fingerprint, learned out
// of band over the already-trusted SSH channel, or Config.Certificate), by
// backends/tlspin, the pinner PVE and PBS use too: learn, then pin, the
// pinned certificate as the only root, never InsecureSkipVerify. A server
// presenting another certificate fails with *tlspin.MismatchError
// (errors.Is(err, tlspin.ErrMismatch)) naming both fingerprints and what to
// do (RepinHint); a pinned certificate Go cannot verify (no subject
// alternative name) is *tlspin.CertError. Neither is retryable and no
// request is sent.
//
// # Replies and errors
//
// OPNsense reports validation failures as HTTP 200 with
// {"result":"failed","validations":{…}}: they become *ValidationError with
// the field map. 401 → ErrUnauthorized, 403 → ErrForbidden, 404
// {"errorMessage":"Endpoint not found"} → ErrEndpointNotFound (a controller
// the firmware does not have, e.g. the savepoint API on 26.7), a GET of an
// unknown uuid (reply `[]`) or a delete answering "not found" → ErrNotFound,
// other non-200 replies → *APIError (500 UserException texts such as "This
// VLAN cannot be deleted because it is assigned as an interface." are kept in
// Message). Only 502/503/504 and transport failures are retryable
// (Retryable() bool, as steps.Retryable expects). Secrets never appear in
// errors or logs; logs carry method, path, status and duration.
//
// # Ordering, staging and concurrency
//
// Writes change the firewall's saved configuration only; the running service
// changes when the module is reconfigured (Reconfigure) or, for the filter,
// applied (Apply). The client never reconfigures implicitly: callers batch
// writes and reconfigure once. Concurrent writes during a reconfigure lose
// data on a real OPNsense, so every write and every Reconfigure/Apply takes one
// client-wide mutex, and Locked(ctx, fn) holds it across a whole batch (writes
// made inside fn with fn's context do not take it again). Lock acquisition
// honours ctx. Reads do not lock.
//
// # Idempotence
//
// Add always creates; Set is an upsert on the firewall (an unknown uuid
// creates a record under that uuid); Del of an absent uuid returns
// ErrNotFound, which callers converging to "absent" treat as success.
//
// # Dialects
//
// Dialect (the version probed once from /api/core/firmware/status) says what
// the firmware offers: HasSavepoint (filter savepoint/apply/<revision>/
// cancelRollback/revert exist up to 26.1.x, removed in 26.7:
// opnsense/core commit 17b84612eb) and the interface-assignment flavour.
// TAPPaaS' interface_assign patch is a file copied onto the firewall, not
// part of any firmware, so it is probed (HasAssignPatch) and wins on any
// version (it survives an upgrade to 26.7); without it there is none on
// ≤26.1, the stock assignment controller without IP fields on 26.7, with IP
// fields from 27.1. Methods that the firmware lacks return ErrUnsupported
// without calling it. Without savepoints (26.7) the zones applier applies
// rules without the firewall's automatic rollback; 26.7.2 has no other
// rollback for the filter.
package opnsense

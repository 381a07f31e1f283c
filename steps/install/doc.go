// Package install builds the bootstrap plans and connects their targets.
//
// # Plans
//
// FirstNodePlan turns a validated config.Install into the first-node plan:
// preflight → node (repos, packages, notice, snippets) → network bridges
// (commit/confirm) → cluster → ZFS pools and their PVE storage → PBS
// (package, datastore, user+token+ACL, pinned pbs storage, backup job) →
// firewall (verified image, VM 110, takeover with our key, bootstrap key
// refused) → gateway cutover (commit/confirm) and sanity checks → platform
// (template 8080, tappaas-cicd 130, guest-agent IP, install1, install2,
// configuration.json) → zones → summary. The zones need TAPPaaS'
// interface_assign patch, which the stock firewall image lacks and
// upstream copies only during install2: firewall.assign-patch copies it
// from tappaas-cicd's checkout right after install1, and zones wait for it. JoinPlan builds the join-node plan
// (secondary network layout, join with the peer's password, re-pin,
// storage, HA and replication).
//
// Ordering: steps declare Needs (what must be done first) and Touches (what
// they lock). Downloads need only preflight, so they overlap the package
// installs and the network, cluster and storage steps; apt users share
// "node:apt"; both network changes share "node:network".
//
// Idempotence: every step's Check reads the target (files, `qm config`,
// pvesh, proxmox-backup-manager, the firewall API) and Apply converges with
// fixed IDs, so any run may stop anywhere (SIGKILL included) and a rerun
// finishes with exactly one of each object. A finished plan reruns with
// every step skipped and nothing changed.
//
// Failure: a lost link (SSH drop, EOF) is retryable and retried by the
// runner; anything else stops the run with an error naming the step and
// what to do. Secrets (API key and secret, root password, PBS token, SSH
// keys) live in the node's 0600 secrets file, never in facts, logs or
// error text.
//
// Targets: Connect opens the node over SSH (one connection, host key pinned
// via known_hosts or --accept-host-key), builds the firewall API with the
// certificate pinned in the facts (firewall.fingerprint; learned over that
// trusted channel the first time), and dials guests, the firewall's
// bootstrap SSH included, with their host keys pinned in the node's facts
// on first use (vm.host_keys). A changed key or certificate is fatal
// (HostKeyChangedError, *tlspin.MismatchError) and names the
// `tappaas forget-…` command that drops the pin.
// Local builds the same for running on the node itself.
package install

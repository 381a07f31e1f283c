// Package pve is the lab's simulated Proxmox VE 9 node: one in-memory
// Model (NICs, disks, live links and routes, apt state, cluster, storages,
// ZFS pools, volumes, users/tokens/ACLs, VMs, HA resources, backup jobs,
// tasks, PBS, certificates) shared by two faces:
//
//   - Handler: the HTTPS API under /api2/json, strict like pveproxy
//     (docs/pve-api.md): token and ticket+CSRF auth, root@pam-only
//     endpoints, parameter validation with the `errors` map, errors with the
//     message as the HTTP reason phrase (hijacked connection), UPID tasks.
//     PBSHandler is the PBS API on :8007 once proxmox-backup-server is
//     installed.
//   - Commands: the node's shell commands (qm, pvesm, pvecm, pveum, pvesh,
//     ha-manager, apt-get, zpool, zfs, lsblk, ip, ifreload, systemctl,
//     systemd-run, openssl, curl, wget, zstd, proxmox-backup-manager, …) for
//     a lab/shell interpreter working on the node's filesystem (FS).
//
// Both faces change the same Model under one mutex, so an effect made over
// SSH (a bridge after ifreload, a pool after zpool create, PBS after apt)
// is what the API serves next, and vice versa.
//
// Ordering: API requests and commands are serialised on the model lock;
// tasks apply their effect when created and report "running" for their
// (Speed-scaled) duration, then their exit status. Idempotence: reads never
// change the model; a mutation that fails validation changes nothing.
// Concurrency: every exported method is safe for concurrent use.
// Failure: errors carry PVE's texts (APIError for the API; the CLI prints
// them and exits 255 like perl's die, other tools use their own codes).
package pve

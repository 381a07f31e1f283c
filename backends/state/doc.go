// Package state is tappaas's checkpoint store: the record of what a run did,
// kept on the node it describes (/var/lib/tappaas) and written through a
// small filesystem interface (FS) so the same code works on the local disk
// (DirFS), through an SSH executor (ExecFS) and in memory
// (statetest.MemFS).
//
// # Files
//
//   - state.json (0600): the snapshot — schema version, serial, plan, non-
//     secret inputs, facts and one Record per step. Written atomically
//     (temp file, fsync, rename, fsync of the directory), at most every
//     SnapshotEvery (default 250ms) and when the run lock is released.
//   - journal.jsonl (0600): append-only history, one JSON line per change
//     (every step transition, fact and input), fsync'd before the change is
//     reported done. It is the write-ahead log: Open replays the lines newer
//     than the snapshot.
//   - state.json.prev (0600): the previous good snapshot, saved when a run
//     takes the lock. If state.json is damaged (torn write, garbage), Open
//     uses it plus the journal, keeps the damaged bytes as
//     state.json.damaged, and Warnings tells the operator.
//   - secrets.json (0600): credentials, never in state.json, the journal,
//     logs or error text.
//   - lock (0600): the run lock, JSON naming its Holder and a random lock
//     ID.
//
// The directory is 0700.
//
// # Ordering and durability
//
// Every mutating method (RecordStep, SetFact, SetInput, SetPlan, SetSecret)
// is durable when it returns. Changes get increasing serials; the journal
// holds them in order. SnapshotEvery trades state.json freshness for speed
// (the journal keeps durability either way); Flush and unlock write the
// snapshot.
//
// # Schema
//
// A state.json with a newer schema than SchemaVersion is refused with a
// *SchemaError (the operator must run the newer tappaas); an older one is
// migrated in memory and written in the current schema on the next change.
//
// # Concurrency
//
// A Store is safe for concurrent use within a process. Across processes
// (and hosts) the lock serialises runs, as Terraform's state lock does:
// nothing touches the state before the lock — every change of a Store that
// does not hold it fails with ErrNotLocked — and Lock re-reads state.json,
// the journal and secrets.json once it holds it, so a store opened before
// another run changed the state continues after that run's serials. Lock
// fails with a *LockError naming the holder and its lock ID; a lock with
// this Store's own ID (a create retried after its answer was lost) is its
// own; a lock left by a dead process of the same host is taken over under
// a second exclusive file so two runs never both win, and Held's Lease
// carries the warning to show. ForceUnlock (`tappaas unlock ID`) removes a
// lock whose ID the operator names. Reading a store (Open without Lock) is
// always allowed.
package state

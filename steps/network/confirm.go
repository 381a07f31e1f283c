// Package network holds the steps that can cut the operator off: the lan/wan
// bridges and the gateway cutover. Both run commit-confirmed, as Junos's
// `commit confirmed` does: the previous files are saved and a rollback is
// armed on the node before the change is applied; the installer then opens
// a new connection to the node (the open session may live on a route the
// change removed), verifies over it and confirms over it. If no new
// connection is made within the window the node restores itself — from a
// timer while it runs, and from a unit enabled for boot if it reboots
// first — and the next run starts from a clean state.
package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// Rollback files on the node. The marker and the unit file are on disk, so
// a reboot inside the window keeps them: systemd runs the unit at boot
// (WantedBy=multi-user.target, systemd.unit(5) [Install]) and it restores
// the saved files while the marker is there (ConditionPathExists=). The
// live timer is a transient systemd-run unit, which a reboot forgets
// (systemd.unit(5): transient units load from /run/systemd/transient); the
// boot unit covers that case. A timer unit file would not do it alone:
// Persistent= "only has an effect on timers configured with OnCalendar="
// and catches up only on a deadline passed while the node was down, and
// OnBootSec= counts from boot (systemd.timer(5)) — either way a node that
// reboots inside the window would keep the unconfirmed network for a while.
const (
	RollbackDir    = "/usr/local/sbin"
	rollbackPrefix = "tappaas-rollback-"
	backupSuffix   = ".tappaas-good"
	// MarkerDir holds one file per unconfirmed change, named by its id;
	// confirming a change removes its marker.
	MarkerDir = "/var/lib/tappaas/network-rollback"
	// UnitDir is where the boot unit goes (systemd.unit(5): units the
	// administrator created).
	UnitDir = "/etc/systemd/system"
)

// DefaultRollbackAfter is how long the node waits for a confirmation.
const DefaultRollbackAfter = 120 * time.Second

// Change is one commit/confirm change of node files.
type Change struct {
	Node exec.Executor
	// Files are the new contents, by path.
	Files map[string]string
	// Apply makes the files live ("ifreload -a").
	Apply string
	// Verify runs after Apply on the executor that confirms the change: it
	// reports whether the node is right.
	Verify func(ctx context.Context, e exec.Executor) (bool, string, error)
	// Reconnect opens a new connection to the node, on the address the
	// operator reaches it at after the change; verification and
	// confirmation go through it. nil (at the node's console) uses Node.
	Reconnect func(ctx context.Context) (exec.Executor, func() error, error)
	// RollbackAfter is the confirmation window (default 120 s).
	RollbackAfter time.Duration
}

func markerPath(id string) string { return path.Join(MarkerDir, id) }
func scriptPath(id string) string { return path.Join(RollbackDir, rollbackPrefix+id+".sh") }
func bootUnit(id string) string   { return rollbackPrefix + id + ".service" }
func liveUnit(id string) string   { return rollbackPrefix + "live-" + id }

// Pending lists the unconfirmed changes on the node (their ids): those
// whose marker is still there.
func Pending(ctx context.Context, e exec.Executor) ([]string, error) {
	out, err := node.Query(ctx, e, "if [ -d "+MarkerDir+" ]; then ls "+MarkerDir+"; fi")
	if err != nil {
		return nil, err
	}
	ids := strings.Fields(out)
	sort.Strings(ids)
	return ids, nil
}

// leftovers lists the ids of rollback scripts on the node whose change is no
// longer pending (confirmed, or rolled back) but whose clean-up was cut short.
func leftovers(ctx context.Context, e exec.Executor, pending []string) ([]string, error) {
	out, err := node.Query(ctx, e, "ls "+RollbackDir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, f := range strings.Fields(out) {
		if !strings.HasPrefix(f, rollbackPrefix) || !strings.HasSuffix(f, ".sh") {
			continue
		}
		id := strings.TrimSuffix(strings.TrimPrefix(f, rollbackPrefix), ".sh")
		found := false
		for _, p := range pending {
			found = found || p == id
		}
		if !found {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func newID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func rollbackScript(id string, paths []string, apply string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# tappaas commit/confirm rollback " + id + ": restores the files below unless the change\n")
	b.WriteString("# was confirmed (confirming removes the marker). Run by the live timer, or at boot by " + bootUnit(id) + ".\n")
	mark := exec.Quote(markerPath(id))
	fmt.Fprintf(&b, "[ -e %s ] || exit 0\n", mark)
	for _, p := range paths {
		fmt.Fprintf(&b, "cp %s %s || exit 1\n", exec.Quote(p+backupSuffix), exec.Quote(p))
	}
	b.WriteString(apply + "\n")
	fmt.Fprintf(&b, "rm -f %s\n", mark)
	fmt.Fprintf(&b, "systemctl disable %s\n", exec.Quote(bootUnit(id)))
	fmt.Fprintf(&b, "rm -f %s\n", exec.Quote(path.Join(UnitDir, bootUnit(id))))
	return b.String()
}

// bootUnitFile runs the rollback at boot while the change is unconfirmed:
// a oneshot service (systemd.service(5) Type=oneshot) after networking has
// brought up the changed files, skipped once the marker is gone
// (systemd.unit(5) ConditionPathExists=).
func bootUnitFile(id string) string {
	return "[Unit]\nDescription=tappaas: roll back the unconfirmed network change " + id + "\n" +
		"ConditionPathExists=" + markerPath(id) + "\nAfter=networking.service\n\n" +
		"[Service]\nType=oneshot\nExecStart=/bin/sh " + scriptPath(id) + "\n\n" +
		"[Install]\nWantedBy=multi-user.target\n"
}

// Commit applies the change under an armed rollback, verifies it over a new
// connection and confirms it there. Unconfirmed rollbacks of an interrupted
// earlier run are taken over: their saved files stay the "last good"
// copies and the new rollback restores them.
func (c *Change) Commit(ctx context.Context, rt *steps.Runtime) error {
	after := c.RollbackAfter
	if after <= 0 {
		after = DefaultRollbackAfter
	}
	paths := make([]string, 0, len(c.Files))
	for p := range c.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	stale, err := Pending(ctx, c.Node)
	if err != nil {
		return err
	}
	done, err := leftovers(ctx, c.Node, stale)
	if err != nil {
		return err
	}
	for _, id := range done {
		cancel(ctx, c.Node, id)
	}
	// 1. Save the last good copy of each file (kept from a stale attempt).
	for _, p := range paths {
		_, haveGood, err := node.ReadFile(ctx, c.Node, p+backupSuffix)
		if err != nil {
			return err
		}
		if haveGood && len(stale) > 0 {
			continue
		}
		cur, ok, err := node.ReadFile(ctx, c.Node, p)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s does not exist on the node; it cannot be changed safely", p)
		}
		if err := node.Write(ctx, c.Node, p+backupSuffix, cur, 0o600); err != nil {
			return fmt.Errorf("save %s: %w", p, err)
		}
	}
	// 2. Arm the rollback before touching anything: the script, the
	// marker, the unit for a reboot, the timer for the running node.
	id := newID()
	secs := int(after / time.Second)
	deadline := time.Now().Add(after)
	arm := func() error {
		if err := node.Write(ctx, c.Node, scriptPath(id), []byte(rollbackScript(id, paths, c.Apply)), 0o700); err != nil {
			return fmt.Errorf("write the rollback script: %w", err)
		}
		if err := node.Write(ctx, c.Node, path.Join(UnitDir, bootUnit(id)), []byte(bootUnitFile(id)), 0o644); err != nil {
			return fmt.Errorf("write the rollback unit: %w", err)
		}
		if _, err := node.Run(ctx, rt, c.Node, "mkdir -p "+MarkerDir); err != nil {
			return fmt.Errorf("create %s: %w", MarkerDir, err)
		}
		mark := fmt.Sprintf("unconfirmed change of %s; rolled back at %s unless confirmed\n", strings.Join(paths, ", "), deadline.UTC().Format(time.RFC3339))
		if err := node.Write(ctx, c.Node, markerPath(id), []byte(mark), 0o600); err != nil {
			return fmt.Errorf("write the rollback marker: %w", err)
		}
		if _, err := node.Run(ctx, rt, c.Node, "systemctl enable "+exec.Quote(bootUnit(id))); err != nil {
			return fmt.Errorf("enable the rollback unit for boot: %w", err)
		}
		if _, err := node.Run(ctx, rt, c.Node, fmt.Sprintf("systemd-run --unit=%s --on-active=%d /bin/sh %s", liveUnit(id), secs, scriptPath(id))); err != nil {
			return fmt.Errorf("schedule the rollback: %w", err)
		}
		return nil
	}
	if err := arm(); err != nil {
		cancel(ctx, c.Node, id)
		return err
	}
	rt.Printf("rollback %s armed on the node: in %ds, or at its next boot, it restores %s unless confirmed", id, secs, strings.Join(paths, ", "))
	// Older rollbacks are superseded by this one (it restores the same good copies).
	for _, old := range stale {
		cancel(ctx, c.Node, old)
	}

	// 3. Apply.
	for _, p := range paths {
		if err := node.Write(ctx, c.Node, p, []byte(c.Files[p]), 0o644); err != nil {
			return fmt.Errorf("write %s (the node rolls back in %ds): %w", p, secs, err)
		}
	}
	if _, err := node.Run(ctx, rt, c.Node, c.Apply); err != nil {
		if !errors.Is(err, exec.ErrConnectionLost) {
			return fmt.Errorf("%s failed; the node restores the previous configuration at %s: %w", c.Apply, deadline.Format("15:04:05"), err)
		}
		// The link dropped: the reload may or may not have run (a changed
		// network drops sessions; so does a flaky link before the command
		// starts). Reloading the same files again is harmless when the old
		// link still works; when it does not, the new connection below
		// tells whether the change took.
		rt.Printf("the connection dropped during %q; applying again", c.Apply)
		if _, err := node.Run(ctx, rt, c.Node, c.Apply); err != nil && !errors.Is(err, exec.ErrConnectionLost) {
			return fmt.Errorf("%s failed; the node restores the previous configuration at %s: %w", c.Apply, deadline.Format("15:04:05"), err)
		}
	}

	// 4. Open a new connection and verify over it, well before the
	// rollback fires.
	var detail string
	var fresh exec.Executor
	var closeFresh func() error
	defer func() {
		if closeFresh != nil {
			_ = closeFresh()
		}
	}()
	// Leave a margin so the confirmation lands before the timer fires.
	window := time.Until(deadline) - min(15*time.Second, after/4)
	err = node.Poll(ctx, rt, "a new connection to the node with the new network configuration", window, 2*time.Second, func(ctx context.Context) (bool, error) {
		if c.Reconnect != nil && fresh == nil {
			e, cl, err := c.Reconnect(ctx)
			if err != nil {
				detail = "no new connection"
				return false, err
			}
			fresh, closeFresh = e, cl
		}
		target := c.Node
		if fresh != nil {
			target = fresh
		}
		ok, d, err := c.Verify(ctx, target)
		detail = d
		if err != nil && fresh != nil && errors.Is(err, exec.ErrConnectionLost) {
			_ = closeFresh()
			fresh, closeFresh = nil, nil // the next attempt dials again
		}
		return ok, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("the change was not confirmed (%s); the node restores the previous configuration at %s — fix the cause and run again: %w", detail, deadline.Format("15:04:05"), err)
	}
	confirmer := c.Node
	if fresh != nil {
		confirmer = fresh
	}
	// 5. Confirm over the new connection: removing the marker makes the
	// timer and the boot unit no-ops; then they are removed.
	if _, err := node.Run(ctx, rt, confirmer, "rm -f "+exec.Quote(markerPath(id))); err != nil {
		return fmt.Errorf("confirm the change (the node rolls back at %s unless confirmed): %w", deadline.Format("15:04:05"), err)
	}
	cancel(ctx, confirmer, id)
	for _, p := range paths {
		_, _ = node.Query(ctx, confirmer, "rm -f "+exec.Quote(p+backupSuffix))
	}
	how := "over a new connection"
	if fresh == nil {
		how = "on the node"
	}
	rt.Printf("change confirmed %s (%s); rollback %s removed", how, detail, id)
	return nil
}

// cancel disarms a rollback (best effort: a rollback whose marker is gone
// does nothing either way) and removes its timer, unit and script.
func cancel(ctx context.Context, e exec.Executor, id string) {
	_, _ = node.Query(ctx, e, "rm -f "+exec.Quote(markerPath(id)))
	_, _ = node.Query(ctx, e, "systemctl stop "+exec.Quote(liveUnit(id)+".timer"))
	_, _ = node.Query(ctx, e, "systemctl stop "+exec.Quote(rollbackPrefix+id+".timer")) // the live timer of earlier tappaas versions
	_, _ = node.Query(ctx, e, "systemctl disable "+exec.Quote(bootUnit(id)))
	_, _ = node.Query(ctx, e, "rm -f "+exec.Quote(path.Join(UnitDir, bootUnit(id)))+" "+exec.Quote(scriptPath(id)))
}

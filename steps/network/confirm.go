// Package network holds the steps that can cut the operator off: the lan/wan
// bridges and the gateway cutover. Both run commit/confirm: the previous
// files are saved and a rollback is scheduled on the node (systemd-run
// --on-active) before the change is applied; the installer then reconnects,
// verifies, and only then cancels the rollback. If it cannot come back the
// node restores itself and the next run starts from a clean state.
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

// Rollback files on the node.
const (
	RollbackDir    = "/usr/local/sbin"
	rollbackPrefix = "tappaas-rollback-"
	backupSuffix   = ".tappaas-good"
	confirmDir     = "/run"
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
	// Verify runs after Apply over a fresh command (reconnecting when the
	// link dropped); it returns nil when the node is reachable and right.
	Verify func(ctx context.Context) (bool, string, error)
	// RollbackAfter is the confirmation window (default 120 s).
	RollbackAfter time.Duration
}

// Pending lists unconfirmed rollbacks scheduled on the node (their ids).
func Pending(ctx context.Context, e exec.Executor) ([]string, error) {
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
		// A confirmed change is not pending, even if the clean-up after
		// its confirmation was cut short (its script then exits at once).
		mark := path.Join(confirmDir, "tappaas-confirmed-"+id)
		got, err := node.Query(ctx, e, "test -e "+exec.Quote(mark)+" && echo confirmed || true")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(got) != "confirmed" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func newID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func rollbackScript(id string, paths []string, apply string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# tappaas commit/confirm rollback " + id + ": restores the files below unless confirmed.\n")
	fmt.Fprintf(&b, "[ -e %s ] && exit 0\n", exec.Quote(path.Join(confirmDir, "tappaas-confirmed-"+id)))
	for _, p := range paths {
		fmt.Fprintf(&b, "cp %s %s\n", exec.Quote(p+backupSuffix), exec.Quote(p))
	}
	b.WriteString(apply + "\n")
	return b.String()
}

// Commit applies the change under a scheduled rollback, verifies it and
// confirms it. Stale unconfirmed rollbacks of an interrupted earlier run are
// taken over: their saved files stay the "last good" copies and they are
// cancelled only once the new change is verified.
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
	// 2. Schedule the rollback before touching anything.
	id := newID()
	script := path.Join(RollbackDir, rollbackPrefix+id+".sh")
	if err := node.Write(ctx, c.Node, script, []byte(rollbackScript(id, paths, c.Apply)), 0o700); err != nil {
		return fmt.Errorf("write rollback script: %w", err)
	}
	secs := int(after / time.Second)
	if _, err := node.Run(ctx, rt, c.Node, fmt.Sprintf("systemd-run --unit=%s --on-active=%d /bin/sh %s", rollbackPrefix+id, secs, script)); err != nil {
		_, _ = node.Query(ctx, c.Node, "rm -f "+exec.Quote(script))
		return fmt.Errorf("schedule the rollback: %w", err)
	}
	deadline := time.Now().Add(after)
	rt.Printf("rollback %s scheduled on the node in %ds (restores %s unless confirmed)", id, secs, strings.Join(paths, ", "))
	// Older rollbacks are superseded by this one (it restores the same good copies).
	for _, old := range stale {
		c.cancel(ctx, rt, old)
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
		// starts). Reloading the same files again is harmless, and the
		// reconnect proves the node is reachable.
		rt.Printf("the connection dropped during %q; reconnecting and applying again", c.Apply)
		if _, err := node.Run(ctx, rt, c.Node, c.Apply); err != nil && !errors.Is(err, exec.ErrConnectionLost) {
			return fmt.Errorf("%s failed; the node restores the previous configuration at %s: %w", c.Apply, deadline.Format("15:04:05"), err)
		}
	}

	// 4. Reconnect and verify, well before the rollback fires.
	var detail string
	// Leave a margin so the confirmation lands before the timer fires.
	window := time.Until(deadline) - min(15*time.Second, after/4)
	err = node.Poll(ctx, rt, "the node to answer with the new network configuration", window, 2*time.Second, func(ctx context.Context) (bool, error) {
		ok, d, err := c.Verify(ctx)
		detail = d
		return ok, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("the change was not confirmed (%s); the node restores the previous configuration at %s — fix the cause and run again: %w", detail, deadline.Format("15:04:05"), err)
	}
	// 5. Confirm: the rollback becomes a no-op, then is removed.
	if _, err := node.Run(ctx, rt, c.Node, "touch "+exec.Quote(path.Join(confirmDir, "tappaas-confirmed-"+id))); err != nil {
		return fmt.Errorf("confirm the change (the node rolls back at %s unless confirmed): %w", deadline.Format("15:04:05"), err)
	}
	c.cancel(ctx, rt, id)
	for _, p := range paths {
		_, _ = node.Query(ctx, c.Node, "rm -f "+exec.Quote(p+backupSuffix))
	}
	rt.Printf("change confirmed (%s); rollback %s cancelled", detail, id)
	return nil
}

// cancel stops a scheduled rollback (best effort on the timer; the confirm
// file makes it a no-op either way) and removes its script.
func (c *Change) cancel(ctx context.Context, rt *steps.Runtime, id string) {
	_, _ = node.Query(ctx, c.Node, "touch "+exec.Quote(path.Join(confirmDir, "tappaas-confirmed-"+id)))
	_, _ = node.Query(ctx, c.Node, "systemctl stop "+exec.Quote(rollbackPrefix+id+".timer"))
	_, _ = node.Query(ctx, c.Node, "rm -f "+exec.Quote(path.Join(RollbackDir, rollbackPrefix+id+".sh")))
}

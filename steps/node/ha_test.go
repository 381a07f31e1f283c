package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
)

// unitsFake answers systemctl is-enabled/is-active/enable for a set of
// unit states, one line per unit as systemctl prints them.
func unitsFake(enabled, active map[string]bool) *exectest.Fake {
	f := exectest.NewFake()
	var mu sync.Mutex
	answer := func(m map[string]bool, yes, no string) func(context.Context, *exectest.Invocation) (int, error) {
		return func(_ context.Context, inv *exectest.Invocation) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, u := range strings.Fields(strings.TrimSuffix(inv.Cmd.Script, " || true"))[2:] {
				st := no
				if m[u] {
					st = yes
				}
				fmt.Fprintln(inv.Stdout, st)
			}
			return 0, nil
		}
	}
	f.On(`^systemctl is-enabled `, answer(enabled, "enabled", "disabled"))
	f.On(`^systemctl is-active `, answer(active, "active", "inactive"))
	f.On(`^systemctl enable -q --now `, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range strings.Fields(inv.Cmd.Script)[4:] {
			enabled[u] = true
			if u != "corosync" {
				active[u] = true
			}
		}
		return 0, nil
	})
	return f
}

func TestHAServicesEnablesWhatWasDisabled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	enabled := map[string]bool{"pve-ha-crm": true, "corosync": true}
	active := map[string]bool{"pve-ha-crm": true}
	f := unitsFake(enabled, active)
	s := &HAServices{Node: f}
	st, err := s.Check(ctx, rt())
	if err != nil || st.Done || !strings.Contains(st.Detail, "pve-ha-lrm is disabled") {
		t.Fatalf("check before: %+v %v", st, err)
	}
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Check(ctx, rt()); err != nil || !st.Done {
		t.Fatalf("check after: %+v %v", st, err)
	}
	// Enabled but stopped is not done either.
	active["pve-ha-lrm"] = false
	if st, err := s.Check(ctx, rt()); err != nil || st.Done || !strings.Contains(st.Detail, "pve-ha-lrm is inactive") {
		t.Fatalf("stopped lrm: %+v %v", st, err)
	}
}

func TestHAServicesCheckRefusesOddOutput(t *testing.T) {
	t.Parallel()
	f := exectest.NewFake().Reply(`^systemctl is-enabled `, "enabled\n", 0)
	if _, err := (&HAServices{Node: f}).Check(context.Background(), rt()); err == nil || !strings.Contains(err.Error(), "one answer per unit") {
		t.Fatalf("got %v", err)
	}
}

// aptUpgradeFake lists pending upgrades in apt-get -s output and clears
// them on a real dist-upgrade.
func aptUpgradeFake(pending []string, updateFails bool) (*exectest.Fake, func() []string) {
	f := exectest.NewFake()
	var mu sync.Mutex
	f.On(`^apt-get -s -q dist-upgrade$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(inv.Stdout, "Reading package lists...\n%d upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n", len(pending))
		for _, p := range pending {
			fmt.Fprintf(inv.Stdout, "Inst %s [1.0] (1.1 Proxmox:9.1/trixie [amd64])\n", p)
		}
		return 0, nil
	})
	f.On(`apt-get update`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		if updateFails {
			fmt.Fprintln(inv.Stderr, "E: Failed to fetch http://download.proxmox.com/debian/pve")
			return 100, nil
		}
		return 0, nil
	})
	f.On(`apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold dist-upgrade$`, func(context.Context, *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		pending = nil
		return 0, nil
	})
	return f, func() []string { mu.Lock(); defer mu.Unlock(); return pending }
}

func TestUpgradeIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, left := aptUpgradeFake([]string{"pve-cluster", "qemu-server"}, false)
	s := &Upgrade{Node: f}
	st, err := s.Check(ctx, rt())
	if err != nil || st.Done || st.Detail != "2 packages to upgrade: pve-cluster, qemu-server" {
		t.Fatalf("check before: %+v %v", st, err)
	}
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Check(ctx, rt()); err != nil || !st.Done || len(left()) != 0 {
		t.Fatalf("check after: %+v %v", st, err)
	}
	if n := countMatching(f, `dist-upgrade$`); n != 3 {
		t.Fatalf("dist-upgrade calls (2 checks, 1 apply): %d", n)
	}
}

func TestUpgradeStopsWhenUpdateFails(t *testing.T) {
	t.Parallel()
	f, left := aptUpgradeFake([]string{"pve-cluster"}, true)
	err := (&Upgrade{Node: f}).Apply(context.Background(), rt())
	if err == nil || !strings.Contains(err.Error(), "apt-get update failed") || len(left()) != 1 {
		t.Fatalf("got %v, left %v", err, left())
	}
}

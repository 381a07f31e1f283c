package network

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
)

// TestSanityNamesWhatCouldNotBeChecked: the summary says which checks could
// not be checked (and why) instead of "pass or could not be checked".
func TestSanityNamesWhatCouldNotBeChecked(t *testing.T) {
	n := newNetNode()
	n.live = "auto lan\niface lan inet static\n\taddress 10.0.0.10/24\n\tgateway " + config.FirewallLANIP + "\n"
	n.On(`^getent hosts (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		if inv.Match[1] == "firewall.mgmt.internal" {
			fmt.Fprintln(inv.Stdout, config.FirewallLANIP+" firewall.mgmt.internal")
		} else {
			fmt.Fprintln(inv.Stdout, "1.2.3.4 "+inv.Match[1])
		}
		return 0, nil
	})
	cfg := config.Defaults()
	cfg.Node.ManagementCIDR = "10.0.0.10/24"
	s := &Sanity{Node: n, Cfg: cfg} // no firewall client: could not check
	st, err := s.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done || !strings.Contains(st.Detail, "could not check: firewall api (no firewall client)") {
		t.Errorf("detail %q (done %v): want the unchecked one named", st.Detail, st.Done)
	}
}

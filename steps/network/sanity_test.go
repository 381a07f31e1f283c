package network

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps/preflight"
)

// sanityNode is a node after the cutover whose resolver is the firewall;
// answers are what 10.0.0.1:53 says (name → address; absent: no answer).
func sanityNode(resolv string, answers map[string]string) *exectest.Fake {
	f := exectest.NewFake()
	f.SetFile(ResolvConf, []byte(resolv), 0o644)
	f.SetFile(HostsFile, []byte("127.0.0.1 localhost\n10.0.0.10 tappaas1.mgmt.internal tappaas1\n"), 0o644)
	f.Reply(`^ip -j addr show$`, `[{"ifname":"lan","operstate":"UP","addr_info":[{"family":"inet","local":"10.0.0.10","prefixlen":24}]}]`, 0)
	f.Reply(`^ip -j route show default$`, `[{"dst":"default","gateway":"10.0.0.1","dev":"lan"}]`, 0)
	f.On(`^getent ahostsv4 (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		ip, ok := answers[inv.Match[1]]
		if !ok {
			return 2, nil // getent: key not found
		}
		// glibc's getent ahostsv4 format.
		fmt.Fprintf(inv.Stdout, "%-15s STREAM %s\n%-15s DGRAM  \n%-15s RAW    \n", ip, inv.Match[1], ip, ip)
		return 0, nil
	})
	return f
}

func outcomes(t *testing.T, s *Sanity) map[string]preflight.Outcome {
	t.Helper()
	res, err := s.Results(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]preflight.Outcome{}
	for _, r := range res {
		m[r.Name] = r.Outcome
	}
	return m
}

// TestSanityProvesDNSThroughTheFirewall: mgmt.internal names must resolve
// through 10.0.0.1:53, which the lab (and a real firewall) only does when
// the pushed config enables Unbound with the internal forward; the config
// of before left nothing answering, which the sanity step reports.
func TestSanityProvesDNSThroughTheFirewall(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.Node.ManagementCIDR = "10.0.0.10/24"
	names := map[string]string{"firewall.mgmt.internal": "10.0.0.1", "tappaas2.mgmt.internal": "10.0.0.11"}
	good := map[string]string{"firewall.mgmt.internal": "10.0.0.1", "tappaas2.mgmt.internal": "10.0.0.11", "download.proxmox.com": "212.224.123.70"}
	cases := []struct {
		name    string
		resolv  string
		answers map[string]string
		names   map[string]string
		want    map[string]preflight.Outcome
		done    bool
	}{
		{"firewall answers", ResolvAfterCutover, good, names,
			map[string]preflight.Outcome{"dns resolver": preflight.Pass, "dns firewall.mgmt.internal": preflight.Pass, "dns tappaas2.mgmt.internal": preflight.Pass, "dns download.proxmox.com": preflight.Pass}, true},
		{"nothing answers on :53", ResolvAfterCutover, map[string]string{}, names,
			map[string]preflight.Outcome{"dns resolver": preflight.Pass, "dns firewall.mgmt.internal": preflight.Fail, "dns tappaas2.mgmt.internal": preflight.Fail, "dns download.proxmox.com": preflight.Fail}, false},
		{"wrong address", ResolvAfterCutover, map[string]string{"firewall.mgmt.internal": "10.0.0.99"}, nil,
			map[string]preflight.Outcome{"dns firewall.mgmt.internal": preflight.Fail}, false},
		{"resolver not the firewall", "nameserver 192.168.1.1\n", good, names,
			map[string]preflight.Outcome{"dns resolver": preflight.Fail}, false},
		{"second resolver", ResolvAfterCutover + "nameserver 1.1.1.1\n", good, nil,
			map[string]preflight.Outcome{"dns resolver": preflight.Unknown, "dns firewall.mgmt.internal": preflight.Pass}, true},
		// The node's own name is answered from /etc/hosts: no proof.
		{"name in /etc/hosts", ResolvAfterCutover, good, map[string]string{"tappaas1.mgmt.internal": "10.0.0.10"},
			map[string]preflight.Outcome{"dns tappaas1.mgmt.internal": preflight.Unknown}, true},
	}
	for _, c := range cases {
		n := sanityNode(c.resolv, c.answers)
		s := &Sanity{Node: n, Cfg: cfg, Names: c.names}
		got := outcomes(t, s)
		for k, w := range c.want {
			if got[k] != w {
				t.Errorf("%s: %s = %v, want %v (all: %v)", c.name, k, got[k], w, got)
			}
		}
		if c.name == "resolver not the firewall" {
			for k := range got {
				if strings.HasPrefix(k, "dns ") && k != "dns resolver" {
					t.Errorf("%s: %s checked although the node does not ask the firewall", c.name, k)
				}
			}
		}
		if c.name == "name in /etc/hosts" {
			for _, call := range n.Calls() {
				if strings.Contains(call.Script, "tappaas1.mgmt.internal") {
					t.Errorf("%s: asked getent for a name /etc/hosts answers", c.name)
				}
			}
		}
		st, err := s.Check(context.Background(), nil)
		if err != nil || st.Done != c.done {
			t.Errorf("%s: Check = %+v %v, want done=%v", c.name, st, err, c.done)
		}
	}
}

// TestSanityNamesWhatCouldNotBeChecked: the summary says which checks could
// not be checked (and why) instead of "pass or could not be checked".
func TestSanityNamesWhatCouldNotBeChecked(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.Node.ManagementCIDR = "10.0.0.10/24"
	n := sanityNode("nameserver 10.0.0.1\n", map[string]string{"firewall.mgmt.internal": "10.0.0.1", "tappaas2.mgmt.internal": "10.0.0.11", "download.proxmox.com": "212.224.123.70"})
	s := &Sanity{Node: n, Cfg: cfg} // no firewall client: could not check
	st, err := s.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done || !strings.Contains(st.Detail, "could not check: firewall api (no firewall client)") {
		t.Errorf("detail %q (done %v): want the unchecked one named", st.Detail, st.Done)
	}
}

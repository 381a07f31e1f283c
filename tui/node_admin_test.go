package tui

import (
	"testing"

	"github.com/tappaas/tappaas/config"
)

func TestDefaultAdminNetworkIsTheOperatorsAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ have, op, want string }{
		{"", "192.168.1.50", "192.168.1.50/32"},
		{"", "", ""},          // at the console
		{"", "127.0.0.1", ""}, // loopback says nothing
		{"", "10.0.0.77", ""}, // inside the management network: it would be refused
		{"192.168.50.0/24", "192.168.1.50", "192.168.50.0/24"}, // the answers win
	} {
		in := config.Defaults()
		in.Node.AdminNetwork = tc.have
		defaultAdminNetwork(&in, tc.op)
		if in.Node.AdminNetwork != tc.want {
			t.Errorf("have %q, operator %q: got %q, want %q", tc.have, tc.op, in.Node.AdminNetwork, tc.want)
		}
	}
}

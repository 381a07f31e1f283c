package common

import "testing"

func TestDefaultAdminNetwork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ addr, upstream, want string }{
		{"203.0.113.7", "192.168.1.10/24", "203.0.113.7/32"},
		{"192.168.1.50", "192.168.1.10/24", ""}, // on the upstream link: no route needed
		{"10.0.0.77", "192.168.1.10/24", ""},    // inside mgmt: preflight refuses it
		{"127.0.0.1", "", ""},
		{"", "192.168.1.10/24", ""},
		{"2001:db8::1", "", ""},
	} {
		if got := DefaultAdminNetwork(tc.addr, tc.upstream); got != tc.want {
			t.Errorf("DefaultAdminNetwork(%q, %q) = %q, want %q", tc.addr, tc.upstream, got, tc.want)
		}
	}
}

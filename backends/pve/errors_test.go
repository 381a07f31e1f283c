package pve

import "testing"

// Gateway statuses and a 500 that only reports a lock timeout (nothing
// changed) are retryable; other 500s are not.
func TestAPIErrorRetryable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status int
		msg    string
		want   bool
	}{
		{596, "Connection timed out", true},
		{503, "Service Unavailable", true},
		{500, "cfs-lock 'file-storage_cfg' error: got lock request timeout", true},
		{500, "can't lock file '/var/lock/qemu-server/lock-110.conf' - got timeout", true},
		{500, "unable to create VM 110 - VM 110 already exists on node 'tappaas1'", false},
		{500, "Configuration file 'nodes/tappaas1/qemu-server/999.conf' does not exist", false},
		{400, "Parameter verification failed.", false},
	} {
		e := decodeError("POST", "/nodes/tappaas1/qemu", c.status, c.msg, nil)
		r, ok := e.(interface{ Retryable() bool })
		if got := ok && r.Retryable(); got != c.want {
			t.Errorf("%d %q: retryable %v, want %v (%T %v)", c.status, c.msg, got, c.want, e, e)
		}
	}
}

package preflight

import "testing"

func TestPoolLayout(t *testing.T) {
	for _, c := range []struct{ status, want string }{
		{"  pool: t\nconfig:\n\n\tNAME        STATE\n\tt           ONLINE\n\t  /dev/sdb  ONLINE\n", "single"},
		{"\tt  ONLINE\n\t  /dev/sdb  ONLINE\n\t  /dev/sdc  ONLINE\n", "stripe"},
		{"\tt  ONLINE\n\t  mirror-0  ONLINE\n\t    /dev/sdb  ONLINE\n\t    /dev/sdc  ONLINE\n", "mirror"},
		{"\tt  ONLINE\n\t  raidz1-0  ONLINE\n\t    /dev/sdb  ONLINE\n", "raidz"},
		{"\tt  ONLINE\n\t  raidz2-0  ONLINE\n\t    /dev/sdb  ONLINE\n", "raidz2"},
	} {
		if got := PoolLayout(c.status); got != c.want {
			t.Errorf("PoolLayout(%q) = %s, want %s", c.status, got, c.want)
		}
	}
}

package lab

import (
	"strings"
	"testing"
)

// A node reboot forgets transient timers and /run, and runs the units
// enabled for multi-user.target whose ConditionPathExists= holds; a unit
// file that is not enabled, or whose condition fails, does not run.
func TestRebootRunsEnabledUnitsOnly(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	unit := func(name, cond, touch string) string {
		return `printf '[Unit]\nConditionPathExists=` + cond + `\n\n[Service]\nType=oneshot\nExecStart=/bin/sh -c "touch ` + touch + `"\n\n[Install]\nWantedBy=multi-user.target\n' > /etc/systemd/system/` + name
	}
	sh(t, l, 0, "mkdir -p /var/lib/x && touch /var/lib/x/mark /run/volatile")
	sh(t, l, 0, unit("a.service", "/var/lib/x/mark", "/root/a-ran"))
	sh(t, l, 0, unit("b.service", "/var/lib/x/missing", "/root/b-ran"))
	sh(t, l, 0, unit("c.service", "/var/lib/x/mark", "/root/c-ran"))
	out := sh(t, l, 0, "systemctl enable a.service b.service")
	if !strings.Contains(out, "Created symlink '/etc/systemd/system/multi-user.target.wants/a.service' → '/etc/systemd/system/a.service'.") {
		t.Fatalf("enable: %s", out)
	}
	sh(t, l, 0, "systemctl is-enabled a.service")
	sh(t, l, 1, "systemctl is-enabled c.service")
	sh(t, l, 0, "systemd-run --unit=live --on-active=90 /bin/sh -c 'touch /root/timer-ran'")
	l.RebootNode()
	sh(t, l, 0, "test -e /root/a-ran")
	sh(t, l, 1, "test -e /root/b-ran")
	sh(t, l, 1, "test -e /root/c-ran")
	sh(t, l, 1, "test -e /run/volatile")
	if ts := l.Node().PendingTimers(); len(ts) != 0 {
		t.Fatalf("a transient timer survived the reboot: %+v", ts)
	}
	l.Node().FireTimers()
	sh(t, l, 1, "test -e /root/timer-ran")
	// disable removes the link: the next boot does not run it.
	sh(t, l, 0, "rm /root/a-ran && systemctl disable a.service")
	sh(t, l, 1, "systemctl is-enabled a.service")
	l.RebootNode()
	sh(t, l, 1, "test -e /root/a-ran")
}

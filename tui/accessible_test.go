package tui

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

func accessibleRun(t *testing.T, dir string, input string) (string, error) {
	t.Helper()
	return accessibleRunWith(t, tuitest.Options{Dir: dir, Lines: 1}, input)
}

func accessibleRunWith(t *testing.T, o tuitest.Options, input string) (string, error) {
	t.Helper()
	be, err := tuitest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	com.LogPath = "/tmp/x.log"
	var out bytes.Buffer
	err = RunAccessible(context.Background(), Options{Backend: be, Common: com}, strings.NewReader(input), &out)
	return out.String(), err
}

func TestAccessibleInstallWithSameValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// domain: an invalid one first (re-asked with the validator's words),
	// then the defaults for everything but the typed wipe confirmation.
	input := strings.Join([]string{
		"example", "example.org", // domain: invalid, then valid
		"admin@example.org", // email
		"tappaas1",          // hostname
		"10.0.0.1/24",       // mgmt: the firewall's address is refused…
		"10.0.0.10/24",      // …this one is fine
		"1", "2",            // WAN enp1s0, LAN enp2s0
		"0",                    // disks: sdb is preselected; confirm
		"1",                    // layout single
		"WIPE sdc", "WIPE sdb", // typed confirmation: wrong, then right
		"y",    // generate the firewall password
		"", "", // password fields (not needed when generating)
		"main", // branch
		"2",    // size medium
		"y",    // run the plan
	}, "\n") + "\n"
	out, err := accessibleRun(t, dir, input)
	for _, want := range []string{"needs at least two labels", "is the firewall's address", "type exactly: WIPE sdb"} {
		if !strings.Contains(out, want) {
			t.Errorf("a bad answer was not rejected with the validator's words %q:\n%s", want, out)
		}
	}
	if err != nil {
		t.Fatalf("accessible run: %v\n%s", err, out)
	}
	for _, want := range []string{"The plan has 10 steps", "done: node.repos", "https://10.0.0.10:8006", "Log file: /tmp/x.log",
		`read it there with: grep -o '"firewall.root_password":"[^"]*"' /var/lib/tappaas/secrets.json`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestAccessibleOutputHasNoEscapes(t *testing.T) {
	t.Parallel()
	out, _ := accessibleRun(t, t.TempDir(), "example.org\n")
	if strings.Contains(out, "\x1b[") {
		t.Errorf("escape sequences in accessible output: %q", out)
	}
	if !strings.Contains(out, "Public domain") {
		t.Errorf("no prompt:\n%s", out)
	}
}

// TestAccessibleKeepsExistingPool: line by line too, an installed node's
// pool is kept: no disk question, no typed wipe.
func TestAccessibleKeepsExistingPool(t *testing.T) {
	t.Parallel()
	input := strings.Join([]string{
		"example.org", "admin@example.org", "tappaas1", "10.0.0.10/24", "1", "2",
		"1",         // keep tanka1 as it is
		"y", "", "", // generate the firewall password
		"main", "2", "y", // branch, size, run
	}, "\n") + "\n"
	out, err := accessibleRunWith(t, tuitest.Options{Dir: t.TempDir(), Lines: 1,
		Pool: &config.Pool{Name: "tanka1", Layout: "mirror", Disks: []string{"sdb", "sdc"}}}, input)
	if err != nil {
		t.Fatalf("accessible run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Storage pool tanka1 exists: mirror on sdb, sdc") || strings.Contains(out, "WIPE") {
		t.Errorf("the existing pool should be kept without a wipe question:\n%s", out)
	}
}

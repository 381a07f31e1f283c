package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/opnsense"
	"github.com/tappaas/tappaas/config"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/config/zones/zonestest"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/install"
	szones "github.com/tappaas/tappaas/steps/zones"

	"github.com/tappaas/tappaas/lab"
)

const exampleAnswers = "../../examples/answers.toml"

// labInstall runs `tappaas install --lab --answers examples/answers.toml
// --yes` in-process (the same function the command calls) against a lab
// persisted in dir.
var conc = 4

func labInstall(t *testing.T, ctx context.Context, dir string, reset bool, hook func(*lab.Lab), extra ...func(*installOptions)) (int, string, error) {
	t.Helper()
	var out bytes.Buffer
	o := installOptions{answers: exampleAnswers, yes: true, output: "json", lab: true, labDir: dir, labReset: reset,
		concurrency: conc, logFile: dir + "/install.log", labHook: hook}
	for _, f := range extra {
		f(&o)
	}
	code, err := runInstall(ctx, o, &out, &out)
	return code, out.String(), err
}

type event struct {
	Event   string `json:"event"`
	Step    string `json:"step"`
	Skipped any    `json:"skipped"` // bool on step_done, a count on plan_done
	Reason  string `json:"reason"`
	Error   string `json:"error"`
	Applied int    `json:"applied"`
}

func events(t *testing.T, out string) []event {
	t.Helper()
	var evs []event
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var e event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		evs = append(evs, e)
	}
	return evs
}

func TestInstallLabEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, out, err := labInstall(t, ctx, dir, true, nil)
	if code != 0 {
		t.Fatalf("first run: exit %d: %v\n%s", code, err, tail(out, 60))
	}
	// Second run: every step skipped with its reason, nothing mutated.
	var before, after lab.Counters
	var l2 *lab.Lab
	var cicdFS interface{ ReadFile(string) ([]byte, error) }
	var fwState cz.Current
	var fwErr error
	code, out, err = labInstall(t, ctx, dir, false, func(l *lab.Lab) {
		l2, before, cicdFS = l, l.Counters(), l.GuestFS(config.CICDVMID)
		fwState, fwErr = labFirewallState(ctx, l)
	})
	after = l2.Counters()
	if code != 0 {
		t.Fatalf("second run: exit %d: %v\n%s", code, err, tail(out, 60))
	}
	n := 0
	for _, e := range events(t, out) {
		if e.Event == "step_done" {
			n++
			if e.Skipped != true || e.Reason == "" {
				t.Errorf("second run applied %s (reason %q)", e.Step, e.Reason)
			}
		}
		if e.Event == "plan_done" && e.Applied != 0 {
			t.Errorf("second run applied %d steps", e.Applied)
		}
	}
	if n == 0 {
		t.Fatal("no steps reported")
	}
	if after.APIMutations != before.APIMutations || after.SSHCommands != before.SSHCommands || after.OPNsenseMutations != before.OPNsenseMutations {
		t.Errorf("second run mutated the lab: before %+v after %+v", before, after)
	}
	// Upstream's zone-manager, run by tappaas-cicd's firewall module update
	// after the install, finds nothing to change.
	f, err := cz.Default()
	if err != nil || fwErr != nil {
		t.Fatalf("zones %v, firewall state %v", err, fwErr)
	}
	if changes, _ := zonestest.ZoneManager(f, fwState); len(changes) != 0 || len(fwState.Rules) == 0 {
		t.Errorf("zone-manager after the install (%d rules): %q", len(fwState.Rules), changes)
	}
	// One zones.json: the install seeded the platform's live copies (the
	// node's and tappaas-cicd's, which upstream's zone-manager reads) with
	// the zones it applied.
	want, err := os.ReadFile("../../zones.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, fsys := range map[string]interface{ ReadFile(string) ([]byte, error) }{
		"node " + cz.NodeFile: l2.Node().FS(), "tappaas-cicd " + cz.CICDFile: cicdFS} {
		path := name[strings.IndexByte(name, ' ')+1:]
		if fsys == nil {
			t.Fatalf("%s: the guest is not running", name)
		}
		if got, err := fsys.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v (%d bytes, want the default zones)", name, err, len(got))
		}
	}
}

func tail(s string, n int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// labFirewallState reads the lab firewall's zone objects through the real
// client, as the installer reaches it.
func labFirewallState(ctx context.Context, l *lab.Lab) (cz.Current, error) {
	info := l.Info()
	// The install replaced the bootstrap key with its own (the node's secrets file).
	data, err := l.Node().FS().ReadFile(install.StateDir + "/secrets.json")
	if err != nil {
		return cz.Current{}, err
	}
	var sf struct{ Secrets map[string]string }
	if err := json.Unmarshal(data, &sf); err != nil {
		return cz.Current{}, err
	}
	c, err := opnsense.New(opnsense.Config{BaseURL: "https://" + info.FirewallAddr, Key: sf.Secrets[firewall.SecretAPIKey],
		Secret: sf.Secrets[firewall.SecretAPISecret], Fingerprint: info.FirewallFingerprint, Dial: l.Dial})
	if err != nil {
		return cz.Current{}, err
	}
	defer c.Close()
	return cz.Snapshot(ctx, szones.FromOPNsense(c))
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
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
	"github.com/tappaas/tappaas/lab/pve"
	"github.com/tappaas/tappaas/lab/shell"
	"github.com/tappaas/tappaas/steps/platform"
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
	// A fresh node has updates waiting (as one installed from an ISO
	// does): the dist-upgrade step does work.
	upgraded := false
	for _, e := range events(t, out) {
		if e.Event == "step_done" && e.Step == "node.upgrade" && e.Skipped == false {
			upgraded = true
		}
	}
	if !upgraded {
		t.Error("first run: node.upgrade did not apply")
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
	// What the installer put in tappaas's home on tappaas-cicd belongs to
	// tappaas:users, as upstream's install1.sh:79-80 leaves it, so
	// upstream's scripts (running as tappaas) can read and chmod it.
	l3, err := lab.Start(ctx, lab.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	cicd := l3.GuestFS(config.CICDVMID)
	if cicd == nil {
		t.Fatal("tappaas-cicd is not running after the install")
	}
	for f, perm := range map[string]fs.FileMode{"/home/tappaas/.ssh/id_ed25519": 0o600, "/home/tappaas/.opnsense-credentials.txt": 0o600,
		"/home/tappaas/config/configuration.json": 0o644, "/home/tappaas/config": 0o755} {
		fi, err := cicd.Stat(f)
		if err != nil || fi.UID != 1000 || fi.GID != 100 || fi.Mode.Perm() != perm {
			t.Errorf("%s on tappaas-cicd: want tappaas:users %04o, got %+v %v", f, perm, fi, err)
		}
	}
	// Pools name their disks by /dev/disk/by-id, stable across boots.
	pools := 0
	l3.Node().Read(func(m *pve.Model) {
		for _, p := range m.Pools {
			pools++
			for _, d := range p.Devices {
				if !strings.HasPrefix(d, pve.ByIDDir) {
					t.Errorf("pool %s uses %s, not a %s name", p.Name, d, pve.ByIDDir)
				}
			}
		}
	})
	if pools == 0 {
		t.Error("the install made no pool")
	}
	// PBS prunes and collects garbage as upstream's backup install sets up.
	l3.Node().Read(func(m *pve.Model) {
		var gc string
		for _, d := range m.PBS.Datastores {
			gc = d.GCSchedule
		}
		var job map[string]string
		for _, j := range m.PBS.Jobs {
			if j["kind"] == "prune-job" {
				job = j
			}
		}
		if gc != "03:00" || job == nil || job["schedule"] != "02:00" || job["keep-last"] != "4" || job["keep-yearly"] != "6" {
			t.Errorf("PBS retention: gc %q, prune job %v", gc, job)
		}
	})
	// Root's authorized_keys on the node is still PVE's symlink into the
	// cluster-wide file, which now holds cicd's key.
	nfs := l3.Node().FS()
	if target, err := nfs.(shell.Linker).Readlink(pve.RootAuthorizedKeys); err != nil || target != pve.ClusterAuthorizedKeys {
		t.Errorf("%s is no longer a symlink to %s: %q %v", pve.RootAuthorizedKeys, pve.ClusterAuthorizedKeys, target, err)
	}
	pub, err := cicd.ReadFile("/home/tappaas/.ssh/id_ed25519.pub")
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := nfs.ReadFile(pve.ClusterAuthorizedKeys); err != nil || !strings.Contains(string(keys), strings.Fields(string(pub))[1]) {
		t.Errorf("cicd's key is not in %s: %v", pve.ClusterAuthorizedKeys, err)
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

// The lab's firewall boots from the stock image without TAPPaaS'
// interface_assign controller (404) and gains it only from the files the
// install copies from tappaas-cicd, as pre-update.sh would. A firewall
// that lost the file (a 404 again) gets it back on the next run, which then
// changes nothing else.
func TestInstallDeploysTheAssignPatch(t *testing.T) {
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
	var l2 *lab.Lab
	code, out, err = labInstall(t, ctx, dir, false, func(l *lab.Lab) {
		l2 = l
		fsys := l.GuestFS(config.FirewallVMID)
		if fsys == nil {
			t.Error("the firewall guest is not up")
			return
		}
		if b, err := fsys.ReadFile(platform.FirewallController); err != nil || !bytes.Contains(b, []byte("class InterfaceAssignController")) {
			t.Errorf("controller on the firewall after the first run: %v", err)
		}
		if _, err := fsys.ReadFile(platform.FirewallACL); err != nil {
			t.Errorf("ACL on the firewall after the first run: %v", err)
		}
		if err := fsys.Remove(platform.FirewallController); err != nil {
			t.Error(err)
		}
	})
	if code != 0 {
		t.Fatalf("rerun: exit %d: %v\n%s", code, err, tail(out, 60))
	}
	redeployed := false
	for _, e := range events(t, out) {
		if e.Event != "step_done" {
			continue
		}
		again := e.Step == platform.AssignPatchID
		if (e.Skipped == true) == again {
			t.Errorf("rerun: %s skipped=%v (%s)", e.Step, e.Skipped, e.Reason)
		}
		// The runner checks again after Apply: the API answers.
		redeployed = redeployed || again && strings.Contains(e.Reason, "serves /api/interfaces/interface_assign")
	}
	if !redeployed || l2 == nil {
		t.Fatalf("the patch was not deployed again:\n%s", tail(out, 40))
	}
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

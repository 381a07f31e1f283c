package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runZones runs `tappaas zones args…` and returns stdout and the exit code.
func runZones(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"zones"}, args...))
	err := root.Execute()
	code := 0
	if err != nil {
		errb.WriteString("tappaas: " + err.Error() + "\n")
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String() + errb.String(), code
}

func TestReadKeyFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "k.txt")
	os.WriteFile(p, []byte("key=abc\nsecret=s3cr3t\n"), 0o600)
	k, s, err := readKeyFile(p)
	if err != nil || k != "abc" || s != "s3cr3t" {
		t.Fatalf("%q %q %v", k, s, err)
	}
	os.WriteFile(p, []byte("abc\ns3cr3t\n"), 0o600)
	if _, _, err := readKeyFile(p); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("bare lines accepted or secret leaked: %v", err)
	}
}

// On a platform the zones commands and the editor default to the live
// zones.json upstream's tools read, preferring tappaas-cicd's master copy.
func TestZonesDefaultToTheLiveFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cicd, nodeFile := filepath.Join(dir, "cicd.json"), filepath.Join(dir, "node.json")
	live := []string{cicd, nodeFile}
	if got := defaultZonesPath(live); got != "zones.json" {
		t.Fatalf("no live file: %s", got)
	}
	data, err := os.ReadFile("../../zones.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nodeFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := defaultZonesPath(live); got != nodeFile {
		t.Fatalf("node: %s", got)
	}
	if err := os.WriteFile(cicd, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := defaultZonesPath(live); got != cicd {
		t.Fatalf("cicd: %s", got)
	}
	o := &zonesOpts{live: live}
	if _, src, _, err := o.load(); err != nil || src != cicd {
		t.Fatalf("load: %s %v", src, err)
	}
	if _, path, err := zonesForTUI(live); err != nil || path != cicd {
		t.Fatalf("TUI: %s %v", path, err)
	}
}

// `{}` against a configured firewall plans the teardown of every zone; apply
// refuses it until each zone is confirmed by name.
func TestZonesApplyRefusesMassDeletion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "fw.json")
	lab := []string{"--lab", "--lab-state", state, "--yes"}
	if out, code := runZones(t, "", append([]string{"apply", "--file", "../../zones.json"}, lab...)...); code != 0 {
		t.Fatalf("apply: %d\n%s", code, out)
	}
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runZones(t, "", append([]string{"apply", "--file", empty}, lab...)...)
	if code != 1 || !strings.Contains(out, "--confirm-delete dmz,iot,mgmt,private,srv") || strings.Contains(out, "Applied.") {
		t.Fatalf("unconfirmed mass delete: %d\n%s", code, out)
	}
	out, code = runZones(t, "", append([]string{"apply", "--file", empty, "--confirm-delete", "dmz,iot,mgmt,private,srv"}, lab...)...)
	if code != 0 || !strings.Contains(out, "Applied.") {
		t.Fatalf("confirmed: %d\n%s", code, out)
	}
}

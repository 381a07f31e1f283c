package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/lab"
)

// runCLI runs `tappaas args…` and returns its output and exit code.
func runCLI(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	code := 0
	if err != nil {
		out.WriteString("tappaas: " + err.Error() + "\n")
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String(), code
}

// `install --lab` takes the fault flags of `lab serve`.
func TestInstallLabFaultFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := []string{"install", "--lab", "--lab-dir", dir, "--lab-reset", "--log-file", dir + "/l.log", "--answers", exampleAnswers, "--yes"}
	// Opening the checkpoint reads it with cat: the injected failure stops
	// the run at once.
	out, code := runCLI(t, "", append(base, "--fail-ssh", "cat=5")...)
	if code != 1 || !strings.Contains(out, "lab: injected fault") {
		t.Fatalf("--fail-ssh: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "", append(base, "--fail-api", "nonsense")...)
	if code != 2 || !strings.Contains(out, "nonsense") {
		t.Fatalf("bad --fail-api: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "", "install", "--answers", exampleAnswers, "--yes", "--drop-ssh-at", "3", "--log-file", dir+"/l.log")
	if code != 2 || !strings.Contains(out, "add --lab") {
		t.Fatalf("fault flag without --lab: exit %d\n%s", code, out)
	}
}

// Two `--lab` runs on one lab directory: the second is refused (it would
// run a full install on its own copy of the node) and changes nothing.
func TestTwoLabRunsOnOneDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	var second error
	var secondCode int
	code, out, err := labInstall(t, ctx, dir, true, func(*lab.Lab) {
		secondCode, _, second = labInstall(t, ctx, dir, false, nil)
	}, func(o *installOptions) { o.yes = false }) // the first only reviews the plan
	if code != 2 {
		t.Fatalf("first: exit %d %v\n%s", code, err, out)
	}
	if secondCode != 1 || !errors.Is(second, lab.ErrDirInUse) {
		t.Fatalf("second run on the same lab dir: exit %d %v, want 1 and lab.ErrDirInUse", secondCode, second)
	}
}

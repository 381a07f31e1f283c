package main

import (
	"bytes"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func execRoot(args ...string) (string, error) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestUsageErrorsExit2: a wrong flag, argument or subcommand exits 2 (as
// input needed), not 1 like a failed install, and points at --help.
func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"install", "--bogus"}, {"foo"}, {"status", "extra"}, {"zones", "bogus"}, {"install", "--concurrency", "x"}} {
		_, err := execRoot(args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "--help") {
			t.Errorf("tappaas %s: %v, want exit 2 pointing at --help", strings.Join(args, " "), err)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	out, err := execRoot("--version")
	if err != nil || !strings.HasPrefix(out, "tappaas "+version+" (commit ") {
		t.Errorf("--version: %q %v", out, err)
	}
}

func TestRootTakesIdentity(t *testing.T) {
	f := newRootCmd().Flags().ShorthandLookup("i")
	if f == nil || f.Name != "identity" {
		t.Fatal("the root command has no -i/--identity")
	}
}

// TestMakeLabResetWipesTheDefaultLab: `make lab-reset` removes the directory
// `make run` keeps its lab in (defaultLabDir), nothing else.
func TestMakeLabResetWipesTheDefaultLab(t *testing.T) {
	if _, err := osexec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	lab := defaultLabDir()
	if err := os.MkdirAll(filepath.Join(lab, "node"), 0o700); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(cache, "tappaas", "tappaas.log")
	if err := os.WriteFile(keep, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := osexec.Command("make", "--no-print-directory", "-C", "../..", "lab-reset")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make lab-reset: %v\n%s", err, out)
	}
	if _, err := os.Stat(lab); !os.IsNotExist(err) {
		t.Errorf("the lab at %s is still there", lab)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("make lab-reset removed more than the lab: %v", err)
	}
}

package main

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"
)

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

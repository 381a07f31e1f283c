package main

import (
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run this test binary as the `tappaas` command of
// the scripts in testdata/script (a real process: real exit codes, real
// stdout and stderr).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"tappaas": main})
}

// TestScript runs the CLI scripts in testdata/script/*.txtar. Besides the
// built-in commands they have:
//
//	exits N PROG ARGS…  run PROG, fail unless it exits with code N
//	perm MODE FILE      fail unless FILE's permission bits are MODE (octal)
//
// and $UPSTREAM, the upstream TAPPaaS src tree of config/modules/testdata,
// and $ZONES, the repository's default zones.json.
func TestScript(t *testing.T) {
	t.Parallel()
	upstream, err := filepath.Abs(upstreamSrc)
	if err != nil {
		t.Fatal(err)
	}
	zones, err := filepath.Abs("../../zones.json")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("UPSTREAM", upstream)
			e.Setenv("ZONES", zones)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits N PROG ARGS…")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exits: %v", err)
				}
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *osexec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("exits: %v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
			"perm": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: perm MODE FILE")
				}
				want, err := strconv.ParseUint(args[0], 8, 32)
				if err != nil {
					ts.Fatalf("perm: %v", err)
				}
				fi, err := os.Stat(ts.MkAbs(args[1]))
				ts.Check(err)
				if got := fi.Mode().Perm(); got != os.FileMode(want) {
					ts.Fatalf("%s has mode %#o, want %#o", args[1], got, want)
				}
			},
		},
	})
}

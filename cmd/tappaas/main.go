// Command tappaas installs and manages a TAPPaaS platform on Proxmox VE.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Set by the linker (see Makefile).
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode wraps err so main exits with code.
func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

// errNotBuilt is returned by commands that exist in the CLI but are not
// implemented yet: they fail loudly rather than pretend.
func errNotBuilt(what string) error {
	return exitCode(3, fmt.Errorf("%s is not built yet in this version of tappaas", what))
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "tappaas",
		Short:         "Install and manage a TAPPaaS platform on Proxmox VE",
		Long:          "tappaas walks an operator through bootstrapping a TAPPaaS platform (Proxmox VE, PBS,\nOPNsense, tappaas-cicd), network zones and modules, with resumable checkpoints.\nRun it with no arguments for the full-screen installer.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newInstallCmd(),
		newJoinCmd(),
		newZonesCmd(),
		newModuleCmd(),
		newStatusCmd(),
		newUnlockCmd(),
		newLabCmd(),
	)
	root.RunE = rootRun
	addRootFlags(root)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and build date",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "tappaas %s (commit %s, built %s)\n", version, commit, date)
		},
	}
}

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "tappaas:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(1)
}

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

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// exitCode wraps err so main exits with code; a nil err exits with code
// without printing (the command said what happened).
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
		newForgetHostKeyCmd(),
		newForgetCertificateCmd(),
		newUnlockCmd(),
		newLabCmd(),
	)
	root.RunE = rootRun
	root.Args = cobra.NoArgs
	root.Version = fmt.Sprintf("%s (commit %s, built %s)", version, commit, date)
	root.SetVersionTemplate("tappaas {{.Version}}\n")
	addRootFlags(root)
	usageErrorsExit2(root)
	return root
}

// usageErrorsExit2 makes a wrong flag or argument exit 2 (input needed, as
// a headless run without its answers), not 1 like a failed install.
func usageErrorsExit2(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitCode(2, fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	var wrap func(c *cobra.Command)
	wrap = func(c *cobra.Command) {
		if !c.Runnable() && c.HasSubCommands() {
			// A group (tappaas zones): help without arguments, an unknown
			// subcommand is a usage error.
			c.Args = cobra.NoArgs
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return exitCode(2, fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath()))
				}
				return nil
			}
		}
		for _, sc := range c.Commands() {
			wrap(sc)
		}
	}
	wrap(root)
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
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "tappaas:", err)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "tappaas:", err)
	os.Exit(1)
}

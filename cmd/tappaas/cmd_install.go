package main

import "github.com/spf13/cobra"

func newInstallCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "install",
		Short: "install (not built yet)",
		RunE: func(*cobra.Command, []string) error { return errNotBuilt("tappaas install") },
	}
}

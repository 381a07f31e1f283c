package main

import "github.com/spf13/cobra"

func newModuleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "module",
		Short: "module (not built yet)",
		RunE:  func(*cobra.Command, []string) error { return errNotBuilt("tappaas module") },
	}
}

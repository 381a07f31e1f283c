package main

import "github.com/spf13/cobra"

func newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "status (not built yet)",
		RunE: func(*cobra.Command, []string) error { return errNotBuilt("tappaas status") },
	}
}

package main

import "github.com/spf13/cobra"

func newJoinCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "join",
		Short: "join (not built yet)",
		RunE: func(*cobra.Command, []string) error { return errNotBuilt("tappaas join") },
	}
}

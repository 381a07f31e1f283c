package main

import "github.com/spf13/cobra"

func newZonesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "zones",
		Short: "zones (not built yet)",
		RunE: func(*cobra.Command, []string) error { return errNotBuilt("tappaas zones") },
	}
}

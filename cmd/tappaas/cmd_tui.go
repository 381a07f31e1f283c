package main

import "github.com/spf13/cobra"

// rootRun starts the full-screen installer.
func rootRun(*cobra.Command, []string) error { return errNotBuilt("the full-screen installer") }

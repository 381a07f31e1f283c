//go:build tools

// Package deps pins the project's direct dependencies while the packages that
// use them are being written, so `go mod tidy` keeps them. Remove an import
// here once real code imports the module.
package deps

import (
	_ "charm.land/bubbles/v2/spinner"
	_ "charm.land/bubbletea/v2"
	_ "charm.land/huh/v2"
	_ "charm.land/lipgloss/v2"
	_ "github.com/BurntSushi/toml"
	_ "github.com/luthermonson/go-proxmox"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/crypto/ssh"
	_ "golang.org/x/crypto/ssh/agent"
	_ "golang.org/x/crypto/ssh/knownhosts"
)

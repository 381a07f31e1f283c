package common

import "strings"

// WipeWord is what the operator must type to confirm wiping disks.
func WipeWord(disks []string) string { return "WIPE " + strings.Join(disks, " ") }

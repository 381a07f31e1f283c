package lab

import (
	"os"

	"github.com/tappaas/tappaas/lab/pve"
)

func fingerprintOf(der []byte) string { return pve.Fingerprint(der) }

func writeFile(name, s string) error { return os.WriteFile(name, []byte(s), 0o600) }

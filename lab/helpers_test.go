package lab

import "github.com/tappaas/tappaas/lab/pve"

func fingerprintOf(der []byte) string { return pve.Fingerprint(der) }

package opnsense

import "github.com/tappaas/tappaas/internal/shacrypt"

// OPNsense stores API secrets as SHA-512 crypt hashes ("$6$salt$…", what
// `openssl passwd -6` prints; the upstream installer renders them into
// config.xml, TAPPaaS@f54e4fc:src/foundation/firewall/config-firewall.sh:159).
// The algorithm lives in internal/shacrypt, shared with the installer's
// firewall takeover.

// CryptSHA512 hashes password with salt like `openssl passwd -6 -salt SALT`.
// salt may start with "rounds=N$"; it is cut to 16 characters.
func CryptSHA512(password, salt string) string { return shacrypt.HashSpec(password, salt) }

// VerifyCrypt reports whether password matches a "$6$…" hash.
func VerifyCrypt(hash, password string) bool { return shacrypt.Verify(hash, password) }

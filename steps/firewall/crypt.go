package firewall

import "github.com/tappaas/tappaas/internal/shacrypt"

// SHA512Crypt returns the "$6$" crypt(3) hash of password (Drepper's
// SHA-crypt, what `openssl passwd -6` prints and OPNsense verifies). An
// empty salt draws 16 random characters; rounds 0 means 5000.
func SHA512Crypt(password, salt string, rounds int) string {
	return shacrypt.Hash(password, salt, rounds)
}

package firewall

import (
	"crypto/rand"
	"crypto/sha512"
	"strconv"
)

const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// SHA512Crypt returns the "$6$" crypt(3) hash of password (Drepper's
// SHA-crypt, what `openssl passwd -6` prints and OPNsense verifies). An
// empty salt draws 16 random characters; rounds 0 means 5000.
func SHA512Crypt(password, salt string, rounds int) string {
	if salt == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		s := make([]byte, 16)
		for i, x := range b {
			s[i] = itoa64[int(x)%64]
		}
		salt = string(s)
	}
	if len(salt) > 16 {
		salt = salt[:16]
	}
	custom := rounds != 0
	if rounds == 0 {
		rounds = 5000
	}
	rounds = max(1000, min(rounds, 999999999))
	p, s := []byte(password), []byte(salt)

	hb := sha512.New()
	hb.Write(p)
	hb.Write(s)
	hb.Write(p)
	b := hb.Sum(nil)

	ha := sha512.New()
	ha.Write(p)
	ha.Write(s)
	n := len(p)
	for ; n > 64; n -= 64 {
		ha.Write(b)
	}
	ha.Write(b[:n])
	for n = len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			ha.Write(b)
		} else {
			ha.Write(p)
		}
	}
	a := ha.Sum(nil)

	hp := sha512.New()
	for range len(p) {
		hp.Write(p)
	}
	dp := hp.Sum(nil)
	pseq := make([]byte, 0, len(p))
	for len(pseq) < len(p) {
		pseq = append(pseq, dp[:min(64, len(p)-len(pseq))]...)
	}

	hs := sha512.New()
	for range 16 + int(a[0]) {
		hs.Write(s)
	}
	ds := hs.Sum(nil)
	sseq := ds[:len(s)]

	c := a
	for i := range rounds {
		h := sha512.New()
		if i&1 != 0 {
			h.Write(pseq)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sseq)
		}
		if i%7 != 0 {
			h.Write(pseq)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pseq)
		}
		c = h.Sum(nil)
	}

	out := []byte("$6$")
	if custom {
		out = append(out, "rounds="+strconv.Itoa(rounds)+"$"...)
	}
	out = append(out, s...)
	out = append(out, '$')
	enc := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for ; n > 0; n-- {
			out = append(out, itoa64[w&0x3f])
			w >>= 6
		}
	}
	order := [][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4}, {47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57}, {37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}}
	for _, g := range order {
		enc(c[g[0]], c[g[1]], c[g[2]], 4)
	}
	enc(0, 0, c[63], 2)
	return string(out)
}

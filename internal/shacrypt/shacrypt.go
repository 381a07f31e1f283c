// Package shacrypt implements SHA-512 crypt ("$6$…", Ulrich Drepper's
// "Unix crypt using SHA-256 and SHA-512"), what `openssl passwd -6` prints and
// OPNsense stores for API secrets and passwords. Implemented from the
// specification; used by the firewall takeover and by the lab's firewall.
package shacrypt

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"strconv"
	"strings"
)

const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Hash returns the "$6$" hash of password. An empty salt draws 16 random
// characters; a longer salt is cut to 16. rounds 0 means the default 5000
// (not written into the hash); others are clamped to 1000..999999999 and
// written as "rounds=N$".
func Hash(password, salt string, rounds int) string {
	if salt == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		s := make([]byte, 16)
		for i, x := range b {
			s[i] = itoa64[int(x)%64]
		}
		salt = string(s)
	}
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
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

	h := sha512.New()
	h.Write(p)
	h.Write(s)
	h.Write(p)
	b := h.Sum(nil)

	h.Reset()
	h.Write(p)
	h.Write(s)
	n := len(p)
	for ; n > 64; n -= 64 {
		h.Write(b)
	}
	h.Write(b[:n])
	for i := len(p); i > 0; i >>= 1 {
		if i&1 != 0 {
			h.Write(b)
		} else {
			h.Write(p)
		}
	}
	a := h.Sum(nil)

	h.Reset()
	for range len(p) {
		h.Write(p)
	}
	dp := h.Sum(nil)
	pseq := make([]byte, 0, len(p))
	for len(pseq)+64 <= len(p) {
		pseq = append(pseq, dp...)
	}
	pseq = append(pseq, dp[:len(p)-len(pseq)]...)

	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(s)
	}
	sseq := h.Sum(nil)[:len(s)]

	c := a
	for i := range rounds {
		h.Reset()
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

	var out strings.Builder
	out.WriteString("$6$")
	if custom {
		out.WriteString("rounds=" + strconv.Itoa(rounds) + "$")
	}
	out.WriteString(salt)
	out.WriteByte('$')
	enc := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for ; n > 0; n-- {
			out.WriteByte(itoa64[w&0x3f])
			w >>= 6
		}
	}
	order := [][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4}, {47, 5, 26}, {6, 27, 48},
		{28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13},
		{56, 14, 35}, {15, 36, 57}, {37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}}
	for _, o := range order {
		enc(c[o[0]], c[o[1]], c[o[2]], 4)
	}
	enc(0, 0, c[63], 2)
	return out.String()
}

// HashSpec hashes like `openssl passwd -6 -salt SPEC`: spec is a salt that
// may start with "rounds=N$".
func HashSpec(password, spec string) string {
	rounds := 0
	if r, rest, ok := strings.Cut(spec, "$"); ok && strings.HasPrefix(r, "rounds=") {
		if n, err := strconv.Atoi(strings.TrimPrefix(r, "rounds=")); err == nil {
			rounds, spec = max(n, 1), rest
		}
	}
	if spec == "" {
		spec = "$" // an empty salt stays empty, never random, when verifying
	}
	return Hash(password, spec, rounds)
}

// Verify reports whether password matches a "$6$…" hash, in constant time.
func Verify(hash, password string) bool {
	if !strings.HasPrefix(hash, "$6$") {
		return false
	}
	rest := hash[3:]
	i := strings.LastIndexByte(rest, '$')
	if i < 0 {
		return false
	}
	got := HashSpec(password, rest[:i])
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}

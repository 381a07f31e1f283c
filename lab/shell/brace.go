package shell

import (
	"strconv"
	"strings"
)

// maxBraceWords bounds brace expansion ({1..100000} is refused silently
// by expanding no further).
const maxBraceWords = 10000

// braceExpand applies bash's brace expansion ({a,b}, {1..3}, {a..c}) to
// the unquoted literal text of a word; each result is a new word.
func braceExpand(w *word) []*word {
	out := []*word{w}
	for pass := 0; pass < 16; pass++ {
		var next []*word
		changed := false
		for _, x := range out {
			alts, ok := braceOnce(x)
			if ok {
				changed = true
				next = append(next, alts...)
			} else {
				next = append(next, x)
			}
			if len(next) > maxBraceWords {
				return out
			}
		}
		out = next
		if !changed {
			break
		}
	}
	return out
}

// braceOnce expands the first brace expression of w.
func braceOnce(w *word) ([]*word, bool) {
	for k, pt := range w.parts {
		l, ok := pt.(litPart)
		if !ok || l.quoted {
			continue
		}
		for i := 0; i < len(l.s); i++ {
			if l.s[i] != '{' || i > 0 && l.s[i-1] == '$' {
				continue
			}
			j, depth := -1, 0
			for m := i; m < len(l.s); m++ {
				if l.s[m] == '{' {
					depth++
				} else if l.s[m] == '}' {
					depth--
					if depth == 0 {
						j = m
						break
					}
				}
			}
			if j < 0 {
				break
			}
			alts, ok := braceAlternatives(l.s[i+1 : j])
			if !ok {
				continue
			}
			res := make([]*word, 0, len(alts))
			for _, a := range alts {
				parts := append([]wordPart{}, w.parts[:k]...)
				parts = append(parts, litPart{s: l.s[:i] + a + l.s[j+1:]})
				parts = append(parts, w.parts[k+1:]...)
				res = append(res, &word{parts: parts})
			}
			return res, true
		}
	}
	return nil, false
}

// braceAlternatives splits a brace body at top-level commas or expands a
// sequence; ok is false when it is not a brace expression.
func braceAlternatives(body string) ([]string, bool) {
	var alts []string
	depth, start := 0, 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				alts = append(alts, body[start:i])
				start = i + 1
			}
		}
	}
	if len(alts) > 0 {
		return append(alts, body[start:]), true
	}
	lo, hi, ok := strings.Cut(body, "..")
	if !ok || strings.Contains(hi, "..") {
		return nil, false
	}
	if a, err1 := strconv.Atoi(lo); err1 == nil {
		b, err2 := strconv.Atoi(hi)
		if err2 != nil {
			return nil, false
		}
		step := 1
		if b < a {
			step = -1
		}
		for n := a; ; n += step {
			alts = append(alts, strconv.Itoa(n))
			if n == b || len(alts) > maxBraceWords {
				break
			}
		}
		return alts, true
	}
	if len(lo) == 1 && len(hi) == 1 {
		step := byte(1)
		if hi[0] < lo[0] {
			step = 255 // -1
		}
		for c := lo[0]; ; c += step {
			alts = append(alts, string(c))
			if c == hi[0] {
				break
			}
		}
		return alts, true
	}
	return nil, false
}

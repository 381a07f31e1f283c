package jsonnode

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Parse decodes one JSON value, which must be the whole input (surrounding
// whitespace allowed). It accepts exactly what encoding/json accepts, except
// that duplicate object keys are an error (jq would silently keep the last
// one) and nesting is bounded by MaxDepth. Strings are decoded as
// encoding/json decodes them (invalid UTF-8 becomes U+FFFD); numbers keep
// their literal text.
//
// It is a small recursive-descent parser rather than json.Decoder.Token,
// which allocates per token and made loading the module catalog several
// times slower.
func Parse(data []byte) (*Node, error) {
	p := &parser{data: data}
	p.ws()
	n, err := p.value(0)
	if err == nil {
		p.ws()
		if p.pos != len(p.data) {
			err = p.errAt(p.pos, "invalid character %q after the top-level value", p.data[p.pos])
		}
	}
	if pe, ok := err.(*posError); ok {
		line, col := lineCol(data, pe.off)
		return nil, fmt.Errorf("line %d, column %d: %s", line, col, pe.msg)
	}
	return n, err
}

// posError is a syntax error at a byte offset of the input; Parse turns
// the offset into a line and column.
type posError struct {
	off int
	msg string
}

func (e *posError) Error() string { return e.msg }

func (p *parser) errAt(off int, format string, a ...any) error {
	return &posError{off: off, msg: fmt.Sprintf(format, a...)}
}

// lineCol converts a byte offset to a 1-based line and column (in bytes).
func lineCol(data []byte, off int) (line, col int) {
	off = max(0, min(off, len(data)))
	line, start := 1, 0
	for i, c := range data[:off] {
		if c == '\n' {
			line, start = line+1, i+1
		}
	}
	return line, off - start + 1
}

type parser struct {
	data []byte
	pos  int
}

func (p *parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) errUnexpected(what string) error {
	if p.pos >= len(p.data) {
		return p.errAt(p.pos, "unexpected end of input, expected %s", what)
	}
	return p.errAt(p.pos, "invalid character %q, expected %s", p.data[p.pos], what)
}

func (p *parser) value(depth int) (*Node, error) {
	if depth > MaxDepth {
		return nil, p.errAt(p.pos, "nesting deeper than %d levels", MaxDepth)
	}
	if p.pos >= len(p.data) {
		return nil, p.errUnexpected("a value")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &Node{Kind: String, Str: s}, nil
	case c == 't':
		return p.literal("true", Bool)
	case c == 'f':
		return p.literal("false", Bool)
	case c == 'n':
		return p.literal("null", Null)
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, p.errUnexpected("a value")
}

func (p *parser) object(depth int) (*Node, error) {
	p.pos++ // {
	n := &Node{Kind: Object}
	var seen map[string]bool
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return n, nil
	}
	for {
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errUnexpected("an object key")
		}
		at := p.pos
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		// Linear search is cheaper for the small objects of real files; a
		// map guards against quadratic time on hostile ones.
		dup := false
		if seen != nil {
			dup = seen[k]
		} else {
			for _, x := range n.Keys {
				if x == k {
					dup = true
					break
				}
			}
		}
		if dup {
			return nil, p.errAt(at, "duplicate key %q", k)
		}
		if seen == nil && len(n.Keys) >= 16 {
			seen = make(map[string]bool, 32)
			for _, x := range n.Keys {
				seen[x] = true
			}
		}
		if seen != nil {
			seen[k] = true
		}
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errUnexpected("':' after an object key")
		}
		p.pos++
		p.ws()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Keys = append(n.Keys, k)
		n.Vals = append(n.Vals, v)
		p.ws()
		if p.pos >= len(p.data) {
			return nil, p.errUnexpected("',' or '}'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return n, nil
		default:
			return nil, p.errUnexpected("',' or '}'")
		}
	}
}

func (p *parser) array(depth int) (*Node, error) {
	p.pos++ // [
	n := &Node{Kind: Array}
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return n, nil
	}
	for {
		p.ws()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Elems = append(n.Elems, v)
		p.ws()
		if p.pos >= len(p.data) {
			return nil, p.errUnexpected("',' or ']'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return n, nil
		default:
			return nil, p.errUnexpected("',' or ']'")
		}
	}
}

// str reads a string at p.pos (on its opening quote).
func (p *parser) str() (string, error) {
	start := p.pos
	p.pos++
	simple := true
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			raw := p.data[start+1 : p.pos-1]
			if simple && utf8.Valid(raw) {
				return string(raw), nil
			}
			// Escapes and invalid UTF-8: decode exactly as encoding/json does.
			var s string
			if err := json.Unmarshal(p.data[start:p.pos], &s); err != nil {
				return "", p.errAt(start, "invalid string: %v", err)
			}
			return s, nil
		case c == '\\':
			simple = false
			p.pos += 2
		case c < 0x20:
			return "", p.errAt(p.pos, "invalid control character %q in string", c)
		default:
			p.pos++
		}
	}
	line, col := lineCol(p.data, start)
	return "", p.errAt(len(p.data), "unexpected end of input in the string that starts at line %d, column %d", line, col)
}

func (p *parser) literal(lit string, k Kind) (*Node, error) {
	if len(p.data)-p.pos < len(lit) || string(p.data[p.pos:p.pos+len(lit)]) != lit {
		return nil, p.errUnexpected(lit)
	}
	p.pos += len(lit)
	return &Node{Kind: k, Lit: lit}, nil
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? (RFC 8259 §6).
func (p *parser) number() (*Node, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case digits() == 0:
		return nil, p.errUnexpected("a digit")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.errUnexpected("a digit after '.'")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.errUnexpected("a digit in the exponent")
		}
	}
	return &Node{Kind: Number, Lit: string(p.data[start:p.pos])}, nil
}

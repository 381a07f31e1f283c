package zones

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// node is one value of an order-preserving JSON document. Objects keep their
// keys in file order; scalars keep their literal text (numbers exactly as
// written, strings as decoded text) so an unchanged document is written back
// in the same form.
type node struct {
	kind  nodeKind
	keys  []string // object
	vals  []*node  // object values, parallel to keys
	elems []*node  // array
	str   string   // string value
	lit   string   // number / true / false / null literal
}

type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k nodeKind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindArray:
		return "an array"
	default:
		return "an object"
	}
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

// parseNode decodes one JSON value, which must be the whole input. Errors
// say where: "line 3, column 14: …" (1-based, columns in bytes).
func parseNode(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readNode(dec, 0)
	if err == nil {
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return n, nil
		}
		if err == nil {
			err = errors.New("unexpected data after the top-level value")
		}
	}
	// The decoder stops before the token it could not read; that token
	// starts after any white space.
	off := dec.InputOffset()
	skip := " \t\r\n"
	var pe *posError
	if errors.As(err, &pe) {
		off, skip = pe.off, skip+","
	}
	for off < int64(len(data)) && strings.IndexByte(skip, data[off]) >= 0 {
		off++
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = errors.New("unexpected end of input")
		off = int64(len(data))
	}
	line, col := lineCol(data, off)
	return nil, fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// posError is a parse error at a byte offset other than the decoder's.
type posError struct {
	off int64
	msg string
}

func (e *posError) Error() string { return e.msg }

// lineCol converts a byte offset of data to a 1-based line and column.
func lineCol(data []byte, off int64) (line, col int) {
	before := data[:max(0, min(off, int64(len(data))))]
	line = bytes.Count(before, []byte("\n")) + 1
	col = len(before) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

func readNode(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nesting deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: kindObject}
			seen := map[string]bool{}
			for dec.More() {
				keyOff := dec.InputOffset()
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				if seen[k] {
					return nil, &posError{off: keyOff, msg: fmt.Sprintf("duplicate key %q", k)}
				}
				seen[k] = true
				v, err := readNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		case '[':
			n := &node{kind: kindArray}
			for dec.More() {
				v, err := readNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		}
		return nil, fmt.Errorf("unexpected %q", t)
	case string:
		return &node{kind: kindString, str: t}, nil
	case json.Number:
		return &node{kind: kindNumber, lit: t.String()}, nil
	case bool:
		return &node{kind: kindBool, lit: strconv.FormatBool(t)}, nil
	case nil:
		return &node{kind: kindNull, lit: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// get returns the value of key in an object node.
func (n *node) get(key string) (*node, bool) {
	if n == nil || n.kind != kindObject {
		return nil, false
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i], true
		}
	}
	return nil, false
}

// clone returns a deep copy.
func (n *node) clone() *node {
	if n == nil {
		return nil
	}
	c := *n
	c.keys = append([]string(nil), n.keys...)
	if n.vals != nil {
		c.vals = make([]*node, len(n.vals))
		for i, v := range n.vals {
			c.vals[i] = v.clone()
		}
	}
	if n.elems != nil {
		c.elems = make([]*node, len(n.elems))
		for i, v := range n.elems {
			c.elems[i] = v.clone()
		}
	}
	return &c
}

func strNode(s string) *node { return &node{kind: kindString, str: s} }
func intNode(i int) *node    { return &node{kind: kindNumber, lit: strconv.Itoa(i)} }
func boolNode(b bool) *node  { return &node{kind: kindBool, lit: strconv.FormatBool(b)} }
func strArrayNode(ss []string) *node {
	n := &node{kind: kindArray, elems: make([]*node, 0, len(ss))}
	for _, s := range ss {
		n.elems = append(n.elems, strNode(s))
	}
	return n
}

// writeNode renders n in the layout jq and Python's json.dump(indent=N) use:
// one member per line, empty containers as [] / {}, UTF-8 kept literal.
func writeNode(b *bytes.Buffer, n *node, indent string, level int) {
	switch n.kind {
	case kindObject:
		if len(n.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range n.keys {
			b.WriteString(strings.Repeat(indent, level+1))
			writeString(b, k)
			b.WriteString(": ")
			writeNode(b, n.vals[i], indent, level+1)
			if i < len(n.keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat(indent, level))
		b.WriteByte('}')
	case kindArray:
		if len(n.elems) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range n.elems {
			b.WriteString(strings.Repeat(indent, level+1))
			writeNode(b, e, indent, level+1)
			if i < len(n.elems)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat(indent, level))
		b.WriteByte(']')
	case kindString:
		writeString(b, n.str)
	default:
		b.WriteString(n.lit)
	}
}

// writeString writes s as a JSON string without HTML escaping (jq style).
func writeString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}

// detectIndent returns the indentation unit of a pretty-printed document
// (the leading whitespace of its first indented line), or two spaces.
func detectIndent(data []byte) string {
	for _, line := range bytes.Split(data, []byte("\n"))[1:] {
		trimmed := bytes.TrimLeft(line, " \t")
		if len(trimmed) == len(line) || len(trimmed) == 0 {
			continue
		}
		return string(line[:len(line)-len(trimmed)])
	}
	return "  "
}

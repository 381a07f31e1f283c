// Package jsonnode is an order-preserving JSON document model for files
// tappaas reads and writes back (zones.json, module JSONs): objects keep their
// keys in file order and scalars keep their literal text, so an unchanged
// document renders in the same form, and an edited one changes only where it
// was edited.
//
// The writer produces the layout jq and Python's json.dump(indent=N) use:
// one member per line, empty containers as [] and {}, UTF-8 kept literal, no
// HTML escaping.
package jsonnode

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Node is one value of a JSON document.
type Node struct {
	Kind  Kind
	Keys  []string // Object: keys in file order
	Vals  []*Node  // Object: values, parallel to Keys
	Elems []*Node  // Array
	Str   string   // String: the decoded text
	Lit   string   // Number, Bool, Null: the literal as written
}

// Kind is the JSON type of a Node.
type Kind uint8

// The JSON types.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// String names the kind with its article ("a string"), for messages.
func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "a boolean"
	case Number:
		return "a number"
	case String:
		return "a string"
	case Array:
		return "an array"
	default:
		return "an object"
	}
}

// MaxDepth bounds nesting so hostile input cannot exhaust the stack.
const MaxDepth = 64

// Get returns the value of key in an object node.
func (n *Node) Get(key string) (*Node, bool) {
	if n == nil || n.Kind != Object {
		return nil, false
	}
	for i, k := range n.Keys {
		if k == key {
			return n.Vals[i], true
		}
	}
	return nil, false
}

// Set replaces the value of key in an object node, or appends key last.
func (n *Node) Set(key string, v *Node) {
	for i, k := range n.Keys {
		if k == key {
			n.Vals[i] = v
			return
		}
	}
	n.Keys = append(n.Keys, key)
	n.Vals = append(n.Vals, v)
}

// Delete removes key from an object node; it reports whether it was there.
func (n *Node) Delete(key string) bool {
	for i, k := range n.Keys {
		if k == key {
			n.Keys = append(n.Keys[:i:i], n.Keys[i+1:]...)
			n.Vals = append(n.Vals[:i:i], n.Vals[i+1:]...)
			return true
		}
	}
	return false
}

// Text is the value as `jq -r` prints a scalar: a string's text, a number's,
// boolean's or null's literal. Arrays and objects render as compact JSON.
func (n *Node) Text() string {
	switch n.Kind {
	case String:
		return n.Str
	case Array, Object:
		var b bytes.Buffer
		Write(&b, n, "", 0)
		return strings.ReplaceAll(b.String(), "\n", "")
	default:
		return n.Lit
	}
}

// Clone returns a deep copy.
func (n *Node) Clone() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Keys = append([]string(nil), n.Keys...)
	if n.Vals != nil {
		c.Vals = make([]*Node, len(n.Vals))
		for i, v := range n.Vals {
			c.Vals[i] = v.Clone()
		}
	}
	if n.Elems != nil {
		c.Elems = make([]*Node, len(n.Elems))
		for i, v := range n.Elems {
			c.Elems[i] = v.Clone()
		}
	}
	return &c
}

// NewString returns a string node.
func NewString(s string) *Node { return &Node{Kind: String, Str: s} }

// NewInt returns a number node.
func NewInt(i int) *Node { return &Node{Kind: Number, Lit: strconv.Itoa(i)} }

// NewBool returns a boolean node.
func NewBool(b bool) *Node { return &Node{Kind: Bool, Lit: strconv.FormatBool(b)} }

// NewStringArray returns an array node of strings.
func NewStringArray(ss []string) *Node {
	n := &Node{Kind: Array, Elems: make([]*Node, 0, len(ss))}
	for _, s := range ss {
		n.Elems = append(n.Elems, NewString(s))
	}
	return n
}

// Write renders n at nesting level with the indentation unit indent, in the
// layout jq and Python's json.dump(indent=N) use.
func Write(b *bytes.Buffer, n *Node, indent string, level int) {
	switch n.Kind {
	case Object:
		if len(n.Keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range n.Keys {
			b.WriteString(strings.Repeat(indent, level+1))
			writeString(b, k)
			b.WriteString(": ")
			Write(b, n.Vals[i], indent, level+1)
			if i < len(n.Keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat(indent, level))
		b.WriteByte('}')
	case Array:
		if len(n.Elems) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range n.Elems {
			b.WriteString(strings.Repeat(indent, level+1))
			Write(b, e, indent, level+1)
			if i < len(n.Elems)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat(indent, level))
		b.WriteByte(']')
	case String:
		writeString(b, n.Str)
	default:
		b.WriteString(n.Lit)
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

// DetectIndent returns the indentation unit of a pretty-printed document
// (the leading whitespace of its first indented line), or two spaces.
func DetectIndent(data []byte) string {
	for _, line := range bytes.Split(data, []byte("\n"))[1:] {
		trimmed := bytes.TrimLeft(line, " \t")
		if len(trimmed) == len(line) || len(trimmed) == 0 {
			continue
		}
		return string(line[:len(line)-len(trimmed)])
	}
	return "  "
}

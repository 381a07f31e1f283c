package modules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// ErrSyntax wraps every error for input that is not a module document at all
// (invalid JSON, or a top-level value that is not an object). check_json
// refuses such files outright (common-install-routines.sh:738).
var ErrSyntax = errors.New("not a module JSON")

// maxFileSize bounds what the loaders read (upstream's largest module JSON
// is ~2 KiB, the field table ~53 KiB).
const maxFileSize = 4 << 20

// ConfigKey is the key of the Pattern-A block that groups per-service
// fields (module-fields.json fields.config).
const ConfigKey = "config"

// File is one module JSON, flat or Pattern A, kept losslessly: Bytes of an
// unchanged File is its input, byte for byte; an edited File is rendered
// through the order-preserving JSON model, so only edited members change.
type File struct {
	// Path names the file in messages (as given to Parse).
	Path string

	raw     []byte
	doc     *jsonnode.Node
	indent  string
	newline bool
	edited  bool
}

// Parse reads a module JSON. Only input that is not a JSON object fails
// (wrapping ErrSyntax); everything else is Validate's business.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", name, ErrSyntax, maxFileSize)
	}
	root, err := jsonnode.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: invalid JSON: %v", name, ErrSyntax, err)
	}
	if root.Kind != jsonnode.Object {
		return nil, fmt.Errorf("%s: %w: the top-level value is %s, expected an object of module fields", name, ErrSyntax, root.Kind)
	}
	return &File{
		Path: name, raw: bytes.Clone(data), doc: root,
		indent: jsonnode.DetectIndent(data), newline: bytes.HasSuffix(data, []byte("\n")),
	}, nil
}

// LoadFS reads a module JSON from fsys (an embedded copy or a checkout).
func LoadFS(fsys fs.FS, p string) (*File, error) {
	data, err := readLimited(fsys.Open(p))
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", p, err)
	}
	return Parse(p, data)
}

func readLimited(f fs.File, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return data, nil
}

// Name is the module name the file stands for: its file name without
// ".json" (upstream names configs <module>.json, and vmname defaults to it,
// module-fields.json fields.vmname.default).
func (f *File) Name() string {
	return strings.TrimSuffix(path.Base(strings.ReplaceAll(f.Path, "\\", "/")), ".json")
}

// Bytes renders the document: the input itself while unchanged.
func (f *File) Bytes() []byte {
	if !f.edited {
		return bytes.Clone(f.raw)
	}
	var b bytes.Buffer
	jsonnode.Write(&b, f.doc, f.indent, 0)
	if f.newline {
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// PatternA reports whether the file groups fields under a "config" object
// (the test check_json uses, common-install-routines.sh:748).
func (f *File) PatternA() bool {
	c, ok := f.doc.Get(ConfigKey)
	return ok && c.Kind == jsonnode.Object
}

// Member is one field of the flattened view with where it is written.
type Member struct {
	Key   string
	Value *jsonnode.Node
	Path  Path // where the value is in the file
}

// Flat returns the module's fields as upstream's readers see them: a
// Pattern-A file's config blocks deep-merged over the header in block order
// and "config" removed (normalize_module_config,
// common-install-routines.sh:597-603); a flat file as it is. A field set in
// two places (a validation error) takes the last block's value, as jq's `*`
// does.
func (f *File) Flat() []Member {
	var out []Member
	idx := map[string]int{}
	put := func(k string, v *jsonnode.Node, p Path) {
		if i, ok := idx[k]; ok {
			if out[i].Value.Kind == jsonnode.Object && v.Kind == jsonnode.Object {
				v = deepMerge(out[i].Value, v)
			}
			out[i].Value, out[i].Path = v, p
			return
		}
		idx[k] = len(out)
		out = append(out, Member{Key: k, Value: v, Path: p})
	}
	pa := f.PatternA()
	for i, k := range f.doc.Keys {
		if pa && k == ConfigKey {
			continue
		}
		put(k, f.doc.Vals[i], Path{k})
	}
	if pa {
		cfg, _ := f.doc.Get(ConfigKey)
		for i, blk := range cfg.Keys {
			b := cfg.Vals[i]
			if b.Kind != jsonnode.Object {
				continue // reported by Validate
			}
			for j, k := range b.Keys {
				put(k, b.Vals[j], Path{ConfigKey, blk, k})
			}
		}
	}
	return out
}

// deepMerge is jq's `a * b` for objects: b's members win, objects recurse.
func deepMerge(a, b *jsonnode.Node) *jsonnode.Node {
	out := a.Clone()
	for i, k := range b.Keys {
		v := b.Vals[i]
		if cur, ok := out.Get(k); ok && cur.Kind == jsonnode.Object && v.Kind == jsonnode.Object {
			v = deepMerge(cur, v)
		}
		out.Set(k, v.Clone())
	}
	return out
}

// Get returns a field of the flattened view and where it is written.
func (f *File) Get(field string) (*jsonnode.Node, Path, bool) {
	var (
		v  *jsonnode.Node
		p  Path
		ok bool
	)
	for _, m := range f.Flat() {
		if m.Key == field {
			v, p, ok = m.Value, m.Path, true
		}
	}
	return v, p, ok
}

// Set writes a field where the file already has it (the header or its
// config block); a new field goes to the header, after the fields that come
// before it in the schema's fieldOrder. A nil schema appends it last.
// Canonical then gives upstream's placement (a service field in its block).
func (f *File) Set(s *Schema, field string, v *jsonnode.Node) {
	f.edited = true
	if _, p, ok := f.Get(field); ok {
		obj := f.doc
		for _, k := range p[:len(p)-1] {
			obj, _ = obj.Get(k.(string))
		}
		obj.Set(field, v)
		return
	}
	at := len(f.doc.Keys)
	if s != nil {
		if rank := indexOf(s.Order, field); rank >= 0 {
			at = 0
			for i, k := range f.doc.Keys {
				if r := indexOf(s.Order, k); r >= 0 && r < rank {
					at = i + 1
				}
			}
		}
	}
	f.doc.Keys = append(f.doc.Keys[:at:at], append([]string{field}, f.doc.Keys[at:]...)...)
	f.doc.Vals = append(f.doc.Vals[:at:at], append([]*jsonnode.Node{v}, f.doc.Vals[at:]...)...)
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// Path is a key path in a document; an int element is an array index.
type Path []any

// String renders the path in jq syntax: .config."cluster:vm".memory,
// .egress[0].to.
func (p Path) String() string {
	if len(p) == 0 {
		return "."
	}
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(e) + "]")
		case string:
			b.WriteByte('.')
			if isIdent(e) {
				b.WriteString(e)
			} else {
				b.WriteString(strconv.Quote(e))
			}
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}

func (p Path) with(e any) Path { return append(p[:len(p):len(p)], e) }

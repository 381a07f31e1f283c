package zones

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrSyntax wraps every error Load returns for input that is not a zones
// document (invalid JSON, not an object, a zone that is not an object).
var ErrSyntax = errors.New("zones.json is not valid")

// maxFileSize bounds what Load reads (upstream's file is ~17 KiB).
const maxFileSize = 16 << 20

// File is a zones.json document: the zones in file order plus everything
// else the file holds (documentation keys, unknown keys, formatting), so
// writing an unchanged File reproduces its input.
type File struct {
	// Zones in file order. Edit through SetZone/DeleteZone or in place.
	Zones []*Zone

	doc      *node // the original top-level object
	indent   string
	newline  bool    // input ended with a newline
	decodeIs []Issue // field decoding problems found by Load
}

// Load reads a zones.json document. Structural problems (invalid JSON, a
// top level or zone that is not an object) are errors wrapping ErrSyntax;
// fields of the wrong type are reported by Validate, naming zone and field.
func Load(r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read zones: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrSyntax, maxFileSize)
	}
	return Parse(data)
}

// LoadFile reads a zones.json file from disk.
func LoadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open zones file: %w", err)
	}
	defer f.Close()
	zf, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return zf, nil
}

// Parse is Load for a byte slice.
func Parse(data []byte) (*File, error) {
	root, err := parseNode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid JSON: %v", ErrSyntax, err)
	}
	if root.kind != kindObject {
		return nil, fmt.Errorf("%w: the top-level JSON value is %s, expected an object keyed by zone name", ErrSyntax, root.kind)
	}
	f := &File{doc: root, indent: detectIndent(data), newline: bytes.HasSuffix(data, []byte("\n"))}
	for i, name := range root.keys {
		if IsDocKey(name) {
			continue
		}
		v := root.vals[i]
		if v.kind != kindObject {
			return nil, fmt.Errorf("%w: zone %q is %s, expected an object (keys starting with '_' are documentation)", ErrSyntax, name, v.kind)
		}
		z, issues := decodeZone(name, v)
		f.Zones = append(f.Zones, z)
		f.decodeIs = append(f.decodeIs, issues...)
	}
	return f, nil
}

// IsDocKey reports whether a top-level key is documentation, never a zone
// (keys beginning with '_', §1.1).
func IsDocKey(k string) bool { return strings.HasPrefix(k, "_") }

// Zone returns the named zone or nil.
func (f *File) Zone(name string) *Zone {
	for _, z := range f.Zones {
		if z.Name == name {
			return z
		}
	}
	return nil
}

// Names returns the zone names in file order.
func (f *File) Names() []string {
	out := make([]string, len(f.Zones))
	for i, z := range f.Zones {
		out[i] = z.Name
	}
	return out
}

// SetZone replaces the zone named old (or adds z at the end when old is ""
// or unknown). Renaming keeps the zone's position and unknown keys. Fields
// that failed to decode are forgotten: z is taken as the new truth.
func (f *File) SetZone(old string, z *Zone) {
	z = z.Clone()
	z.raw = nil
	f.dropDecodeIssues(old)
	f.dropDecodeIssues(z.Name)
	for i, cur := range f.Zones {
		if old != "" && cur.Name == old {
			f.Zones[i] = z
			if old != z.Name && f.doc != nil {
				for j, k := range f.doc.keys {
					if k == old {
						f.doc.keys[j] = z.Name
					}
				}
			}
			return
		}
	}
	f.Zones = append(f.Zones, z)
}

// DeleteZone removes the named zone; it reports whether it existed.
func (f *File) DeleteZone(name string) bool {
	for i, z := range f.Zones {
		if z.Name == name {
			f.Zones = append(f.Zones[:i:i], f.Zones[i+1:]...)
			f.dropDecodeIssues(name)
			return true
		}
	}
	return false
}

func (f *File) dropDecodeIssues(zone string) {
	out := f.decodeIs[:0:0]
	for _, is := range f.decodeIs {
		if is.Zone != zone {
			out = append(out, is)
		}
	}
	f.decodeIs = out
}

// Clone returns a deep copy.
func (f *File) Clone() *File {
	c := &File{doc: f.doc.clone(), indent: f.indent, newline: f.newline}
	c.decodeIs = append([]Issue(nil), f.decodeIs...)
	for _, z := range f.Zones {
		c.Zones = append(c.Zones, z.Clone())
	}
	return c
}

func (f *File) indentUnit() string {
	if f.indent == "" {
		return "  "
	}
	return f.indent
}

// Bytes renders the document: documentation and unknown keys where they
// were, zones in Zones order (new zones after the last existing key).
func (f *File) Bytes() []byte {
	root := &node{kind: kindObject}
	placed := map[string]bool{}
	next := 0 // zone slots of the original document are refilled in Zones order
	if f.doc != nil {
		for i, k := range f.doc.keys {
			if IsDocKey(k) {
				root.keys = append(root.keys, k)
				root.vals = append(root.vals, f.doc.vals[i])
				continue
			}
			if next >= len(f.Zones) {
				continue // zone deleted
			}
			z := f.Zones[next]
			next++
			root.keys = append(root.keys, z.Name)
			root.vals = append(root.vals, encodeZone(z, f.origOf(z.Name)))
			placed[z.Name] = true
		}
	}
	for _, z := range f.Zones[next:] {
		if !placed[z.Name] {
			root.keys = append(root.keys, z.Name)
			root.vals = append(root.vals, encodeZone(z, f.origOf(z.Name)))
			placed[z.Name] = true
		}
	}
	var b bytes.Buffer
	writeNode(&b, root, f.indentUnit(), 0)
	if f.newline || f.doc == nil {
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func (f *File) origOf(name string) *node {
	if n, ok := f.doc.get(name); ok && n.kind == kindObject {
		return n
	}
	return nil
}

// Write writes the document to w.
func (f *File) Write(w io.Writer) error {
	_, err := w.Write(f.Bytes())
	return err
}

// WriteFileAtomic writes the document to path through a temporary file in
// the same directory, fsync and rename, so readers see the old or the new
// file, never half of one. It refuses a File with validation errors.
func (f *File) WriteFileAtomic(path string) error {
	if r := f.Validate(); len(r.Errors) > 0 {
		return fmt.Errorf("refusing to write %s: %w", path, r.Err())
	}
	return writeAtomic(path, f.Bytes(), 0o644)
}

func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Field names as they appear in zones.json.
const (
	FieldType        = "type"
	FieldState       = "state"
	FieldTypeID      = "typeId"
	FieldSubID       = "subId"
	FieldVLANTag     = "vlantag"
	FieldSSID        = "SSID"
	FieldIP          = "ip"
	FieldBridge      = "bridge"
	FieldAccessTo    = "access-to"
	FieldPinhole     = "pinhole-allowed-from"
	FieldDHCPStart   = "DHCP-start"
	FieldDHCPEnd     = "DHCP-end"
	FieldIsolated    = "isolated"
	FieldParent      = "parent"
	FieldVariant     = "variant"
	FieldComment     = "_comment"
	FieldDescription = "description"
	FieldName        = "name" // the zone key itself
)

// canonicalOrder is upstream's key order (src/foundation/firewall/zones.json).
var canonicalOrder = []string{
	FieldType, FieldState, FieldTypeID, FieldSubID, FieldVLANTag, FieldSSID, FieldIP, FieldBridge,
	FieldAccessTo, FieldPinhole, FieldDHCPStart, FieldDHCPEnd, FieldIsolated, FieldParent, FieldVariant,
	FieldComment, FieldDescription,
}

func isKnownField(k string) bool { return slices.Contains(canonicalOrder, k) }

func decodeZone(name string, n *node) (*Zone, []Issue) {
	z := &Zone{Name: name}
	var issues []Issue
	bad := func(field, want string, v *node) {
		if z.raw == nil {
			z.raw = map[string]*node{}
		}
		z.raw[field] = v
		issues = append(issues, Issue{Zone: name, Field: field, Message: fmt.Sprintf("is %s, expected %s", v.kind, want)})
	}
	str := func(field string, dst *string) {
		if v, ok := n.get(field); ok {
			if v.kind != kindString {
				bad(field, "a string", v)
				return
			}
			*dst = v.str
		}
	}
	integer := func(field string, dst *int, asString *bool) bool {
		v, ok := n.get(field)
		if !ok {
			return false
		}
		var text string
		switch v.kind {
		case kindNumber:
			text = v.lit
		case kindString:
			text = strings.TrimSpace(v.str)
			if asString != nil {
				*asString = true
			}
		default:
			bad(field, "an integer (number or string of digits)", v)
			return false
		}
		i, err := strconv.Atoi(text)
		if err != nil {
			bad(field, "an integer (number or string of digits)", v)
			return false
		}
		*dst = i
		return true
	}
	list := func(field string, dst *[]string) {
		v, ok := n.get(field)
		if !ok {
			return
		}
		if v.kind != kindArray {
			bad(field, "an array of strings", v)
			return
		}
		out := make([]string, 0, len(v.elems))
		for _, e := range v.elems {
			if e.kind != kindString {
				bad(field, "an array of strings", v)
				return
			}
			out = append(out, e.str)
		}
		*dst = out
	}
	str(FieldType, &z.Type)
	var st string
	str(FieldState, &st)
	z.State = State(st)
	integer(FieldTypeID, &z.TypeID, &z.typeIDString)
	integer(FieldSubID, &z.SubID, &z.subIDString)
	integer(FieldVLANTag, &z.VLANTag, &z.vlanTagString)
	str(FieldSSID, &z.SSID)
	str(FieldIP, &z.IP)
	str(FieldBridge, &z.Bridge)
	list(FieldAccessTo, &z.AccessTo)
	list(FieldPinhole, &z.PinholeAllowedFrom)
	var s, e int
	if integer(FieldDHCPStart, &s, nil) {
		z.DHCPStart = &s
	}
	if integer(FieldDHCPEnd, &e, nil) {
		z.DHCPEnd = &e
	}
	if v, ok := n.get(FieldIsolated); ok {
		if v.kind != kindBool {
			bad(FieldIsolated, "true or false", v)
		} else {
			z.Isolated = v.lit == "true"
		}
	}
	str(FieldParent, &z.Parent)
	str(FieldVariant, &z.Variant)
	str(FieldComment, &z.Comment)
	str(FieldDescription, &z.Description)
	return z, issues
}

// encodeZone renders z, keeping orig's key order and unknown keys.
func encodeZone(z *Zone, orig *node) *node {
	present := map[string]bool{}
	if orig != nil {
		for _, k := range orig.keys {
			present[k] = true
		}
	}
	value := func(k string) (*node, bool) {
		if v, ok := z.raw[k]; ok {
			return v, true
		}
		num := func(i int, asString bool) *node {
			if asString {
				return strNode(strconv.Itoa(i))
			}
			return intNode(i)
		}
		switch k {
		case FieldType:
			return strNode(z.Type), true
		case FieldState:
			return strNode(string(z.State)), true
		case FieldTypeID:
			return num(z.TypeID, z.typeIDString), true
		case FieldSubID:
			return num(z.SubID, z.subIDString), true
		case FieldVLANTag:
			return num(z.VLANTag, z.vlanTagString), true
		case FieldIP:
			return strNode(z.IP), true
		case FieldBridge:
			return strNode(z.Bridge), true
		case FieldAccessTo:
			return strArrayNode(z.AccessTo), z.AccessTo != nil || present[k]
		case FieldPinhole:
			return strArrayNode(z.PinholeAllowedFrom), z.PinholeAllowedFrom != nil || present[k]
		case FieldDHCPStart:
			if z.DHCPStart == nil {
				return nil, false
			}
			return intNode(*z.DHCPStart), true
		case FieldDHCPEnd:
			if z.DHCPEnd == nil {
				return nil, false
			}
			return intNode(*z.DHCPEnd), true
		case FieldIsolated:
			return boolNode(z.Isolated), z.Isolated || present[k]
		case FieldSSID:
			return strNode(z.SSID), z.SSID != "" || present[k]
		case FieldParent:
			return strNode(z.Parent), z.Parent != "" || present[k]
		case FieldVariant:
			return strNode(z.Variant), z.Variant != "" || present[k]
		case FieldComment:
			return strNode(z.Comment), z.Comment != "" || present[k]
		case FieldDescription:
			return strNode(z.Description), true
		}
		return nil, false
	}
	out := &node{kind: kindObject}
	done := map[string]bool{}
	if orig != nil {
		for i, k := range orig.keys {
			done[k] = true
			if !isKnownField(k) {
				out.keys = append(out.keys, k)
				out.vals = append(out.vals, orig.vals[i])
				continue
			}
			if v, ok := value(k); ok {
				out.keys = append(out.keys, k)
				out.vals = append(out.vals, v)
			}
		}
	}
	for ci, k := range canonicalOrder {
		if done[k] {
			continue
		}
		v, ok := value(k)
		if !ok {
			continue
		}
		// Insert after the last key that comes before k in canonical order.
		at := 0
		for j, ok := range out.keys {
			if idx := slices.Index(canonicalOrder, ok); idx >= 0 && idx < ci {
				at = j + 1
			}
		}
		out.keys = slices.Insert(out.keys, at, k)
		out.vals = slices.Insert(out.vals, at, v)
	}
	return out
}

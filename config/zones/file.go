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

	"github.com/tappaas/tappaas/config/jsonnode"
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

	doc      *jsonnode.Node // the original top-level object
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
	root, err := jsonnode.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid JSON: %v", ErrSyntax, err)
	}
	if root.Kind != jsonnode.Object {
		return nil, fmt.Errorf("%w: the top-level JSON value is %s, expected an object keyed by zone name", ErrSyntax, root.Kind)
	}
	f := &File{doc: root, indent: jsonnode.DetectIndent(data), newline: bytes.HasSuffix(data, []byte("\n"))}
	for i, name := range root.Keys {
		if IsDocKey(name) {
			continue
		}
		v := root.Vals[i]
		if v.Kind != jsonnode.Object {
			return nil, fmt.Errorf("%w: zone %q is %s, expected an object (keys starting with '_' are documentation)", ErrSyntax, name, v.Kind)
		}
		z, issues := decodeZone(name, v)
		f.Zones = append(f.Zones, z)
		f.decodeIs = append(f.decodeIs, issues...)
	}
	return f, nil
}

// IsDocKey reports whether a top-level key is documentation, never a zone
// (keys beginning with '_'; zone-manager skips them,
// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-controller/src/opnsense_controller/zone_manager.py:676-682).
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
// or unknown). Renaming keeps the zone's position and unknown keys (which
// stay errors until removed from the file). Fields that failed to decode
// are forgotten: z is taken as the new truth.
func (f *File) SetZone(old string, z *Zone) {
	z = z.Clone()
	z.raw = nil
	f.dropDecodeIssues(old, z.Name)
	f.dropDecodeIssues(z.Name, z.Name)
	for i, cur := range f.Zones {
		if old != "" && cur.Name == old {
			f.Zones[i] = z
			if old != z.Name && f.doc != nil {
				for j, k := range f.doc.Keys {
					if k == old {
						f.doc.Keys[j] = z.Name
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
			f.dropDecodeIssues(name, "")
			return true
		}
	}
	return false
}

// dropDecodeIssues forgets the decoding issues of a zone that is replaced
// (rename: its new name) or deleted (rename ""). Unknown keys stay in the
// file with a replaced zone, and so do their errors.
func (f *File) dropDecodeIssues(zone, rename string) {
	out := f.decodeIs[:0:0]
	for _, is := range f.decodeIs {
		switch {
		case is.Zone != zone:
		case rename != "" && !isKnownField(is.Field) && is.Field != FieldName:
			is.Zone = rename
		default:
			continue
		}
		if !slices.Contains(out, is) {
			out = append(out, is)
		}
	}
	f.decodeIs = out
}

// Clone returns a deep copy.
func (f *File) Clone() *File {
	c := &File{doc: f.doc.Clone(), indent: f.indent, newline: f.newline}
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
	root := &jsonnode.Node{Kind: jsonnode.Object}
	placed := map[string]bool{}
	next := 0 // zone slots of the original document are refilled in Zones order
	if f.doc != nil {
		for i, k := range f.doc.Keys {
			if IsDocKey(k) {
				root.Keys = append(root.Keys, k)
				root.Vals = append(root.Vals, f.doc.Vals[i])
				continue
			}
			if next >= len(f.Zones) {
				continue // zone deleted
			}
			z := f.Zones[next]
			next++
			root.Keys = append(root.Keys, z.Name)
			root.Vals = append(root.Vals, encodeZone(z, f.origOf(z.Name)))
			placed[z.Name] = true
		}
	}
	for _, z := range f.Zones[next:] {
		if !placed[z.Name] {
			root.Keys = append(root.Keys, z.Name)
			root.Vals = append(root.Vals, encodeZone(z, f.origOf(z.Name)))
			placed[z.Name] = true
		}
	}
	var b bytes.Buffer
	jsonnode.Write(&b, root, f.indentUnit(), 0)
	if f.newline || f.doc == nil {
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func (f *File) origOf(name string) *jsonnode.Node {
	if n, ok := f.doc.Get(name); ok && n.Kind == jsonnode.Object {
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

func decodeZone(name string, n *jsonnode.Node) (*Zone, []Issue) {
	z := &Zone{Name: name}
	var issues []Issue
	bad := func(field, want string, v *jsonnode.Node) {
		if z.raw == nil {
			z.raw = map[string]*jsonnode.Node{}
		}
		z.raw[field] = v
		issues = append(issues, Issue{Zone: name, Field: field, Message: fmt.Sprintf("is %s, expected %s", v.Kind, want)})
	}
	str := func(field string, dst *string) {
		if v, ok := n.Get(field); ok {
			if v.Kind != jsonnode.String {
				bad(field, "a string", v)
				return
			}
			*dst = v.Str
		}
	}
	integer := func(field string, dst *int, asString *bool) bool {
		v, ok := n.Get(field)
		if !ok {
			return false
		}
		var text string
		switch v.Kind {
		case jsonnode.Number:
			text = v.Lit
		case jsonnode.String:
			text = strings.TrimSpace(v.Str)
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
		v, ok := n.Get(field)
		if !ok {
			return
		}
		if v.Kind != jsonnode.Array {
			bad(field, "an array of strings", v)
			return
		}
		out := make([]string, 0, len(v.Elems))
		for _, e := range v.Elems {
			if e.Kind != jsonnode.String {
				bad(field, "an array of strings", v)
				return
			}
			out = append(out, e.Str)
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
	if v, ok := n.Get(FieldIsolated); ok {
		if v.Kind != jsonnode.Bool {
			bad(FieldIsolated, "true or false", v)
		} else {
			z.Isolated = v.Lit == "true"
		}
	}
	str(FieldParent, &z.Parent)
	str(FieldVariant, &z.Variant)
	str(FieldComment, &z.Comment)
	str(FieldDescription, &z.Description)
	// Strict keys: a typo must not pass as "absent" (`acess-to` would leave
	// a zone without rules). Keys starting with '_' are documentation.
	for _, k := range n.Keys {
		if isKnownField(k) || IsDocKey(k) {
			continue
		}
		msg := fmt.Sprintf("is not a zones.json key (at %s)", jsonPath(name, k))
		if near := closestField(k); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
			if _, present := n.Get(near); !present {
				if z.typo == nil {
					z.typo = map[string]string{}
				}
				z.typo[near] = k
			}
		} else {
			msg += "; expected one of " + strings.Join(canonicalOrder, ", ")
		}
		issues = append(issues, Issue{Zone: name, Field: k, Message: msg})
	}
	return z, issues
}

// jsonPath renders a path the way jq writes it: .srv["access-to"].
func jsonPath(keys ...string) string {
	var b strings.Builder
	for _, k := range keys {
		if k != "" && strings.IndexFunc(k, func(r rune) bool {
			return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) < 0 && (k[0] < '0' || k[0] > '9') {
			b.WriteString("." + k)
		} else {
			b.WriteString("[" + strconv.Quote(k) + "]")
		}
	}
	return b.String()
}

// closestField is the known key nearest to k (case-insensitive edit
// distance), or "" when none is near enough to be a typo of it.
func closestField(k string) string {
	best, bestD := "", -1
	for _, f := range canonicalOrder {
		d := editDistance(strings.ToLower(k), strings.ToLower(f))
		if d <= max(2, len(f)/3) && (bestD < 0 || d < bestD) {
			best, bestD = f, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes; keys are
// ASCII). Long inputs are not compared: they are no typo of a short key.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// encodeZone renders z, keeping orig's key order and unknown keys.
func encodeZone(z *Zone, orig *jsonnode.Node) *jsonnode.Node {
	present := map[string]bool{}
	if orig != nil {
		for _, k := range orig.Keys {
			present[k] = true
		}
	}
	value := func(k string) (*jsonnode.Node, bool) {
		if v, ok := z.raw[k]; ok {
			return v, true
		}
		num := func(i int, asString bool) *jsonnode.Node {
			if asString {
				return jsonnode.NewString(strconv.Itoa(i))
			}
			return jsonnode.NewInt(i)
		}
		switch k {
		case FieldType:
			return jsonnode.NewString(z.Type), true
		case FieldState:
			return jsonnode.NewString(string(z.State)), true
		case FieldTypeID:
			return num(z.TypeID, z.typeIDString), true
		case FieldSubID:
			return num(z.SubID, z.subIDString), true
		case FieldVLANTag:
			return num(z.VLANTag, z.vlanTagString), true
		case FieldIP:
			return jsonnode.NewString(z.IP), true
		case FieldBridge:
			return jsonnode.NewString(z.Bridge), true
		case FieldAccessTo:
			return jsonnode.NewStringArray(z.AccessTo), z.AccessTo != nil || present[k]
		case FieldPinhole:
			return jsonnode.NewStringArray(z.PinholeAllowedFrom), z.PinholeAllowedFrom != nil || present[k]
		case FieldDHCPStart:
			if z.DHCPStart == nil {
				return nil, false
			}
			return jsonnode.NewInt(*z.DHCPStart), true
		case FieldDHCPEnd:
			if z.DHCPEnd == nil {
				return nil, false
			}
			return jsonnode.NewInt(*z.DHCPEnd), true
		case FieldIsolated:
			return jsonnode.NewBool(z.Isolated), z.Isolated || present[k]
		case FieldSSID:
			return jsonnode.NewString(z.SSID), z.SSID != "" || present[k]
		case FieldParent:
			return jsonnode.NewString(z.Parent), z.Parent != "" || present[k]
		case FieldVariant:
			return jsonnode.NewString(z.Variant), z.Variant != "" || present[k]
		case FieldComment:
			return jsonnode.NewString(z.Comment), z.Comment != "" || present[k]
		case FieldDescription:
			return jsonnode.NewString(z.Description), true
		}
		return nil, false
	}
	out := &jsonnode.Node{Kind: jsonnode.Object}
	done := map[string]bool{}
	if orig != nil {
		for i, k := range orig.Keys {
			done[k] = true
			if !isKnownField(k) {
				out.Keys = append(out.Keys, k)
				out.Vals = append(out.Vals, orig.Vals[i])
				continue
			}
			if v, ok := value(k); ok {
				out.Keys = append(out.Keys, k)
				out.Vals = append(out.Vals, v)
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
		for j, ok := range out.Keys {
			if idx := slices.Index(canonicalOrder, ok); idx >= 0 && idx < ci {
				at = j + 1
			}
		}
		out.Keys = slices.Insert(out.Keys, at, k)
		out.Vals = slices.Insert(out.Vals, at, v)
	}
	return out
}

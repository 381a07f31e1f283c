package modules

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// Schema is upstream's module field table, src/foundation/module-fields.json:
// every field a module JSON may carry, its type, constraints, default and the
// services that require or use it.
type Schema struct {
	// Fields by name, as the schema's "fields" object.
	Fields map[string]*Field
	// Names in the schema's order (check_json iterates them in this order,
	// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/common-install-routines.sh:797).
	Names []string
	// Order is "fieldOrder", the canonical key order of a module JSON.
	Order []string
}

// Field is one entry of the schema (or a sub-field of an object or array item).
type Field struct {
	Name        string
	Type        string // string, integer, boolean, array, object, integer|string
	Description string
	Example     string // rendered as JSON text, "" when the schema has none
	// HasDefault is true when the schema names a default, even null
	// (check_json tests has("default"), common-install-routines.sh:803).
	HasDefault bool
	Default    *jsonnode.Node
	RequiredBy []string
	UsedBy     []string
	Pattern    *regexp.Regexp // "pattern"
	Format     *regexp.Regexp // "format" (a regular expression too)
	Values     []string       // allowed values, sorted as jq's keys[] prints them
	Min, Max   *int64
	Required   bool // sub-fields only: "required": true

	// Items is the element schema of an array: a bare type ("string",
	// "integer|string") or an object with Fields.
	Items *Field
	// Sub are the fields of an object (or of an array item object).
	Sub map[string]*Field
	// PatternProps maps a key pattern to the schema of matching members.
	PatternProps []PatternProp
}

// PatternProp is one "patternProperties" entry.
type PatternProp struct {
	Key    *regexp.Regexp
	Schema *Field
}

// ParseSchema reads module-fields.json.
func ParseSchema(data []byte) (*Schema, error) {
	root, err := jsonnode.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("module-fields.json: %w", err)
	}
	fields, ok := root.Get("fields")
	if !ok || fields.Kind != jsonnode.Object {
		return nil, fmt.Errorf("module-fields.json: no \"fields\" object")
	}
	s := &Schema{Fields: map[string]*Field{}}
	for i, name := range fields.Keys {
		f, err := parseField(name, fields.Vals[i])
		if err != nil {
			return nil, fmt.Errorf("module-fields.json: fields.%s: %w", name, err)
		}
		s.Fields[name] = f
		s.Names = append(s.Names, name)
	}
	if order, ok := root.Get("fieldOrder"); ok && order.Kind == jsonnode.Array {
		for _, e := range order.Elems {
			s.Order = append(s.Order, e.Text())
		}
	}
	return s, nil
}

func parseField(name string, n *jsonnode.Node) (*Field, error) {
	f := &Field{Name: name}
	if n.Kind == jsonnode.String { // a bare item type: "items": "string"
		f.Type = n.Str
		return f, nil
	}
	if n.Kind != jsonnode.Object {
		return nil, fmt.Errorf("is %s, expected an object", n.Kind)
	}
	str := func(k string) string {
		if v, ok := n.Get(k); ok && v.Kind == jsonnode.String {
			return v.Str
		}
		return ""
	}
	list := func(k string) []string {
		v, ok := n.Get(k)
		if !ok || v.Kind != jsonnode.Array {
			return nil
		}
		var out []string
		for _, e := range v.Elems {
			out = append(out, e.Text())
		}
		return out
	}
	re := func(k string) (*regexp.Regexp, error) {
		p := str(k)
		if p == "" {
			return nil, nil
		}
		r, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", k, p, err)
		}
		return r, nil
	}
	num := func(k string) (*int64, error) {
		v, ok := n.Get(k)
		if !ok {
			return nil, nil
		}
		i, err := strconv.ParseInt(v.Lit, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s %q is not an integer", k, v.Text())
		}
		return &i, nil
	}
	var err error
	f.Type = str("type")
	f.Description = str("description")
	if ex, ok := n.Get("example"); ok {
		f.Example = ex.Text()
	}
	f.Default, f.HasDefault = n.Get("default")
	f.RequiredBy, f.UsedBy = list("requiredBy"), list("usedBy")
	if r, ok := n.Get("required"); ok && r.Kind == jsonnode.Bool {
		f.Required = r.Lit == "true"
	}
	if f.Pattern, err = re("pattern"); err != nil {
		return nil, err
	}
	if f.Format, err = re("format"); err != nil {
		return nil, err
	}
	if v, ok := n.Get("values"); ok && v.Kind == jsonnode.Object {
		f.Values = slices.Sorted(slices.Values(v.Keys))
	}
	if f.Min, err = num("minimum"); err != nil {
		return nil, err
	}
	if f.Max, err = num("maximum"); err != nil {
		return nil, err
	}
	if it, ok := n.Get("items"); ok {
		if f.Items, err = parseField(name+"[]", it); err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
	}
	if sub, ok := n.Get("fields"); ok && sub.Kind == jsonnode.Object {
		f.Sub = map[string]*Field{}
		for i, k := range sub.Keys {
			if f.Sub[k], err = parseField(k, sub.Vals[i]); err != nil {
				return nil, fmt.Errorf("fields.%s: %w", k, err)
			}
		}
	}
	if pp, ok := n.Get("patternProperties"); ok && pp.Kind == jsonnode.Object {
		for i, k := range pp.Keys {
			r, err := regexp.Compile(k)
			if err != nil {
				return nil, fmt.Errorf("patternProperties %q: %w", k, err)
			}
			sf, err := parseField(k, pp.Vals[i])
			if err != nil {
				return nil, fmt.Errorf("patternProperties %q: %w", k, err)
			}
			f.PatternProps = append(f.PatternProps, PatternProp{Key: r, Schema: sf})
		}
	}
	return f, nil
}

// exampleText is a short example for fix hints, "" when the schema has none.
func (f *Field) exampleText() string {
	if f.Example == "" || len(f.Example) > 60 {
		return ""
	}
	return f.Example
}

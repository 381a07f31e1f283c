package modules

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/config/jsonnode"
	"github.com/tappaas/tappaas/config/zones"
)

// Options are what a module is validated against.
type Options struct {
	// Schema is module-fields.json. Required.
	Schema *Schema
	// Zones, when set, is the zones.json zone0/zone1 must name a zone of.
	// check_json skips the check when /home/tappaas/config/zones.json is
	// absent (common-install-routines.sh:942-955), so nil skips it too.
	Zones *zones.File
	// ZonesFile names Zones in messages.
	ZonesFile string
	// Nodes are the cluster's node hostnames (configuration.json
	// "tappaas-nodes"[].hostname). The first is a module's node when it has
	// none; without them it is "tappaas1" and HANode is not checked against
	// the list, as upstream does without configuration.json
	// (common-install-routines.sh:74-83, 927, 933).
	Nodes []string
}

// defaultNode is get_node_hostname's fallback without configuration.json
// (common-install-routines.sh:79-82).
const defaultNode = "tappaas1"

var (
	// intRE is check_json's integer test (common-install-routines.sh:845).
	intRE = regexp.MustCompile(`^-?[0-9]+$`)
	// depRE is dependsOn's item format and the key pattern of config blocks
	// (module-fields.json fields.dependsOn.format, fields.config.patternProperties).
	depRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*:[a-zA-Z][a-zA-Z0-9-]*$`)
)

type validator struct {
	o    Options
	file string
	r    Report
}

func (v *validator) find(sev Severity, rule string, p Path, fix, format string, args ...any) {
	ps := ""
	if p != nil {
		ps = p.String()
	}
	v.r.add(Finding{File: v.file, Path: ps, Severity: sev, Message: fmt.Sprintf(format, args...), Fix: fix, Rule: rule})
}

// Validate checks the module the way upstream's check_json does
// (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/common-install-routines.sh:719-968),
// with the same errors and warnings, plus the type checks check_json lacks
// (booleans, arrays, objects and their items, config blocks, dependsOn and
// provides items); those are errors with a Rule starting "tappaas:".
func (f *File) Validate(o Options) Report {
	v := &validator{o: o, file: f.Path}
	if o.Schema == nil {
		v.find(SevError, "tappaas:schema", nil, "pass module-fields.json", "no module field table to validate against")
		return v.r
	}
	s := o.Schema
	doc := f.doc

	// dependsOn as check_json sees it (.dependsOn // [], :785).
	var deps []string
	depsNode, depsPath, _ := f.Get("dependsOn")
	if depsNode != nil && depsNode.Kind == jsonnode.Array {
		for _, e := range depsNode.Elems {
			if e.Kind == jsonnode.String {
				deps = append(deps, e.Str)
			}
		}
	}

	// Pattern A (:744-775).
	if cfg, ok := doc.Get(ConfigKey); ok {
		if cfg.Kind != jsonnode.Object {
			v.find(SevError, "tappaas:config-type", Path{ConfigKey},
				`make "config" an object of blocks keyed by dependency, e.g. {"cluster:vm": {"cores": 2}}, or remove it`,
				"is %s, expected an object", cfg.Kind)
		} else {
			for i, k := range cfg.Keys {
				p := Path{ConfigKey, k}
				if !slices.Contains(deps, k) {
					// :751-758
					v.find(SevError, "check_json:config-undeclared", p,
						fmt.Sprintf("add %q to dependsOn, or move the block's fields to the top level", k),
						"config block '%s' is not a declared dependency — add it to dependsOn (#161)", k)
				}
				if !depRE.MatchString(k) {
					v.find(SevError, "tappaas:config-key", p, `name the block "<module>:<service>", e.g. "cluster:vm"`,
						"config block key %q does not match %s", k, depRE)
				}
				if b := cfg.Vals[i]; b.Kind != jsonnode.Object {
					v.find(SevError, "tappaas:config-block-type", p,
						"make the block an object of module fields, e.g. {\"cores\": 2}",
						"is %s, expected an object of module fields", b.Kind)
				}
			}
			// :760-772: a field in the header and a block, or in two blocks.
			where := map[string][]Path{}
			var order []string
			note := func(k string, p Path) {
				if where[k] == nil {
					order = append(order, k)
				}
				where[k] = append(where[k], p)
			}
			for _, k := range doc.Keys {
				if k != ConfigKey {
					note(k, Path{k})
				}
			}
			for i, blk := range cfg.Keys {
				if b := cfg.Vals[i]; b.Kind == jsonnode.Object {
					for _, k := range b.Keys {
						note(k, Path{ConfigKey, blk, k})
					}
				}
			}
			for _, k := range order {
				if ps := where[k]; len(ps) > 1 {
					names := make([]string, len(ps))
					for i, p := range ps {
						names[i] = p.String()
					}
					v.find(SevError, "check_json:config-collision", ps[len(ps)-1],
						"keep it in one place only: "+strings.Join(names, " or "),
						"field '%s' is set in both the header and a config block (or in two config blocks) — ambiguous (#161)", k)
				}
			}
		}
	}

	flat := f.Flat()
	get := func(k string) (Member, bool) {
		for _, m := range flat {
			if m.Key == k {
				return m, true
			}
		}
		return Member{}, false
	}

	// :787-791
	if slices.Contains(deps, DepVM.String()) && slices.Contains(deps, DepLXC.String()) {
		v.find(SevError, "check_json:vm-and-lxc", Path{"dependsOn"},
			"keep cluster:vm for a VM or cluster:lxc for a container, not both",
			"dependsOn declares both cluster:vm and cluster:lxc — a guest is a VM or a container, not both")
	}

	// :793-815: requiredBy ∩ dependsOn, no default.
	for _, name := range s.Names {
		fd := s.Fields[name]
		if len(fd.RequiredBy) == 0 || fd.HasDefault {
			continue
		}
		var by []string
		for _, r := range fd.RequiredBy {
			for _, d := range deps {
				if d == r {
					by = append(by, r)
				}
			}
		}
		if len(by) == 0 {
			continue
		}
		if _, ok := get(name); !ok {
			fix := fmt.Sprintf("add %q", name)
			if ex := fd.exampleText(); ex != "" {
				fix += " (e.g. " + ex + ")"
			}
			v.find(SevError, "check_json:required", Path{name}, fix,
				"Missing field: %s (required by %s)", name, strings.Join(by, ", "))
		}
	}

	// :817-908: each field.
	for _, m := range flat {
		if strings.HasPrefix(m.Key, "-") { // :822-825
			continue
		}
		fd, ok := s.Fields[m.Key]
		if !ok { // :828-832
			v.find(SevWarning, "check_json:unknown-field", m.Path,
				"remove it, or correct its name to one of module-fields.json's fields"+suggest(s, m.Key),
				"Unknown field: %s (not in schema)", m.Key)
			continue
		}
		v.field(fd, m.Key, m.Value, m.Path, true)
	}
	if depsNode != nil {
		v.duplicates(depsNode, depsPath)
	}

	// :910-920
	imageType := "clone"
	if m, ok := get("imageType"); ok && m.Value.Kind != jsonnode.Null && !(m.Value.Kind == jsonnode.Bool && m.Value.Lit == "false") {
		imageType = m.Value.Text()
	}
	if imageType == "iso" || imageType == "img" {
		if _, ok := get("imageLocation"); !ok {
			v.find(SevError, "check_json:image-location", Path{"imageLocation"},
				`add "imageLocation" (an http(s) URL or an absolute path to the directory holding the image), or use imageType "clone"`,
				"Field imageLocation is required when imageType is '%s'", imageType)
		}
	}

	// :922-940
	haNode := alt(get("HANode"))
	node := alt(get("node"))
	if node == "" {
		node = defaultNode
		if len(o.Nodes) > 0 {
			node = o.Nodes[0]
		}
	}
	if haNode != "" {
		m, _ := get("HANode")
		if haNode == node {
			v.find(SevError, "check_json:ha-node", m.Path,
				"set HANode to another node of the cluster (the replica must live elsewhere), or remove it",
				"HANode (%s) must be different from node (%s)", haNode, node)
		}
		if o.Nodes != nil && !slices.Contains(o.Nodes, haNode) {
			v.find(SevWarning, "check_json:ha-node-unknown", m.Path,
				"use one of the cluster's nodes: "+strings.Join(o.Nodes, ", "),
				"HANode '%s' not found in configuration.json tappaas-nodes", haNode)
		}
	}

	// :942-955
	if o.Zones != nil {
		for _, zf := range []string{"zone0", "zone1"} {
			m, ok := get(zf)
			z := alt(m, ok)
			if z == "" {
				continue
			}
			if o.Zones.Zone(z) == nil {
				v.find(SevError, "check_json:zone", m.Path,
					fmt.Sprintf("use a zone of %s (%s), or add the zone there first", o.zonesName(), strings.Join(o.Zones.Names(), ", ")),
					"Field %s: zone '%s' not found in zones.json", zf, z)
			}
		}
	}
	return v.r
}

func (o Options) zonesName() string {
	if o.ZonesFile != "" {
		return o.ZonesFile
	}
	return "zones.json"
}

// alt is jq's `.[k] // empty` as text: absent, null and false give "".
func alt(m Member, ok bool) string {
	if !ok || m.Value.Kind == jsonnode.Null || m.Value.Kind == jsonnode.Bool && m.Value.Lit == "false" {
		return ""
	}
	return m.Value.Text()
}

// field checks one value against its schema entry. top is true for module
// fields, where check_json's own checks apply (:842-907); sub-fields and
// items get the same checks as tappaas rules.
func (v *validator) field(fd *Field, key string, val *jsonnode.Node, p Path, top bool) {
	rule := func(check string) string {
		if top {
			return "check_json:" + check
		}
		return "tappaas:" + check
	}
	switch fd.Type {
	case "integer":
		v.integer(fd, key, val, p, rule)
	case "integer|string":
		if val.Kind == jsonnode.String && !intRE.MatchString(val.Str) {
			v.portRange(fd, val, p)
			return
		}
		v.integer(fd, key, val, p, func(c string) string { return "tappaas:" + c })
	case "string":
		switch val.Kind {
		case jsonnode.Null, jsonnode.Array, jsonnode.Object:
			// check_json would test the text jq -r prints; tappaas refuses.
			v.find(SevError, "tappaas:type", p, "write a string"+exampleHint(fd),
				"Field %s: is %s, expected a string", key, val.Kind)
			return
		}
		// Numbers and booleans pass as their text, as in check_json and its
		// readers (upstream ships "cloudInit": true, src/apps/nextcloud/nextcloud.json:40).
		t := val.Text()
		if fd.Pattern != nil && !fd.Pattern.MatchString(t) { // :867-875
			v.find(SevError, rule("pattern"), p, "write a value matching "+fd.Pattern.String()+exampleHint(fd),
				"Field %s: value '%s' does not match pattern '%s'", key, t, fd.Pattern)
		}
		if fd.Format != nil && !fd.Format.MatchString(t) { // :877-885
			v.find(SevError, rule("format"), p, "write a value matching "+fd.Format.String()+exampleHint(fd),
				"Field %s: value '%s' does not match format '%s'", key, t, fd.Format)
		}
		if len(fd.Values) > 0 && !slices.Contains(fd.Values, t) { // :887-905
			v.find(SevError, rule("values"), p, "use one of: "+strings.Join(fd.Values, ", "),
				"Field %s: invalid value '%s'", key, t)
		}
	case "boolean":
		if val.Kind != jsonnode.Bool {
			v.find(SevError, "tappaas:type", p, "write true or false (without quotes)",
				"Field %s: is %s, expected a boolean", key, val.Kind)
		}
	case "array":
		if key == "discoveryMdns" && top && val.Kind == jsonnode.Bool && val.Lit == "true" {
			// module-fields.json fields.discoveryMdns.note: "Boolean true is deprecated."
			v.find(SevWarning, "tappaas:deprecated", p, `list the consumer zones instead, e.g. ["home"]`,
				"Field %s: true is deprecated", key)
			return
		}
		if val.Kind != jsonnode.Array {
			v.find(SevError, "tappaas:type", p, "write a JSON array"+exampleHint(fd),
				"Field %s: is %s, expected an array", key, val.Kind)
			return
		}
		for i, e := range val.Elems {
			if fd.Items != nil {
				v.item(fd.Items, key, e, p.with(i))
			}
			// check_json does not look inside arrays; dependsOn and provides
			// carry their item format in "format".
			if fd.Format != nil && e.Kind == jsonnode.String && !fd.Format.MatchString(e.Str) {
				v.find(SevError, "tappaas:format", p.with(i), "write an entry matching "+fd.Format.String()+exampleHint(fd),
					"%s entry %q does not match %s", key, e.Str, fd.Format)
			}
		}
	case "object":
		if val.Kind != jsonnode.Object {
			if val.Kind == jsonnode.Null && fd.HasDefault && fd.Default != nil && fd.Default.Kind == jsonnode.Null {
				return // the schema's own default (windows: null)
			}
			v.find(SevError, "tappaas:type", p, "write a JSON object"+exampleHint(fd),
				"Field %s: is %s, expected an object", key, val.Kind)
			return
		}
		v.object(fd, key, val, p)
	}
}

// item checks one array element.
func (v *validator) item(it *Field, key string, e *jsonnode.Node, p Path) {
	if it.Type == "object" || it.Sub != nil {
		if e.Kind != jsonnode.Object {
			v.find(SevError, "tappaas:type", p, "write each element as an object", "%s element is %s, expected an object", key, e.Kind)
			return
		}
		v.object(it, key, e, p)
		return
	}
	if it.Type == "string" && e.Kind != jsonnode.String {
		v.find(SevError, "tappaas:type", p, "write each element as a string in quotes", "%s element is %s, expected a string", key, e.Kind)
		return
	}
	if it.Type == "integer|string" {
		v.field(it, key, e, p, false)
	}
}

// object checks an object's members against Sub / PatternProps.
func (v *validator) object(fd *Field, key string, val *jsonnode.Node, p Path) {
	for i, k := range val.Keys {
		mp, mv := p.with(k), val.Vals[i]
		if sf, ok := fd.Sub[k]; ok {
			v.field(sf, k, mv, mp, false)
			continue
		}
		if len(fd.PatternProps) == 0 {
			continue // members the table does not describe are not checked
		}
		pp := fd.patternFor(k)
		switch {
		case pp == nil:
			v.find(SevError, "tappaas:key", mp, "rename it to match "+fd.PatternProps[0].Key.String(),
				"%s: key %q does not match %s", key, k, fd.PatternProps[0].Key)
		case mv.Kind == jsonnode.Object:
			v.object(pp.Schema, k, mv, mp)
		case pp.Schema.Type == "object":
			v.find(SevError, "tappaas:type", mp, "write an object", "%s: is %s, expected an object", k, mv.Kind)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(fd.Sub)) {
		sf := fd.Sub[name]
		if _, ok := val.Get(name); sf.Required && !ok {
			v.find(SevError, "tappaas:required", p.with(name), fmt.Sprintf("add %q", name)+exampleHint(sf),
				"%s: missing required field %s", key, name)
		}
	}
}

// patternFor returns the patternProperties entry matching key, or nil.
func (fd *Field) patternFor(key string) *PatternProp {
	for i := range fd.PatternProps {
		if fd.PatternProps[i].Key.MatchString(key) {
			return &fd.PatternProps[i]
		}
	}
	return nil
}

// integer is check_json's integer test with minimum and maximum (:844-863).
func (v *validator) integer(fd *Field, key string, val *jsonnode.Node, p Path, rule func(string) string) {
	i, ok := intValue(val)
	if !ok {
		fix := "write a whole number"
		if fd.Min != nil && fd.Max != nil {
			fix += fmt.Sprintf(" from %d to %d", *fd.Min, *fd.Max)
		} else if fd.Min != nil {
			fix += fmt.Sprintf(" of at least %d", *fd.Min)
		}
		v.find(SevError, rule("integer"), p, fix+exampleHint(fd), "Field %s: expected integer, got '%s'", key, val.Text())
		return
	}
	if fd.Min != nil && i < *fd.Min {
		v.find(SevError, rule("minimum"), p, fmt.Sprintf("use %d or more", *fd.Min), "Field %s: value %d is below minimum %d", key, i, *fd.Min)
	}
	if fd.Max != nil && i > *fd.Max {
		v.find(SevError, rule("maximum"), p, fmt.Sprintf("use %d or less", *fd.Max), "Field %s: value %d exceeds maximum %d", key, i, *fd.Max)
	}
}

// portRange checks a port given as "low:high" (module-fields.json
// fields.ports.items.fields.port: "port range as a string (e.g. '8000:8010')").
func (v *validator) portRange(fd *Field, val *jsonnode.Node, p Path) {
	lo, hi, ok := strings.Cut(val.Str, ":")
	a, errA := strconv.ParseInt(lo, 10, 64)
	b, errB := strconv.ParseInt(hi, 10, 64)
	min, max := int64(1), int64(65535)
	if fd.Min != nil {
		min = *fd.Min
	}
	if fd.Max != nil {
		max = *fd.Max
	}
	if !ok || errA != nil || errB != nil || a < min || b > max || a > b {
		v.find(SevError, "tappaas:port", p, fmt.Sprintf("write a port number from %d to %d, or a range \"low:high\" such as \"8000:8010\"", min, max),
			"%s: %q is neither a port nor a port range", fd.Name, val.Str)
	}
}

// duplicates refuses a dependency listed twice: the providers would run twice.
func (v *validator) duplicates(n *jsonnode.Node, p Path) {
	if n.Kind != jsonnode.Array {
		return // reported as a type error
	}
	seen := map[string]bool{}
	for i, e := range n.Elems {
		if e.Kind != jsonnode.String {
			continue // reported as a type error
		}
		if seen[e.Str] {
			v.find(SevError, "tappaas:duplicate", p.with(i), "list each dependency once", "dependsOn lists %q twice", e.Str)
		}
		seen[e.Str] = true
	}
}

func exampleHint(fd *Field) string {
	if ex := fd.exampleText(); ex != "" {
		return ", e.g. " + ex
	}
	return ""
}

// suggest names a schema field that differs from k only in case.
func suggest(s *Schema, k string) string {
	for _, n := range s.Names {
		if strings.EqualFold(n, k) {
			return fmt.Sprintf(" (did you mean %q?)", n)
		}
	}
	return ""
}

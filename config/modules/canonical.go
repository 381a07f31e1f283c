package modules

import (
	"fmt"
	"slices"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// headerPinned are the fields that stay at the top of the canonical form
// (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/convert-json-to-config.sh:50).
var headerPinned = []string{"vmname", "vmid", "vmtag", "node", "zone0", "zone1", "mac0", "mac1", "dependsOn", "provides", "config", "variant"}

// Canonical returns the module in the canonical Pattern A form upstream
// writes installed configs in (regroup_to_pattern_a,
// convert-json-to-config.sh:69-173), byte for byte as jq renders it:
//
//  1. config blocks are flattened (jq `. * block`, then del(.config));
//  2. every field not pinned to the header whose usedBy names no "general"
//     and meets dependsOn moves to config."<first such dependency in
//     dependsOn order>", taking fields in jq's sorted key order (so blocks
//     appear in the order their alphabetically first field creates them);
//  3. the top level and each block are ordered by the schema's fieldOrder,
//     fields not in it after, in their current order.
//
// Unknown fields and fields whose services the module does not depend on
// stay at the top (upstream warns about them; Validate reports the unknown
// ones). Canonical is idempotent. It fails where jq would: a config block
// or a config value that is not an object.
func (f *File) Canonical(s *Schema) (*File, error) {
	flat := f.doc.Clone()
	if f.PatternA() {
		cfg, _ := flat.Get(ConfigKey)
		flat.Delete(ConfigKey)
		for i, blk := range cfg.Keys {
			b := cfg.Vals[i]
			if b.Kind != jsonnode.Object {
				return nil, fmt.Errorf("%s: %s is %s: a config block must be an object", f.Path, Path{ConfigKey, blk}, b.Kind)
			}
			flat = deepMerge(flat, b)
		}
	}
	var deps []string
	if d, ok := flat.Get("dependsOn"); ok && d.Kind == jsonnode.Array {
		for _, e := range d.Elems {
			if e.Kind == jsonnode.String {
				deps = append(deps, e.Str)
			}
		}
	}
	owner := func(k string) string {
		fd := s.Fields[k]
		if fd == nil || slices.Contains(fd.UsedBy, "general") {
			return ""
		}
		for _, d := range deps {
			if slices.Contains(fd.UsedBy, d) {
				return d
			}
		}
		return ""
	}
	// jq's keys[] is sorted by code point; Go's string order is the same.
	keys := slices.Sorted(slices.Values(flat.Keys))
	for _, k := range keys {
		if slices.Contains(headerPinned, k) {
			continue
		}
		svc := owner(k)
		if svc == "" {
			continue
		}
		v, _ := flat.Get(k)
		cfg, ok := flat.Get(ConfigKey)
		if !ok {
			cfg = &jsonnode.Node{Kind: jsonnode.Object}
			flat.Set(ConfigKey, cfg)
		} else if cfg.Kind != jsonnode.Object {
			return nil, fmt.Errorf("%s: .config is %s: it must be an object to take %s", f.Path, cfg.Kind, k)
		}
		blk, ok := cfg.Get(svc)
		if !ok {
			blk = &jsonnode.Node{Kind: jsonnode.Object}
			cfg.Set(svc, blk)
		}
		blk.Set(k, v)
		flat.Delete(k)
	}
	top := reorder(flat, s.Order)
	if cfg, ok := top.Get(ConfigKey); ok && cfg.Kind == jsonnode.Object {
		for i := range cfg.Vals {
			if cfg.Vals[i].Kind == jsonnode.Object {
				cfg.Vals[i] = reorder(cfg.Vals[i], s.Order)
			}
		}
	}
	return &File{Path: f.Path, doc: top, indent: "  ", newline: true, edited: true}, nil
}

// reorder puts obj's keys in order's order, the others after as they were.
func reorder(obj *jsonnode.Node, order []string) *jsonnode.Node {
	out := &jsonnode.Node{Kind: jsonnode.Object}
	for _, k := range order {
		if v, ok := obj.Get(k); ok {
			out.Set(k, v)
		}
	}
	for i, k := range obj.Keys {
		if !slices.Contains(order, k) {
			out.Set(k, obj.Vals[i])
		}
	}
	return out
}

package modules

import (
	"fmt"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// Pinhole is a provided service's services/<svc>/pinhole.json: the ports it
// exposes to consumers in other zones (module-fields.json
// module_structure.files."services/<service-name>/pinhole.json"; example
// TAPPaaS@f54e4fc:src/apps/litellm/services/models/pinhole.json).
type Pinhole struct {
	Path  string
	Ports []PinholePort
}

// PinholePort is one exposed port.
type PinholePort struct {
	Port        string // "4000" or a range "8000:8010"
	Protocol    string // TCP (default), UDP, TCP/UDP, ICMP
	Description string
}

// pinholeSchema is module_structure's pinhole.json schema in Field form;
// it shares the item schema of the module field "ports".
func pinholeSchema(s *Schema) *Field {
	return &Field{Name: "ports", Type: "array", Items: s.Fields["ports"].Items, Required: true}
}

// ParsePinhole reads and validates a pinhole.json. The file must be a JSON
// object; problems with its ports are in the Report.
func ParsePinhole(s *Schema, name string, data []byte) (*Pinhole, Report, error) {
	root, err := jsonnode.Parse(data)
	if err != nil {
		return nil, Report{}, fmt.Errorf("%s: %w: invalid JSON: %v", name, ErrSyntax, err)
	}
	if root.Kind != jsonnode.Object {
		return nil, Report{}, fmt.Errorf("%s: %w: the top-level value is %s, expected an object with \"ports\"", name, ErrSyntax, root.Kind)
	}
	v := &validator{file: name}
	ph := &Pinhole{Path: name}
	ports, ok := root.Get("ports")
	if !ok {
		v.find(SevError, "tappaas:required", Path{"ports"}, `add "ports": [{"port": 8080, "protocol": "TCP", "description": "…"}]`, "missing required field ports")
		return ph, v.r, nil
	}
	if s == nil || s.Fields["ports"] == nil || s.Fields["ports"].Items == nil {
		return nil, Report{}, fmt.Errorf("the module field table has no \"ports\" item schema")
	}
	v.field(pinholeSchema(s), "ports", ports, Path{"ports"}, false)
	for _, e := range ports.Elems {
		if e.Kind != jsonnode.Object {
			continue
		}
		pp := PinholePort{Protocol: "TCP"}
		if x, ok := e.Get("port"); ok {
			pp.Port = x.Text()
		}
		if x, ok := e.Get("protocol"); ok {
			pp.Protocol = x.Text()
		}
		if x, ok := e.Get("description"); ok {
			pp.Description = x.Text()
		}
		ph.Ports = append(ph.Ports, pp)
	}
	for i, k := range root.Keys {
		if k != "ports" && k != "_comment" {
			v.find(SevWarning, "tappaas:unknown-field", Path{k}, `remove it; pinhole.json holds "ports" and an optional "_comment"`, "Unknown field: %s", root.Keys[i])
		}
	}
	return ph, v.r, nil
}

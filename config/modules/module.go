package modules

import (
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// Module is the typed view of a module's fields (flattened, as upstream's
// readers see them). Absent fields are zero; upstream's defaults are in the
// Schema. Values of the wrong type are zero here and reported by Validate.
type Module struct {
	Name        string       `json:"name"`   // the file's module name (file stem)
	VMName      string       `json:"vmname"` // vmname, or Name when absent
	Description string       `json:"description,omitempty"`
	Version     string       `json:"version,omitempty"`
	AppVersion  string       `json:"appVersion,omitempty"`
	Status      string       `json:"status,omitempty"`
	Maintainer  string       `json:"maintainer,omitempty"`
	Variant     string       `json:"variant,omitempty"`
	Location    string       `json:"location,omitempty"`
	VMID        int          `json:"vmid,omitempty"` // 0: no guest of its own
	Node        string       `json:"node,omitempty"`
	HANode      string       `json:"HANode,omitempty"`
	Zone0       string       `json:"zone0,omitempty"`
	Zone1       string       `json:"zone1,omitempty"`
	Cores       int          `json:"cores,omitempty"`
	Memory      int          `json:"memory,omitempty"` // MB; upstream stores "4096" or 4096
	DiskSize    string       `json:"diskSize,omitempty"`
	ImageType   string       `json:"imageType,omitempty"`
	Image       string       `json:"image,omitempty"`
	IP          string       `json:"ip,omitempty"`
	ProxyDomain string       `json:"proxyDomain,omitempty"`
	ProxyPort   int          `json:"proxyPort,omitempty"`
	DependsOn   []Dependency `json:"dependsOn,omitempty"`
	Provides    []string     `json:"provides,omitempty"`
}

// Dependency is one dependsOn entry, "<provider>:<service>"
// (module-fields.json fields.dependsOn).
type Dependency struct {
	Provider string // the module providing the service (e.g. "cluster")
	Service  string // the service (e.g. "vm")
}

// String renders the dependency as written in dependsOn.
func (d Dependency) String() string { return d.Provider + ":" + d.Service }

// MarshalText renders the dependency as written in dependsOn.
func (d Dependency) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ParseDependency splits "<provider>:<service>".
func ParseDependency(s string) (Dependency, bool) {
	p, svc, ok := strings.Cut(s, ":")
	if !ok || !depRE.MatchString(s) {
		return Dependency{}, false
	}
	return Dependency{Provider: p, Service: svc}, true
}

// Well-known dependencies.
var (
	DepVM  = Dependency{"cluster", "vm"}
	DepLXC = Dependency{"cluster", "lxc"}
)

// Has reports whether the module depends on d.
func (m Module) Has(d Dependency) bool {
	for _, x := range m.DependsOn {
		if x == d {
			return true
		}
	}
	return false
}

// Guest says what the module runs in: "vm", "lxc" or "" (service-only).
func (m Module) Guest() string {
	switch {
	case m.Has(DepVM):
		return "vm"
	case m.Has(DepLXC):
		return "lxc"
	}
	return ""
}

// EffectiveName is the name a variant install uses for the installed config
// and the VM: <module>-<variant> (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/copy-update-json.sh:371-372,
// vmname → <source vmname>-<variant> at :253-258).
func EffectiveName(module, variant string) string {
	if variant == "" {
		return module
	}
	return module + "-" + variant
}

// Module decodes the flattened view.
func (f *File) Module() Module {
	m := Module{Name: f.Name()}
	for _, mem := range f.Flat() {
		v := mem.Value
		str := func(dst *string) {
			if v.Kind == jsonnode.String || v.Kind == jsonnode.Number || v.Kind == jsonnode.Bool {
				*dst = v.Text()
			}
		}
		num := func(dst *int) {
			if i, ok := intValue(v); ok {
				*dst = int(i)
			}
		}
		switch mem.Key {
		case "vmname":
			str(&m.VMName)
		case "description":
			str(&m.Description)
		case "version":
			str(&m.Version)
		case "appVersion":
			str(&m.AppVersion)
		case "status":
			str(&m.Status)
		case "maintainer":
			str(&m.Maintainer)
		case "variant":
			str(&m.Variant)
		case "location":
			str(&m.Location)
		case "vmid":
			num(&m.VMID)
		case "node":
			str(&m.Node)
		case "HANode":
			str(&m.HANode)
		case "zone0":
			str(&m.Zone0)
		case "zone1":
			str(&m.Zone1)
		case "cores":
			num(&m.Cores)
		case "memory":
			num(&m.Memory)
		case "diskSize":
			str(&m.DiskSize)
		case "imageType":
			str(&m.ImageType)
		case "image":
			str(&m.Image)
		case "ip":
			str(&m.IP)
		case "proxyDomain":
			str(&m.ProxyDomain)
		case "proxyPort":
			num(&m.ProxyPort)
		case "dependsOn":
			for _, e := range v.Elems {
				if d, ok := ParseDependency(e.Str); ok && e.Kind == jsonnode.String {
					m.DependsOn = append(m.DependsOn, d)
				}
			}
		case "provides":
			for _, e := range v.Elems {
				if e.Kind == jsonnode.String {
					m.Provides = append(m.Provides, e.Str)
				}
			}
		}
	}
	if m.VMName == "" {
		m.VMName = m.Name
	}
	return m
}

// intValue reads an integer the way check_json accepts one: a number or a
// string whose `jq -r` text matches ^-?[0-9]+$ (common-install-routines.sh:845).
// A number written with a fraction or exponent is refused (stricter than jq,
// which may print 4096.0 as 4096).
func intValue(v *jsonnode.Node) (int64, bool) {
	if v.Kind != jsonnode.Number && v.Kind != jsonnode.String {
		return 0, false
	}
	t := v.Text()
	if !intRE.MatchString(t) {
		return 0, false
	}
	i, err := strconv.ParseInt(t, 10, 64)
	return i, err == nil
}

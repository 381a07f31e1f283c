package opnsense

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Record is one stored record: field → string value (the way config.xml
// holds it).
type Record map[string]string

func (r Record) clone() Record {
	out := make(Record, len(r))
	for k, v := range r {
		out[k] = v
	}
	return out
}

// Table is an ordered collection of records keyed by uuid (or ifname).
type Table struct {
	Order []string          `json:"order"`
	Rows  map[string]Record `json:"rows"`
}

func newTable() *Table { return &Table{Rows: map[string]Record{}} }

func (t *Table) clone() *Table {
	n := &Table{Order: append([]string(nil), t.Order...), Rows: make(map[string]Record, len(t.Rows))}
	for k, r := range t.Rows {
		n.Rows[k] = r.clone()
	}
	return n
}

func (t *Table) put(id string, r Record) {
	if _, ok := t.Rows[id]; !ok {
		t.Order = append(t.Order, id)
	}
	t.Rows[id] = r
}

func (t *Table) del(id string) bool {
	if _, ok := t.Rows[id]; !ok {
		return false
	}
	delete(t.Rows, id)
	for i, o := range t.Order {
		if o == id {
			t.Order = append(t.Order[:i], t.Order[i+1:]...)
			break
		}
	}
	return true
}

// kind is a field type; it decides validation and how get renders it.
type kind int

const (
	kText     kind = iota
	kBool          // "0"/"1"
	kInt           // decimal within [min,max]
	kOption        // one of opts
	kMulti         // comma list of opts
	kIface         // one assigned interface (dynamic option)
	kIfaces        // comma list of assigned interfaces
	kIP            // one IP address
	kIPList        // comma list of IP addresses
	kMACList       // comma list of MAC addresses
	kHostname      // DNS label(s)
	kDomain        // DNS domain
	kNet           // rule address: any, IP, CIDR, alias, interface keyword
	kPort          // "", port, range a-b / a:b, port alias
	kLines         // newline-separated entries (alias content)
)

type field struct {
	name     string
	kind     kind
	required bool
	def      string
	opts     []string // kOption/kMulti: allowed values ("" allowed when listed)
	min, max int      // kInt
	readonly bool     // rejected on write
}

type collection struct {
	table      string // key in State.Tables
	module     string
	controller string
	thing      string // Item, Range, Rule, …
	monad      string
	service    string // apply group
	fields     []field
	toggle     bool
	// check adds cross-field validation messages (field → message).
	check func(s *Server, id string, r Record, v map[string]string)
	// prepare runs before validation of an add/set (old is nil for a new
	// record): it may supply field values (the VLAN device name) or refuse
	// the write with validations, like a controller's own checks.
	prepare func(s *Server, old Record, in map[string]any) (set Record, fail map[string]any)
	// saved runs after a valid write, before it is stored (old is nil for a
	// new record): side effects such as renaming references.
	saved func(s *Server, old, rec Record)
	// inUse refuses deletes with a UserException message.
	inUse func(s *Server, id string) string
	// search renders a row value differently from the stored one.
	display func(s *Server, id string, r Record, row map[string]any)
	// avail limits the collection to some firmware versions.
	avail func(o *Options) bool
}

func (c *collection) field(name string) *field {
	for i := range c.fields {
		if c.fields[i].name == name {
			return &c.fields[i]
		}
	}
	return nil
}

// defaults is a blank record.
func (c *collection) defaults() Record {
	r := Record{}
	for _, f := range c.fields {
		r[f.name] = f.def
	}
	return r
}

var (
	reHostLabel = regexp.MustCompile(`^(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$`)
	reDomain    = regexp.MustCompile(`^([A-Za-z0-9_]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	reAliasName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)
	reMAC       = regexp.MustCompile(`^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$`)
	reUUID      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// validField checks one value; "" is the message for valid.
func (s *Server) validField(c *collection, f *field, v string) string {
	if v == "" {
		if f.required {
			return "A value is required."
		}
		return ""
	}
	switch f.kind {
	case kBool:
		if v != "0" && v != "1" {
			return "Value should be a boolean (0,1)."
		}
	case kInt:
		n, err := strconv.Atoi(v)
		if err != nil || n < f.min || n > f.max {
			return fmt.Sprintf("Value should be between %d and %d.", f.min, f.max)
		}
	case kOption:
		if !contains(f.opts, v) {
			return "Option not in list."
		}
	case kMulti:
		for _, p := range strings.Split(v, ",") {
			if !contains(f.opts, p) {
				return "Option not in list."
			}
		}
	case kIface:
		if !s.ifaceKnown(v) {
			return "Option not in list."
		}
	case kIfaces:
		for _, p := range strings.Split(v, ",") {
			if !s.ifaceKnown(p) {
				return "Option not in list."
			}
		}
	case kIP:
		if _, err := netip.ParseAddr(v); err != nil {
			return "Please specify a valid IP address."
		}
	case kIPList:
		for _, p := range strings.Split(v, ",") {
			if _, err := netip.ParseAddr(strings.TrimSpace(p)); err != nil {
				return "Please specify a valid IP address."
			}
		}
	case kMACList:
		for _, p := range strings.Split(v, ",") {
			if !reMAC.MatchString(strings.TrimSpace(p)) {
				return "Please specify a valid MAC address."
			}
		}
	case kHostname:
		if !reHostLabel.MatchString(v) {
			return "A valid hostname is required."
		}
	case kDomain:
		if !reDomain.MatchString(v) || len(v) > 253 {
			return "A valid domain must be specified."
		}
	case kNet:
		if !s.validNet(v) {
			return fmt.Sprintf("%s is not a valid source IP address or alias.", v)
		}
	case kPort:
		if !s.validPort(v) {
			return fmt.Sprintf("%s is not a valid port or alias.", v)
		}
	case kText, kLines:
		if len(v) > 4096 {
			return "Text too long."
		}
	}
	return ""
}

func contains(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) ifaceKnown(name string) bool {
	_, ok := s.st.Tables[tIfaces].Rows[name]
	return ok
}

func (s *Server) aliasNamed(name string) (string, bool) {
	t := s.st.Tables[tAlias]
	for _, id := range t.Order {
		if t.Rows[id]["name"] == name {
			return id, true
		}
	}
	return "", false
}

// validNet accepts any, an IP, a CIDR, an alias name, "(self)", an
// interface network keyword ("lan", "opt1") or "<if>ip".
func (s *Server) validNet(v string) bool {
	if v == "any" || v == "(self)" {
		return true
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	if _, err := netip.ParsePrefix(v); err == nil {
		return true
	}
	if id, ok := s.aliasNamed(v); ok { // NetworkAliasField: not port aliases
		return !strings.Contains(s.st.Tables[tAlias].Rows[id]["type"], "port")
	}
	return s.ifaceKnown(v) || s.ifaceKnown(strings.TrimSuffix(v, "ip"))
}

func (s *Server) validPort(v string) bool {
	isPort := func(p string) bool {
		n, err := strconv.Atoi(p)
		return err == nil && n >= 1 && n <= 65535
	}
	if isPort(v) {
		return true
	}
	for _, sep := range []string{"-", ":"} {
		if a, b, ok := strings.Cut(v, sep); ok && isPort(a) && isPort(b) {
			return true
		}
	}
	if id, ok := s.aliasNamed(v); ok {
		return s.st.Tables[tAlias].Rows[id]["type"] == "port"
	}
	return false
}

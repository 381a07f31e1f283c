package zones

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// Issue is one validation finding. Zone is "" for file-wide findings.
type Issue struct {
	Zone    string `json:"zone,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (i Issue) String() string {
	switch {
	case i.Zone != "" && i.Field != "":
		return fmt.Sprintf("zone %s, field %s: %s", i.Zone, i.Field, i.Message)
	case i.Zone != "":
		return fmt.Sprintf("zone %s: %s", i.Zone, i.Message)
	}
	return i.Message
}

// Report is the result of Validate. Errors make the file unusable; Warnings
// are what upstream tolerates (and its own file contains).
type Report struct {
	Errors   []Issue `json:"errors"`
	Warnings []Issue `json:"warnings"`
}

// OK reports whether there are no errors.
func (r Report) OK() bool { return len(r.Errors) == 0 }

// Err returns nil without errors, else a *ReportError listing them.
func (r Report) Err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	return &ReportError{Issues: r.Errors}
}

// For returns the issues (errors, warnings) that concern one zone.
func (r Report) For(zone string) (errs, warns []Issue) {
	for _, i := range r.Errors {
		if i.Zone == zone {
			errs = append(errs, i)
		}
	}
	for _, i := range r.Warnings {
		if i.Zone == zone {
			warns = append(warns, i)
		}
	}
	return errs, warns
}

// ReportError is a failed validation as an error.
type ReportError struct{ Issues []Issue }

func (e *ReportError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = is.String()
	}
	return fmt.Sprintf("%d zone error(s): %s", len(e.Issues), strings.Join(parts, "; "))
}

// nameRE is the camelCase rule of zone-controller and module-fields.json
// (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/migrate-zone-keys-to-camelcase.sh:3-4,
// scripts/test/test-zone-name-validation.sh:3).
var nameRE = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// MaxNameLen keeps zone names usable as OPNsense interface descriptions.
const MaxNameLen = 32

// MaxDescriptionLen is OPNsense's DescriptionField limit in bytes
// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Base/FieldTypes/DescriptionField.php:64).
const MaxDescriptionLen = 255

// ValidateName checks a zone key.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("is empty, expected a camelCase name such as srvHome")
	case IsDocKey(name):
		return fmt.Errorf("starts with '_', which marks documentation keys, expected a camelCase name")
	case name == KeywordInternet || name == KeywordAll:
		return fmt.Errorf("%q is an access-to keyword, choose another name", name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("is %d characters, expected at most %d", len(name), MaxNameLen)
	case !nameRE.MatchString(name):
		return fmt.Errorf("%q is not camelCase: expected a lower-case letter then letters and digits only (no '-', '_' or spaces), e.g. srvHome", name)
	}
	return nil
}

// ValidateCIDR checks an "ip" value: an IPv4 network in CIDR notation.
func ValidateCIDR(s string) error {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	switch {
	case s == "":
		return fmt.Errorf("is empty, expected an IPv4 network such as 10.2.10.0/24")
	case err != nil:
		return fmt.Errorf("%q is not a CIDR, expected an IPv4 network such as 10.2.10.0/24", s)
	case !p.Addr().Is4():
		return fmt.Errorf("%q is not IPv4, expected an IPv4 network such as 10.2.10.0/24", s)
	case p.Masked() != p:
		return fmt.Errorf("%q has host bits set, expected the network address %s", s, p.Masked())
	case p.Bits() > 30:
		return fmt.Errorf("%q is too small for a gateway and clients, expected a prefix of /30 or shorter", s)
	}
	return nil
}

// Validate checks every rule of the zones model (enforced and implied) and returns all
// findings at once, in zone order.
func (f *File) Validate() Report {
	v := &validator{f: f, byName: make(map[string]*Zone, len(f.Zones))}
	v.r.Errors = append(v.r.Errors, f.decodeIs...)
	for _, z := range f.Zones {
		if _, dup := v.byName[z.Name]; dup {
			v.err(z, FieldName, "is used by two zones, expected unique names")
		}
		v.byName[z.Name] = z
	}
	v.isolated = f.isolatedZones()
	v.index()
	for _, z := range f.Zones {
		v.zone(z)
	}
	v.crossZone()
	return v.r
}

// Check validates z as it would be after SetZone(old, z) and returns only the
// findings about z (for inline form validation).
func (f *File) Check(old string, z *Zone) Report {
	c := f.Clone()
	c.SetZone(old, z)
	full := c.Validate()
	var r Report
	r.Errors, r.Warnings = full.For(z.Name)
	return r
}

// IsolatedZones returns the zones that may appear in no access-to but
// mgmt's: those with "isolated": true, plus the zones named by upstream's
// _README.isolation_invariant.rule text (iotCams, iotUntrust).
func (f *File) IsolatedZones() []string {
	m := f.isolatedZones()
	out := make([]string, 0, len(m))
	for _, z := range f.Zones {
		if m[z.Name] {
			out = append(out, z.Name)
		}
	}
	return out
}

var wordRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9]*`)

func (f *File) isolatedZones() map[string]bool {
	m := map[string]bool{}
	for _, z := range f.Zones {
		if z.Isolated {
			m[z.Name] = true
		}
	}
	readme, ok := f.doc.Get("_README")
	if !ok {
		return m
	}
	inv, ok := readme.Get("isolation_invariant")
	if !ok {
		return m
	}
	rule, ok := inv.Get("rule")
	if !ok || rule.Kind != jsonnode.String {
		return m
	}
	// Only the parenthesised list names the isolated zones; the rest of the
	// sentence talks about access-to and pinholes in general.
	text := ""
	if i := strings.Index(rule.Str, "("); i >= 0 {
		if j := strings.Index(rule.Str[i:], ")"); j > 0 {
			text = rule.Str[i : i+j]
		}
	}
	names := map[string]bool{}
	for _, z := range f.Zones {
		names[z.Name] = true
	}
	for _, w := range wordRE.FindAllString(text, -1) {
		if names[w] {
			m[w] = true
		}
	}
	return m
}

type validator struct {
	f        *File
	r        Report
	byName   map[string]*Zone
	isolated map[string]bool
	seen     map[string]bool // scratch for access-to entries that are no zone

	// Zone names as small indices (value: the zone byName holds), so that
	// an access-to entry costs one map lookup; stamp[i] == gen marks the
	// zones already listed by the access-to being checked.
	idx   map[string]int32
	zs    []*Zone
	iso   []bool
	stamp []uint32
	gen   uint32
}

func (v *validator) index() {
	v.idx = make(map[string]int32, len(v.byName))
	for _, z := range v.f.Zones {
		if _, ok := v.idx[z.Name]; !ok {
			v.idx[z.Name] = int32(len(v.zs))
			v.zs = append(v.zs, v.byName[z.Name])
			v.iso = append(v.iso, v.isolated[z.Name])
		}
	}
	v.stamp = make([]uint32, len(v.zs))
}

func (v *validator) err(z *Zone, field, format string, a ...any) {
	v.r.Errors = append(v.r.Errors, Issue{Zone: z.Name, Field: field, Message: fmt.Sprintf(format, a...)})
}

func (v *validator) warn(z *Zone, field, format string, a ...any) {
	v.r.Warnings = append(v.r.Warnings, Issue{Zone: z.Name, Field: field, Message: fmt.Sprintf(format, a...)})
}

// bad reports whether a field failed to decode or is absent because its key
// is misspelt (both already reported): its value says nothing.
func (v *validator) bad(z *Zone, field string) bool {
	_, ok := z.raw[field]
	_, typo := z.typo[field]
	return ok || typo
}

func (v *validator) zone(z *Zone) {
	if err := ValidateName(z.Name); err != nil {
		v.err(z, FieldName, "%v", err)
	}

	// type ↔ typeId
	wantID, knownType := Types[z.Type]
	switch {
	case v.bad(z, FieldType):
	case z.Type == "":
		v.err(z, FieldType, "is missing, expected one of %s", strings.Join(TypeNames, ", "))
	case !knownType:
		v.err(z, FieldType, "%q is not a zone type, expected one of %s", z.Type, strings.Join(TypeNames, ", "))
	case z.Type == "Test":
		v.warn(z, FieldType, "type Test (typeId 8) is used by upstream but missing from its zones-fields.json schema; accepted")
	}
	if !v.bad(z, FieldTypeID) {
		switch {
		case z.TypeID < 0 || z.TypeID > 9:
			v.err(z, FieldTypeID, "is %d, expected a single digit 0-9 (the VLAN band)", z.TypeID)
		case knownType && z.TypeID != wantID:
			v.err(z, FieldTypeID, "is %d, expected %d for type %s", z.TypeID, wantID, z.Type)
		}
	}
	if !v.bad(z, FieldSubID) && (z.SubID < 0 || z.SubID > 99) {
		v.err(z, FieldSubID, "is %d, expected 0-99", z.SubID)
	}

	// vlantag
	computed := z.TypeID*100 + z.SubID
	if !v.bad(z, FieldVLANTag) {
		switch {
		case z.VLANTag < 0 || z.VLANTag > 4094:
			v.err(z, FieldVLANTag, "is %d, expected 0-4094 (0 = untagged)", z.VLANTag)
		case z.VLANTag == 0 && computed != 0:
			if z.Type != "Overlay" {
				v.warn(z, FieldVLANTag, "is 0 (untagged) although typeId×100+subId = %d; the zone gets no VLAN", computed)
			}
		case z.VLANTag != computed:
			v.err(z, FieldVLANTag, "is %d, expected typeId×100+subId = %d (or 0 for untagged)", z.VLANTag, computed)
		}
		if z.vlanTagString {
			v.warn(z, FieldVLANTag, "is stored as a string; upstream's zone-manager compares it as a number")
		}
	}

	// ip
	if !v.bad(z, FieldIP) {
		if err := ValidateCIDR(z.IP); err != nil {
			v.err(z, FieldIP, "%v", err)
		} else if z.Type != "Overlay" {
			want := fmt.Sprintf("10.%d.%d.0/24", z.TypeID, z.SubID)
			if z.IP != want && z.TypeID >= 0 && z.TypeID <= 255 && z.SubID >= 0 && z.SubID <= 255 {
				v.warn(z, FieldIP, "is %s, off the usual pattern 10.typeId.subId.0/24 = %s (upstream tolerates this)", z.IP, want)
			}
		}
	}

	// state
	if !v.bad(z, FieldState) && !slices.Contains(States, z.State) {
		hint := ""
		for _, s := range States {
			if strings.EqualFold(string(s), string(z.State)) || (strings.EqualFold(string(z.State), "manadatory") && s == Mandatory) {
				hint = fmt.Sprintf(" (did you mean %s? states are case-sensitive)", s)
			}
		}
		if z.State == "" {
			v.err(z, FieldState, "is missing, expected one of Active, Mandatory, Inactive, Disabled, Manual")
		} else {
			v.err(z, FieldState, "%q is not a state, expected one of Active, Mandatory, Inactive, Disabled, Manual%s", z.State, hint)
		}
	}
	if z.Type == "Overlay" && (z.State != Manual || z.VLANTag != 0) {
		v.warn(z, FieldState, "an Overlay zone is expected to be Manual with vlantag 0 (it has no interface, DHCP or rules)")
	}

	// bridge
	if !v.bad(z, FieldBridge) {
		switch {
		case z.Bridge == "":
			v.err(z, FieldBridge, "is missing, expected one of %s", strings.Join(Bridges, ", "))
		case !slices.Contains(Bridges, z.Bridge):
			v.err(z, FieldBridge, "%q is not a known bridge, expected one of %s", z.Bridge, strings.Join(Bridges, ", "))
		case z.Bridge != "lan" && z.Tagged() && z.State.Enabled():
			v.warn(z, FieldBridge, "is %s; its VLAN goes on %s, as upstream's zone-manager puts it (lan→vtnet0, any other bridge→vtnet1)", z.Bridge, ParentOf(z.Bridge))
		}
	}

	// DHCP
	v.dhcp(z)

	// SSID placeholders
	if strings.HasPrefix(z.SSID, "<") && strings.HasSuffix(z.SSID, ">") {
		v.warn(z, FieldSSID, "%s is a placeholder, set the real WiFi name before using it", z.SSID)
	}

	// The description is the VLAN's descr, an OPNsense DescriptionField:
	// at most 255 bytes (the PCRE /^(.){1,255}$/ without /u counts bytes),
	// no newline, no NUL, VT or FF
	// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Interfaces/Vlan.xml:50,
	// …/Base/FieldTypes/DescriptionField.php:64, …/Base/FieldTypes/TextField.php:120-124).
	// Checked here, before any change: the firewall would refuse it half-way.
	if !v.bad(z, FieldDescription) {
		switch d := z.Description; {
		case len(d) > MaxDescriptionLen:
			v.err(z, FieldDescription, "is %d bytes, expected at most %d (the firewall's limit for a VLAN description)", len(d), MaxDescriptionLen)
		case strings.ContainsAny(d, "\n\r"):
			v.err(z, FieldDescription, "contains a line break, expected one line (the firewall refuses newlines in descriptions)")
		case strings.ContainsAny(d, "\x00\v\f"):
			v.err(z, FieldDescription, "contains a control character (NUL, VT or FF), expected plain text")
		}
	}

	// access-to
	if !v.bad(z, FieldAccessTo) {
		v.gen++
		if v.gen == 0 { // wrapped: reset the marks
			clear(v.stamp)
			v.gen = 1
		}
		if len(v.seen) > 0 {
			clear(v.seen)
		}
		sawAll := false
		for _, t := range z.AccessTo {
			i, isZone := v.idx[t]
			if isZone {
				if v.stamp[i] == v.gen {
					v.err(z, FieldAccessTo, "lists %q twice, expected each zone once (zone-manager numbers the rules by position)", t)
					continue
				}
				v.stamp[i] = v.gen
			} else {
				if v.seen[t] {
					v.warn(z, FieldAccessTo, "lists %q twice", t)
					continue
				}
				if v.seen == nil {
					v.seen = map[string]bool{}
				}
				v.seen[t] = true
			}
			sawAll = sawAll || t == KeywordAll
			switch {
			case t == KeywordInternet || t == KeywordAll:
			case t == z.Name:
				v.warn(z, FieldAccessTo, "lists the zone itself; traffic inside a zone does not cross the firewall")
			case !isZone:
				v.err(z, FieldAccessTo, "%q is not a zone, expected a zone name, %q or %q", t, KeywordInternet, KeywordAll)
			case v.iso[i] && z.Name != "mgmt":
				v.err(z, FieldAccessTo, "%q is an isolated zone and may appear in no access-to but mgmt's (isolation invariant); grant narrow access with the target's pinhole-allowed-from instead", t)
			case z.State.Enabled() && !v.zs[i].State.Enabled() && v.zs[i].State != Manual:
				v.warn(z, FieldAccessTo, "%q is %s; the rule is created but the target subnet has no interface", t, v.zs[i].State)
			}
		}
		if n := len(z.AccessTo) - countKeywords(z.AccessTo); n > MaxAccessTargets {
			v.err(z, FieldAccessTo, "lists %d zones, expected at most %d (zone-manager's pass rules occupy base+1 … base+%d)", n, MaxAccessTargets, MaxAccessTargets)
		}
		if sawAll && len(z.AccessTo) > 1 {
			v.warn(z, FieldAccessTo, "contains %q, which allows everything; the other entries have no effect", KeywordAll)
		}
	}
	if !v.bad(z, FieldPinhole) {
		for _, t := range z.PinholeAllowedFrom {
			if t != KeywordInternet && v.byName[t] == nil {
				v.err(z, FieldPinhole, "%q is not a zone, expected a zone name or %q", t, KeywordInternet)
			}
		}
	}
}

func (v *validator) dhcp(z *Zone) {
	if v.bad(z, FieldDHCPStart) || v.bad(z, FieldDHCPEnd) {
		return
	}
	s, e := z.DHCPOffsets()
	rangeOK := true
	for _, c := range []struct {
		field string
		val   *int
	}{{FieldDHCPStart, z.DHCPStart}, {FieldDHCPEnd, z.DHCPEnd}} {
		if c.val != nil && (*c.val < 1 || *c.val > 254) {
			v.err(z, c.field, "is %d, expected an offset 1-254", *c.val)
			rangeOK = false
		}
	}
	if !rangeOK {
		return
	}
	if s >= e {
		v.err(z, FieldDHCPStart, "is %d, expected less than DHCP-end (%d)", s, e)
		return
	}
	if s == 1 {
		v.err(z, FieldDHCPStart, "is 1, which is the gateway address; expected 2 or more")
		return
	}
	p, ok := z.Prefix()
	if !ok || !z.Tagged() || z.Type == "Overlay" {
		return // no pool is served for untagged/overlay zones
	}
	if _, ok := addOffset(p, e); !ok {
		field := FieldDHCPEnd
		if z.DHCPEnd == nil {
			v.err(z, field, "default %d lies outside %s, expected an offset below %d; set DHCP-start/DHCP-end", e, z.IP, (1<<(32-p.Bits()))-1)
		} else {
			v.err(z, field, "is %d, outside %s, expected an offset below %d", e, z.IP, (1<<(32-p.Bits()))-1)
		}
	}
}

func (v *validator) crossZone() {
	// VLAN tags unique; one untagged (non-overlay) zone per bridge.
	tags := map[int]*Zone{}
	untagged := map[string]*Zone{}
	descs := map[string]*Zone{}
	for _, z := range v.f.Zones {
		if z.VLANTag > 0 {
			if o, ok := tags[z.VLANTag]; ok {
				v.err(z, FieldVLANTag, "%d is already used by zone %s, expected a unique tag", z.VLANTag, o.Name)
			} else {
				tags[z.VLANTag] = z
			}
		} else if z.Type != "Overlay" && !v.bad(z, FieldVLANTag) {
			if o, ok := untagged[z.Bridge]; ok {
				v.err(z, FieldVLANTag, "is 0 (untagged) like zone %s on bridge %s, expected only one untagged zone per bridge", o.Name, z.Bridge)
			} else {
				untagged[z.Bridge] = z
			}
		}
		if z.Description != "" {
			if o, ok := descs[z.Description]; ok {
				v.warn(z, FieldDescription, "is the same as zone %s's; keep descriptions unique (they label VLANs)", o.Name)
			} else {
				descs[z.Description] = z
			}
		}
	}
	// Overlapping subnets: sort by first address, sweep keeping the widest.
	type span struct {
		z       *Zone
		lo, hi  uint32
		fileIdx int
	}
	var spans []span
	for i, z := range v.f.Zones {
		p, ok := z.Prefix()
		if !ok || ValidateCIDR(z.IP) != nil {
			continue
		}
		b := p.Addr().As4()
		lo := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		hi := lo | (uint32(1)<<(32-p.Bits()) - 1)
		spans = append(spans, span{z: z, lo: lo, hi: hi, fileIdx: i})
	}
	slices.SortFunc(spans, func(a, b span) int {
		if c := cmp.Compare(a.lo, b.lo); c != 0 {
			return c
		}
		return cmp.Compare(a.fileIdx, b.fileIdx)
	})
	var widest *span
	for i := range spans {
		s := &spans[i]
		if widest != nil && s.lo <= widest.hi {
			a, b := widest, s
			if b.fileIdx < a.fileIdx {
				a, b = b, a
			}
			v.err(b.z, FieldIP, "%s overlaps zone %s (%s), expected a subnet no other zone uses", b.z.IP, a.z.Name, a.z.IP)
		}
		if widest == nil || s.hi > widest.hi {
			widest = s
		}
	}
	// Keep errors in zone (file) order for readable output.
	order := map[string]int{}
	for i, z := range v.f.Zones {
		order[z.Name] = i
	}
	sortIssues := func(is []Issue) {
		slices.SortStableFunc(is, func(a, b Issue) int { return cmp.Compare(order[a.Zone], order[b.Zone]) })
	}
	sortIssues(v.r.Errors)
	sortIssues(v.r.Warnings)
}

// countKeywords counts "internet" and "all" entries, as zone-manager
// recognises them (case-insensitive).
func countKeywords(l []string) int {
	n := 0
	for _, t := range l {
		if strings.EqualFold(t, KeywordInternet) || strings.EqualFold(t, KeywordAll) {
			n++
		}
	}
	return n
}

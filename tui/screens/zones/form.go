package zones

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"

	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/tui/common"
)

// formValues are the form's bound strings.
type formValues struct {
	name, typ, subID, state string
	tagged                  bool
	ip, dhcpStart, dhcpEnd  string
	access                  []string
	description             string
	orig                    *cz.Zone // nil for a new zone
}

func valuesOf(z *cz.Zone) *formValues {
	v := &formValues{name: z.Name, typ: z.Type, subID: strconv.Itoa(z.SubID), state: string(z.State),
		tagged: z.VLANTag != 0, ip: z.IP, access: slices.Clone(z.AccessTo), description: z.Description, orig: z}
	if z.DHCPStart != nil {
		v.dhcpStart = strconv.Itoa(*z.DHCPStart)
	}
	if z.DHCPEnd != nil {
		v.dhcpEnd = strconv.Itoa(*z.DHCPEnd)
	}
	return v
}

// zone builds the candidate zone; errs name fields that do not parse.
func (v *formValues) zone() (*cz.Zone, []cz.Issue) {
	var z *cz.Zone
	if v.orig != nil {
		z = v.orig.Clone()
	} else {
		z = cz.NewZone(v.name, v.typ, 0)
	}
	var errs []cz.Issue
	bad := func(field, msg string) { errs = append(errs, cz.Issue{Zone: v.name, Field: field, Message: msg}) }
	z.Name = strings.TrimSpace(v.name)
	z.Type = v.typ
	z.TypeID = cz.Types[v.typ]
	z.State = cz.State(v.state)
	sub, err := strconv.Atoi(strings.TrimSpace(v.subID))
	if err != nil {
		bad(cz.FieldSubID, fmt.Sprintf("%q is not a number, expected 0-99", v.subID))
	}
	z.SubID = sub
	z.VLANTag = 0
	if v.tagged {
		z.VLANTag = z.TypeID*100 + z.SubID
	}
	z.IP = strings.TrimSpace(v.ip)
	if z.IP == "" {
		z.IP = fmt.Sprintf("10.%d.%d.0/24", z.TypeID, z.SubID)
	}
	offset := func(field, s string) *int {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		i, err := strconv.Atoi(s)
		if err != nil {
			bad(field, fmt.Sprintf("%q is not a number, expected an offset 1-254 (empty = default)", s))
			return nil
		}
		return &i
	}
	z.DHCPStart = offset(cz.FieldDHCPStart, v.dhcpStart)
	z.DHCPEnd = offset(cz.FieldDHCPEnd, v.dhcpEnd)
	z.AccessTo = slices.Clone(v.access)
	if z.AccessTo == nil {
		z.AccessTo = []string{}
	}
	z.Description = v.description
	return z, errs
}

// fieldCheck validates the candidate zone within the file and returns the
// first error about one of fields (the same validators as `zones validate`).
func (m *Model) fieldCheck(fields ...string) error {
	z, perr := m.fv.zone()
	for _, is := range perr {
		if slices.Contains(fields, is.Field) {
			return errors.New(is.Message)
		}
	}
	if len(perr) > 0 {
		return nil // another field does not parse; it reports itself
	}
	for _, is := range m.file.Check(m.editing, z).Errors {
		if slices.Contains(fields, is.Field) {
			return errors.New(is.Message)
		}
	}
	return nil
}

func (m *Model) openForm(z *cz.Zone) tea.Cmd {
	m.formErrs = nil
	if z == nil {
		m.editing = ""
		m.fv = &formValues{typ: "Service", state: string(cz.Active), tagged: true, subID: "", access: []string{cz.KeywordInternet}}
	} else {
		m.editing = z.Name
		m.fv = valuesOf(z)
	}
	return m.buildForm()
}

func (m *Model) buildForm() tea.Cmd {
	v := m.fv
	var targets []huh.Option[string]
	targets = append(targets, huh.NewOption("internet", cz.KeywordInternet), huh.NewOption("all (everything)", cz.KeywordAll))
	for _, z := range m.file.Zones {
		if z.Name != m.editing {
			targets = append(targets, huh.NewOption(z.Name, z.Name))
		}
	}
	var states []huh.Option[string]
	for _, s := range cz.States {
		states = append(states, huh.NewOption(string(s), string(s)))
	}
	var types []huh.Option[string]
	for _, t := range cz.TypeNames {
		types = append(types, huh.NewOption(fmt.Sprintf("%s (%d)", t, cz.Types[t]), t))
	}
	ident := huh.NewGroup(
		huh.NewInput().Key("name").Title("Name").Description("camelCase, e.g. srvHome").Value(&v.name).
			Validate(func(string) error { return m.fieldCheck(cz.FieldName) }),
		huh.NewSelect[string]().Key("type").Title("Type").Options(types...).Value(&v.typ).Inline(true).
			Validate(func(string) error { return m.fieldCheck(cz.FieldType, cz.FieldTypeID) }),
		// The VLAN tag follows from type and sub-ID: a tag another zone
		// uses is reported here, where it is fixed (on the VLAN field of
		// the next group, Shift+Tab could not go back past the error).
		huh.NewInput().Key("subId").Title("Sub-ID (0-99)").Value(&v.subID).
			Validate(func(string) error { return m.fieldCheck(cz.FieldSubID, cz.FieldVLANTag) }),
		huh.NewSelect[string]().Key("state").Title("State").Options(states...).Value(&v.state).Inline(true).
			Validate(func(string) error { return m.fieldCheck(cz.FieldState) }),
	).Title("Zone")
	network := huh.NewGroup(
		huh.NewConfirm().Key("tagged").Title("VLAN").Description("tagged: VLAN typeId×100+subId; untagged: native LAN").
			Affirmative("tagged").Negative("untagged").Value(&v.tagged),
		huh.NewInput().Key("ip").Title("Subnet (CIDR)").Description("empty = 10.typeId.subId.0/24").Value(&v.ip).
			Validate(func(string) error { return m.fieldCheck(cz.FieldIP) }),
		huh.NewInput().Key("dhcpStart").Title("DHCP start offset").Description("empty = 50").Value(&v.dhcpStart).
			Validate(func(string) error { return m.fieldCheck(cz.FieldDHCPStart) }),
		huh.NewInput().Key("dhcpEnd").Title("DHCP end offset").Description("empty = 250").Value(&v.dhcpEnd).
			Validate(func(string) error { return m.fieldCheck(cz.FieldDHCPEnd, cz.FieldDHCPStart) }),
	).Title("Network")
	access := huh.NewGroup(
		huh.NewMultiSelect[string]().Key("access").Title("Access to").Options(targets...).Value(&v.access).Height(8).
			Validate(func([]string) error { return m.fieldCheck(cz.FieldAccessTo) }),
		huh.NewInput().Key("description").Title("Description").Value(&v.description),
	).Title("Access")
	m.form = huh.NewForm(ident, network, access).WithShowHelp(false).WithShowErrors(false).WithTheme(formTheme(m.com)).
		WithWidth(max(m.width, 40)).WithHeight(max(m.height-4, 6))
	m.mode = modeForm
	return m.form.Init()
}

func (m *Model) updateForm(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "esc" {
		m.mode, m.form = modeTable, nil
		m.setStatus(false, "edit cancelled")
		return m, nil
	}
	f, cmd := m.form.Update(msg)
	if ff, ok := f.(*huh.Form); ok {
		m.form = ff
	}
	m.recheckFormErrs()
	switch m.form.State {
	case huh.StateCompleted:
		z, perr := m.fv.zone()
		errs := perr
		if len(perr) == 0 {
			errs = m.file.Check(m.editing, z).Errors
		}
		if len(errs) > 0 {
			m.formErrs = errs
			return m, m.buildForm()
		}
		old := m.editing
		m.file.SetZone(old, z)
		if old != "" && old != z.Name {
			m.renameRefs(old, z.Name)
		}
		m.dirty = true
		m.revalidate()
		m.mode, m.form = modeTable, nil
		for i, x := range m.file.Zones {
			if x.Name == z.Name {
				m.sel = i
			}
		}
		verb := "added"
		if old != "" {
			verb = "updated"
		}
		m.setStatus(false, "%s zone %s; press s to save", verb, z.Name)
		return m, nil
	case huh.StateAborted:
		m.mode, m.form = modeTable, nil
		return m, nil
	}
	return m, cmd
}

// recheckFormErrs drops the errors of the last submit that the operator
// has fixed since: a fixed error does not stay on screen.
func (m *Model) recheckFormErrs() {
	if len(m.formErrs) == 0 {
		return
	}
	z, perr := m.fv.zone()
	now := perr
	if len(perr) == 0 {
		now = m.file.Check(m.editing, z).Errors
	}
	var keep []cz.Issue
	for _, e := range m.formErrs {
		for _, n := range now {
			if n.Field == e.Field {
				keep = append(keep, n)
				break
			}
		}
	}
	m.formErrs = keep
}

func (m *Model) viewForm() string {
	st := m.com.Styles
	title := "New zone"
	if m.editing != "" {
		title = "Edit zone " + m.editing
	}
	w := max(m.width, 20)
	var b strings.Builder
	b.WriteString(st.Title.Render(title) + "\n")
	// Errors wrap (never cut: the fix hint is at the end), as in the
	// install wizard.
	for _, e := range m.formErrs {
		b.WriteString(st.Error.Width(w).Render("✗ "+e.Field+": "+e.Message) + "\n")
	}
	if fe := common.FieldError(st, m.form, w); fe != "" {
		b.WriteString(fe + "\n")
	}
	b.WriteString(m.form.View())
	return b.String()
}

// formTheme follows the app's colour choice: base-16 with colour, a plain
// theme (bold/reverse) without.
func formTheme(com *common.Common) huh.Theme {
	if !com.Styles.NoColor {
		return huh.ThemeFunc(huh.ThemeBase16)
	}
	return huh.ThemeFunc(func(bool) *huh.Styles {
		t := huh.ThemeBase(false)
		t.Focused.Title = lipgloss.NewStyle().Bold(true)
		t.Focused.SelectedOption = lipgloss.NewStyle().Bold(true)
		t.Focused.Description = lipgloss.NewStyle().Faint(true)
		// Without colour the chosen button (tagged/untagged) is marked
		// in brackets, not only by a background colour nobody sees.
		chosen := lipgloss.Border{Left: "[", Right: "]"}
		t.Focused.FocusedButton = lipgloss.NewStyle().Bold(true).Reverse(true).
			Border(chosen, false, true, false, true).MarginRight(1)
		t.Focused.BlurredButton = lipgloss.NewStyle().Padding(0, 1).MarginRight(1)
		t.Blurred = t.Focused
		return t
	})
}

// renameRefs follows a rename in every other zone's access lists.
func (m *Model) renameRefs(old, name string) {
	for _, x := range m.file.Zones {
		c := x.Clone()
		changed := false
		for _, list := range [][]string{c.AccessTo, c.PinholeAllowedFrom} {
			for i, s := range list {
				if s == old {
					list[i] = name
					changed = true
				}
			}
		}
		if changed {
			m.file.SetZone(x.Name, c)
		}
	}
}

package zones

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/config/zones/zonestest"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// host runs the screen as a tea.Model and records root-bound messages.
type host struct {
	s   *Model
	got []tea.Msg
}

func (h *host) Init() tea.Cmd  { return h.s.Init() }
func (h *host) View() tea.View { return tea.NewView(h.s.View()) }
func (h *host) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		h.s.SetSize(msg.Width, msg.Height)
		return h, nil
	case common.GoHomeMsg:
		h.got = append(h.got, msg)
		return h, nil
	}
	s, cmd := h.s.Update(msg)
	h.s = s.(*Model)
	return h, cmd
}

type env struct {
	h     *host
	d     *tuitest.Driver
	fw    *zonestest.Fake
	path  string
	saves int
}

func newEnv(t *testing.T, f *cz.File, w, h int) *env {
	t.Helper()
	e := &env{fw: zonestest.New(), path: filepath.Join(t.TempDir(), "zones.json")}
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	deps := Deps{
		Path: "/etc/tappaas/zones.json", // shown; Save writes to the temp file
		Save: func(_ string, f *cz.File) error { e.saves++; return f.WriteFileAtomic(e.path) },
		Plan: func(ctx context.Context, f *cz.File) (*cz.Changes, error) {
			cur, err := cz.Snapshot(ctx, e.fw)
			if err != nil {
				return nil, err
			}
			return cz.Plan(f, cur), nil
		},
		Apply: func(ctx context.Context, ch *cz.Changes, out func(string)) error {
			return cz.ApplyWith(ctx, e.fw, ch, cz.ApplyOptions{Out: out, PingDelay: time.Millisecond})
		},
	}
	e.h = &host{s: New(com, f, deps)}
	e.d = tuitest.NewDriver(t, e.h, w, h)
	return e
}

func (e *env) view() string { return tuitest.Plain(e.h.s.View()) }

// golden compares the view with the temp path replaced by a fixed name.
func (e *env) golden(t *testing.T, name string) {
	t.Helper()
	tuitest.Golden(t, name, e.h.s.View(), *update)
}

func (e *env) waitView(t *testing.T, want string) {
	t.Helper()
	if !e.d.WaitFor(func() bool { return strings.Contains(e.view(), want) }, 5*time.Second) {
		t.Fatalf("view never showed %q:\n%s", want, e.view())
	}
}

func defaultFile(t *testing.T) *cz.File {
	t.Helper()
	f, err := cz.Default()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestGoldenTableAndMatrix(t *testing.T) {
	t.Parallel()
	for _, sz := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"120x40", 120, 40}} {
		e := newEnv(t, defaultFile(t), sz.w, sz.h)
		e.d.Key("down")
		e.golden(t, "table-"+sz.name)
		e.d.Key("m")
		e.golden(t, "matrix-"+sz.name)
		e.d.Key("esc")
		e.d.Key("p")
		e.waitView(t, "Plan against the firewall")
		e.golden(t, "plan-"+sz.name)
		for _, l := range strings.Split(e.view(), "\n") {
			if len([]rune(l)) > sz.w {
				t.Fatalf("line wider than %d: %q", sz.w, l)
			}
		}
		if n := strings.Count(e.view(), "\n"); n > sz.h {
			t.Fatalf("%d lines at height %d", n, sz.h)
		}
	}
}

func TestUpstreamTableGolden(t *testing.T) {
	t.Parallel()
	f, err := cz.LoadFile("../../../config/zones/testdata/upstream-zones.json")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, f, 80, 24)
	for range 12 {
		e.d.Key("down") // scrolls to iotCloud
	}
	e.golden(t, "upstream-table-80x24")
}

func TestGoldenForm(t *testing.T) {
	t.Parallel()
	for _, sz := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"120x40", 120, 40}} {
		e := newEnv(t, defaultFile(t), sz.w, sz.h)
		e.d.Key("a")
		e.waitView(t, "New zone")
		e.golden(t, "form-new-"+sz.name)
		e.d.Type("guest")
		e.d.Key("enter")
		for range 3 {
			e.d.Key("right")
		}
		e.d.Key("enter")
		e.d.Type("10")
		e.d.Key("enter")
		e.d.Key("enter")
		e.waitView(t, "Subnet (CIDR)")
		e.d.Key("enter")
		e.d.Type("10.3.10.0/24")
		e.d.Key("enter")
		e.waitView(t, "overlaps zone private")
		e.golden(t, "form-overlap-"+sz.name)
	}
}

// TestAddZoneOverlapFixSavePlan is the editor walk-through: add a zone, see
// the overlap error inline, fix it, save, plan.
func TestAddZoneOverlapFixSavePlan(t *testing.T) {
	t.Parallel()
	e := newEnv(t, defaultFile(t), 80, 24)
	d := e.d
	d.Key("a")
	e.waitView(t, "New zone")
	d.Type("guest")
	d.Key("enter")
	for range 3 { // Service → Client → IoT → Guest (inline: right)
		d.Key("right")
	}
	d.Key("enter")
	d.Type("10")
	d.Key("enter")
	d.Key("enter") // state Active
	e.waitView(t, "Subnet (CIDR)")
	d.Key("enter") // tagged
	d.Type("10.3.10.0/24")
	d.Key("enter")
	e.waitView(t, "overlaps zone private")
	for range len("10.3.10.0/24") {
		d.Key("backspace")
	}
	d.Type("10.5.10.0/24")
	d.Key("enter")
	d.Key("enter") // DHCP start default
	d.Key("enter") // DHCP end default
	e.waitView(t, "Access to")
	d.Key("enter") // access-to: internet (preselected)
	d.Type("Visitors")
	d.Key("enter")
	e.waitView(t, "added zone guest")
	z := e.h.s.File().Zone("guest")
	if z == nil || z.VLANTag != 510 || z.IP != "10.5.10.0/24" || z.Type != "Guest" || z.Description != "Visitors" {
		t.Fatalf("zone = %+v", z)
	}
	if _, err := os.Stat(e.path); err == nil {
		t.Fatal("file written before save")
	}
	d.Key("s")
	e.waitView(t, "saved /etc/tappaas/zones.json")
	saved, err := cz.LoadFile(e.path)
	if err != nil || saved.Zone("guest") == nil || !saved.Validate().OK() {
		t.Fatalf("saved file: %v", err)
	}
	if e.h.s.dirty {
		t.Fatal("still dirty after save")
	}
	d.Key("p")
	e.waitView(t, "Plan against the firewall")
	if txt := e.h.s.plan.Text(); !strings.Contains(txt, "zone guest:\n  + vlan      vlan0.510 on vtnet0 tag 510") {
		t.Fatalf("plan:\n%s", txt)
	}
}

func TestEditCancelDeleteAndLeave(t *testing.T) {
	t.Parallel()
	e := newEnv(t, defaultFile(t), 80, 24)
	d := e.d
	d.Key("down") // srv
	d.Key("e")
	e.waitView(t, "Edit zone srv")
	if !e.h.s.Capturing() {
		t.Fatal("form does not capture keys")
	}
	d.Key("esc")
	e.waitView(t, "edit cancelled")
	d.Key("d")
	e.waitView(t, "Delete zone srv")
	d.Key("n")
	if e.h.s.File().Zone("srv") == nil {
		t.Fatal("deleted although declined")
	}
	d.Key("d")
	d.Key("y")
	e.waitView(t, "deleted zone srv (references removed from 3 zone(s))")
	if !e.h.s.rep.OK() {
		t.Fatalf("file invalid after delete: %v", e.h.s.rep.Err())
	}
	d.Key("esc")
	e.waitView(t, "unsaved changes")
	if len(e.h.got) != 0 {
		t.Fatal("left with unsaved changes on first esc")
	}
	d.Key("esc")
	if !d.WaitFor(func() bool { return len(e.h.got) == 1 }, time.Second) {
		t.Fatal("second esc did not go home")
	}
	if e.saves != 0 {
		t.Fatal("saved without s")
	}
}

func TestSaveRefusedWhenInvalid(t *testing.T) {
	t.Parallel()
	f := defaultFile(t)
	z := f.Zone("iot").Clone()
	z.IP = "10.2.10.0/24"
	f.SetZone("iot", z)
	e := newEnv(t, f, 80, 24)
	e.d.Key("s")
	e.waitView(t, "not saved: 1 error(s)")
	if e.saves != 0 {
		t.Fatal("Save called for an invalid file")
	}
	if _, err := os.Stat(e.path); err == nil {
		t.Fatal("file written")
	}
	e.d.Key("p")
	e.waitView(t, "cannot plan")
	// The table marks the bad zone and shows its error.
	for range 3 {
		e.d.Key("down")
	}
	e.waitView(t, "✗ ip: 10.2.10.0/24 overlaps zone srv")
}

func TestPlanApplyConfirm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, defaultFile(t), 120, 40)
	d := e.d
	d.Key("p")
	e.waitView(t, "43 to create, 1 to update")
	d.Key("A")
	e.waitView(t, "to the firewall? y/n")
	d.Key("n")
	if e.fw.Writes() != 0 {
		t.Fatal("applied although declined")
	}
	d.Key("A")
	d.Key("y")
	e.waitView(t, "applied 44 change(s)")
	if e.fw.Writes() == 0 {
		t.Fatal("nothing applied")
	}
	d.Key("p")
	e.waitView(t, "No changes: the firewall matches the zones.")
}

func TestRenameFollowsReferences(t *testing.T) {
	t.Parallel()
	e := newEnv(t, defaultFile(t), 80, 24)
	d := e.d
	d.Key("down")
	d.Key("down")
	d.Key("down") // iot
	d.Key("enter")
	e.waitView(t, "Edit zone iot")
	for range 3 {
		d.Key("backspace")
	}
	d.Type("things")
	for range 10 { // through every field with its current value
		d.Key("enter")
	}
	e.waitView(t, "updated zone things")
	f := e.h.s.File()
	if f.Zone("iot") != nil || !f.Zone("private").HasAccess("things") || !f.Validate().OK() {
		t.Fatalf("rename: %v", f.Validate().Err())
	}
	if got := f.Names(); strings.Join(got, ",") != "mgmt,srv,private,things,dmz" {
		t.Fatalf("order = %v", got)
	}
}

// TestVLANCollisionFixedWhereItIs: a sub-ID whose VLAN (typeId×100+subId)
// another zone uses is reported at the sub-ID, wrapped with its fix hint;
// Shift+Tab goes back to the type, and the error clears once fixed.
func TestVLANCollisionFixedWhereItIs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, defaultFile(t), 80, 24)
	d := e.d
	d.Key("a")
	e.waitView(t, "New zone")
	d.Type("srv2")
	d.Key("enter")
	d.Key("enter") // type Service (typeId 2)
	d.Type("10")   // 210 = srv's VLAN
	d.Key("enter")
	e.waitView(t, "already used by zone srv")
	if v := e.view(); !strings.Contains(strings.Join(strings.Fields(v), " "), "210 is already used by zone srv, expected a unique tag") {
		t.Errorf("the collision and its fix hint are not shown whole:\n%s", v)
	}
	d.Key("shift+tab")
	if k := e.h.s.form.GetFocusedField().GetKey(); k != "type" {
		t.Fatalf("shift+tab from the sub-ID went to %q, want type", k)
	}
	d.Key("enter")
	d.Key("backspace")
	d.Type("1") // 211
	d.Key("enter")
	if v := e.view(); strings.Contains(v, "already used") {
		t.Errorf("the fixed collision is still shown:\n%s", v)
	}
}

// TestFixedSubmitErrorClears: an error listed after a submit disappears
// once the field is fixed, before the next submit.
func TestFixedSubmitErrorClears(t *testing.T) {
	t.Parallel()
	e := newEnv(t, defaultFile(t), 80, 24)
	e.d.Key("a")
	e.waitView(t, "New zone")
	e.h.s.formErrs = []cz.Issue{{Zone: "", Field: cz.FieldName, Message: "is required, expected a camelCase name"}}
	e.d.Type("guest")
	if v := e.view(); strings.Contains(v, "is required") {
		t.Errorf("the fixed name error is still shown:\n%s", v)
	}
}

// TestWideCharactersKeepColumns: a zone whose type and description hold CJK
// and emoji (two cells each) must not push the later columns right; every
// cell is cut and padded by display width, not by rune count.
func TestWideCharactersKeepColumns(t *testing.T) {
	t.Parallel()
	f, err := cz.Parse([]byte(`{
  "home": {"type": "家庭サービス🏠", "state": "Active", "typeId": "2", "subId": "1", "vlantag": 210,
    "ip": "10.2.1.0/24", "bridge": "lan", "access-to": ["internet"], "pinhole-allowed-from": [],
    "description": "家族の写真とメディア 📷 (photos and media)"},
  "iot": {"type": "IoT", "state": "Active", "typeId": "4", "subId": "1", "vlantag": 410,
    "ip": "10.4.1.0/24", "bridge": "lan", "access-to": ["internet"], "pinhole-allowed-from": [],
    "description": "Sensors"}
}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, sz := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"120x40", 120, 40}} {
		e := newEnv(t, f, sz.w, sz.h)
		e.golden(t, "wide-table-"+sz.name)
		// Each column starts at the same cell on the header and on both rows.
		lines := strings.Split(e.view(), "\n")[1:4]
		for _, col := range []string{"STATE", "SUBNET", "DHCP", "ACCESS-TO", "DESCRIPTION"} {
			i := strings.Index(lines[0], col)
			if i < 0 {
				continue // DESCRIPTION only where it fits
			}
			at := ansi.StringWidth(lines[0][:i])
			for _, l := range lines[1:] {
				if s := ansi.Cut(l, at-1, at); s != " " {
					t.Errorf("%s at %d: cell before the column is %q, not a gap:\n%s", col, at, s, strings.Join(lines, "\n"))
				}
				if s := ansi.Cut(l, at, at+1); s == " " {
					t.Errorf("%s at %d: column empty:\n%s", col, at, strings.Join(lines, "\n"))
				}
			}
		}
		for _, l := range strings.Split(e.view(), "\n") {
			if w := ansi.StringWidth(l); w > sz.w {
				t.Errorf("line %d cells wide at width %d: %q", w, sz.w, l)
			}
		}
	}
}

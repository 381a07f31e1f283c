package tui

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/screens/done"
	"github.com/tappaas/tappaas/tui/screens/home"
	"github.com/tappaas/tappaas/tui/screens/join"
	"github.com/tappaas/tappaas/tui/screens/placeholder"
	"github.com/tappaas/tappaas/tui/screens/preflight"
	"github.com/tappaas/tappaas/tui/screens/review"
	"github.com/tappaas/tappaas/tui/screens/run"
	"github.com/tappaas/tappaas/tui/screens/status"
	"github.com/tappaas/tappaas/tui/screens/wizard"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const wait = 5 * time.Second

type fixture struct {
	t   *testing.T
	app *App
	d   *tuitest.Driver
	be  *tuitest.Backend
	dir string
}

func newFixture(t *testing.T, fo tuitest.Options, p *Prompter) *fixture {
	t.Helper()
	if fo.Dir == "" {
		fo.Dir = t.TempDir()
	}
	be, err := tuitest.New(fo)
	if err != nil {
		t.Fatal(err)
	}
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	com.LogPath = "/var/log/tappaas/tappaas.log"
	app := New(Options{Backend: be, Common: com, Prompter: p})
	f := &fixture{t: t, app: app, be: be, dir: fo.Dir}
	// Stop a run still going before the temp dir is removed.
	t.Cleanup(func() { app.Shutdown(5 * time.Second) })
	f.d = tuitest.NewDriver(t, app, 80, 24)
	f.until("home info", func() bool { return app.home.Info() != nil })
	return f
}

func (f *fixture) until(what string, cond func() bool) {
	f.t.Helper()
	if !f.d.WaitFor(cond, wait) {
		f.t.Fatalf("timed out waiting for %s; screen:\n%s", what, tuitest.Plain(f.app.Render()))
	}
}

func (f *fixture) onScreen(text string) {
	f.t.Helper()
	f.until("screen text "+text, func() bool { return strings.Contains(tuitest.Plain(f.app.Render()), text) })
}

// snap records goldens of the current screen at 80x24 and 120x40.
func (f *fixture) snap(name string) {
	f.t.Helper()
	tuitest.Golden(f.t, name+"_80x24", f.app.Render(), *update)
	f.d.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	tuitest.Golden(f.t, name+"_120x40", f.app.Render(), *update)
	f.d.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
}

func screenIs[T any](f *fixture) func() bool {
	return func() bool { _, ok := f.app.Screen().(T); return ok }
}

func (f *fixture) keys(ks ...string) {
	f.t.Helper()
	for _, k := range ks {
		f.d.Key(k)
		f.d.Pump(5 * time.Millisecond)
	}
}

// completeWizard answers every wizard section with defaults plus the
// required typed values.
func (f *fixture) completeWizard() {
	f.t.Helper()
	f.until("wizard", screenIs[*wizard.Model](f))
	f.d.Type("example.org")
	f.keys("enter")
	f.d.Type("admin@example.org")
	f.keys("enter")                            // -> node
	f.keys("enter", "enter", "enter", "enter") // hostname, mgmt, wan, lan -> storage
	f.keys("enter", "enter")                   // disks (sdb preselected), layout
	f.d.Type("WIPE sdb")
	f.keys("enter")          // -> firewall
	f.keys("enter")          // generate password -> platform
	f.keys("enter", "enter") // branch, size -> submit
}

func TestHomeShowsNodeAndActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{}, nil)
	f.onScreen("tappaas1 · Proxmox VE 9.0.10 · 192.168.1.10")
	f.onScreen("no TAPPaaS install yet")
	f.onScreen("enter choose")
	if strings.Contains(tuitest.Plain(f.app.Render()), "Resume") {
		t.Error("resume offered without a checkpoint")
	}
	f.snap("home")
	// Modules is not built: enter on it does nothing.
	f.keys("down", "down", "down")
	f.keys("enter")
	if _, ok := f.app.Screen().(*home.Model); !ok {
		t.Errorf("modules (not built) should not open a screen")
	}
	f.keys("down", "enter") // status
	f.onScreen("Reached via")
	f.snap("status")
	f.keys("esc")
	f.until("home", screenIs[*home.Model](f))
	f.keys("up", "up", "enter") // zones (not built: placeholder, but disabled)
	if _, ok := f.app.Screen().(*home.Model); !ok {
		t.Errorf("zones (not built) should not open a screen")
	}
}

func TestInstallWizardToDone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{Lines: 3}, nil)
	f.keys("enter")
	f.until("wizard", screenIs[*wizard.Model](f))
	f.snap("wizard_site")
	f.completeWizard()
	f.until("preflight", screenIs[*preflight.Model](f))
	f.onScreen("Ready.")
	f.snap("preflight")
	f.keys("enter")
	f.until("review", screenIs[*review.Model](f))
	f.onScreen("10 steps.")
	f.snap("review")
	f.keys("enter")
	f.until("done", screenIs[*done.Model](f))
	f.onScreen("Firewall root password")
	f.snap("done")
	for _, id := range []string{"node.repos", "storage.pools", "zones.apply"} {
		if _, err := os.Stat(filepath.Join(f.dir, "world", id)); err != nil {
			t.Errorf("step %s did not run: %v", id, err)
		}
	}
	f.keys("enter")
	f.until("home", screenIs[*home.Model](f))
	f.onScreen("TAPPaaS is installed")
	f.keys("end", "up", "enter") // status
	f.onScreen("Steps of the last run")
	f.onScreen("Push zones to the firewall")
}

func TestWizardValidatesInline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{}, nil)
	f.keys("enter")
	f.until("wizard", screenIs[*wizard.Model](f))
	f.d.Type("example")
	f.keys("enter")
	f.onScreen("needs at least two labels")
	w := f.app.Screen().(*wizard.Model)
	if w.Section() != 0 {
		t.Errorf("invalid domain must not advance, section = %d", w.Section())
	}
	f.d.Type(".org")
	f.keys("enter")
	if w.Section() != 0 || w.Form().GetFocusedField().GetKey() != "email" {
		t.Errorf("valid domain should move to email")
	}
	f.d.Type("not-an-email")
	f.keys("enter")
	f.onScreen("not a plain e-mail address")
	// back with shift+tab keeps the answer
	f.keys("shift+tab")
	if got := w.Input().Site.Domain; got != "example.org" {
		t.Errorf("domain = %q", got)
	}
	// esc leaves the wizard
	f.keys("esc")
	f.until("home", screenIs[*home.Model](f))
}

// Leaving the wizard keeps the answers: esc while filtering the disk list
// only closes the filter; esc then goes home, and reopening the wizard shows
// what was typed (the typed wipe confirmation must be typed again).
func TestWizardEscKeepsAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{}, nil)
	f.keys("enter")
	f.until("wizard", screenIs[*wizard.Model](f))
	f.d.Type("mylab.example.net")
	f.keys("enter")
	f.d.Type("ops@mylab.example.net")
	f.keys("enter", "enter", "enter", "enter", "enter") // -> storage
	w := f.app.Screen().(*wizard.Model)
	if w.Form().GetFocusedField().GetKey() != "disks" {
		t.Fatalf("not on the disk list:\n%s", tuitest.Plain(f.app.Render()))
	}
	f.keys("/")
	f.d.Type("sdc")
	f.keys("esc")
	if _, ok := f.app.Screen().(*wizard.Model); !ok {
		t.Fatalf("esc in a list filter left the wizard:\n%s", tuitest.Plain(f.app.Render()))
	}
	for i := 0; i < 3 && f.app.Screen() == w; i++ {
		f.keys("esc") // filter closed, then cleared, then home
	}
	f.until("home", screenIs[*home.Model](f))
	f.keys("enter")
	f.until("wizard", screenIs[*wizard.Model](f))
	f.onScreen("> mylab.example.net")
	in := f.app.Screen().(*wizard.Model).Input()
	if in.Site.Domain != "mylab.example.net" || in.Site.AdminEmail != "ops@mylab.example.net" {
		t.Errorf("answers not kept: domain %q, e-mail %q", in.Site.Domain, in.Site.AdminEmail)
	}
	f.keys("enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter") // -> wipe
	if k := f.app.Screen().(*wizard.Model).Form().GetFocusedField().GetKey(); k != "wipe" {
		t.Errorf("the typed wipe confirmation should be asked again, focus on %q:\n%s", k, tuitest.Plain(f.app.Render()))
	}
}

// TestWizardKeepsExistingPool: on a node where the install's pool exists
// (mirror on sdb, sdc) and the earlier answers ask for something else, the
// wizard starts from the pool, says how the answers differ, asks no disks
// and no wipe, and the run starts without an erase warning.
func TestWizardKeepsExistingPool(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{Pool: &config.Pool{Name: "tanka1", Layout: "mirror", Disks: []string{"sdb", "sdc"}}}, nil)
	f.keys("enter")
	f.until("wizard", screenIs[*wizard.Model](f))
	f.d.Type("example.org")
	f.keys("enter")
	f.d.Type("admin@example.org")
	f.keys("enter", "enter", "enter", "enter", "enter") // -> storage
	f.onScreen("Storage pool tanka1 exists: mirror on sdb, sdc")
	f.onScreen("Keep tanka1 as it is")
	v := tuitest.Plain(f.app.Render())
	for _, bad := range []string{"WIPE", "Disks for the storage pool", "will be erased"} {
		if strings.Contains(v, bad) {
			t.Errorf("the storage step of an existing pool shows %q:\n%s", bad, v)
		}
	}
	if !strings.Contains(strings.Join(strings.Fields(v), " "), "Your earlier answers asked for single on sdb; the node has mirror on sdb, sdc") {
		t.Errorf("the difference from the node is not said:\n%s", v)
	}
	f.snap("wizard_existing_pool")
	in := f.app.Screen().(*wizard.Model).Input()
	if p := in.Storage.Pools; len(p) != 1 || p[0].Layout != "mirror" || strings.Join(p[0].Disks, ",") != "sdb,sdc" || len(in.Storage.ConfirmWipe) != 0 {
		t.Errorf("answers should be the existing pool, nothing to wipe: %+v, confirm_wipe %v", p, in.Storage.ConfirmWipe)
	}
	f.keys("enter")          // keep -> firewall
	f.keys("enter")          // generate password -> platform
	f.keys("enter", "enter") // branch, size -> submit
	f.onScreen("Ready.")
	f.keys("enter")
	f.onScreen("10 steps.")
	f.keys("enter")
	f.until("run started without an erase warning", func() bool {
		return len(f.app.Dialogs()) == 0 && (screenIs[*run.Model](f)() || screenIs[*done.Model](f)())
	})
}

// TestWizardFactsReadOnceAndAfresh: each visit re-reads the node (Detect);
// enter pressed again while it runs opens no second wizard.
func TestWizardFactsReadOnceAndAfresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{DetectDelay: 300 * time.Millisecond}, nil)
	f.keys("enter", "enter", "enter")
	f.until("wizard", screenIs[*wizard.Model](f))
	f.d.Pump(400 * time.Millisecond)
	if n := f.be.Calls("Detect"); n != 1 {
		t.Errorf("Detect called %d times for one visit", n)
	}
	f.keys("esc")
	f.until("home", screenIs[*home.Model](f))
	f.keys("enter")
	f.until("wizard", screenIs[*wizard.Model](f))
	if n := f.be.Calls("Detect"); n != 2 {
		t.Errorf("Detect called %d times for two visits: facts are not re-read", n)
	}
}

func TestWizardRequiresTypedWipe(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{}, nil)
	f.keys("enter")
	f.until("wizard", screenIs[*wizard.Model](f))
	f.d.Type("example.org")
	f.keys("enter")
	f.d.Type("admin@example.org")
	f.keys("enter", "enter", "enter", "enter", "enter")
	// storage: the system disk is not offered; choose sdd (holds data) too
	f.onScreen("Not offered: sda (system disk)")
	if strings.Contains(tuitest.Plain(f.app.Render()), "[ ] sda") {
		t.Error("the system disk is offered")
	}
	f.keys("down", "down", "space") // toggle sdd (cursor on the first disk, sdb)
	f.onScreen("[•] sdd")
	f.keys("enter", "enter")                         // -> layout, then try single
	f.onScreen("layout single takes exactly 1 disk") // single is refused for 2 disks
	f.snap("wizard_storage")
	w := f.app.Screen().(*wizard.Model)
	if w.Section() != 2 {
		t.Fatalf("section = %d, want storage", w.Section())
	}
	f.keys("right", "enter") // stripe
	f.onScreen("WARNING, in use: sdd (has partitions or data)")
	f.d.Type("WIPE sdb")
	f.keys("enter")
	f.onScreen("type exactly: WIPE sdb sdd")
	for i := 0; i < 8; i++ {
		f.keys("backspace")
	}
	f.d.Type("WIPE sdb sdd")
	f.keys("enter", "enter", "enter", "enter") // firewall, platform
	f.onScreen("Ready.")
	f.keys("enter")
	f.onScreen("10 steps.")
	// the run erases a disk in use: a typed destructive confirmation
	f.keys("enter")
	f.onScreen("Erase disks in use?")
	f.snap("wipe_dialog")
	f.keys("enter") // without typing: refused
	f.onScreen("type exactly: WIPE sdd")
	f.keys("esc") // go back
	f.until("dialog closed", func() bool { return len(f.app.Dialogs()) == 0 })
	if _, ok := f.app.Screen().(*review.Model); !ok {
		t.Fatal("go back should stay on the review")
	}
	f.keys("enter")
	f.onScreen("Erase disks in use?")
	f.d.Type("WIPE sdd")
	f.keys("enter")
	// The confirmed run starts; the fake plan is fast enough that it may
	// already have reached the done screen when we look.
	f.until("run started", func() bool { return screenIs[*run.Model](f)() || screenIs[*done.Model](f)() })
}

func TestQuitMidRunThenResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{StepDelay: 150 * time.Millisecond, Lines: 3}, nil)
	f.keys("enter")
	f.completeWizard()
	f.until("preflight", screenIs[*preflight.Model](f))
	f.onScreen("Ready.")
	f.keys("enter")
	f.onScreen("10 steps.")
	f.keys("enter")
	f.until("run", screenIs[*run.Model](f))
	f.onScreen("Install packages")
	f.until("two steps done", func() bool { return strings.Contains(tuitest.Plain(f.app.Render()), "2/10 steps") })
	f.keys("q")
	f.onScreen("Stop the run?")
	f.keys("s")
	f.until("home", screenIs[*home.Model](f))
	f.onScreen("Resume the unfinished install")
	f.onScreen("resume at step")
	f.keys("enter") // resume is the default
	f.until("review", screenIs[*review.Model](f))
	f.onScreen("done in an earlier run")
	f.keys("enter")
	f.until("done", screenIs[*done.Model](f))
	if n := f.be.Calls("Preflight"); n != 1 {
		t.Errorf("resume should not re-run the wizard's preflight, preflight calls = %d", n)
	}
}

func TestAskOnFailRetryFromApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{Lines: 2, FailStep: "pbs.install", FailTimes: 1}, nil)
	f.keys("enter")
	f.completeWizard()
	f.onScreen("Ready.")
	f.keys("enter")
	f.onScreen("10 steps.")
	f.keys("enter")
	f.onScreen("A step failed")
	f.onScreen("[s] Skip (optional step)")
	f.keys("r")
	f.until("done", screenIs[*done.Model](f))
}

func TestHostKeyDialog(t *testing.T) {
	t.Parallel()
	p := NewPrompter()
	f := newFixture(t, tuitest.Options{}, p)
	res := make(chan bool, 1)
	go func() {
		ok, _ := p.TrustHostKey(context.Background(), "192.168.1.10:22", "ssh-ed25519", "SHA256:Xq1pD3m8fQ0kYHc0qk3b0w8k1Zl2VnJ6GmSx1r0n0aE")
		res <- ok
	}()
	f.onScreen("SHA256:Xq1pD3m8fQ0kYHc0qk3b0w8k1Zl2VnJ6GmSx1r0n0aE")
	f.snap("hostkey_dialog")
	f.keys("enter") // default is "do not trust"
	select {
	case ok := <-res:
		if ok {
			t.Error("enter on the default must not trust the key")
		}
	case <-time.After(wait):
		t.Fatal("no answer")
	}
	go func() {
		ok, _ := p.TrustHostKey(context.Background(), "10.0.0.1:22", "ssh-ed25519", "SHA256:abc")
		res <- ok
	}()
	f.onScreen("SHA256:abc")
	f.keys("y")
	if ok := <-res; !ok {
		t.Error("y should trust the key")
	}
}

func TestJoinWizard(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{Lines: 1}, nil)
	f.keys("down", "enter")
	f.onScreen("Existing cluster node")
	f.snap("join")
	f.d.Type("10.0.0.10")
	f.keys("enter")
	f.d.Type("secret-password")
	f.keys("enter")
	f.keys("enter", "enter", "enter", "enter") // node
	f.keys("enter", "enter")                   // disks (sdb), layout
	f.d.Type("WIPE sdb")
	f.keys("enter")
	f.until("preflight", screenIs[*preflight.Model](f))
	f.onScreen("Ready.")
	f.keys("enter")
	f.onScreen("3 steps.")
	f.keys("enter")
	f.until("done", screenIs[*done.Model](f))
	f.onScreen("The node has joined the cluster.")
}

func TestTooSmallNeverPanics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{}, nil)
	for _, sz := range [][2]int{{79, 24}, {80, 23}, {20, 5}, {1, 1}, {0, 0}} {
		f.d.Send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		_ = f.app.Render()
	}
	f.d.Send(tea.WindowSizeMsg{Width: 60, Height: 20})
	v := tuitest.Plain(f.app.Render())
	if !strings.Contains(v, "Terminal too small") || !strings.Contains(v, "60x20") {
		t.Errorf("too small screen:\n%s", v)
	}
	tuitest.Golden(t, "too_small_60x20", f.app.Render(), *update)
	f.d.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	f.onScreen("Install TAPPaaS on this node")
	f.d.Key("ctrl+c")
	f.d.Pump(20 * time.Millisecond)
	if !f.d.Quit {
		t.Error("ctrl+c on home should quit")
	}
}

// TestTooSmallKeysNeverReachHiddenDialogs: at 60x15 mid-run, q does not
// open the stop dialog behind the notice; the notice itself asks, other
// keys (blind dialog answers) do nothing, and q again is the safe stop and
// exit.
func TestTooSmallKeysNeverReachHiddenDialogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{StepDelay: 800 * time.Millisecond, Lines: 2}, nil)
	f.keys("enter")
	f.completeWizard()
	f.onScreen("Ready.")
	f.keys("enter")
	f.onScreen("10 steps.")
	f.keys("enter")
	f.until("run", screenIs[*run.Model](f))
	r := f.app.Screen().(*run.Model)
	f.d.Send(tea.WindowSizeMsg{Width: 60, Height: 15})
	f.keys("q")
	if n := len(f.app.Dialogs()); n != 0 {
		t.Fatalf("q at 60x15 opened %d dialog(s) behind the notice", n)
	}
	v := tuitest.Plain(f.app.Render())
	if !strings.Contains(v, "Terminal too small") || !strings.Contains(v, "Quit? The install stops after the running step") {
		t.Errorf("the notice should ask:\n%s", v)
	}
	tuitest.Golden(t, "too_small_asks_60x15", v, *update)
	for _, k := range []string{"s", "x", "enter", "ctrl+c"} { // blind answers
		f.keys(k)
	}
	if len(f.app.Dialogs()) != 0 || !r.Running() {
		t.Fatalf("blind keys reached something: dialogs %d, running %v", len(f.app.Dialogs()), r.Running())
	}
	// ctrl+c asked (after the other keys cancelled the question); q confirms.
	f.keys("q")
	f.until("quit", func() bool { return f.d.Quit })
	if !f.app.Shutdown(5*time.Second) || r.State() != run.StatePaused {
		t.Errorf("state %v after the quit on the notice, want paused (safe stop)", r.State())
	}
}

// TestHelpAndEndOnReviewDoneStatus: ? shows more keys on the review, done
// and status screens, and End/G jumps to the end of the review.
func TestHelpAndEndOnReviewDoneStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{}, nil)
	f.keys("enter")
	f.completeWizard()
	f.onScreen("Ready.")
	f.keys("enter")
	f.onScreen("10 steps.")
	f.d.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	short := tuitest.Plain(f.app.Render())
	f.keys("?")
	f.onScreen("end/G end")
	full := tuitest.Plain(f.app.Render())
	if strings.Contains(short, "end/G") || !strings.Contains(full, "pgdn/space page down") {
		t.Errorf("? on the review should add keys:\n%s", full)
	}
	f.keys("?")
	if !strings.Contains(tuitest.Plain(f.app.Render()), "↓ ") {
		t.Skip("the fake plan fits on one screen: End has nothing to show")
	}
	f.keys("G")
	f.onScreen("10. Push zones")
	if v := tuitest.Plain(f.app.Render()); !strings.Contains(v, "(↑ ") || strings.Contains(v, "↓ ") {
		t.Errorf("End/G should show the end of the plan:\n%s", v)
	}
	f.keys("g")
	f.onScreen(" 1. ")
	f.keys("enter")
	f.until("done", screenIs[*done.Model](f))
	f.keys("?")
	f.onScreen("end/G end")
	f.keys("?", "enter")
	f.until("home", screenIs[*home.Model](f))
	f.keys("down", "down", "down", "down", "enter")
	f.until("status", screenIs[*status.Model](f))
	f.keys("?")
	f.onScreen("end/G end")
}

var colorSGR = regexp.MustCompile(`\x1b\[[0-9;]*?(?:^|;)(?:3[0-79]|4[0-79]|9[0-7]|10[0-7]|38;|48;)[0-9;]*m`)

func TestNoColorStylesEmitNoColour(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{}, nil)
	f.keys("enter")
	f.until("wizard", screenIs[*wizard.Model](f))
	for _, frame := range []string{f.app.Render()} {
		if colorSGR.MatchString(frame) {
			t.Errorf("colour escape in NO_COLOR frame: %q", colorSGR.FindString(frame))
		}
	}
	// and the colour styles do emit colour (the check can fail)
	st := styles.ForProfile(colorprofile.ANSI)
	if !colorSGR.MatchString(st.Error.Render("x")) {
		t.Error("ANSI styles should carry colour")
	}
}

func TestRunFooterHelpComesFromScreen(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{StepDelay: 2 * time.Second, Lines: 2}, nil)
	f.keys("enter")
	f.completeWizard()
	f.onScreen("Ready.")
	f.keys("enter")
	f.onScreen("10 steps.")
	f.keys("enter")
	f.onScreen("p pause after step")
	f.onScreen("q quit safely")
	f.keys("?")
	f.onScreen("pgup page up")
	f.keys("?") // back to the short help
}

// TestCtrlCTwiceFinishesTheStepThenExits130: ctrl+c opens the quit dialog;
// a second ctrl+c is the safe stop (the running step finishes, nothing is
// cut short), then the program exits with the headless install's
// "interrupted" code and a line naming the state, the log and how to resume.
func TestCtrlCTwiceFinishesTheStepThenExits130(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{StepDelay: 1500 * time.Millisecond, Lines: 2}, nil)
	f.keys("enter")
	f.completeWizard()
	f.onScreen("Ready.")
	f.keys("enter")
	f.onScreen("10 steps.")
	f.keys("enter")
	f.until("run", screenIs[*run.Model](f))
	r := f.app.Screen().(*run.Model)
	f.until("a step running", func() bool { return r.RunningStep() != "" })
	f.keys("ctrl+c")
	f.onScreen("Stop the run?")
	before, _ := r.Counts()
	f.keys("ctrl+c")
	f.until("quit", func() bool { return f.d.Quit })
	if !f.app.Shutdown(5 * time.Second) {
		t.Error("run still going after exit")
	}
	if after, _ := r.Counts(); after != before+1 || r.State() != run.StatePaused {
		t.Errorf("second ctrl+c: %d steps done before, %d after, state %v; want the running step finished and the run paused", before, after, r.State())
	}
	out := f.app.Outcome("tappaas --lab")
	if out.Code != ExitInterrupted {
		t.Errorf("exit code %d, want %d", out.Code, ExitInterrupted)
	}
	for _, want := range []string{"install stopped with", "steps done, checkpoint saved", "log: /", "run tappaas --lab and choose Resume"} {
		if !strings.Contains(out.Line, want) || strings.Contains(out.Line, "\n") {
			t.Errorf("exit line %q lacks %q (or is not one line)", out.Line, want)
		}
	}
}

// unreachable is a backend whose node cannot be read.
type unreachable struct{ *tuitest.Backend }

func (unreachable) NodeInfo(context.Context) (common.NodeInfo, error) {
	return common.NodeInfo{}, errors.New("dial tcp 192.0.2.1:22: connect: connection refused")
}

// TestOutcomeNodeUnreadable: a node that cannot be read ends with exit 1
// (as the headless commands) and says why, not "not installed".
func TestOutcomeNodeUnreadable(t *testing.T) {
	t.Parallel()
	be, err := tuitest.New(tuitest.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	com.LogPath = "/tmp/tappaas.log"
	app := New(Options{Backend: unreachable{be}, Common: com})
	d := tuitest.NewDriver(t, app, 80, 24)
	d.WaitFor(func() bool { return app.infoErr != nil }, wait)
	out := app.Outcome("tappaas --host root@192.0.2.1")
	if out.Code != ExitFailed || !strings.Contains(out.Line, "could not read the node: dial tcp") || strings.Contains(out.Line, "not installed") {
		t.Errorf("outcome %+v, want exit 1 saying why", out)
	}
}

// TestOutcomeCodes: the TUI's exit codes are the headless install's.
func TestOutcomeCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tuitest.Options{}, nil)
	if out := f.app.Outcome("tappaas"); out.Code != ExitInputNeeded || !strings.Contains(out.Line, "not installed") {
		t.Errorf("quit before installing: %+v, want %d", out, ExitInputNeeded)
	}
	f.keys("enter")
	f.completeWizard()
	f.onScreen("Ready.")
	f.keys("enter")
	f.onScreen("10 steps.")
	f.keys("enter")
	f.until("done", screenIs[*done.Model](f))
	if out := f.app.Outcome("tappaas"); out.Code != ExitDone || !strings.Contains(out.Line, "install done, 10 of 10 steps") {
		t.Errorf("after the install: %+v, want %d", out, ExitDone)
	}
	failing := newFixture(t, tuitest.Options{FailStep: "firewall.vm", FailTimes: 99}, nil)
	failing.keys("enter")
	failing.completeWizard()
	failing.onScreen("Ready.")
	failing.keys("enter")
	failing.onScreen("10 steps.")
	failing.keys("enter")
	failing.onScreen("A step failed")
	failing.keys("a") // abort
	failing.until("failed", func() bool { r, ok := failing.app.Screen().(*run.Model); return ok && r.State() == run.StateFailed })
	if out := failing.app.Outcome("tappaas"); out.Code != ExitFailed || !strings.Contains(out.Line, "fix the cause") {
		t.Errorf("after a failed run: %+v, want %d", out, ExitFailed)
	}
}

func joinSubmit() tea.Msg {
	return join.SubmitMsg{PeerPassword: "x"}
}

func isPreflight(f *fixture) bool { _, ok := f.app.Screen().(*preflight.Model); return ok }

func TestZonesScreenEmbedded(t *testing.T) {
	t.Parallel()
	be, err := tuitest.New(tuitest.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	opened := 0
	app := New(Options{Backend: be, Common: com, Zones: func(c *common.Common) common.Screen {
		opened++
		return placeholder.New(c, "Zones", "zone editor stand-in")
	}})
	f := &fixture{t: t, app: app, be: be}
	f.d = tuitest.NewDriver(t, app, 80, 24)
	f.until("home info", func() bool { return app.home.Info() != nil })
	f.keys("down", "down", "enter")
	f.onScreen("zone editor stand-in")
	if opened != 1 {
		t.Errorf("zones screen built %d times", opened)
	}
	f.keys("esc")
	f.until("home", screenIs[*home.Model](f))
}

func TestNoColorTextInputs(t *testing.T) {
	t.Parallel()
	st := styles.ForProfile(colorprofile.ASCII)
	ti := st.TextInput()
	for _, s := range []string{ti.Focused.Placeholder.Render("x"), ti.Focused.Prompt.Render("x"), ti.Blurred.Text.Render("x")} {
		if colorSGR.MatchString(s) {
			t.Errorf("colour in NO_COLOR text input style: %q", s)
		}
	}
	if ti.Cursor.Color != nil {
		t.Error("NO_COLOR cursor has a colour")
	}
}

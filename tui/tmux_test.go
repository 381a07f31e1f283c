package tui_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/internal/syncbuf"
)

// Real-terminal tests: the built binary in an 80x24 tmux pane, driven with
// send-keys and read with capture-pane. Skipped when tmux is missing unless
// TAPPAAS_REQUIRE_TMUX=1. They run against the in-process lab (--lab, the
// real first-node plan); TAPPAAS_TUI_TMUX_FAKE=1 switches them to the fake
// backend (test hook TAPPAAS_TUI_FAKE=1) when the lab is broken.

// builds are the binaries built for this test process, by build tags: the
// shipped binary (no tags) and one with the fake-backend hook (tuifake).
var builds struct {
	sync.Mutex
	path map[string]string
	err  map[string]error
}

// binary is the shipped binary (no test code in it).
func binary(t testing.TB) string { return build(t, "") }

// fakeBinary carries the TAPPAAS_TUI_FAKE hook (go build -tags tuifake).
func fakeBinary(t testing.TB) string { return build(t, "tuifake") }

func build(t testing.TB, tags string) string {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("TAPPAAS_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux is required (TAPPAAS_REQUIRE_TMUX=1) but not installed")
		}
		t.Skip("tmux not installed")
	}
	path, err := buildBinary(tags)
	if err != nil {
		if os.Getenv("TAPPAAS_REQUIRE_TMUX") == "1" {
			t.Fatal(err)
		}
		t.Skipf("cannot build the binary (another package is mid-edit?): %v", err)
	}
	return path
}

// buildBinary builds the binary with tags once per test process.
func buildBinary(tags string) (string, error) {
	builds.Lock()
	if builds.path == nil {
		builds.path, builds.err = map[string]string{}, map[string]error{}
	}
	path, ok := builds.path[tags]
	buildErr := builds.err[tags]
	if !ok {
		dir, err := os.MkdirTemp("", "tappaas-tui-bin")
		if err != nil {
			buildErr = err
		} else {
			path = filepath.Join(dir, "tappaas")
			out, err := exec.Command("go", "build", "-tags", tags, "-o", path, "github.com/tappaas/tappaas/cmd/tappaas").CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			}
		}
		builds.path[tags], builds.err[tags] = path, buildErr
	}
	builds.Unlock()
	return path, buildErr
}

type pane struct {
	t      testing.TB
	socket string
}

var paneSeq struct {
	sync.Mutex
	n int
}

// startPane runs command (a shell line) in a fresh 80x24 tmux server.
func startPane(t testing.TB, env []string, command string) *pane {
	t.Helper()
	paneSeq.Lock()
	paneSeq.n++
	n := paneSeq.n
	paneSeq.Unlock()
	p := &pane{t: t, socket: fmt.Sprintf("tappaas-test-%d-%d", os.Getpid(), n)}
	args := []string{"-L", p.socket, "-f", "/dev/null", "new-session", "-d", "-x", "80", "-y", "24"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, command)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", p.socket, "kill-server").Run() })
	return p
}

func (p *pane) capture(escapes bool) string {
	args := []string{"-L", p.socket, "capture-pane", "-p"}
	if escapes {
		args = append(args, "-e")
	}
	out, err := exec.Command("tmux", args...).Output()
	if err != nil {
		p.t.Fatalf("capture-pane: %v", err)
	}
	return string(out)
}

// resize sets the pane's window to w x h.
func (p *pane) resize(w, h int) {
	p.t.Helper()
	if out, err := exec.Command("tmux", "-L", p.socket, "resize-window", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h)).CombinedOutput(); err != nil {
		p.t.Fatalf("resize-window: %v %s", err, out)
	}
}

// keys sends tmux key names, in order, without pausing. The program reads
// them in order, but a form moves its focus in a command whose result can
// arrive after the next key: after a key that moves the focus, wait for the
// field (field) before typing on.
func (p *pane) keys(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		if out, err := exec.Command("tmux", "-L", p.socket, "send-keys", k).CombinedOutput(); err != nil {
			p.t.Fatalf("send-keys %s: %v %s", k, err, out)
		}
	}
}

func (p *pane) text(s string) {
	p.t.Helper()
	if out, err := exec.Command("tmux", "-L", p.socket, "send-keys", "-l", s).CombinedOutput(); err != nil {
		p.t.Fatalf("send-keys -l: %v %s", err, out)
	}
}

// patience bounds every wait for the screen. It is large on purpose: it
// only matters when the program hangs, and a busy machine (CI, packages
// tested in parallel) can take many seconds per frame and per lab step.
const patience = 5 * time.Minute

// field waits until the form field titled title has the focus (huh marks
// the focused field with ┃).
func (p *pane) field(title string) string {
	p.t.Helper()
	return p.waitFor("┃ " + title)
}

// waitFor polls the screen until it contains s.
func (p *pane) waitFor(s string) string {
	p.t.Helper()
	timeout := patience
	deadline := time.Now().Add(timeout)
	var scr string
	for time.Now().Before(deadline) {
		scr = p.capture(false)
		if strings.Contains(scr, s) {
			return scr
		}
		time.Sleep(40 * time.Millisecond)
	}
	p.t.Fatalf("timed out after %v waiting for %q; screen:\n%s", timeout, s, scr)
	return ""
}

// waitForRe polls the screen until re matches.
func (p *pane) waitForRe(re *regexp.Regexp) string {
	p.t.Helper()
	timeout := patience
	deadline := time.Now().Add(timeout)
	var scr string
	for time.Now().Before(deadline) {
		scr = p.capture(false)
		if re.MatchString(scr) {
			return scr
		}
		time.Sleep(40 * time.Millisecond)
	}
	p.t.Fatalf("timed out after %v waiting for /%s/; screen:\n%s", timeout, re, scr)
	return ""
}

// waitForAny polls the screen until it contains one of ss.
func (p *pane) waitForAny(ss ...string) string {
	p.t.Helper()
	timeout := patience
	deadline := time.Now().Add(timeout)
	var scr string
	for time.Now().Before(deadline) {
		scr = p.capture(false)
		for _, s := range ss {
			if strings.Contains(scr, s) {
				return scr
			}
		}
		time.Sleep(40 * time.Millisecond)
	}
	p.t.Fatalf("timed out after %v waiting for %q; screen:\n%s", timeout, ss, scr)
	return ""
}

type target struct {
	fake   bool // the fake backend: needs fakeBinary
	env    []string
	args   string
	lab    bool
	labDir string
}

func fakeTarget(t *testing.T, delay string) target {
	dir := t.TempDir()
	return target{fake: true, env: []string{"TAPPAAS_TUI_FAKE=1", "TAPPAAS_TUI_FAKE_DIR=" + dir, "TAPPAAS_TUI_FAKE_DELAY=" + delay,
		"TAPPAAS_TUI_FAKE_LINES=4"}, args: "--log-file " + filepath.Join(dir, "tappaas.log")}
}

func labTarget(t *testing.T, speed string) target {
	dir := t.TempDir()
	t.Cleanup(func() { waitGone(t, dir) })
	lab := filepath.Join(dir, "lab")
	return target{lab: true, labDir: lab, args: fmt.Sprintf("--lab --lab-dir %s --lab-speed %s --log-file %s",
		lab, speed, filepath.Join(dir, "tappaas.log"))}
}

// waitGone waits until no process has s in its command line (the binary
// stops at a safe point after its terminal goes away), so its files can be
// removed.
func waitGone(t *testing.T, s string) {
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		found := false
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(s)) {
				found = true
				break
			}
		}
		if !found {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("a process still uses %s", s)
}

// binary is the binary that can run tg.
func (tg target) binary(t testing.TB) string {
	if tg.fake {
		return fakeBinary(t)
	}
	return binary(t)
}

// testTarget is the lab (at the given latency scale) unless
// TAPPAAS_TUI_TMUX_FAKE=1 asks for the fake backend.
func testTarget(t *testing.T, labSpeed, fakeDelay string) target {
	if os.Getenv("TAPPAAS_TUI_TMUX_FAKE") == "1" {
		return fakeTarget(t, fakeDelay)
	}
	return labTarget(t, labSpeed)
}

// start runs the binary; after it exits the pane shows its exit code and
// whether the terminal is back in cooked mode with echo.
func start(t *testing.T, tg target, extraEnv ...string) *pane {
	bin := tg.binary(t)
	dir := t.TempDir()
	// One echo, so the exit code and the terminal modes appear together.
	cmd := fmt.Sprintf("cd %s && %s %s; echo EXIT=$? TTY=$(stty -a | grep -o -w -e icanon -e echo | tr '\\n' ' ')END; sleep 600", dir, bin, tg.args)
	env := append([]string{"TERM=xterm-256color"}, tg.env...)
	return startPane(t, append(env, extraEnv...), cmd)
}

// wizard completes the install wizard with keystrokes, waiting for each
// field to take the focus (huh marks it with ┃) before typing into it.
func wizard(p *pane) {
	p.waitFor("Install TAPPaaS on this node")
	p.keys("Enter")
	field := func(title string) { p.field(title) }
	field("Public domain")
	p.text("example.org")
	p.keys("Enter")
	field("Administrator e-mail")
	p.text("admin@example.org")
	p.keys("Enter")
	for _, f := range []string{"Hostname", "Management address", "WAN port", "LAN port", "Disks for the storage pool", "Pool layout"} {
		field(f)
		if scr := p.capture(false); f == "Disks for the storage pool" &&
			(!strings.Contains(scr, "Not offered: sda (system disk)") || regexp.MustCompile(`\[[ •]\] sda `).MatchString(scr)) {
			p.t.Errorf("the system disk is offered:\n%s", scr)
		}
		p.keys("Enter")
	}
	field("Type WIPE sdb to confirm")
	p.text("WIPE sdb")
	p.keys("Enter")
	field("Root password")
	p.keys("Enter")
	field("TAPPaaS branch")
	p.keys("Enter")
	field("tappaas-cicd size")
	p.keys("Enter")
}

func TestTmuxInstallToDone(t *testing.T) {
	t.Parallel()
	// At --lab-speed 0.02 the run takes a few seconds on an idle machine.
	// Whether a poll of the screen falls inside it depends on the load, so
	// the run view's step count is checked by the tests that stop a run
	// (TestTmuxCtrlCTwice, TestTmuxTooSmall), not here.
	p := start(t, testTarget(t, "0.02", "300ms"))
	wizard(p)
	p.waitFor("Ready.")
	p.keys("Enter")
	p.waitFor("Press enter to run them")
	p.keys("Enter")
	scr := p.waitForAny("is installed", "A step failed")
	if strings.Contains(scr, "A step failed") {
		t.Fatalf("the run stopped on a failing step (a plan or lab problem, not the UI's):\n%s", scr)
	}
	scr = p.waitFor("Open") // the summary is read after the screen opens
	wants := []string{"https://10.0.0.10:8006", "Firewall root password", "Log file: ", "tappaas.log"}
	if os.Getenv("TAPPAAS_TUI_TMUX_FAKE") != "1" {
		wants = append(wants, "shown only this once") // the generated firewall password
	}
	for _, want := range wants {
		if !strings.Contains(scr, want) {
			t.Errorf("done screen lacks %q:\n%s", want, scr)
		}
	}
	p.keys("q")
	p.exited(t, 0)
}

// TestTmuxCtrlCTwice: mid-run, ctrl+c opens the stop dialog (keys that
// cannot be misread: n does nothing); a second ctrl+c is the safe stop,
// and the program exits with 130 (interrupted, as the headless install)
// after printing the state, the log and how to resume.
func TestTmuxCtrlCTwice(t *testing.T) {
	t.Parallel()
	p := start(t, testTarget(t, "0.05", "1s"))
	wizard(p)
	p.waitFor("Ready.")
	p.keys("Enter")
	p.waitFor("Press enter to run them")
	p.keys("Enter")
	p.waitForRe(regexp.MustCompile(`running · [1-9]\d*/\d+ steps`))
	p.keys("C-c")
	scr := p.waitFor("Stop the run?")
	if !strings.Contains(scr, "[x] Interrupt now") || strings.Contains(scr, "[n]") {
		t.Errorf("stop dialog keys:\n%s", scr)
	}
	p.keys("n")
	if scr := p.capture(false); !strings.Contains(scr, "Stop the run?") {
		t.Errorf("n closed the stop dialog:\n%s", scr)
	}
	p.keys("C-c")
	// The pane wraps the line at 80 columns: join it.
	scr = strings.ReplaceAll(p.exited(t, 130), "\n", "")
	if !regexp.MustCompile(`tappaas: install stopped with \d+ of \d+ steps done, checkpoint saved; log: \S+tappaas\.log; to resume, run \S+tappaas .* and choose ?Resume`).MatchString(scr) {
		t.Errorf("exit line:\n%s", scr)
	}
}

// TestTmuxTooSmall: at 60x15 mid-run, q asks on the "too small" notice
// itself instead of opening the stop dialog behind it, and a blind answer
// (s) reaches nothing; back at 80x24 the run is still going, no dialog.
func TestTmuxTooSmall(t *testing.T) {
	t.Parallel()
	p := start(t, testTarget(t, "0.05", "1s"))
	wizard(p)
	p.waitFor("Ready.")
	p.keys("Enter")
	p.waitFor("Press enter to run them")
	p.keys("Enter")
	p.waitForRe(regexp.MustCompile(`running · [1-9]\d*/\d+ steps`))
	p.resize(60, 15)
	p.waitFor("Terminal too small")
	p.keys("q")
	p.waitFor("Quit? The install stops after the running step")
	p.keys("s") // would be "Stop after step" in a hidden dialog
	p.waitFor("q quit (asks first)")
	p.resize(80, 24)
	scr := p.waitForRe(regexp.MustCompile(`running · \d+/\d+ steps`))
	if strings.Contains(scr, "Stop the run?") {
		t.Errorf("a stop dialog was opened behind the notice:\n%s", scr)
	}
	p.keys("C-c")
	p.waitFor("Stop the run?")
	p.keys("C-c")
	p.exited(t, 130)
}

// TestTmuxWizardsOnInstalledNode: after an install (the real lab), the
// install wizard starts from the pool that exists (no disk picker, no wipe
// prompt, no erase dialog) and the join wizard, opened next, sees the pool
// too: facts are re-read when a wizard opens. The system disk is never
// offered.
func TestTmuxWizardsOnInstalledNode(t *testing.T) {
	t.Parallel()
	if os.Getenv("TAPPAAS_TUI_TMUX_FAKE") == "1" {
		t.Skip("TAPPAAS_TUI_TMUX_FAKE=1")
	}
	p := start(t, labTarget(t, "0"))
	// Before any install: the system disk is not offered.
	p.waitFor("Install TAPPaaS on this node")
	p.keys("Enter")
	p.waitFor("┃ Public domain")
	p.keys("Escape")
	wizard(p)
	p.waitFor("Ready.")
	p.keys("Enter")
	p.waitFor("Press enter to run them")
	p.keys("Enter")
	scr := p.waitForAny("is installed", "A step failed")
	if strings.Contains(scr, "A step failed") {
		t.Fatalf("the install stopped on a failing step:\n%s", scr)
	}
	p.keys("Enter") // done -> home
	p.waitForRe(homeInstalled)
	p.keys("Enter") // install again
	for _, f := range []string{"Public domain", "Administrator e-mail", "Hostname", "Management address"} {
		p.field(f)
		p.keys("Enter")
	}
	// Facts read now, after the cutover: the port to the router (in the
	// wan bridge) is the one that reaches the internet, not the lan port
	// that now carries the default route to the firewall.
	scr = p.field("WAN port")
	for _, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, "enp2s0") && strings.Contains(l, "reaches the internet") {
			t.Errorf("the lan port is said to reach the internet:\n%s", scr)
			break
		}
	}
	p.keys("Enter")
	p.field("LAN port")
	p.keys("Enter")
	scr = p.field("Storage pool tanka1 exists: single on sdb")
	for _, bad := range []string{"WIPE", "IN USE", "will be erased"} {
		if strings.Contains(scr, bad) {
			t.Errorf("the install wizard on an installed node shows %q:\n%s", bad, scr)
		}
	}
	p.keys("Escape") // home
	p.waitForRe(homeInstalled)
	p.keys("Down", "Enter") // join
	p.field("Existing cluster node")
	p.text("10.0.0.10")
	p.keys("Enter")
	p.field("Its root password")
	p.text("peer-password")
	p.keys("Enter")
	for _, f := range []string{"Hostname", "Management address", "WAN port", "LAN port"} {
		p.field(f)
		p.keys("Enter")
	}
	scr = p.field("Storage pool tanka1 exists: single on sdb")
	if strings.Contains(scr, "WIPE") {
		t.Errorf("the join wizard after the install offers to wipe the pool's disk:\n%s", scr)
	}
}

// TestTmuxZonesEdit: `tappaas zones edit` under NO_COLOR — add a zone whose
// VLAN collides (fixed where it is reported, Shift+Tab back past it), see the
// overlapping-subnet error, fix it, save, plan. Each key that moves the focus
// is followed by a wait for the next field (only the focused one carries ┃).
func TestTmuxZonesEdit(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "zones.json")
	p := startPane(t, []string{"NO_COLOR=1"}, fmt.Sprintf("%s zones edit --file %s --lab --lab-state %s", bin, file, filepath.Join(dir, "fw.json")))

	p.waitFor("5 zones · valid")
	p.keys("a")
	p.field("Name")
	p.text("guest")
	p.waitFor("┃ > guest")
	p.keys("Enter")
	p.field("Type")
	p.keys("Enter") // type Service first: sub-ID 10 collides with srv (VLAN 210)
	p.field("Sub-ID (0-99)")
	p.text("10")
	p.waitFor("┃ > 10")
	p.keys("Enter")
	scr := p.waitFor("already used by zone srv")
	if !strings.Contains(strings.Join(strings.Fields(scr), " "), "expected a unique tag") {
		t.Errorf("the collision's fix hint is cut:\n%s", scr)
	}
	p.keys("BTab") // back to the type, past the error
	p.field("Type")
	p.keys("Right", "Right", "Right")
	p.waitFor("Guest (5)")
	p.keys("Enter")
	p.field("Sub-ID (0-99)")
	p.keys("Enter") // 10 is free for Guest (510)
	p.field("State")
	p.keys("Enter")
	scr = p.field("VLAN")
	if !strings.Contains(scr, "Subnet (CIDR)") || strings.Contains(scr, "already used") {
		t.Errorf("the network fields should follow, the fixed collision gone:\n%s", scr)
	}
	if !strings.Contains(scr, "[tagged]") {
		t.Errorf("under NO_COLOR the VLAN toggle shows no selection:\n%s", scr)
	}
	p.keys("Enter")
	p.field("Subnet (CIDR)")
	p.text("10.3.10.0/24")
	p.waitFor("┃ > 10.3.10.0/24")
	p.keys("Enter")
	p.waitFor("overlaps zone private")
	for range len("10.3.10.0/24") {
		p.keys("BSpace")
	}
	p.text("10.5.10.0/24")
	p.waitFor("┃ > 10.5.10.0/24")
	p.keys("Enter")
	p.field("DHCP start offset")
	p.keys("Enter")
	p.field("DHCP end offset")
	p.keys("Enter")
	p.field("Access to")
	p.keys("Enter")
	p.field("Description")
	p.text("Visitors")
	p.waitFor("┃ > Visitors")
	p.keys("Enter")
	p.waitFor("added zone guest")
	scr = p.waitFor("510 10.5.10.0/24")
	if !strings.Contains(scr, "6 zones · valid") {
		t.Fatalf("after add:\n%s", scr)
	}
	p.keys("s")
	p.waitFor("saved " + file)
	f, err := cz.LoadFile(file)
	if err != nil || f.Zone("guest") == nil || !f.Validate().OK() {
		t.Fatalf("saved file: %v", err)
	}
	p.keys("p")
	p.waitFor("Plan against the firewall")
	p.waitFor("53 to create, 1 to update")
}

// homeInstalled is the home screen's state line after an install (the
// done screen says "TAPPaaS is installed." too: waiting for that text after
// leaving it would not wait at all).
var homeInstalled = regexp.MustCompile(`State +TAPPaaS is installed`)

var exitLine = regexp.MustCompile(`EXIT=(\d+) TTY=(.*)END`)

// exited waits for the binary started by start to exit and checks its exit
// code, that it printed its one-line outcome (with the log file) and that
// the terminal is back in cooked mode with echo. It returns the screen.
func (p *pane) exited(t *testing.T, code int) string {
	t.Helper()
	scr := p.waitForRe(exitLine)
	m := exitLine.FindStringSubmatch(scr)
	if m[1] != fmt.Sprint(code) || !strings.Contains(m[2], "icanon echo") {
		t.Errorf("exit code %s, terminal %q; want %d, icanon echo:\n%s", m[1], m[2], code, p.capture(false))
	}
	if !outcomeLine.MatchString(scr) {
		t.Errorf("no one-line outcome (tappaas: …; log: …) before the exit:\n%s", scr)
	}
	return scr
}

// outcomeLine is the line the TUI prints after leaving the alternate screen.
// The pane wraps it at 80 columns.
var outcomeLine = regexp.MustCompile(`(?ms)^tappaas: .+?; log: /\S+`)

// TestTmuxQuitMidRunThenResume: an operator at a shell in one 80x24 pane
// runs tappaas against a persisted lab, completes the wizard, quits safely in
// the middle of the run (q, "Stop after step"), leaves from the home screen
// and gets a working shell back; runs tappaas again in the same pane and
// directory, sees the home screen's resume offer for the same step, resumes
// to the done screen; a third start sees the install as finished, and the
// lab's persisted checkpoints (read by `tappaas status`) record every step
// done.
func TestTmuxQuitMidRunThenResume(t *testing.T) {
	t.Parallel()
	tg := testTarget(t, "0.05", "400ms")
	bin := tg.binary(t)
	dir := t.TempDir()
	// sh reads $ENV when interactive: a prompt to wait for.
	rc := filepath.Join(dir, "shrc")
	if err := os.WriteFile(rc, []byte("PS1='operator$ '\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append([]string{"TERM=xterm-256color", "ENV=" + rc}, tg.env...)
	p := startPane(t, env, fmt.Sprintf("cd %s && exec sh -i", dir))
	runs := 0
	// launch types the command at the shell prompt, as an operator would.
	launch := func() {
		t.Helper()
		runs++
		p.waitFor("operator$")
		p.text(fmt.Sprintf("%s %s; echo RC%d:$? $(stty -a | grep -o -w -e icanon -e echo | tr '\\n' ' ')", bin, tg.args, runs))
		p.keys("Enter")
	}
	// exited waits for the binary to exit and checks its code, its
	// one-line outcome and that the terminal is back in cooked mode with
	// echo.
	exited := func(code int) string {
		t.Helper()
		re := regexp.MustCompile(fmt.Sprintf(`RC%d:(\d+)(.*)`, runs))
		scr := p.waitForRe(re)
		m := re.FindStringSubmatch(scr)
		if m[1] != fmt.Sprint(code) || !strings.Contains(m[2], "icanon echo") {
			t.Fatalf("run %d: exit code %s, terminal %q; want %d, icanon echo:\n%s", runs, m[1], m[2], code, p.capture(false))
		}
		if !outcomeLine.MatchString(scr) {
			t.Errorf("run %d: no one-line outcome:\n%s", runs, scr)
		}
		return scr
	}
	resumeAt := regexp.MustCompile(`resume at step (\d+) of (\d+)`)

	launch()
	wizard(p)
	p.waitFor("Ready.")
	p.keys("Enter")
	p.waitFor("Press enter to run them")
	p.keys("Enter")
	// Past the firewall configuration (it generates the root password,
	// shown only on a done screen), several steps to go: quit safely. The
	// first step count of 20 or more the screen shows is taken (a busy
	// machine may poll past any narrower window).
	scr := p.waitForRe(regexp.MustCompile(`running · ([2-9]\d|\d{3,})/\d+ steps`))
	m := regexp.MustCompile(`running · (\d+)/(\d+) steps`).FindStringSubmatch(scr)
	total := m[2]
	if at, _ := strconv.Atoi(m[1]); at > 26 {
		t.Logf("first saw the run at step %s of %s", m[1], total)
	}
	p.keys("q")
	p.waitFor("Stop the run?")
	p.keys("s")
	scr = p.waitFor("Resume the unfinished install")
	first := resumeAt.FindStringSubmatch(scr)
	if first == nil || first[2] != total || first[1] == "1" {
		t.Fatalf("home after the stop should offer to resume mid-way through %s steps:\n%s", total, scr)
	}
	t.Logf("stopped; home offers to resume at step %s of %s", first[1], first[2])
	p.keys("q") // leave tappaas from the home screen
	// The install is unfinished: the headless "interrupted" code, and how
	// to resume (the same command).
	if scr := exited(130); !strings.Contains(scr, "choose Resume") {
		t.Errorf("the exit line should say how to resume:\n%s", scr)
	}

	// Same pane, same directory, a new process: the checkpoint persisted.
	launch()
	scr = p.waitFor("Resume the unfinished install")
	if m := resumeAt.FindStringSubmatch(scr); m == nil || m[1] != first[1] || m[2] != first[2] {
		t.Fatalf("a new process should offer to resume at step %s of %s:\n%s", first[1], first[2], scr)
	}
	p.keys("Enter")
	// The plan review opens at the step it resumes at, the done ones above.
	scr = p.waitFor("Press enter to run them")
	if top := strings.Split(scr, "\n")[2]; !regexp.MustCompile(`^\S+ +`+first[1]+`\. `).MatchString(top) || !strings.Contains(scr, "(↑ ") {
		t.Errorf("the review should open at step %s with the done steps above:\n%s", first[1], scr)
	}
	p.keys("Enter")
	p.waitFor("Run: install")
	scr = p.waitForAny("is installed", "A step failed")
	if strings.Contains(scr, "A step failed") {
		t.Fatalf("the resumed run stopped on a failing step:\n%s", scr)
	}
	scr = p.waitFor("Open") // the summary is read after the screen opens
	wants := []string{"https://10.0.0.10:8006", "Log file: "}
	if tg.lab {
		// The first run was stopped before its done screen: the password it
		// generated (or this run generated) is shown now, once.
		wants = append(wants, "shown only this once")
	}
	for _, want := range wants {
		if !strings.Contains(scr, want) {
			t.Errorf("done screen lacks %q:\n%s", want, scr)
		}
	}
	p.keys("q")
	exited(0)

	// A third start finds nothing to resume.
	launch()
	scr = p.waitForRe(homeInstalled)
	if strings.Contains(scr, "Resume the unfinished") {
		t.Errorf("still offers a resume after the install finished:\n%s", scr)
	}
	p.keys("C-c")
	exited(0)

	if !tg.lab {
		return
	}
	// The lab's own record, read by another command.
	out, err := exec.Command(bin, "status", "--lab", "--lab-dir", tg.labDir, "--output", "json",
		"--log-file", filepath.Join(dir, "status.log")).Output()
	if err != nil {
		t.Fatalf("tappaas status: %v\n%s", err, out)
	}
	var st struct {
		Plan  string `json:"plan"`
		Steps map[string]struct {
			Status string `json:"status"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	if st.Plan != "install" || fmt.Sprint(len(st.Steps)) != total {
		t.Errorf("status: plan %q with %d step records, want install with %s:\n%s", st.Plan, len(st.Steps), total, out)
	}
	for id, r := range st.Steps {
		if r.Status != "done" && r.Status != "skipped" {
			t.Errorf("step %s is %q after the resumed run, want done", id, r.Status)
		}
	}
}

// colour SGR parameters: 30-38, 40-48, 90-97, 100-107 (38/48 introduce
// 256/RGB colours). 39 and 49 ("default colour") are resets, not colours:
// tmux's capture-pane -e emits them around attribute changes.
var sgr = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

func colourEscapes(s string) []string {
	var bad []string
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			var n int
			fmt.Sscan(p, &n)
			if (n >= 30 && n <= 48 && n != 39) || (n >= 90 && n <= 107) {
				bad = append(bad, m[0])
				break
			}
		}
	}
	return bad
}

func TestTmuxNoColor(t *testing.T) {
	t.Parallel()
	p := start(t, testTarget(t, "0.05", "2s"), "NO_COLOR=1")
	check := func(where string) {
		t.Helper()
		scr := p.capture(true)
		if bad := colourEscapes(scr); len(bad) > 0 {
			t.Errorf("%s: colour escapes with NO_COLOR=1: %q", where, bad)
		}
		if !bytes.Contains([]byte(scr), []byte("\x1b[")) {
			t.Logf("%s: no escapes at all (fine)", where)
		}
	}
	p.waitFor("Install TAPPaaS on this node")
	check("home")
	p.keys("Enter")
	p.waitFor("┃ Public domain")
	p.text("exa")
	check("wizard")
	p.keys("Escape")
	wizard(p)
	p.waitFor("Ready.")
	check("preflight")
	p.keys("Enter")
	p.waitFor("Press enter to run them")
	p.keys("Enter")
	p.waitForRe(regexp.MustCompile(`\b[1-9]\d*/\d+ steps`))
	check("run")
	p.keys("q")
	p.waitFor("Stop the run?")
	check("quit dialog")
	p.keys("x") // interrupt now
	p.waitFor("Resume the unfinished install")

	// the same screens with colour do carry colour escapes: the check can fail
	c := start(t, testTarget(t, "0", "2s"), "COLORTERM=truecolor")
	c.waitFor("Install TAPPaaS on this node")
	if len(colourEscapes(c.capture(true))) == 0 {
		t.Error("no colour escapes without NO_COLOR: the NO_COLOR check proves nothing")
	}
}

// BenchmarkExecToFirstFrame starts the binary in a tmux pane and polls the
// pane until the home screen's header is drawn (the poll adds a few ms). One
// op is 5 launches; the metrics are their mean and worst.
func BenchmarkExecToFirstFrame(b *testing.B) {
	bin := fakeBinary(b)
	dir := b.TempDir()
	var total, worst time.Duration
	for i := 0; i < b.N*5; i++ {
		// Measured from before tmux spawns the process: an upper bound.
		start := time.Now()
		p := startPane(b, []string{"TERM=xterm-256color", "TAPPAAS_TUI_FAKE=1", "TAPPAAS_TUI_FAKE_DIR=" + dir},
			"exec "+bin+" --log-file "+filepath.Join(dir, "log"))
		for !strings.Contains(p.capture(false), "TAPPaaS") {
			if time.Since(start) > 10*time.Second {
				b.Fatal("no first frame within 10s")
			}
			time.Sleep(time.Millisecond)
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
		_ = exec.Command("tmux", "-L", p.socket, "kill-server").Run()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N*5), "ms-to-frame")
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// BenchmarkBinaryMemoryAfterMillionLines runs the real binary (fake
// backend: 10 steps × 100,000 output lines, as fast as they come) through
// the wizard to the done screen and reports its resident memory: peak
// (VmHWM) and current (VmRSS). The full log is in the log file.
func BenchmarkBinaryMemoryAfterMillionLines(b *testing.B) {
	bin := fakeBinary(b)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		p := startPane(b, []string{"TERM=xterm-256color", "TAPPAAS_TUI_FAKE=1", "TAPPAAS_TUI_FAKE_DIR=" + dir,
			"TAPPAAS_TUI_FAKE_LINES=100000"}, "exec "+bin+" --log-file "+filepath.Join(dir, "log"))
		wizard(p)
		p.waitFor("Ready.")
		p.keys("Enter")
		p.waitFor("Press enter to run them")
		start := time.Now()
		p.keys("Enter")
		p.waitFor("is installed")
		el := time.Since(start)
		out, err := exec.Command("tmux", "-L", p.socket, "list-panes", "-F", "#{pane_pid}").Output()
		if err != nil {
			b.Fatal(err)
		}
		status, err := os.ReadFile("/proc/" + strings.TrimSpace(string(out)) + "/status")
		if err != nil {
			b.Fatal(err)
		}
		kb := func(field string) float64 {
			m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(status)
			if m == nil {
				b.Fatalf("no %s in /proc status", field)
			}
			var n float64
			fmt.Sscan(string(m[1]), &n)
			return n / 1024
		}
		b.ReportMetric(kb("VmHWM"), "peak-RSS-MB")
		b.ReportMetric(kb("VmRSS"), "RSS-MB")
		b.ReportMetric(1e6/el.Seconds(), "lines/s")
		if st, err := os.Stat(filepath.Join(dir, "log")); err == nil {
			b.ReportMetric(float64(st.Size())/(1<<20), "logfile-MB")
		}
	}
}

// TestTmuxHostKeyTrust runs `tappaas --host` against a standalone lab
// (`tappaas lab serve`): the unknown host key is shown with its SHA-256
// fingerprint; refusing it leaves the node unread, trusting it connects and
// remembers the key in known_hosts.
func TestTmuxHostKeyTrust(t *testing.T) {
	t.Parallel()
	if os.Getenv("TAPPAAS_TUI_TMUX_FAKE") == "1" {
		t.Skip("TAPPAAS_TUI_TMUX_FAKE=1")
	}
	bin := binary(t)
	dir := t.TempDir()
	t.Cleanup(func() { waitGone(t, dir) })
	serve := exec.Command(bin, "lab", "serve", "--dir", filepath.Join(dir, "lab"), "--speed", "0")
	var out syncbuf.Buffer
	serve.Stdout, serve.Stderr = &out, &out
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Kill(); _ = serve.Wait() })
	var port, fp, key string
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		s := out.String()
		if m := regexp.MustCompile(`192\.168\.1\.10:22\s+-> 127\.0\.0\.1:(\d+)`).FindStringSubmatch(s); m != nil {
			port = m[1]
		}
		if m := regexp.MustCompile(`SSH fingerprint:\s+(SHA256:\S+)`).FindStringSubmatch(s); m != nil {
			fp = m[1]
		}
		if m := regexp.MustCompile(`(?s)-----BEGIN OPENSSH PRIVATE KEY-----.*?-----END OPENSSH PRIVATE KEY-----\n`).FindString(s); m != "" {
			key = m
		}
		if port != "" && fp != "" && key != "" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if port == "" || fp == "" || key == "" {
		t.Fatalf("lab serve did not print its address, fingerprint and key:\n%s", out.String())
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() *pane {
		return start(t, target{args: "--host root@127.0.0.1:" + port + " --log-file " + filepath.Join(dir, "log")}, "HOME="+home)
	}
	p := run()
	scr := p.waitFor("Trust this host key?")
	if !strings.Contains(scr, fp) {
		t.Errorf("dialog does not show the lab's fingerprint %s:\n%s", fp, scr)
	}
	p.keys("n")
	p.waitFor("could not read node info")
	p.keys("C-c")
	p.exited(t, 2) // nothing run: input needed

	p = run()
	p.waitFor("Trust this host key?")
	p.keys("y")
	p.waitFor("over SSH")
	p.waitFor("Proxmox VE 9")
	kh, err := os.ReadFile(filepath.Join(home, ".ssh", "known_hosts"))
	if err != nil || !strings.Contains(string(kh), "127.0.0.1]:"+port) {
		t.Errorf("host key not remembered: %v %q", err, kh)
	}
	p.keys("C-c")
	p.exited(t, 2)

	// known now: no question
	p = run()
	p.waitFor("over SSH")
	if strings.Contains(p.capture(false), "Trust this host key?") {
		t.Error("asked again for a remembered key")
	}
}

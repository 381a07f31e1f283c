package tui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/config"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/internal/syncbuf"
	"github.com/tappaas/tappaas/tui/common"
	zonesui "github.com/tappaas/tappaas/tui/screens/zones"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

func accessibleRun(t *testing.T, o tuitest.Options, ao AccessibleOptions, lines ...string) (string, Outcome) {
	t.Helper()
	be, err := tuitest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return accessibleRunOn(t, be, ao, lines...)
}

func accessibleRunOn(t *testing.T, be common.Backend, ao AccessibleOptions, lines ...string) (string, Outcome) {
	t.Helper()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	com.LogPath = "/tmp/x.log"
	ao.Backend, ao.Common = be, com
	ao.Again = "tappaas --lab"
	var out bytes.Buffer
	input := strings.Join(lines, "\n") + "\n"
	res := RunAccessible(context.Background(), ao, strings.NewReader(input), &out)
	return out.String(), res
}

// installAnswers answer the install questions, taking every default that
// has one.
var installAnswers = []string{
	"",                                 // menu: install (the default)
	"example.org", "admin@example.org", // domain, e-mail
	"", "", "", "", // hostname, management address, WAN, LAN: defaults
	"", "", // disks (sdb preselected), layout single
	"WIPE sdb",
	"",         // generate the firewall password (the default)
	"", "", "", // branch, size, run the plan
}

func TestAccessibleInstallWithSameValidation(t *testing.T) {
	t.Parallel()
	out, res := accessibleRun(t, tuitest.Options{Dir: t.TempDir(), Lines: 1}, AccessibleOptions{},
		"1",
		"example", "example.org", // domain: invalid, then valid
		"", "admin@example.org", // e-mail: none, then one
		"",                // hostname: the default
		"10.0.0.1/24", "", // the firewall's address is refused; then the default
		"", "1", "", // WAN the default; LAN = WAN refused; then the default
		"9", "", // disks: no such number; then the default
		"",                     // layout single
		"WIPE sdc", "WIPE sdb", // typed confirmation: wrong, then right
		"", "", "", "")
	for _, want := range []string{
		`Not accepted: "example" needs at least two labels`,
		"An answer is needed: an e-mail address",
		"Hostname [tappaas1]:",
		"Management address, on the lan bridge in 10.0.0.0/24 [10.0.0.10/24]:",
		"is the firewall's address",
		"Not accepted: LAN and WAN must be different ports. Try again.",
		`Not accepted: "9" is not one of the choices. Enter numbers from 1 to 3`,
		"This erases sdb. To confirm, type WIPE sdb:",
		"Not accepted: type exactly: WIPE sdb. Try again.",
		"1. Generate one: shown once at the end",
		"Choose 1 to 2 [1]:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if res.Code != ExitDone {
		t.Fatalf("outcome %+v, want done:\n%s", res, out)
	}
	for _, want := range []string{"The plan has 10 steps", "Started step 1 of 10, Configure package repositories.",
		"Done step 10 of 10, Push zones to the firewall", "https://10.0.0.10:8006", "Log file: /tmp/x.log",
		`read it there with: grep -o '"firewall.root_password":"[^"]*"' /var/lib/tappaas/secrets.json`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if want := "tappaas: install done, 10 of 10 steps; log: /tmp/x.log"; res.Line != want {
		t.Errorf("line %q, want %q", res.Line, want)
	}
	// Progress names steps by title, never by ID.
	if regexp.MustCompile(`(?m)^(Started|Done) .*node\.repos`).MatchString(out) {
		t.Errorf("progress shows step IDs:\n%s", out)
	}
}

func TestAccessibleOutputHasNoEscapes(t *testing.T) {
	t.Parallel()
	out, _ := accessibleRun(t, tuitest.Options{Dir: t.TempDir(), Lines: 1}, AccessibleOptions{}, installAnswers...)
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape sequences in accessible output: %q", out)
	}
}

// Over --host accessible mode asks for the admin network as the wizard
// does, with the operator's address as the default and the same
// validator (config.ValidateAdminNetwork).
func TestAccessibleAsksAdminNetworkOverHost(t *testing.T) {
	t.Parallel()
	out, res := accessibleRun(t, tuitest.Options{Dir: t.TempDir(), Lines: 1, OperatorAddr: "203.0.113.7"}, AccessibleOptions{},
		"", "example.org", "admin@example.org", "", "", "", "", // menu, site, hostname, mgmt, WAN, LAN
		"10.0.0.0/24", "", // admin network: inside mgmt refused; then the default
		"", "", "WIPE sdb", // disks, layout, wipe
		"", "", "", "") // password, branch, size, run
	if res.Code != ExitDone {
		t.Fatalf("outcome %+v:\n%s", res, out)
	}
	for _, want := range []string{"you connect from 203.0.113.7", "[203.0.113.7/32]:", "overlaps the management network"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestAccessibleKeepsExistingPool: line by line too, an installed node's
// pool is kept: no disk question, no typed wipe.
func TestAccessibleKeepsExistingPool(t *testing.T) {
	t.Parallel()
	out, res := accessibleRun(t, tuitest.Options{Dir: t.TempDir(), Lines: 1,
		Pool: &config.Pool{Name: "tanka1", Layout: "mirror", Disks: []string{"sdb", "sdc"}}}, AccessibleOptions{},
		"", "example.org", "admin@example.org", "", "", "", "",
		"",         // generate the firewall password
		"", "", "") // branch, size, run
	if res.Code != ExitDone {
		t.Fatalf("outcome %+v:\n%s", res, out)
	}
	if !strings.Contains(out, "Storage pool tanka1 exists: mirror on sdb, sdc") || strings.Contains(out, "WIPE") {
		t.Errorf("the existing pool should be kept without a wipe question:\n%s", out)
	}
}

// TestAccessibleMenuOnInstalledNode: an installed node opens on the menu
// (status the default), not on install questions; status names steps by
// title; quit is exit 0.
func TestAccessibleMenuOnInstalledNode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, res := accessibleRun(t, tuitest.Options{Dir: dir, Lines: 1}, AccessibleOptions{}, installAnswers...); res.Code != ExitDone {
		t.Fatalf("install: %+v", res)
	}
	out, res := accessibleRun(t, tuitest.Options{Dir: dir, Lines: 1}, AccessibleOptions{}, "", "5")
	for _, want := range []string{"TAPPaaS is installed on this node.", "Main menu. What do you want to do?",
		"3. Status: what is installed and the last run", "Choose 1 to 4 [3]:",
		"Step 1 of 10, Configure package repositories: done"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Public domain") {
		t.Errorf("an installed node went to install questions:\n%s", out)
	}
	// "5" is not a choice: said, asked again; then input ends (2).
	if !strings.Contains(out, `Not accepted: "5" is not one of the choices. Enter a number from 1 to 4.`) || res.Code != ExitInputNeeded {
		t.Errorf("outcome %+v:\n%s", res, out)
	}
	if _, res := accessibleRun(t, tuitest.Options{Dir: dir, Lines: 1}, AccessibleOptions{}, "4"); res.Code != ExitDone ||
		res.Line != "tappaas: TAPPaaS is installed on tappaas1; log: /tmp/x.log" {
		t.Errorf("quit on an installed node: %+v", res)
	}
}

// TestAccessibleFailedStepAsksThenResumes: a failed step is named by title
// with a numbered choice; stopping there is exit 1 with how to resume, and
// the menu then offers the resume by default, which finishes.
func TestAccessibleFailedStepAsksThenResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := tuitest.Options{Dir: dir, Lines: 1, FailStep: "firewall.vm", FailTimes: 1}
	in := append(append([]string(nil), installAnswers...), "abort") // stop at the failure (typed out; numbers work too)
	out, res := accessibleRun(t, o, AccessibleOptions{}, in...)
	if !strings.Contains(out, "Step 7 of 10, Create the firewall VM failed. What now?") || !strings.Contains(out, "1. Retry the step") {
		t.Errorf("no numbered question naming the step:\n%s", out)
	}
	if res.Code != ExitFailed || !strings.Contains(res.Line, "install failed at step 7 of 10, Create the firewall VM") ||
		!strings.Contains(res.Line, "to resume, run tappaas --lab and choose Resume") {
		t.Fatalf("outcome %+v:\n%s", res, out)
	}
	out, res = accessibleRun(t, tuitest.Options{Dir: dir, Lines: 1}, AccessibleOptions{}, "", "")
	if !strings.Contains(out, "An unfinished install failed at step 7 of 10: Create the firewall VM.") ||
		!strings.Contains(out, "1. Resume the unfinished install from step 7 of 10") || res.Code != ExitDone {
		t.Errorf("resume: %+v\n%s", res, out)
	}
}

// TestAccessibleInterrupted: a cancelled context (Ctrl+C) at a prompt ends
// with 130 and the one line.
func TestAccessibleInterrupted(t *testing.T) {
	t.Parallel()
	be, err := tuitest.New(tuitest.Options{Dir: t.TempDir(), Lines: 1})
	if err != nil {
		t.Fatal(err)
	}
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	com.LogPath = "/tmp/x.log"
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	defer pw.Close()
	var out syncbuf.Buffer
	done := make(chan Outcome, 1)
	go func() {
		done <- RunAccessible(ctx, AccessibleOptions{Options: Options{Backend: be, Common: com}, Again: "tappaas"}, pr, &out)
	}()
	waitOutput(t, &out, "Choose 1 to 4 [1]:")
	cancel()
	res := <-done
	if res.Code != ExitInterrupted || res.Line != "tappaas: interrupted; nothing was running, nothing changed; log: /tmp/x.log" {
		t.Errorf("outcome %+v", res)
	}
}

// summaryWith is the fake with a generated password in its summary.
type summaryWith struct{ *tuitest.Backend }

func (s summaryWith) Summary(ctx context.Context, req common.Request) (common.Summary, error) {
	sum, err := s.Backend.Summary(ctx, req)
	sum.Generated = append(sum.Generated, common.Secret{Name: "Firewall root password", Value: "s3cret-generated", Where: "secrets.json"})
	return sum, err
}

// TestAccessibleGeneratedPasswordOnlyToATerminal: the generated password is
// shown once when the output is a terminal, never when it is not.
func TestAccessibleGeneratedPasswordOnlyToATerminal(t *testing.T) {
	t.Parallel()
	for _, tty := range []bool{false, true} {
		be, err := tuitest.New(tuitest.Options{Dir: t.TempDir(), Lines: 1})
		if err != nil {
			t.Fatal(err)
		}
		out, res := accessibleRunOn(t, summaryWith{be}, AccessibleOptions{ShowSecrets: tty}, installAnswers...)
		if res.Code != ExitDone {
			t.Fatalf("outcome %+v", res)
		}
		if got := strings.Contains(out, "s3cret-generated"); got != tty {
			t.Errorf("terminal=%v: password printed=%v:\n%s", tty, got, out)
		}
		if !tty && !strings.Contains(out, "Firewall root password was generated. It is not printed because the output is not a terminal") {
			t.Errorf("no word about the generated password:\n%s", out)
		}
	}
}

// TestAccessibleZones: validate, plan and apply the zones file from the
// menu, numbered, with the plan's own text; apply is asked first.
func TestAccessibleZones(t *testing.T) {
	t.Parallel()
	f, err := cz.Default()
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	deps := zonesui.Deps{Path: "/tmp/zones.json",
		Plan: func(ctx context.Context, f *cz.File) (*cz.Changes, error) { return cz.Plan(f, cz.Current{}), nil },
		Apply: func(ctx context.Context, ch *cz.Changes, out func(string)) error {
			applied++
			out("applied one")
			return nil
		}}
	out, res := accessibleRun(t, tuitest.Options{Dir: t.TempDir(), Lines: 1}, AccessibleOptions{ZonesFile: f, ZoneDeps: deps},
		"3",      // zones
		"",       // validate (the default)
		"2",      // plan
		"3",      // apply…
		"",       // …not confirmed (the default)
		"3", "2", // apply, confirmed
		"4", // back
		"5") // quit
	for _, want := range []string{"3. Zones: validate, plan and apply the zones file", "Zones file /tmp/zones.json",
		"The zones file is valid", "Apply these changes to the firewall", "Not applied; the firewall is unchanged.",
		"applied one", "Applied: the firewall matches the zones file."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if applied != 1 || res.Code != ExitInputNeeded {
		t.Errorf("applied %d times, outcome %+v", applied, res)
	}
}

// waitOutput polls until out holds want (generous deadline: a loaded
// machine).
func waitOutput(t *testing.T, out *syncbuf.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 60s:\n%s", want, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAccessibleJoin: the join questions line by line, the peer's password
// never echoed, no disks allowed (0), then the join plan by step titles.
func TestAccessibleJoin(t *testing.T) {
	t.Parallel()
	out, res := accessibleRun(t, tuitest.Options{Dir: t.TempDir(), Lines: 1}, AccessibleOptions{},
		"2",             // join
		"", "10.0.0.10", // peer: none, then one
		"", "peer-secret-pw-1", // password: none, then one
		"", "", "", "", // hostname, address, WAN, LAN: defaults
		"0", // no disks
		"")  // run
	for _, want := range []string{"Existing cluster node", "Not accepted: the peer's root password is needed to join. Try again.",
		"Its root password, used once for the join and never stored, not shown as you type:",
		"Hostname [tappaas2]:", "or 0 for none", "No disks chosen: no pool is made and nothing is wiped.",
		"Started step 2 of 3, Join cluster TAPPaaS."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "peer-secret-pw-1") {
		t.Errorf("the peer's password was written out:\n%s", out)
	}
	if res.Code != ExitDone || !strings.HasPrefix(res.Line, "tappaas: join done, 3 of 3 steps") {
		t.Errorf("outcome %+v:\n%s", res, out)
	}
}

// hostKeyFirst is the fake behind an SSH node seen for the first time: its
// NodeInfo asks about the host key and fails unless it is trusted.
type hostKeyFirst struct {
	*tuitest.Backend
	pr *Prompter
}

func (h hostKeyFirst) NodeInfo(ctx context.Context) (common.NodeInfo, error) {
	ok, err := h.pr.TrustHostKey(ctx, "10.0.0.10:22", "ssh-ed25519", "SHA256:abc")
	if err != nil || !ok {
		return common.NodeInfo{}, fmt.Errorf("connect: %w", ssh.ErrHostKeyUnknown)
	}
	return h.Backend.NodeInfo(ctx)
}

// TestAccessibleHostKeyQuestion: an unknown host key is a numbered question
// with the fingerprint; Enter does not trust it (exit 2, input needed);
// choosing trust goes on to the menu.
func TestAccessibleHostKeyQuestion(t *testing.T) {
	t.Parallel()
	for _, trust := range []bool{false, true} {
		be, err := tuitest.New(tuitest.Options{Dir: t.TempDir(), Lines: 1})
		if err != nil {
			t.Fatal(err)
		}
		pr := NewPrompter()
		answers := []string{""}
		if trust {
			answers = []string{"2", "4"} // trust; then quit from the menu
		}
		out, res := accessibleRunOn(t, hostKeyFirst{be, pr}, AccessibleOptions{Options: Options{Prompter: pr}}, answers...)
		if !strings.Contains(out, "tappaas has not connected to 10.0.0.10:22 before.") || !strings.Contains(out, "ssh-ed25519 SHA256:abc") ||
			!strings.Contains(out, "Choose 1 to 2 [1]:") {
			t.Errorf("trust=%v: no host-key question:\n%s", trust, out)
		}
		if got := strings.Contains(out, "Main menu"); got != trust {
			t.Errorf("trust=%v: menu shown=%v:\n%s", trust, got, out)
		}
		if res.Code != ExitInputNeeded {
			t.Errorf("trust=%v: outcome %+v", trust, res)
		}
	}
}

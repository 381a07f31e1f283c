package tui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.land/huh/v2"

	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/config"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/screens/join"
	"github.com/tappaas/tappaas/tui/screens/wizard"
	zonesui "github.com/tappaas/tappaas/tui/screens/zones"
)

// AccessibleOptions configure RunAccessible.
type AccessibleOptions struct {
	Options
	// Again is the command that starts tappaas on the same node (for "how
	// to resume").
	Again string
	// ZonesFile is the live zones file and ZoneDeps what plans and applies
	// it (as the zone editor's); nil: no zones entry in the menu.
	ZonesFile *cz.File
	ZoneDeps  zonesui.Deps
	// ShowSecrets says the output is a terminal: a generated password is
	// printed there once. Otherwise only the command that reads it is.
	ShowSecrets bool
	// Echo turns the terminal's echo off while a password is typed and back
	// on after (nil: input is not a terminal).
	Echo func(on bool)
}

// RunAccessible is the --accessible face: every flow of the full-screen UI
// (home menu, install, resume, join, zones, status) as plain lines that a
// screen reader or braille console follows. Every prompt names what it asks
// and its default, Enter accepts the default, choices are numbered, a wrong
// answer is said with the fix and asked again; the answers go through the
// wizards' own validators. No colour, no cursor movement.
//
// Cancelling ctx (Ctrl+C) interrupts whatever runs; the Outcome says how
// the session ended with the headless exit codes (0 done, 1 failed, 2 input
// needed, 130 interrupted) and the one line to print (state, log, resume).
func RunAccessible(ctx context.Context, o AccessibleOptions, in io.Reader, out io.Writer) Outcome {
	a := &accessible{o: o, be: o.Backend, com: o.Common, p: newPlain(ctx, in, out, o.Echo)}
	if o.Prompter != nil {
		stop := make(chan struct{})
		defer close(stop)
		go a.hostKeys(o.Prompter, stop)
	}
	res, err := a.main(ctx)
	switch {
	case res != nil:
		return *res
	case ctx.Err() != nil || errors.Is(err, errInterrupted):
		if a.info != nil && a.info.Checkpoint != nil {
			c := a.info.Checkpoint
			return a.line(ExitInterrupted, fmt.Sprintf("interrupted; nothing was running; an unfinished %s waits at step %d of %d", c.Goal, c.Step, c.Total),
				a.logPart(), a.resumePart())
		}
		return a.line(ExitInterrupted, "interrupted; nothing was running, nothing changed", a.logPart())
	case errors.Is(err, errNoInput):
		return a.line(ExitInputNeeded, "input ended before an answer was given; nothing more was run", a.logPart(), "run "+a.o.Again+" again and answer the questions")
	case err != nil:
		return a.line(ExitFailed, err.Error(), a.logPart())
	}
	return a.line(ExitFailed, "ended without an outcome", a.logPart()) // not reached
}

var (
	errInterrupted = errors.New("interrupted")
	errNoInput     = errors.New("no more input")
)

type accessible struct {
	o    AccessibleOptions
	be   common.Backend
	com  *common.Common
	p    *plain
	info *common.NodeInfo
}

func (a *accessible) logPart() string { return "log: " + a.com.LogPath }

func (a *accessible) resumePart() string {
	return "to resume, run " + a.o.Again + " and choose Resume"
}

func (a *accessible) line(code int, parts ...string) Outcome {
	return Outcome{Code: code, Line: "tappaas: " + strings.Join(parts, "; ")}
}

// menu actions.
const (
	actResume  = "resume"
	actInstall = "install"
	actJoin    = "join"
	actZones   = "zones"
	actStatus  = "status"
	actQuit    = "quit"
)

// main is the home menu; it returns when a flow ends the session.
func (a *accessible) main(ctx context.Context) (*Outcome, error) {
	a.p.say("tappaas, accessible mode. Enter accepts the default shown in brackets.")
	for {
		info, err := a.be.NodeInfo(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, errInterrupted
			}
			// As the headless commands: an unknown host key needs the
			// operator (2), a node that cannot be reached is a failure (1).
			code := ExitFailed
			if errors.Is(err, ssh.ErrHostKeyUnknown) || errors.Is(err, ssh.ErrHostKeyRejected) {
				code = ExitInputNeeded
			}
			a.p.say("Could not read the node: %v. Check the connection and the log file.", err)
			o := a.line(code, "nothing run; could not read the node: "+firstLine(err.Error()), a.logPart())
			return &o, nil
		}
		a.info = &info
		a.p.say("")
		a.p.say("Node %s, Proxmox VE %s, reached as %s.", info.Hostname, info.PVEVersion, info.Target)
		var opts []huh.Option[string]
		def := actInstall
		switch c := info.Checkpoint; {
		case c != nil:
			how := "stopped"
			if c.Failed {
				how = "failed"
			}
			a.p.say("An unfinished %s %s at step %d of %d: %s.", c.Goal, how, c.Step, c.Total, c.StepTitle)
			opts = append(opts, huh.NewOption(fmt.Sprintf("Resume the unfinished %s from step %d of %d", c.Goal, c.Step, c.Total), actResume))
			def = actResume
		case info.Installed:
			a.p.say("TAPPaaS is installed on this node.")
			def = actStatus
		default:
			a.p.say("TAPPaaS is not installed on this node.")
		}
		install := "Install TAPPaaS on this node"
		if info.Installed {
			install = "Install again (every step is checked; what is done is kept)"
		}
		opts = append(opts, huh.NewOption(install, actInstall), huh.NewOption("Join this node to a cluster", actJoin))
		if a.o.ZonesFile != nil {
			opts = append(opts, huh.NewOption("Zones: validate, plan and apply the zones file", actZones))
		}
		opts = append(opts, huh.NewOption("Status: what is installed and the last run", actStatus), huh.NewOption("Quit", actQuit))
		act, err := a.p.choose("Main menu. What do you want to do?", opts, def, nil)
		if err != nil {
			return nil, err
		}
		var res *Outcome
		switch act {
		case actResume:
			req := common.Request{Goal: common.GoalResume}
			if info.Checkpoint.Goal == common.GoalJoin {
				req.Goal = common.GoalJoin
			}
			res, err = a.execute(ctx, req)
		case actInstall:
			res, err = a.install(ctx)
		case actJoin:
			res, err = a.join(ctx)
		case actZones:
			err = a.zones(ctx)
		case actStatus:
			a.status(info)
		case actQuit:
			o := a.quit(info)
			return &o, nil
		}
		if err != nil || res != nil {
			return res, err
		}
	}
}

// hostKeys asks the backends' host-key questions (an SSH node seen for the
// first time) as the full-screen UI's dialog does; the default is not to
// trust. They come while a backend call is under way, so no other question
// is being asked (plain serialises them anyway).
func (a *accessible) hostKeys(pr *Prompter, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case q := <-pr.ch:
			p := a.p
			p.say("")
			p.say("tappaas has not connected to %s before. Compare this fingerprint with the one the node shows (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub):",
				q.Host, strings.ToLower(strings.TrimPrefix(q.KeyType, "ssh-")))
			p.say("%s %s", q.KeyType, q.Fingerprint)
			ans, err := p.choose("Trust this host key?", []huh.Option[string]{
				huh.NewOption("Do not trust it; nothing is run", "no"),
				huh.NewOption("Trust it and remember it in known_hosts", "yes")}, "no", nil)
			q.reply <- err == nil && ans == "yes"
		}
	}
}

// quit is the outcome of leaving from the menu (the full-screen UI's).
func (a *accessible) quit(info common.NodeInfo) Outcome {
	switch c := info.Checkpoint; {
	case info.Installed:
		return a.line(ExitDone, "TAPPaaS is installed on "+info.Hostname, a.logPart())
	case c != nil:
		return a.line(ExitInputNeeded, fmt.Sprintf("nothing run; an unfinished %s waits at step %d of %d", c.Goal, c.Step, c.Total), a.logPart(), a.resumePart())
	}
	return a.line(ExitInputNeeded, "nothing run; the node is not installed", a.logPart(), "to install, run "+a.o.Again)
}

// install asks the install wizard's questions, then runs the plan.
func (a *accessible) install(ctx context.Context) (*Outcome, error) {
	det, err := a.be.Detect(ctx)
	if err != nil {
		return nil, a.callErr(ctx, "detect the node's network interfaces and disks", err)
	}
	cfg := det.Install
	x := wizard.NewExtra(&cfg)
	x.KeepPool(det.Pool)
	p := a.p
	p.say("")
	p.say("Install TAPPaaS. Part 1 of 5, site.")
	if cfg.Site.Domain, err = p.text("Public domain, your services are reachable under it, for example example.org", cfg.Site.Domain, config.ValidateDomain); err != nil {
		return nil, err
	}
	if cfg.Site.AdminEmail, err = p.text("Administrator e-mail, for certificates and alerts", cfg.Site.AdminEmail, config.ValidateEmail); err != nil {
		return nil, err
	}
	p.say("Part 2 of 5, node.")
	if err := a.node(&cfg, det); err != nil {
		return nil, err
	}
	p.say("Part 3 of 5, storage.")
	if err := a.storage(x, det, false); err != nil {
		return nil, err
	}
	p.say("Part 4 of 5, firewall (OPNsense). Its API key is always generated and stored 0600 on the node.")
	gen := "generate"
	if !x.Generate {
		gen = "type"
	}
	gen, err = p.choose("Firewall root password", []huh.Option[string]{
		huh.NewOption("Generate one: shown once at the end, stored 0600 on the node", "generate"),
		huh.NewOption("I will type one", "type")}, gen, nil)
	if err != nil {
		return nil, err
	}
	x.Generate = gen == "generate"
	if !x.Generate {
		for {
			if cfg.Firewall.RootPassword, err = p.secret("Firewall root password, at least 12 characters", x.ValidatePassword); err != nil {
				return nil, err
			}
			rep, err := p.secret("Repeat the password", nil)
			if err != nil {
				return nil, err
			}
			if err := x.RepeatValidator(&cfg)(rep); err != nil {
				p.say("Not accepted: %v. Type the password again, then repeat it.", err)
				continue
			}
			break
		}
	}
	p.say("Part 5 of 5, platform.")
	if note := wizard.ImagesNote(det.Images); note != "" {
		p.say("Image checksums, verified after download:\n%s", note)
	}
	if cfg.Platform.Branch, err = p.text("TAPPaaS branch", cfg.Platform.Branch, config.ValidateBranch); err != nil {
		return nil, err
	}
	if x.Size, err = p.choose("tappaas-cicd size", wizard.SizeOptions(), x.Size, nil); err != nil {
		return nil, err
	}
	// Image checksums: nothing unverified is booted. Asked only when the
	// backend could not fill them (a real node without pinned releases).
	if cfg.Firewall.ImageSHA256 == "" {
		if cfg.Firewall.ImageSHA256, err = p.text("SHA-256 of the firewall image "+cfg.Firewall.ImageURL, "", config.ValidateSHA256); err != nil {
			return nil, err
		}
	}
	if cfg.Platform.TemplateImageSHA256 == "" {
		if cfg.Platform.TemplateImageSHA256, err = p.text("SHA-256 of the NixOS template image "+cfg.Platform.TemplateImageURL, "", config.ValidateSHA256); err != nil {
			return nil, err
		}
	}
	x.Apply(&cfg)
	if err := cfg.Validate(); err != nil {
		p.say("The answers are not consistent: %v. Nothing was run; choose Install again to correct them.", err)
		return nil, nil
	}
	return a.execute(ctx, common.Request{Goal: common.GoalInstall, Install: &cfg})
}

// join asks the join wizard's questions, then runs the join plan.
func (a *accessible) join(ctx context.Context) (*Outcome, error) {
	det, err := a.be.Detect(ctx)
	if err != nil {
		return nil, a.callErr(ctx, "detect the node's network interfaces and disks", err)
	}
	in := join.Defaults(det)
	x := wizard.NewExtra(&in)
	x.KeepPool(det.Pool)
	p := a.p
	p.say("")
	p.say("Join this node to an existing TAPPaaS cluster. Part 1 of 3, cluster.")
	if in.Join.Peer, err = p.text("Existing cluster node, the address of a node already in the cluster, for example 10.0.0.10", in.Join.Peer, config.ValidatePeer); err != nil {
		return nil, err
	}
	pw, err := p.secret("Its root password, used once for the join and never stored", join.ValidatePeerPassword)
	if err != nil {
		return nil, err
	}
	p.say("Part 2 of 3, this node.")
	if err := a.node(&in, det); err != nil {
		return nil, err
	}
	p.say("Part 3 of 3, storage (optional for a join).")
	if err := a.storage(x, det, true); err != nil {
		return nil, err
	}
	in = join.Answers(in, x)
	return a.execute(ctx, common.Request{Goal: common.GoalJoin, Install: &in, PeerPassword: pw})
}

// node asks hostname, management address and the NIC roles.
func (a *accessible) node(in *config.Install, det common.Detected) error {
	p := a.p
	var err error
	if in.Node.Hostname, err = p.text("Hostname", in.Node.Hostname, config.ValidateHostname); err != nil {
		return err
	}
	if in.Node.ManagementCIDR, err = p.text("Management address, on the lan bridge in 10.0.0.0/24", in.Node.ManagementCIDR, config.ValidateManagementCIDR); err != nil {
		return err
	}
	nics := wizard.NICOptions(det.NICs)
	if in.Node.WANNIC, err = p.choose("WAN port, to your router", nics, in.Node.WANNIC, config.ValidateNIC); err != nil {
		return err
	}
	if in.Node.LANNIC, err = p.choose("LAN port, trunk to your switch", nics, in.Node.LANNIC, wizard.LANValidator(in)); err != nil {
		return err
	}
	if det.OperatorAddr != "" {
		// As the wizard's Node page over --host (wizard.NodeGroup).
		in.Node.AdminNetwork, err = p.text("Admin network, kept routed via your router after the cutover so your session survives (you connect from "+
			det.OperatorAddr+"; empty: none)", in.Node.AdminNetwork, config.ValidateAdminNetwork)
	}
	return err
}

// storage asks the disks, layout and typed wipe confirmation; an existing
// pool is kept as it is (no question, nothing erased).
func (a *accessible) storage(x *wizard.Extra, det common.Detected, optional bool) error {
	p := a.p
	if e := x.Existing; e != nil {
		p.say("Storage pool %s exists: %s on %s. It is kept as it is and nothing is erased.", e.Name, e.Layout, strings.Join(e.Disks, ", "))
		return nil
	}
	if n := wizard.NotOffered(det.Disks); n != "" {
		p.say("%s", n)
	}
	var err error
	if x.Disks, err = p.multi("Disks for the storage pool. Everything on the chosen disks will be erased.", wizard.DiskOptions(det.Disks), x.Disks, optional, wizard.DisksValidator(optional)); err != nil {
		return err
	}
	if len(x.Disks) == 0 {
		p.say("No disks chosen: no pool is made and nothing is wiped.")
		return nil
	}
	if x.Layout, err = p.choose("Pool layout", wizard.LayoutOptions(), x.Layout, x.LayoutValidator(optional)); err != nil {
		return err
	}
	for _, d := range det.Disks {
		if d.InUse != "" && slices.Contains(x.Disks, d.Name) {
			p.say("Warning: %s is in use: %s.", d.Name, d.InUse)
		}
	}
	x.Wipe, err = p.text(fmt.Sprintf("This erases %s. To confirm, type %s", strings.Join(x.Disks, ", "), common.WipeWord(x.Disks)), "", x.ValidateWipe)
	return err
}

// callErr turns a failed backend call into the flow's error (interrupted
// when ctx ended).
func (a *accessible) callErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return errInterrupted
	}
	return fmt.Errorf("could not %s: %v; check the log file", what, firstLine(err.Error()))
}

// execute runs preflight (not for a resume), shows the plan, asks once and
// runs it. A nil Outcome and error mean "back to the menu".
func (a *accessible) execute(ctx context.Context, req common.Request) (*Outcome, error) {
	p := a.p
	goal := req.Goal
	if goal == common.GoalResume {
		goal = common.GoalInstall
	}
	if req.Goal != common.GoalResume {
		p.say("")
		p.say("Checking the node before anything changes.")
		checks, err := a.be.Preflight(ctx, req)
		if err != nil {
			return nil, a.callErr(ctx, "run the checks", err)
		}
		var failed []string
		for i, c := range checks {
			mark := map[common.CheckStatus]string{common.CheckPass: "passed", common.CheckFail: "FAILED",
				common.CheckWarn: "warning", common.CheckUnknown: "could not check"}[c.Status]
			line := fmt.Sprintf("Check %d of %d, %s: %s", i+1, len(checks), c.Name, mark)
			if c.Detail != "" {
				line += ". " + c.Detail
			}
			p.say("%s.", strings.TrimSuffix(line, "."))
			if c.Status == common.CheckFail {
				failed = append(failed, c.Name)
				if c.Fix != "" {
					p.say("  To fix: %s", c.Fix)
				}
			}
		}
		if len(failed) > 0 {
			o := a.line(ExitFailed, fmt.Sprintf("%s not started: %d check(s) failed (%s)", goal, len(failed), strings.Join(failed, ", ")),
				a.logPart(), "fix them, then run "+a.o.Again)
			return &o, nil
		}
	}
	job, err := a.be.Plan(ctx, req)
	if err != nil {
		return nil, a.callErr(ctx, "build the plan", err)
	}
	infos := job.Steps()
	total := len(infos)
	p.say("")
	p.say("The plan has %d steps:", total)
	for i, s := range infos {
		done := ""
		if s.Checkpoint == "done" || s.Checkpoint == "skipped" {
			done = ", done before"
		}
		p.say("Step %d of %d: %s%s.", i+1, total, s.Title, done)
		for _, c := range s.Changes {
			p.say("   %s", c)
		}
	}
	run, err := p.choose("Run the plan now?", []huh.Option[string]{
		huh.NewOption("Run it now. Ctrl+C interrupts; the checkpoint is kept for a resume", "run"),
		huh.NewOption("Back to the main menu; nothing is changed", "back")}, "run", nil)
	if err != nil || run == "back" {
		return nil, err
	}
	return a.run(ctx, req, goal, job)
}

// run runs job and reads its events as plain lines: step titles with
// "step N of M", no output (it is in the log file).
func (a *accessible) run(ctx context.Context, req common.Request, goal common.Goal, job common.Job) (*Outcome, error) {
	p := a.p
	infos := job.Steps()
	total := len(infos)
	pos := map[string]int{}
	done := map[string]bool{}
	for i, s := range infos {
		pos[s.ID] = i
		if s.Checkpoint == "done" || s.Checkpoint == "skipped" {
			done[s.ID] = true
		}
	}
	name := func(id string) string {
		if i, ok := pos[id]; ok {
			return fmt.Sprintf("step %d of %d, %s", i+1, total, infos[i].Title)
		}
		return "step " + id
	}
	// Output goes to the log file from the emitting goroutine; the rest
	// (a few events per step) through a channel read here.
	var logMu sync.Mutex
	events := make(chan steps.Event, 256)
	errc := make(chan error, 1)
	go func() {
		errc <- job.Run(ctx, func(e steps.Event) {
			if o, ok := e.(steps.Output); ok {
				if a.com.StepLog != nil {
					logMu.Lock()
					for _, l := range o.Lines {
						fmt.Fprintf(a.com.StepLog, "%s %s| %s\n", o.StepID, o.Stream, l)
					}
					logMu.Unlock()
				}
				return
			}
			events <- e
		})
		close(events)
	}()
	running := map[string]bool{}
	failedStep, failedErr := "", error(nil)
	p.say("")
	handle := func(e steps.Event) {
		switch e := e.(type) {
		case steps.PlanStarted:
			for _, w := range e.Warnings {
				p.say("Warning: %s", w)
			}
		case steps.StepStarted:
			running[e.StepID] = true
			if e.Attempt > 1 {
				p.say("Retrying %s (attempt %d).", name(e.StepID), e.Attempt)
			} else {
				p.say("Started %s.", name(e.StepID))
			}
		case steps.StepDone:
			delete(running, e.StepID)
			done[e.StepID] = true
			if e.Skipped {
				reason := ""
				if e.Reason != "" {
					reason = ": " + e.Reason
				}
				p.say("Done %s, already in place%s.", name(e.StepID), reason)
			} else {
				p.say("Done %s, in %s.", name(e.StepID), e.Duration.Round(100*time.Millisecond))
			}
		case steps.StepFailed:
			delete(running, e.StepID)
			if e.Interrupted {
				running[e.StepID] = true // interrupted: re-checked on resume
				return
			}
			failedStep, failedErr = name(e.StepID), e.Err
			p.say("Failed %s: %v", name(e.StepID), e.Err)
		case steps.Ask:
			var opts []huh.Option[string]
			for _, c := range e.Choices {
				label := map[steps.Choice]string{steps.ChoiceRetry: "Retry the step",
					steps.ChoiceSkip:  "Skip it (the step is optional)",
					steps.ChoiceAbort: "Stop here; the checkpoint is kept, fix the cause and resume later"}[c]
				opts = append(opts, huh.NewOption(label, c.String()))
			}
			ans, err := p.choose(fmt.Sprintf("%s failed. What now?", capitalize(name(e.StepID))), opts, steps.ChoiceRetry.String(), nil)
			choice := steps.ChoiceAbort
			if err == nil {
				for _, c := range e.Choices {
					if c.String() == ans {
						choice = c
					}
				}
			}
			e.Reply(choice)
		case steps.PlanDone:
			if !e.Interrupted {
				p.say("The %s plan ended: %d steps applied, %d already in place, %d failed.", goal, e.Applied, e.Skipped, e.Failed)
			}
		}
	}
	// After an interrupt the run stops at once (the step is re-checked on
	// resume); a run that does not stop within 20s is left to the exit.
	ctxDone, stuck := ctx.Done(), false
	var deadline <-chan time.Time
loop:
	for {
		select {
		case e, ok := <-events:
			if !ok {
				break loop
			}
			handle(e)
		case <-ctxDone:
			ctxDone, deadline = nil, time.After(20*time.Second)
		case <-deadline:
			a.com.Log.Error("the run did not stop within 20s; its step is re-checked on resume")
			stuck = true
			break loop
		}
	}
	var runErr error
	if !stuck {
		runErr = <-errc
	}
	count := len(done)
	if ctx.Err() != nil && (runErr != nil || stuck || count < total) {
		var was []string
		for i, s := range infos {
			if running[s.ID] {
				was = append(was, fmt.Sprintf("step %d of %d, %s", i+1, total, s.Title))
			}
		}
		state := fmt.Sprintf("%s interrupted with %d of %d steps done, checkpoint saved", goal, count, total)
		if len(was) > 0 {
			verb := " was running; it is re-checked on resume)"
			if len(was) > 1 {
				verb = " were running; they are re-checked on resume)"
			}
			state += " (" + strings.Join(was, "; ") + verb
		}
		o := a.line(ExitInterrupted, state, a.logPart(), a.resumePart())
		return &o, nil
	}
	if runErr != nil {
		what := "failed"
		if failedStep != "" {
			what = "failed at " + failedStep
		}
		cause := runErr
		if failedErr != nil {
			cause = failedErr
		}
		what += ": " + firstLine(cause.Error())
		p.say("The %s stopped. Fix the cause (the log file %s has every line of output), then run %s and choose Resume.", goal, a.com.LogPath, a.o.Again)
		o := a.line(ExitFailed, fmt.Sprintf("%s %s", goal, what), a.logPart(), "fix the cause, then "+a.resumePart())
		return &o, nil
	}
	a.summary(ctx, req)
	o := a.line(ExitDone, fmt.Sprintf("%s done, %d of %d steps", goal, count, total), a.logPart())
	return &o, nil
}

// summary says what the run built, where credentials are and how to read
// them; a generated password is printed only to a terminal.
func (a *accessible) summary(ctx context.Context, req common.Request) {
	p := a.p
	sum, err := a.be.Summary(ctx, req)
	if err != nil {
		p.say("Could not read the summary: %v. tappaas status shows what was built.", err)
		return
	}
	p.say("")
	for _, b := range sum.Built {
		p.say("Built: %s.", b)
	}
	for _, u := range sum.URLs {
		p.say("%s: %s", u.Name, u.URL)
	}
	for _, g := range sum.Generated {
		if a.o.ShowSecrets {
			p.say("Generated now, shown only this once, write it down. %s: %s", g.Name, g.Value)
			p.say("It is kept in %s.", g.Where)
			continue
		}
		p.say("%s was generated. It is not printed because the output is not a terminal; read it with the command below.", g.Name)
	}
	for _, c := range sum.Credentials {
		if c.Read != "" {
			p.say("%s is stored in %s; read it there with: %s", c.Name, c.Where, c.Read)
			continue
		}
		p.say("%s is stored in %s.", c.Name, c.Where)
	}
	for _, n := range sum.Next {
		p.say("Next: %s.", strings.TrimSuffix(n, "."))
	}
	p.say("Log file: %s", a.com.LogPath)
}

// status says what is installed and how each step of the last plan ended.
func (a *accessible) status(info common.NodeInfo) {
	p := a.p
	p.say("")
	p.say("Status of %s (Proxmox VE %s, %s).", info.Hostname, info.PVEVersion, info.Target)
	switch c := info.Checkpoint; {
	case info.Installed:
		p.say("TAPPaaS is installed.")
	case c != nil:
		p.say("An unfinished %s waits at step %d of %d: %s.", c.Goal, c.Step, c.Total, c.StepTitle)
		if c.By != "" {
			p.say("Last run by %s at %s.", c.By, c.At.Format(time.RFC3339))
		}
	default:
		p.say("TAPPaaS is not installed.")
	}
	if len(info.Steps) == 0 {
		p.say("No run is recorded.")
		return
	}
	for i, s := range info.Steps {
		st := s.Status
		if st == "" {
			st = "not run"
		}
		line := fmt.Sprintf("Step %d of %d, %s: %s", i+1, len(info.Steps), s.Title, st)
		if !s.Finished.IsZero() {
			line += " at " + s.Finished.Format(time.RFC3339)
		}
		if s.Detail != "" {
			line += ", " + firstLine(s.Detail)
		}
		p.say("%s.", strings.TrimSuffix(line, "."))
	}
}

// zones validates, plans and applies the live zones file, as the zone
// editor does.
func (a *accessible) zones(ctx context.Context) error {
	p := a.p
	f, deps := a.o.ZonesFile, a.o.ZoneDeps
	where := deps.Path
	if where == "" {
		where = "the built-in zone set"
	}
	p.say("")
	p.say("Zones file %s, %d zones: %s.", where, len(f.Names()), strings.Join(f.Names(), ", "))
	valid := func() bool {
		rep := f.Validate()
		for _, w := range rep.Warnings {
			p.say("Warning: %s.", strings.TrimSuffix(w.String(), "."))
		}
		for _, e := range rep.Errors {
			p.say("Error: %s.", strings.TrimSuffix(e.String(), "."))
		}
		if !rep.OK() {
			p.say("The zones file has %d error(s). Fix them in %s (or with the full-screen zone editor), then choose Zones again.", len(rep.Errors), where)
			return false
		}
		p.say("The zones file is valid: %d zones, %d warning(s).", len(f.Names()), len(rep.Warnings))
		return true
	}
	plan := func() *cz.Changes {
		if !valid() {
			return nil
		}
		if deps.Plan == nil {
			p.say("No firewall is configured here: plan and apply need an installed node.")
			return nil
		}
		p.say("Reading the firewall.")
		ch, err := deps.Plan(ctx, f.Clone())
		if err != nil {
			if ctx.Err() == nil {
				p.say("Could not plan against the firewall: %v. Check that the firewall is reachable; the log file has details.", err)
			}
			return nil
		}
		for _, l := range strings.Split(strings.TrimRight(ch.Text(), "\n"), "\n") {
			if strings.TrimSpace(l) != "" {
				p.say("%s", strings.TrimRight(l, " "))
			}
		}
		return ch
	}
	for {
		act, err := p.choose("Zones. What do you want to do?", []huh.Option[string]{
			huh.NewOption("Validate the zones file", "validate"),
			huh.NewOption("Plan: compare the zones file with the firewall, changing nothing", "plan"),
			huh.NewOption("Apply: plan, then change the firewall after you confirm", "apply"),
			huh.NewOption("Back to the main menu", "back")}, "validate", nil)
		if err != nil {
			return err
		}
		switch act {
		case "validate":
			valid()
		case "plan":
			plan()
		case "apply":
			ch := plan()
			if ctx.Err() != nil {
				return errInterrupted
			}
			if ch == nil || ch.Empty() {
				continue
			}
			c, u, d := ch.Count()
			ok, err := p.choose(fmt.Sprintf("Apply these changes to the firewall: %d to create, %d to update, %d to delete?", c, u, d),
				[]huh.Option[string]{huh.NewOption("Do not apply; nothing is changed", "no"), huh.NewOption("Apply them now", "yes")}, "no", nil)
			if err != nil {
				return err
			}
			if ok != "yes" {
				p.say("Not applied; the firewall is unchanged.")
				continue
			}
			if deps.Apply == nil {
				p.say("No firewall is configured here: apply needs an installed node.")
				continue
			}
			err = deps.Apply(ctx, ch, func(l string) { p.say("%s", l) })
			switch {
			case ctx.Err() != nil:
				return errInterrupted
			case err != nil:
				p.say("Apply failed: %v. Run Plan again to see what is left; the log file has details.", err)
			default:
				p.say("Applied: the firewall matches the zones file.")
			}
		case "back":
			return nil
		}
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// plain reads answers line by line and writes plain lines: no colour, no
// cursor movement. Lines are read by one goroutine so a prompt can give way
// to ctx (Ctrl+C) while it waits.
type plain struct {
	ctx   context.Context
	out   io.Writer
	lines chan string
	echo  func(bool)
	mu    sync.Mutex // one write at a time
	qmu   sync.Mutex // one question at a time
}

func newPlain(ctx context.Context, in io.Reader, out io.Writer, echo func(bool)) *plain {
	p := &plain{ctx: ctx, out: out, lines: make(chan string), echo: echo}
	go func() {
		defer close(p.lines)
		br := bufio.NewReader(in)
		for {
			s, err := br.ReadString('\n')
			if s != "" || err == nil {
				select {
				case p.lines <- strings.TrimRight(s, "\r\n"):
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *plain) say(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format+"\n", a...)
}

// ask writes prompt and reads one answer (trimmed); a secret answer is
// never written back.
func (p *plain) ask(prompt string, secret bool) (string, error) {
	p.mu.Lock()
	fmt.Fprint(p.out, prompt+" ")
	p.mu.Unlock()
	if p.ctx.Err() != nil {
		return "", errInterrupted
	}
	select {
	case <-p.ctx.Done():
		return "", errInterrupted
	case s, ok := <-p.lines:
		if !ok {
			p.say("")
			return "", errNoInput
		}
		s = strings.TrimSpace(s)
		if p.echo == nil {
			// Input is not a terminal (piped, a test): nothing echoed
			// the answer, so the transcript shows it. Never a secret.
			if secret {
				p.say("")
			} else {
				p.say("%s", s)
			}
		}
		return s, nil
	}
}

func notAccepted(err error) string {
	return fmt.Sprintf("Not accepted: %s. Try again.", strings.TrimSuffix(err.Error(), "."))
}

// text asks for a value; Enter takes def.
func (p *plain) text(title, def string, validate func(string) error) (string, error) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	prompt := title
	if def != "" {
		prompt += " [" + def + "]"
	}
	for {
		s, err := p.ask(prompt+":", false)
		if err != nil {
			return "", err
		}
		if s == "" {
			s = def
		}
		if validate != nil {
			if err := validate(s); err != nil {
				if s == "" {
					p.say("An answer is needed: %s.", strings.TrimSuffix(strings.TrimPrefix(err.Error(), "required: "), "."))
				} else {
					p.say("%s", notAccepted(err))
				}
				continue
			}
		}
		return s, nil
	}
}

// secret asks for a value without echo (when input is a terminal).
func (p *plain) secret(title string, validate func(string) error) (string, error) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	for {
		if p.echo != nil {
			p.echo(false)
		}
		s, err := p.ask(title+", not shown as you type:", true)
		if p.echo != nil {
			p.echo(true)
			p.say("")
		}
		if err != nil {
			return "", err
		}
		if validate != nil {
			if err := validate(s); err != nil {
				p.say("%s", notAccepted(err))
				continue
			}
		}
		return s, nil
	}
}

// label makes an option's label one plain line (the pickers pad columns).
func label(o huh.Option[string]) string { return strings.Join(strings.Fields(o.Key), " ") }

// choose asks for one of opts by number (or its value typed out); Enter
// takes def when it is one of them.
func (p *plain) choose(title string, opts []huh.Option[string], def string, validate func(string) error) (string, error) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if len(opts) == 0 {
		return "", fmt.Errorf("%s: nothing to choose from; check the log file", title)
	}
	p.say("%s", title)
	d := -1
	for i, o := range opts {
		p.say("%d. %s", i+1, label(o))
		if o.Value == def {
			d = i
		}
	}
	prompt := fmt.Sprintf("Choose 1 to %d", len(opts))
	if len(opts) == 1 {
		prompt = "Choose 1"
	}
	if d >= 0 {
		prompt += fmt.Sprintf(" [%d]", d+1)
	}
	for {
		s, err := p.ask(prompt+":", false)
		if err != nil {
			return "", err
		}
		i := -1
		switch n, err := strconv.Atoi(s); {
		case s == "":
			i = d
		case err == nil && n >= 1 && n <= len(opts):
			i = n - 1
		default:
			for j, o := range opts {
				if strings.EqualFold(s, o.Value) {
					i = j
				}
			}
		}
		if i < 0 {
			if s == "" {
				p.say("An answer is needed: enter a number from 1 to %d.", len(opts))
			} else {
				p.say("Not accepted: %q is not one of the choices. Enter a number from 1 to %d.", s, len(opts))
			}
			continue
		}
		if validate != nil {
			if err := validate(opts[i].Value); err != nil {
				p.say("%s", notAccepted(err))
				continue
			}
		}
		return opts[i].Value, nil
	}
}

// multi asks for several of opts by number, separated by spaces or commas;
// Enter takes def; optional allows 0 for none.
func (p *plain) multi(title string, opts []huh.Option[string], def []string, optional bool, validate func([]string) error) ([]string, error) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	p.say("%s", title)
	var defN []string
	for i, o := range opts {
		p.say("%d. %s", i+1, label(o))
		if slices.Contains(def, o.Value) {
			defN = append(defN, strconv.Itoa(i+1))
		}
	}
	prompt := "Choose one or more numbers, separated by spaces"
	if optional {
		prompt += ", or 0 for none"
	}
	if len(defN) > 0 {
		prompt += " [" + strings.Join(defN, " ") + "]"
	} else if optional {
		prompt += " [0]"
	}
	for {
		s, err := p.ask(prompt+":", false)
		if err != nil {
			return nil, err
		}
		if s == "" {
			s = strings.Join(defN, " ")
			if s == "" && optional {
				s = "0"
			}
		}
		var chosen []string
		bad := ""
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
			n, err := strconv.Atoi(f)
			switch {
			case err == nil && n == 0 && optional:
			case err == nil && n >= 1 && n <= len(opts):
				if !slices.Contains(chosen, opts[n-1].Value) {
					chosen = append(chosen, opts[n-1].Value)
				}
			default:
				bad = f
			}
		}
		if bad != "" {
			p.say("Not accepted: %q is not one of the choices. Enter numbers from 1 to %d, separated by spaces.", bad, len(opts))
			continue
		}
		if validate != nil {
			if err := validate(chosen); err != nil {
				p.say("%s", notAccepted(err))
				continue
			}
		}
		return chosen, nil
	}
}

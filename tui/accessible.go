package tui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"charm.land/huh/v2"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/screens/wizard"
)

// RunAccessible is the --accessible face: plain prompts (huh's accessible
// mode) with the same fields and validators as the wizard, then preflight,
// the plan, one confirmation and the run as plain lines. Screen readers and
// braille consoles can follow it; nothing is redrawn.
func RunAccessible(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	be, com := opts.Backend, opts.Common
	br := bufio.NewReader(in)
	say := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	ask := func(q string) (string, error) {
		fmt.Fprint(out, q+" ")
		s, err := br.ReadString('\n')
		if err != nil && s == "" {
			return "", err
		}
		return strings.TrimSpace(s), nil
	}

	info, err := be.NodeInfo(ctx)
	if err != nil {
		return fmt.Errorf("read node info: %w", err)
	}
	say("tappaas on %s (Proxmox VE %s, %s)", info.Hostname, info.PVEVersion, info.Target)
	req := common.Request{Goal: common.GoalInstall}
	if c := info.Checkpoint; c != nil {
		say("An unfinished %s stopped at step %d of %d (%s).", c.Goal, c.Step, c.Total, c.StepTitle)
		a, err := ask("Resume it? [Y/n]")
		if err != nil {
			return err
		}
		if a == "" || strings.HasPrefix(strings.ToLower(a), "y") {
			req.Goal = common.GoalResume
			if c.Goal == common.GoalJoin {
				req.Goal = common.GoalJoin
			}
		}
	}
	if req.Goal == common.GoalInstall {
		det, err := be.Detect(ctx)
		if err != nil {
			return fmt.Errorf("detect the node: %w", err)
		}
		cfg := det.Install
		x := wizard.NewExtra(&cfg)
		x.KeepPool(det.Pool)
		// The same form, read line by line: huh's accessible mode. It
		// reads from its own buffered reader, so hand it ours.
		f := wizard.Form(&cfg, x, det, wizard.PlainTheme()).WithAccessible(true).WithInput(lineReader{br}).WithOutput(out)
		if err := f.RunWithContext(ctx); err != nil {
			if errors.Is(err, huh.ErrUserAborted) {
				return errors.New("install cancelled")
			}
			return err
		}
		x.Apply(&cfg)
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("answers: %w", err)
		}
		req.Install = &cfg
	}

	if req.Goal != common.GoalResume {
		checks, err := be.Preflight(ctx, req)
		if err != nil {
			return fmt.Errorf("preflight: %w", err)
		}
		failed := 0
		for _, c := range checks {
			mark := map[common.CheckStatus]string{common.CheckPass: "pass", common.CheckFail: "FAIL",
				common.CheckWarn: "warn", common.CheckUnknown: "could not check"}[c.Status]
			say("%s: %s %s", mark, c.Name, c.Detail)
			if c.Status == common.CheckFail {
				failed++
				say("  fix: %s", c.Fix)
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d preflight check(s) failed; fix them and run tappaas again", failed)
		}
	}

	job, err := be.Plan(ctx, req)
	if err != nil {
		return fmt.Errorf("build the plan: %w", err)
	}
	say("The plan has %d steps:", len(job.Steps()))
	for i, s := range job.Steps() {
		done := ""
		if s.Checkpoint == "done" || s.Checkpoint == "skipped" {
			done = " (done before)"
		}
		say("%d. %s%s", i+1, s.Title, done)
		for _, c := range s.Changes {
			say("   %s", c)
		}
	}
	a, err := ask("Run it? [y/N]")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(strings.ToLower(a), "y") {
		return errors.New("not run")
	}
	events := make(chan steps.Event, 1024)
	errc := make(chan error, 1)
	go func() {
		errc <- job.Run(ctx, func(e steps.Event) { events <- e })
		close(events)
	}()
	for e := range events {
		switch e := e.(type) {
		case steps.PlanStarted:
			for _, w := range e.Warnings {
				say("warning: %s", w)
			}
		case steps.StepStarted:
			say("started: %s", e.StepID)
		case steps.Output:
			if com.StepLog != nil {
				for _, l := range e.Lines {
					fmt.Fprintf(com.StepLog, "%s %s| %s\n", e.StepID, e.Stream, l)
				}
			}
		case steps.StepDone:
			if e.Skipped {
				say("already done: %s (%s)", e.StepID, e.Reason)
			} else {
				say("done: %s in %s", e.StepID, e.Duration.Round(100_000_000))
			}
		case steps.StepFailed:
			say("failed: %s: %v", e.StepID, e.Err)
		case steps.Ask:
			var opts []string
			for _, c := range e.Choices {
				opts = append(opts, c.String())
			}
			ans, _ := ask(fmt.Sprintf("Step %s failed. %s?", e.StepID, strings.Join(opts, " / ")))
			choice := steps.ChoiceAbort
			for _, c := range e.Choices {
				if strings.EqualFold(ans, c.String()) || (ans != "" && strings.HasPrefix(c.String(), strings.ToLower(ans[:1]))) {
					choice = c
				}
			}
			e.Reply(choice)
		case steps.PlanDone:
			say("plan %s: %d applied, %d already done, %d failed", e.Plan, e.Applied, e.Skipped, e.Failed)
		}
	}
	if err := <-errc; err != nil {
		say("The run stopped: %v", err)
		say("Log file: %s", com.LogPath)
		return err
	}
	sum, err := be.Summary(ctx, req)
	if err == nil {
		for _, u := range sum.URLs {
			say("%s: %s", u.Name, u.URL)
		}
		for _, c := range sum.Credentials {
			if c.Read != "" {
				say("%s is stored in %s; read it there with: %s", c.Name, c.Where, c.Read)
				continue
			}
			say("%s is stored in %s", c.Name, c.Where)
		}
		for _, n := range sum.Next {
			say("next: %s", n)
		}
	}
	say("Log file: %s", com.LogPath)
	return nil
}

// lineReader hands out at most one line per Read, so that huh's accessible
// prompts (a new bufio.Scanner per prompt) never swallow the next answers
// when input is piped.
type lineReader struct{ br *bufio.Reader }

func (r lineReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c, err := r.br.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		p[n] = c
		n++
		if c == '\n' {
			break
		}
	}
	return n, nil
}

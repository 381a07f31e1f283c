package steps_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/steps"
)

func TestPrinterTextAndJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	evs := []steps.Event{
		steps.StepStarted{StepID: "node.repos", Attempt: 1, At: at},
		steps.StepDone{StepID: "node.repos", Skipped: true, Reason: "present", At: at},
		steps.StepFailed{StepID: "pbs.install", Err: errors.New("apt failed"), Retryable: true, At: at},
	}
	var text bytes.Buffer
	p := &steps.Printer{W: &text}
	for _, e := range evs {
		p.Print(e)
	}
	want := "03:04:05 > node.repos\n03:04:05 = node.repos skipped: present\n03:04:05 ! pbs.install failed (retryable): apt failed\n"
	if text.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), want)
	}
	var js bytes.Buffer
	p = &steps.Printer{W: &js, JSON: true}
	for _, e := range evs {
		p.Print(e)
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("json lines: %q", lines)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &m); err != nil || m["event"] != "step_failed" || m["error"] != "apt failed" || m["retryable"] != true {
		t.Errorf("json step_failed: %v %v", m, err)
	}
}

// The headless printers show the runner's warnings (a dead run's lock
// taken over), as text and as JSON.
func TestPrinterShowsPlanWarnings(t *testing.T) {
	t.Parallel()
	w := "took over the state lock root@10.0.0.10:22:/var/lib/tappaas/lock of root@tappaas1 pid 77: that process is gone"
	ev := steps.PlanStarted{Plan: "install", Warnings: []string{w}}
	var text, js bytes.Buffer
	(&steps.Printer{W: &text}).Print(ev)
	(&steps.Printer{W: &js, JSON: true}).Print(ev)
	if !strings.Contains(text.String(), "warning: "+w) {
		t.Errorf("text: %q", text.String())
	}
	var m struct{ Warnings []string }
	if err := json.Unmarshal(js.Bytes(), &m); err != nil || len(m.Warnings) != 1 || m.Warnings[0] != w {
		t.Errorf("json: %s (%v)", js.String(), err)
	}
}

// The headless output shows what the run view shows: the whole plan's
// progress and time left after each step, a wait with its limit (once, not
// at every poll), download bytes, and a step quiet for longer than
// expected.
func TestPrinterShowsPlanProgressWaitsAndStalls(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	infos := []steps.StepInfo{{ID: "a", Expected: 10 * time.Second}, {ID: "fw", Needs: []string{"a"}, Expected: 55 * time.Second}}
	what := "the firewall API at https://10.0.0.1 to accept our key"
	evs := []steps.Event{
		steps.PlanStarted{Plan: "install", Steps: infos, At: at(0)},
		steps.StepStarted{StepID: "a", Attempt: 1, At: at(0)},
		steps.Progress{StepID: "a", Fraction: 0.5, What: "img", Done: 345e6, Total: 690e6, At: at(5)},
		steps.StepDone{StepID: "a", Duration: 10 * time.Second, At: at(10)},
		steps.StepStarted{StepID: "fw", Attempt: 1, At: at(10)},
	}
	for s := 10; s < 200; s += 5 {
		evs = append(evs, steps.Progress{StepID: "fw", Fraction: -1, What: what, Deadline: at(610), At: at(s)})
	}
	for _, mode := range []bool{false, true} {
		var b bytes.Buffer
		p := &steps.Printer{W: &b, JSON: mode, Concurrency: 1}
		for _, e := range evs {
			p.Print(e)
		}
		p.Stalls(at(200))
		p.Stalls(at(215)) // once per quiet spell
		out := b.String()
		if !mode {
			for _, want := range []string{
				"+ a done (10s) · plan 15%, about 55s left",
				"a: img: 345 MB of 690 MB",
				"fw: waiting for " + what + " (gives up at 12:10:10, in 10m)",
				"? fw: no output for 3m10s, gives up in 6m50s — still waiting for " + what,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("text lacks %q:\n%s", want, out)
				}
			}
			if n := strings.Count(out, "waiting for "+what+" (gives up"); n != 1 {
				t.Errorf("the wait is printed %d times:\n%s", n, out)
			}
			if n := strings.Count(out, "no output for"); n != 1 {
				t.Errorf("the stall is printed %d times:\n%s", n, out)
			}
			continue
		}
		var seen = map[string]map[string]any{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			seen[fmt.Sprint(m["event"], ":", m["step"])] = m
		}
		if m := seen["step_done:a"]; m == nil || m["plan_left_ms"] != float64(55000) {
			t.Errorf("step_done lacks the plan's time left: %v", m)
		}
		if m := seen["progress:fw"]; m == nil || m["deadline"] == nil {
			t.Errorf("a wait lacks its deadline: %v", m)
		}
		if m := seen["stalled:fw"]; m == nil || m["quiet_ms"] != float64(190000) {
			t.Errorf("no stalled event: %v", m)
		}
	}
}

package steps_test

import (
	"bytes"
	"encoding/json"
	"errors"
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

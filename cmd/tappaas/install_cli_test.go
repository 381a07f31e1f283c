package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps/install"
)

func TestInstallInputNeeded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[site]\ndomain = \"x\"\n[node]\nlan_nic = \"vmbr0\"\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		o    installOptions
		want []string
	}{
		{"no answers", installOptions{output: "text"}, []string{"--answers"}},
		{"invalid answers", installOptions{answers: bad, output: "text"}, []string{"site.domain", "node.lan_nic", "node.bogus", "storage.pools"}},
		{"no --yes", installOptions{answers: exampleAnswers, output: "text", lab: true, labDir: dir, labReset: true, logFile: dir + "/l.log"}, []string{"--yes"}},
	}
	for _, c := range cases {
		var out bytes.Buffer
		code, err := runInstall(context.Background(), c.o, &out, &out)
		if code != 2 || err == nil {
			t.Errorf("%s: exit %d (%v), want 2", c.name, code, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q: %v", c.name, w, err)
			}
		}
		if c.name == "no --yes" && !strings.Contains(out.String(), "firewall.vm") {
			t.Errorf("the plan was not shown:\n%s", out.String())
		}
	}
}

// TestInstallInterruptedExits130: a run stopped by a signal exits 130, as
// the TUI does.
func TestInstallInterruptedExits130(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := installOptions{answers: exampleAnswers, yes: true, output: "text", lab: true, labDir: dir, labReset: true,
		logFile: dir + "/l.log", concurrency: 1, sessionHook: func(*install.Session) { cancel() }}
	var out bytes.Buffer
	code, err := runInstall(ctx, o, &out, &out)
	if code != exitInterrupted || err == nil || !strings.Contains(err.Error(), "run the same command again") {
		t.Fatalf("exit %d (%v), want %d:\n%s", code, err, exitInterrupted, out.String())
	}
}

func TestAgainCommandDropsLabReset(t *testing.T) {
	got := againCommand([]string{"./bin/tappaas", "--lab", "--lab-reset", "--log-file", "/tmp/a b.log", "--lab-reset=true"})
	if want := "./bin/tappaas --lab --log-file '/tmp/a b.log'"; got != want {
		t.Errorf("againCommand = %q, want %q", got, want)
	}
}

func TestPrintAnswers(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	code, err := runInstall(context.Background(), installOptions{printAnswers: true}, &out, &out)
	var want bytes.Buffer
	config.WriteTemplate(&want)
	if code != 0 || err != nil || want.Len() == 0 || out.String() != want.String() {
		t.Fatalf("exit %d %v", code, err)
	}
}

func TestStatusAfterInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	if code, out, err := labInstall(t, context.Background(), dir, true, nil); code != 0 {
		t.Fatalf("install: %d %v\n%s", code, err, tail(out, 20))
	}
	var out bytes.Buffer
	code, err := runStatus(context.Background(), installOptions{output: "text", lab: true, labDir: dir, logFile: dir + "/l.log"}, &out, &out)
	if code != 0 {
		t.Fatalf("status: %d %v", code, err)
	}
	s := out.String()
	for _, w := range []string{"plan install", "firewall.verify", "summary.report", "0 failed"} {
		if !strings.Contains(s, w) {
			t.Errorf("status lacks %q:\n%s", w, s)
		}
	}

	// Answers that ask for another layout of the existing pool are refused,
	// not silently ignored: tappaas never reshapes a pool.
	raw, err := os.ReadFile(exampleAnswers)
	if err != nil {
		t.Fatal(err)
	}
	stripe := filepath.Join(dir, "stripe.toml")
	if err := os.WriteFile(stripe, []byte(strings.Replace(string(raw), `layout = "mirror"`, `layout = "stripe"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, rerun, err := labInstall(t, context.Background(), dir, false, nil, func(o *installOptions) { o.answers = stripe })
	if code != 1 || err == nil || !strings.Contains(rerun, "exists as mirror on sdb, sdc; the answers ask for stripe on sdb, sdc") {
		t.Errorf("a rerun asking for another layout: exit %d (%v), want 1 naming the pool's real layout:\n%s", code, err, tail(rerun, 10))
	}
}

func TestResumeUsesSavedAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	var out bytes.Buffer
	o := installOptions{resume: true, yes: true, output: "json", lab: true, labDir: dir, labReset: true, logFile: dir + "/l.log"}
	if code, err := runInstall(context.Background(), o, &out, &out); code != 2 || err == nil || !strings.Contains(err.Error(), "--answers") {
		t.Fatalf("resume without saved answers: %d %v", code, err)
	}
	// A first run stops on a failing step; the resume needs no answers file.
	if code, _, _ := labInstall(t, context.Background(), dir, true, nil, func(o *installOptions) {
		o.wrapNode = func(e exec.Executor) exec.Executor {
			return &faulty{Executor: e, prefix: "qm create 110", fail: "injected"}
		}
	}); code != 1 {
		t.Fatalf("want the first run to fail, got %d", code)
	}
	o.labReset = false
	out.Reset()
	if code, err := runInstall(context.Background(), o, &out, &out); code != 0 {
		t.Fatalf("resume: %d %v\n%s", code, err, tail(out.String(), 20))
	}
}

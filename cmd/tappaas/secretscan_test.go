package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/lab"
	"github.com/tappaas/tappaas/steps/install"
	"github.com/tappaas/tappaas/steps/summary"
)

// No secret the run knows appears in anything it writes or runs: the log
// file, stdout/stderr (text and JSON events), state.json, journal.jsonl,
// the SUMMARY and every command line on the node and the guests, over a
// JSON run stopped by a fault, a resumed text run and a JSON rerun. The
// secrets file itself (0600) is the one place they are kept; the
// generated firewall password is shown only on a terminal, which these
// runs do not have.
func TestNoSecretInAnyOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	scan := &argvScan{}
	var info lab.Info
	hook := func(l *lab.Lab) { l.OnCommandLine(scan.record); info = l.Info() }
	type output struct{ name, text string }
	var outputs []output
	run := func(name, mode string, reset bool, faults []lab.Fault, wantCode int) {
		t.Helper()
		var out bytes.Buffer
		o := installOptions{answers: exampleAnswers, yes: true, output: mode, lab: true, labDir: dir, labReset: reset,
			concurrency: conc, logFile: dir + "/install.log", labHook: hook, labFaults: faults}
		code, err := runInstall(ctx, o, &out, &out)
		if code != wantCode {
			t.Fatalf("%s: exit %d, want %d: %v\n%s", name, code, wantCode, err, tail(out.String(), 30))
		}
		text := out.String()
		if err != nil {
			text += "\n" + err.Error()
		}
		outputs = append(outputs, output{name + " stdout/stderr", text})
	}
	// Stopped by a PVE 500 on the backup job (after the credentials exist),
	// resumed in text mode, then run again with JSON events.
	run("json run stopped by a fault", "json", true, []lab.Fault{{Face: "ssh", Match: "pvesh create /cluster/backup", Message: "500 lab: injected fault"}}, 1)
	run("resumed text run", "text", false, nil, 0)
	run("json rerun", "json", false, nil, 0)

	log, err := os.ReadFile(dir + "/install.log")
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, output{"install.log", string(log)})
	l, err := lab.Start(ctx, lab.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cat := func(path string) string {
		var o, e bytes.Buffer
		if c := l.Run(ctx, "cat "+path, nil, &o, &e); c != 0 {
			t.Fatalf("cat %s on the node: exit %d: %s", path, c, e.String())
		}
		return o.String()
	}
	// state.json, journal.jsonl, the SUMMARY and everything else the run
	// left in its two directories on the node, but the secrets file.
	var ls bytes.Buffer
	// Regular files, at any depth (network-rollback/ holds the markers).
	if c := l.Run(ctx, "cd "+install.StateDir+" && find . -type f | sed 's|^\\./||'", nil, &ls, nil); c != 0 {
		t.Fatalf("ls %s: exit %d", install.StateDir, c)
	}
	files := []string{summary.File}
	for _, f := range strings.Fields(ls.String()) {
		if f != state.SecretsFile {
			files = append(files, install.StateDir+"/"+f)
		}
	}
	for _, want := range []string{state.StateFile, state.JournalFile} {
		if !slices.Contains(files, install.StateDir+"/"+want) {
			t.Fatalf("no %s on the node (files: %v)", want, files)
		}
	}
	for _, p := range files {
		outputs = append(outputs, output{p, cat(p)})
	}
	var sf struct {
		Secrets map[string]string `json:"secrets"`
	}
	if err := json.Unmarshal([]byte(cat(install.StateDir+"/"+state.SecretsFile)), &sf); err != nil {
		t.Fatalf("secrets file: %v", err)
	}
	if mode := l.Run(ctx, "test \"$(stat -c %a "+install.StateDir+"/"+state.SecretsFile+")\" = 600", nil, nil, nil); mode != 0 {
		t.Errorf("the secrets file is not 0600")
	}
	// Every secret, and every line of a multi-line one (PEM keys).
	secrets := map[string]string{}
	addSecret := func(name, v string) {
		for i, part := range strings.Split(v, "\n") {
			if part = strings.TrimSpace(part); len(part) >= 8 && !strings.HasPrefix(part, "-----") {
				secrets[name+"#"+strconv.Itoa(i+1)] = part
			}
		}
	}
	for name, v := range sf.Secrets {
		addSecret(name, v)
	}
	addSecret("lab root@pam password", info.RootPassword)
	addSecret("firewall bootstrap key", info.FirewallKey)
	addSecret("firewall bootstrap secret", info.FirewallSecret)
	// The needles are what a leak would look like: each is found in the
	// one file meant to hold it.
	raw := cat(install.StateDir + "/" + state.SecretsFile)
	for name, v := range secrets {
		if _, ok := sf.Secrets[strings.Split(name, "#")[0]]; ok && !strings.Contains(raw, v) && !strings.Contains(raw, strings.Trim(strconv.Quote(v), `"`)) {
			t.Errorf("needle %s not found in the secrets file: the scan could not see it", name)
		}
	}
	if len(sf.Secrets) < 4 {
		t.Fatalf("only %d secrets in the secrets file: %v", len(sf.Secrets), sf.Secrets)
	}
	scan.mu.Lock()
	outputs = append(outputs, output{"command lines", strings.Join(scan.lines, "\n")})
	scan.mu.Unlock()
	lines, hits := 0, 0
	for _, o := range outputs {
		for i, line := range strings.Split(o.text, "\n") {
			lines++
			for name, v := range secrets {
				if strings.Contains(line, v) {
					hits++
					t.Errorf("secret %s in %s line %d: %.200s", name, o.name, i+1, line)
				}
			}
		}
	}
	names := make([]string, 0, len(sf.Secrets))
	for n := range sf.Secrets {
		names = append(names, n)
	}
	t.Logf("node files scanned: %v", files)
	t.Logf("%d outputs, %d lines scanned for %d secrets (%d needles: %s, lab root password, bootstrap key/secret): %d hits",
		len(outputs), lines, len(sf.Secrets)+3, len(secrets), strings.Join(names, ", "), hits)
}

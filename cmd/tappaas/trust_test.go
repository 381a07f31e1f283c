package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/lab"
	"github.com/tappaas/tappaas/steps/install"
)

// recorder wraps the node executor and keeps every script it runs.
type recorder struct {
	exec.Executor
	mu      sync.Mutex
	scripts []string
}

func (r *recorder) Run(ctx context.Context, c exec.Cmd) (exec.Result, error) {
	r.mu.Lock()
	r.scripts = append(r.scripts, c.Script)
	r.mu.Unlock()
	return r.Executor.Run(ctx, c)
}

func (r *recorder) count(sub string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.scripts {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// failures returns the step_failed events of a JSON run.
func failures(t *testing.T, out string) []map[string]any {
	t.Helper()
	var fs []map[string]any
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, `{"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		if m["event"] == "step_failed" {
			fs = append(fs, m)
		}
	}
	return fs
}

func forget(t *testing.T, ctx context.Context, dir, what, name string) string {
	t.Helper()
	var out bytes.Buffer
	o := installOptions{lab: true, labDir: dir, logFile: dir + "/install.log", output: "text"}
	code, err := runForget(ctx, o, what, name, &out, &out)
	if code != 0 {
		t.Fatalf("forget %s %s: exit %d: %v\n%s", what, name, code, err, out.String())
	}
	return out.String()
}

// The firewall's certificate is pinned when tappaas takes it over: after it
// changed, a rerun stops before sending any API key, naming both
// fingerprints and the command that forgets the old one; after that
// command the run learns the new certificate and finishes.
func TestChangedFirewallCertificateStopsTheRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	home := t.TempDir()
	t.Setenv("HOME", home)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if code, out, err := labInstall(t, ctx, dir, true, nil); code != 0 {
		t.Fatalf("first run: exit %d: %v\n%s", code, err, tail(out, 40))
	}
	// The firewall's SSH host key is pinned in the node's checkpoint, not
	// in the operator's ~/.ssh/known_hosts.
	if b, err := os.ReadFile(filepath.Join(home, ".ssh", "known_hosts")); err == nil {
		t.Errorf("the install wrote the operator's known_hosts:\n%s", b)
	}
	var l2 *lab.Lab
	var old, now string
	var before int64
	code, out, err := labInstall(t, ctx, dir, false, func(l *lab.Lab) {
		var st bytes.Buffer
		l.Run(ctx, "cat /var/lib/tappaas/state.json", nil, &st, &st)
		var f struct {
			Facts map[string]json.RawMessage `json:"facts"`
		}
		_ = json.Unmarshal(st.Bytes(), &f)
		if !strings.Contains(string(f.Facts["vm.host_keys"]), `"10.0.0.1:22"`) {
			t.Errorf("the firewall's host key is not pinned in state.json: %s", f.Facts["vm.host_keys"])
		}
		l2, old = l, l.Info().FirewallFingerprint
		var rerr error
		if now, rerr = l.ReplaceFirewallCertificate(); rerr != nil {
			t.Error(rerr)
		}
		before = l.Counters().OPNsenseRequests
	})
	if code != 1 || err == nil {
		t.Fatalf("rerun after the certificate changed: exit %d: %v\n%s", code, err, tail(out, 40))
	}
	t.Logf("operator sees: %v", err)
	for _, want := range []string{old, now, "forget-certificate firewall"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "run the same command again") {
		t.Errorf("a rerun cannot help; the error must not suggest it: %v", err)
	}
	if n := l2.Counters().OPNsenseRequests - before; n != 0 {
		t.Fatalf("%d requests (with credentials) reached the firewall with the changed certificate", n)
	}
	for _, f := range failures(t, out) {
		if f["retryable"] == true {
			t.Errorf("a certificate mismatch was retried: %v", f)
		}
	}
	if msg := forget(t, ctx, dir, forgetCertificate, "firewall"); !strings.Contains(msg, old) {
		t.Fatalf("forget names %q, want the old fingerprint %s", msg, old)
	}
	if code, out, err := labInstall(t, ctx, dir, false, nil); code != 0 {
		t.Fatalf("run after forgetting: exit %d: %v\n%s", code, err, tail(out, 40))
	}
}

// A re-created tappaas-cicd offers a new SSH host key: as OpenSSH, the run
// stops at once (no retry, no 10-minute wait, no `qm reboot`), names both
// keys and the one command that forgets the pinned key (kept in the
// node's state.json, not in a temporary file); after it the run finishes.
func TestChangedGuestHostKeyStopsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if code, out, err := labInstall(t, ctx, dir, true, nil); code != 0 {
		t.Fatalf("first run: exit %d: %v\n%s", code, err, tail(out, 40))
	}
	var oldKey string
	rec := &recorder{}
	code, out, err := labInstall(t, ctx, dir, false, func(l *lab.Lab) {
		oldKey, _ = l.GuestHostKey(130)
		var o bytes.Buffer
		if rc := l.Run(ctx, "qm stop 130 && qm destroy 130 --purge", nil, &o, &o); rc != 0 {
			t.Errorf("destroy cicd: exit %d: %s", rc, o.String())
		}
	}, func(o *installOptions) {
		o.wrapNode = func(e exec.Executor) exec.Executor { rec.Executor = e; return rec }
		o.sessionHook = func(s *install.Session) {}
	})
	if code != 1 || err == nil {
		t.Fatalf("rerun after cicd was re-created: exit %d: %v\n%s", code, err, tail(out, 40))
	}
	if rec.count("qm clone") == 0 {
		t.Fatalf("the rerun did not re-create tappaas-cicd: %v\n%s", err, tail(out, 30))
	}
	t.Logf("operator sees: %v", err)
	if oldKey == "" {
		t.Fatal("cicd had no host key before")
	}
	for _, want := range []string{"host key of cicd", "changed", keyFingerprint(oldKey), "tappaas forget-host-key cicd", "state.json"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "tappaas-pins-") || strings.Contains(err.Error(), "ssh-keygen -R") {
		t.Errorf("the error points at a temporary known_hosts file: %v", err)
	}
	fs := failures(t, out)
	if len(fs) != 1 || fs[0]["retryable"] != false {
		t.Errorf("want one failure, not retryable; got %v", fs)
	}
	if n := rec.count("qm reboot"); n != 0 {
		t.Errorf("the installer rebooted the guest %d times over a changed host key", n)
	}
	if msg := forget(t, ctx, dir, forgetHostKey, "cicd"); !strings.Contains(msg, "forgot the SSH host key pinned for cicd") {
		t.Fatalf("forget: %s", msg)
	}
	if msg := forget(t, ctx, dir, forgetHostKey, "cicd"); !strings.Contains(msg, "nothing to forget") {
		t.Fatalf("forget twice: %s", msg)
	}
	if code, out, err := labInstall(t, ctx, dir, false, nil); code != 0 {
		t.Fatalf("run after forgetting: exit %d: %v\n%s", code, err, tail(out, 40))
	}
}

// Bad names are refused with what to give (exit 2), before touching the node.
func TestForgetRefusesBadNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := installOptions{lab: true, labDir: dir, logFile: dir + "/install.log", output: "text"}
	var out bytes.Buffer
	if code, err := runForget(ctx, o, forgetCertificate, "pve", &out, &out); code != 2 || err == nil || !strings.Contains(err.Error(), "only the firewall") {
		t.Errorf("forget-certificate pve: exit %d: %v", code, err)
	}
	if code, err := runForget(ctx, o, forgetHostKey, "not-a-guest", &out, &out); code != 2 || err == nil || !strings.Contains(err.Error(), "firewall, cicd") {
		t.Errorf("forget-host-key not-a-guest: exit %d: %v", code, err)
	}
	if code, err := runForget(ctx, o, forgetHostKey, "cicd", &out, &out); code != 2 || err == nil || !strings.Contains(err.Error(), "platform.cicd-ip") {
		t.Errorf("forget-host-key cicd before any install: exit %d: %v", code, err)
	}
	if code, err := runForget(ctx, o, forgetHostKey, "10.0.0.230", &out, &out); code != 0 || !strings.Contains(out.String(), "nothing to forget") {
		t.Errorf("forget-host-key of an unpinned address: exit %d: %v %s", code, err, out.String())
	}
}

// argvScan records every command line the lab's machines run.
type argvScan struct {
	mu    sync.Mutex
	lines []string
}

func (a *argvScan) record(host, user string, argv []string) {
	a.mu.Lock()
	a.lines = append(a.lines, host+" "+user+": "+strings.Join(argv, " "))
	a.mu.Unlock()
}

// hits returns the recorded command lines holding any of secrets.
func (a *argvScan) hits(secrets map[string]string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, l := range a.lines {
		for name, v := range secrets {
			if strings.Contains(l, v) {
				out = append(out, name+" in `"+l+"`")
			}
		}
	}
	return out
}

// No secret is ever on a command line on the node or a guest (readable in
// ps by every local user): PBS token, firewall key, secret and root
// password, keys — they go on stdin or in request bodies.
func TestNoSecretInAnyCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	scan := &argvScan{}
	var sess *install.Session
	code, out, err := labInstall(t, ctx, dir, true, func(l *lab.Lab) { l.OnCommandLine(scan.record) },
		func(o *installOptions) { o.sessionHook = func(s *install.Session) { sess = s } })
	if code != 0 {
		t.Fatalf("install: exit %d: %v\n%s", code, err, tail(out, 40))
	}
	secrets := map[string]string{}
	st := sess.Store.Secrets()
	for _, name := range st.Names() {
		v, _ := st.Secret(name)
		for _, part := range strings.Split(v, "\n") { // PEM keys: every line
			if part = strings.TrimSpace(part); len(part) >= 8 && !strings.HasPrefix(part, "-----") {
				secrets[name] = part
				break
			}
		}
	}
	if len(secrets) < 3 {
		t.Fatalf("only %d secrets to look for: %v", len(secrets), st.Names())
	}
	scan.mu.Lock()
	n := len(scan.lines)
	scan.mu.Unlock()
	if n < 100 {
		t.Fatalf("only %d command lines recorded", n)
	}
	if hits := scan.hits(secrets); len(hits) > 0 {
		t.Fatalf("%d secret(s) on command lines:\n%s", len(hits), strings.Join(hits, "\n"))
	}
	t.Logf("%d command lines, %d secrets (%s): 0 hits", n, len(secrets), strings.Join(st.Names(), ", "))
}

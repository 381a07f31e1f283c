package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/pve"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/lab"
	"github.com/tappaas/tappaas/steps/dashboard"
)

// statusJSON runs `tappaas status --output json --lab` and decodes it.
func statusJSON(t *testing.T, dir string, mod func(*installOptions)) *dashboard.Dashboard {
	t.Helper()
	o := installOptions{output: "json", lab: true, labDir: dir, logFile: dir + "/status.log", sourceTimeout: 20 * time.Second}
	if mod != nil {
		mod(&o)
	}
	var out, errb bytes.Buffer
	code, err := runStatus(context.Background(), o, &out, &errb)
	if code != 0 {
		t.Fatalf("status: %d %v\n%s", code, err, errb.String())
	}
	var got struct {
		Plan      string               `json:"plan"`
		Dashboard *dashboard.Dashboard `json:"dashboard"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.Dashboard == nil || got.Plan == "" {
		t.Fatalf("status JSON (%v) lacks the plan or the dashboard:\n%s", err, out.String())
	}
	return got.Dashboard
}

// onLabNode runs a script on the lab node as root (the session's SSH link).
func onLabNode(t *testing.T, dir string, scripts ...string) {
	t.Helper()
	var errb bytes.Buffer
	sess, err := openSession(context.Background(), installOptions{lab: true, labDir: dir, logFile: dir + "/cmd.log"}, &errb)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for _, s := range scripts {
		if res, err := sess.Targets.Node.Run(context.Background(), exec.Cmd{Script: s}); err != nil {
			t.Fatalf("%s: %v\n%s", s, err, res.Stdout)
		}
	}
}

func TestStatusDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	if code, out, err := labInstall(t, context.Background(), dir, true, nil); code != 0 {
		t.Fatalf("install: %d %v\n%s", code, err, tail(out, 20))
	}
	d := statusJSON(t, dir, nil)
	if len(d.Nodes) != 1 || len(d.VMs) < 2 {
		t.Fatalf("nodes %+v, VMs %+v: want the node and the foundation VMs", d.Nodes, d.VMs)
	}
	node := d.Nodes[0]
	for _, s := range d.Sources {
		if s.Stale {
			t.Errorf("source %s stale after a clean install: %s", s.Name, s.Error)
		}
	}

	// Back up every VM, then stop the last one.
	var scripts []string
	for _, v := range d.VMs {
		if !v.Template {
			scripts = append(scripts, fmt.Sprintf("pvesh create /nodes/%s/vzdump --vmid %d --storage local", node.Name, v.VMID))
		}
	}
	var stopped dashboard.VM
	for _, v := range d.VMs {
		if !v.Template && v.Status == "running" && !strings.Contains(v.Name, "firewall") {
			stopped = v
		}
	}
	if stopped.VMID == 0 {
		t.Fatalf("no running VM but the firewall to stop: %+v", d.VMs)
	}
	scripts = append(scripts, fmt.Sprintf("qm stop %d", stopped.VMID))
	onLabNode(t, dir, scripts...)

	d = statusJSON(t, dir, nil)
	n := d.Nodes[0]
	if !n.Online || n.PVEVersion == "" || n.MemTotal == 0 || n.DiskTotal == 0 || n.Level != dashboard.Green {
		t.Errorf("node row %+v: want online, PVE version, memory and disk, green", n)
	}
	if d.Cluster.Nodes != 1 {
		t.Errorf("cluster panel %+v", d.Cluster)
	}
	for _, v := range d.VMs {
		switch {
		case v.VMID == stopped.VMID:
			if v.Status != "stopped" || v.Level != dashboard.Red || !strings.Contains(v.Reason, "stopped") {
				t.Errorf("stopped VM row %+v: want red with reason \"stopped\"", v)
			}
		case v.Template:
		case v.Status != "running" || v.Level != dashboard.Green || v.Node != n.Name:
			t.Errorf("VM row %+v: want running, green, on %s", v, n.Name)
		}
	}
	if len(d.Backups) == 0 {
		t.Error("no backup rows")
	}
	for _, b := range d.Backups {
		if b.Result != "OK" || b.Level != dashboard.Green || b.LastOK.IsZero() {
			t.Errorf("backup row %+v: want OK, green", b)
		}
	}
	if d.Zones == nil || d.Zones.Zones == 0 || len(d.Zones.Changes) != 0 || d.Zones.Level != dashboard.Green {
		t.Errorf("zones panel %+v: want the live file's zones, no drift", d.Zones)
	}
	if d.Level != dashboard.Red {
		t.Errorf("platform level %s, want red (a VM is stopped)", d.Level)
	}

	// The text form shows the same, next to the checkpoints.
	var out bytes.Buffer
	if code, err := runStatus(context.Background(), installOptions{output: "text", lab: true, labDir: dir, logFile: dir + "/l.log"}, &out, &out); code != 0 {
		t.Fatalf("status text: %d %v", code, err)
	}
	for _, w := range []string{`platform RED`, `\nNODE `, fmt.Sprintf(`\n%d\s+red\s+%s\s.*stopped\n`, stopped.VMID, stopped.Name), `\nBACKUP `, `zones: \d+ in the live file, 0 change`, `summary.report`} {
		if !regexp.MustCompile(w).MatchString(out.String()) {
			t.Errorf("status text lacks %q:\n%s", w, out.String())
		}
	}

	// A hanging source (the HA status answers never) is stale within its
	// timeout; the other panels are shown.
	d = statusJSON(t, dir, func(o *installOptions) {
		o.sourceTimeout = 5 * time.Second
		o.labFaults = []lab.Fault{{Face: "api", Match: "GET /cluster/ha/status/current", Delay: time.Hour, Times: -1}}
	})
	for _, s := range d.Sources {
		if (s.Name == dashboard.SrcHA) != s.Stale {
			t.Errorf("source %+v: want only %s stale", s, dashboard.SrcHA)
		}
		if s.Name == dashboard.SrcHA && !strings.Contains(s.StaleText(), "no answer within 5s") {
			t.Errorf("stale source text %q", s.StaleText())
		}
	}
	if len(d.Nodes) != 1 || len(d.VMs) < 2 || len(d.Backups) == 0 || d.Zones == nil {
		t.Errorf("with the HA source hanging the other panels are missing: %+v", d)
	}
}

// BenchmarkDashboardGather is one complete dashboard gather (every source,
// concurrently) against the lab after an install, the client and its token
// already set up.
func BenchmarkDashboardGather(b *testing.B) {
	dir := b.TempDir()
	o := installOptions{answers: exampleAnswers, yes: true, output: "json", lab: true, labDir: dir, labReset: true, concurrency: conc, logFile: dir + "/install.log"}
	var out bytes.Buffer
	if code, err := runInstall(context.Background(), o, &out, &out); code != 0 {
		b.Fatalf("install: %d %v\n%s", code, err, tail(out.String(), 20))
	}
	ctx := context.Background()
	sess, err := openSession(ctx, installOptions{lab: true, labDir: dir, logFile: dir + "/bench.log"}, &out)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	c, err := sess.Targets.StatusPVE(ctx)
	if err != nil {
		b.Fatal(err)
	}
	src := dashboard.Sources{PVE: c.Proxmox(), Timeout: 30 * time.Second, Firewall: sess.Targets.ZonesFirewall,
		ZonesFile: func(context.Context) (*cz.File, error) { return cz.Default() }}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := dashboard.Gather(ctx, src, nil)
		for _, s := range d.Sources {
			if s.Stale {
				b.Fatalf("source %s stale: %s", s.Name, s.Error)
			}
		}
	}
}

// The status token is read-only, made once, and its secret kept in the
// node's state; no password is involved.
func TestStatusTokenReadOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	var mu sync.Mutex
	pveum := 0
	var errb bytes.Buffer
	o := installOptions{lab: true, labDir: dir, labReset: true, logFile: dir + "/l.log", labHook: func(l *lab.Lab) {
		l.OnCommandLine(func(_, _ string, argv []string) {
			if len(argv) > 0 && argv[0] == "pveum" {
				mu.Lock()
				pveum++
				mu.Unlock()
			}
		})
	}}
	for i := 0; i < 2; i++ {
		sess, err := openSession(ctx, o, &errb)
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.Lock(ctx, nil); err != nil {
			sess.Close()
			t.Fatal(err)
		}
		c, err := sess.Targets.StatusPVE(ctx)
		if err != nil {
			sess.Close()
			t.Fatal(err)
		}
		var res []map[string]any
		if err := c.Do(ctx, http.MethodGet, "/cluster/resources", nil, &res); err != nil || len(res) == 0 {
			t.Errorf("read with the status token: %v (%d rows)", err, len(res))
		}
		nodeName := ""
		for _, r := range res {
			if r["type"] == "node" {
				nodeName, _ = r["node"].(string)
			}
		}
		err = c.Do(ctx, http.MethodPost, "/nodes/"+nodeName+"/vzdump", map[string]any{"vmid": "100"}, nil)
		if !errors.Is(err, pve.ErrForbidden) {
			t.Errorf("a write with the status token: %v, want forbidden", err)
		}
		sess.Close()
		o.labReset = false
	}
	mu.Lock()
	defer mu.Unlock()
	if pveum != 3 { // remove (none yet), add, acl modify — once
		t.Errorf("pveum ran %d times over two sessions, want 3 (token made once)", pveum)
	}
}

package pve

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"

	"github.com/tappaas/tappaas/backends/tlspin"
)

const baseURL = "https://10.0.0.10:8006"

func (f *fakePVE) client(t *testing.T, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: baseURL, Fingerprint: f.fingerprint(), TokenID: fakeTokenID, TokenSecret: fakeTokenSecret,
		Dial: f.dial, TaskPoll: 5 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// plainProxmox is go-proxmox with its defaults (no tappaas transport),
// trusting the test certificate: the "library's default behaviour" each
// gap test compares against.
func (f *fakePVE) plainProxmox() *proxmox.Client {
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return proxmox.NewClient(f.srv.URL+"/api2/json", proxmox.WithHTTPClient(hc), proxmox.WithAPIToken(fakeTokenID, fakeTokenSecret))
}

var ctx = context.Background()

func TestPinnedTLS(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	t.Run("MatchingPin", func(t *testing.T) {
		c := f.client(t, nil)
		v, err := c.Version(ctx)
		if err != nil || v.Version != "9.2.11" {
			t.Fatalf("%+v %v", v, err)
		}
	})
	t.Run("PinFormats", func(t *testing.T) {
		lower := strings.ToLower(strings.ReplaceAll(f.fingerprint(), ":", ""))
		c := f.client(t, func(c *Config) { c.Fingerprint = lower })
		if _, err := c.Version(ctx); err != nil {
			t.Fatal(err)
		}
		c = f.client(t, func(c *Config) { c.Fingerprint = ""; c.CertPEM = f.certPEM() })
		if _, err := c.Version(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("MismatchRefusedBeforeAnyRequest", func(t *testing.T) {
		before := len(f.requests())
		wrong := "AA:" + strings.Repeat("BB:", 30) + "CC"
		c := f.client(t, func(c *Config) { c.Fingerprint = wrong })
		_, err := c.Version(ctx)
		var pe *tlspin.MismatchError
		if !errors.As(err, &pe) || !errors.Is(err, tlspin.ErrMismatch) {
			t.Fatalf("want MismatchError, got %v", err)
		}
		if pe.Expected != wrong || pe.Got != f.fingerprint() || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), f.fingerprint()) {
			t.Fatalf("error does not name expected and got: %v", err)
		}
		if len(f.requests()) != before {
			t.Fatal("a request reached the server over an unpinned connection")
		}
	})
	t.Run("BadPinConfig", func(t *testing.T) {
		for _, fp := range []string{"", "xyz", "AA:BB"} {
			if _, err := New(Config{BaseURL: baseURL, Fingerprint: fp}); err == nil {
				t.Errorf("fingerprint %q accepted", fp)
			}
		}
		if _, err := New(Config{BaseURL: baseURL, Fingerprint: "AA:" + strings.Repeat("BB:", 30) + "CC", CertPEM: f.certPEM()}); err == nil {
			t.Error("disagreeing fingerprint and certificate accepted")
		}
		if _, err := New(Config{BaseURL: "http://10.0.0.10:8006", Fingerprint: f.fingerprint()}); err == nil {
			t.Error("plain http accepted")
		}
	})
}

func TestRepinAfterCertificateChange(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)
	if _, err := c.Version(ctx); err != nil {
		t.Fatal(err)
	}
	old := f.fingerprint()
	newFP := f.useNewCert() // the cluster join regenerated the node certificate
	c.tr.CloseIdleConnections()
	_, err := c.Version(ctx)
	var pe *tlspin.MismatchError
	if !errors.As(err, &pe) || pe.Expected != old || pe.Got != newFP {
		t.Fatalf("want MismatchError old→new, got %v", err)
	}
	if err := c.SetFingerprint(newFP, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Version(ctx); err != nil || c.Fingerprint() != newFP {
		t.Fatalf("after re-pin: %v", err)
	}
}

func TestAuthTokenAndTicket(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	var logs bytes.Buffer
	c := f.client(t, func(c *Config) {
		c.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if _, err := c.Nodes(ctx); err != nil {
		t.Fatal(err)
	}
	if f.lastAuth != "PVEAPIToken="+fakeTokenID+"="+fakeTokenSecret {
		t.Fatalf("token header %q", f.lastAuth)
	}
	// Cluster create needs a root@pam ticket: refused locally without one.
	if _, err := c.ClusterCreate(ctx, "TAPPaaS", "10.0.0.10"); !errors.Is(err, ErrNeedTicket) {
		t.Fatalf("want ErrNeedTicket, got %v", err)
	}
	err := c.LoginTicket(ctx, "root@pam", "wrong-"+fakeRootPass)
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), fakeRootPass) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := c.LoginTicket(ctx, "root@pam", fakeRootPass); err != nil {
		t.Fatal(err)
	}
	upid, err := c.ClusterCreate(ctx, "TAPPaaS", "10.0.0.10")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.lastCookie, "PVEAuthCookie=") || f.lastAuth != "" {
		t.Fatalf("cluster create did not use the ticket: auth %q cookie %q", f.lastAuth, f.lastCookie)
	}
	var lines []string
	if err := c.WaitTask(ctx, upid, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[2] != "TASK OK" {
		t.Fatalf("log %q", lines)
	}
	st, err := c.ClusterStatus(ctx)
	if err != nil || !st.Clustered || st.Name != "TAPPaaS" || !st.Quorate || len(st.Nodes) != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	// Other calls keep using the token.
	c.Nodes(ctx)
	if !strings.HasPrefix(f.lastAuth, "PVEAPIToken=") {
		t.Fatal("token not used after login")
	}
	// A client with only a ticket uses it everywhere, CSRF on writes.
	tc := f.client(t, func(c *Config) { c.TokenID, c.TokenSecret = "", "" })
	if err := tc.LoginTicket(ctx, "root@pam", fakeRootPass); err != nil {
		t.Fatal(err)
	}
	if err := tc.NetworkRevert(ctx, "pve1"); err != nil {
		t.Fatalf("ticket write: %v", err)
	}
	if err := f.client(t, nil).Relogin(ctx); !errors.Is(err, ErrNeedTicket) {
		t.Fatalf("relogin without login: %v", err)
	}
	if err := tc.Relogin(ctx); err != nil {
		t.Fatalf("relogin: %v", err)
	}
	if u, ok := tc.HasTicket(); !ok || u != "root@pam" {
		t.Fatalf("HasTicket = %q %v", u, ok)
	}
	// Expired ticket: renewed once with the remembered login.
	f.mu.Lock()
	f.ticket = "PVE:root@pam:00000000::expired"
	f.mu.Unlock()
	if _, err := tc.Nodes(ctx); err != nil {
		t.Fatalf("ticket renewal: %v", err)
	}
	for _, secret := range []string{fakeTokenSecret, fakeRootPass} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("secret in log: %s", logs.String())
		}
	}
}

func TestErrorShapes(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)

	// 500 with the message in the reason phrase and the body.
	_, err := c.VMCreate(ctx, "pve1", 100, Params{"name": "x"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Message != "unable to create VM 100 - VM 100 already exists on node 'pve1'" {
		t.Fatalf("500: %#v", err)
	}
	// Older PVE: no "message" key; the reason phrase carries it.
	f.mu.Lock()
	f.noMessage = true
	f.mu.Unlock()
	_, err = c.VMCreate(ctx, "pve1", 100, Params{"name": "x"})
	if !errors.As(err, &ae) || !strings.Contains(ae.Message, "already exists on node") {
		t.Fatalf("reason phrase: %v", err)
	}
	f.mu.Lock()
	f.noMessage = false
	f.mu.Unlock()

	// 400 with the errors map.
	_, err = c.VMCreate(ctx, "pve1", 105, Params{"name": "x", "bogus": 1})
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Status != 400 || pe.Errors["bogus"] != "property is not defined in schema and the schema does not allow additional properties" {
		t.Fatalf("400: %#v", err)
	}
	if !strings.Contains(err.Error(), "bogus: property is not defined") {
		t.Fatalf("400 text: %v", err)
	}
	err = c.NetworkCreate(ctx, "pve1", "vmbr0", NetworkConfig{Type: "bridge"})
	if !errors.As(err, &pe) || pe.Errors["iface"] != "interface already exists" {
		t.Fatalf("iface exists: %v", err)
	}

	// Missing VM: PVE's 500 "does not exist" is ErrNotFound.
	if _, err := c.VMStatus(ctx, "pve1", 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing VM: %v", err)
	}
	// 401, 403, 501.
	bad := f.client(t, func(c *Config) { c.TokenSecret = "wrong-secret" })
	if _, err := bad.Nodes(ctx); !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("401: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/forbidden", nil, nil); !errors.Is(err, ErrForbidden) || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("403: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/nodes/pve1/nonsense", nil, nil); !errors.Is(err, ErrNotImplemented) {
		t.Fatalf("501: %v", err)
	}
	// Agent not up.
	if _, err := c.AgentNetwork(ctx, "pve1", 101); err == nil {
		t.Fatal("agent of a missing VM answered")
	}
	f.mu.Lock()
	f.vms[102] = "running"
	f.mu.Unlock()
	if _, err := c.AgentNetwork(ctx, "pve1", 102); !errors.Is(err, ErrAgentNotRunning) {
		t.Fatalf("agent: %v", err)
	}
	// Typed errors also reach calls made through go-proxmox.
	_, err = c.Proxmox().Cluster(ctx)
	if err != nil {
		t.Fatalf("go-proxmox through our transport: %v", err)
	}
	err = c.Proxmox().Get(ctx, "/forbidden", nil)
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("go-proxmox error not typed: %v", err)
	}
	// Control: go-proxmox's own handling loses the map (a string).
	err = f.plainProxmox().Post(ctx, "/nodes/pve1/qemu", map[string]any{"vmid": 106, "bogus": 1}, nil)
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("control: go-proxmox unexpectedly typed: %v", err)
	}
}

func TestGapStorageCreate(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)
	p := Params{"storage": "pbs", "type": "pbs", "server": "10.0.0.10", "datastore": "tappaas", "username": "tappaas@pbs!pve", "password": "x", "fingerprint": f.fingerprint()}
	got, err := c.StorageCreate(ctx, p)
	if err != nil || got.Storage != "pbs" || got.Type != "pbs" {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := c.StorageCreate(ctx, p); err == nil || !strings.Contains(err.Error(), "already defined") {
		t.Fatalf("duplicate: %v", err)
	}
	list, err := c.StorageList(ctx, "")
	if err != nil || len(list) != 1 || list[0].Datastore != "tappaas" {
		t.Fatalf("%+v %v", list, err)
	}
	// Control: go-proxmox decodes the reply into a UPID and fails.
	_, err = f.plainProxmox().NewClusterStorage(ctx, proxmox.ClusterStorageOptions{Name: "storage", Value: "dir2"}, proxmox.ClusterStorageOptions{Name: "type", Value: "dir"})
	if err == nil || !strings.Contains(err.Error(), "cannot unmarshal object") {
		t.Fatalf("control: go-proxmox storage create did not fail as documented: %v", err)
	}
}

func TestGapNetworkStageThenApply(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)
	err := c.NetworkCreate(ctx, "pve1", "lan", NetworkConfig{Type: "bridge", BridgePorts: "enp1s0", BridgeVlanAware: true, BridgeVids: "2-4094", CIDR: "10.0.0.10/24", Autostart: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.saw("PUT /nodes/pve1/network") {
		t.Fatal("NetworkCreate applied the change")
	}
	f.mu.Lock()
	vids := f.staged["lan"]["bridge_vids"]
	f.mu.Unlock()
	if vids != "2-4094" {
		t.Fatalf("bridge_vids not sent: %v", vids)
	}
	ifs, changes, err := c.NetworkList(ctx, "pve1", "")
	if err != nil || !strings.Contains(changes, "+auto lan") {
		t.Fatalf("pending changes %q %v", changes, err)
	}
	found := false
	for _, i := range ifs {
		if i.Iface == "lan" && i.BridgeVids == "2-4094" && bool(i.BridgeVlanAware) && !bool(i.Active) {
			found = true
		}
	}
	if !found {
		t.Fatalf("staged lan not listed: %+v", ifs)
	}
	upid, err := c.NetworkApply(ctx, "pve1")
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := ParseUPID(upid); u.Type != "srvreload" || u.ID != "networking" {
		t.Fatalf("upid %s", upid)
	}
	if err := c.WaitTask(ctx, upid, nil); err != nil {
		t.Fatal(err)
	}
	if _, changes, _ := c.NetworkList(ctx, "pve1", ""); changes != "" {
		t.Fatalf("changes after apply: %q", changes)
	}
	// Control: go-proxmox's NewNetwork POSTs and applies (PUT) at once,
	// and has no bridge_vids.
	f2 := newFakePVE(t)
	n := (&proxmox.Node{}).New(f2.plainProxmox(), "pve1")
	if _, err := n.NewNetwork(ctx, &proxmox.NodeNetwork{Iface: "lan", Type: "bridge", BridgePorts: "enp1s0"}); err != nil {
		t.Fatalf("control: %v", err)
	}
	if !f2.saw("PUT /nodes/pve1/network") {
		t.Fatal("control: go-proxmox did not apply immediately (gap gone?)")
	}
}

func TestGapClusterJoinReturnsTaskAndFails(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)
	if err := c.LoginTicket(ctx, "root@pam", fakeRootPass); err != nil {
		t.Fatal(err)
	}
	upid, err := c.ClusterJoin(ctx, JoinParams{Hostname: "10.0.0.11", Password: "peer-pw-s3cret", Fingerprint: strings.ToLower(f.fingerprint()), Links: []string{"10.0.0.12"}})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	body := f.bodies[len(f.bodies)-1]
	f.mu.Unlock()
	if body["fingerprint"] != f.fingerprint() || body["link0"] != "10.0.0.12" {
		t.Fatalf("join body %v", body)
	}
	err = c.WaitTask(ctx, upid, nil)
	var te *TaskError
	if !errors.As(err, &te) || te.ExitStatus != "unable to join: node has guests" || te.Type != "clusterjoin" || strings.Contains(err.Error(), "peer-pw-s3cret") {
		t.Fatalf("want TaskError, got %v", err)
	}
	if len(te.LogTail) == 0 || !strings.HasPrefix(te.LogTail[len(te.LogTail)-1], "TASK ERROR") {
		t.Fatalf("log tail %q", te.LogTail)
	}
	// Control: go-proxmox's JoinCluster returns the UPID as a "status"
	// with a nil error although the join failed.
	px := proxmox.NewClient(f.srv.URL+"/api2/json", proxmox.WithHTTPClient(f.plainHTTP()), proxmox.WithSession(f.currentTicket()))
	cl := &proxmox.Cluster{}
	cl = cl.New(px)
	status, err := cl.JoinCluster(ctx, &proxmox.ClusterJoinOptions{Hostname: "10.0.0.11", Password: "x", Fingerprint: f.fingerprint()})
	if err != nil || !strings.HasPrefix(status, "UPID:") {
		t.Fatalf("control: %q %v", status, err)
	}
}

func (f *fakePVE) plainHTTP() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func (f *fakePVE) currentTicket() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ticket, f.csrf
}

func TestGapTaskFailureAndWarnings(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)
	// VM 100 is running: start fails in the task, not synchronously.
	upid, err := c.VMStart(ctx, "pve1", 100, Params{"timeout": 30})
	if err != nil {
		t.Fatal(err)
	}
	err = c.WaitTask(ctx, upid, nil)
	var te *TaskError
	if !errors.As(err, &te) || te.ExitStatus != "VM 100 already running" {
		t.Fatalf("want TaskError, got %v", err)
	}
	// Control: go-proxmox's Task.Wait says nil for the same failed task.
	task := proxmox.NewTask(proxmox.UPID(upid), f.plainProxmox())
	if err := task.Wait(ctx, time.Millisecond, 5*time.Second); err != nil || !task.IsFailed {
		t.Fatalf("control: go-proxmox Wait = %v failed=%v", err, task.IsFailed)
	}

	// WARNINGS is a success for us, a failure for go-proxmox.
	f.mu.Lock()
	f.vms[101] = "stopped"
	f.mu.Unlock()
	upid, err = c.VMStart(ctx, "pve1", 101, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	if err := c.WaitTask(ctx, upid, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatalf("WARNINGS treated as failure: %v", err)
	}
	if lines[len(lines)-1] != "TASK WARNINGS: 1" {
		t.Fatalf("lines %q", lines)
	}
	task = proxmox.NewTask(proxmox.UPID(upid), f.plainProxmox())
	if err := task.Wait(ctx, time.Millisecond, 5*time.Second); err != nil || task.IsSuccessful {
		t.Fatalf("control: go-proxmox calls WARNINGS success (gap gone?): %v", err)
	}
}

func TestGapUnparsableUPID(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)
	f.mu.Lock()
	f.vms[200] = "stopped"
	f.mu.Unlock()
	_, err := c.VMStart(ctx, "pve1", 200, nil)
	if err == nil || !strings.Contains(err.Error(), "invalid task id") {
		t.Fatalf("want invalid task id, got %v", err)
	}
	// Control: go-proxmox's NewTask panics on it.
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		proxmox.NewTask("UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmstart:200", nil)
		return false
	}()
	if !panicked {
		t.Fatal("control: go-proxmox NewTask no longer panics")
	}
}

func TestParseUPID(t *testing.T) {
	u, err := ParseUPID("UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmcreate:100:root@pam:")
	if err != nil || u.Node != "pve1" || u.PID != 0x1E2A4 || u.Type != "qmcreate" || u.ID != "100" || u.User != "root@pam" || u.StartTime.Unix() != 0x66F0A1B2 {
		t.Fatalf("%+v %v", u, err)
	}
	if u, err := ParseUPID("UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:clusterjoin::root@pam!tok:"); err != nil || u.ID != "" || u.User != "root@pam!tok" {
		t.Fatalf("empty id: %+v %v", u, err)
	}
	if u, err := ParseUPID("UPID:pbs:000003E8:0000B2C1:00000004:66F0A1B2:garbage_collection:store1:root@pam:"); err != nil || u.Type != "garbage_collection" {
		t.Fatalf("pbs: %+v %v", u, err)
	}
	for _, bad := range []string{"", "UPID:", "UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmstart:200:", "UPID:pve1:zz:00C83F1B:66F0A1B2:qmcreate:100:root@pam:",
		"UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmcreate:100:root@pam", "OK"} {
		if _, err := ParseUPID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseUPID(f *testing.F) {
	f.Add("UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmcreate:100:root@pam:")
	f.Add("UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmstart:200:")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUPID(s)
		if err == nil && (u.String() != s || u.Node == "" || u.Type == "") {
			t.Fatalf("accepted inconsistent %q: %+v", s, u)
		}
	})
}

func TestWaitTaskStreamsProgressAndHonoursCancel(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)
	f.mu.Lock()
	upid := f.newTask("download", "noble.img", fakeTokenID, "OK", "downloading", "  10.00% of 1 GiB", "  55.50% of 1 GiB", "100% done")
	f.mu.Unlock()
	var lines []string
	var fracs []float64
	err := c.WaitTaskWith(ctx, upid, WaitOptions{Out: func(l string) { lines = append(lines, l) }, Progress: func(fr float64, _ string) { fracs = append(fracs, fr) }})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(lines, "|") != "downloading|  10.00% of 1 GiB|  55.50% of 1 GiB|100% done|TASK OK" {
		t.Fatalf("lines %q", lines)
	}
	if len(fracs) != 5 || fracs[0] != -1 || fracs[1] != 0.1 || fracs[2] != 0.555 || fracs[3] != 1 {
		t.Fatalf("progress %v", fracs)
	}
	f.mu.Lock()
	slow := f.newTask("qmclone", "9000", fakeTokenID, "OK", make([]string, 1000)...)
	f.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.WaitTask(cctx, slow, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancel: %v", err)
	}
	if err := c.WaitTask(ctx, "UPID:bogus", nil); err == nil {
		t.Fatal("bogus upid accepted")
	}
}

func TestVMAndAgent(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)
	upid, err := c.VMCreate(ctx, "pve1", 101, Params{"name": "tappaas-cicd", "memory": 4096, "sshkeys": proxmox.EncodeSSHKeys("ssh-ed25519 AAAA x@y")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitTask(ctx, upid, nil); err != nil {
		t.Fatal(err)
	}
	st, err := c.VMStatus(ctx, "pve1", 101)
	if err != nil || st.Status != "stopped" || !bool(st.Agent) {
		t.Fatalf("%+v %v", st, err)
	}
	cfg, err := c.VMConfig(ctx, "pve1", 100)
	if err != nil || cfg.Name != "vm100" || cfg.Cores == nil || *cfg.Cores != 2 {
		t.Fatalf("%+v %v", cfg, err)
	}
	ips, err := c.GuestIPv4(ctx, "pve1", 100)
	if err != nil || len(ips) != 1 || ips[0] != "10.0.0.50" {
		t.Fatalf("%v %v", ips, err)
	}
	id, err := c.NextID(ctx)
	if err != nil || id != 101 {
		t.Fatalf("%d %v", id, err)
	}
	st2, err := c.ClusterStatus(ctx)
	if err != nil || st2.Clustered || len(st2.Nodes) != 1 {
		t.Fatalf("standalone: %+v %v", st2, err)
	}
	if n, ok := st2.LocalNode(); !ok || n.Name != "pve1" {
		t.Fatalf("local node %+v", n)
	}
}

func TestPBSConventions(t *testing.T) {
	t.Parallel()
	var gotAuth string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		if gotAuth != "PBSAPIToken=tappaas@pbs!pve:pbs-secret" || r.URL.Path != "/api2/json/admin/datastore" {
			writeErr(w, 401, "authentication failed - invalid credentials", nil, true)
			return
		}
		writeData(w, []map[string]any{{"store": "tappaas"}}, nil)
	}))
	defer srv.Close()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	c, err := New(Config{BaseURL: srv.URL, Fingerprint: tlspin.Sum(srv.Certificate().Raw), TokenID: "tappaas@pbs!pve", TokenSecret: "pbs-secret", PBS: true})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.PBSDatastores(ctx)
	if err != nil || len(ds) != 1 || ds[0].Store != "tappaas" {
		t.Fatalf("%+v %v (auth %q)", ds, err, gotAuth)
	}
	c.SetToken("tappaas@pbs!pve", "wrong")
	if _, err := c.PBSDatastores(ctx); !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad token: %v", err)
	}
	// PBS is pinned like PVE: another certificate is refused before any
	// request, naming both fingerprints and where to read the new one;
	// re-pinning makes it work.
	wrong := strings.Repeat("AB:", 31) + "CD"
	p, err := New(Config{BaseURL: srv.URL, Fingerprint: wrong, TokenID: "tappaas@pbs!pve", TokenSecret: "pbs-secret", PBS: true})
	if err != nil {
		t.Fatal(err)
	}
	gotAuth = ""
	_, err = p.PBSDatastores(ctx)
	good := tlspin.Sum(srv.Certificate().Raw)
	if !errors.Is(err, tlspin.ErrMismatch) || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), good) || !strings.Contains(err.Error(), "proxmox-backup-manager cert info") || gotAuth != "" {
		t.Fatalf("PBS pin mismatch: %v (a request reached the server: %v)", err, gotAuth != "")
	}
	if err := p.SetFingerprint(good, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PBSDatastores(ctx); err != nil || p.Fingerprint() != good {
		t.Fatalf("after re-pin: %v", err)
	}
}

func FuzzDecodeError(f *testing.F) {
	f.Add(400, []byte(`{"data":null,"errors":{"vmid":"VM 100 already exists"},"message":"Parameter verification failed.\n"}`))
	f.Add(500, []byte(`{"data":null}`))
	f.Add(401, []byte(`garbage`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := decodeError("GET", "/x", status, "reason", body)
		if err == nil || err.Error() == "" {
			t.Fatal("no error text")
		}
		var pe *ParamError
		if status == 400 && !errors.As(err, &pe) {
			t.Fatalf("400 not a ParamError: %v", err)
		}
	})
}

package pve

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
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

// version is GET /version through Do.
func version(c *Client) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	err := c.Do(ctx, http.MethodGet, "/version", nil, &v)
	return v.Version, err
}

func TestPinnedTLS(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	t.Run("MatchingPin", func(t *testing.T) {
		c := f.client(t, nil)
		v, err := version(c)
		if err != nil || v != "9.2.11" {
			t.Fatalf("%q %v", v, err)
		}
	})
	t.Run("PinFormats", func(t *testing.T) {
		lower := strings.ToLower(strings.ReplaceAll(f.fingerprint(), ":", ""))
		c := f.client(t, func(c *Config) { c.Fingerprint = lower })
		if _, err := version(c); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("MismatchRefusedBeforeAnyRequest", func(t *testing.T) {
		before := len(f.requests())
		wrong := "AA:" + strings.Repeat("BB:", 30) + "CC"
		c := f.client(t, func(c *Config) { c.Fingerprint = wrong })
		_, err := version(c)
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
		if _, err := New(Config{BaseURL: "http://10.0.0.10:8006", Fingerprint: f.fingerprint()}); err == nil {
			t.Error("plain http accepted")
		}
	})
}

// PVE regenerates the node certificate on a cluster join: the old pin is
// refused, a client pinned to the newly learned fingerprint works.
func TestCertificateChangeRefused(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)
	if _, err := version(c); err != nil {
		t.Fatal(err)
	}
	old := f.fingerprint()
	newFP := f.useNewCert()
	c.tr.CloseIdleConnections()
	_, err := version(c)
	var pe *tlspin.MismatchError
	if !errors.As(err, &pe) || pe.Expected != old || pe.Got != newFP || !strings.Contains(err.Error(), "pvenode cert info") {
		t.Fatalf("want MismatchError old→new naming pvenode cert info, got %v", err)
	}
	if _, err := version(f.client(t, nil)); err != nil {
		t.Fatalf("pinned to the new fingerprint: %v", err)
	}
}

func TestAuthTokenAndTicket(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	var logs bytes.Buffer
	c := f.client(t, func(c *Config) {
		c.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if err := c.Do(ctx, http.MethodGet, "/nodes", nil, nil); err != nil {
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
	// Other calls keep using the token.
	c.Do(ctx, http.MethodGet, "/nodes", nil, nil)
	if !strings.HasPrefix(f.lastAuth, "PVEAPIToken=") {
		t.Fatal("token not used after login")
	}
	// A client with only a ticket uses it everywhere, CSRF on writes (the
	// installer's case).
	f2 := newFakePVE(t)
	tc := f2.client(t, func(c *Config) { c.TokenID, c.TokenSecret = "", "" })
	if err := tc.LoginTicket(ctx, "root@pam", fakeRootPass); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.ClusterCreate(ctx, "TAPPaaS", "10.0.0.10"); err != nil {
		t.Fatalf("ticket write: %v", err)
	}
	if err := f.client(t, nil).relogin(ctx); !errors.Is(err, ErrNeedTicket) {
		t.Fatalf("relogin without login: %v", err)
	}
	// Expired ticket: renewed once with the remembered login.
	f2.mu.Lock()
	f2.ticket = "PVE:root@pam:00000000::expired"
	f2.mu.Unlock()
	if err := tc.Do(ctx, http.MethodGet, "/nodes", nil, nil); err != nil {
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
	create := func(p map[string]any) error { return c.Do(ctx, http.MethodPost, "/nodes/pve1/qemu", p, nil) }

	// 500 with the message in the reason phrase and the body.
	err := create(map[string]any{"vmid": 100, "name": "x"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Message != "unable to create VM 100 - VM 100 already exists on node 'pve1'" {
		t.Fatalf("500: %#v", err)
	}
	// Older PVE: no "message" key; the reason phrase carries it.
	f.mu.Lock()
	f.noMessage = true
	f.mu.Unlock()
	err = create(map[string]any{"vmid": 100, "name": "x"})
	if !errors.As(err, &ae) || !strings.Contains(ae.Message, "already exists on node") {
		t.Fatalf("reason phrase: %v", err)
	}
	f.mu.Lock()
	f.noMessage = false
	f.mu.Unlock()

	// 400 with the errors map.
	err = create(map[string]any{"vmid": 105, "name": "x", "bogus": 1})
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Status != 400 || pe.Errors["bogus"] != "property is not defined in schema and the schema does not allow additional properties" {
		t.Fatalf("400: %#v", err)
	}
	if !strings.Contains(err.Error(), "bogus: property is not defined") {
		t.Fatalf("400 text: %v", err)
	}

	// Missing VM: PVE's 500 "does not exist" is ErrNotFound.
	if err := c.Do(ctx, http.MethodGet, "/nodes/pve1/qemu/999/status/current", nil, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing VM: %v", err)
	}
	// 401, 403, 501.
	bad := f.client(t, func(c *Config) { c.TokenSecret = "wrong-secret" })
	if err := bad.Do(ctx, http.MethodGet, "/nodes", nil, nil); !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("401: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/forbidden", nil, nil); !errors.Is(err, ErrForbidden) || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("403: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/nodes/pve1/nonsense", nil, nil); !errors.Is(err, ErrNotImplemented) {
		t.Fatalf("501: %v", err)
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

// ClusterCreate returns the clustercreate UPID and WaitTask reports the
// task's failure; go-proxmox's CreateCluster hands the UPID back as a
// "status" with a nil error and never waits.
func TestGapClusterCreateReturnsTaskAndFails(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	f.createFail = "cluster config '/etc/pve/corosync.conf' already exists"
	c := f.client(t, nil)
	if err := c.LoginTicket(ctx, "root@pam", fakeRootPass); err != nil {
		t.Fatal(err)
	}
	upid, err := c.ClusterCreate(ctx, "TAPPaaS", "10.0.0.10", "10.1.0.10")
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	body := f.bodies[len(f.bodies)-1]
	f.mu.Unlock()
	if body["clustername"] != "TAPPaaS" || body["link0"] != "10.0.0.10" || body["link1"] != "10.1.0.10" {
		t.Fatalf("create body %v", body)
	}
	err = c.WaitTask(ctx, upid, nil)
	var te *TaskError
	if !errors.As(err, &te) || te.ExitStatus != f.createFail || te.Type != "clustercreate" || strings.Contains(err.Error(), fakeRootPass) {
		t.Fatalf("want TaskError, got %v", err)
	}
	if len(te.LogTail) == 0 || !strings.HasPrefix(te.LogTail[len(te.LogTail)-1], "TASK ERROR") {
		t.Fatalf("log tail %q", te.LogTail)
	}
	// Control: go-proxmox's CreateCluster returns the UPID as a "status"
	// with a nil error although the create failed.
	px := proxmox.NewClient(f.srv.URL+"/api2/json", proxmox.WithHTTPClient(f.plainHTTP()), proxmox.WithSession(f.currentTicket()))
	cl := (&proxmox.Cluster{}).New(px)
	status, err := cl.CreateCluster(ctx, &proxmox.ClusterCreateOptions{ClusterName: "TAPPaaS"})
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
	f.mu.Lock()
	upid := f.newTask("clustercreate", "TAPPaaS", "root@pam", "cluster config '/etc/pve/corosync.conf' already exists")
	f.mu.Unlock()
	err := c.WaitTask(ctx, upid, nil)
	var te *TaskError
	if !errors.As(err, &te) || te.ExitStatus != "cluster config '/etc/pve/corosync.conf' already exists" {
		t.Fatalf("want TaskError, got %v", err)
	}
	// Control: go-proxmox's Task.Wait says nil for the same failed task.
	task := proxmox.NewTask(proxmox.UPID(upid), f.plainProxmox())
	if err := task.Wait(ctx, time.Millisecond, 5*time.Second); err != nil || !task.IsFailed {
		t.Fatalf("control: go-proxmox Wait = %v failed=%v", err, task.IsFailed)
	}

	// WARNINGS is a success for us, a failure for go-proxmox.
	f.mu.Lock()
	upid = f.newTask("clustercreate", "TAPPaaS", "root@pam", "WARNINGS: 1", "Writing corosync config", "WARN: link1 is not reachable")
	f.mu.Unlock()
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
	f.badUPID = true
	c := f.client(t, nil)
	if err := c.LoginTicket(ctx, "root@pam", fakeRootPass); err != nil {
		t.Fatal(err)
	}
	_, err := c.ClusterCreate(ctx, "TAPPaaS", "10.0.0.10")
	if err == nil || !strings.Contains(err.Error(), "invalid task id") {
		t.Fatalf("want invalid task id, got %v", err)
	}
	if err := c.WaitTask(ctx, "UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:clustercreate:TAPPaaS", nil); err == nil || !strings.Contains(err.Error(), "invalid task id") {
		t.Fatalf("WaitTask: want invalid task id, got %v", err)
	}
	// Control: go-proxmox's NewTask panics on it.
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		proxmox.NewTask("UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:clustercreate:TAPPaaS", nil)
		return false
	}()
	if !panicked {
		t.Fatal("control: go-proxmox NewTask no longer panics")
	}
}

func TestParseUPID(t *testing.T) {
	u, err := parseUPID("UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmcreate:100:root@pam:")
	if err != nil || u.Node != "pve1" || u.PID != 0x1E2A4 || u.Type != "qmcreate" || u.ID != "100" || u.User != "root@pam" || u.StartTime.Unix() != 0x66F0A1B2 {
		t.Fatalf("%+v %v", u, err)
	}
	if u, err := parseUPID("UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:clusterjoin::root@pam!tok:"); err != nil || u.ID != "" || u.User != "root@pam!tok" {
		t.Fatalf("empty id: %+v %v", u, err)
	}
	for _, bad := range []string{"", "UPID:", "UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmstart:200:", "UPID:pve1:zz:00C83F1B:66F0A1B2:qmcreate:100:root@pam:",
		"UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmcreate:100:root@pam", "OK"} {
		if _, err := parseUPID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseUPID(f *testing.F) {
	f.Add("UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmcreate:100:root@pam:")
	f.Add("UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:qmstart:200:")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseUPID(s)
		if err == nil && (u.raw != s || u.Node == "" || u.Type == "") {
			t.Fatalf("accepted inconsistent %q: %+v", s, u)
		}
	})
}

func TestWaitTaskStreamsLogAndHonoursCancel(t *testing.T) {
	t.Parallel()
	f := newFakePVE(t)
	c := f.client(t, nil)
	f.mu.Lock()
	upid := f.newTask("clustercreate", "TAPPaaS", "root@pam", "OK", "Writing corosync key", "Writing corosync config", "Restart corosync and cluster filesystem")
	f.mu.Unlock()
	var lines []string
	if err := c.WaitTask(ctx, upid, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(lines, "|") != "Writing corosync key|Writing corosync config|Restart corosync and cluster filesystem|TASK OK" {
		t.Fatalf("lines %q", lines)
	}
	f.mu.Lock()
	slow := f.newTask("clustercreate", "TAPPaaS", "root@pam", "OK", make([]string, 1000)...)
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

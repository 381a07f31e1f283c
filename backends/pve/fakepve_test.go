package pve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/tlspin"
)

// fakePVE is a small PVE API over TLS reproducing the wire shapes of
// docs/pve-api.md: the {"data":…} envelope, errors with the message in
// the HTTP reason phrase (written on a hijacked connection, as Go's
// WriteHeader cannot) and in "message", 400 with the "errors" map, real
// UPIDs, task status/log with "total".
type fakePVE struct {
	t    *testing.T
	srv  *httptest.Server
	cert atomic.Pointer[tls.Certificate]
	node string

	mu         sync.Mutex
	reqs       []string // "METHOD /path"
	bodies     []map[string]any
	tasks      map[string]*fakeTask
	vms        map[int]bool // existing VMs
	clustered  bool
	createFail string // exit status of the next clustercreate task ("" = OK)
	badUPID    bool   // reply to cluster create with a UPID missing its user
	ticket     string
	csrf       string
	noMessage  bool // emulate PVE < 8.3: no "message" key in error bodies
	pid        int
	lastAuth   string
	lastCookie string
}

type fakeTask struct {
	upid   string
	log    []string // full log, revealed one line per status poll
	shown  int
	exit   string
	polls  int
	polled int
}

const (
	fakeTokenID     = "root@pam!tappaas"
	fakeTokenSecret = "6d1f5c1e-0000-4000-8000-s3cr3ttoken"
	fakeRootPass    = "root-pw-hunter2"
)

func newFakePVE(t *testing.T) *fakePVE {
	f := &fakePVE{t: t, node: "pve1", tasks: map[string]*fakeTask{}, vms: map[int]bool{100: true}, pid: 0x1e2a4}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return f.cert.Load(), nil }}
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the pinning probe's aborted handshakes
	f.srv.StartTLS()
	c := f.srv.TLS.Certificates[0]
	f.cert.Store(&c)
	// Serve f.cert whatever the client's SNI (none when dialling an
	// address), as pveproxy serves its one certificate.
	f.srv.TLS.Certificates = nil
	t.Cleanup(f.srv.Close)
	return f
}

// fingerprint of the certificate currently served.
func (f *fakePVE) fingerprint() string {
	return tlspin.Sum(f.cert.Load().Certificate[0])
}

// useNewCert makes the server present a fresh self-signed certificate (as
// PVE does after a cluster join) and returns its fingerprint.
func (f *fakePVE) useNewCert() string {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "pve1"},
		DNSNames: []string{"pve1", "pve1.lab"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.10")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.t.Fatal(err)
	}
	f.cert.Store(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})
	return tlspin.Sum(der)
}

// dial routes the lab-style address 10.0.0.10:8006 to the test server.
func (f *fakePVE) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if addr != "10.0.0.10:8006" {
		return nil, fmt.Errorf("fake dial: no route to %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, f.srv.Listener.Addr().String())
}

func (f *fakePVE) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

// newTask registers a task whose log appears one line per status poll.
func (f *fakePVE) newTask(typ, id, user, exit string, log ...string) string {
	f.pid++
	upid := fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", f.node, f.pid, 0xC83F1B, time.Now().Unix(), typ, id, user)
	end := "TASK OK"
	switch {
	case exit == "OK":
	case strings.HasPrefix(exit, "WARNINGS"):
		end = "TASK " + exit
	default:
		end = "TASK ERROR: " + exit
	}
	f.tasks[upid] = &fakeTask{upid: upid, log: append(append([]string{}, log...), end), exit: exit, polls: len(log) + 1}
	return upid
}

// writeErr writes a PVE-style error: reason phrase = first line of msg.
func writeErr(w http.ResponseWriter, status int, msg string, errs map[string]string, withMessage bool) {
	reason := msg
	if i := strings.IndexByte(reason, '\n'); i >= 0 {
		reason = reason[:i]
	}
	body := map[string]any{"data": nil}
	if errs != nil {
		body["errors"] = errs
	}
	if withMessage {
		body["message"] = msg + "\n"
	}
	b, _ := json.Marshal(body)
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, msg, status)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, reason, len(b), b)
	buf.Flush()
}

// cookieTicket returns the PVEAuthCookie value (pveproxy URI-decodes it).
func cookieTicket(r *http.Request) string {
	c, err := r.Cookie("PVEAuthCookie")
	if err != nil {
		return ""
	}
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return c.Value
	}
	return v
}

func writeData(w http.ResponseWriter, v any, extra map[string]any) {
	body := map[string]any{"data": v}
	for k, x := range extra {
		body[k] = x
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	json.NewEncoder(w).Encode(body)
}

func (f *fakePVE) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api2/json")
	params := map[string]any{}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		b, _ := io.ReadAll(r.Body)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			if len(b) > 0 && json.Unmarshal(b, &params) != nil {
				writeErr(w, 400, "Parameter verification failed.", map[string]string{"body": "invalid JSON"}, true)
				return
			}
		} else if v, err := url.ParseQuery(string(b)); err == nil {
			for k := range v {
				params[k] = v.Get(k)
			}
		}
	}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r.Method+" "+path)
	f.bodies = append(f.bodies, params)
	msg := !f.noMessage
	fail := func(status int, m string, errs map[string]string) { writeErr(w, status, m, errs, msg) }

	// Authentication.
	user := ""
	f.lastAuth, f.lastCookie = r.Header.Get("Authorization"), r.Header.Get("Cookie")
	switch {
	case path == "/access/ticket" && r.Method == http.MethodPost:
		if params["username"] != "root@pam" || params["password"] != fakeRootPass {
			fail(401, "authentication failure", nil)
			return
		}
		f.ticket = fmt.Sprintf("PVE:root@pam:%08X::sig%d", time.Now().Unix(), f.pid)
		f.csrf = fmt.Sprintf("%08X:csrf", time.Now().Unix())
		writeData(w, map[string]any{"username": "root@pam", "ticket": f.ticket, "CSRFPreventionToken": f.csrf, "cap": map[string]any{}}, nil)
		return
	case r.Header.Get("Authorization") == "PVEAPIToken="+fakeTokenID+"="+fakeTokenSecret:
		user = fakeTokenID
	case f.ticket != "" && cookieTicket(r) == f.ticket:
		if r.Method != http.MethodGet && r.Header.Get("CSRFPreventionToken") != f.csrf {
			fail(401, "Permission denied - invalid csrf token", nil)
			return
		}
		user = "root@pam"
	default:
		fail(401, "authentication failure", nil)
		return
	}

	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == "GET" && path == "/version":
		writeData(w, map[string]any{"version": "9.2.11", "release": "9.2", "repoid": "14a22df3"}, nil)
	case r.Method == "GET" && path == "/nodes":
		writeData(w, []map[string]any{{"node": f.node, "status": "online", "ssl_fingerprint": tlspin.Sum(f.cert.Load().Certificate[0]), "uptime": 100, "level": "", "id": "node/" + f.node, "type": "node"}}, nil)
	case r.Method == "GET" && path == "/forbidden":
		fail(403, "Permission check failed (/vms/100, VM.Audit)", nil)
	case r.Method == "GET" && path == "/cluster/status":
		out := []map[string]any{}
		if f.clustered {
			out = append(out, map[string]any{"type": "cluster", "id": "cluster", "name": "TAPPaaS", "nodes": 1, "version": 1, "quorate": 1})
		}
		nodeid := 0
		if f.clustered {
			nodeid = 1
		}
		out = append(out, map[string]any{"type": "node", "id": "node/" + f.node, "name": f.node, "nodeid": nodeid, "ip": "10.0.0.10", "local": 1, "online": 1, "level": ""})
		writeData(w, out, nil)
	case r.Method == "POST" && path == "/cluster/config":
		if user != "root@pam" {
			fail(403, "Permission check failed (user != root@pam)", nil)
			return
		}
		if f.badUPID {
			writeData(w, "UPID:pve1:0001E2A4:00C83F1B:66F0A1B2:clustercreate:TAPPaaS", nil)
			return
		}
		if f.clustered {
			fail(500, "cluster config '/etc/pve/corosync.conf' already exists", nil)
			return
		}
		exit := "OK"
		if f.createFail != "" {
			exit = f.createFail
		} else {
			f.clustered = true
		}
		writeData(w, f.newTask("clustercreate", fmt.Sprint(params["clustername"]), user, exit, "Writing corosync key to /etc/corosync/authkey", "Writing corosync config to /etc/pve/corosync.conf"), nil)
	case len(seg) >= 3 && seg[0] == "nodes" && seg[2] == "qemu":
		f.serveVM(w, r, seg, params, user, fail)
	case len(seg) == 5 && seg[0] == "nodes" && seg[2] == "tasks":
		t := f.tasks[seg[3]]
		if t == nil {
			fail(400, "Parameter verification failed.", map[string]string{"upid": "unable to parse worker upid"})
			return
		}
		switch seg[4] {
		case "status":
			t.polled++
			if t.shown < len(t.log) {
				t.shown++
			}
			u, _ := parseUPID(t.upid)
			st := map[string]any{"upid": t.upid, "node": f.node, "pid": u.PID, "pstart": u.PStart, "starttime": u.StartTime.Unix(), "type": u.Type, "id": u.ID, "user": u.User, "status": "running"}
			if t.shown >= len(t.log) {
				st["status"] = "stopped"
				st["exitstatus"] = t.exit
			}
			writeData(w, st, nil)
		case "log":
			start, _ := strconv.Atoi(r.URL.Query().Get("start"))
			limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
			if limit == 0 {
				limit = 50
			}
			var out []map[string]any
			for i := start; i < t.shown && i < start+limit; i++ {
				out = append(out, map[string]any{"n": i + 1, "t": t.log[i]})
			}
			if out == nil {
				out = []map[string]any{}
			}
			writeData(w, out, map[string]any{"total": t.shown})
		}
	default:
		fail(501, fmt.Sprintf("Method '%s %s' not implemented", r.Method, path), nil)
	}
}

func (f *fakePVE) serveVM(w http.ResponseWriter, r *http.Request, seg []string, params map[string]any, user string, fail func(int, string, map[string]string)) {
	if len(seg) == 3 && r.Method == "POST" {
		id, _ := strconv.Atoi(fmt.Sprint(params["vmid"]))
		for k := range params {
			switch k {
			case "vmid", "name", "memory", "cores":
			default:
				fail(400, "Parameter verification failed.", map[string]string{k: "property is not defined in schema and the schema does not allow additional properties"})
				return
			}
		}
		if f.vms[id] {
			fail(500, fmt.Sprintf("unable to create VM %d - VM %d already exists on node '%s'", id, id, f.node), nil)
			return
		}
		f.vms[id] = true
		writeData(w, f.newTask("qmcreate", strconv.Itoa(id), user, "OK", "creating VM"), nil)
		return
	}
	if len(seg) < 4 {
		fail(501, "Method '"+r.Method+" "+r.URL.Path+"' not implemented", nil)
		return
	}
	if id, _ := strconv.Atoi(seg[3]); !f.vms[id] {
		fail(500, fmt.Sprintf("Configuration file 'nodes/%s/qemu-server/%s.conf' does not exist", f.node, seg[3]), nil)
		return
	}
	fail(501, "Method '"+r.Method+" "+r.URL.Path+"' not implemented", nil)
}

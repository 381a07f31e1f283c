package opnsense

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bootstrap credentials baked into the TAPPaaS firewall image
// (docs/upstream.md#bootstrap-credentials); the installer must
// replace them (docs/upstream.md#firewall-takeover).
const (
	BootstrapKey    = "tappaas-bootstrap"
	BootstrapSecret = "tappaas-bootstrap-rotate-me"
)

// DefaultVersion is the TAPPaaS firewall image's firmware.
const DefaultVersion = "26.1.2"

// Options configures a simulated OPNsense.
type Options struct {
	// Version is the firmware product_version; it selects the dialect:
	// ≤ 26.1 savepoint/rollback; 26.7 stock assignment (no IP fields), no
	// savepoints; ≥ 27.1 assignment with IP fields. Default DefaultVersion.
	Version string
	// Keys maps API key → secret. nil means the image's bootstrap key.
	Keys map[string]string
	// ACL, when set, decides whether key may call path ("/api/…"); false → 403.
	ACL func(key, path string) bool
	// RollbackAfter is the filter's automatic revert delay after
	// apply/<revision>. Default 60s.
	RollbackAfter time.Duration
	// Clock drives time; nil means the real clock.
	Clock Clock
	// AssignPatch reports whether TAPPaaS' InterfaceAssignController is
	// installed (its file in the firewall's controller directory, where
	// tappaas-cicd's pre-update.sh copies it:
	// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/pre-update.sh:214-225). It
	// is asked on every interface_assign request, without the server lock;
	// while it says false, the endpoint answers 404 like any unknown
	// controller. The patch is not part of any firmware: it is a file, so it
	// outlives a firmware upgrade to 26.7. nil means installed (what
	// install2 leaves; the lab's firewall VM passes a func that looks at its
	// filesystem, so it boots without).
	AssignPatch func() bool
	// NICs are the firewall's physical devices. Default vtnet0 (lan), vtnet1 (wan).
	NICs []string
	// Hostname is the system's FQDN. Default "firewall.internal".
	Hostname string
	// Latency, when set, says how long a call takes (the lab's latency
	// model, e.g. a filter apply or a reconfigure taking seconds); the
	// handler waits that long before answering, without holding any lock,
	// and gives up when the request is cancelled.
	Latency func(method, path string) time.Duration
	// OnRequest, when set, is called for each request just before its reply
	// is written (for access logs and counters), with no Server lock held.
	OnRequest func(Request)
}

// Request describes one served API call.
type Request struct {
	Time     time.Time
	Method   string
	Path     string
	Key      string // the API key used ("" if none); never the secret
	Status   int
	Mutating bool   // a write or apply that reached the model
	Body     string // the request body (first 4 KiB); API bodies carry no secrets
}

type dialect struct {
	savepoint, stockAssign, assignIP bool
}

func (o *Options) dialect() dialect {
	maj, mnr := versionOf(o.Version)
	switch {
	case maj < 26 || maj == 26 && mnr < 7:
		return dialect{savepoint: true}
	case maj == 26 || maj == 27 && mnr < 1:
		return dialect{stockAssign: true}
	}
	return dialect{stockAssign: true, assignIP: true}
}

func versionOf(v string) (int, int) {
	parts := strings.SplitN(v, ".", 3)
	maj, _ := strconv.Atoi(parts[0])
	mnr := 0
	if len(parts) > 1 {
		mnr, _ = strconv.Atoi(parts[1])
	}
	return maj, mnr
}

// State is the whole simulated firewall: the saved configuration (what
// config.xml holds) and what the running services use.
type State struct {
	Version  string            `json:"version"`
	Keys     map[string]string `json:"keys"`
	Tables   map[string]*Table `json:"config"`
	Settings map[string]Record `json:"settings"`
	// Running holds the applied copy of each table / settings model.
	Running         map[string]*Table  `json:"running"`
	RunningSettings map[string]Record  `json:"running_settings"`
	Savepoints      map[string]*Table  `json:"savepoints"`  // revision → filter rules
	Rollbacks       map[string]float64 `json:"rollbacks"`   // armed revision → deadline (unix seconds)
	Reverted        []string           `json:"reverted"`    // revisions reverted automatically, in order
	FirmwareChecked bool               `json:"fw_checked"`  //
	Mutations       int                `json:"mutations"`   // mutating calls served
	Serial          int                `json:"savepoint_n"` //
	// Inet is the kernel's IPv4 address per device ("vlan0.210" →
	// "10.2.10.1/24"): what ifconfig shows, which is what interfacesInfo
	// reports (opnsense/core@26.1.11:src/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/OverviewController.php:115,201-228).
	// It changes only when an interface is configured, not when config.xml
	// is saved.
	Inet map[string]string `json:"inet,omitempty"`
	// DNS is Unbound's configuration and running state (dns.go).
	DNS *DNSState `json:"dns,omitempty"`
}

// Server is a simulated OPNsense API. Safe for concurrent use.
type Server struct {
	opts  Options
	clock Clock
	cols  []*collection
	mu    sync.Mutex
	st    *State
	stops map[string]func() bool // armed rollback timers
	rt    map[string]handler
	// verified caches successful crypt verifications: key → sha256(hash, secret).
	verified map[string][32]byte
}

// NewServer returns a firewall in its first-boot state: lan (vtnet0,
// 10.0.0.1/24) and wan (vtnet1, dhcp) assigned, the mgmt DHCP range and
// static hosts of the TAPPaaS config template, no VLANs, no zone rules.
func NewServer(opts Options) *Server {
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.RollbackAfter <= 0 {
		opts.RollbackAfter = 60 * time.Second
	}
	if len(opts.NICs) == 0 {
		opts.NICs = []string{"vtnet0", "vtnet1"}
	}
	if opts.Hostname == "" {
		opts.Hostname = "firewall.internal"
	}
	clock := opts.Clock
	if clock == nil {
		clock = realClock{}
	}
	keys := opts.Keys
	if keys == nil {
		keys = map[string]string{BootstrapKey: BootstrapSecret}
	}
	s := &Server{opts: opts, clock: clock, stops: map[string]func() bool{}, verified: map[string][32]byte{}}
	for _, c := range collections() {
		if c.avail == nil || c.avail(&s.opts) {
			s.cols = append(s.cols, c)
		}
	}
	s.st = s.initialState(keys)
	return s
}

func (s *Server) initialState(keys map[string]string) *State {
	st := &State{Version: s.opts.Version, Keys: map[string]string{}, Tables: map[string]*Table{},
		Settings: map[string]Record{}, Running: map[string]*Table{}, RunningSettings: map[string]Record{},
		Savepoints: map[string]*Table{}, Rollbacks: map[string]float64{}}
	for k, v := range keys {
		st.Keys[k] = v
	}
	for _, t := range allTables {
		st.Tables[t] = newTable()
	}
	st.Tables[tIfaces].put("lan", Record{"if": "vtnet0", "descr": "LAN", "enable": "1", "lock": "0", "type4": "static", "ipaddr": "10.0.0.1", "subnet": "24"})
	st.Tables[tIfaces].put("wan", Record{"if": "vtnet1", "descr": "WAN", "enable": "1", "lock": "0", "type4": "dhcp", "ipaddr": "dhcp", "subnet": ""})
	st.Tables[tRange].put(newUUID(), Record{"interface": "lan", "start_addr": "10.0.0.100", "end_addr": "10.0.0.254",
		"domain": "mgmt.internal", "domain_type": "range", "lease_time": "86400", "description": "mgmt DHCP", "nosync": "0"})
	// Static names of the TAPPaaS template: firewall → .1, tappaasN → .(9+N).
	st.Tables[tHost].put(newUUID(), Record{"host": "firewall", "domain": "mgmt.internal", "ip": "10.0.0.1", "local": "0", "ignore": "0", "descr": "TAPPaaS template"})
	for n := 1; n <= 9; n++ {
		st.Tables[tHost].put(newUUID(), Record{"host": fmt.Sprintf("tappaas%d", n), "domain": "mgmt.internal", "ip": fmt.Sprintf("10.0.0.%d", 9+n), "local": "0", "ignore": "0", "descr": "TAPPaaS template"})
	}
	st.Settings["dnsmasq"] = Record{"enable": "1", "interface": "lan", "port": "53053", "regdhcp": "0", "regdhcpstatic": "0",
		"dhcpfirst": "0", "domain_needed": "0", "no_hosts": "0", "strict_order": "0", "dhcp_authoritative": "1", "dhcp_default_fw_rules": "1", "dhcp_fqdn": "1", "dhcp_domain": "internal"}
	st.DNS = imageDNS()
	for name, t := range st.Tables {
		st.Running[name] = t.clone()
	}
	for name, r := range st.Settings {
		st.RunningSettings[name] = r.clone()
	}
	st.Inet = bootInet(st)
	return st
}

// bootInet is the kernel's addresses after a boot: every enabled interface
// of config.xml with a static address configured on its device, and the
// loopback (opnsense/core@26.1.11:src/etc/inc/interfaces.inc:87).
func bootInet(st *State) map[string]string {
	m := map[string]string{"lo0": "127.0.0.1/8"}
	t := st.Tables[tIfaces]
	for _, n := range t.Order {
		if p, ok := staticPrefix(t.Rows[n]); ok {
			m[t.Rows[n]["if"]] = p.String()
		}
	}
	return m
}

// allTables are the collections every State holds.
var allTables = []string{tVLAN, tIfaces, tRange, tHost, tRule, tAlias, tOverride}

// newUUID returns a random RFC 4122 v4 uuid.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// SetKeys replaces every API key (what the installer's config push does:
// the new config.xml carries only its own key, so the bootstrap key stops
// working).
func (s *Server) SetKeys(keys map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Keys = map[string]string{}
	for k, v := range keys {
		s.st.Keys[k] = v
	}
}

// AddKey adds or replaces one API key.
func (s *Server) AddKey(key, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Keys[key] = secret
}

// HasKey reports whether key/secret would authenticate.
func (s *Server) HasKey(key, secret string) bool { return s.authenticate(key, secret) }

// authenticate checks a key/secret pair. Stored secrets are plain text or
// SHA-512 crypt hashes (what a pushed config.xml carries); a verified hash
// is remembered so repeated calls do not pay 5000 SHA-512 rounds each.
func (s *Server) authenticate(key, secret string) bool {
	s.mu.Lock()
	want, ok := s.st.Keys[key]
	s.mu.Unlock()
	if !ok {
		return false
	}
	if !strings.HasPrefix(want, "$6$") {
		return subtle.ConstantTimeCompare([]byte(want), []byte(secret)) == 1
	}
	sum := sha256.Sum256([]byte(want + "\x00" + secret))
	s.mu.Lock()
	hit := s.verified[key] == sum
	s.mu.Unlock()
	if hit {
		return true
	}
	if !VerifyCrypt(want, secret) {
		return false
	}
	s.mu.Lock()
	s.verified[key] = sum
	s.mu.Unlock()
	return true
}

// Snapshot returns the model as JSON (for persistence and `lab state`).
// Secrets are included: store it 0600.
func (s *Server) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.MarshalIndent(s.st, "", "  ")
}

// Restore replaces the model with a Snapshot. Armed rollbacks are re-armed
// with their remaining time (already due ones revert at once). A snapshot
// of another firmware version is refused.
func (s *Server) Restore(data []byte) error {
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("opnsense lab: restore: %w", err)
	}
	if st.Version != s.opts.Version {
		return fmt.Errorf("opnsense lab: restore: snapshot is firmware %q, this server is %q", st.Version, s.opts.Version)
	}
	for _, name := range allTables {
		if st.Tables[name] == nil || st.Running[name] == nil {
			return fmt.Errorf("opnsense lab: restore: table %q missing", name)
		}
		for _, t := range []*Table{st.Tables[name], st.Running[name]} {
			if t.Rows == nil {
				t.Rows = map[string]Record{}
			}
		}
	}
	if st.Keys == nil {
		st.Keys = map[string]string{}
	}
	if st.Savepoints == nil {
		st.Savepoints = map[string]*Table{}
	}
	if st.Rollbacks == nil {
		st.Rollbacks = map[string]float64{}
	}
	if st.Settings == nil || st.RunningSettings == nil {
		return fmt.Errorf("opnsense lab: restore: settings missing")
	}
	if st.Inet == nil {
		// Written before the kernel addresses were modelled: as after a boot.
		st.Inet = bootInet(&st)
	}
	if st.DNS == nil {
		st.DNS = imageDNS() // a snapshot from before the resolver was modelled
	}
	s.mu.Lock()
	for rev, stop := range s.stops {
		stop()
		delete(s.stops, rev)
	}
	s.st = &st
	now := s.clock.Now()
	for rev, deadline := range st.Rollbacks {
		left := time.Duration((deadline - float64(now.UnixNano())/1e9) * float64(time.Second))
		if left < 0 {
			left = 0
		}
		s.arm(rev, left)
	}
	s.mu.Unlock()
	return nil
}

// Running returns a copy of the applied records of a table name used in the
// snapshot ("vlan", "interfaces", "dnsmasq.range", "filter.rule", …), in order.
func (s *Server) Running(table string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return rows(s.st.Running[table])
}

// Staged returns a copy of the saved (staged) records of a table.
func (s *Server) Staged(table string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return rows(s.st.Tables[table])
}

func rows(t *Table) []Record {
	if t == nil {
		return nil
	}
	out := make([]Record, 0, len(t.Order))
	for _, id := range t.Order {
		r := t.Rows[id].clone()
		r["uuid"] = id
		out = append(out, r)
	}
	return out
}

// Mutations counts mutating calls served (for "second run changes nothing").
func (s *Server) Mutations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Mutations
}

// Reverted lists the savepoint revisions the automatic rollback restored.
func (s *Server) Reverted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.st.Reverted...)
}

// Armed lists revisions whose automatic rollback is pending.
func (s *Server) Armed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for r := range s.st.Rollbacks {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// assignPatch reports whether the interface_assign controller is there
// (call without s.mu).
func (s *Server) assignPatch() bool {
	return s.opts.AssignPatch == nil || s.opts.AssignPatch()
}

// Handler serves /api/… .
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

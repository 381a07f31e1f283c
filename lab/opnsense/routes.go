package opnsense

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// call is one routed request.
type call struct {
	method   string
	raw      []byte
	args     []string
	body     map[string]any
	query    url.Values
	mutating bool
}

func (c *call) post() bool { return c.method == http.MethodPost }

func (c *call) arg(i int) string {
	if i < len(c.args) {
		return c.args[i]
	}
	return ""
}

type handler func(c *call) (int, any)

type userError struct{ msg, title string }

func norm(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }

func routeKey(module, controller, command string) string {
	return norm(module) + "/" + norm(controller) + "/" + norm(command)
}

var (
	errEndpoint = map[string]any{"errorMessage": "Endpoint not found"}
	failed      = map[string]any{"result": "failed"}
	statusOK    = map[string]any{"status": "ok"}
)

func (s *Server) routes() map[string]handler {
	m := map[string]handler{}
	add := func(module, controller, command string, h handler) { m[routeKey(module, controller, command)] = h }
	for _, col := range s.cols {
		col := col
		add(col.module, col.controller, "search"+col.thing, func(c *call) (int, any) { return s.search(col, c) })
		add(col.module, col.controller, "get"+col.thing, func(c *call) (int, any) { return s.get(col, c) })
		add(col.module, col.controller, "add"+col.thing, func(c *call) (int, any) { return s.set(col, c, true) })
		add(col.module, col.controller, "set"+col.thing, func(c *call) (int, any) { return s.set(col, c, false) })
		add(col.module, col.controller, "del"+col.thing, func(c *call) (int, any) { return s.del(col, c) })
		if col.toggle {
			add(col.module, col.controller, "toggle"+col.thing, func(c *call) (int, any) { return s.toggleRec(col, c) })
		}
	}
	d := s.opts.dialect()
	reconf := func(svc string) handler {
		return func(c *call) (int, any) {
			if !c.post() {
				return 200, map[string]any{"status": "failed"}
			}
			c.mutating = true
			s.apply(svc)
			return 200, statusOK
		}
	}
	add("interfaces", "vlan_settings", "reconfigure", reconf("vlan"))
	add("interfaces", "vlan_settings", "get", s.modelGet("vlan", []string{"vlan"}, tVLAN))
	if d.stockAssign {
		add("interfaces", "assignment", "reconfigure", reconf("assignment"))
	}
	// TAPPaaS' InterfaceAssignController: served only while its file is on
	// the firewall (Options.AssignPatch; dispatch answers 404 otherwise).
	add("interfaces", "interface_assign", "addItem", s.assignAdd)
	add("interfaces", "interface_assign", "delItem", s.assignDel)
	add("interfaces", "overview", "interfacesInfo", s.interfacesInfo)
	// OverviewController::reloadInterfaceAction: configd "interface
	// reconfigure <identifier>" (rc.configure_interface), a script action
	// that answers "OK\n\n" whatever it did
	// (opnsense/core@26.1.11:src/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/OverviewController.php:300-314,
	// src/opnsense/service/modules/actions/script.py:39-42, processhandler.py:197).
	add("interfaces", "overview", "reloadInterface", func(c *call) (int, any) {
		if !c.post() || c.arg(0) == "" {
			return 200, map[string]any{"message": "failed"}
		}
		c.mutating = true
		s.configureIface(c.arg(0))
		return 200, map[string]any{"message": "OK\n\n"}
	})
	add("dnsmasq", "service", "reconfigure", reconf("dnsmasq"))
	add("dnsmasq", "service", "status", svcStatus)
	add("dnsmasq", "settings", "get", s.dnsmasqGet)
	add("dnsmasq", "settings", "set", s.settingsSet("dnsmasq", "dnsmasq", dnsmasqFields))
	add("dnsmasq", "leases", "search", func(c *call) (int, any) {
		return 200, map[string]any{"rows": []any{}, "rowCount": 0, "total": 0, "current": 1}
	})
	add("unbound", "service", "reconfigure", reconf("unbound"))
	add("unbound", "service", "status", svcStatus)
	add("unbound", "settings", "get", s.modelGet("unbound", []string{"hosts", "host"}, tOverride))
	add("firewall", "alias", "reconfigure", reconf("alias"))
	add("firewall", "alias", "get", s.modelGet("alias", []string{"aliases", "alias"}, tAlias))
	add("firewall", "alias", "getAliasUUID", func(c *call) (int, any) {
		if id, ok := s.aliasNamed(c.arg(0)); ok {
			return 200, map[string]any{"uuid": id}
		}
		return 200, []any{}
	})
	add("firewall", "filter", "get", s.modelGet("filter", []string{"rules", "rule"}, tRule))
	add("firewall", "filter", "apply", s.filterApply)
	if d.savepoint {
		add("firewall", "filter", "savepoint", s.savepoint)
		add("firewall", "filter", "cancelRollback", s.cancelRollback)
		add("firewall", "filter", "revert", s.revert)
	}
	add("core", "firmware", "status", s.firmwareStatus)
	add("core", "firmware", "info", s.firmwareInfo)
	add("core", "system", "status", s.systemStatus)
	add("diagnostics", "system", "systemInformation", func(c *call) (int, any) {
		return 200, map[string]any{"name": s.opts.Hostname, "versions": []string{"OPNsense " + s.opts.Version + "-amd64", "FreeBSD 14.3-RELEASE-p5", "OpenSSL 3.0.16"}, "updates": "Click to check for updates."}
	})
	return m
}

func svcStatus(c *call) (int, any) { return 200, map[string]any{"status": "running"} }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := s.clock.Now()
	c := &call{method: r.Method, query: r.URL.Query()}
	key := ""
	if s.opts.Latency != nil {
		if d := s.opts.Latency(r.Method, r.URL.Path); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
	}
	status, body := s.dispatch(r, c, &key)
	data, _ := json.Marshal(body)
	// Record before answering, so a client that has its reply can rely on
	// the record existing (counters, access logs).
	if s.opts.OnRequest != nil {
		b := c.raw
		if len(b) > 4096 {
			b = b[:4096]
		}
		s.opts.OnRequest(Request{Time: start, Method: r.Method, Path: r.URL.Path, Key: key, Status: status, Mutating: c.mutating, Body: string(b)})
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func (s *Server) dispatch(r *http.Request, c *call, key *string) (int, any) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 4 || parts[0] != "api" {
		return 404, errEndpoint
	}
	s.mu.Lock()
	h := s.routeTable()[routeKey(parts[1], parts[2], parts[3])]
	s.mu.Unlock()
	// api.php answers an unknown controller (a DispatchException) with 404
	// {"errorMessage":"Endpoint not found"} before any authentication
	// (opnsense/core@26.1.11:src/opnsense/www/api.php:35-46).
	if h == nil || norm(parts[2]) == "interfaceassign" && !s.assignPatch() {
		return 404, errEndpoint
	}
	for _, a := range parts[4:] {
		u, err := url.PathUnescape(a)
		if err != nil {
			u = a
		}
		c.args = append(c.args, u)
	}
	k, secret, ok := r.BasicAuth()
	if !ok || !s.authenticate(k, secret) {
		return 401, map[string]any{"status": 401, "message": "Authentication Failed"}
	}
	*key = k
	if s.opts.ACL != nil && !s.opts.ACL(k, r.URL.Path) {
		return 403, map[string]any{"status": 403, "message": "Forbidden"}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return 405, map[string]any{"errorMessage": "Method not allowed"}
	}
	if r.Method == http.MethodPost {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		c.raw = raw
		if err != nil {
			return 400, map[string]any{"status": 400, "message": "Invalid JSON syntax"}
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch mt {
		case "application/json":
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil || dec.More() {
				return 400, map[string]any{"status": 400, "message": "Invalid JSON syntax"}
			}
			if m, ok := v.(map[string]any); ok {
				c.body = m
			} else {
				c.body = map[string]any{}
			}
		case "application/x-www-form-urlencoded":
			vals, err := url.ParseQuery(string(raw))
			if err != nil {
				return 400, map[string]any{"status": 400, "message": "Invalid form data"}
			}
			c.body = formToMap(vals)
		default:
			c.body = map[string]any{}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, body := safeCall(h, c)
	if ue, ok := body.(userError); ok {
		// api.php's error_output: errorMessage and errorTitle on 26.1
		// (opnsense/core@26.1.11:src/opnsense/www/api.php:3-20,43-44); 26.7
		// adds errorLevel (opnsense/core@26.7.2:src/opnsense/www/api.php:12-17,
		// mvc/app/controllers/OPNsense/Base/UserBaseException.php:52-63).
		out := map[string]any{"errorMessage": ue.msg, "errorTitle": ue.title}
		if !s.opts.dialect().savepoint {
			out["errorLevel"] = "error"
		}
		return 500, out
	}
	if c.mutating {
		s.st.Mutations++
	}
	return st, body
}

func safeCall(h handler, c *call) (st int, body any) {
	defer func() {
		if r := recover(); r != nil {
			st, body = 500, map[string]any{"errorMessage": "Unexpected error, check log for details"}
		}
	}()
	return h(c)
}

// routeTable is built lazily (collections depend on options only).
func (s *Server) routeTable() map[string]handler {
	if s.rt == nil {
		s.rt = s.routes()
	}
	return s.rt
}

// formToMap turns PHP-style form keys (vlan[tag]=5) into nested maps.
func formToMap(v url.Values) map[string]any {
	out := map[string]any{}
	for k, vs := range v {
		path := strings.FieldsFunc(k, func(r rune) bool { return r == '[' || r == ']' })
		if len(path) == 0 {
			continue
		}
		m := out
		for _, p := range path[:len(path)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[path[len(path)-1]] = vs[len(vs)-1]
	}
	return out
}

// ---- generic CRUD -------------------------------------------------------

func (s *Server) search(col *collection, c *call) (int, any) {
	phrase := c.query.Get("searchPhrase")
	current, rowCount := atoiDef(c.query.Get("current"), 1), atoiDef(c.query.Get("rowCount"), -1)
	if c.body != nil {
		if v, ok := c.body["searchPhrase"]; ok {
			phrase = scalar(v)
		}
		if v, ok := c.body["current"]; ok {
			current = atoiDef(scalar(v), 1)
		}
		if v, ok := c.body["rowCount"]; ok {
			rowCount = atoiDef(scalar(v), -1)
		}
	}
	t := s.st.Tables[col.table]
	var all []map[string]any
	for _, id := range t.Order {
		rec := t.Rows[id]
		row := map[string]any{"uuid": id}
		match := phrase == ""
		for i := range col.fields {
			f := &col.fields[i]
			if !s.fieldAvail(col, f) {
				continue
			}
			row[f.name] = rec[f.name]
			if !match && strings.Contains(strings.ToLower(rec[f.name]), strings.ToLower(phrase)) {
				match = true
			}
		}
		if col.table == tIfaces {
			row["identifier"] = id
		}
		if col.display != nil {
			col.display(s, id, rec, row)
		}
		if match {
			all = append(all, row)
		}
	}
	total := len(all)
	if current < 1 {
		current = 1
	}
	if rowCount > 0 {
		lo := (current - 1) * rowCount
		if lo > len(all) {
			lo = len(all)
		}
		hi := lo + rowCount
		if hi > len(all) {
			hi = len(all)
		}
		all = all[lo:hi]
	}
	if all == nil {
		all = []map[string]any{}
	}
	return 200, map[string]any{"rows": all, "rowCount": len(all), "total": total, "current": current}
}

func atoiDef(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "1"
		}
		return "0"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func (s *Server) get(col *collection, c *call) (int, any) {
	id := c.arg(0)
	if id == "" {
		return 200, map[string]any{col.monad: s.render(col, col.defaults())}
	}
	rec, ok := s.st.Tables[col.table].Rows[id]
	if !ok {
		return 200, []any{}
	}
	out := s.render(col, rec)
	if col.table == tIfaces {
		out["identifier"] = id
	}
	return 200, map[string]any{col.monad: out}
}

// render shows a record the way get<Thing> does: option fields as
// {key:{value,selected}} maps.
func (s *Server) render(col *collection, rec Record) map[string]any {
	out := map[string]any{}
	for _, f := range col.fields {
		if f.readonly || !s.fieldAvail(col, &f) {
			if col.table == tIfaces && f.name == "identifier" {
				continue
			}
			if f.readonly {
				out[f.name] = rec[f.name]
			}
			continue
		}
		v := rec[f.name]
		switch f.kind {
		case kOption, kMulti:
			out[f.name] = optionMap(f.opts, nil, v)
		case kIface, kIfaces:
			t := s.st.Tables[tIfaces]
			labels := map[string]string{}
			for _, n := range t.Order {
				labels[n] = t.Rows[n]["descr"]
			}
			out[f.name] = optionMap(t.Order, labels, v)
		case kLines:
			// AliasController::getItemAction: the entries, selected, plus
			// every other alias name, unselected.
			entries := strings.Split(v, "\n")
			if v == "" {
				entries = nil
			}
			keys := append([]string(nil), entries...)
			t := s.st.Tables[tAlias]
			for _, n := range t.Order {
				if name := t.Rows[n]["name"]; !contains(keys, name) {
					keys = append(keys, name)
				}
			}
			m := map[string]any{}
			for _, k := range keys {
				sel := 0
				if contains(entries, k) {
					sel = 1
				}
				m[k] = map[string]any{"value": k, "selected": sel}
			}
			out[f.name] = m
		default:
			out[f.name] = v
		}
	}
	return out
}

func optionMap(keys []string, labels map[string]string, v string) map[string]any {
	sel := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		sel[p] = true
	}
	m := map[string]any{}
	for _, k := range keys {
		label := k
		if l, ok := labels[k]; ok && l != "" {
			label = l
		}
		if k == "" {
			label = "None"
		}
		n := 0
		if sel[k] {
			n = 1
		}
		m[k] = map[string]any{"value": label, "selected": n}
	}
	return m
}

func (s *Server) fieldAvail(col *collection, f *field) bool {
	if col.table == tIfaces {
		switch f.name {
		case "enable", "type4", "ipaddr", "subnet":
			return s.opts.dialect().assignIP
		}
	}
	return true
}

// set implements add<Thing> (add=true) and set<Thing>/<uuid> (upsert).
func (s *Server) set(col *collection, c *call, add bool) (int, any) {
	if !c.post() {
		return 200, failed
	}
	in, ok := c.body[col.monad].(map[string]any)
	if !ok {
		return 200, failed
	}
	var id string
	var base Record
	if add {
		base = col.defaults()
		if col.table == tIfaces {
			id = s.nextOpt(false)
		} else {
			id = newUUID()
		}
	} else {
		id = c.arg(0)
		if col.table == tIfaces {
			if _, ok := s.st.Tables[tIfaces].Rows[id]; !ok {
				return 200, failed
			}
		} else if !reUUID.MatchString(id) {
			return 200, failed
		}
		id = strings.ToLower(id)
		if old, ok := s.st.Tables[col.table].Rows[id]; ok {
			base = old.clone()
		} else {
			base = col.defaults()
		}
	}
	if col.prepare != nil {
		var old Record
		if !add {
			old = s.st.Tables[col.table].Rows[id]
		}
		set, fail := col.prepare(s, old, in)
		if fail != nil {
			return 200, map[string]any{"result": "failed", "validations": fail}
		}
		merged := make(map[string]any, len(in)+len(set))
		for k, v := range in {
			merged[k] = v
		}
		for k, v := range set {
			merged[k] = v
		}
		in = merged
	}
	rec, v := s.validate(col, id, base, in)
	if len(v) > 0 {
		return 200, map[string]any{"result": "failed", "validations": v}
	}
	c.mutating = true
	if col.saved != nil {
		col.saved(s, s.st.Tables[col.table].Rows[id], rec)
	}
	s.st.Tables[col.table].put(id, rec)
	if add {
		return 200, map[string]any{"result": "saved", "uuid": id}
	}
	return 200, map[string]any{"result": "saved"}
}

// validate merges in into base and checks the result; the validation map
// is keyed "<monad>.<field>".
func (s *Server) validate(col *collection, id string, base Record, in map[string]any) (Record, map[string]any) {
	rec := base.clone()
	msgs := map[string]string{}
	for k, raw := range in {
		f := col.field(k)
		if f == nil || !s.fieldAvail(col, f) {
			msgs[k] = "Unknown field."
			continue
		}
		if f.readonly {
			msgs[k] = "This field is read-only."
			continue
		}
		switch x := raw.(type) {
		case map[string]any:
			msgs[k] = "Invalid value."
			continue
		case []any:
			parts := make([]string, 0, len(x))
			for _, p := range x {
				parts = append(parts, scalar(p))
			}
			sep := ","
			if f.kind == kLines {
				sep = "\n"
			}
			rec[k] = strings.Join(parts, sep)
		default:
			rec[k] = strings.TrimSpace(scalar(x))
		}
	}
	for i := range col.fields {
		f := &col.fields[i]
		if _, bad := msgs[f.name]; bad || !s.fieldAvail(col, f) || f.readonly {
			continue
		}
		if m := s.validField(col, f, rec[f.name]); m != "" {
			msgs[f.name] = m
		}
	}
	if len(msgs) == 0 && col.check != nil {
		col.check(s, id, rec, msgs)
	}
	if len(msgs) == 0 {
		return rec, nil
	}
	out := map[string]any{}
	for k, m := range msgs {
		out[col.monad+"."+k] = m
	}
	return rec, out
}

func (s *Server) del(col *collection, c *call) (int, any) {
	if !c.post() {
		return 200, failed
	}
	ids := strings.Split(c.arg(0), ",")
	t := s.st.Tables[col.table]
	var found []string
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		if _, ok := t.Rows[id]; ok {
			found = append(found, id)
		}
	}
	if len(found) == 0 {
		return 200, map[string]any{"result": "not found"}
	}
	for _, id := range found {
		if col.inUse != nil {
			if msg := col.inUse(s, id); msg != "" {
				title := "Item in use"
				switch {
				case col.table == tAlias:
					title = "Alias in use"
				case strings.HasPrefix(msg, "Interface locked"):
					title = "locked"
				}
				return 500, userError{msg: msg, title: title}
			}
		}
	}
	c.mutating = true
	for _, id := range found {
		t.del(id)
	}
	return 200, map[string]any{"result": "deleted"}
}

func (s *Server) toggleRec(col *collection, c *call) (int, any) {
	if !c.post() {
		return 200, failed
	}
	rec, ok := s.st.Tables[col.table].Rows[strings.ToLower(c.arg(0))]
	if !ok {
		return 200, failed
	}
	old := rec["enabled"]
	switch c.arg(1) {
	case "0", "1":
		rec["enabled"] = c.arg(1)
	case "":
		if old == "1" {
			rec["enabled"] = "0"
		} else {
			rec["enabled"] = "1"
		}
	default:
		return 200, failed
	}
	changed := old != rec["enabled"]
	if changed {
		c.mutating = true
	}
	res := "Disabled"
	if rec["enabled"] == "1" {
		res = "Enabled"
	}
	return 200, map[string]any{"result": res, "changed": changed}
}

// apply makes an apply group's saved config live.
func (s *Server) apply(svc string) {
	var removed []string // stock: interfaces deleted since the last apply
	if svc == "assignment" {
		for _, ifn := range s.st.Running[tIfaces].Order {
			if _, ok := s.st.Tables[tIfaces].Rows[ifn]; !ok {
				removed = append(removed, ifn)
			}
		}
	}
	if svc == "unbound" {
		s.applyUnbound()
	}
	for _, t := range services[svc] {
		s.st.Running[t] = s.st.Tables[t].clone()
	}
	for name, group := range settingsServices {
		if group == svc {
			s.st.RunningSettings[name] = s.st.Settings[name].clone()
		}
	}
	switch svc {
	case "vlan":
		// reconfigure_vlans.php creates and destroys VLAN devices; a
		// destroyed device takes its address with it
		// (opnsense/core@26.1.11:src/opnsense/scripts/interfaces/reconfigure_vlans.php).
		devs := s.devices()
		for d := range s.st.Inet {
			if !contains(devs, d) {
				delete(s.st.Inet, d)
			}
		}
	case "assignment":
		// Stock AssignmentController::reconfigureAction: configd "interface
		// apply" configures the interfaces, and the rules of a removed
		// interface go with it: dropped from a rule's interface list, the
		// rule deleted when none is left (cleanRules)
		// (opnsense/core@26.7.2:src/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/AssignmentController.php:100-169).
		for _, ifn := range s.st.Tables[tIfaces].Order {
			s.configureIface(ifn)
		}
		for _, ifn := range removed {
			s.cleanRules(ifn)
		}
	}
}

// modelGet serves a whole-model get: {"<model>":{<path…>:{uuid:{…}}}}.
func (s *Server) modelGet(model string, path []string, table string) handler {
	return func(c *call) (int, any) {
		var col *collection
		for _, x := range s.cols {
			if x.table == table {
				col = x
			}
		}
		items := map[string]any{}
		t := s.st.Tables[table]
		for _, id := range t.Order {
			items[id] = s.render(col, t.Rows[id])
		}
		var node any = items
		for i := len(path) - 1; i >= 0; i-- {
			node = map[string]any{path[i]: node}
		}
		return 200, map[string]any{model: node}
	}
}

// ---- dnsmasq settings -----------------------------------------

var dnsmasqFields = []field{
	{name: "enable", kind: kBool},
	{name: "interface", kind: kIfaces},
	{name: "port", kind: kInt, min: 0, max: 65535},
	{name: "regdhcp", kind: kBool},
	{name: "regdhcpstatic", kind: kBool},
	{name: "dhcpfirst", kind: kBool},
	{name: "domain_needed", kind: kBool},
	{name: "no_hosts", kind: kBool},
	{name: "strict_order", kind: kBool},
	{name: "dhcp_authoritative", kind: kBool},
	{name: "dhcp_default_fw_rules", kind: kBool},
	{name: "dhcp_fqdn", kind: kBool},
	{name: "dhcp_domain", kind: kDomain},
}

func (s *Server) dnsmasqGet(c *call) (int, any) {
	set := s.st.Settings["dnsmasq"]
	out := map[string]any{}
	for _, f := range dnsmasqFields {
		if f.kind == kIfaces {
			t := s.st.Tables[tIfaces]
			labels := map[string]string{}
			for _, n := range t.Order {
				labels[n] = t.Rows[n]["descr"]
			}
			out[f.name] = optionMap(t.Order, labels, set[f.name])
			continue
		}
		out[f.name] = set[f.name]
	}
	for _, x := range s.cols {
		switch x.table {
		case tHost, tRange:
			items := map[string]any{}
			t := s.st.Tables[x.table]
			for _, id := range t.Order {
				items[id] = s.render(x, t.Rows[id])
			}
			name := "hosts"
			if x.table == tRange {
				name = "dhcp_ranges"
			}
			out[name] = items
		}
	}
	return 200, map[string]any{"dnsmasq": out}
}

func (s *Server) settingsSet(monad, name string, fields []field) handler {
	col := &collection{monad: monad, fields: fields}
	return func(c *call) (int, any) {
		if !c.post() {
			return 200, failed
		}
		in, ok := c.body[monad].(map[string]any)
		if !ok {
			return 200, failed
		}
		rec, v := s.validate(col, "", s.st.Settings[name], in)
		if len(v) > 0 {
			return 200, map[string]any{"result": "failed", "validations": v}
		}
		c.mutating = true
		s.st.Settings[name] = rec
		return 200, map[string]any{"result": "saved"}
	}
}

// ---- interfaces ---------------------------------------------------------

// nextOpt is the next optN: highest+1 (TAPPaaS patch) or lowest free (stock).
func (s *Server) nextOpt(highest bool) string {
	used := map[int]bool{}
	maxN := 0
	for _, n := range s.st.Tables[tIfaces].Order {
		if k, err := strconv.Atoi(strings.TrimPrefix(n, "opt")); err == nil && strings.HasPrefix(n, "opt") {
			used[k] = true
			if k > maxN {
				maxN = k
			}
		}
	}
	if highest {
		return "opt" + strconv.Itoa(maxN+1)
	}
	for k := 1; ; k++ {
		if !used[k] {
			return "opt" + strconv.Itoa(k)
		}
	}
}

// kernelOnly are the devices every OPNsense kernel has besides the NICs and
// the ones configured (ifconfig -l order). lo0 is registered as interface
// "lo0" by the loopback plugin (opnsense/core@26.1.11:src/etc/inc/plugins.inc.d/loopback.inc:36-50,
// plugins.inc:177-240); enc0 and pflog0 stay unassigned; pfsync0 is never
// listed (OverviewController.php:155).
var kernelOnly = []string{"enc0", "lo0", "pflog0", "pfsync0"}

// virtualIfaces are the interfaces plugins register in config.xml at boot
// (not shown by the assignment controller, present in interfacesInfo).
var virtualIfaces = map[string]Record{
	"lo0": {"if": "lo0", "descr": "Loopback", "enable": "1", "ipaddr": "127.0.0.1", "subnet": "8", "type": "none", "virtual": "1", "internal_dynamic": "1"},
}

// devices lists the kernel's network devices in ifconfig order: the NICs,
// the pseudo devices, then the VLAN devices the last vlan reconfigure
// created.
func (s *Server) devices() []string {
	out := append(append([]string(nil), s.opts.NICs...), kernelOnly...)
	t := s.st.Running[tVLAN]
	for _, id := range t.Order {
		if d := t.Rows[id]["vlanif"]; d != "" {
			out = append(out, d)
		}
	}
	return out
}

// runningVLAN returns the running VLAN record of device dev.
func (s *Server) runningVLAN(dev string) (Record, bool) {
	t := s.st.Running[tVLAN]
	for _, id := range t.Order {
		if t.Rows[id]["vlanif"] == dev {
			return t.Rows[id], true
		}
	}
	return nil, false
}

// interfacesInfo is OverviewController::interfacesInfoAction
// (opnsense/core@26.1.11:src/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/OverviewController.php:107-255;
// 26.7.2 only adds link_typev6). One row per kernel device, in ifconfig
// order, unsorted (searchRecordsetBase without a sort key):
//   - a device no interface of config.xml uses: identifier "" and
//     description "Unassigned Interface", with ifconfig's raw address list
//     ({"ipaddr","subnetbits","tunnel"}) and no "enabled" (lines 171-176);
//   - an assigned one: identifier, description (descr or the upper-cased
//     identifier), enabled (bool), link_type, addr4 and ipv4 entries with the
//     CIDR in ipaddr and no subnetbits (lines 178-206), vlan_tag a string
//     from ifconfig's "vlan: N" line or null (lines 232-235; the parser
//     src/etc/inc/interfaces.lib.inc:468-474 keeps regex matches as strings,
//     26.1.11 and 26.7.2 alike), gateways [].
//
// Addresses come from the kernel (State.Inet), not from config.xml.
func (s *Server) interfacesInfo(c *call) (int, any) {
	cfg := map[string]string{} // device → identifier
	t := s.st.Tables[tIfaces]
	for _, n := range t.Order {
		cfg[t.Rows[n]["if"]] = n
	}
	for n, r := range virtualIfaces {
		cfg[r["if"]] = n
	}
	rowsOut := []map[string]any{}
	for _, dev := range s.devices() {
		if dev == "pfsync0" {
			continue
		}
		flags := []string{"up", "broadcast", "running", "simplex", "multicast"}
		switch dev {
		case "lo0":
			flags = []string{"up", "loopback", "running", "multicast"}
		case "enc0", "pflog0":
			flags = []string{"up", "running"}
		}
		row := map[string]any{"device": dev, "flags": flags,
			"is_physical": contains(s.opts.NICs, dev), "mtu": "1500", "macaddr": "00:00:00:00:00:00", "ipv6": []any{},
			"capabilities": []any{}, "options": []any{}, "supported_media": []any{}, "status": "up"}
		var raw []any
		if p, err := netip.ParsePrefix(s.st.Inet[dev]); err == nil {
			raw = append(raw, map[string]any{"ipaddr": p.Addr().String(), "subnetbits": p.Bits(), "tunnel": false})
		}
		vr, isVLAN := s.runningVLAN(dev)
		if isVLAN {
			row["vlan"] = map[string]any{"tag": vr["tag"], "proto": "802.1q", "pcp": vr["pcp"], "parent": vr["if"]}
		}
		ifn, assigned := cfg[dev]
		if !assigned {
			row["identifier"] = ""
			row["description"] = "Unassigned Interface"
			row["ipv4"] = orEmpty(raw)
			rowsOut = append(rowsOut, row)
			continue
		}
		r, ok := t.Rows[ifn]
		if !ok {
			r = virtualIfaces[ifn]
		}
		conf := map[string]any{}
		for k, v := range r {
			conf[k] = v
		}
		conf["identifier"] = ifn
		row["config"] = conf
		row["identifier"] = ifn
		row["description"] = r["descr"]
		if r["descr"] == "" {
			row["description"] = strings.ToUpper(ifn)
		}
		row["enabled"] = r["enable"] != "" && r["enable"] != "0"
		lt := r["ipaddr"]
		if lt == "" {
			lt = "none"
		} else if _, err := netip.ParseAddr(lt); err == nil {
			lt = "static"
		}
		row["link_type"] = lt
		if !s.opts.dialect().savepoint { // 26.7.2: OverviewController.php:185
			lt6 := r["ipaddrv6"]
			if lt6 == "" {
				lt6 = "none"
			}
			row["link_typev6"] = lt6
		}
		var ipv4 []any
		row["addr4"], row["addr6"] = "", ""
		for _, e := range raw {
			m := e.(map[string]any)
			cidr := fmt.Sprintf("%s/%d", m["ipaddr"], m["subnetbits"])
			ipv4 = append(ipv4, map[string]any{"ipaddr": cidr})
			if row["addr4"] == "" {
				row["addr4"] = cidr
			}
		}
		if ipv4 != nil {
			row["ipv4"] = ipv4
		} // else: unset, like the controller's unset($tmp['ipv4']) (line 200)
		row["vlan_tag"] = nil
		if isVLAN && vr["tag"] != "" {
			row["vlan_tag"] = vr["tag"]
		}
		row["gateways"] = []any{}
		rowsOut = append(rowsOut, row)
	}
	return 200, map[string]any{"rows": rowsOut, "rowCount": len(rowsOut), "total": len(rowsOut), "current": 1}
}

func orEmpty(xs []any) []any {
	if xs == nil {
		return []any{}
	}
	return xs
}

// cleanRules removes ifn from every filter rule; a rule left without an
// interface is deleted (saved and running: the reconfigure reloads the
// filter).
func (s *Server) cleanRules(ifn string) {
	for _, t := range []*Table{s.st.Tables[tRule], s.st.Running[tRule]} {
		for _, id := range append([]string(nil), t.Order...) {
			r := t.Rows[id]
			list := strings.Split(r["interface"], ",")
			if !contains(list, ifn) {
				continue
			}
			var keep []string
			for _, x := range list {
				if x != ifn {
					keep = append(keep, x)
				}
			}
			if len(keep) == 0 {
				t.del(id)
				continue
			}
			r["interface"] = strings.Join(keep, ",")
		}
	}
}

// staticPrefix is the IPv4 address an interface record configures, if it
// is enabled with a static address.
func staticPrefix(r Record) (netip.Prefix, bool) {
	if r["enable"] == "" || r["enable"] == "0" {
		return netip.Prefix{}, false
	}
	ip, err := netip.ParseAddr(r["ipaddr"])
	bits, err2 := strconv.Atoi(r["subnet"])
	if err != nil || err2 != nil || !ip.Is4() || bits < 0 || bits > 32 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(ip, bits), true
}

// configureIface is interface_configure() for one identifier
// (rc.configure_interface <ifn>): nothing for an unknown or disabled
// interface (opnsense/core@26.1.11:src/etc/inc/interfaces.inc:2309-2318) or
// a device the kernel does not have (:2344-2350); else the device gets the
// configured static address (or loses its address when there is none).
func (s *Server) configureIface(ifn string) {
	r, ok := s.st.Tables[tIfaces].Rows[ifn]
	if !ok || r["enable"] == "" || r["enable"] == "0" || !contains(s.devices(), r["if"]) {
		return
	}
	if p, ok := staticPrefix(r); ok {
		s.st.Inet[r["if"]] = p.String()
	} else {
		delete(s.st.Inet, r["if"])
	}
}

// The TAPPaaS interface_assign patch: TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-patch/InterfaceAssignController.php
// (below "patch.php:LINE"). Neither action checks the HTTP method; every
// refusal is HTTP 400 {"result":"failed","errorMessage":…} (patch.php:176-180, 246-249).
func patchFail(msg string) (int, any) {
	return 400, map[string]any{"result": "failed", "errorMessage": msg}
}

var (
	rePatchDevice = regexp.MustCompile(`^[a-zA-Z0-9_.\-]+$`) // patch.php:86
	rePatchIfname = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)    // patch.php:215
)

// assignAdd is InterfaceAssignController::addItemAction (patch.php:60-193):
// validates the "assign" object, refuses a device already used by any
// interface of config.xml, writes opt<highest+1> and saves config.xml. Its
// "configctl interface reconfigure all" (patch.php:169) configures an
// interface named "all", which does not exist, so nothing is configured
// (opnsense/core@26.1.11:src/etc/rc.configure_interface:39-41,
// src/etc/inc/interfaces.inc:2313-2318): the address reaches the device
// only with a later reloadInterface/<ifname>, as TAPPaaS' vlan_manager.py
// does (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-controller/src/opnsense_controller/vlan_manager.py:234-258).
func (s *Server) assignAdd(c *call) (int, any) {
	in, ok := c.body["assign"].(map[string]any)
	if !ok || len(in) == 0 {
		return patchFail("Invalid payload structure. Expected 'assign' object.")
	}
	dev, ok := in["device"].(string)
	if !ok || dev == "" || dev == "0" {
		return patchFail("Payload missing required 'device' field (string).")
	}
	descr, ok := in["description"].(string)
	if !ok || descr == "" || descr == "0" {
		return patchFail("Payload missing required 'description' field (string).")
	}
	dev, descr = strings.TrimSpace(dev), strings.TrimSpace(descr)
	if !rePatchDevice.MatchString(dev) {
		return patchFail(fmt.Sprintf("Invalid format for 'device' field '%s'.", dev))
	}
	enable := "" // FILTER_VALIDATE_BOOLEAN (patch.php:90)
	switch strings.ToLower(scalar(in["enable"])) {
	case "1", "true", "yes", "on":
		enable = "1"
	}
	addr, err := netip.ParseAddr(strings.TrimSpace(scalar(in["ipv4Address"])))
	if err != nil || !addr.Is4() {
		return patchFail("Invalid or missing 'ipv4Address'.")
	}
	bits, err := strconv.Atoi(scalar(in["ipv4Subnet"]))
	if _, isArr := in["ipv4Subnet"].([]any); isArr || err != nil || bits < 1 || bits > 32 {
		return patchFail("Invalid or missing 'ipv4Subnet'. Expected integer between 1 and 32.")
	}
	if o := s.assignedTo(dev); o != "" {
		return patchFail(fmt.Sprintf("Device '%s' is already assigned to interface '%s'. Cannot assign it again.", dev, o))
	}
	if dev == "lo0" {
		return patchFail("Device 'lo0' is already assigned to interface 'lo0'. Cannot assign it again.")
	}
	// Lab-only (stricter): the patch would assign a device the kernel does
	// not have, and its address would never come up.
	if !contains(s.devices(), dev) {
		return patchFail(fmt.Sprintf("lab: device '%s' does not exist", dev))
	}
	ifn := s.nextOpt(true)
	c.mutating = true
	rec := Record{"if": dev, "descr": descr, "ipaddr": addr.String(), "subnet": strconv.Itoa(bits)}
	if enable != "" {
		rec["enable"] = enable
	}
	s.st.Tables[tIfaces].put(ifn, rec)
	s.st.Running[tIfaces].put(ifn, rec.clone())
	return 200, map[string]any{"result": "saved", "ifname": ifn}
}

// assignDel is InterfaceAssignController::delItemAction (patch.php:202-259):
// an absent interface is "deleted" too (patch.php:228-232); lan and wan are
// refused. The device keeps its address: "interface reconfigure all"
// changes nothing (see assignAdd), so interfacesInfo lists it as an
// unassigned device with that address.
func (s *Server) assignDel(c *call) (int, any) {
	ifn := c.arg(0)
	switch {
	case ifn == "":
		// delItemAction($uuid) has a required parameter: the dispatcher
		// refuses the call (ParameterMismatchException, a
		// DispatchException: 404) before the action runs
		// (opnsense/core@26.7.2:src/opnsense/mvc/app/library/OPNsense/Mvc/Dispatcher.php:106-122).
		return 404, errEndpoint
	case !rePatchIfname.MatchString(ifn):
		return patchFail("Invalid format for parameter 'uuid'.")
	case strings.EqualFold(ifn, "lan") || strings.EqualFold(ifn, "wan"):
		return patchFail("Deletion of core interfaces like 'lan' or 'wan' is not permitted.")
	}
	if s.st.Tables[tIfaces].del(ifn) {
		c.mutating = true
		s.st.Running[tIfaces].del(ifn)
	}
	return 200, map[string]any{"result": "deleted"}
}

// ---- filter apply / savepoint / rollback --------------------------------

// filterApply is FilterBaseController::applyAction: with a revision it
// starts the background rollback timer (≤ 26.1; the revision is not checked —
// a timer for an unknown savepoint restores nothing), then reloads the filter.
func (s *Server) filterApply(c *call) (int, any) {
	if !c.post() {
		return 200, map[string]any{"status": "error"}
	}
	rev := c.arg(0)
	if rev != "" && s.opts.dialect().savepoint {
		if _, ok := s.st.Savepoints[rev]; ok {
			s.arm(rev, s.opts.RollbackAfter)
		}
	}
	// On 26.7+ a revision argument is silently ignored, like PHP ignores
	// surplus action arguments: no rollback is armed.
	c.mutating = true
	s.apply("filter")
	return 200, map[string]any{"status": "OK\n\n"}
}

func (s *Server) savepoint(c *call) (int, any) {
	if !c.post() {
		return 200, map[string]any{"status": "error"}
	}
	s.st.Serial++
	now := s.clock.Now()
	rev := fmt.Sprintf("%d.%04d", now.Unix(), s.st.Serial%10000)
	s.st.Savepoints[rev] = s.st.Tables[tRule].clone()
	c.mutating = true
	return 200, map[string]any{"status": "ok", "retention": strconv.Itoa(len(s.st.Savepoints)), "revision": rev}
}

// arm schedules the automatic revert of rev (caller holds s.mu).
func (s *Server) arm(rev string, after time.Duration) {
	if stop, ok := s.stops[rev]; ok {
		stop()
	}
	s.st.Rollbacks[rev] = float64(s.clock.Now().Add(after).UnixNano()) / 1e9
	s.stops[rev] = s.clock.AfterFunc(after, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, armed := s.st.Rollbacks[rev]; !armed {
			return
		}
		s.restore(rev)
		s.st.Reverted = append(s.st.Reverted, rev)
	})
}

// restore puts the savepoint's rules back into config and running, and
// disarms its timer (caller holds s.mu).
func (s *Server) restore(rev string) {
	s.st.Tables[tRule] = s.st.Savepoints[rev].clone()
	s.st.Running[tRule] = s.st.Savepoints[rev].clone()
	s.disarm(rev)
}

func (s *Server) disarm(rev string) {
	delete(s.st.Rollbacks, rev)
	if stop, ok := s.stops[rev]; ok {
		stop()
		delete(s.stops, rev)
	}
}

// cancelRollback is FilterBaseController::cancelRollbackAction: the status
// is the output of configd's script_output action "filter cancel_rollback"
// (opnsense/core@26.1.11:src/opnsense/mvc/app/controllers/OPNsense/Firewall/Api/FilterBaseController.php:319-330,
// src/opnsense/service/conf/actions.d/actions_filter.conf:193-197).
// rollback_cancel.php prints nothing: it removes the timer's lock file and
// exits 0, or exits 1 when no timer runs (src/opnsense/scripts/filter/rollback_cancel.php:30-40).
// configd sends the empty output plus "\n\n" (modules/processhandler.py:197),
// or "Execute error" for the exit 1 (modules/actions/script_output.py:110-114),
// which Backend::configdRun turns into ""
// (mvc/app/library/OPNsense/Core/Backend.php:174-179). So "\n\n" or "",
// never "ok".
func (s *Server) cancelRollback(c *call) (int, any) {
	if !c.post() {
		return 200, map[string]any{"status": "error"}
	}
	rev := c.arg(0)
	if _, armed := s.st.Rollbacks[rev]; armed {
		c.mutating = true
		s.disarm(rev)
		return 200, map[string]any{"status": "\n\n"}
	}
	return 200, map[string]any{"status": ""}
}

func (s *Server) revert(c *call) (int, any) {
	if !c.post() {
		return 200, map[string]any{"status": "error"}
	}
	rev := c.arg(0)
	if _, ok := s.st.Savepoints[rev]; !ok {
		return 200, map[string]any{"status": "unknown (or removed) savepoint"}
	}
	c.mutating = true
	s.restore(rev)
	return 200, statusOK
}

// ---- firmware and system ------------------------------------------------

func (s *Server) product() map[string]any {
	maj, mnr := versionOf(s.opts.Version)
	return map[string]any{"product_id": "opnsense", "product_name": "OPNsense", "product_version": s.opts.Version,
		"product_series": fmt.Sprintf("%d.%d", maj, mnr), "product_arch": "amd64", "product_abi": fmt.Sprintf("%d.%d", maj, mnr),
		"product_latest": s.opts.Version, "product_check": map[string]any{}, "product_nickname": "Lab"}
}

func (s *Server) firmwareStatus(c *call) (int, any) {
	if c.post() {
		s.st.FirmwareChecked = true
	}
	st, msg := "none", "Firmware status requires to check for update first to provide more information."
	if s.st.FirmwareChecked {
		st, msg = "none", "There are no updates available on the selected mirror."
	}
	return 200, map[string]any{"product": s.product(), "status": st, "status_msg": msg,
		"product_version": s.opts.Version, "product_name": "OPNsense"}
}

// firmwareInfo lists the plugins the lab knows; the TAPPaaS image is stock
// OPNsense with only config.xml injected, so os-caddy is available, not
// installed (TAPPaaS@f54e4fc:.github/workflows/build-opnsense-image.yml:38,120-123;
// install2 installs it later: src/foundation/tappaas-cicd/install2.sh:206-221).
func (s *Server) firmwareInfo(c *call) (int, any) {
	return 200, map[string]any{"product_id": "opnsense", "product_version": s.opts.Version, "product": s.product(),
		"package": []any{map[string]any{"name": "opnsense", "version": s.opts.Version, "installed": "1", "locked": "0"}},
		"plugin": []any{
			map[string]any{"name": "os-caddy", "version": "2.0.4", "comment": "Modern Reverse Proxy with Automatic HTTPS", "installed": "0", "provided": "1", "configured": "0", "locked": "0", "tier": "3"},
			map[string]any{"name": "os-qemu-guest-agent", "version": "1.2", "comment": "QEMU Guest Agent for OPNsense", "installed": "1", "provided": "1", "configured": "1", "locked": "0", "tier": "2"},
		},
		"changelog": []any{}}
}

func (s *Server) systemStatus(c *call) (int, any) {
	now := s.clock.Now().Unix()
	notice := func(title string) map[string]any {
		return map[string]any{"statusCode": 2, "message": "No pending messages", "title": title, "timestamp": now, "status": "OK", "isBanner": false, "priority": 2}
	}
	return 200, map[string]any{"CrashReporter": notice("Crash Reporter"), "Firewall": notice("Firewall"), "System": notice("System"),
		"metadata": map[string]any{"system": map[string]any{"status": "OK"}}}
}

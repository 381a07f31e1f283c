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
	"sort"
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
	if d.tappaasAssign {
		add("interfaces", "interface_assign", "addItem", s.assignAdd)
		add("interfaces", "interface_assign", "delItem", s.assignDel)
	}
	add("interfaces", "overview", "interfacesInfo", s.interfacesInfo)
	add("interfaces", "overview", "reloadInterface", func(c *call) (int, any) {
		if !c.post() {
			return 200, failed
		}
		if !s.ifaceKnown(c.arg(0)) {
			return 200, map[string]any{"message": "interface not found"}
		}
		return 200, map[string]any{"message": "OK"}
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
	if !s.opts.NoCaddy {
		add("caddy", "service", "reconfigure", reconf("caddy"))
		add("caddy", "service", "status", svcStatus)
		add("caddy", "service", "validate", func(c *call) (int, any) {
			return 200, map[string]any{"status": "ok", "message": "Caddy configuration is valid."}
		})
		add("caddy", "general", "get", func(c *call) (int, any) {
			return 200, map[string]any{"caddy": map[string]any{"general": s.st.Settings["caddy.general"].clone()}}
		})
		add("caddy", "general", "set", s.caddyGeneralSet)
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
	if h == nil {
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
		return 500, map[string]any{"errorMessage": ue.msg, "errorTitle": ue.title, "errorLevel": "error"}
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
		case kRef:
			t := s.st.Tables[f.ref]
			labels := map[string]string{}
			for _, n := range t.Order {
				labels[n] = t.Rows[n]["description"]
			}
			out[f.name] = optionMap(t.Order, labels, v)
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
				if col.table == tAlias {
					title = "Alias in use"
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

// ---- dnsmasq and caddy settings -----------------------------------------

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

func (s *Server) caddyGeneralSet(c *call) (int, any) {
	if !c.post() {
		return 200, failed
	}
	caddy, _ := c.body["caddy"].(map[string]any)
	in, ok := caddy["general"].(map[string]any)
	if !ok {
		return 200, failed
	}
	col := &collection{monad: "caddy.general", fields: []field{
		{name: "enabled", kind: kBool}, {name: "TlsEmail", kind: kText},
		{name: "HttpPort", kind: kInt, min: 1, max: 65535}, {name: "HttpsPort", kind: kInt, min: 1, max: 65535},
	}}
	rec, v := s.validate(col, "", s.st.Settings["caddy.general"], in)
	if len(v) > 0 {
		return 200, map[string]any{"result": "failed", "validations": v}
	}
	c.mutating = true
	s.st.Settings["caddy.general"] = rec
	return 200, map[string]any{"result": "saved"}
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

func (s *Server) vlanTag(dev string) (string, bool) {
	t := s.st.Tables[tVLAN]
	for _, id := range t.Order {
		if t.Rows[id]["vlanif"] == dev {
			return t.Rows[id]["tag"], true
		}
	}
	return "", false
}

func (s *Server) interfacesInfo(c *call) (int, any) {
	t := s.st.Tables[tIfaces]
	modern := !s.opts.dialect().savepoint
	rowsOut := []map[string]any{}
	names := append([]string(nil), t.Order...)
	sort.SliceStable(names, func(i, j int) bool { return ifOrder(names[i]) < ifOrder(names[j]) })
	for _, n := range names {
		r := t.Rows[n]
		row := map[string]any{"device": r["if"], "identifier": n, "description": r["descr"],
			"enabled": r["enable"] != "0", "status": "up", "is_physical": contains(s.opts.NICs, r["if"])}
		if tag, ok := s.vlanTag(r["if"]); ok {
			if modern {
				row["vlan_tag"] = atoiDef(tag, 0)
			} else {
				row["vlan_tag"] = tag
			}
		}
		ipv4 := []any{}
		if ip, err := netip.ParseAddr(r["ipaddr"]); err == nil {
			ipv4 = append(ipv4, map[string]any{"ipaddr": ip.String(), "subnetbits": atoiDef(r["subnet"], 32)})
			row["addr4"] = ip.String() + "/" + r["subnet"]
		}
		row["ipv4"] = ipv4
		rowsOut = append(rowsOut, row)
	}
	return 200, map[string]any{"rows": rowsOut, "rowCount": len(rowsOut), "total": len(rowsOut), "current": 1}
}

func ifOrder(n string) int {
	switch n {
	case "wan":
		return 0
	case "lan":
		return 1
	}
	return 2 + atoiDef(strings.TrimPrefix(n, "opt"), 1000)
}

// assignAdd is TAPPaaS' InterfaceAssignController addItem (≤ 26.1 patch):
// writes optN (highest+1) with the address and applies at once.
func (s *Server) assignAdd(c *call) (int, any) {
	fail := func(msg string) (int, any) {
		return 400, map[string]any{"result": "failed", "errorMessage": msg}
	}
	if !c.post() {
		return fail("Only POST is supported.")
	}
	in, ok := c.body["assign"].(map[string]any)
	if !ok {
		return fail("Missing 'assign' data.")
	}
	dev := scalar(in["device"])
	if dev == "" {
		return fail("Missing required field: device")
	}
	if !s.deviceKnown(dev) {
		return fail(fmt.Sprintf("Device '%s' does not exist.", dev))
	}
	if o := s.assignedTo(dev); o != "" {
		return fail(fmt.Sprintf("Device '%s' is already assigned to interface '%s'. Cannot assign it again.", dev, o))
	}
	addr, err := netip.ParseAddr(scalar(in["ipv4Address"]))
	bits, err2 := strconv.Atoi(scalar(in["ipv4Subnet"]))
	if err != nil || !addr.Is4() || err2 != nil || bits < 1 || bits > 32 {
		return fail("Missing or invalid ipv4Address / ipv4Subnet.")
	}
	enable := "0"
	switch scalar(in["enable"]) {
	case "1", "true", "yes", "on":
		enable = "1"
	}
	ifn := s.nextOpt(true)
	c.mutating = true
	s.st.Tables[tIfaces].put(ifn, Record{"if": dev, "descr": scalar(in["description"]), "enable": enable, "lock": "0",
		"type4": "static", "ipaddr": addr.String(), "subnet": strconv.Itoa(bits)})
	s.apply("assignment") // configctl interface reconfigure all
	return 200, map[string]any{"result": "saved", "ifname": ifn}
}

func (s *Server) assignDel(c *call) (int, any) {
	if !c.post() {
		return 400, map[string]any{"result": "failed", "errorMessage": "Only POST is supported."}
	}
	ifn := c.arg(0)
	if ifn == "lan" || ifn == "wan" {
		return 400, map[string]any{"result": "failed", "errorMessage": fmt.Sprintf("Refusing to remove the %s interface.", ifn)}
	}
	if s.st.Tables[tIfaces].del(ifn) {
		c.mutating = true
		s.apply("assignment")
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

// cancelRollback stops the timer of a revision; like configd it does not
// care whether one was running.
func (s *Server) cancelRollback(c *call) (int, any) {
	if !c.post() {
		return 200, map[string]any{"status": "error"}
	}
	rev := c.arg(0)
	if _, armed := s.st.Rollbacks[rev]; armed {
		c.mutating = true
		s.disarm(rev)
	}
	return 200, statusOK
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

func (s *Server) firmwareInfo(c *call) (int, any) {
	installed := "1"
	if s.opts.NoCaddy {
		installed = "0"
	}
	return 200, map[string]any{"product_id": "opnsense", "product_version": s.opts.Version, "product": s.product(),
		"package": []any{map[string]any{"name": "opnsense", "version": s.opts.Version, "installed": "1", "locked": "0"}},
		"plugin": []any{
			map[string]any{"name": "os-caddy", "version": "2.0.4", "comment": "Modern Reverse Proxy with Automatic HTTPS", "installed": installed, "provided": "1", "configured": installed, "locked": "0", "tier": "3"},
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

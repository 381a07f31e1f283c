package pve

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// APIError is an error reply: HTTP status, message (the reason phrase) and
// the per-parameter errors of a 400.
type APIError struct {
	Code   int
	Msg    string
	Errors map[string]string
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Msg) }

func paramErr(kv ...string) *APIError {
	e := &APIError{Code: 400, Msg: "Parameter verification failed.", Errors: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Errors[kv[i]] = kv[i+1]
	}
	return e
}

func runErr(format string, a ...any) *APIError {
	return &APIError{Code: 500, Msg: fmt.Sprintf(format, a...)}
}

// P is a parameter schema entry.
type P struct {
	T        string // string, integer, boolean, number
	Req      bool
	Enum     []string
	Min, Max *int
	Re       *regexp.Regexp
	Check    func(string) string // returns an error text
}

func pStr() P                      { return P{T: "string"} }
func pReq() P                      { return P{T: "string", Req: true} }
func pBool() P                     { return P{T: "boolean"} }
func pInt(min, max int) P          { return P{T: "integer", Min: &min, Max: &max} }
func pEnum(v ...string) P          { return P{T: "string", Enum: v} }
func pFmt(f func(string) string) P { return P{T: "string", Check: f} }

type authInfo struct {
	user    string // user id (root@pam)
	tokenID string // "" for tickets
	ticket  bool
}

func (a authInfo) authID() string {
	if a.tokenID != "" {
		return a.user + "!" + a.tokenID
	}
	return a.user
}

type call struct {
	n     *Node
	r     *http.Request
	auth  authInfo
	p     map[string]string
	extra map[string]any
}

func (c *call) has(k string) bool  { _, ok := c.p[k]; return ok }
func (c *call) bool(k string) bool { return c.p[k] == "1" }
func (c *call) int(k string, def int) int {
	if v, ok := c.p[k]; ok {
		i, _ := strconv.Atoi(v)
		return i
	}
	return def
}

type route struct {
	method   string
	pattern  []string
	params   map[string]P
	noAuth   bool
	noToken  bool // allowtoken => 0
	rootOnly bool // no permissions block: root@pam only
	priv     string
	h        func(c *call) (any, error)
}

// Handler is the PVE HTTPS API (mount at /).
func (n *Node) Handler() http.Handler { return http.HandlerFunc(n.serveAPI) }

func (n *Node) routeFor(method, p string) (*route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	pathKnown := false
	for i := range pveRoutes {
		rt := &pveRoutes[i]
		if len(rt.pattern) != len(segs) {
			continue
		}
		pp := map[string]string{}
		ok := true
		for j, s := range rt.pattern {
			if strings.HasPrefix(s, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				pp[s[1:len(s)-1]] = segs[j]
			} else if s != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		pathKnown = true
		if rt.method == method {
			return rt, pp, true
		}
	}
	return nil, nil, pathKnown
}

func (n *Node) serveAPI(w http.ResponseWriter, r *http.Request) {
	n.reqs.Add(1)
	start := time.Now()
	rel := strings.TrimPrefix(r.URL.Path, "/api2/json")
	entry := Entry{Time: start.UTC(), Face: "api", Method: r.Method, Path: rel}
	status := 200
	defer func() {
		if n.cfg.Log != nil {
			entry.Status = status
			n.cfg.Log(entry)
		}
	}()
	fail := func(e *APIError) {
		status = e.Code
		writeError(w, e)
	}
	if !strings.HasPrefix(r.URL.Path, "/api2/json/") && r.URL.Path != "/api2/json" {
		fail(&APIError{Code: 501, Msg: fmt.Sprintf("Method '%s %s' not implemented", r.Method, r.URL.Path)})
		return
	}
	params, perr := parseParams(r)
	entry.Params = MaskParams(params)
	if perr != nil {
		fail(perr)
		return
	}
	rt, pp, _ := n.routeFor(r.Method, rel)
	if rt == nil {
		fail(&APIError{Code: 501, Msg: fmt.Sprintf("Method '%s %s' not implemented", r.Method, rel)})
		return
	}
	auth, aerr := n.authenticate(r, rt)
	entry.User = auth.authID()
	if aerr != nil {
		if aerr.Code == 401 {
			if d := n.scaled(3 * time.Second); d > 0 {
				time.Sleep(d)
			}
		}
		fail(aerr)
		return
	}
	var after *Fault
	if f := n.cfg.Faults.Hit("api", r.Method+" "+rel); f != nil {
		if f.Delay > 0 {
			// A slow link: the call answers late, or never when the
			// client gives up first (its connection closes).
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		} else if f.After {
			after = f
		} else {
			code := f.Status
			if code == 0 {
				code = 500
			}
			msg := f.Message
			if msg == "" {
				msg = "lab: injected fault"
			}
			fail(&APIError{Code: code, Msg: msg})
			return
		}
	}
	if e := checkParams(rt, pp, params); e != nil {
		fail(e)
		return
	}
	for k, v := range pp {
		params[k] = v
	}
	c := &call{n: n, r: r, auth: auth, p: params, extra: map[string]any{}}
	data, err := n.handle(c, rt, r.Method)
	if after != nil {
		// The write is done; its reply is lost to a 5xx.
		code := after.Status
		if code == 0 {
			code = 500
		}
		msg := after.Message
		if msg == "" {
			msg = "lab: injected fault"
		}
		fail(&APIError{Code: code, Msg: msg})
		return
	}
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = runErr("%s", err.Error())
		}
		fail(ae)
		return
	}
	body := map[string]any{"data": data}
	for k, v := range c.extra {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "max-age=0")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// writeError writes an error reply with the message as the HTTP reason
// phrase (PVE does; Go's WriteHeader cannot, so the connection is hijacked)
// and closes the connection, as pveproxy does after an error.
func writeError(w http.ResponseWriter, e *APIError) {
	msg := e.Msg
	body := map[string]any{"data": nil, "message": msg + "\n"}
	if len(e.Errors) > 0 {
		body["errors"] = e.Errors
	}
	b, _ := json.Marshal(body)
	reason := msg
	if i := strings.IndexByte(reason, '\n'); i >= 0 {
		reason = reason[:i]
	}
	reason = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, reason)
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(e.Code)
		_, _ = w.Write(b)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: %d\r\nConnection: close\r\nCache-Control: max-age=0\r\n\r\n", e.Code, reason, len(b))
	_, _ = buf.Write(b)
	_ = buf.Flush()
}

const maxBody = 512 * 1024

// parseParams merges the body (JSON or form) and the query string, as
// pveproxy's extract_params does. Values become strings (booleans 1/0).
func parseParams(r *http.Request) (map[string]string, *APIError) {
	out := map[string]string{}
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodDelete) {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return nil, &APIError{Code: 400, Msg: "unable to read request body"}
		}
		if len(b) > maxBody {
			return nil, &APIError{Code: 413, Msg: "request too large"}
		}
		ct := r.Header.Get("Content-Type")
		if strings.HasPrefix(ct, "application/json") && len(bytes.TrimSpace(b)) > 0 {
			var raw map[string]any
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			if err := dec.Decode(&raw); err != nil {
				return nil, &APIError{Code: 400, Msg: "malformed JSON body: " + err.Error()}
			}
			for k, v := range raw {
				switch x := v.(type) {
				case nil:
				case string:
					out[k] = x
				case bool:
					if x {
						out[k] = "1"
					} else {
						out[k] = "0"
					}
				case json.Number:
					out[k] = x.String()
				default:
					return nil, paramErr(k, "type check ('string') failed - got a complex value")
				}
			}
		} else if len(b) > 0 {
			v, err := url.ParseQuery(string(b))
			if err != nil {
				return nil, &APIError{Code: 400, Msg: "malformed form body"}
			}
			for k, vs := range v {
				out[k] = strings.Join(vs, "\x00")
			}
		}
	}
	for k, vs := range r.URL.Query() {
		out[k] = strings.Join(vs, "\x00")
	}
	return out, nil
}

// checkParams validates params against the route schema (JSONSchema.pm).
func checkParams(rt *route, pp, params map[string]string) *APIError {
	e := paramErr()
	for k, v := range params {
		if pv, ok := pp[k]; ok {
			if pv != v {
				e.Errors[k] = "duplicate parameter (already defined in URI) with conflicting values!"
			}
			continue
		}
		if rt.params == nil {
			continue // open schema, checked by the handler
		}
		spec, ok := rt.params[k]
		if !ok {
			e.Errors[k] = "property is not defined in schema and the schema does not allow additional properties"
			continue
		}
		if msg := checkValue(spec, v); msg != "" {
			e.Errors[k] = msg
		}
	}
	for k, spec := range rt.params {
		if _, ok := params[k]; !ok && spec.Req {
			e.Errors[k] = "property is missing and it is not optional"
		}
	}
	if len(e.Errors) > 0 {
		return e
	}
	return nil
}

var intRe = regexp.MustCompile(`^[+-]?\d+$`)

func checkValue(s P, v string) string {
	if strings.Contains(v, "\x00") {
		return "type check ('" + s.T + "') failed - got an array"
	}
	switch s.T {
	case "boolean":
		if v != "0" && v != "1" {
			return fmt.Sprintf("type check ('boolean') failed - got '%s'", v)
		}
	case "integer":
		if !intRe.MatchString(v) {
			return fmt.Sprintf("type check ('integer') failed - got '%s'", v)
		}
		i, _ := strconv.Atoi(v)
		if s.Min != nil && i < *s.Min {
			return fmt.Sprintf("value must have a minimum value of %d", *s.Min)
		}
		if s.Max != nil && i > *s.Max {
			return fmt.Sprintf("value must have a maximum value of %d", *s.Max)
		}
	case "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Sprintf("type check ('number') failed - got '%s'", v)
		}
	}
	if len(s.Enum) > 0 {
		found := false
		for _, x := range s.Enum {
			if x == v {
				found = true
			}
		}
		if !found {
			return fmt.Sprintf("value '%s' does not have a value in the enumeration '%s'", v, strings.Join(s.Enum, ", "))
		}
	}
	if s.Re != nil && !s.Re.MatchString(v) {
		return "value does not match the regex pattern"
	}
	if s.Check != nil {
		return s.Check(v)
	}
	return ""
}

// --- authentication ---

func (n *Node) sign(s string) string {
	mac := hmac.New(sha256.New, []byte(n.m.Secret))
	mac.Write([]byte(s))
	return base64.RawStdEncoding.EncodeToString(mac.Sum(nil))
}

func (n *Node) newTicket(user string) (ticket, csrf string) {
	ts := fmt.Sprintf("%08X", time.Now().Unix())
	plain := "PVE:" + user + ":" + ts
	ticket = plain + "::" + n.sign(plain)
	csrf = ts + ":" + n.sign("csrf:" + user + ":" + ts)[:43]
	return
}

func (n *Node) checkTicket(t string) (string, string, bool) {
	i := strings.Index(t, "::")
	if i < 0 {
		return "", "", false
	}
	plain, sig := t[:i], t[i+2:]
	if subtle.ConstantTimeCompare([]byte(sig), []byte(n.sign(plain))) != 1 {
		return "", "", false
	}
	p := strings.Split(plain, ":")
	if len(p) != 3 || p[0] != "PVE" {
		return "", "", false
	}
	ts, err := strconv.ParseInt(p[2], 16, 64)
	if err != nil || time.Since(time.Unix(ts, 0)) > 2*time.Hour {
		return "", "", false
	}
	return p[1], p[2], true
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (n *Node) authenticate(r *http.Request, rt *route) (authInfo, *APIError) {
	var a authInfo
	authz := r.Header.Get("Authorization")
	if strings.HasPrefix(authz, "PVEAPIToken=") {
		v := strings.TrimPrefix(authz, "PVEAPIToken=")
		i := strings.LastIndex(v, "=")
		if i < 0 {
			return a, &APIError{Code: 401, Msg: "authentication failure"}
		}
		full, secret := v[:i], v[i+1:]
		j := strings.Index(full, "!")
		if j < 0 {
			return a, &APIError{Code: 401, Msg: "authentication failure"}
		}
		n.mu.Lock()
		u := n.m.user(full[:j])
		var tk *Token
		if u != nil && u.Enable {
			tk = u.Tokens[full[j+1:]]
		}
		ok := tk != nil && subtle.ConstantTimeCompare([]byte(tk.SecretHash), []byte(hashSecret(secret))) == 1 &&
			(tk.Expire == 0 || tk.Expire > time.Now().Unix())
		n.mu.Unlock()
		if !ok {
			return a, &APIError{Code: 401, Msg: "authentication failure"}
		}
		a = authInfo{user: full[:j], tokenID: full[j+1:]}
		if rt.noToken {
			return a, &APIError{Code: 403, Msg: fmt.Sprintf("Permission check failed (URI '%s' not available with API token, need proper ticket.)", r.URL.Path)}
		}
		return a, nil
	}
	ticket := ""
	if c, err := r.Cookie("PVEAuthCookie"); err == nil {
		ticket = c.Value
	} else if strings.HasPrefix(authz, "PVEAuthCookie=") {
		ticket = strings.TrimPrefix(authz, "PVEAuthCookie=")
	}
	if ticket != "" {
		if t, err := url.PathUnescape(ticket); err == nil {
			ticket = t
		}
		n.mu.Lock()
		user, ts, ok := n.checkTicket(ticket)
		n.mu.Unlock()
		if ok {
			a = authInfo{user: user, ticket: true}
			if r.Method != http.MethodGet && !rt.noAuth {
				tok := r.Header.Get("CSRFPreventionToken")
				n.mu.Lock()
				want := ts + ":" + n.sign("csrf:" + user + ":" + ts)[:43]
				n.mu.Unlock()
				if subtle.ConstantTimeCompare([]byte(tok), []byte(want)) != 1 {
					return a, &APIError{Code: 401, Msg: "Permission denied - invalid csrf token"}
				}
			}
			return a, nil
		}
	}
	if rt.noAuth {
		return a, nil
	}
	return a, &APIError{Code: 401, Msg: "authentication failure"}
}

// roles → privileges (coarse).
var rolePrivs = map[string][]string{
	"Administrator":     {"*"},
	"PVEAdmin":          {"VM.", "Datastore.", "Sys.Audit", "Sys.Console", "Sys.Syslog", "SDN.", "Pool.", "Mapping."},
	"PVEVMAdmin":        {"VM."},
	"PVEDatastoreAdmin": {"Datastore."},
	"PVEAuditor":        {"VM.Audit", "Datastore.Audit", "Sys.Audit", "Pool.Audit", "SDN.Audit", "Mapping.Audit"},
	"PVEUserAdmin":      {"User.Modify", "Group.Allocate", "Sys.Audit"},
	"NoAccess":          {},
}

func (n *Node) hasPriv(id, ptype, path, priv string) bool {
	best := -1
	allowed := false
	for _, a := range n.m.ACL {
		if a.UGID != id || a.Type != ptype {
			continue
		}
		if !(a.Path == path || (a.Propagate && (a.Path == "/" || strings.HasPrefix(path, a.Path+"/")))) {
			continue
		}
		if len(a.Path) < best {
			continue
		}
		ok := false
		for _, p := range rolePrivs[a.Role] {
			if p == "*" || p == priv || (strings.HasSuffix(p, ".") && strings.HasPrefix(priv, p)) {
				ok = true
			}
		}
		if len(a.Path) > best {
			allowed = ok
		} else {
			allowed = allowed || ok
		}
		best = len(a.Path)
	}
	return allowed
}

func (n *Node) permitted(c *call, rt *route) *APIError {
	if rt.noAuth {
		return nil
	}
	a := c.auth
	if rt.rootOnly {
		if a.authID() != "root@pam" {
			return &APIError{Code: 403, Msg: "Permission check failed (user != root@pam)"}
		}
		return nil
	}
	if rt.priv == "" {
		return nil
	}
	path := "/"
	priv := rt.priv
	if i := strings.Index(priv, "@"); i >= 0 {
		path = priv[i+1:]
		priv = priv[:i]
		for k, v := range c.p {
			path = strings.ReplaceAll(path, "{"+k+"}", v)
		}
	}
	userOK := a.user == "root@pam" || n.hasPriv(a.user, "user", path, priv)
	if a.tokenID == "" {
		if userOK {
			return nil
		}
	} else {
		u := n.m.user(a.user)
		var tk *Token
		if u != nil {
			tk = u.Tokens[a.tokenID]
		}
		if tk != nil && userOK && (!tk.Privsep || n.hasPriv(a.authID(), "token", path, priv)) {
			return nil
		}
	}
	return &APIError{Code: 403, Msg: fmt.Sprintf("Permission check failed (%s, %s)", path, priv)}
}

func sortedInts(m map[int]*VM) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// handle runs a route's handler under the model lock; a panic becomes a
// 500 "lab internal error" (and never leaves the lock held).
func (n *Node) handle(c *call, rt *route, method string) (data any, err error) {
	n.lock()
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, runErr("lab internal error: %v", r)
		}
		if err == nil && method != http.MethodGet {
			n.mut[0].Add(1)
			n.changed()
		}
		n.unlock()
	}()
	if e := n.permitted(c, rt); e != nil {
		return nil, e
	}
	return rt.h(c)
}

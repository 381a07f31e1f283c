package opnsense

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/tlspin"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the firewall's web GUI, e.g. "https://10.0.0.1" (":443"
	// implied) or "https://10.0.0.1:8443". Must be https.
	BaseURL string
	// Key and Secret are the API credentials (HTTP Basic user/password).
	Key, Secret string
	// Fingerprint is the SHA-256 of the web GUI's leaf certificate
	// ("AA:BB:…" as the GUI shows it; plain hex is accepted). Required.
	Fingerprint string
	// Certificate optionally supplies the pinned certificate (PEM) itself;
	// it must match Fingerprint. Without it the certificate is learned on
	// the first connection and checked against Fingerprint.
	Certificate []byte
	// Dial opens TCP connections (exec.SystemDial in the product; the lab's
	// dial table in tests). nil means exec.SystemDial.
	Dial exec.DialFunc
	// Log receives one debug line per request (method, path, status,
	// duration; never credentials or bodies). nil discards.
	Log *slog.Logger
	// Timeout bounds each request; 0 means 60s.
	Timeout time.Duration
}

// RepinHint is what an operator does when the firewall presents another
// certificate than the pinned one (part of the *tlspin.MismatchError text).
const RepinHint = "if the firewall's web GUI certificate was replaced on purpose, compare the new fingerprint with the one OPNsense shows (System > Trust > Certificates) and run `tappaas forget-certificate firewall`; otherwise something else answers at the firewall's address"

// Client talks to one OPNsense firewall. Safe for concurrent use.
type Client struct {
	base   *url.URL
	key    string
	secret string
	hc     *http.Client
	log    *slog.Logger

	lock chan struct{} // the write mutex (capacity 1), ctx-aware

	dmu     sync.Mutex
	dialect *Dialect
}

// New checks cfg and returns a client. It does not contact the firewall.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("opnsense: BaseURL %q must be an https URL such as https://10.0.0.1", cfg.BaseURL)
	}
	if cfg.Key == "" || cfg.Secret == "" {
		return nil, errors.New("opnsense: API key and secret are required")
	}
	if cfg.Fingerprint == "" {
		return nil, errors.New("opnsense: the firewall certificate's SHA-256 fingerprint is required (no unpinned TLS)")
	}
	dial := cfg.Dial
	if dial == nil {
		dial = exec.SystemDial
	}
	p, err := tlspin.New(dial, cfg.Fingerprint, cfg.Certificate, RepinHint)
	if err != nil {
		return nil, fmt.Errorf("opnsense: %w", err)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		DialTLSContext:        p.DialTLSContext,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		ForceAttemptHTTP2:     false,
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &Client{
		base:   u,
		key:    cfg.Key,
		secret: cfg.Secret,
		hc:     &http.Client{Transport: tr, Timeout: timeout},
		log:    log,
		lock:   make(chan struct{}, 1),
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

type lockKey struct{ c *Client }

// acquire takes the write mutex unless ctx already holds it (inside Locked).
func (c *Client) acquire(ctx context.Context) (release func(), err error) {
	if ctx.Value(lockKey{c}) != nil {
		return func() {}, nil
	}
	select {
	case c.lock <- struct{}{}:
		return func() { <-c.lock }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("opnsense: waiting for the write lock: %w", ctx.Err())
	}
}

// Locked runs fn holding the client's write mutex, so a batch of writes and
// the reconfigure that applies them cannot interleave with other writers of
// this client. Calls made with the ctx passed to fn do not lock again.
func (c *Client) Locked(ctx context.Context, fn func(ctx context.Context) error) error {
	release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	return fn(context.WithValue(ctx, lockKey{c}, true))
}

// Call performs one request to /api/<path> and decodes the 200 reply into out
// (when non-nil). body nil sends no body and no JSON content type (OPNsense
// rejects an empty body declared as JSON). Non-200 replies become *APIError.
// Call does not take the write lock; use Locked around mutating RPCs.
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	data, err := c.raw(ctx, method, path, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &APIError{Op: method + " " + path, Status: 200, Message: "unexpected reply: " + err.Error()}
	}
	return nil
}

// maxReply caps reply bodies.
const maxReply = 32 << 20

func (c *Client) raw(ctx context.Context, method, path string, body any) ([]byte, error) {
	op := method + " " + strings.TrimPrefix(path, "/")
	u := *c.base
	u.Path = c.base.Path + "/api/" + strings.TrimPrefix(path, "/")
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("opnsense: %s: encoding request: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("opnsense: %s: %w", op, err)
	}
	req.SetBasicAuth(c.key, c.secret)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		if pe := tlspin.PinFailure(err); pe != nil {
			return nil, pe
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("opnsense: %s: %w", op, ctx.Err())
		}
		return nil, &transportError{op: op, err: stripURL(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	c.log.Debug("opnsense api", "method", method, "path", u.Path, "status", resp.StatusCode, "duration", time.Since(start))
	if err != nil {
		return nil, &transportError{op: op, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(op, resp.StatusCode, data)
	}
	return data, nil
}

// stripURL drops *url.Error's URL (no credentials are in it, but it is noise).
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// statusError maps a non-200 reply to *APIError with its sentinel.
func statusError(op string, status int, body []byte) error {
	var r reply
	_ = json.Unmarshal(body, &r)
	msg := r.ErrorMsg
	if msg == "" {
		msg = r.Message
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
	}
	e := &APIError{Op: op, Status: status, Message: msg, Title: r.ErrorTitle}
	switch status {
	case http.StatusUnauthorized:
		e.kind = ErrUnauthorized
	case http.StatusForbidden:
		e.kind = ErrForbidden
	case http.StatusNotFound:
		e.kind = ErrEndpointNotFound
	}
	return e
}

// Resource names one CRUD collection: /api/<Module>/<Controller>/
// {search,get,add,set,del}<Thing>, records wrapped in {"<Monad>": …}.
type Resource struct {
	Module     string // "interfaces"
	Controller string // "vlan_settings"
	Thing      string // "Item" → searchItem, getItem, addItem, setItem, delItem
	Monad      string // "vlan"
}

func (r Resource) path(verb string, args ...string) string {
	p := r.Module + "/" + r.Controller + "/" + verb + r.Thing
	for _, a := range args {
		p += "/" + a
	}
	return p
}

// checkArg refuses a path argument (uuid, ifname, revision, alias name)
// that could change the URL's meaning.
func checkArg(what, v string) error {
	if v == "" {
		return fmt.Errorf("opnsense: empty %s", what)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:,", r)) {
			return fmt.Errorf("opnsense: %s %q contains %q; only letters, digits and -_.:, are allowed", what, v, r)
		}
	}
	return nil
}

// Search returns every record of r (GET search<Thing>, all rows).
func (c *Client) Search(ctx context.Context, r Resource) ([]Record, error) {
	data, err := c.raw(ctx, http.MethodGet, r.path("search"), nil)
	if err != nil {
		return nil, err
	}
	return ParseSearch(data)
}

// Get returns one record; ErrNotFound when the firewall answers [].
func (c *Client) Get(ctx context.Context, r Resource, uuid string) (Record, error) {
	if err := checkArg(r.Monad+" uuid", uuid); err != nil {
		return nil, err
	}
	data, err := c.raw(ctx, http.MethodGet, r.path("get", uuid), nil)
	if err != nil {
		return nil, err
	}
	rec, err := ParseGet(data, r.Monad)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("opnsense: %s %s: %w", r.Monad, uuid, ErrNotFound)
		}
		return nil, err
	}
	return rec, nil
}

// Add creates a record and returns its uuid. Takes the write lock.
func (c *Client) Add(ctx context.Context, r Resource, fields Record) (string, error) {
	rep, err := c.write(ctx, r.path("add"), r.Monad, fields)
	if err != nil {
		return "", err
	}
	if rep.UUID == "" {
		return "", &APIError{Op: "POST " + r.path("add"), Status: 200, Message: "saved without a uuid"}
	}
	return rep.UUID, nil
}

// Set updates (or, for an unknown uuid, creates) a record. Only the given
// fields change. Takes the write lock.
func (c *Client) Set(ctx context.Context, r Resource, uuid string, fields Record) error {
	if err := checkArg(r.Monad+" uuid", uuid); err != nil {
		return err
	}
	_, err := c.write(ctx, r.path("set", uuid), r.Monad, fields)
	return err
}

// Del deletes a record; ErrNotFound when it does not exist. Takes the write
// lock.
func (c *Client) Del(ctx context.Context, r Resource, uuid string) error {
	if err := checkArg(r.Monad+" uuid", uuid); err != nil {
		return err
	}
	release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	path := r.path("del", uuid)
	var rep reply
	if err := c.Call(ctx, http.MethodPost, path, nil, &rep); err != nil {
		return err
	}
	switch rep.Result {
	case "deleted":
		return nil
	case "not found":
		return fmt.Errorf("opnsense: %s %s: %w", r.Monad, uuid, ErrNotFound)
	}
	return resultError("POST "+path, rep)
}

func (c *Client) write(ctx context.Context, path, monad string, fields Record) (reply, error) {
	release, err := c.acquire(ctx)
	if err != nil {
		return reply{}, err
	}
	defer release()
	if fields == nil {
		fields = Record{}
	}
	var rep reply
	if err := c.Call(ctx, http.MethodPost, path, map[string]any{monad: fields}, &rep); err != nil {
		return rep, err
	}
	if rep.Result != "saved" {
		return rep, resultError("POST "+path, rep)
	}
	return rep, nil
}

func resultError(op string, rep reply) error {
	if len(rep.Validations) > 0 {
		return &ValidationError{Op: strings.TrimPrefix(op, "POST "), Fields: validationFields(rep.Validations)}
	}
	msg := rep.Result
	if rep.ErrorMsg != "" {
		msg += ": " + rep.ErrorMsg
	}
	return fmt.Errorf("%w: %s: result %q", ErrFailed, op, msg)
}

// Service is an apply endpoint: POSTing it makes the running service use
// the saved configuration.
type Service string

// Apply endpoints of the modules tappaas writes.
const (
	ServiceVLAN       Service = "interfaces/vlan_settings/reconfigure"
	ServiceAssignment Service = "interfaces/assignment/reconfigure" // stock 26.7+
	ServiceDnsmasq    Service = "dnsmasq/service/reconfigure"
	ServiceUnbound    Service = "unbound/service/reconfigure"
	ServiceFilter     Service = "firewall/filter/apply"
)

// serviceNames are the short module names Reconfigure also accepts.
var serviceNames = map[Service]Service{
	"vlan": ServiceVLAN, "interfaces": ServiceVLAN, "assignment": ServiceAssignment, "dnsmasq": ServiceDnsmasq,
	"unbound": ServiceUnbound, "filter": ServiceFilter,
}

// Reconfigure applies a module's saved configuration (POST, no body) and
// requires status "ok". s is a Service constant or a short module name
// ("dnsmasq", "vlan", "filter", …). Takes the write lock.
func (c *Client) Reconfigure(ctx context.Context, s Service) error {
	if !strings.Contains(string(s), "/") {
		full, ok := serviceNames[s]
		if !ok {
			return fmt.Errorf("opnsense: reconfigure: unknown module %q (want vlan, assignment, dnsmasq, unbound or filter)", s)
		}
		s = full
	}
	release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	var rep reply
	if err := c.Call(ctx, http.MethodPost, string(s), nil, &rep); err != nil {
		return err
	}
	if st := statusString(rep.Status); st != "ok" {
		return fmt.Errorf("%w: POST %s: status %q", ErrFailed, s, st)
	}
	return nil
}

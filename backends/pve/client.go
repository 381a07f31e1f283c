package pve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/tlspin"
)

// Config says how to reach and trust one PVE API.
type Config struct {
	// BaseURL is "https://host:8006"; "/api2/json" is appended when
	// missing.
	BaseURL string
	// Fingerprint is the SHA-256 of the server certificate as PVE prints it
	// ("AA:BB:…"; case and colons are normalised). Required.
	Fingerprint string
	// TokenID ("user@realm!name") and TokenSecret authenticate every call
	// (PVEAPIToken header). Empty: use LoginTicket.
	TokenID, TokenSecret string
	// Dial opens TCP connections (default exec.SystemDial).
	Dial exec.DialFunc
	// Log receives one debug line per request (method and path, never
	// bodies or credentials).
	Log *slog.Logger
	// Timeout bounds one HTTP request (default 60s).
	Timeout time.Duration
	// TaskPoll is the task polling interval of WaitTask (default 500ms).
	TaskPoll time.Duration
}

// Client is a PVE API client: go-proxmox for typed reads, raw calls
// where go-proxmox is wrong (see doc.go), typed errors everywhere. Safe for
// concurrent use.
type Client struct {
	cfg  Config
	base string // …/api2/json
	host string // host:port, for messages
	pin  *tlspin.Pinner
	tr   *http.Transport
	hc   *http.Client
	px   *proxmox.Client
	log  *slog.Logger

	mu          sync.Mutex
	tokenID     string
	tokenSecret string
	ticket      string
	csrf        string
	ticketUser  string
	ticketPass  string // kept in memory only, to renew the ticket
	ticketAt    time.Time
}

// New returns a client; it does not connect (the first call does).
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("pve: Config.BaseURL is empty (want https://host:8006)")
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("pve: Config.BaseURL %q: want https://host:port", cfg.BaseURL)
	}
	if !strings.HasSuffix(u.Path, "/api2/json") {
		u.Path = strings.TrimRight(u.Path, "/") + "/api2/json"
	}
	if (cfg.TokenID == "") != (cfg.TokenSecret == "") {
		return nil, errors.New("pve: set both Config.TokenID and Config.TokenSecret, or neither")
	}
	if cfg.TokenID != "" && !strings.Contains(cfg.TokenID, "!") {
		return nil, fmt.Errorf("pve: Config.TokenID %q: want user@realm!tokenname", cfg.TokenID)
	}
	if cfg.Dial == nil {
		cfg.Dial = exec.SystemDial
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.TaskPoll <= 0 {
		cfg.TaskPoll = 500 * time.Millisecond
	}
	pin, err := tlspin.New(cfg.Dial, cfg.Fingerprint, nil, repinHint)
	if err != nil {
		return nil, fmt.Errorf("pve: %w", err)
	}
	c := &Client{cfg: cfg, base: u.String(), host: u.Host, pin: pin, log: cfg.Log,
		tokenID: cfg.TokenID, tokenSecret: cfg.TokenSecret}
	c.tr = &http.Transport{
		DialTLSContext: pin.DialTLSContext,
		DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
			return nil, errors.New("pve: plain HTTP is not allowed")
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	c.hc = &http.Client{Transport: &authTransport{c: c, base: c.tr}, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c.px = proxmox.NewClient(c.base, proxmox.WithHTTPClient(c.hc), proxmox.WithUserAgent("tappaas"))
	return c, nil
}

// Proxmox returns the underlying go-proxmox client (same transport, pinning,
// auth and typed errors) for calls this package does not wrap.
func (c *Client) Proxmox() *proxmox.Client { return c.px }

// repinHint is what an operator does when the certificate changed.
const repinHint = "if the certificate was renewed on purpose, read the new fingerprint on the node with `pvenode cert info` and pin it"

// LoginTicket logs in with a password (POST /access/ticket) and keeps the
// ticket for the calls that need one (cluster create/join), or for every
// call when no token is configured. The password stays in memory to renew
// the ticket; it is never logged.
func (c *Client) LoginTicket(ctx context.Context, user, password string) error {
	if user == "" || password == "" {
		return errors.New("pve login: user and password are required")
	}
	var out struct {
		Ticket string `json:"ticket"`
		CSRF   string `json:"CSRFPreventionToken"`
	}
	err := c.Do(withAuth(ctx, authNone), http.MethodPost, "/access/ticket", map[string]any{"username": user, "password": password}, &out)
	if err != nil {
		return fmt.Errorf("pve login as %s: %w", user, err)
	}
	if out.Ticket == "" {
		return fmt.Errorf("pve login as %s: no ticket in the reply", user)
	}
	c.mu.Lock()
	c.ticket, c.csrf, c.ticketUser, c.ticketPass, c.ticketAt = out.Ticket, out.CSRF, user, password, time.Now()
	c.mu.Unlock()
	return nil
}

// relogin renews the ticket with the remembered credentials (when it
// expired).
func (c *Client) relogin(ctx context.Context) error {
	c.mu.Lock()
	u, p := c.ticketUser, c.ticketPass
	c.mu.Unlock()
	if u == "" {
		return fmt.Errorf("pve relogin: %w (call LoginTicket first)", ErrNeedTicket)
	}
	return c.LoginTicket(ctx, u, p)
}

type authKey struct{}

type authMode int

const (
	authDefault authMode = iota // token if set, else ticket
	authTicket                  // ticket only (root@pam calls)
	authNone                    // no credentials (login)
)

func withAuth(ctx context.Context, m authMode) context.Context {
	return context.WithValue(ctx, authKey{}, m)
}

// authTransport adds credentials and turns error replies into typed errors
// before go-proxmox (or Do) sees them.
type authTransport struct {
	c    *Client
	base http.RoundTripper
}

func (a *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := a.c
	mode, _ := req.Context().Value(authKey{}).(authMode)
	req = req.Clone(req.Context())
	req.Header.Del("Authorization")
	req.Header.Del("Cookie")
	req.Header.Del("CSRFPreventionToken")
	c.mu.Lock()
	tokID, tokSec, ticket, csrf := c.tokenID, c.tokenSecret, c.ticket, c.csrf
	c.mu.Unlock()
	switch {
	case mode == authNone:
	case mode == authDefault && tokID != "":
		req.Header.Set("Authorization", "PVEAPIToken="+tokID+"="+tokSec)
	case ticket != "":
		req.Header.Set("Cookie", "PVEAuthCookie="+url.QueryEscape(ticket))
		if req.Method != http.MethodGet {
			req.Header.Set("CSRFPreventionToken", csrf)
		}
	case mode == authTicket:
		return nil, fmt.Errorf("%s %s: %w (log in as root@pam with LoginTicket)", req.Method, req.URL.Path, ErrNeedTicket)
	}
	c.log.Debug("pve request", "method", req.Method, "path", req.URL.Path, "host", c.host)
	res, err := a.base.RoundTrip(req)
	if err != nil {
		if pe := tlspin.PinFailure(err); pe != nil {
			return nil, pe
		}
		return nil, &NetError{Host: c.host, Err: err}
	}
	if res.StatusCode < 400 {
		return res, nil
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 256<<10))
	res.Body.Close()
	reason := strings.TrimSpace(strings.TrimPrefix(res.Status, strconv.Itoa(res.StatusCode)))
	return nil, decodeError(req.Method, strings.TrimPrefix(req.URL.Path, "/api2/json"), res.StatusCode, reason, body)
}

// NetError is a transport failure (refused, reset, timeout): retryable.
type NetError struct {
	Host string
	Err  error
}

func (e *NetError) Error() string { return fmt.Sprintf("pve API at %s: %v", e.Host, e.Err) }

// Unwrap returns the cause.
func (e *NetError) Unwrap() error { return e.Err }

// Retryable marks network failures as transient.
func (e *NetError) Retryable() bool { return true }

// fix strips the *url.Error layer net/http adds around our typed errors.
func fix(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		var ae *APIError
		var pe *ParamError
		var ne *NetError
		if errors.As(ue.Err, &pe) || errors.As(ue.Err, &ae) || tlspin.PinFailure(ue.Err) != nil || errors.As(ue.Err, &ne) || errors.Is(ue.Err, ErrNeedTicket) {
			return ue.Err
		}
	}
	return err
}

// envelope is PVE's reply: {"data": …} plus "total" (task log).
type envelope struct {
	Data  json.RawMessage `json:"data"`
	Total *int            `json:"total,omitempty"`
}

// Do is the raw call: params go in the JSON body for POST/PUT and in the
// query for GET/DELETE (map[string]any or url.Values); the reply's data is
// decoded into out (may be nil). Errors are typed (*APIError, *ParamError,
// *tlspin.MismatchError, *NetError).
func (c *Client) Do(ctx context.Context, method, path string, params any, out any) error {
	env, err := c.doEnv(ctx, method, path, params)
	if err != nil {
		return err
	}
	if out == nil || len(env.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("%s %s: decoding reply: %w", method, path, err)
	}
	return nil
}

func (c *Client) doEnv(ctx context.Context, method, path string, params any) (*envelope, error) {
	env, err := c.doEnvOnce(ctx, method, path, params)
	var ae *APIError
	if err != nil && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && c.usesTicket(ctx) {
		// Tickets live two hours: renew once with the remembered login.
		if rerr := c.relogin(ctx); rerr == nil {
			return c.doEnvOnce(ctx, method, path, params)
		}
	}
	return env, err
}

// usesTicket reports whether a call in ctx authenticates with a renewable
// ticket.
func (c *Client) usesTicket(ctx context.Context) bool {
	mode, _ := ctx.Value(authKey{}).(authMode)
	c.mu.Lock()
	defer c.mu.Unlock()
	return mode != authNone && c.ticketPass != "" && (mode == authTicket || c.tokenID == "")
}

func (c *Client) doEnvOnce(ctx context.Context, method, path string, params any) (*envelope, error) {
	u := c.base + path
	var body io.Reader
	if params != nil {
		switch method {
		case http.MethodGet, http.MethodDelete:
			q := queryOf(params)
			if len(q) > 0 {
				u += "?" + q.Encode()
			}
		default:
			b, err := json.Marshal(params)
			if err != nil {
				return nil, fmt.Errorf("%s %s: encoding parameters: %w", method, path, err)
			}
			body = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tappaas")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fix(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, &NetError{Host: c.host, Err: err}
	}
	var env envelope
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &env); err != nil {
			return nil, fmt.Errorf("%s %s: reply is not JSON: %w", method, path, err)
		}
	}
	return &env, nil
}

func queryOf(params any) url.Values {
	switch p := params.(type) {
	case url.Values:
		return p
	case map[string]any:
		q := url.Values{}
		keys := make([]string, 0, len(p))
		for k := range p {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			q.Set(k, paramString(p[k]))
		}
		return q
	case map[string]string:
		q := url.Values{}
		for k, v := range p {
			q.Set(k, v)
		}
		return q
	}
	return nil
}

func paramString(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "1"
		}
		return "0"
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

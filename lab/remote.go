package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// endpointFile, in a served lab's directory, names its control endpoint.
const endpointFile = "endpoint.json"

type endpoint struct {
	Control string `json:"control"` // 127.0.0.1:PORT
	PID     int    `json:"pid"`
}

// Serve publishes the lab's dial table and Info on a loopback control
// endpoint and records it in dir/endpoint.json, so another process can use
// the lab with Connect (`tappaas lab serve`). It returns when ctx ends.
func (l *Lab) Serve(ctx context.Context, dir string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("lab: control endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/resolve", func(w http.ResponseWriter, r *http.Request) {
		target, err := l.resolve(r.URL.Query().Get("addr"))
		w.Header().Set("Content-Type", "application/json")
		out := map[string]string{"target": target}
		if err != nil {
			out["error"] = "no route to host"
			var oe *net.OpError
			if errors.As(err, &oe) && errors.Is(oe.Err, syscall.ECONNREFUSED) {
				out["error"] = "connection refused"
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(l.Info())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: quietLog()}
	go func() { _ = srv.Serve(ln) }()
	b, _ := json.Marshal(endpoint{Control: ln.Addr().String(), PID: os.Getpid()})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		srv.Close()
		return err
	}
	path := filepath.Join(dir, endpointFile)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		srv.Close()
		return err
	}
	<-ctx.Done()
	_ = os.Remove(path)
	return srv.Close()
}

// Remote is a lab served by another process (see Serve).
type Remote struct {
	control string
	hc      *http.Client
}

// Connect attaches to the lab served from dir.
func Connect(dir string) (*Remote, error) {
	b, err := os.ReadFile(filepath.Join(dir, endpointFile))
	if err != nil {
		return nil, fmt.Errorf("no lab is served from %s (start `tappaas lab serve --dir %s`): %w", dir, dir, err)
	}
	var ep endpoint
	if err := json.Unmarshal(b, &ep); err != nil || ep.Control == "" {
		return nil, fmt.Errorf("lab endpoint %s: unreadable", filepath.Join(dir, endpointFile))
	}
	return &Remote{control: ep.Control, hc: &http.Client{Timeout: 5 * time.Second}}, nil
}

func (r *Remote) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+r.control+path, nil)
	if err != nil {
		return err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("lab control endpoint: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Info is the served lab's Info.
func (r *Remote) Info(ctx context.Context) (Info, error) {
	var info Info
	err := r.get(ctx, "/info", &info)
	return info, err
}

// Dial is the served lab's dial table (an exec.DialFunc).
func (r *Remote) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var out struct{ Target, Error string }
	if err := r.get(ctx, "/resolve?addr="+url.QueryEscape(addr), &out); err != nil {
		return nil, err
	}
	switch out.Error {
	case "":
		var d net.Dialer
		return d.DialContext(ctx, "tcp", out.Target)
	case "connection refused":
		return nil, opErr(addr, syscall.ECONNREFUSED)
	}
	return nil, opErr(addr, syscall.EHOSTUNREACH)
}

package lab

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

func startLab(t testing.TB, opts Options) *Lab {
	t.Helper()
	l, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// httpClient verifies the node certificate against the lab's CA (no
// InsecureSkipVerify) and routes through the dial table.
func httpClient(l *Lab) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:     l.Dial,
		TLSClientConfig: &tls.Config{RootCAs: l.CertPool()},
	}}
}

func rootClient(t testing.TB, l *Lab) *proxmox.Client {
	t.Helper()
	info := l.Info()
	return proxmox.NewClient("https://"+info.NodeAddr+":8006/api2/json",
		proxmox.WithHTTPClient(httpClient(l)),
		proxmox.WithCredentials(&proxmox.Credentials{Username: "root@pam", Password: info.RootPassword}))
}

func TestStartGoProxmoxVersionAndNodes(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	c := rootClient(t, l)
	ctx := context.Background()
	v, err := c.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Release != "9.1" {
		t.Fatalf("release %q", v.Release)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].Node != "tappaas1" || nodes[0].SSLFingerprint != l.Info().PVEFingerprint {
		t.Fatalf("nodes %+v", nodes[0])
	}
}

package pve_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/pve"
	"github.com/tappaas/tappaas/lab"

	"github.com/tappaas/tappaas/backends/tlspin"
)

// The join of a second lab node over the API: ticket-only join, the node
// certificate changes (the old pin is refused), a client pinned to the
// newly learned fingerprint logs in again and waits for the join task, and
// the node's own tokens are gone (it now has the cluster's users).
func TestLabJoinRepinRelogin(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	site := lab.NewSite()
	l1, err := lab.Start(ctx, lab.Options{Hostname: "tappaas1", Site: site})
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	l2, err := lab.Start(ctx, lab.Options{Hostname: "tappaas2", Site: site})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	i1, i2 := l1.Info(), l2.Info()
	mk := func(l *lab.Lab, addr, fp string) *pve.Client {
		c, err := pve.New(pve.Config{BaseURL: "https://" + addr + ":8006", Fingerprint: fp, Dial: l.Dial, TaskPoll: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 := mk(l1, i1.NodeAddr, i1.PVEFingerprint)
	if err := c1.LoginTicket(ctx, "root@pam", i1.RootPassword); err != nil {
		t.Fatal(err)
	}
	upid, err := c1.ClusterCreate(ctx, "TAPPaaS", i1.NodeAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.WaitTask(ctx, upid, nil); err != nil {
		t.Fatal(err)
	}
	var ji struct {
		NodeList []struct {
			PVEFP string `json:"pve_fp"`
		} `json:"nodelist"`
	}
	if err := c1.Do(ctx, http.MethodGet, "/cluster/config/join", nil, &ji); err != nil || len(ji.NodeList) != 1 {
		t.Fatalf("join info %+v %v", ji, err)
	}

	c2 := mk(l2, i2.NodeAddr, i2.PVEFingerprint)
	if err := c2.LoginTicket(ctx, "root@pam", i2.RootPassword); err != nil {
		t.Fatal(err)
	}
	var ae *pve.APIError
	if err := c2.Do(ctx, http.MethodGet, "/cluster/config/join", nil, nil); !errors.As(err, &ae) || ae.Status != 424 {
		t.Fatalf("join info of a standalone node: %v", err)
	}
	var tok struct {
		FullTokenID string `json:"full-tokenid"`
		Value       string `json:"value"`
	}
	if err := c2.Do(ctx, http.MethodPost, "/access/users/root@pam/token/before-join", map[string]any{"privsep": false}, &tok); err != nil {
		t.Fatal(err)
	}
	err = c2.Do(ctx, http.MethodPost, "/cluster/config/join", map[string]any{"hostname": i1.NodeAddr, "password": i1.RootPassword, "fingerprint": ji.NodeList[0].PVEFP, "link0": i2.NodeAddr}, &upid)
	if err != nil {
		t.Fatal(err)
	}
	// The joiner now serves a new certificate: the old pin is refused.
	stale := mk(l2, i2.NodeAddr, i2.PVEFingerprint)
	if err := stale.Do(ctx, http.MethodGet, "/version", nil, nil); !errors.Is(err, tlspin.ErrMismatch) {
		t.Fatalf("old pin accepted after the join: %v", err)
	}
	newFP, _ := tlspin.Normalize(l2.Info().PVEFingerprint)
	if old, _ := tlspin.Normalize(i2.PVEFingerprint); newFP == old {
		t.Fatal("the lab did not regenerate the node certificate")
	}
	// Learn, then pin: the product reads /etc/pve/local/pve-ssl.pem over SSH.
	c2 = mk(l2, i2.NodeAddr, newFP)
	if err := c2.LoginTicket(ctx, "root@pam", i2.RootPassword); err != nil {
		t.Fatalf("login after the join: %v", err)
	}
	var lines []string
	if err := c2.WaitTask(ctx, upid, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatalf("join: %v (log %q)", err, lines)
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "TASK OK") {
		t.Fatalf("join log %q", lines)
	}
	cl, err := c2.Proxmox().Cluster(ctx)
	if err != nil || len(cl.Nodes) != 2 || !strings.Contains(cl.Name, "TAPPaaS") {
		t.Fatalf("cluster after join: %+v %v", cl, err)
	}
	before, err := pve.New(pve.Config{BaseURL: "https://" + i2.NodeAddr + ":8006", Fingerprint: newFP, Dial: l2.Dial, TokenID: tok.FullTokenID, TokenSecret: tok.Value})
	if err != nil {
		t.Fatal(err)
	}
	if err := before.Do(ctx, http.MethodGet, "/nodes", nil, nil); !errors.Is(err, pve.ErrUnauthorized) {
		t.Fatalf("pre-join token still valid: %v", err)
	}
}

package pve_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/pve"
	"github.com/tappaas/tappaas/lab"

	"github.com/tappaas/tappaas/backends/tlspin"
)

// The join of a second lab node: ticket-only join, the node certificate
// changes (the old pin is refused), re-pin and re-login, and the node's
// own tokens are gone (it now has the cluster's users).
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
	ji, err := c1.ClusterJoinInfo(ctx)
	if err != nil || len(ji.NodeList) != 1 {
		t.Fatalf("join info %+v %v", ji, err)
	}

	c2 := mk(l2, i2.NodeAddr, i2.PVEFingerprint)
	if err := c2.LoginTicket(ctx, "root@pam", i2.RootPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ClusterJoinInfo(ctx); err == nil {
		t.Fatal("join info of a standalone node")
	} else {
		var ae *pve.APIError
		if !errors.As(err, &ae) || ae.Status != 424 {
			t.Fatalf("standalone join info: %v", err)
		}
	}
	tok, err := c2.TokenCreate(ctx, "root@pam", "before-join", "", false)
	if err != nil {
		t.Fatal(err)
	}
	// The raw sequence: the old pin is refused after the join.
	learned := 0
	var lines []string
	err = c2.ClusterJoinWait(ctx, pve.JoinParams{Hostname: i1.NodeAddr, Password: i1.RootPassword, Fingerprint: ji.NodeList[0].PVEFP, Links: []string{i2.NodeAddr}},
		func(context.Context) (string, error) {
			// The product reads /etc/pve/local/pve-ssl.pem over SSH.
			learned++
			return l2.Info().PVEFingerprint, nil
		}, func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatalf("join: %v (log %q)", err, lines)
	}
	newFP, _ := tlspin.Normalize(l2.Info().PVEFingerprint)
	if old, _ := tlspin.Normalize(i2.PVEFingerprint); newFP == old {
		t.Fatal("the lab did not regenerate the node certificate")
	}
	if learned == 0 || c2.Fingerprint() != newFP {
		t.Fatalf("not re-pinned: learned=%d pin=%s", learned, c2.Fingerprint())
	}
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
		if seen[l] > 1 {
			t.Fatalf("log line repeated: %q in %q", l, lines)
		}
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "TASK OK") {
		t.Fatalf("join log %q", lines)
	}
	stale := mk(l2, i2.NodeAddr, i2.PVEFingerprint)
	if _, err := stale.Version(ctx); !errors.Is(err, tlspin.ErrMismatch) {
		t.Fatalf("old pin accepted after the join: %v", err)
	}
	st, err := c2.ClusterStatus(ctx)
	if err != nil || !st.Clustered || len(st.Nodes) != 2 {
		t.Fatalf("cluster after join: %+v %v", st, err)
	}
	old := mk(l2, i2.NodeAddr, newFP)
	old.SetToken(tok.FullTokenID, tok.Value)
	if _, err := old.Nodes(ctx); !errors.Is(err, pve.ErrUnauthorized) {
		t.Fatalf("pre-join token still valid: %v", err)
	}
	if !strings.Contains(st.Name, "TAPPaaS") {
		t.Fatalf("cluster name %q", st.Name)
	}
}

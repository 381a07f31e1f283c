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

// Contract tests against the lab's PVE simulator: the same client code a
// real node sees, through the lab's dial table.
func TestLabContract(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Speed: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info := l.Info()
	base := "https://" + info.NodeAddr + ":8006"
	newClient := func(t *testing.T, mod func(*pve.Config)) *pve.Client {
		cfg := pve.Config{BaseURL: base, Fingerprint: info.PVEFingerprint, Dial: l.Dial, TaskPoll: 10 * time.Millisecond}
		if mod != nil {
			mod(&cfg)
		}
		c, err := pve.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	root := newClient(t, nil)
	if err := root.LoginTicket(ctx, "root@pam", "wrong"); !errors.Is(err, pve.ErrUnauthorized) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := root.LoginTicket(ctx, "root@pam", info.RootPassword); err != nil {
		t.Fatal(err)
	}
	tok, err := root.TokenCreate(ctx, "root@pam", "tappaas", "installer", false)
	if err != nil || tok.FullTokenID != "root@pam!tappaas" || tok.Value == "" {
		t.Fatalf("token: %+v %v", tok, err)
	}
	_, err = root.TokenCreate(ctx, "root@pam", "tappaas", "installer", false)
	var pe *pve.ParamError
	if !errors.As(err, &pe) || pe.Errors["tokenid"] == "" {
		t.Fatalf("duplicate token: want ParamError on tokenid, got %v", err)
	}
	c := newClient(t, func(cfg *pve.Config) { cfg.TokenID, cfg.TokenSecret = tok.FullTokenID, tok.Value })

	v, err := c.Version(ctx)
	if err != nil || !strings.HasPrefix(v.Version, "9.") {
		t.Fatalf("version %+v %v", v, err)
	}
	st, err := c.ClusterStatus(ctx)
	if err != nil || st.Clustered {
		t.Fatalf("cluster status %+v %v", st, err)
	}
	local, ok := st.LocalNode()
	if !ok || local.Name != info.Hostname {
		t.Fatalf("local node %+v", st)
	}
	node := local.Name
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("nodes %+v %v", nodes, err)
	}
	if fp, _ := tlspin.Normalize(nodes[0].SSLFingerprint); fp != c.Fingerprint() {
		t.Fatalf("ssl_fingerprint %q vs pinned %q", nodes[0].SSLFingerprint, c.Fingerprint())
	}

	t.Run("Network", func(t *testing.T) {
		ifs, _, err := c.NetworkList(ctx, node, "")
		if err != nil || len(ifs) == 0 {
			t.Fatalf("%+v %v", ifs, err)
		}
		var nic string
		for _, i := range ifs {
			if i.Type == "eth" {
				nic = i.Iface
				break
			}
		}
		err = c.NetworkCreate(ctx, node, "tptest", pve.NetworkConfig{Type: "bridge", BridgeVlanAware: true, BridgeVids: "2-4094", Comments: "contract"})
		if err != nil {
			t.Fatal(err)
		}
		_, changes, err := c.NetworkList(ctx, node, "")
		if err != nil || changes == "" {
			t.Fatalf("no pending changes after staging: %q %v", changes, err)
		}
		err = c.NetworkCreate(ctx, node, "tptest", pve.NetworkConfig{Type: "bridge"})
		if !errors.As(err, &pe) || pe.Errors["iface"] == "" {
			t.Fatalf("duplicate iface: %v", err)
		}
		upid, err := c.NetworkApply(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		if err := c.WaitTask(ctx, upid, func(s string) { lines = append(lines, s) }); err != nil {
			t.Fatalf("apply: %v (log %q)", err, lines)
		}
		_ = nic
	})

	t.Run("Errors", func(t *testing.T) {
		if _, err := c.VMStatus(ctx, node, 999); !errors.Is(err, pve.ErrNotFound) {
			t.Fatalf("missing VM: %v", err)
		}
		_, err := c.VMCreate(ctx, node, 990, pve.Params{"bogus": 1})
		if !errors.As(err, &pe) || pe.Errors["bogus"] == "" {
			t.Fatalf("bogus parameter: %v", err)
		}
		if err := c.Do(ctx, http.MethodGet, "/nodes/"+node+"/no-such-thing", nil, nil); !errors.Is(err, pve.ErrNotImplemented) {
			t.Fatalf("501: %v", err)
		}
		// A token may not create a cluster: locally refused (needs a
		// ticket), and the server says 403 if asked directly.
		if _, err := c.ClusterCreate(ctx, "TAPPaaS"); !errors.Is(err, pve.ErrNeedTicket) {
			t.Fatalf("token cluster create: %v", err)
		}
		if err := c.Do(ctx, http.MethodPost, "/cluster/config", map[string]any{"clustername": "TAPPaaS"}, nil); !errors.Is(err, pve.ErrForbidden) {
			t.Fatalf("server-side root@pam check: %v", err)
		}
		bad := newClient(t, func(cfg *pve.Config) {
			cfg.TokenID, cfg.TokenSecret = tok.FullTokenID, "00000000-0000-0000-0000-000000000000"
		})
		if _, err := bad.Nodes(ctx); !errors.Is(err, pve.ErrUnauthorized) {
			t.Fatalf("bad token: %v", err)
		}
		wrong := newClient(t, func(cfg *pve.Config) { cfg.Fingerprint = strings.Repeat("AB:", 31) + "CD" })
		if _, err := wrong.Version(ctx); !errors.Is(err, tlspin.ErrMismatch) {
			t.Fatalf("pin mismatch: %v", err)
		}
	})

	t.Run("VMTasks", func(t *testing.T) {
		upid, err := c.VMCreate(ctx, node, 901, pve.Params{"name": "contract", "memory": 1024, "cores": 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitTask(ctx, upid, nil); err != nil {
			t.Fatal(err)
		}
		_, err = c.VMCreate(ctx, node, 901, pve.Params{"name": "contract"})
		var ae *pve.APIError
		if !errors.As(err, &ae) || !strings.Contains(ae.Message, "already exists") {
			t.Fatalf("duplicate VM: %v", err)
		}
		upid, err = c.VMStart(ctx, node, 901, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitTask(ctx, upid, nil); err != nil {
			t.Fatal(err)
		}
		st, err := c.VMStatus(ctx, node, 901)
		if err != nil || st.Status != "running" {
			t.Fatalf("%+v %v", st, err)
		}
		// Starting it again fails inside the task, which go-proxmox's
		// Wait would report as success.
		upid, err = c.VMStart(ctx, node, 901, nil)
		if err == nil {
			err = c.WaitTask(ctx, upid, nil)
		}
		var te *pve.TaskError
		if !errors.As(err, &te) || !strings.Contains(te.ExitStatus, "already running") {
			t.Fatalf("second start: want TaskError, got %v", err)
		}
		if _, err := c.AgentNetwork(ctx, node, 901); !errors.Is(err, pve.ErrAgentNotRunning) {
			t.Fatalf("agent of a VM without agent: %v", err)
		}
	})

	t.Run("DownloadWithChecksum", func(t *testing.T) {
		img := info.Images[0]
		name := "contract-" + img.Guest + ".img"
		p := pve.Params{"content": "import", "filename": name, "url": img.URL, "checksum": img.SHA256, "checksum-algorithm": "sha256"}
		upid, err := c.DownloadURL(ctx, node, "local", p)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitTask(ctx, upid, nil); err != nil {
			t.Fatal(err)
		}
		// (The lab's content listing does not show downloaded imports yet,
		// so only the call's shape is checked here.)
		if _, err := c.StorageContent(ctx, node, "local", "import"); err != nil {
			t.Fatal(err)
		}
		p["filename"], p["checksum"] = "bad-"+name, strings.Repeat("0", 64)
		upid, err = c.DownloadURL(ctx, node, "local", p)
		if err == nil {
			err = c.WaitTask(ctx, upid, nil)
		}
		var te *pve.TaskError
		if !errors.As(err, &te) {
			t.Fatalf("wrong checksum: want TaskError, got %v", err)
		}
	})

	t.Run("ClusterCreateWithTicket", func(t *testing.T) {
		c.SetToken(tok.FullTokenID, tok.Value)
		if err := c.LoginTicket(ctx, "root@pam", info.RootPassword); err != nil {
			t.Fatal(err)
		}
		upid, err := c.ClusterCreate(ctx, "TAPPaaS", info.NodeAddr)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitTask(ctx, upid, nil); err != nil {
			t.Fatal(err)
		}
		st, err := c.ClusterStatus(ctx)
		if err != nil || !st.Clustered || st.Name != "TAPPaaS" {
			t.Fatalf("%+v %v", st, err)
		}
		_, err = c.ClusterCreate(ctx, "TAPPaaS", info.NodeAddr)
		if err == nil {
			t.Fatal("second cluster create succeeded")
		}
	})
}

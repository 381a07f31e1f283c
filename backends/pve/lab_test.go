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
// real node sees, through the lab's dial table. Calls the client does not
// wrap go through Do, as the raw shapes are what is tested.
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
	var tok struct {
		FullTokenID string `json:"full-tokenid"`
		Value       string `json:"value"`
	}
	tokenPath := "/access/users/root@pam/token/tappaas"
	if err := root.Do(ctx, http.MethodPost, tokenPath, map[string]any{"comment": "installer", "privsep": false}, &tok); err != nil || tok.FullTokenID != "root@pam!tappaas" || tok.Value == "" {
		t.Fatalf("token: %+v %v", tok, err)
	}
	err = root.Do(ctx, http.MethodPost, tokenPath, map[string]any{"privsep": false}, nil)
	var pe *pve.ParamError
	if !errors.As(err, &pe) || pe.Errors["tokenid"] == "" {
		t.Fatalf("duplicate token: want ParamError on tokenid, got %v", err)
	}
	c := newClient(t, func(cfg *pve.Config) { cfg.TokenID, cfg.TokenSecret = tok.FullTokenID, tok.Value })
	node := info.Hostname

	v, err := c.Proxmox().Version(ctx)
	if err != nil || !strings.HasPrefix(v.Version, "9.") {
		t.Fatalf("version through go-proxmox %+v %v", v, err)
	}

	t.Run("Errors", func(t *testing.T) {
		if err := c.Do(ctx, http.MethodGet, "/nodes/"+node+"/qemu/999/status/current", nil, nil); !errors.Is(err, pve.ErrNotFound) {
			t.Fatalf("missing VM: %v", err)
		}
		err := c.Do(ctx, http.MethodPost, "/nodes/"+node+"/qemu", map[string]any{"vmid": 990, "bogus": 1}, nil)
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
		if err := bad.Do(ctx, http.MethodGet, "/nodes", nil, nil); !errors.Is(err, pve.ErrUnauthorized) {
			t.Fatalf("bad token: %v", err)
		}
		wrong := newClient(t, func(cfg *pve.Config) { cfg.Fingerprint = strings.Repeat("AB:", 31) + "CD" })
		if err := wrong.Do(ctx, http.MethodGet, "/version", nil, nil); !errors.Is(err, tlspin.ErrMismatch) {
			t.Fatalf("pin mismatch: %v", err)
		}
	})

	// The lab's task machinery seen through WaitTask: a task that fails
	// inside (which go-proxmox's Wait would report as success) is a
	// *TaskError.
	t.Run("VMTasks", func(t *testing.T) {
		post := func(path string, p map[string]any) string {
			t.Helper()
			var upid string
			if err := c.Do(ctx, http.MethodPost, "/nodes/"+node+path, p, &upid); err != nil {
				t.Fatalf("POST %s: %v", path, err)
			}
			return upid
		}
		if err := c.WaitTask(ctx, post("/qemu", map[string]any{"vmid": 901, "name": "contract", "memory": 1024, "cores": 1}), nil); err != nil {
			t.Fatal(err)
		}
		err := c.Do(ctx, http.MethodPost, "/nodes/"+node+"/qemu", map[string]any{"vmid": 901, "name": "contract"}, nil)
		var ae *pve.APIError
		if !errors.As(err, &ae) || !strings.Contains(ae.Message, "already exists") {
			t.Fatalf("duplicate VM: %v", err)
		}
		if err := c.WaitTask(ctx, post("/qemu/901/status/start", nil), nil); err != nil {
			t.Fatal(err)
		}
		var st struct {
			Status string `json:"status"`
		}
		if err := c.Do(ctx, http.MethodGet, "/nodes/"+node+"/qemu/901/status/current", nil, &st); err != nil || st.Status != "running" {
			t.Fatalf("%+v %v", st, err)
		}
		err = c.WaitTask(ctx, post("/qemu/901/status/start", nil), nil)
		var te *pve.TaskError
		if !errors.As(err, &te) || !strings.Contains(te.ExitStatus, "already running") {
			t.Fatalf("second start: want TaskError, got %v", err)
		}
	})

	t.Run("DownloadWithChecksum", func(t *testing.T) {
		img := info.Images[0]
		name := "contract-" + img.Guest + ".img"
		p := map[string]any{"content": "import", "filename": name, "url": img.URL, "checksum": img.SHA256, "checksum-algorithm": "sha256"}
		path := "/nodes/" + node + "/storage/local/download-url"
		var upid string
		if err := c.Do(ctx, http.MethodPost, path, p, &upid); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitTask(ctx, upid, nil); err != nil {
			t.Fatal(err)
		}
		p["filename"], p["checksum"] = "bad-"+name, strings.Repeat("0", 64)
		err := c.Do(ctx, http.MethodPost, path, p, &upid)
		if err == nil {
			err = c.WaitTask(ctx, upid, nil)
		}
		var te *pve.TaskError
		if !errors.As(err, &te) {
			t.Fatalf("wrong checksum: want TaskError, got %v", err)
		}
	})

	t.Run("ClusterCreateWithTicket", func(t *testing.T) {
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
		cl, err := c.Proxmox().Cluster(ctx)
		if err != nil || cl.Name != "TAPPaaS" || cl.Quorate != 1 {
			t.Fatalf("%+v %v", cl, err)
		}
		if _, err := c.ClusterCreate(ctx, "TAPPaaS", info.NodeAddr); err == nil {
			t.Fatal("second cluster create succeeded")
		}
	})
}

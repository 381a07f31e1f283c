package pbs

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
)

// retentionNode fakes proxmox-backup-manager's prune-job and datastore
// commands over one job map and a GC schedule, in the API's JSON forms.
type retentionNode struct {
	*exectest.Fake
	mu  sync.Mutex
	job map[string]any // nil: no job
	gc  string
}

func newRetentionNode() *retentionNode {
	r := &retentionNode{Fake: exectest.NewFake()}
	r.On(`^proxmox-backup-manager prune-job list --output-format json$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		list := []any{}
		if r.job != nil {
			list = append(list, r.job)
		}
		return 0, json.NewEncoder(inv.Stdout).Encode(list)
	})
	r.On(`^proxmox-backup-manager datastore show tappaas_backup --output-format json$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		ds := map[string]any{"name": "tappaas_backup", "path": "/tanka1/tappaas_backup"}
		if r.gc != "" {
			ds["gc-schedule"] = r.gc
		}
		return 0, json.NewEncoder(inv.Stdout).Encode(ds)
	})
	r.On(`^proxmox-backup-manager prune-job (create|update) prune-tappaas_backup (.*)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if inv.Match[1] == "create" {
			r.job = map[string]any{"id": "prune-tappaas_backup"}
		}
		f := strings.Fields(inv.Match[2])
		for i := 0; i+1 < len(f); i += 2 {
			k, v := strings.TrimPrefix(f[i], "--"), f[i+1]
			switch {
			case k == "delete":
				delete(r.job, v)
			case k == "disable":
				if v == "true" {
					r.job[k] = true
				} else {
					delete(r.job, k)
				}
			case strings.HasPrefix(k, "keep-"):
				n, _ := strconv.Atoi(v)
				r.job[k] = float64(n)
			default:
				r.job[k] = v
			}
		}
		return 0, nil
	})
	r.On(`^proxmox-backup-manager datastore update tappaas_backup --gc-schedule (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		r.mu.Lock()
		r.gc = inv.Match[1]
		r.mu.Unlock()
		return 0, nil
	})
	return r
}

func retentionCfg() config.Install {
	c := config.Defaults()
	c.Backup.Datastore, c.Backup.Pool = "tappaas_backup", "tanka1"
	return c
}

func TestRetentionIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newRetentionNode()
	s := &Retention{Node: n, Cfg: retentionCfg()}
	if st, err := s.Check(ctx, retentionRT()); err != nil || st.Done || !strings.Contains(st.Detail, "does not exist") {
		t.Fatalf("check before: %+v %v", st, err)
	}
	if err := s.Apply(ctx, retentionRT()); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "prune-tappaas_backup", "store": "tappaas_backup", "schedule": "02:00",
		"keep-last": 4.0, "keep-daily": 14.0, "keep-weekly": 8.0, "keep-monthly": 12.0, "keep-yearly": 6.0}
	if len(n.job) != len(want) || n.gc != "03:00" {
		t.Fatalf("after apply: job %v gc %q", n.job, n.gc)
	}
	for k, v := range want {
		if n.job[k] != v {
			t.Fatalf("job %s = %v, want %v", k, n.job[k], v)
		}
	}
	if st, err := s.Check(ctx, retentionRT()); err != nil || !st.Done {
		t.Fatalf("check after: %+v %v", st, err)
	}
	calls := len(n.Scripts())
	if err := s.Apply(ctx, retentionRT()); err != nil {
		t.Fatal(err)
	}
	for _, sc := range n.Scripts()[calls:] {
		if strings.Contains(sc, "create") || strings.Contains(sc, "update") {
			t.Fatalf("second Apply changed something: %s", sc)
		}
	}
}

// A job someone changed is put back: disabled, other keeps, an hourly
// keep upstream does not set, a different GC time.
func TestRetentionCorrectsDrift(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newRetentionNode()
	n.job = map[string]any{"id": "prune-tappaas_backup", "store": "tappaas_backup", "schedule": "02:00", "disable": true,
		"keep-last": 1.0, "keep-hourly": 24.0, "keep-daily": 14.0, "keep-weekly": 8.0, "keep-monthly": 12.0, "keep-yearly": 6.0}
	n.gc = "daily"
	s := &Retention{Node: n, Cfg: retentionCfg()}
	if st, err := s.Check(ctx, retentionRT()); err != nil || st.Done || !strings.Contains(st.Detail, "disabled") {
		t.Fatalf("check: %+v %v", st, err)
	}
	if err := s.Apply(ctx, retentionRT()); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Check(ctx, retentionRT()); err != nil || !st.Done {
		t.Fatalf("check after: %+v %v (job %v)", st, err, n.job)
	}
	if _, ok := n.job["keep-hourly"]; ok || n.gc != "03:00" {
		t.Fatalf("job %v gc %q", n.job, n.gc)
	}
}

func retentionRT() *steps.Runtime { return steps.NewRuntime("pbs.retention", nil, nil, nil, nil) }

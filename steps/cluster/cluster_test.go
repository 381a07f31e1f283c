package cluster

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
)

type fakeAPI struct {
	mu      sync.Mutex
	created bool
	link0   string
}

func (f *fakeAPI) CreateCluster(_ context.Context, name, link0 string, out func(string)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created, f.link0 = true, link0
	out("TASK OK")
	return nil
}

func fakeNode(api *fakeAPI) *exectest.Fake {
	f := exectest.NewFake()
	f.On(`^pvesh get /cluster/status`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		api.mu.Lock()
		defer api.mu.Unlock()
		if api.created {
			inv.Stdout.Write([]byte(`[{"type":"cluster","name":"TAPPaaS","nodes":1,"quorate":1},{"type":"node","name":"tappaas1","local":1,"online":1}]`))
		} else {
			inv.Stdout.Write([]byte(`[{"type":"node","name":"tappaas1","local":1,"online":1,"nodeid":0}]`))
		}
		return 0, nil
	})
	return f
}

func TestCreateThroughTicketAPI(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{}
	rt := steps.NewRuntime("cluster.create", nil, nil, nil, nil)
	s := &Create{Node: fakeNode(api), Cfg: config.Defaults(), API: api}
	if st, _ := s.Check(context.Background(), rt); st.Done {
		t.Fatal("done before create")
	}
	if err := s.Apply(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	if api.link0 != "10.0.0.10" {
		t.Fatalf("link0 %q, want the management address", api.link0)
	}
	if st, err := s.Check(context.Background(), rt); err != nil || !st.Done {
		t.Fatalf("%+v %v", st, err)
	}
	if name, _ := steps.Get(rt.Facts, FactName); name != "TAPPaaS" {
		t.Fatalf("fact %q", name)
	}
}

func TestCreateRefusesForeignCluster(t *testing.T) {
	t.Parallel()
	f := exectest.NewFake().Reply(`^pvesh get /cluster/status`, `[{"type":"cluster","name":"homelab"}]`, 0)
	_, err := (&Create{Node: f, Cfg: config.Defaults()}).Check(context.Background(), steps.NewRuntime("c", nil, nil, nil, nil))
	if err == nil || !strings.Contains(err.Error(), "homelab") {
		t.Fatalf("got %v", err)
	}
}

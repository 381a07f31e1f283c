package join

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
)

func rt() *steps.Runtime { return steps.NewRuntime("t", nil, nil, nil, nil) }

// joiner fakes a standalone node that joins when pvecm add is given the
// right fingerprint and, on stdin, password.
func joiner(password, fp string) (*exectest.Fake, *bool) {
	f := exectest.NewFake()
	joined := false
	var mu sync.Mutex
	f.On(`^pvesh get /cluster/status --output-format json$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if joined {
			fmt.Fprint(inv.Stdout, `[{"type":"cluster","name":"TAPPaaS","nodes":2},{"type":"node","name":"tappaas1"},{"type":"node","name":"tappaas2","local":1}]`)
		} else {
			fmt.Fprint(inv.Stdout, `[{"type":"node","name":"tappaas2","local":1,"nodeid":0}]`)
		}
		return 0, nil
	})
	// pvecm add reads the password from stdin (one line); it is never in
	// the command line.
	f.On(`^pvecm add (\S+) --fingerprint (\S+) --link0 (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		if inv.Match[2] != fp {
			fmt.Fprintln(inv.Stderr, "500 Permission denied - invalid fingerprint")
			return 255, nil
		}
		line, _ := bufio.NewReader(inv.Stdin).ReadString('\n')
		if strings.TrimSuffix(line, "\n") != password {
			fmt.Fprintln(inv.Stderr, "500 authentication failure")
			return 255, nil
		}
		mu.Lock()
		joined = true
		mu.Unlock()
		return 0, nil
	})
	return f, &joined
}

func cfg() config.Install {
	c := config.Defaults()
	c.Node.Hostname = "tappaas2"
	c.Node.ManagementCIDR = "10.0.0.11/24"
	c.Join.Peer = "10.0.0.10"
	return c
}

const peerFP = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"

func TestJoinLearnsFingerprintAndNeverLogsPassword(t *testing.T) {
	t.Parallel()
	n, joined := joiner("s3cret-peer", peerFP)
	peer := exectest.NewFake().Reply(`^pvesh get /cluster/config/join`, `{"nodelist":[{"name":"tappaas1","pve_fp":"`+peerFP+`","ring0_addr":"10.0.0.10"}],"preferred_node":"tappaas1"}`, 0)
	var lines []string
	r := steps.NewRuntime("join.cluster", nil, nil, nil, func(e steps.Event) {
		if o, ok := e.(steps.Output); ok {
			lines = append(lines, o.Lines...)
		}
	})
	s := &Cluster{Node: n, Cfg: cfg(), Peer: peer, Password: func(context.Context) (string, error) { return "s3cret-peer", nil }}
	if st, _ := s.Check(context.Background(), r); st.Done {
		t.Fatal("done before joining")
	}
	if err := s.Apply(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if !*joined {
		t.Fatal("not joined")
	}
	if st, err := s.Check(context.Background(), r); err != nil || !st.Done {
		t.Fatalf("check: %+v %v", st, err)
	}
	for _, c := range n.Calls() {
		if strings.Contains(c.Script, "s3cret-peer") {
			t.Fatalf("the password is in a command line (argv, readable in ps): %s", c.Script)
		}
	}
	if strings.Contains(strings.Join(lines, "\n"), "s3cret-peer") {
		t.Fatal("the password reached the log")
	}
}

func TestJoinFailureTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  func(*config.Install)
		pw   func(context.Context) (string, error)
		want string
	}{
		{"no peer", func(c *config.Install) { c.Join.Peer = "" }, nil, "join.peer"},
		{"no fingerprint, no peer access", func(c *config.Install) {}, nil, "join.peer_fingerprint"},
		{"no password", func(c *config.Install) { c.Join.PeerFingerprint = peerFP }, nil, "password"},
		{"wrong password", func(c *config.Install) { c.Join.PeerFingerprint = peerFP }, func(context.Context) (string, error) { return "nope", nil }, "authentication failure"},
	}
	for _, c := range cases {
		n, joined := joiner("right", peerFP)
		cf := cfg()
		c.cfg(&cf)
		err := (&Cluster{Node: n, Cfg: cf, Password: c.pw}).Apply(context.Background(), rt())
		if err == nil || !strings.Contains(err.Error(), c.want) || *joined {
			t.Errorf("%s: got %v (joined %v)", c.name, err, *joined)
		}
		if c.name == "no password" && !errors.Is(err, ErrNoPassword) {
			t.Errorf("no password: want ErrNoPassword")
		}
	}
}

func TestJoinRefusesForeignCluster(t *testing.T) {
	t.Parallel()
	n := exectest.NewFake().Reply(`^pvesh get /cluster/status`, `[{"type":"cluster","name":"Other"},{"type":"node","name":"tappaas2"}]`, 0)
	if _, err := (&Cluster{Node: n, Cfg: cfg()}).Check(context.Background(), rt()); err == nil || !strings.Contains(err.Error(), "Other") {
		t.Fatalf("got %v", err)
	}
}

func TestHAIdempotent(t *testing.T) {
	t.Parallel()
	f := exectest.NewFake()
	var mu sync.Mutex
	res := map[string]bool{}
	f.On(`^pvesh get /cluster/ha/resources`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		var parts []string
		for sid := range res {
			parts = append(parts, fmt.Sprintf(`{"sid":%q}`, sid))
		}
		fmt.Fprintf(inv.Stdout, "[%s]", strings.Join(parts, ","))
		return 0, nil
	})
	f.On(`^ha-manager add (\S+) --state started$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		res[inv.Match[1]] = true
		mu.Unlock()
		return 0, nil
	})
	f.Reply(`^pvesr create-local-job`, "", 0)
	s := &HA{Node: f, Hostname: "tappaas2", VMIDs: []int{110, 130}}
	if err := s.Apply(context.Background(), rt()); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Check(context.Background(), rt()); !st.Done {
		t.Fatal("not done")
	}
	n := len(f.Scripts())
	if err := s.Apply(context.Background(), rt()); err != nil {
		t.Fatal(err)
	}
	for _, sc := range f.Scripts()[n:] {
		if strings.HasPrefix(sc, "ha-manager add") {
			t.Fatalf("second Apply re-added: %s", sc)
		}
	}
}

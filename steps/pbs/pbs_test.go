package pbs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
)

// pbsNode fakes proxmox-backup-manager's user/token/acl commands.
func pbsNode() (*exectest.Fake, *int) {
	f := exectest.NewFake()
	var mu sync.Mutex
	users, tokens := map[string]bool{}, map[string]bool{}
	acl := map[string]bool{}
	generated := 0
	f.On(`^proxmox-backup-manager user list --output-format json$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		var p []string
		for u := range users {
			p = append(p, fmt.Sprintf(`{"userid":%q}`, u))
		}
		fmt.Fprintf(inv.Stdout, "[%s]", strings.Join(p, ","))
		return 0, nil
	})
	f.On(`^proxmox-backup-manager user list-tokens \S+ --output-format json$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		var p []string
		for t := range tokens {
			p = append(p, fmt.Sprintf(`{"tokenid":%q}`, t))
		}
		fmt.Fprintf(inv.Stdout, "[%s]", strings.Join(p, ","))
		return 0, nil
	})
	f.On(`^proxmox-backup-manager acl list --output-format json$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		var p []string
		for a := range acl {
			path, id, _ := strings.Cut(a, " ")
			p = append(p, fmt.Sprintf(`{"path":%q,"ugid":%q,"roleid":"DatastoreBackup"}`, path, id))
		}
		fmt.Fprintf(inv.Stdout, "[%s]", strings.Join(p, ","))
		return 0, nil
	})
	f.On(`^proxmox-backup-manager user create (\S+)`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		users[inv.Match[1]] = true
		mu.Unlock()
		return 0, nil
	})
	f.On(`^proxmox-backup-manager user generate-token (\S+) (\S+) --output-format json$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		id := inv.Match[1] + "!" + inv.Match[2]
		if tokens[id] {
			fmt.Fprintln(inv.Stderr, "token already exists")
			return 255, nil
		}
		tokens[id] = true
		generated++
		fmt.Fprintf(inv.Stdout, `{"tokenid":%q,"value":"secret-%d"}`, id, generated)
		return 0, nil
	})
	f.On(`^proxmox-backup-manager user delete-token (\S+) (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		delete(tokens, inv.Match[1]+"!"+inv.Match[2])
		for a := range acl {
			if strings.HasSuffix(a, " "+inv.Match[1]+"!"+inv.Match[2]) {
				delete(acl, a)
			}
		}
		mu.Unlock()
		return 0, nil
	})
	f.On(`^proxmox-backup-manager acl update (\S+) DatastoreBackup --auth-id (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		acl[inv.Match[1]+" "+strings.Trim(inv.Match[2], "'")] = true
		mu.Unlock()
		return 0, nil
	})
	return f, &generated
}

func TestUserTokenIdempotentAndSecretKept(t *testing.T) {
	t.Parallel()
	f, gen := pbsNode()
	cfg := config.Defaults()
	rt := steps.NewRuntime("pbs.user", nil, nil, nil, nil)
	s := &UserToken{Node: f, Cfg: cfg}
	ctx := context.Background()
	if err := s.Apply(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if v, ok := rt.Secrets.Secret(SecretToken); !ok || v != "secret-1" {
		t.Fatalf("secret %q %v", v, ok)
	}
	if st, err := s.Check(ctx, rt); err != nil || !st.Done {
		t.Fatalf("check: %+v %v", st, err)
	}
	for _, c := range f.Calls() {
		if strings.Contains(c.Script, "generate-token") && !c.Secret {
			t.Fatal("the token generation's output must be treated as secret")
		}
	}
	if err := s.Apply(ctx, rt); err != nil || *gen != 1 {
		t.Fatalf("second Apply: %v, generated %d", err, *gen)
	}
}

func TestUserTokenRecreatedWhenSecretLost(t *testing.T) {
	t.Parallel()
	f, gen := pbsNode()
	cfg := config.Defaults()
	ctx := context.Background()
	if err := (&UserToken{Node: f, Cfg: cfg}).Apply(ctx, steps.NewRuntime("pbs.user", nil, nil, nil, nil)); err != nil {
		t.Fatal(err)
	}
	// A new runtime: the secrets file was lost.
	rt := steps.NewRuntime("pbs.user", nil, nil, nil, nil)
	s := &UserToken{Node: f, Cfg: cfg}
	if st, _ := s.Check(ctx, rt); st.Done || !strings.Contains(st.Detail, "secret") {
		t.Fatalf("check: %+v", st)
	}
	if err := s.Apply(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if *gen != 2 {
		t.Fatalf("generated %d tokens, want 2", *gen)
	}
	if st, _ := s.Check(ctx, rt); !st.Done {
		t.Fatalf("not done: %+v", st)
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	fp := strings.TrimSuffix(strings.Repeat("ab:", 32), ":")
	f := exectest.NewFake().Reply(`^proxmox-backup-manager cert info$`, "Subject: CN=x\nFingerprint (sha256): "+fp+"\n", 0)
	got, err := Fingerprint(context.Background(), f)
	if err != nil || got != strings.ToUpper(fp) {
		t.Fatalf("%q %v", got, err)
	}
	f2 := exectest.NewFake().Reply(`^proxmox-backup-manager cert info$`, "nothing", 0)
	if _, err := Fingerprint(context.Background(), f2); err == nil {
		t.Fatal("accepted output without a fingerprint")
	}
}

package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/steps"
)

func rt() *steps.Runtime { return steps.NewRuntime("t", nil, nil, nil, nil) }

// aptFake emulates dpkg-query/apt-get with an installed set.
func aptFake(installed map[string]bool, updateFails bool) *exectest.Fake {
	f := exectest.NewFake()
	var mu sync.Mutex
	f.On(`^dpkg-query`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, w := range strings.Fields(inv.Cmd.Script)[3:] {
			if installed[w] {
				fmt.Fprintf(inv.Stdout, "%s install ok installed\n", w)
			}
		}
		return 0, nil
	})
	f.On(`apt-get update`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		if updateFails {
			io.WriteString(inv.Stderr, "E: Failed to fetch http://download.proxmox.com/debian/pve")
			return 100, nil
		}
		return 0, nil
	})
	f.On(`apt-get install`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, w := range strings.Fields(inv.Cmd.Script) {
			if !strings.HasPrefix(w, "-") && w != "install" && !strings.Contains(w, "=") && w != "apt-get" {
				installed[w] = true
			}
		}
		return 0, nil
	})
	return f
}

func countMatching(f *exectest.Fake, pat string) int {
	re := regexp.MustCompile(pat)
	n := 0
	for _, s := range f.Scripts() {
		if re.MatchString(s) {
			n++
		}
	}
	return n
}

func TestPackagesIdempotent(t *testing.T) {
	t.Parallel()
	f := aptFake(map[string]bool{"curl": true}, false)
	s := &Packages{Node: f}
	ctx := context.Background()
	if st, err := s.Check(ctx, rt()); err != nil || st.Done {
		t.Fatalf("before: %+v %v", st, err)
	}
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Check(ctx, rt()); err != nil || !st.Done {
		t.Fatalf("after: %+v %v", st, err)
	}
	installs := countMatching(f, `apt-get install`)
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if countMatching(f, `apt-get install`) != installs {
		t.Fatal("second Apply installed again")
	}
}

func TestPackagesUpdateFailureNamesFix(t *testing.T) {
	t.Parallel()
	f := aptFake(map[string]bool{}, true)
	err := (&Packages{Node: f}).Apply(context.Background(), rt())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "DNS and internet") {
		t.Fatalf("want an ExitError with a fix, got %v", err)
	}
}

func TestReposIdempotentAndRemovesLegacy(t *testing.T) {
	t.Parallel()
	f := exectest.NewFake()
	f.SetFile(EnterpriseList, []byte("deb https://enterprise.proxmox.com/debian/pve trixie pve-enterprise\n"), 0o644)
	f.On(`^rm -f `, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		inv.Fake.RemoveFile(strings.Fields(inv.Cmd.Script)[2])
		return 0, nil
	})
	s := &Repos{Node: f}
	ctx := context.Background()
	st, err := s.Check(ctx, rt())
	if err != nil || st.Done || !strings.Contains(st.Detail, EnterpriseList) {
		t.Fatalf("before: %+v %v", st, err)
	}
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Check(ctx, rt()); err != nil || !st.Done {
		t.Fatalf("after: %+v %v", st, err)
	}
	b, _, _ := f.File(ProxmoxSources)
	if !strings.Contains(string(b), "pve-no-subscription") || !strings.Contains(string(b), "Enabled: true") {
		t.Fatalf("proxmox.sources: %s", b)
	}
	b, _, _ = f.File(EnterpriseSources)
	if !strings.Contains(string(b), "Enabled: false") {
		t.Fatalf("enterprise not disabled: %s", b)
	}
}

func TestSnippetsKeepsContent(t *testing.T) {
	t.Parallel()
	content := "iso,vztmpl,backup,import"
	f := exectest.NewFake()
	f.On(`^pvesh get /storage/local`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		fmt.Fprintf(inv.Stdout, `{"storage":"local","content":%q}`, content)
		return 0, nil
	})
	f.On(`^pvesm set local --content (\S+)`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		content = inv.Match[1]
		return 0, nil
	})
	s := &Snippets{Node: f}
	if err := s.Apply(context.Background(), rt()); err != nil {
		t.Fatal(err)
	}
	if content != "iso,vztmpl,backup,import,snippets" {
		t.Fatalf("content = %q", content)
	}
	if st, _ := s.Check(context.Background(), rt()); !st.Done {
		t.Fatal("not done after apply")
	}
	n := len(f.Scripts())
	if err := s.Apply(context.Background(), rt()); err != nil {
		t.Fatal(err)
	}
	if countMatching(f, `pvesm set`) != 1 || len(f.Scripts()) != n+1 {
		t.Fatalf("second Apply changed something: %v", f.Scripts()[n:])
	}
}

func TestCancellationStopsCommand(t *testing.T) {
	t.Parallel()
	f := exectest.NewFake()
	f.On(`apt-get install`, func(ctx context.Context, _ *exectest.Invocation) (int, error) {
		<-ctx.Done()
		return -1, ctx.Err()
	})
	f.Reply(`dpkg-query`, "", 0).Reply(`apt-get update`, "", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := (&Packages{Node: f}).Apply(ctx, rt())
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Fatalf("want a context error, got %v", err)
	}
}

func TestConnectionLostIsRetryable(t *testing.T) {
	t.Parallel()
	f := exectest.NewFake().Fail(`apt-get update`, fmt.Errorf("session: %w", exec.ErrConnectionLost))
	err := (&Packages{Node: f}).Apply(context.Background(), rt())
	if !steps.Retryable(err) {
		t.Fatalf("want retryable, got %v", err)
	}
}

func TestPollDeadlineSaysWhat(t *testing.T) {
	t.Parallel()
	err := Poll(context.Background(), nil, "the moon", 30*time.Millisecond, 10*time.Millisecond, func(context.Context) (bool, error) {
		return false, errors.New("not yet")
	})
	if err == nil || !strings.Contains(err.Error(), "the moon") || !strings.Contains(err.Error(), "not yet") {
		t.Fatalf("got %v", err)
	}
}

type fatalErr struct{}

func (fatalErr) Error() string { return "host key changed" }
func (fatalErr) Fatal() bool   { return true }

// A fatal error ends the wait at once: the condition is asked once, not
// until the (here hour-long) deadline.
func TestPollStopsOnFatal(t *testing.T) {
	t.Parallel()
	calls := 0
	err := Poll(context.Background(), nil, "SSH on cicd", time.Hour, time.Millisecond, func(context.Context) (bool, error) {
		calls++
		return false, steps.MarkRetryable(fmt.Errorf("ssh: %w", fatalErr{}))
	})
	if !steps.Fatal(err) || calls != 1 {
		t.Fatalf("after %d calls: %v", calls, err)
	}
}

// A spent budget (negative timeout) still asks once and never prints a
// negative duration.
func TestPollWithNoTimeLeft(t *testing.T) {
	t.Parallel()
	calls := 0
	err := Poll(context.Background(), nil, "the node", -3*time.Second, time.Millisecond, func(context.Context) (bool, error) {
		calls++
		return false, errors.New("not yet")
	})
	if err == nil || calls != 1 || strings.Contains(err.Error(), "-3s") || !strings.Contains(err.Error(), "no time was left waiting for the node") {
		t.Fatalf("after %d calls: %v", calls, err)
	}
}

// PVE's "busy, nothing changed" failures are retried; its permanent ones
// are not.
func TestTransientPVEFailures(t *testing.T) {
	t.Parallel()
	for stderr, want := range map[string]bool{
		"trying to acquire lock...\ncan't lock file '/var/lock/qemu-server/lock-110.conf' - got timeout": true,
		"cfs-lock 'file-storage_cfg' error: got lock request timeout":                                    true,
		"ipcc_send_rec[1] failed: Connection refused":                                                    true,
		"596 Connection timed out":                                                                       true,
		"503 Service Unavailable":                                                                        true,
		"500 unable to create VM 110 - VM 110 already exists on node 'tappaas1'":                         false,
		"400 Parameter verification failed.\nstorage: property is missing":                               false,
		"command 'zpool create' failed: exit code 1":                                                     false,
	} {
		f := exectest.NewFake()
		f.On(`^qm create 110`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
			fmt.Fprintln(inv.Stderr, stderr)
			return 255, nil
		})
		_, err := Run(context.Background(), nil, f, "qm create 110")
		if err == nil || steps.Retryable(err) != want {
			t.Errorf("%q: retryable %v, want %v (%v)", stderr, steps.Retryable(err), want, err)
		}
		// A test command that failed for such a reason is not "false".
		f.On(`^qm status 110`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
			fmt.Fprintln(inv.Stderr, stderr)
			return 255, nil
		})
		ok, qerr := QueryOK(context.Background(), f, "qm status 110")
		if want && (ok || !steps.Retryable(qerr)) {
			t.Errorf("%q: QueryOK = %v, %v; want a retryable error", stderr, ok, qerr)
		}
		if !want && (ok || qerr != nil) {
			t.Errorf("%q: QueryOK = %v, %v; want false", stderr, ok, qerr)
		}
	}
}

// A file the connecting user may not read or write is an error that says
// what to do, not "not there".
func TestReadWritePermissionDenied(t *testing.T) {
	t.Parallel()
	f := exectest.NewFake()
	f.On(`.`, func(context.Context, *exectest.Invocation) (int, error) { return 0, nil })
	e := permDenied{f}
	if _, ok, err := ReadFile(context.Background(), e, "/home/tappaas/.ssh/id_ed25519"); ok || !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "chown") {
		t.Fatalf("read: %v %v", ok, err)
	}
	if err := Write(context.Background(), e, "/home/tappaas/config/configuration.json", nil, 0o644); !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "chown") {
		t.Fatalf("write: %v", err)
	}
}

// permDenied refuses every file as a kernel refuses another user's.
type permDenied struct{ *exectest.Fake }

func (permDenied) ReadFile(_ context.Context, p string) ([]byte, error) {
	return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
}

func (permDenied) WriteFile(_ context.Context, p string, _ []byte, _ fs.FileMode) error {
	return &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
}

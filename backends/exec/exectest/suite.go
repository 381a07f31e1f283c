// Package exectest holds the conformance suite every exec.Executor — real
// or fake — must pass (Run), and Fake, the in-memory scripted executor for
// step unit tests. Running the same suite against Local, the SSH client on a
// real sshd and Fake keeps the fake honest.
package exectest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
)

// The suite's scripts; SuiteFake emulates exactly these.
const (
	scriptEcho    = `echo hello; echo world >&2`
	scriptExit    = `echo oops >&2; exit 3`
	scriptFalse   = `false`
	scriptStream  = `echo one; sleep 1; echo two`
	scriptCat     = `cat`
	scriptEnv     = `printf '%s' "$TAPPAAS_T1"`
	scriptSleep   = `sleep 30`
	scriptSecret  = `: tappaas-secret-marker; exit 2`
	scriptMany    = `seq 1 200000`
	scriptPartial = `printf 'no newline'`
	scriptMode    = `stat -c %a `
	envValue      = `it's "$HOME" & $(more)`
)

// Run runs the conformance suite against executors made by newExec (called
// once per subtest). Files are written below t.TempDir(), which must be
// reachable on the target (true for Local and for SSH to localhost).
func Run(t *testing.T, newExec func(t *testing.T) exec.Executor) {
	t.Helper()
	ctx := context.Background()
	t.Run("OutputAndStreams", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		var outs, errs []string
		var mu sync.Mutex
		res, err := e.Run(ctx, exec.Cmd{Script: scriptEcho,
			Stdout: func(l string) { mu.Lock(); outs = append(outs, l); mu.Unlock() },
			Stderr: func(l string) { mu.Lock(); errs = append(errs, l); mu.Unlock() }})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if res.Stdout != "hello\n" || res.Stderr != "world\n" || res.Code != 0 {
			t.Fatalf("result = %+v", res)
		}
		if fmt.Sprint(outs) != "[hello]" || fmt.Sprint(errs) != "[world]" {
			t.Fatalf("callbacks got %q / %q", outs, errs)
		}
		if e.Target() == "" {
			t.Fatal("empty Target")
		}
	})
	t.Run("ExitCode", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		res, err := e.Run(ctx, exec.Cmd{Script: scriptExit})
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("want *ExitError, got %v", err)
		}
		if ee.Code != 3 || res.Code != 3 || !strings.Contains(ee.Stderr, "oops") || ee.Cmd != scriptExit {
			t.Fatalf("ExitError = %+v, res.Code %d", ee, res.Code)
		}
		if !strings.Contains(err.Error(), "exited 3") || !strings.Contains(err.Error(), "oops") {
			t.Fatalf("error text %q", err)
		}
		_, err = e.Run(ctx, exec.Cmd{Script: scriptFalse})
		if !errors.As(err, &ee) || ee.Code != 1 {
			t.Fatalf("false: %v", err)
		}
	})
	t.Run("PartialLine", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		var got []string
		res, err := e.Run(ctx, exec.Cmd{Script: scriptPartial, Stdout: func(l string) { got = append(got, l) }})
		if err != nil || res.Stdout != "no newline" || fmt.Sprint(got) != "[no newline]" {
			t.Fatalf("res %+v err %v lines %q", res, err, got)
		}
	})
	t.Run("Streaming", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		var first time.Time
		var mu sync.Mutex
		_, err := e.Run(ctx, exec.Cmd{Script: scriptStream, Stdout: func(l string) {
			mu.Lock()
			defer mu.Unlock()
			if l == "one" {
				first = time.Now()
			}
		}})
		done := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if first.IsZero() {
			t.Fatal("line one never delivered")
		}
		// "one" is printed a second before the command ends: it must have
		// been delivered while the command still ran, not at the end.
		if done.Sub(first) < 500*time.Millisecond {
			t.Fatalf("line delivered only %s before the end: not streamed", done.Sub(first))
		}
	})
	t.Run("Stdin", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		in := "line a\nline b\n" + strings.Repeat("x", 100000) + "\n"
		res, err := e.Run(ctx, exec.Cmd{Script: scriptCat, Stdin: strings.NewReader(in)})
		if err != nil || res.Stdout != in {
			t.Fatalf("cat: err %v, got %d bytes want %d", err, len(res.Stdout), len(in))
		}
	})
	t.Run("Env", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		res, err := e.Run(ctx, exec.Cmd{Script: scriptEnv, Env: map[string]string{"TAPPAAS_T1": envValue}})
		if err != nil || res.Stdout != envValue {
			t.Fatalf("env: err %v, got %q", err, res.Stdout)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		start := time.Now()
		_, err := e.Run(ctx, exec.Cmd{Script: scriptSleep, Timeout: 300 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want DeadlineExceeded, got %v", err)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("timeout took %s", d)
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(300*time.Millisecond, cancel)
		_, err := e.Run(cctx, exec.Cmd{Script: scriptSleep})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want Canceled, got %v", err)
		}
		_, err = e.Run(cctx, exec.Cmd{Script: scriptEcho})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run on a cancelled ctx: want Canceled, got %v", err)
		}
	})
	t.Run("Secret", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		_, err := e.Run(ctx, exec.Cmd{Script: scriptSecret, Secret: true})
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Code != 2 {
			t.Fatalf("want exit 2, got %v", err)
		}
		if strings.Contains(err.Error(), "tappaas-secret-marker") || ee.Cmd != "(secret)" {
			t.Fatalf("secret leaked: %v", err)
		}
	})
	t.Run("CappedOutput", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		n := 0
		res, err := e.Run(ctx, exec.Cmd{Script: scriptMany, Stdout: func(string) { n++ }})
		if err != nil {
			t.Fatal(err)
		}
		if n != 200000 {
			t.Fatalf("callback saw %d lines, want 200000", n)
		}
		if len(res.Stdout) > exec.DefaultMaxOutput || !strings.HasSuffix(res.Stdout, "\n199999\n200000\n") {
			t.Fatalf("capture: %d bytes, tail %q", len(res.Stdout), res.Stdout[max(0, len(res.Stdout)-20):])
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := "n" + strconv.Itoa(i)
				res, err := e.Run(ctx, exec.Cmd{Script: scriptCat, Stdin: strings.NewReader(in)})
				if err == nil && res.Stdout != in {
					err = fmt.Errorf("got %q want %q", res.Stdout, in)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("Files", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		dir := t.TempDir()
		name := path.Join(dir, "a", "b", "file.txt")
		if _, err := e.ReadFile(ctx, name); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("missing file: want ErrNotExist, got %v", err)
		}
		data := []byte("first\x00binary\nline\n")
		if err := e.WriteFile(ctx, name, data, 0o640); err != nil {
			t.Fatalf("WriteFile: %v", err)
		}
		got, err := e.ReadFile(ctx, name)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadFile = %q, %v", got, err)
		}
		res, err := e.Run(ctx, exec.Cmd{Script: scriptMode + exec.Quote(name)})
		if err != nil || strings.TrimSpace(res.Stdout) != "640" {
			t.Fatalf("mode: %q %v", res.Stdout, err)
		}
		if err := e.WriteFile(ctx, name, []byte("second"), 0o600); err != nil {
			t.Fatal(err)
		}
		got, _ = e.ReadFile(ctx, name)
		res, _ = e.Run(ctx, exec.Cmd{Script: scriptMode + exec.Quote(name)})
		if string(got) != "second" || strings.TrimSpace(res.Stdout) != "600" {
			t.Fatalf("overwrite: %q mode %q", got, res.Stdout)
		}
		empty := path.Join(dir, "empty")
		if err := e.WriteFile(ctx, empty, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := e.ReadFile(ctx, empty); err != nil || len(got) != 0 {
			t.Fatalf("empty file: %q %v", got, err)
		}
	})
	t.Run("AtomicWrite", func(t *testing.T) {
		t.Parallel()
		e := newExec(t)
		name := path.Join(t.TempDir(), "state.json")
		a := bytes.Repeat([]byte("a"), 256<<10)
		b := bytes.Repeat([]byte("b"), 200<<10)
		if err := e.WriteFile(ctx, name, a, 0o600); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		readErr := make(chan error, 1)
		go func() {
			defer close(readErr)
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := e.ReadFile(ctx, name)
				if err != nil {
					readErr <- err
					return
				}
				if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
					readErr <- fmt.Errorf("torn read: %d bytes", len(got))
					return
				}
			}
		}()
		for i := range 6 {
			d := a
			if i%2 == 0 {
				d = b
			}
			if err := e.WriteFile(ctx, name, d, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		close(stop)
		if err := <-readErr; err != nil {
			t.Fatal(err)
		}
		// A cancelled write leaves the old content.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := e.WriteFile(cctx, name, []byte("never"), 0o600); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled write: %v", err)
		}
		if got, _ := e.ReadFile(ctx, name); !bytes.Equal(got, b) && !bytes.Equal(got, a) {
			t.Fatalf("content after cancelled write: %d bytes", len(got))
		}
	})
}

// SuiteFake returns a Fake scripted to emulate the suite's commands, so the
// suite can run against it (exectest's own tests do).
func SuiteFake() *Fake {
	f := NewFake()
	f.On(`^`+quoteMeta(scriptEcho)+`$`, func(_ context.Context, inv *Invocation) (int, error) {
		io.WriteString(inv.Stdout, "hello\n")
		io.WriteString(inv.Stderr, "world\n")
		return 0, nil
	})
	f.On(`^`+quoteMeta(scriptExit)+`$`, func(_ context.Context, inv *Invocation) (int, error) {
		io.WriteString(inv.Stderr, "oops\n")
		return 3, nil
	})
	f.Reply(`^false$`, "", 1)
	f.On(`^`+quoteMeta(scriptStream)+`$`, func(ctx context.Context, inv *Invocation) (int, error) {
		io.WriteString(inv.Stdout, "one\n")
		if !sleepCtx(ctx, time.Second) {
			return -1, nil
		}
		io.WriteString(inv.Stdout, "two\n")
		return 0, nil
	})
	f.On(`^cat$`, func(_ context.Context, inv *Invocation) (int, error) {
		_, err := io.Copy(inv.Stdout, inv.Stdin)
		return 0, err
	})
	f.On(`^`+quoteMeta(scriptEnv)+`$`, func(_ context.Context, inv *Invocation) (int, error) {
		io.WriteString(inv.Stdout, inv.Cmd.Env["TAPPAAS_T1"])
		return 0, nil
	})
	f.On(`^sleep (\d+)$`, func(ctx context.Context, inv *Invocation) (int, error) {
		n, _ := strconv.Atoi(inv.Match[1])
		if !sleepCtx(ctx, time.Duration(n)*time.Second) {
			return -1, nil
		}
		return 0, nil
	})
	f.Reply(`^`+quoteMeta(scriptSecret)+`$`, "", 2)
	f.On(`^seq 1 (\d+)$`, func(_ context.Context, inv *Invocation) (int, error) {
		n, _ := strconv.Atoi(inv.Match[1])
		var b bytes.Buffer
		for i := 1; i <= n; i++ {
			b.WriteString(strconv.Itoa(i))
			b.WriteByte('\n')
		}
		_, err := inv.Stdout.Write(b.Bytes())
		return 0, err
	})
	f.Reply(`^`+quoteMeta(scriptPartial)+`$`, "no newline", 0)
	f.On(`^stat -c %a '?([^']+)'?$`, func(_ context.Context, inv *Invocation) (int, error) {
		_, mode, ok := inv.Fake.File(inv.Match[1])
		if !ok {
			fmt.Fprintf(inv.Stderr, "stat: cannot statx '%s': No such file or directory\n", inv.Match[1])
			return 1, nil
		}
		fmt.Fprintf(inv.Stdout, "%o\n", mode.Perm())
		return 0, nil
	})
	return f
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func quoteMeta(s string) string { return regexp.QuoteMeta(s) }

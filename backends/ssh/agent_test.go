package ssh

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tappaas/tappaas/backends/exec"
)

// readFrame finds the end marker wherever it is (after a partial line,
// after a lone \x1e, split across reads) and leaves what follows it.
func TestReadFrame(t *testing.T) {
	t.Parallel()
	const tok = "\x1e0123456789abcdef "
	for _, tc := range []struct {
		name, in, out, rest string
		code                int
	}{
		{"plain", "hi\n" + tok + "0\n", "hi\n", "", 0},
		{"no newline", "no newline" + tok + "3\n", "no newline", "", 3},
		{"empty", tok + "127\n", "", "", 127},
		{"record separators in output", "a\x1eb\x1e0123" + tok + "1\n", "a\x1eb\x1e0123", "", 1},
		{"next frame stays", "x" + tok + "0\nnext", "x", "next", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := bufio.NewReaderSize(iotestOneByte(strings.NewReader(tc.in)), 64)
			var out bytes.Buffer
			code, err := readFrame(r, tok, &out, true)
			rest, _ := io.ReadAll(r)
			if err != nil || code != tc.code || out.String() != tc.out || string(rest) != tc.rest {
				t.Fatalf("code %d err %v out %q rest %q; want %d %q %q", code, err, out.String(), rest, tc.code, tc.out, tc.rest)
			}
		})
	}
	// A stream that ends inside a marker or without one is an error.
	for _, in := range []string{"out" + tok[:5], "out"} {
		if _, err := readFrame(bufio.NewReader(strings.NewReader(in)), tok, io.Discard, true); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// oneByte reads one byte at a time (every read may split a marker).
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func iotestOneByte(r io.Reader) io.Reader { return oneByte{r} }

// Commands without stdin share one persistent session: 100 commands cost
// one exec request (plus the probe's), each with its own exit code, stdout
// and stderr; a command with stdin gets a session of its own.
func TestPersistentShellReused(t *testing.T) {
	t.Parallel()
	var execs atomic.Int64
	cfg := probeServer(t, func(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) int {
		execs.Add(1)
		return realSh(ctx, command, stdin, stdout, stderr)
	})
	ctx := context.Background()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if !c.Persistent() {
		t.Fatal("no persistent shell")
	}
	before := execs.Load()
	for i := range 100 {
		res, err := c.Run(ctx, exec.Cmd{Script: "echo out; echo err >&2; cd /; x=1; exit " + strings.Repeat("1", i%2)})
		if i%2 == 0 && (err != nil || res.Code != 0) || i%2 == 1 && res.Code != 1 || res.Stdout != "out\n" || res.Stderr != "err\n" {
			t.Fatalf("command %d: %+v %v", i, res, err)
		}
	}
	// Each command starts afresh: no variable or directory of the last.
	res, err := c.Run(ctx, exec.Cmd{Script: `printf '%s|%s|%s|%s' "${x-unset}" "${t-unset}" "${c-unset}" "$(pwd)"`})
	if err != nil || !strings.HasPrefix(res.Stdout, "unset|unset|unset|") || strings.HasSuffix(res.Stdout, "|/") {
		t.Fatalf("state leaked between commands: %q %v", res.Stdout, err)
	}
	if n := execs.Load() - before; n != 0 {
		t.Fatalf("%d exec requests for 101 commands on an open persistent shell, want 0", n)
	}
	_, _ = c.Run(ctx, exec.Cmd{Script: "cat", Stdin: strings.NewReader("in")}) // (this test server's exit status waits for the watchdog)
	if n := execs.Load() - before; n != 1 {
		t.Fatalf("%d exec requests after a command with stdin, want 1", n)
	}
}

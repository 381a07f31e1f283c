package sshd_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/internal/syncbuf"
)

// The product's SSH executor (backends/ssh/run.go buildScript) wraps every
// command in a POSIX-sh watchdog that reads the session's stdin on fd 3
// and kills the process group when the session goes away. These tests
// send those exact command shapes to the lab shell over SSH, so the lab
// is a faithful target for the product's executor.

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

const watchdog = `( { while read -r _ <&3; do :; done; kill -0 $$ && kill -KILL 0; } >/dev/null 2>&1 & )`

func wrapNoStdin(inner string) string {
	return "exec /bin/sh -c " + shQuote("exec 3<&0 </dev/null; "+watchdog+"; exec 3<&-\n"+inner)
}

func wrapStdin(inner string, n int) string {
	return "exec /bin/sh -c " + shQuote("exec 3<&0 </dev/null; { head -c "+strconv.Itoa(n)+" <&3; exec >&-; "+watchdog+"; } 2>/dev/null | {\n"+inner+"\n}")
}

// runHeld runs cmd keeping the session's stdin open (after writing data)
// until the command exits, like the executor does.
func runHeld(t *testing.T, c *gossh.Client, cmd string, data []byte) (string, string, error) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb syncbuf.Buffer
	s.Stdout, s.Stderr = &out, &errb
	w, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 {
		go w.Write(data)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("command did not finish with stdin held open: %q", cmd)
	}
	return out.String(), errb.String(), err
}

func TestExecutorWatchdogProbe(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t)
	out, errs, err := runHeld(t, c, wrapNoStdin("id -u"), nil)
	if err != nil || out != "0\n" || errs != "" {
		t.Fatalf("probe: out %q err %q: %v", out, errs, err)
	}
	// Exit statuses pass through the wrapper.
	if _, _, err := runHeld(t, c, wrapNoStdin("export A=1; test \"$A\" = 1 && exit 7"), nil); exitCode(err) != 7 {
		t.Fatalf("status through wrapper: %v", err)
	}
	// No background goroutine keeps a finished session's shell alive.
	waitFor(t, func() bool { return f.srv.Open() == 1 })
}

func TestExecutorWriteFileShape(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t)
	data := []byte("key=abc\nsecret=def\n")
	sum := sha256.Sum256(data)
	p, tmp := "/root/.opnsense-credentials.txt", "/root/..opnsense-credentials.txt.tmp-1a2b"
	check := hex.EncodeToString(sum[:]) + "  " + tmp
	inner := "mkdir -p " + shQuote("/root") +
		" && umask 077 && cat > " + shQuote(tmp) +
		" && printf '%s\\n' " + shQuote(check) + " | sha256sum -c --status" +
		" && chmod 0600 " + shQuote(tmp) +
		" && { sync " + shQuote(tmp) + " 2>/dev/null || :; }" +
		" && mv -f " + shQuote(tmp) + " " + shQuote(p) +
		" || { rm -f " + shQuote(tmp) + "; exit 1; }"
	if out, errs, err := runHeld(t, c, wrapStdin(inner, len(data)), data); err != nil {
		t.Fatalf("write: %v out %q err %q", err, out, errs)
	}
	got, err := f.fs.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("written %q %v", got, err)
	}
	if fi, _ := f.fs.Stat(p); fi.Mode.Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode)
	}
	if _, err := f.fs.Stat(tmp); err == nil {
		t.Fatal("temp file left behind")
	}
	// A corrupted transfer fails the checksum and leaves nothing behind.
	bad := strings.Replace(inner, hex.EncodeToString(sum[:]), strings.Repeat("0", 64), 1)
	if _, _, err := runHeld(t, c, wrapStdin(bad, len(data)), data); exitCode(err) != 1 {
		t.Fatalf("bad checksum: %v", err)
	}
	if _, err := f.fs.Stat(tmp); err == nil {
		t.Fatal("temp file left behind after a failed check")
	}
	// ReadFile's shape.
	if out, _, err := runHeld(t, c, wrapNoStdin("cat "+shQuote(p)), nil); err != nil || out != string(data) {
		t.Fatalf("read: %q %v", out, err)
	}
	if _, errs, err := runHeld(t, c, wrapNoStdin("cat "+shQuote("/nope")), nil); exitCode(err) != 1 || !strings.Contains(errs, "No such file or directory") {
		t.Fatalf("read missing: %q %v", errs, err)
	}
}

func TestExecutorCancelKillsWrappedCommand(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	s.Stdout = &out
	w, _ := s.StdinPipe()
	defer w.Close()
	if err := s.Start(wrapNoStdin("echo started; sleep 30; touch /tmp/after")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return out.String() == "started\n" })
	// The executor's cancellation: SIGKILL, then close the session.
	_ = s.Signal(gossh.SIGKILL)
	s.Close()
	time.Sleep(50 * time.Millisecond)
	if _, err := f.fs.Stat("/tmp/after"); err == nil {
		t.Fatal("the command survived cancellation")
	}
}

func TestKillOwnGroup(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t)
	// The watchdog's action when the session ends early: kill -KILL 0.
	out, _, err := runCmd(t, c, "echo before; kill -KILL 0; echo after", "")
	if out != "before\n" || exitCode(err) != 137 {
		t.Fatalf("out %q err %v", out, err)
	}
	if out, _, err := runCmd(t, c, "kill -0 $$ && echo alive; kill -0 99999; echo $?", ""); err != nil || out != "alive\n1\n" {
		t.Fatalf("kill -0: %q %v", out, err)
	}
}

package tui_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// The accessible mode through a real pseudo-terminal, as a screen-reader
// user on a Linux console or over SSH meets it: the shipped binary against
// the in-process lab, answered line by line. Every wait looks for text the
// program printed (no sleeps decide an outcome) with deadlines generous
// enough for a loaded 2-core machine.

// ptyRun is one run of the binary on a pty.
type ptyRun struct {
	t    *testing.T
	f    *os.File // the master: what the operator types and reads
	tty  *os.File // the slave: the program's terminal
	cmd  *exec.Cmd
	mu   sync.Mutex
	buf  bytes.Buffer
	seen int // waits look from here on
	read chan struct{}
	code int
	// cooked is true when the program left its terminal in canonical
	// mode with echo (read after it exited).
	cooked bool
}

func startPTY(t *testing.T, dir string, args ...string) *ptyRun {
	t.Helper()
	bin, err := buildBinary("")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	// A terminal that could show colour: accessible mode still must not.
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "COLORTERM=truecolor")
	// The terminal's slave side stays open here too, so its modes can be
	// read after the program exits.
	f, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(f, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		t.Fatal(err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &ptyRun{t: t, f: f, tty: tty, cmd: cmd, read: make(chan struct{})}
	go func() {
		defer close(r.read)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			r.mu.Lock()
			r.buf.Write(b[:n])
			r.mu.Unlock()
			if err != nil {
				return // EIO once the program and its terminal are gone
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		tty.Close()
		f.Close()
	})
	return r
}

func (r *ptyRun) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// expect waits until the output after the last match holds want.
func (r *ptyRun) expect(want string, timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := r.text()
		if i := strings.Index(s[r.seen:], want); i >= 0 {
			r.seen += i + len(want)
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no %q within %s; the output so far:\n%s", want, timeout, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answer waits for a prompt holding want, then types the answer and Enter.
func (r *ptyRun) answer(want, answer string) {
	r.t.Helper()
	r.expect(want, 60*time.Second)
	if _, err := r.f.Write([]byte(answer + "\r")); err != nil {
		r.t.Fatal(err)
	}
}

// exit waits for the program to end and returns its exit code and the
// whole transcript.
func (r *ptyRun) exit(timeout time.Duration) (int, string) {
	r.t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			r.t.Fatal(err)
		}
		r.code = r.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		_ = r.cmd.Process.Kill()
		r.t.Fatalf("still running after %s:\n%s", timeout, r.text())
	}
	tm, err := unix.IoctlGetTermios(int(r.tty.Fd()), unix.TCGETS)
	if err != nil {
		r.t.Fatal(err)
	}
	r.cooked = tm.Lflag&unix.ECHO != 0 && tm.Lflag&unix.ICANON != 0
	r.tty.Close() // the reader now ends with EIO
	select {
	case <-r.read:
	case <-time.After(30 * time.Second):
		r.t.Fatalf("the terminal did not close after the exit:\n%s", r.text())
	}
	return r.code, r.text()
}

// outcomeRe is the one line every exit prints.
var outcomeRe = regexp.MustCompile(`(?m)^tappaas: .*; log: [^\r\n]*`)

// installByLines answers the install questions, defaults where they exist.
func installByLines(r *ptyRun) {
	r.answer("Main menu. What do you want to do?", "")
	r.answer("Public domain", "example.org")
	r.answer("Administrator e-mail", "admin@example.org")
	r.answer("Hostname [tappaas1]:", "")
	r.answer("Management address, on the lan bridge in 10.0.0.0/24 [10.0.0.10/24]:", "")
	r.answer("WAN port, to your router", "")
	r.answer("LAN port, trunk to your switch", "")
	r.answer("Disks for the storage pool", "")
	r.answer("Pool layout", "")
	r.answer("To confirm, type WIPE sdb:", "WIPE sdb")
	r.answer("Firewall root password", "") // generate one
	r.answer("TAPPaaS branch [main]:", "")
	r.answer("tappaas-cicd size", "")
	r.answer("Run the plan now?", "")
}

func checkPlain(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape sequences (colour or cursor movement) in accessible mode:\n%q", out)
	}
}

// TestPTYAccessibleInstallToDone: install to done line by line; the
// generated password is shown once (a terminal), with the command that
// reads it later; exit 0 and the one line.
func TestPTYAccessibleInstallToDone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Cleanup(func() { waitGone(t, dir) })
	r := startPTY(t, dir, "--accessible", "--lab", "--lab-dir", filepath.Join(dir, "lab"), "--log-file", filepath.Join(dir, "tappaas.log"))
	installByLines(r)
	r.expect("Started step 1 of ", 120*time.Second)
	code, out := r.exit(5 * time.Minute)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	if !r.cooked {
		t.Errorf("the terminal was left without echo or canonical mode")
	}
	checkPlain(t, out)
	for _, want := range []string{"Generated now, shown only this once, write it down. Firewall root password: ",
		"read it there with: ", "Log file: " + filepath.Join(dir, "tappaas.log")} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if m := regexp.MustCompile(`tappaas: install done, (\d+) of (\d+) steps; log: `).FindStringSubmatch(out); m == nil || m[1] != m[2] {
		t.Errorf("no one line saying every step is done:\n%s", out)
	}
}

// TestPTYAccessibleInterruptThenResume: Ctrl+C mid-run prints the one line
// (state, log file, how to resume) and exits 130; run again in the same
// place, the menu offers the resume by default and it finishes.
func TestPTYAccessibleInterruptThenResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Cleanup(func() { waitGone(t, dir) })
	args := []string{"--accessible", "--lab", "--lab-dir", filepath.Join(dir, "lab"), "--lab-speed", "0.05",
		"--log-file", filepath.Join(dir, "tappaas.log")}
	r := startPTY(t, dir, args...)
	installByLines(r)
	// A few steps in, many to go: Ctrl+C, as the terminal sends it.
	r.expect("Started step 4 of ", 180*time.Second)
	if _, err := r.f.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	code, out := r.exit(2 * time.Minute)
	checkPlain(t, out)
	if code != 130 {
		t.Fatalf("exit %d after Ctrl+C, want 130:\n%s", code, out)
	}
	lines := outcomeRe.FindAllString(out, -1)
	if len(lines) != 1 {
		t.Fatalf("want exactly one outcome line, got %q:\n%s", lines, out)
	}
	m := regexp.MustCompile(`^tappaas: install interrupted with (\d+) of (\d+) steps done, checkpoint saved.*; log: \S+tappaas\.log; to resume, run .* and choose Resume$`).
		FindStringSubmatch(strings.TrimRight(lines[0], "\r"))
	if m == nil || m[1] == m[2] {
		t.Fatalf("the one line should give the state, the log file and how to resume: %q", lines[0])
	}

	r = startPTY(t, dir, args...)
	r.expect("An unfinished install stopped at step ", 60*time.Second)
	r.expect(" of "+m[2]+": ", 10*time.Second)
	r.answer("1. Resume the unfinished install", "") // the default
	r.answer("Run the plan now?", "")
	code, out = r.exit(5 * time.Minute)
	checkPlain(t, out)
	if code != 0 || !regexp.MustCompile(`tappaas: install done, (\d+) of (\d+) steps`).MatchString(out) {
		t.Fatalf("resume: exit %d, want 0 and done:\n%s", code, out)
	}
	if !strings.Contains(out, "already in place") {
		t.Errorf("the resume should report the steps done before as already in place:\n%s", out)
	}
}

// TestPTYAccessiblePasswordNotEchoed: a typed password is not echoed by the
// terminal nor written back; Ctrl+C at the next question exits 130 with the
// one line, and the terminal is left echoing again.
func TestPTYAccessiblePasswordNotEchoed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Cleanup(func() { waitGone(t, dir) })
	r := startPTY(t, dir, "--accessible", "--lab", "--lab-dir", filepath.Join(dir, "lab"), "--log-file", filepath.Join(dir, "tappaas.log"))
	r.answer("Main menu. What do you want to do?", "2") // join
	r.answer("Existing cluster node", "10.0.0.10")
	r.answer("Its root password, used once for the join and never stored, not shown as you type:", "peer-secret-pw-1")
	r.expect("Hostname [tappaas2]:", 60*time.Second)
	if _, err := r.f.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	code, out := r.exit(2 * time.Minute)
	checkPlain(t, out)
	if strings.Contains(out, "peer-secret-pw-1") {
		t.Errorf("the password was echoed or written out:\n%s", out)
	}
	if lines := outcomeRe.FindAllString(out, -1); code != 130 || len(lines) != 1 ||
		!strings.HasPrefix(lines[0], "tappaas: interrupted; nothing was running, nothing changed; log: ") {
		t.Errorf("exit %d, outcome lines %q; want 130 and one line:\n%s", code, lines, out)
	}
	if !r.cooked {
		t.Errorf("the terminal was left without echo or canonical mode")
	}
}

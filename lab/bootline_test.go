package lab

import (
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/internal/syncbuf"
)

// The product's SSH executor sends every command as one fixed boot line with
// the script on stdin; the lab must log, count and fault the real script.
func TestBootLineDecodedForLogAndFaults(t *testing.T) {
	t.Parallel()
	var buf syncbuf.Buffer
	l := startLab(t, Options{AccessLog: &buf, Faults: []Fault{{Face: "ssh", Match: "pveum user add boom@pve", Message: "lab: boom"}}})
	c := nodeSSH(t, l)
	defer c.Close()
	send := func(script string) (string, error) {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.Stdin = strings.NewReader(encodeBootScript(script))
		b, err := s.CombinedOutput(sshBootLine)
		return string(b), err
	}
	// A watchdog-like first line, then the command: it runs, and the log
	// shows it (secret masked), not the boot line.
	if out, err := send("exec 3<&0 </dev/null\npveum user add w@pve --password TopSecret3 && printf '%s\\n' 'a\\b'"); err != nil || out != "a\\b\n" {
		t.Fatalf("wrapped script: %q %v", out, err)
	}
	if out, err := send("pveum user list --output-format json"); err != nil || !strings.Contains(out, "w@pve") {
		t.Fatalf("user not created: %q %v", out, err)
	}
	// The fault's Match names the second line of the script.
	if out, err := send("true\npveum user add boom@pve"); err == nil || !strings.Contains(out, "lab: boom") {
		t.Fatalf("fault did not fire on a wrapped command: %q %v", out, err)
	}
	time.Sleep(20 * time.Millisecond)
	log := buf.String()
	if strings.Contains(log, "TopSecret3") || strings.Contains(log, "IFS= read") {
		t.Fatalf("log has the secret or the boot line:\n%s", log)
	}
	if !strings.Contains(log, "pveum user add w@pve --password ***") {
		t.Fatalf("decoded command not logged:\n%s", log)
	}
}

func TestDecodePrintfB(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "a\nb", `back\slash`, "tab\tx", `\n literal`, "end\\"} {
		if got := decodePrintfB(strings.TrimSuffix(encodeBootScript(s), "\n")); got != s {
			t.Errorf("round trip %q → %q", s, got)
		}
	}
}

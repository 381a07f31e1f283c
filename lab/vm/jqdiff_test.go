package vm

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/lab/shell"
)

// jqDiffCases run through the lab's jq and the real jq binary; stdout and
// exit status must agree. Inputs keep one key per object (or sorted keys)
// because gojq sorts object keys where jq keeps their order.
var jqDiffCases = []struct {
	args  []string
	input string
}{
	{[]string{"."}, `{"a":[1,2.5,"x",null,true]}`},
	{[]string{"-c", "."}, `{"a":{"b":[1,{"c":"<&>"}]}}`},
	{[]string{"-r", ".[].node"}, `[{"node":"a"},{"node":"b"}]`},
	{[]string{"-r", `.[] | select(.type == "node") | .id`}, `[{"id":"n1","type":"node"},{"id":"q","type":"qemu"}]`},
	{[]string{"-c", "map(.x * 2)"}, `[{"x":1},{"x":2}]`},
	{[]string{"-r", `"\(.a)-\(.b)"`}, `{"a":"x","b":2}`},
	{[]string{".missing // \"dflt\""}, `{}`},
	{[]string{"length"}, `[1,2,3]`},
	{[]string{"-c", "keys"}, `{"a":2,"b":1}`},
	{[]string{"-e", ".missing"}, `{}`},
	{[]string{"-e", ".[]"}, `[]`},
	{[]string{"-e", ".ok"}, `{"ok":true}`},
	{[]string{"-s", "-c", "."}, "1 2 3"},
	{[]string{"-n", "-c", "[1,2] | add"}, ``},
	{[]string{"-r", "--arg", "n", "b", `.[] | select(.node == $n) | .id`}, `[{"id":1,"node":"a"},{"id":2,"node":"b"}]`},
	{[]string{"-c", "--argjson", "v", `{"k":1}`, "$v.k"}, `null`},
	{[]string{"-j", ".[]"}, `["a","b"]`},
	{[]string{".a.b"}, `{"a":"str"}`},
	{[]string{".["}, `{}`},
	{[]string{"-c", "[.[] | tostring]"}, `[1,"a",[2]]`},
	{[]string{"-c", "to_entries"}, `{"a":1}`},
	{[]string{"-r", ".[] | @sh"}, `["it's", "x y"]`},
}

// TestJqAgainstRealJq needs the real jq (installed by .ci/deps); set
// TAPPAAS_REQUIRE_JQ=1 to fail instead of skipping when it is missing.
func TestJqAgainstRealJq(t *testing.T) {
	real, err := exec.LookPath("jq")
	if err != nil {
		if os.Getenv("TAPPAAS_REQUIRE_JQ") != "" {
			t.Fatal("jq not installed")
		}
		t.Skip("jq not installed")
	}
	for _, c := range jqDiffCases {
		cmd := exec.Command(real, c.args...)
		cmd.Stdin = strings.NewReader(c.input)
		var rout bytes.Buffer
		cmd.Stdout = &rout
		rcode := 0
		if err := cmd.Run(); err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			rcode = ee.ExitCode()
		}
		var out bytes.Buffer
		e := &shell.Env{Ctx: context.Background(), Args: append([]string{"jq"}, c.args...), Stdin: strings.NewReader(c.input),
			Stdout: &out, Stderr: io.Discard, FS: shell.NewMemFS(), Vars: map[string]string{}, User: "root", Dir: "/"}
		code := cmdJq(e)
		if code != rcode || out.String() != rout.String() {
			t.Errorf("jq %q on %q:\n lab  %d %q\n real %d %q", c.args, c.input, code, out.String(), rcode, rout.String())
		}
	}
}

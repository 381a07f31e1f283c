package shell

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// dashDiffCases run as `sh -c SCRIPT` with Interp.Sh = "dash" and under a
// real dash (Debian's /bin/sh, the PVE node's): stdout, stderr and status
// must match.
var dashDiffCases = []string{
	`echo -e "a\tb"; echo "c\td\ce"; echo -n x; echo y`,
	`[ a == a ] && echo eq`,
	`x=abc; echo ${x/b/X}`,
	`x=abcdef; echo ${x:1:2}`,
	`cat <<< hi`,
	`[[ a = a ]]; echo $?`,
	`nosuch_lab_cmd; echo $?`,
	`echo $'a'`,
	`echo {a,b} {1..2}`,
	`function f { echo; }`,
	`source /dev/null; echo $?`,
	`echo a &> /dev/null; wait; echo b`,
	`set -o pipefail; echo ok`,
	`echo $((2**3))`,
	`cd /nonexistent_lab; echo $?`,
	`echo x > /nonexistent_lab/f; echo $?`,
	`cat < /nonexistent_lab; echo $?`,
	`if true; then echo y; fi }`,
	`echo "unterminated`,
	`f() { local a=1; echo $a; }; f; echo ${#x} $((1+2)) ${y:-d}`,
	`x=1; [ "$x" = 1 ] && echo posix-eq; [ 2 -gt 1 ] && echo gt`,
	`printf '%s-%d\n' a 5; type cd; command -v cd`,
	`trap 'echo t' EXIT; echo w`,
	`kill -0 $$ && echo alive; exec 3<&0; echo fd`,
	`for i in 1 2; do echo $i; done; case x in x) echo c;; esac`,
	`echo $0 $#`,
	`declare -a x; echo $?`,
}

func TestAgainstRealDash(t *testing.T) {
	t.Parallel()
	dash, err := exec.LookPath("dash")
	if err != nil {
		t.Skip("dash not installed")
	}
	for _, script := range dashDiffCases {
		cmd := exec.Command(dash, "-c", script)
		cmd.Args[0] = "sh"
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=/root"}
		cmd.Dir = "/"
		var want, wantErr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &want, &wantErr
		_ = cmd.Run()
		wantCode := cmd.ProcessState.ExitCode()

		i := New(NewMemFS())
		i.Sh = "dash"
		var got, gotErr bytes.Buffer
		code := i.Run(context.Background(), "sh -c "+quoteWord(script), strings.NewReader(""), &got, &gotErr, map[string]string{"HOME": "/root", "PWD": "/"})
		if got.String() != want.String() || code != wantCode || gotErr.String() != wantErr.String() {
			t.Errorf("%q:\n lab  out=%q err=%q code=%d\n dash out=%q err=%q code=%d", script, got.String(), gotErr.String(), code, want.String(), wantErr.String(), wantCode)
		}
	}
}

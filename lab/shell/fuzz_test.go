package shell

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary scripts to the parser: it must never panic,
// and every failure must be a *ParseError with a line and an explanation.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`echo "a $B ${C:-d}" 'e' \f`, `a && b || c; d | e > f 2>&1 < g`, "cat <<'EOF'\nx\nEOF\n",
		`if a; then b; elif c; then d; else e; fi`, `for i in 1 2; do echo $i; done`, `f() { echo; }`,
		`case x in a|b) echo;; *) :;; esac`, `echo $(echo $(echo x)) $((1+2)) ` + "`a`", `x=1 y=$(z) cmd`,
		`( a ) && { b; }`, `echo ${#X} ${X##*/} ${X%.*}`, "cat <<-E\n\tx\n\tE\n", `echo >&2 2>/dev/null &>x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if _, err := parseMode(src, true); err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.DashError() == "" {
				t.Fatalf("dash mode: unexplained error %T %v", err, err)
			}
		}
		err := Parse(src)
		if err == nil {
			return
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error is not a *ParseError: %T %v", err, err)
		}
		if pe.Line < 1 || pe.Error() == "" || !strings.HasPrefix(pe.Error(), "line ") {
			t.Fatalf("unexplained error %#v", pe)
		}
	})
}

// FuzzRun runs arbitrary scripts (bounded in time) against a MemFS: no
// panic, and a status in 0..255.
func FuzzRun(f *testing.F) {
	for _, s := range []string{
		`echo a | tr a b`, `mkdir -p /x && echo y > /x/f && cat /x/f`, `set -e; false`, `test -f /etc; [ 1 -lt 2 ]`,
		`printf '%d %s %b' 1 2 '\x41'`, `grep -E '(' /x`, `echo $((1/0))`, `f() { f; }; f`, `exit 300`,
		`printf 'a1\nb\n' | sed -n -e '/a/,$s/[0-9]/N/gp' -e '2q'`, `echo {1..3} x{a,b}`, `x=1; echo $((x+=2)) ${x/1/y}`,
		`[[ a == a* && -n x ]] && echo y`, `cat <<< "$HOME"`, `trap 'echo t' EXIT; f() { local v=1; }; f`,
		`sh -c 'echo -e "a\tb"; [ a == a ]; x=1; echo ${x/1/2}'`, `sh -c 'echo a &> /dev/null; wait'`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		i := New(NewMemFS())
		i.Sh = "dash"
		i.Sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		var out bytes.Buffer
		code := i.Run(ctx, src, strings.NewReader("in\n"), &out, &out, nil)
		if code < 0 || code > 255 {
			t.Fatalf("status %d", code)
		}
	})
}

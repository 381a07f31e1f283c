package shell

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runScript(t *testing.T, i *Interp, script, stdin string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := i.Run(context.Background(), script, strings.NewReader(stdin), &out, &errb, nil)
	return out.String(), errb.String(), code
}

func TestSmoke(t *testing.T) {
	i := New(NewMemFS())
	for _, s := range []string{
		`echo hello world`,
		`X=1; echo "$X ${X:-d} ${Y:-def}"; echo '$X'`,
		`cat <<'EOF' > /tmp/a
line $X
EOF
cat /tmp/a; sha256sum /tmp/a`,
		`nope arg`,
		`echo a | tr a b | cat`,
		`if test -f /tmp/a; then echo yes; else echo no; fi`,
		`for x in 1 2 3; do echo $x; done | wc -l`,
		`echo $(echo sub) $((1+2*3))`,
		`false || echo ok && echo ok2`,
		`echo "a;b" ; ls /`,
		`echo $? ; false; echo $?`,
		`sh -c 'echo $0 $1' zero one`,
		`set -e; false; echo notreached`,
		`echo ) `,
		`grep -c x <<EOF
x
y
x
EOF`,
	} {
		out, errs, code := runScript(t, i, s, "")
		t.Logf("%q\n  out=%q err=%q code=%d", s, out, errs, code)
	}
}

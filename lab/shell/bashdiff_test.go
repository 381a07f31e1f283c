package shell

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// bashDiffCases are filesystem-free scripts whose stdout and status must
// match GNU bash's exactly (TestAgainstRealBash).
var bashDiffCases = []string{
	`echo hello   world`,
	`echo 'a  $X "b" \n'`,
	`X=v; echo "x=$X ${X}y \$X \"q\" \\"`,
	`echo a\ b\;c \$HOME | tr -d /`,
	`echo 'a'"b"c`,
	`printf '[%s]' '' ""; echo`,
	`echo ${NOPE:-dflt} ${NOPE-d2}; echo ${A:=set}; echo $A`,
	`A=1; echo "${A:+alt}" "${B:+alt}"`,
	`A=hello; echo ${#A}`,
	`P=/a/b/c.tar.gz; echo ${P##*/} ${P%%.*} ${P#*/} ${P%.*}`,
	`false; echo $?; true; echo $?`,
	`A="x  y"; printf '<%s>' $A "$A"; echo`,
	`echo "[$(echo a; echo b)]" $(printf 'c\n\n')`,
	"echo `echo tick`",
	`X=$(false); echo $?`,
	`N=4; echo $((N*2+1)) $(( (1+2)%2 )) $((10/3)) $((N>3)) $((-7/2)) $((2**0)) $((1<<4)) $((7&3|8))`,
	`set -- "a b" c; for x in "$@"; do echo "[$x]"; done; echo $#`,
	`set -- a b c; shift; echo "$@"; echo "$*"`,
	`true && echo yes; false && echo no; echo $?`,
	`false && echo a || echo b && echo c`,
	`! false && echo neg; ! true; echo $?`,
	`(exit 3); echo $?`,
	`{ echo a; echo b; } | wc -l`,
	`printf 'b\na\nb\n' | sort | uniq -c`,
	`false | true; echo $?; set -o pipefail; false | true; echo $?`,
	`echo to-err >&2; echo out`,
	"cat <<'EOF'\n$X `x` \\n\nEOF",
	"X=1\ncat <<EOF\nv=$X $(echo s) \\$X\nEOF",
	"cat <<-EOF\n\ta\n\tEOF\necho after",
	`A=1 sh -c 'echo $A'; echo "[$A]"`,
	`set -e; if false; then :; fi; false || true; echo yes`,
	`set -e; false && true; echo reached`,
	`set -e; false; echo no`,
	`if false; then echo 1; elif true; then echo 2; else echo 3; fi`,
	`i=0; while [ $i -lt 3 ]; do i=$((i+1)); done; echo $i`,
	`for i in 1 2 3; do [ $i = 2 ] && continue; echo $i; done`,
	`for i in 1 2 3; do for j in a b; do [ $j = b ] && break 2; echo $i$j; done; done`,
	`case foo.tar in *.zip) echo z;; *.tar|*.tgz) echo t;; *) echo o;; esac`,
	`case "a b" in "a b") echo quoted;; esac`,
	`f() { echo "f:$1:$#"; return 3; }; f arg two; echo $?`,
	`x=global; f() { local x=inner; echo $x; }; f; echo $x`,
	`echo -n a; echo -e 'b\tc'; echo -e 'x\cy'; echo -E 'a\tb'`,
	`printf '%s=%d|%5s|%-3s|%03d|%x|%o|%X\n' a 42 r l 7 255 8 255`,
	`printf '%s\n' a b c; printf '%b %%\n' 'x\ty'`,
	`printf '%d\n' 3 "'A"`,
	`[ "a" = "a" ] && [ "a" != "b" ] && [ -n "x" ] && [ -z "" ] && echo ok`,
	`[ 3 -gt 2 ] && [ 2 -le 2 ] && [ 1 -ne 2 ] && echo ok; [ 1 -eq 2 ]; echo $?`,
	`[ \( 1 -eq 2 -o 2 -eq 2 \) -a 1 -lt 2 ] && echo ok`,
	`test; echo $?; test ""; echo $?; test x; echo $?; test ! x; echo $?`,
	`[[ foo.tar.gz == *.tar.* ]] && echo glob; [[ foo == "f*" ]] || echo nog`,
	`[[ 10 -gt 9 && ( a < b || 1 -eq 2 ) ]] && echo arith`,
	`[[ v1.2.3 =~ ^v([0-9]+) ]] && echo "$BASH_REMATCH"`,
	`echo $'a\tb\x41'`,
	`P=a.b.c; echo ${P/./-} ${P//./-} ${P/#a/X} ${P/%c/Y}`,
	`S=abcdef; echo ${S:2} ${S:1:3} ${S: -2}`,
	`trap 'echo bye' EXIT; echo work`,
	`trap 'echo cleanup $?' EXIT; (exit 4)`,
	`echo a | { read -r x; echo "got $x"; }`,
	`printf 'a b c\n' | { read -r x y; echo "$x|$y"; }`,
	`echo "a:b:c" | cut -d: -f2; echo abcdef | cut -c2-4`,
	`echo Hello | tr '[:lower:]' '[:upper:]'; echo a/b+c= | tr -d '/+='`,
	`seq 3; seq -s, 2 4; seq 5 -2 1`,
	`echo hello | sha256sum; printf abc | base64; echo YWJj | base64 -d; echo`,
	`printf 'a\nb\nc\n' | head -n 2; printf 'a\nb\nc\n' | tail -n 1; printf 'a\nb\nc\n' | tail -n +2`,
	`printf 'one\ntwo\nthree\n' | grep -c o; printf 'x\ny\n' | grep -v x; printf 'ab\n' | grep -E 'a|z'`,
	`printf 'ip 10.0.0.1 gw 10.0.0.10\n' | grep -oE '[0-9.]+'`,
	`printf 'a+b\n' | grep 'a+b'; printf 'aab\n' | grep 'a\+b'`,
	`echo abc | wc -c; printf 'a b\nc\n' | wc -w; printf 'x\ny\n' | wc -l`,
	`basename /a/b/c.sh .sh; dirname /a/b/c.sh; basename /a/b/`,
	`eval 'echo $((2+3))'; eval "X=7"; echo $X`,
	`type cd; command -v cd`,
	`x=1; (x=2; echo $x); echo $x`,
	`echo ${#}; set -- 1 2 3; echo ${#}`,
	`a=5; b=a; echo $((a + 1)) $(( b ))`,
	`nosuchcmd_lab 2>/dev/null; echo $?`,
	`exit 300`,
	`echo "$(echo "a  b")" $(echo "c  d")`,
	`X=; echo ${X:-"q  w"} "${X:-"q  w"}"`,
	`IFS=:; set -- $(echo a:b:c); echo $#; IFS=' '; echo "$*"`,
	`printf 'k=v
x=y
' | while IFS== read -r k v; do echo "$k->$v"; done`,
	`echo "${HOME}/x" ~/y "~/z"`,
	`v="a'b"; echo "$v" '$v'`,
	`echo "quoted" 'single'`,
	`echo a; echo b > /dev/null; echo c 2>/dev/null`,
	`f() { echo "$@"; }; f 1 "2 3" 4`,
	`g() { return 7; }; g || echo "failed $?"`,
	`echo $(( 0x10 + 010 )) $(( 3 > 2 && 2 > 3 ))`,
	`x=5; y=$((x-=0)); echo $y`,
	`echo start; false || { echo recover; true; }; echo $?`,
	`for i in; do echo never; done; echo done`,
	`while false; do :; done; echo $?`,
	`until true; do :; done; echo ok`,
	`case x in y) ;; esac; echo $?`,
	`echo "a\tb" 'c\td'`,
	`printf '%5.2f|%-6s|%c
' 3.14159 ab xyz`,
	`printf '%s %s
' 1 2 3`,
	`echo {a,b}`,
	`echo a#b #c`,
	`echo $((7 % 3)) $((-7 % 3))`,
	`echo x{1..3}y {c..a} a{b,{c,d}}e ${HOME:+{}} '{a,b}' {single}`,
	`mkdir_lab=1; echo /x/{etc,var}/lab`,

	`echo $((1/0)); echo after`,
}

func TestAgainstRealBash(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	for _, script := range bashDiffCases {
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
		cmd.Args[0] = "bash" // messages say "bash: line 1: …"
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=/root"}
		var want bytes.Buffer
		cmd.Stdout = &want
		_ = cmd.Run()
		wantCode := cmd.ProcessState.ExitCode()
		var got, gotErr bytes.Buffer
		code := New(NewMemFS()).Run(context.Background(), script, strings.NewReader(""), &got, &gotErr, map[string]string{"HOME": "/root"})
		if got.String() != want.String() || code != wantCode {
			t.Errorf("%q:\n lab  out=%q code=%d (stderr %q)\n bash out=%q code=%d", script, got.String(), code, gotErr.String(), want.String(), wantCode)
		}
	}
}

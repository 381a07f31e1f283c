package shell

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// coreutilsDiffCases use only relative paths: they run in an empty temp
// directory under real bash + GNU coreutils and in an empty directory of
// a MemFS, and must print the same stdout and stderr and exit alike.
var coreutilsDiffCases = []string{
	`mkdir -p a/b/c && echo x > a/b/f && cat a/b/f && ls a/b`,
	`mkdir a && mkdir a`,
	`mkdir x/y`,
	`cat nope`,
	`cat nope 2>&1; echo $?`,
	`rm nope; echo $?; rm -f nope; echo $?`,
	`mkdir d && rm d`,
	`mkdir -p d/e && rm -r d && ls`,
	`echo hi > f && mv f g && cat g && mv nope z`,
	`echo hi > f && cp f g && cat g && cp nope z`,
	`mkdir d && cp d e`,
	`echo x > f && chmod 600 f && stat -c '%a %A %s %n' f`,
	`echo x > f && chmod +x f && stat -c %a f && chmod u-x,go= f && stat -c %a f`,
	`chmod zz f`,
	`chmod 600 nope`,
	`printf 'a\nb\nc\n' > f && head -n 2 f && tail -n 1 f && tail -n +2 f && head -c 3 f`,
	`head nope`,
	`tail nope`,
	`printf 'one\ntwo\n' > f && grep -c o f && grep -n two f && grep -q zz f; echo $?`,
	`grep x nope; echo $?`,
	`printf 'x\n' > f && wc -l f && wc -c < f && wc f`,
	`wc -l nope`,
	`echo data > f && sha256sum f && sha256sum nope; echo $?`,
	`echo data > f && sha256sum f > s && sha256sum -c s && echo x >> f && sha256sum -c s; echo $?`,
	`touch t && ls && touch x/y`,
	`echo x > f && ln -s f l && readlink l && cat l && ln -s f l`,
	`echo x | tee t1 t2 > /dev/null && cat t1 t2 && echo y | tee -a t1 > /dev/null && cat t1`,
	`echo x | tee nodir/f`,
	`echo abc | base64 | base64 -d && echo '!!' | base64 -d`,
	`ls nope; echo $?`,
	`mkdir d && touch d/b d/a && ls d && ls -d d`,
	`test -f nope || echo nf; mkdir d && test -d d && echo dir; echo x > f && test -s f && echo nonempty; : > e && test -s e || echo empty`,
	`[ -x f ]; echo $?; echo x > f; chmod 755 f; [ -x f ] && echo exec`,
	`stat nope`,
	`basename a/b.txt .txt && dirname a/b.txt && dirname f`,
	`cd nope`,
	`mkdir d && cd d && pwd | sed 's|.*/||' 2>/dev/null || basename "$(pwd)"`,
	`echo x > f && [ f -nt nope ] && echo newer`,
	`echo 'k=v' > f && . ./f && echo $k`,
	`rmdir nope; mkdir d && touch d/x && rmdir d`,
	`cat -n nope; echo hi | cat -`,
	`mkdir -m 700 d && stat -c %a d`,
	`cut -d: -f1 nope; sort nope`,
	`printf 'b\na\nc\n' | sort -r; printf '3\n10\n2\n' | sort -n; printf 'a\na\nb\n' | uniq; printf 'a\na\nb\n' | uniq -c`,
	`echo 'a b  c' | tr -s ' '; echo abc | tr a-c A-C; echo hello | tr -d l`,
	`printf 'x y\n' | cut -d' ' -f2; printf 'abc\n' | cut -c2-`,
	`mkdir -p d/e && touch d/e/f d/g && find d -type f | sort; find d -name f; find nope`,
	`echo a b | xargs echo X; printf '1\n2\n' | xargs -n 1 echo L`,
	`grep -w foo <<< "foo bar foobar"; grep -c o <<< 'one'`,
	`head -c 2 <<< hello; echo; cat <<< "$HOME"`,
	`echo $(( $(echo 3) + 1 ))`,
	`env -i A=1 env; printenv HOME`,
	`date -u -d @86400 '+%Y-%m-%d %H:%M:%S %s %j %a %b %e'`,
	`echo 'a,b' | { IFS=, read x y; echo $y; }`,
	`printf '%s\n' "$(printf 'a\nb')"`,
	`echo x > f; ln f g; cat g; ln -sf f g2; readlink -f g2 | sed 's|.*/||' 2>/dev/null || true`,
	`printf 'a\tb\n' | cut -f2; printf 'one two\n' | grep -o 'o'`,
	`printf 'ab\nAB\n' | grep -i ab; printf 'x.y\n' | grep -F '.'; printf 'xy\n' | grep -x 'x'; echo $?`,
	`seq 2 2 6; seq 3 -1 1`,
	`echo x > f; mv f nodir/g`,
	`touch a; cp a b; ls; rm a b; ls`,
	`printf 'a1\nb2\nc3\n' > f; sed 's/[0-9]/N/' f; sed -n '2p' f; sed '1d' f; sed -n '/b/,$p' f; sed '$d' f`,
	`printf 'foo bar foo\n' | sed 's/foo/X/g; s/bar/[&]/'; echo 'a-b' | sed -E 's/(a)-(b)/\2-\1/'; echo 'a-b' | sed 's/\(a\)-\(b\)/\2+\1/'`,
	`printf 'x\ny\n' > f; sed -i 's/x/z/' f; cat f; sed -i -e '1i top' -e '$a bottom' f; cat f`,
	`printf 'k=1\nj=2\n' | sed -n 's/^k=//p'; printf 'a\nb\nc\n' | sed '2q'; printf 'a\nb\n' | sed '/a/!d'`,
	`echo 'data.status x' | sed -e "/data\.status/ s/!//" -e "/data\.status/ s/x/NoMoreNagging/"`,
	`echo abc | sed 's/b/\n/'; echo path/to | sed 's|/|_|g'; echo AbC | sed 's/b/x/I'`,
	`sed 's/a/b/' nope; echo $?; echo x | sed 's/a/b'; echo $?`,
	`printf 'l1\nl2\nl3\nl4\n' | sed -n '2,3p'; printf 'l1\nl2\n' | sed = | head -n 2`,
}

func TestCoreutilsAgainstReal(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	for _, script := range coreutilsDiffCases {
		dir := t.TempDir()
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
		cmd.Args[0] = "bash" // messages say "bash: line 1: …"
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=/root"}
		var want, wantErr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &want, &wantErr
		_ = cmd.Run()
		wantCode := cmd.ProcessState.ExitCode()

		m := NewMemFS()
		if err := m.MkdirAll("/w", 0o755); err != nil {
			t.Fatal(err)
		}
		var got, gotErr bytes.Buffer
		code := New(m).Run(context.Background(), script, strings.NewReader(""), &got, &gotErr, map[string]string{"HOME": "/root", "PWD": "/w"})
		if got.String() != want.String() || code != wantCode || gotErr.String() != wantErr.String() {
			t.Errorf("%q:\n lab  out=%q err=%q code=%d\n real out=%q err=%q code=%d", script, got.String(), gotErr.String(), code, want.String(), wantErr.String(), wantCode)
		}
	}
}

package shell

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type runResult struct {
	out, err string
	code     int
}

func run(t *testing.T, i *Interp, script, stdin string, vars map[string]string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := i.Run(context.Background(), script, strings.NewReader(stdin), &out, &errb, vars)
	return runResult{out.String(), errb.String(), code}
}

// seeded returns an interpreter over a MemFS holding a few known files.
func seeded(t *testing.T) *Interp {
	t.Helper()
	m := NewMemFS()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.WriteFile("/etc/hostname", []byte("tappaas1\n"), 0o644))
	must(m.WriteFile("/tmp/three", []byte("one\ntwo\nthree\n"), 0o644))
	must(m.WriteFile("/tmp/empty", nil, 0o644))
	must(m.MkdirAll("/root/tappaas", 0o755))
	must(m.WriteFile("/root/tappaas/run.sh", []byte("#!/bin/bash\necho \"script $0 got $# args: $1\"\nexit 7\n"), 0o755))
	must(m.WriteFile("/root/tappaas/noexec.sh", []byte("echo hi\n"), 0o644))
	return New(m)
}

func TestInterpTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, script, stdin string
		out                 string
		errSub              string // substring of stderr ("" = stderr must be empty)
		code                int
	}{
		// words and quoting
		{"echo", `echo hello   world`, "", "hello world\n", "", 0},
		{"single quotes keep everything", `echo 'a  $X "b" \n'`, "", "a  $X \"b\" \\n\n", "", 0},
		{"double quotes expand", `X=v; echo "x=$X ${X}y \$X \"q\" \\"`, "", "x=v vy $X \"q\" \\\n", "", 0},
		{"backslash escapes", `echo a\ b\;c \$HOME`, "", "a b;c $HOME\n", "", 0},
		{"adjacent quoting joins", `echo 'a'"b"c`, "", "abc\n", "", 0},
		{"empty quotes make an argument", `printf '[%s]' '' ""; echo`, "", "[][]\n", "", 0},
		{"comment", `echo a # not this`, "", "a\n", "", 0},
		{"line continuation", "echo a \\\nb", "", "a b\n", "", 0},
		// expansion
		{"unset is empty", `echo "[$NOPE]"`, "", "[]\n", "", 0},
		{"default", `echo ${NOPE:-dflt} ${NOPE-d2}`, "", "dflt d2\n", "", 0},
		{"assign default", `echo ${A:=set}; echo $A`, "", "set\nset\n", "", 0},
		{"alternate", `A=1; echo "${A:+alt}" "${B:+alt}"`, "", "alt \n", "", 0},
		{"error if unset", `echo ${NOPE:?missing value}; echo after`, "", "", "NOPE: missing value", 1},
		{"length", `A=hello; echo ${#A}`, "", "5\n", "", 0},
		{"trim patterns", `P=/a/b/c.tar.gz; echo ${P##*/} ${P%%.*} ${P#*/} ${P%.*}`, "", "c.tar.gz /a/b/c a/b/c.tar.gz /a/b/c.tar\n", "", 0},
		{"status var", `false; echo $?; true; echo $?`, "", "1\n0\n", "", 0},
		{"status of 127", `nope 2>/dev/null; echo $?`, "", "127\n", "", 0},
		{"word splitting", `A="x  y"; printf '<%s>' $A "$A"; echo`, "", "<x><y><x  y>\n", "", 0},
		{"tilde", `echo ~ ~/x`, "", "/root /root/x\n", "", 0},
		{"command substitution", `echo "[$(echo a; echo b)]" $(printf 'c\n\n')`, "", "[a\nb] c\n", "", 0},
		{"backticks", "echo `echo tick`", "", "tick\n", "", 0},
		{"subst status", `X=$(false); echo $?`, "", "1\n", "", 0},
		{"arithmetic", `N=4; echo $((N*2+1)) $(( (1+2)%2 )) $((10/3)) $((N>3))`, "", "9 1 3 1\n", "", 0},
		{"arith division by zero", `echo $((1/0))`, "", "", "division by 0", 1},
		{"glob", `cd /tmp && echo t*`, "", "three\n", "", 0},
		{"glob no match stays", `echo /tmp/zz*`, "", "/tmp/zz*\n", "", 0},
		{"quoted glob literal", `echo "/tmp/t*"`, "", "/tmp/t*\n", "", 0},
		{"positional in sh -c", `sh -c 'echo $0:$1:$#:$@' n a b`, "", "n:a:2:a b\n", "", 0},
		{"quoted at", `set -- "a b" c; for x in "$@"; do echo "[$x]"; done`, "", "[a b]\n[c]\n", "", 0},
		// operators
		{"and", `true && echo yes`, "", "yes\n", "", 0},
		{"and short-circuit", `false && echo no; echo $?`, "", "1\n", "", 0},
		{"or", `false || echo yes`, "", "yes\n", "", 0},
		{"chain", `false && echo a || echo b && echo c`, "", "b\nc\n", "", 0},
		{"semicolons", `echo a; echo b;echo c`, "", "a\nb\nc\n", "", 0},
		{"newlines", "echo a\n\necho b\n", "", "a\nb\n", "", 0},
		{"negation", `! false && echo neg`, "", "neg\n", "", 0},
		{"exit status of last", `true; false`, "", "", "", 1},
		{"exit builtin", `echo a; exit 5; echo b`, "", "a\n", "", 5},
		{"exit in subshell", `(exit 3); echo $?`, "", "3\n", "", 0},
		{"group", `{ echo a; echo b; } | wc -l`, "", "2\n", "", 0},
		// pipes
		{"pipe", `echo hello | tr a-z A-Z`, "", "HELLO\n", "", 0},
		{"three stages", `printf 'b\na\nb\n' | sort | uniq -c`, "", "      1 a\n      2 b\n", "", 0},
		{"pipe status is last", `false | true; echo $?`, "", "0\n", "", 0},
		{"pipefail", `set -o pipefail; false | true; echo $?`, "", "1\n", "", 0},
		{"stdin to pipe", `cat | head -n 1`, "l1\nl2\n", "l1\n", "", 0},
		{"head closes early", `seq 1 100000 | head -n 2`, "", "1\n2\n", "", 0},
		// redirections
		{"redirect out and in", `echo data > /tmp/f; cat < /tmp/f`, "", "data\n", "", 0},
		{"append", `echo a > /tmp/f; echo b >> /tmp/f; cat /tmp/f`, "", "a\nb\n", "", 0},
		{"stderr to null", `cat /nope 2>/dev/null; echo $?`, "", "1\n", "", 0},
		{"2>&1 into pipe", `cat /nope 2>&1 | grep -c 'No such'`, "", "1\n", "", 0},
		{"stdout to null", `echo gone >/dev/null`, "", "", "", 0},
		{">&2", `echo to-err >&2`, "", "", "to-err", 0},
		{"&> both", `{ echo o; echo e >&2; } &> /tmp/both; cat /tmp/both`, "", "o\ne\n", "", 0},
		{"redirect missing dir", `echo x > /nope/f`, "", "", "bash: line 1: /nope/f: No such file or directory", 1},
		{"redirect input missing", `cat < /nope`, "", "", "bash: line 1: /nope: No such file or directory", 1},
		{"relative redirect", `cd /tmp && echo r > rel && cat /tmp/rel`, "", "r\n", "", 0},
		// here-documents
		{"heredoc quoted", "X=1\ncat <<'EOF'\n$X `x` \\n\nEOF", "", "$X `x` \\n\n", "", 0},
		{"heredoc expands", "X=1\ncat <<EOF\nv=$X $(echo s) \\$X\nEOF", "", "v=1 s $X\n", "", 0},
		{"heredoc to file", "cat > /tmp/h <<EOF\na\nb\nEOF\nwc -l < /tmp/h", "", "2\n", "", 0},
		{"heredoc strip tabs", "cat <<-EOF\n\ta\n\tEOF\necho after", "", "a\nafter\n", "", 0},
		{"heredoc into pipe", "cat <<EOF | tr a b\naaa\nEOF", "", "bbb\n", "", 0},
		{"heredoc tee", "tee /tmp/t1 <<'EOF' >/dev/null\nk=v\nEOF\ncat /tmp/t1", "", "k=v\n", "", 0},
		// prefixes and variables
		{"prefix assignment is temporary", `A=1 env | grep -c '^A=1$'; echo "[$A]"`, "", "1\n[]\n", "", 0},
		{"export", `export A=exp; sh -c 'echo $A'`, "", "exp\n", "", 0},
		{"unset", `A=1; unset A; echo "[$A]"`, "", "[]\n", "", 0},
		// set -e / -u
		{"set -e stops", `set -e; false; echo no`, "", "", "", 1},
		{"set -e ignores conditions", `set -e; if false; then :; fi; false || true; echo yes`, "", "yes\n", "", 0},
		{"set -e with && list", `set -e; false && true; echo reached`, "", "reached\n", "", 0},
		{"set -u", `set -u; echo $NOPE; echo no`, "", "", "NOPE: unbound variable", 1},
		{"set -x", `set -x; echo hi`, "", "hi\n", "+ echo hi", 0},
		// compound commands
		{"if else", `if test -f /tmp/three; then echo yes; else echo no; fi`, "", "yes\n", "", 0},
		{"elif", `if false; then echo 1; elif true; then echo 2; else echo 3; fi`, "", "2\n", "", 0},
		{"if status when no branch", `if false; then echo 1; fi; echo $?`, "", "0\n", "", 0},
		{"for", `for i in a b c; do echo -n $i; done; echo`, "", "abc\n", "", 0},
		{"while read", `while read -r l; do echo "<$l>"; done < /tmp/three`, "", "<one>\n<two>\n<three>\n", "", 0},
		{"while break", `i=0; while true; do i=$((i+1)); [ $i -ge 3 ] && break; done; echo $i`, "", "3\n", "", 0},
		{"until", `i=0; until [ $i -eq 2 ]; do i=$((i+1)); done; echo $i`, "", "2\n", "", 0},
		{"continue", `for i in 1 2 3; do [ $i = 2 ] && continue; echo $i; done`, "", "1\n3\n", "", 0},
		{"case", `case foo.tar in *.zip) echo z;; *.tar|*.tgz) echo t;; *) echo o;; esac`, "", "t\n", "", 0},
		{"function", `f() { echo "f:$1"; return 3; }; f arg; echo $?`, "", "f:arg\n3\n", "", 0},
		// scripts and sh -c
		{"bash -c", `bash -c 'echo inner; exit 4'; echo $?`, "", "inner\n4\n", "", 0},
		{"bash -lc", `bash -lc 'echo login'`, "", "login\n", "", 0},
		{"sh reads stdin", `sh`, "echo from-stdin\n", "from-stdin\n", "", 0},
		{"run script file", `/root/tappaas/run.sh x y; echo $?`, "", "script /root/tappaas/run.sh got 2 args: x\n7\n", "", 0},
		{"bash script file", `cd /root/tappaas && bash run.sh q`, "", "script run.sh got 1 args: q\n", "", 7},
		{"relative script", `cd /root/tappaas && ./run.sh`, "", "script ./run.sh got 0 args: \n", "", 7},
		{"not executable", `/root/tappaas/noexec.sh`, "", "", "bash: line 1: /root/tappaas/noexec.sh: Permission denied", 126},
		{"missing script", `/root/nope.sh`, "", "", "bash: line 1: /root/nope.sh: No such file or directory", 127},
		{"bin path to registered", `/usr/bin/echo via-path`, "", "via-path\n", "", 0},
		{"command -v", `command -v cat; command -v cd; command -v nope || echo missing`, "", "/usr/bin/cat\ncd\nmissing\n", "", 0},
		// unknown command
		{"127 message", `nosuchcmd --flag`, "", "", "bash: line 1: nosuchcmd: command not found\n", 127},
		{"127 on line 2", "true\nnosuchcmd", "", "", "bash: line 2: nosuchcmd: command not found\n", 127},
		// syntax errors
		{"syntax error token", `echo a; ;`, "", "", "bash: -c: line 1: syntax error near unexpected token `;'", 2},
		{"syntax error eof", `if true; then echo`, "", "", "syntax error: unexpected end of file", 2},
		{"unterminated quote", `echo 'abc`, "", "", "unexpected EOF while looking for matching", 2},
		{"dangling pipe", `echo a |`, "", "", "syntax error", 2},
		{"missing redirect target", `echo a >`, "", "", "syntax error near unexpected token `newline'", 2},
		{"unterminated heredoc", "cat <<EOF\nabc", "", "", "here-document", 2},
		{"syntax error runs nothing", "echo first\nfi", "", "", "syntax error near unexpected token `fi'", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, seeded(t), c.script, c.stdin, nil)
			if r.out != c.out || r.code != c.code {
				t.Errorf("script %q:\n got out=%q code=%d (stderr %q)\nwant out=%q code=%d", c.script, r.out, r.code, r.err, c.out, c.code)
			}
			if c.errSub == "" && r.err != "" && c.name != "set -x" {
				t.Errorf("script %q: unexpected stderr %q", c.script, r.err)
			}
			if c.errSub != "" && !strings.Contains(r.err, c.errSub) {
				t.Errorf("script %q: stderr %q does not contain %q", c.script, r.err, c.errSub)
			}
		})
	}
}

func TestVarsAndUser(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	r := run(t, i, `echo $USER $HOME $PWD; id -u; whoami`, "", map[string]string{"USER": "tappaas"})
	want := "tappaas /home/tappaas /\n1000\ntappaas\n"
	if r.out != want {
		t.Fatalf("got %q want %q (home missing → cwd /)", r.out, want)
	}
	r = run(t, i, `echo $USER $HOME $PWD; id`, "", nil)
	if r.out != "root /root /root\nuid=0(root) gid=0(root) groups=0(root)\n" {
		t.Fatalf("root defaults: %q", r.out)
	}
	r = run(t, i, `echo $LANG`, "", map[string]string{"LANG": "C.UTF-8"})
	if r.out != "C.UTF-8\n" {
		t.Fatalf("vars not passed: %q", r.out)
	}
}

func TestRegisterAndEnv(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	var got *Env
	i.Register("pveversion", func(e *Env) int {
		got = e
		b, _ := readAllString(e)
		e.Printf("pve-manager/9.0.3/xyz (running kernel: 6.14.8-2-pve) stdin=%q\n", b)
		return 0
	})
	r := run(t, i, `cd /tmp && FOO=bar pveversion -v | tee /tmp/pv`, "in", nil)
	if r.code != 0 || !strings.HasPrefix(r.out, "pve-manager/9.0.3") {
		t.Fatalf("registered command: %+v", r)
	}
	if got.Dir != "/tmp" || got.Vars["FOO"] != "bar" || got.Args[1] != "-v" || got.User != "root" || got.Abs("x") != "/tmp/x" {
		t.Fatalf("env: dir=%q vars FOO=%q args=%v", got.Dir, got.Vars["FOO"], got.Args)
	}
	if !strings.Contains(r.out, `stdin="in"`) {
		t.Fatalf("the first pipeline stage reads the session's stdin, got %q", r.out)
	}
	// Registering replaces a builtin.
	i.Register("cat", func(e *Env) int { e.Printf("mine\n"); return 0 })
	if r := run(t, i, `cat /tmp/three`, "", nil); r.out != "mine\n" {
		t.Fatalf("override: %q", r.out)
	}
	// Absolute-path registration.
	i.Register("/usr/local/etc/rc.reload_all", func(e *Env) int { e.Printf("reloaded\n"); return 0 })
	if r := run(t, i, `/usr/local/etc/rc.reload_all`, "", nil); r.out != "reloaded\n" {
		t.Fatalf("path command: %+v", r)
	}
	// Env.Exec reaches builtins and scripts.
	i.Register("wrap", func(e *Env) int { return e.Exec(e.Args[1:]...) })
	if r := run(t, i, `wrap echo inner; wrap /root/tappaas/run.sh z`, "", nil); r.out != "inner\nscript /root/tappaas/run.sh got 1 args: z\n" || r.code != 7 {
		t.Fatalf("Exec: %+v", r)
	}
	if r := run(t, i, `wrap nosuch`, "", nil); r.code != 127 || !strings.Contains(r.err, "nosuch: command not found") {
		t.Fatalf("Exec 127: %+v", r)
	}
}

func readAllString(e *Env) (string, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(e.Stdin)
	return b.String(), err
}

func TestStdinFlowsToFirstReader(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	r := run(t, i, `cat > /tmp/up; sha256sum /tmp/up`, "payload", nil)
	if r.out != "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5  /tmp/up\n" {
		t.Fatalf("got %+v", r)
	}
}

func TestCancelStopsScript(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan int)
	go func() {
		done <- i.Run(ctx, `echo start; while true; do sleep 1; done; echo never`, nil, &out, &out, nil)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != 130 || out.String() != "start\n" {
			t.Fatalf("code %d out %q", code, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("script did not stop after cancel")
	}
	// A busy loop without sleeps stops too.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if code := i.Run(ctx2, `while :; do :; done`, nil, nil, nil, nil); code != 130 {
		t.Fatalf("busy loop code %d", code)
	}
}

func TestSleepHook(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	var slept time.Duration
	i.Sleep = func(ctx context.Context, d time.Duration) error { slept += d; return nil }
	if r := run(t, i, `sleep 1.5 2m`, "", nil); r.code != 0 || slept != 2*time.Minute+1500*time.Millisecond {
		t.Fatalf("slept %v %+v", slept, r)
	}
	if r := run(t, i, `sleep abc`, "", nil); r.code != 1 || !strings.Contains(r.err, "invalid time interval 'abc'") {
		t.Fatalf("%+v", r)
	}
}

func TestTrace(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	var seen [][]string
	i.Trace = func(user string, argv []string) { seen = append(seen, argv) }
	run(t, i, `echo a && true`, "", nil)
	if len(seen) != 2 || seen[0][0] != "echo" || seen[1][0] != "true" {
		t.Fatalf("trace %v", seen)
	}
}

func TestParseErrorType(t *testing.T) {
	t.Parallel()
	err := Parse("if then")
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) || pe.Line != 1 || pe.Token != "then" {
		t.Fatalf("got %#v", err)
	}
	if err := Parse("echo ok && ls | wc -l > /dev/null 2>&1"); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	done := make(chan string, 20)
	for n := 0; n < 20; n++ {
		go func(n int) {
			var out bytes.Buffer
			i.Run(context.Background(), `X=$1; cd /tmp; echo "$PWD" | wc -c; for k in 1 2 3; do echo $k >> /tmp/shared; done`, nil, &out, &out, nil)
			done <- out.String()
		}(n)
	}
	for n := 0; n < 20; n++ {
		if s := <-done; s != "5\n" {
			t.Fatalf("got %q", s)
		}
	}
	b, _ := i.FS().ReadFile("/tmp/shared")
	if strings.Count(string(b), "\n") != 60 {
		t.Fatalf("shared file has %d lines", strings.Count(string(b), "\n"))
	}
}

func TestNoclobber(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	r := run(t, i, `set -C; echo new > /tmp/fresh && echo again > /tmp/fresh; echo $?; echo forced >| /tmp/fresh; cat /tmp/fresh; echo ok > /dev/null`, "", nil)
	if r.out != "1\nforced\n" || !strings.Contains(r.err, "bash: line 1: /tmp/fresh: cannot overwrite existing file") {
		t.Fatalf("%+v", r)
	}
	// Concurrent exclusive creates: exactly one wins.
	wins := make(chan int, 10)
	for n := 0; n < 10; n++ {
		go func() {
			wins <- i.Run(context.Background(), `set -o noclobber; echo me > /tmp/lock`, nil, nil, nil, nil)
		}()
	}
	ok := 0
	for n := 0; n < 10; n++ {
		if <-wins == 0 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d exclusive creates succeeded", ok)
	}
}

func TestSigpipe(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	done := make(chan runResult, 1)
	go func() {
		done <- run(t, i, `set -o pipefail; while true; do echo y; done | head -n 1; echo "status $?"`, "", nil)
	}()
	select {
	case r := <-done:
		if r.out != "y\nstatus 141\n" {
			t.Fatalf("%+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an endless writer into a closed pipe did not stop")
	}
	// A stage that does not write is not stopped early.
	if r := run(t, i, `sleep 0.05 | true; echo $?`, "", nil); r.out != "0\n" {
		t.Fatalf("%+v", r)
	}
}

func TestDoubleBracket(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	cases := []struct{ script, out string }{
		{`[[ -f /tmp/three && ! -d /tmp/three ]] && echo yes`, "yes\n"},
		{`A="x y"; [[ $A == "x y" ]] && echo eq`, "eq\n"},
		{`[[ foo.tar.gz == *.tar.* ]] && echo glob`, "glob\n"},
		{`[[ foo == "f*" ]] || echo quoted-no-glob`, "quoted-no-glob\n"},
		{`[[ 10 -gt 9 && ( a < b || 1 -eq 2 ) ]] && echo arith`, "arith\n"},
		{`[[ v1.2.3 =~ ^v([0-9]+) ]] && echo "$BASH_REMATCH"`, "v1\n"},
		{`[[ -z "" ]]; echo $?; [[ -n "" ]]; echo $?`, "0\n1\n"},
		{`E=; [[ $E ]] || echo empty`, "empty\n"},
	}
	for _, c := range cases {
		if r := run(t, i, c.script, "", nil); r.out != c.out || r.err != "" {
			t.Errorf("%s: %+v want %q", c.script, r, c.out)
		}
	}
	if r := run(t, i, `[[ a -eq 1 ]]`, "", nil); r.code != 2 || !strings.Contains(r.err, "operand expected") {
		t.Errorf("%+v", r)
	}
	if r := run(t, i, `[[ -f /tmp/three`, "", nil); r.code != 2 {
		t.Errorf("unterminated: %+v", r)
	}
}

func TestBashExpansions(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	cases := []struct{ script, out string }{
		{`echo $'a\tb\x41\n' | head -n1`, "a\tbA\n"},
		{`P=a.b.c; echo ${P/./-} ${P//./-} ${P/#a/X} ${P/%c/Y} ${P/z/q}`, "a-b.c a-b-c X.b.c a.b.Y a.b.c\n"},
		{`U=https://host/x; echo "${U//\//_}"`, "https:__host_x\n"},
		{`S=abcdef; echo ${S:2} ${S:1:3} ${S: -2} ${S:0:-1}`, "cdef bcd ef abcde\n"},
	}
	for _, c := range cases {
		if r := run(t, i, c.script, "", nil); r.out != c.out || r.err != "" {
			t.Errorf("%s: %+v want %q", c.script, r, c.out)
		}
	}
}

func TestTrapAndLocal(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	cases := []struct {
		script, out string
		code        int
	}{
		{`tmp=/tmp/t.$$; touch $tmp; trap 'rm -f "$tmp"; echo cleaned' EXIT; echo work; exit 3`, "work\ncleaned\n", 3},
		{`trap 'echo bye' EXIT; trap - EXIT; echo only`, "only\n", 0},
		{`trap 'exit 9' EXIT; true`, "", 9},
		{`(trap 'echo sub-exit' EXIT; echo in-sub); echo after`, "in-sub\nsub-exit\nafter\n", 0},
		{`set -e; trap 'echo cleanup $?' EXIT; false; echo never`, "cleanup 1\n", 1},
		{`x=global; f() { local x=inner; echo $x; }; f; echo $x`, "inner\nglobal\n", 0},
		{`f() { local y; y=1; }; f; echo "[${y-unset}]"`, "[unset]\n", 0},
		{`g() { local v=g; h; echo "g:$v"; }; h() { v=changed-by-h; }; g; echo "top:${v-unset}"`, "g:changed-by-h\ntop:unset\n", 0},
	}
	for _, c := range cases {
		if r := run(t, i, c.script, "", nil); r.out != c.out || r.code != c.code {
			t.Errorf("%s: %+v want %q/%d", c.script, r, c.out, c.code)
		}
	}
	if r := run(t, i, `local x=1`, "", nil); r.code != 1 || !strings.Contains(r.err, "can only be used in a function") {
		t.Errorf("local outside function: %+v", r)
	}
	b, _ := i.FS().ReadDir("/tmp")
	for _, n := range b {
		if strings.HasPrefix(n, "t.") {
			t.Errorf("EXIT trap did not clean %s", n)
		}
	}
}

func TestSession(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	s := i.NewSession(context.Background(), map[string]string{"USER": "root"})
	defer s.Close()
	var out, errb bytes.Buffer
	for _, line := range []string{"cd /tmp", "X=kept; f() { echo f$1; }", "pwd; echo $X; f 1", "if true; then", "false"} {
		s.Run(line, nil, &out, &errb)
	}
	if out.String() != "/tmp\nkept\nf1\n" || !strings.Contains(errb.String(), "syntax error") {
		t.Fatalf("out %q err %q", out.String(), errb.String())
	}
	if code := s.Run("exit 4", nil, &out, &errb); code != 4 || !s.Exited() {
		t.Fatalf("exit: %d %v", code, s.Exited())
	}
	if code := s.Run("echo after", nil, &out, &errb); code != 4 || strings.Contains(out.String(), "after") {
		t.Fatal("ran a line after exit")
	}
}

func TestBackgroundJobsOutliveTheCaller(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	ctx, cancel := context.WithCancel(context.Background())
	// The firewall push shape: the session ends right after starting it.
	code := i.Run(ctx, `(nohup sh -c 'sleep 0.05; echo done > /tmp/bg' >/tmp/log 2>&1 &); (sleep 0.05; echo plain > /tmp/bg2) &`, nil, nil, nil, nil)
	cancel()
	if code != 0 {
		t.Fatal(code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, errA := i.FS().ReadFile("/tmp/bg")
		b, errB := i.FS().ReadFile("/tmp/bg2")
		if errA == nil && errB == nil {
			if string(a) != "done\n" || string(b) != "plain\n" {
				t.Fatalf("%q %q", a, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background jobs were killed with their session")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// KillAll stops detached jobs too.
	i.Run(context.Background(), `(sleep 0.2; touch /tmp/late) >/dev/null 2>&1 &`, nil, nil, nil, nil)
	i.KillAll()
	time.Sleep(400 * time.Millisecond)
	if _, err := i.FS().Stat("/tmp/late"); err == nil {
		t.Fatal("KillAll left a background job running")
	}
}

func TestBinShCannotBeReplaced(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	i.Register("/bin/sh", func(e *Env) int { e.Printf("impostor\n"); return 0 })
	if r := run(t, i, `/bin/sh -c 'echo $0 $1' zero one; /usr/bin/bash -e -c 'false; echo no'; echo $?`, "", nil); r.out != "zero one\n1\n" {
		t.Fatalf("%+v", r)
	}
}

func TestBackgroundOutputHoldsTheSession(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	// Like sshd, Run returns once no background job can still write to its
	// output: here after "a" was printed.
	if r := run(t, i, `(sleep 0.05; echo a) & echo b`, "", nil); r.out != "b\na\n" {
		t.Fatalf("%+v", r)
	}
	// Redirected jobs do not hold it.
	t0 := time.Now()
	run(t, i, `sleep 5 >/dev/null 2>&1 & echo started`, "", nil)
	if time.Since(t0) > 2*time.Second {
		t.Fatal("a redirected background job held the session")
	}
	i.KillAll()
}

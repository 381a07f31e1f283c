package shell

import (
	"strings"
	"testing"
	"time"
)

func TestBuiltinsTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, script, stdin string
		out                 string
		errSub              string
		code                int
	}{
		// test / [
		{"test -f", `test -f /tmp/three && echo f; test -f /tmp || echo notf`, "", "f\nnotf\n", "", 0},
		{"test -d -e", `[ -d /tmp ] && [ -e /tmp/three ] && [ ! -e /nope ] && echo ok`, "", "ok\n", "", 0},
		{"test -s", `[ -s /tmp/three ] && ! [ -s /tmp/empty ] && echo ok`, "", "ok\n", "", 0},
		{"test -x", `[ -x /root/tappaas/run.sh ] && ! [ -x /root/tappaas/noexec.sh ] && echo ok`, "", "ok\n", "", 0},
		{"test strings", `[ "a" = "a" ] && [ "a" != "b" ] && [ -n "x" ] && [ -z "" ] && echo ok`, "", "ok\n", "", 0},
		{"test ints", `[ 3 -gt 2 ] && [ 2 -le 2 ] && [ 1 -ne 2 ] && echo ok`, "", "ok\n", "", 0},
		{"test -a -o parens", `[ \( 1 -eq 2 -o 2 -eq 2 \) -a -f /tmp/three ] && echo ok`, "", "ok\n", "", 0},
		{"test bad int", `[ abc -eq 1 ]`, "", "", "bash: [: abc: integer expression expected", 2},
		{"[ missing ]", `[ -f /tmp/three`, "", "", "bash: [: missing `]'", 2},
		{"test no args false", `test`, "", "", "", 1},
		{"test -L", `ln -s /tmp/three /tmp/l && [ -L /tmp/l ] && [ -f /tmp/l ] && echo ok`, "", "ok\n", "", 0},
		// mkdir
		{"mkdir -p", `mkdir -p /a/b/c && [ -d /a/b/c ] && mkdir -p /a/b/c && echo ok`, "", "ok\n", "", 0},
		{"mkdir no parent", `mkdir /x/y`, "", "", "mkdir: cannot create directory '/x/y': No such file or directory", 1},
		{"mkdir exists", `mkdir /tmp`, "", "", "mkdir: cannot create directory '/tmp': File exists", 1},
		{"mkdir -m", `mkdir -m 700 /tmp/d && stat -c %a /tmp/d`, "", "700\n", "", 0},
		{"mkdir bad option", `mkdir -z /q`, "", "", "mkdir: invalid option -- 'z'", 1},
		// rm
		{"rm file", `rm /tmp/three && [ ! -e /tmp/three ] && echo gone`, "", "gone\n", "", 0},
		{"rm missing", `rm /nope`, "", "", "rm: cannot remove '/nope': No such file or directory", 1},
		{"rm -f missing", `rm -f /nope /nope2; echo $?`, "", "0\n", "", 0},
		{"rm dir", `rm /root/tappaas`, "", "", "rm: cannot remove '/root/tappaas': Is a directory", 1},
		{"rm -rf", `rm -rf /root/tappaas && ls /root`, "", "", "", 0},
		{"rm -rf /", `rm -rf /`, "", "", "dangerous to operate recursively on '/'", 1},
		// mv / cp
		{"mv", `mv /tmp/three /tmp/3 && cat /tmp/3 | head -n 1`, "", "one\n", "", 0},
		{"mv into dir", `mv /tmp/three /root && [ -f /root/three ] && echo ok`, "", "ok\n", "", 0},
		{"mv missing", `mv /nope /tmp/x`, "", "", "mv: cannot stat '/nope': No such file or directory", 1},
		{"mv no operand", `mv`, "", "", "mv: missing file operand\nTry 'mv --help' for more information.", 1},
		{"cp no operand", `cp`, "", "", "cp: missing file operand", 1},
		{"mv no destination", `mv /tmp/three`, "", "", "mv: missing destination file operand after '/tmp/three'", 1},
		{"mv many into a file", `mv /tmp/three /tmp/three /tmp/three`, "", "", "mv: target '/tmp/three': Not a directory", 1},
		{"cp no destination", `cp /tmp/three`, "", "", "cp: missing destination file operand after '/tmp/three'\nTry 'cp --help' for more information.", 1},
		{"cp many into a file", `cp /tmp/three /tmp/three /tmp/three`, "", "", "cp: target '/tmp/three': Not a directory", 1},
		{"cp", `cp /tmp/three /tmp/c && cmp=$(cat /tmp/c) && echo "$cmp" | wc -l`, "", "3\n", "", 0},
		{"cp dir needs -r", `cp /root/tappaas /tmp/t`, "", "", "cp: -r not specified; omitting directory '/root/tappaas'", 1},
		{"cp -r", `cp -r /root/tappaas /tmp/t && ls /tmp/t`, "", "noexec.sh\nrun.sh\n", "", 0},
		{"cp -a keeps mode", `cp -a /root/tappaas/run.sh /tmp/r && stat -c %a /tmp/r`, "", "755\n", "", 0},
		// chmod
		{"chmod 600", `chmod 600 /tmp/three && stat -c '%a %A' /tmp/three`, "", "600 -rw-------\n", "", 0},
		{"chmod +x", `chmod +x /tmp/three && stat -c %a /tmp/three && [ -x /tmp/three ]`, "", "755\n", "", 0},
		{"chmod u+x,go-r", `chmod u+x,go-r /tmp/three && stat -c %a /tmp/three`, "", "700\n", "", 0},
		{"chmod 0644", `chmod 0644 /root/tappaas/run.sh && stat -c %a /root/tappaas/run.sh`, "", "644\n", "", 0},
		{"chmod bad mode", `chmod zz /tmp/three`, "", "", "chmod: invalid mode: 'zz'", 1},
		{"chmod missing", `chmod 600 /nope`, "", "", "chmod: cannot access '/nope': No such file or directory", 1},
		{"chmod -R", `chmod -R 700 /root/tappaas && stat -c %a /root/tappaas/noexec.sh`, "", "700\n", "", 0},
		// tee / cat
		{"tee", `echo x | tee /tmp/t1 /tmp/t2 && cat /tmp/t1 /tmp/t2`, "", "x\nx\nx\n", "", 0},
		{"tee -a", `echo y | tee -a /tmp/three >/dev/null && tail -n 1 /tmp/three`, "", "y\n", "", 0},
		{"tee bad dir", `echo x | tee /nope/f`, "", "x\n", "tee: /nope/f: No such file or directory", 1},
		{"cat missing", `cat /tmp/three /nope`, "", "one\ntwo\nthree\n", "cat: /nope: No such file or directory", 1},
		{"cat dir", `cat /tmp`, "", "", "cat: /tmp: Is a directory", 1},
		{"cat stdin dash", `echo in | cat /tmp/empty - /tmp/empty`, "", "in\n", "", 0},
		{"cat -n", `cat -n /tmp/three | head -n 1`, "", "     1\tone\n", "", 0},
		// echo / printf
		{"echo -n -e", `echo -n a; echo -e 'b\tc'; echo -e 'x\cy'; echo -E 'a\tb'`, "", "ab\tc\nxa\\tb\n", "", 0},
		{"echo not option", `echo -x a`, "", "-x a\n", "", 0},
		{"printf", `printf '%s=%d|%5s|%-3s|%03d|%x\n' a 42 r l 7 255`, "", "a=42|    r|l  |007|ff\n", "", 0},
		{"printf reuse format", `printf '%s\n' a b c`, "", "a\nb\nc\n", "", 0},
		{"printf %b and %%", `printf '%b %%\n' 'x\ty'`, "", "x\ty %\n", "", 0},
		{"printf bad number", `printf '%d\n' abc`, "", "0\n", "printf: abc: invalid number", 1},
		// sha256sum
		{"sha256sum file", `sha256sum /tmp/three`, "", "b6285c57e8797db5d4c51c80d6f11938afda9b11c6a003549709189e9b4b92a2  /tmp/three\n", "", 0},
		{"sha256sum stdin", `printf abc | sha256sum`, "", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n", "", 0},
		{"sha256sum missing", `sha256sum /nope`, "", "", "sha256sum: /nope: No such file or directory", 1},
		{"sha256sum -c ok", `sha256sum /tmp/three > /tmp/sums && sha256sum -c /tmp/sums`, "", "/tmp/three: OK\n", "", 0},
		{"sha256sum -c fail", `sha256sum /tmp/three > /tmp/sums && echo x >> /tmp/three && sha256sum -c /tmp/sums`, "", "/tmp/three: FAILED\n", "WARNING: 1 computed checksum did NOT match", 1},
		// head / tail
		{"head -n", `head -n 2 /tmp/three`, "", "one\ntwo\n", "", 0},
		{"head -1", `head -1 /tmp/three`, "", "one\n", "", 0},
		{"head -c", `head -c 5 /tmp/three`, "", "one\ntw"[:5], "", 0},
		{"head missing", `head /nope`, "", "", "head: cannot open '/nope' for reading: No such file or directory", 1},
		{"tail -n", `tail -n 2 /tmp/three`, "", "two\nthree\n", "", 0},
		{"tail -n +2", `tail -n +2 /tmp/three`, "", "two\nthree\n", "", 0},
		{"tail stdin", `printf 'a\nb\n' | tail -1`, "", "b\n", "", 0},
		// grep
		{"grep -q hit", `grep -q two /tmp/three && echo hit`, "", "hit\n", "", 0},
		{"grep -q miss", `grep -q four /tmp/three; echo $?`, "", "1\n", "", 0},
		{"grep -E", `grep -E '^(one|three)$' /tmp/three`, "", "one\nthree\n", "", 0},
		{"grep BRE", `grep 't\(wo\|hree\)' /tmp/three`, "", "two\nthree\n", "", 0},
		{"grep BRE literal plus", `echo 'a+b' | grep 'a+b'`, "", "a+b\n", "", 0},
		{"grep -c", `grep -c o /tmp/three`, "", "2\n", "", 0},
		{"grep -c zero", `grep -c zzz /tmp/three`, "", "0\n", "", 1},
		{"grep -v -n", `grep -vn two /tmp/three`, "", "1:one\n3:three\n", "", 0},
		{"grep -i -x", `echo TWO | grep -ix two`, "", "TWO\n", "", 0},
		{"grep -F", `echo 'a.b' | grep -F 'a.b'; echo 'axb' | grep -cF 'a.b'`, "", "a.b\n0\n", "", 1},
		{"grep -o", `echo 'ip 10.0.0.1 gw 10.0.0.10' | grep -oE '[0-9.]+'`, "", "10.0.0.1\n10.0.0.10\n", "", 0},
		{"grep -e twice", `grep -e one -e three /tmp/three`, "", "one\nthree\n", "", 0},
		{"grep missing file", `grep x /nope`, "", "", "grep: /nope: No such file or directory", 2},
		{"grep bad regex", `grep -E '(' /tmp/three`, "", "", "grep: Unmatched ( or \\(", 2},
		{"grep multiple files", `grep -H one /tmp/three /tmp/empty`, "", "/tmp/three:one\n", "", 0},
		{"grep class", `echo 'ab12' | grep -oE '[[:digit:]]+'`, "", "12\n", "", 0},
		// base64
		{"base64 roundtrip", `echo hello | base64 && echo aGVsbG8K | base64 -d`, "", "aGVsbG8K\nhello\n", "", 0},
		{"base64 -w0", `head -c 60 /tmp/three | base64 -w 0; echo`, "", "b25lCnR3bwp0aHJlZQo=\n", "", 0},
		{"base64 invalid", `echo '!!!' | base64 -d`, "", "", "base64: invalid input", 1},
		// wc
		{"wc -l file", `wc -l /tmp/three`, "", "3 /tmp/three\n", "", 0},
		{"wc -l stdin", `wc -l < /tmp/three`, "", "3\n", "", 0},
		{"wc -c", `printf abc | wc -c`, "", "3\n", "", 0},
		{"wc missing", `wc -l /nope`, "", "", "wc: /nope: No such file or directory", 1},
		// ls / stat / touch / ln
		{"ls dir", `ls /root/tappaas`, "", "noexec.sh\nrun.sh\n", "", 0},
		{"ls missing", `ls /nope`, "", "", "ls: cannot access '/nope': No such file or directory", 2},
		{"ls -l", `ls -l /tmp/three | cut -d' ' -f1-5`, "", "-rw-r--r-- 1 root root 14\n", "", 0},
		{"ls -d", `ls -d /tmp`, "", "/tmp\n", "", 0},
		{"stat -c", `stat -c '%n %s %F' /tmp/three /tmp/empty /tmp`, "", "/tmp/three 14 regular file\n/tmp/empty 0 regular empty file\n/tmp 4096 directory\n", "", 0},
		{"stat missing", `stat /nope`, "", "", "stat: cannot statx '/nope': No such file or directory", 1},
		{"touch creates", `touch /tmp/new && [ -f /tmp/new ] && [ ! -s /tmp/new ] && echo ok`, "", "ok\n", "", 0},
		{"touch keeps content", `touch /tmp/three && wc -l < /tmp/three`, "", "3\n", "", 0},
		{"touch bad dir", `touch /nope/x`, "", "", "touch: cannot touch '/nope/x': No such file or directory", 1},
		{"ln -s and readlink", `ln -s three /tmp/l && readlink /tmp/l && cat /tmp/l | head -n1`, "", "three\none\n", "", 0},
		{"ln exists", `ln -s /a /tmp/three`, "", "", "ln: failed to create symbolic link '/tmp/three': File exists", 1},
		{"ln -sf", `ln -sf /tmp/empty /tmp/three && readlink -f /tmp/three`, "", "/tmp/empty\n", "", 0},
		// misc
		{"basename dirname", `basename /a/b/c.sh .sh; dirname /a/b/c.sh`, "", "c\n/a/b\n", "", 0},
		{"hostname", `hostname; hostname -f`, "", "tappaas1\ntappaas1\n", "", 0},
		{"uname", `uname; uname -r; uname -m`, "", "Linux\n6.14.8-2-pve\nx86_64\n", "", 0},
		{"env prints", `env -i A=1 B=2 env`, "", "A=1\nB=2\n", "", 0},
		{"env runs", `env X=7 sh -c 'echo $X'`, "", "7\n", "", 0},
		{"env unknown", `env nosuch`, "", "", "env: 'nosuch': No such file or directory", 127},
		{"sudo unknown", `sudo nosuch`, "", "", "sudo: nosuch: command not found", 1},
		{"sudo builtin is not a program", `sudo cd /`, "", "", "sudo: cd: command not found", 1},
		{"nohup unknown", `nohup nosuch`, "", "", "nohup: failed to run command 'nosuch'", 127},
		{"timeout unknown", `timeout 1 nosuch`, "", "", "timeout: failed to run command 'nosuch'", 127},
		{"sudo script", `sudo /root/tappaas/run.sh a`, "", "script /root/tappaas/run.sh got 1 args: a\n", "", 7},
		{"date format", `date -u -d @0 +%Y-%m-%dT%H:%M:%SZ`, "", "1970-01-01T00:00:00Z\n", "", 0},
		{"date bad", `date -d garbage`, "", "", "date: invalid date 'garbage'", 1},
		{"tr", `echo Hello | tr '[:lower:]' '[:upper:]'; echo a/b+c= | tr -d '/+='`, "", "HELLO\nabc\n", "", 0},
		{"cut", `echo 'key=value=x' | cut -d= -f2-`, "", "value=x\n", "", 0},
		{"cut chars", `echo abcdef | cut -c1-3`, "", "abc\n", "", 0},
		{"sort -u -r", `printf 'b\na\nb\n' | sort -ur`, "", "b\na\n", "", 0},
		{"mktemp", `f=$(mktemp) && [ -f "$f" ] && stat -c %a "$f" && d=$(mktemp -d) && [ -d "$d" ] && echo dir`, "", "600\ndir\n", "", 0},
		{"seq", `seq 3; seq -s, 2 4`, "", "1\n2\n3\n2,3,4\n", "", 0},
		{"xargs", `echo /tmp/three /tmp/empty | xargs wc -l | tail -n1`, "", " 3 total\n", "", 0},
		{"find", `find /root/tappaas -name '*.sh' -type f`, "", "/root/tappaas/noexec.sh\n/root/tappaas/run.sh\n", "", 0},
		{"timeout expires", `timeout 0.05 sleep 5; echo $?`, "", "124\n", "", 0},
		{"timeout ok", `timeout 5 true; echo $?`, "", "0\n", "", 0},
		{"sudo", `sudo -n id -u`, "", "0\n", "", 0},
		{"nohup", `nohup echo bg > /tmp/log 2>&1 & wait; cat /tmp/log`, "", "bg\n", "", 0},
		{"read -r split", `echo "a b c" | { read -r x y; echo "$x|$y"; }`, "", "a|b c\n", "", 0},
		{"realpath", `cd /tmp && realpath three`, "", "/tmp/three\n", "", 0},
		{"which", `which cat; which nosuch; echo $?`, "", "/usr/bin/cat\n1\n", "", 0},
		{"umask", `umask 077; echo x > /tmp/u; stat -c %a /tmp/u`, "", "600\n", "", 0},
		{"cd missing", `cd /nope`, "", "", "bash: line 1: cd: /nope: No such file or directory", 1},
		{"source", `echo 'V=sourced' > /tmp/s.sh; . /tmp/s.sh; echo $V`, "", "sourced\n", "", 0},
		{"eval", `eval 'echo $((2+3))'`, "", "5\n", "", 0},
		{"type", `type cd; type cat`, "", "cd is a shell builtin\ncat is /usr/bin/cat\n", "", 0},
		{"unknown option message", `cat --bogus`, "", "", "cat: unrecognized option '--bogus'\nTry 'cat --help' for more information.", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, seeded(t), c.script, c.stdin, nil)
			if r.out != c.out || r.code != c.code {
				t.Errorf("script %q:\n got out=%q code=%d (stderr %q)\nwant out=%q code=%d", c.script, r.out, r.code, r.err, c.out, c.code)
			}
			if c.errSub == "" && r.err != "" {
				t.Errorf("script %q: unexpected stderr %q", c.script, r.err)
			}
			if c.errSub != "" && !strings.Contains(r.err, c.errSub) {
				t.Errorf("script %q: stderr %q does not contain %q", c.script, r.err, c.errSub)
			}
		})
	}
}

func TestDateUsesClock(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	i.Now = func() time.Time { return time.Date(2026, 7, 2, 10, 4, 5, 0, time.UTC) }
	if r := run(t, i, `date +%s; date -u`, "", nil); r.out != "1782986645\nThu Jul  2 10:04:05 UTC 2026\n" {
		t.Fatalf("%q", r.out)
	}
}

func TestHostnameSet(t *testing.T) {
	t.Parallel()
	i := seeded(t)
	i.Host.Domain = "mgmt.internal"
	i.Host.IPs = []string{"192.168.1.10", "10.0.0.10"}
	if r := run(t, i, `hostname -f; hostname -I`, "", nil); r.out != "tappaas1.mgmt.internal\n192.168.1.10 10.0.0.10 \n" {
		t.Fatalf("%q", r.out)
	}
	if r := run(t, i, `hostname other`, "", map[string]string{"USER": "bob"}); r.code != 1 {
		t.Fatalf("non-root hostname change: %+v", r)
	}
}

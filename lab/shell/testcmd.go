package shell

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

func contextWithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, d)
}

// testError is a test(1) usage error: status 2 with bash's message.
type testError string

// cmdTest is test and [ with bash's semantics for the operators the
// installer uses (file tests, string and integer comparisons, ! -a -o and
// parentheses).
func cmdTest(e *Env) (code int) {
	args := e.Args[1:]
	name := e.Args[0]
	if name == "[" {
		if len(args) == 0 || args[len(args)-1] != "]" {
			fmt.Fprintf(e.Stderr, "bash: [: missing `]'\n")
			return 2
		}
		args = args[:len(args)-1]
	}
	defer func() {
		if r := recover(); r != nil {
			te, ok := r.(testError)
			if !ok {
				panic(r)
			}
			if e.st != nil && e.st.dash {
				fmt.Fprintf(e.Stderr, "%s%s: %s\n", e.st.prefix(e.st.line), name, string(te))
			} else {
				fmt.Fprintf(e.Stderr, "bash: %s: %s\n", name, string(te))
			}
			code = 2
		}
	}()
	t := &tester{e: e, args: args}
	if t.eval() {
		return 0
	}
	return 1
}

type tester struct {
	e     *Env
	args  []string
	pos   int
	depth int
}

func (t *tester) eval() bool {
	switch len(t.args) {
	case 0:
		return false
	case 1:
		return t.args[0] != ""
	case 2:
		if t.args[0] == "!" {
			return t.args[1] == ""
		}
		if isUnary(t.args[0]) {
			return t.unary(t.args[0], t.args[1])
		}
		panic(testError(t.args[0] + ": unary operator expected"))
	case 3:
		if isBinary(t.args[1]) {
			return t.binary(t.args[0], t.args[1], t.args[2])
		}
		if t.args[0] == "!" {
			sub := &tester{e: t.e, args: t.args[1:]}
			return !sub.eval()
		}
		if t.args[0] == "(" && t.args[2] == ")" {
			return t.args[1] != ""
		}
		if t.args[1] == "-a" || t.args[1] == "-o" {
			break
		}
		panic(testError(t.args[1] + ": binary operator expected"))
	case 4:
		if t.args[0] == "!" {
			sub := &tester{e: t.e, args: t.args[1:]}
			return !sub.eval()
		}
	}
	v := t.or()
	if t.pos < len(t.args) {
		panic(testError("too many arguments"))
	}
	return v
}

func (t *tester) peek() (string, bool) {
	if t.pos < len(t.args) {
		return t.args[t.pos], true
	}
	return "", false
}

func (t *tester) or() bool {
	v := t.and()
	for {
		if a, ok := t.peek(); !ok || a != "-o" {
			return v
		}
		t.pos++
		r := t.and()
		v = v || r
	}
}

func (t *tester) and() bool {
	v := t.not()
	for {
		if a, ok := t.peek(); !ok || a != "-a" {
			return v
		}
		t.pos++
		r := t.not()
		v = v && r
	}
}

func (t *tester) not() bool {
	t.depth++
	if t.depth > 100 {
		panic(testError("expression nested too deeply"))
	}
	defer func() { t.depth-- }()
	if a, ok := t.peek(); ok && a == "!" {
		t.pos++
		return !t.not()
	}
	return t.primary()
}

func (t *tester) primary() bool {
	a, ok := t.peek()
	if !ok {
		panic(testError("argument expected"))
	}
	if a == "(" {
		t.pos++
		v := t.or()
		if c, ok := t.peek(); !ok || c != ")" {
			panic(testError("`)' expected"))
		}
		t.pos++
		return v
	}
	if isUnary(a) && t.pos+1 < len(t.args) {
		t.pos += 2
		return t.unary(a, t.args[t.pos-1])
	}
	if t.pos+2 < len(t.args) && isBinary(t.args[t.pos+1]) {
		t.pos += 3
		return t.binary(a, t.args[t.pos-2], t.args[t.pos-1])
	}
	t.pos++
	return a != ""
}

func isUnary(op string) bool {
	switch op {
	case "-e", "-f", "-d", "-s", "-x", "-r", "-w", "-L", "-h", "-n", "-z", "-b", "-c", "-p", "-S", "-t", "-O", "-G", "-g", "-u", "-k", "-a", "-v":
		return true
	}
	return false
}

func isBinary(op string) bool {
	switch op {
	case "=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef":
		return true
	}
	return false
}

func (t *tester) unary(op, arg string) bool {
	switch op {
	case "-n":
		return arg != ""
	case "-z":
		return arg == ""
	case "-t":
		return false
	case "-v":
		_, ok := t.e.Vars[arg]
		return ok
	}
	if arg == "" {
		return false
	}
	p := t.e.Abs(arg)
	if op == "-L" || op == "-h" {
		fi, err := lstat(t.e.FS, p)
		return err == nil && fi.Mode&fs.ModeSymlink != 0
	}
	fi, err := t.e.FS.Stat(p)
	if err != nil {
		return false
	}
	root := t.e.User == "root"
	switch op {
	case "-e", "-a":
		return true
	case "-f":
		return !fi.IsDir
	case "-d":
		return fi.IsDir
	case "-s":
		return fi.Size > 0
	case "-x":
		return fi.Mode.Perm()&0o111 != 0 || (root && fi.IsDir)
	case "-r":
		return root || fi.Mode.Perm()&0o444 != 0
	case "-w":
		return root || fi.Mode.Perm()&0o222 != 0
	case "-O", "-G":
		return root
	case "-u":
		return fi.Mode&fs.ModeSetuid != 0
	case "-g":
		return fi.Mode&fs.ModeSetgid != 0
	case "-k":
		return fi.Mode&fs.ModeSticky != 0
	}
	return false // -b -c -p -S: no devices, pipes or sockets in the lab
}

func testInt(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		panic(testError(s + ": integer expression expected"))
	}
	return n
}

func (t *tester) binary(l, op, r string) bool {
	if op == "==" && t.e.st != nil && t.e.st.dash {
		panic(testError(l + ": unexpected operator"))
	}
	switch op {
	case "=", "==":
		return l == r
	case "!=":
		return l != r
	case "<":
		return l < r
	case ">":
		return l > r
	case "-eq":
		return testInt(l) == testInt(r)
	case "-ne":
		return testInt(l) != testInt(r)
	case "-lt":
		return testInt(l) < testInt(r)
	case "-le":
		return testInt(l) <= testInt(r)
	case "-gt":
		return testInt(l) > testInt(r)
	case "-ge":
		return testInt(l) >= testInt(r)
	case "-nt", "-ot":
		a, errA := t.e.FS.Stat(t.e.Abs(l))
		b, errB := t.e.FS.Stat(t.e.Abs(r))
		if op == "-nt" {
			return errA == nil && (errB != nil || a.ModTime.After(b.ModTime))
		}
		return errB == nil && (errA != nil || a.ModTime.Before(b.ModTime))
	case "-ef":
		return t.e.Abs(l) == t.e.Abs(r)
	}
	return false
}

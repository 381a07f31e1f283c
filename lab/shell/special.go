package shell

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
)

// specialBuiltin runs inside the shell process (it may change variables,
// the directory, options or control flow). They cannot be replaced by
// Register.
type specialBuiltin func(st *state, argv []string, line int) int

var specialBuiltins map[string]specialBuiltin

func init() {
	specialBuiltins = map[string]specialBuiltin{
		"cd": sbCd, "pwd": sbPwd, "export": sbExport, "unset": sbUnset, "set": sbSet,
		"exit": sbExit, "return": sbReturn, "break": sbBreak, "continue": sbContinue,
		"shift": sbShift, "read": sbRead, "eval": sbEval, "source": sbSource, ".": sbSource,
		"local": sbLocal, "readonly": sbLocal, "declare": sbLocal, "typeset": sbLocal,
		"exec": sbExec, "wait": sbWait, "kill": sbKill, "trap": sbTrap, "hash": sbNoop, "alias": sbNoop,
		"unalias": sbNoop, "shopt": sbNoop, "umask": sbUmask, "sh": sbShell, "bash": sbShell,
		"dash": sbShell, "command": sbCommand, "type": sbType,
	}
}

func (st *state) builtinErr(line int, name, format string, a ...any) {
	st.errorf("%s%s: %s\n", st.prefix(line), name, fmt.Sprintf(format, a...))
}

func sbNoop(st *state, argv []string, line int) int { return 0 }

// sbTrap keeps an EXIT trap (run when the shell ends); traps on signals
// are accepted and ignored (the lab delivers only KILL-like stops).
func sbTrap(st *state, argv []string, line int) int {
	args := argv[1:]
	if len(args) == 0 || args[0] == "-p" {
		if st.exitTrap != "" {
			fmt.Fprintf(st.io.out, "trap -- %s EXIT\n", quoteWord(st.exitTrap))
		}
		return 0
	}
	if args[0] == "-l" {
		fmt.Fprintln(st.io.out, " 1) SIGHUP	 2) SIGINT	 3) SIGQUIT	 9) SIGKILL	15) SIGTERM")
		return 0
	}
	action := args[0]
	sigs := args[1:]
	if len(sigs) == 0 {
		// "trap SIG" resets SIG
		sigs, action = args, "-"
	}
	for _, sg := range sigs {
		switch strings.TrimPrefix(strings.ToUpper(sg), "SIG") {
		case "EXIT", "0":
			if action == "-" {
				st.exitTrap = ""
			} else {
				st.exitTrap = action
			}
		case "INT", "TERM", "HUP", "QUIT", "ERR", "RETURN", "DEBUG", "PIPE", "USR1", "USR2", "ALRM", "2", "15", "1", "3":
		default:
			st.builtinErr(line, "trap", "%s: invalid signal specification", sg)
			return 1
		}
	}
	return 0
}

func sbCd(st *state, argv []string, line int) int {
	args := argv[1:]
	if len(args) > 0 && (args[0] == "-L" || args[0] == "-P") {
		args = args[1:]
	}
	if len(args) > 1 {
		st.builtinErr(line, "cd", "too many arguments")
		return 1
	}
	dir := st.vars["HOME"]
	if len(args) == 1 {
		dir = args[0]
		if dir == "-" {
			dir = st.vars["OLDPWD"]
			if dir == "" {
				st.builtinErr(line, "cd", "OLDPWD not set")
				return 1
			}
			fmt.Fprintln(st.io.out, dir)
		}
	}
	p := st.abs(dir)
	fi, err := st.fs.Stat(p)
	if st.dash && (err != nil || !fi.IsDir) {
		st.builtinErr(line, "cd", "can't cd to %s", dir)
		return 2
	}
	if err != nil {
		st.builtinErr(line, "cd", "%s: %s", dir, errText(err))
		return 1
	}
	if !fi.IsDir {
		st.builtinErr(line, "cd", "%s: Not a directory", dir)
		return 1
	}
	st.vars["OLDPWD"] = st.cwd
	st.cwd = p
	st.vars["PWD"] = p
	return 0
}

func sbPwd(st *state, argv []string, line int) int {
	fmt.Fprintln(st.io.out, st.cwd)
	return 0
}

func assignArg(st *state, a string) {
	if name, v, ok := strings.Cut(a, "="); ok {
		st.vars[name] = v
	}
}

func sbExport(st *state, argv []string, line int) int {
	status := 0
	for _, a := range argv[1:] {
		if a == "-p" || a == "-n" || a == "--" {
			continue
		}
		name, _, _ := strings.Cut(a, "=")
		if !IsName(name) {
			st.builtinErr(line, argv[0], "`%s': not a valid identifier", a)
			status = 1
			continue
		}
		assignArg(st, a)
	}
	if len(argv) == 1 || len(argv) == 2 && argv[1] == "-p" {
		names := make([]string, 0, len(st.vars))
		for k := range st.vars {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(st.io.out, "declare -x %s=\"%s\"\n", k, strings.ReplaceAll(st.vars[k], `"`, `\"`))
		}
	}
	return status
}

func sbLocal(st *state, argv []string, line int) int {
	for _, a := range argv[1:] {
		if strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(a, "=")
		if !IsName(name) {
			st.builtinErr(line, argv[0], "`%s': not a valid identifier", a)
			return 1
		}
		if argv[0] == "local" {
			if len(st.locals) == 0 {
				st.builtinErr(line, "local", "can only be used in a function")
				return 1
			}
			top := st.locals[len(st.locals)-1]
			if _, saved := top[name]; !saved {
				old, set := st.vars[name]
				top[name] = savedVar{val: old, set: set}
			}
		}
		if strings.Contains(a, "=") {
			assignArg(st, a)
		} else if _, ok := st.vars[name]; !ok || argv[0] == "local" {
			st.vars[name] = ""
		}
	}
	return 0
}

func sbUnset(st *state, argv []string, line int) int {
	funcs := false
	for _, a := range argv[1:] {
		switch a {
		case "-f":
			funcs = true
			continue
		case "-v":
			continue
		}
		if funcs {
			delete(st.funcs, a)
		} else {
			delete(st.vars, a)
		}
	}
	return 0
}

func sbSet(st *state, argv []string, line int) int {
	args := argv[1:]
	if len(args) == 0 {
		names := make([]string, 0, len(st.vars))
		for k := range st.vars {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(st.io.out, "%s=%s\n", k, quoteWord(st.vars[k]))
		}
		return 0
	}
	for k := 0; k < len(args); k++ {
		a := args[k]
		if a == "--" {
			st.args = append([]string(nil), args[k+1:]...)
			return 0
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			st.args = append([]string(nil), args[k:]...)
			return 0
		}
		on := a[0] == '-'
		for _, f := range a[1:] {
			switch f {
			case 'e':
				st.errexit = on
			case 'u':
				st.nounset = on
			case 'x':
				st.xtrace = on
			case 'o':
				if k+1 >= len(args) {
					return 0
				}
				k++
				switch args[k] {
				case "errexit":
					st.errexit = on
				case "nounset":
					st.nounset = on
				case "xtrace":
					st.xtrace = on
				case "pipefail":
					if st.dash {
						// a special builtin's error ends a non-interactive dash
						st.errorf("%sset: Illegal option -o pipefail\n", st.prefix(line))
						st.exiting, st.exitCode = true, 2
						return 2
					}
					st.pipefail = on
				case "noclobber":
					st.noclobber = on
				case "noglob", "posix", "errtrace", "functrace", "verbose", "allexport", "monitor":
				default:
					st.builtinErr(line, "set", "%s: invalid option name", args[k])
					return 2
				}
			case 'C':
				st.noclobber = on
			case 'a', 'b', 'f', 'h', 'm', 'n', 'v', 'E', 'T', 'B', 'H', 'P':
			default:
				st.builtinErr(line, "set", "%c%c: invalid option", a[0], f)
				return 2
			}
		}
	}
	return 0
}

func numArg(st *state, argv []string, line int, def int) (int, bool) {
	if len(argv) < 2 {
		return def, true
	}
	n, err := strconv.Atoi(argv[1])
	if err != nil {
		st.builtinErr(line, argv[0], "%s: numeric argument required", argv[1])
		return 2, false
	}
	return n, true
}

func sbExit(st *state, argv []string, line int) int {
	n, ok := numArg(st, argv, line, st.status)
	if !ok {
		n = 2
	}
	st.exiting = true
	st.exitCode = n & 0xff
	return st.exitCode
}

func sbReturn(st *state, argv []string, line int) int {
	n, ok := numArg(st, argv, line, st.status)
	if !ok {
		n = 2
	}
	if st.funcDepth == 0 && st.script == "" {
		st.builtinErr(line, "return", "can only `return' from a function or sourced script")
		return 1
	}
	st.returning = true
	st.status = n & 0xff
	return st.status
}

func sbBreak(st *state, argv []string, line int) int {
	n, ok := numArg(st, argv, line, 1)
	if !ok || n < 1 {
		return 1
	}
	if st.loopDepth == 0 {
		return 0
	}
	st.breakN = min(n, st.loopDepth)
	return 0
}

func sbContinue(st *state, argv []string, line int) int {
	n, ok := numArg(st, argv, line, 1)
	if !ok || n < 1 {
		return 1
	}
	if st.loopDepth == 0 {
		return 0
	}
	st.contN = min(n, st.loopDepth)
	return 0
}

func sbShift(st *state, argv []string, line int) int {
	n, ok := numArg(st, argv, line, 1)
	if !ok {
		return 1
	}
	if n > len(st.args) || n < 0 {
		return 1
	}
	st.args = st.args[n:]
	return 0
}

// readLine reads one line byte by byte so the rest of stdin stays
// available to the next command.
func readLine(r io.Reader, delim byte) (string, bool) {
	var b []byte
	one := make([]byte, 1)
	for {
		n, err := r.Read(one)
		if n == 1 {
			if one[0] == delim {
				return string(b), true
			}
			b = append(b, one[0])
			if len(b) > 1<<20 {
				return string(b), true
			}
			continue
		}
		if err != nil {
			return string(b), false
		}
	}
}

func sbRead(st *state, argv []string, line int) int {
	raw := false
	delim := byte('\n')
	var names []string
	args := argv[1:]
	for k := 0; k < len(args); k++ {
		a := args[k]
		switch {
		case a == "-r":
			raw = true
		case a == "-s":
		case a == "-p" || a == "-t" || a == "-n" || a == "-u":
			k++
		case a == "-d":
			k++
			if k < len(args) {
				if args[k] == "" {
					delim = 0
				} else {
					delim = args[k][0]
				}
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, f := range a[1:] {
				if f == 'r' {
					raw = true
				}
			}
		default:
			names = append(names, a)
		}
	}
	if len(names) == 0 {
		names = []string{"REPLY"}
	}
	text, ok := readLine(st.io.in, delim)
	if !raw {
		text = strings.ReplaceAll(text, "\\\n", "")
		var b strings.Builder
		esc := false
		for _, r := range text {
			if r == '\\' && !esc {
				esc = true
				continue
			}
			esc = false
			b.WriteRune(r)
		}
		text = b.String()
	}
	env := st.vars
	if st.callVars != nil {
		env = st.callVars // IFS= read … applies to read only
	}
	ifs, set := env["IFS"]
	if !set {
		ifs = " \t\n"
	}
	if len(names) == 1 {
		if names[0] != "REPLY" {
			ws := ""
			for _, r := range " \t\n" {
				if strings.ContainsRune(ifs, r) {
					ws += string(r)
				}
			}
			text = strings.Trim(text, ws)
		}
		st.vars[names[0]] = text
	} else {
		fields := strings.FieldsFunc(text, func(r rune) bool { return strings.ContainsRune(ifs, r) })
		for k, n := range names {
			switch {
			case k < len(fields) && k == len(names)-1:
				st.vars[n] = strings.Join(fields[k:], " ")
			case k < len(fields):
				st.vars[n] = fields[k]
			default:
				st.vars[n] = ""
			}
		}
	}
	if !ok {
		return 1
	}
	return 0
}

func sbEval(st *state, argv []string, line int) int {
	src := strings.Join(argv[1:], " ")
	s, err := parse(src)
	if err != nil {
		st.errorf("%seval: %v\n", st.prefix(line), err)
		return 2
	}
	st.depth++
	defer func() { st.depth-- }()
	if st.depth > maxDepth {
		st.errorf("%seval: maximum nesting level exceeded\n", st.prefix(line))
		return 2
	}
	st.runScript(s)
	if st.exiting {
		return st.exitCode
	}
	return st.status
}

func sbSource(st *state, argv []string, line int) int {
	if len(argv) < 2 {
		st.builtinErr(line, argv[0], "filename argument required")
		return 2
	}
	b, err := st.fs.ReadFile(st.abs(argv[1]))
	if err != nil {
		st.builtinErr(line, argv[0], "%s: %s", argv[1], errText(err))
		return 1
	}
	s, perr := parse(string(b))
	if perr != nil {
		st.errorf("%s: %v\n", argv[1], perr)
		return 2
	}
	saved := st.args
	if len(argv) > 2 {
		st.args = argv[2:]
	}
	st.depth++
	st.funcDepth++
	st.runScript(s)
	st.funcDepth--
	st.depth--
	st.args = saved
	st.returning = false
	if st.exiting {
		return st.exitCode
	}
	return st.status
}

func sbExec(st *state, argv []string, line int) int {
	if len(argv) == 1 {
		return 0
	}
	code := st.call(argv[1:], st.vars, line, false)
	st.exiting = true
	st.exitCode = code
	return code
}

func sbUmask(st *state, argv []string, line int) int {
	if len(argv) == 1 {
		fmt.Fprintf(st.io.out, "%04o\n", st.umask)
		return 0
	}
	n, err := strconv.ParseUint(argv[len(argv)-1], 8, 32)
	if err != nil || n > 0o777 {
		st.builtinErr(line, "umask", "%s: octal number out of range", argv[len(argv)-1])
		return 1
	}
	st.umask = modeFromUint(n)
	return 0
}

// sbShell is sh/bash: -c SCRIPT [NAME [ARGS]], FILE [ARGS], or a script on
// standard input (-s or no operand).
func sbShell(st *state, argv []string, line int) int {
	child := st.sub()
	if st.callVars != nil {
		child.vars = copyVars(st.callVars)
	}
	child.dash = st.in.isDash(argv[0])
	child.arg0 = argv[0]
	child.funcs = map[string]command{}
	child.script = ""
	child.errexit, child.pipefail, child.nounset, child.xtrace = false, false, false, false
	args := argv[1:]
	cmdMode, stdinMode := false, false
	k := 0
	for ; k < len(args); k++ {
		a := args[k]
		if a == "--" {
			k++
			break
		}
		if a == "-o" || a == "+o" {
			if k+1 < len(args) && args[k+1] == "pipefail" {
				child.pipefail = a == "-o"
			}
			k++
			continue
		}
		if !strings.HasPrefix(a, "-") || a == "-" || strings.HasPrefix(a, "--") {
			if strings.HasPrefix(a, "--") && len(a) > 2 {
				continue // --login, --norc, --noprofile
			}
			break
		}
		for _, f := range a[1:] {
			switch f {
			case 'c':
				cmdMode = true
			case 's':
				stdinMode = true
			case 'e':
				child.errexit = true
			case 'u':
				child.nounset = true
			case 'x':
				child.xtrace = true
			case 'l', 'i', 'v', 'p':
			default:
				st.errorf("%s: -%c: invalid option\n", argv[0], f)
				return 2
			}
		}
	}
	rest := args[k:]
	if cmdMode {
		if len(rest) == 0 {
			st.errorf("%s: -c: option requires an argument\n", argv[0])
			return 2
		}
		src := rest[0]
		if len(rest) > 1 {
			child.arg0 = rest[1]
			child.args = append([]string(nil), rest[2:]...)
		} else {
			child.args = nil
		}
		return child.runSource(src, "")
	}
	if len(rest) > 0 && !stdinMode {
		p := st.abs(rest[0])
		b, err := st.fs.ReadFile(p)
		if err != nil {
			st.errorf("%s: %s: %s\n", argv[0], rest[0], errText(err))
			return 127
		}
		child.arg0 = rest[0]
		child.args = append([]string(nil), rest[1:]...)
		return child.runSource(string(b), rest[0])
	}
	b, err := io.ReadAll(io.LimitReader(st.io.in, 16<<20))
	if err != nil {
		return 1
	}
	child.io.in = strings.NewReader("")
	child.args = append([]string(nil), rest...)
	return child.runSource(string(b), "bash")
}

// commandPath says where a command name is found, for command -v/type/which.
func (st *state) commandPath(name string) (string, string, bool) {
	if _, ok := specialBuiltins[name]; ok {
		if name == "sh" || name == "bash" || name == "dash" {
			return "/usr/bin/" + name, "file", true
		}
		return name, "builtin", true
	}
	if _, ok := st.funcs[name]; ok {
		return name, "function", true
	}
	if _, ok := st.in.Lookup(name); ok {
		if strings.Contains(name, "/") {
			return name, "file", true
		}
		if shellBuiltinNames[name] {
			return name, "builtin", true
		}
		return "/usr/bin/" + name, "file", true
	}
	if strings.Contains(name, "/") {
		p := st.abs(name)
		if fi, err := st.fs.Stat(p); err == nil {
			if !fi.IsDir && fi.Mode.Perm()&0o111 != 0 {
				return name, "file", true
			}
			return "", "", false
		}
		if binDirs[path.Dir(p)] {
			base := path.Base(p)
			_, registered := st.in.Lookup(base)
			if registered || base == "sh" || base == "bash" || base == "dash" {
				return name, "file", true
			}
		}
		return "", "", false
	}
	for _, dir := range strings.Split(st.vars["PATH"], ":") {
		if dir == "" {
			continue
		}
		p := strings.TrimSuffix(dir, "/") + "/" + name
		if fi, err := st.fs.Stat(p); err == nil && !fi.IsDir && fi.Mode.Perm()&0o111 != 0 {
			return p, "file", true
		}
	}
	return "", "", false
}

// shellBuiltinNames are registered commands that bash implements as
// builtins (command -v prints the bare name).
var shellBuiltinNames = map[string]bool{"echo": true, "printf": true, "test": true, "[": true, "true": true,
	"false": true, ":": true, "kill": true}

func sbCommand(st *state, argv []string, line int) int {
	args := argv[1:]
	verbose := ""
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-v", "-V":
			verbose = args[0]
		case "-p":
		case "--":
			args = args[1:]
			goto done
		default:
			st.builtinErr(line, "command", "%s: invalid option", args[0])
			return 2
		}
		args = args[1:]
	}
done:
	if len(args) == 0 {
		return 0
	}
	if verbose != "" {
		status := 0
		for _, n := range args {
			p, kind, ok := st.commandPath(n)
			if !ok {
				if verbose == "-V" {
					st.builtinErr(line, "command", "%s: not found", n)
				}
				status = 1
				continue
			}
			if verbose == "-V" {
				fmt.Fprintf(st.io.out, "%s is %s\n", n, describeKind(p, kind))
			} else {
				fmt.Fprintln(st.io.out, p)
			}
		}
		return status
	}
	return st.call(args, st.vars, line, false)
}

func describeKind(p, kind string) string {
	switch kind {
	case "builtin":
		return "a shell builtin"
	case "function":
		return "a function"
	}
	return p
}

func sbType(st *state, argv []string, line int) int {
	status := 0
	for _, n := range argv[1:] {
		if strings.HasPrefix(n, "-") {
			continue
		}
		p, kind, ok := st.commandPath(n)
		if !ok {
			st.builtinErr(line, "type", "%s: not found", n)
			status = 1
			continue
		}
		fmt.Fprintf(st.io.out, "%s is %s\n", n, describeKind(p, kind))
	}
	return status
}

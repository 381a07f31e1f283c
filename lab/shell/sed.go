package shell

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// sed: the subset install scripts use — addresses (N, $, /re/, ranges, !),
// commands s (flags g p N I), d, p, q, and GNU's one-line a/i/c; options
// -n -e -E/-r -i[SUFFIX] -f. BRE by default, ERE with -E.

type sedAddr struct {
	kind string // "" none, "line", "last", "re"
	line int
	re   *regexp.Regexp
}

type sedCmd struct {
	a1, a2  sedAddr
	negate  bool
	name    byte
	re      *regexp.Regexp
	repl    string
	global  bool
	nth     int
	print   bool
	text    string
	inRange bool
}

type sedError struct{ msg string }

func (e sedError) Error() string { return e.msg }

func sedCompile(pat string, ere, icase bool) (*regexp.Regexp, error) {
	if !ere {
		pat = breToRE2(pat)
	}
	pat = posixClassRe.ReplaceAllString(pat, "[[:$1:]")
	if icase {
		pat = "(?i)" + pat
	}
	return regexp.Compile(pat)
}

// sedParse parses one -e expression (n is its 1-based index for errors).
func sedParse(src string, n int, ere bool) ([]*sedCmd, error) {
	var cmds []*sedCmd
	i := 0
	fail := func(msg string) error {
		return sedError{fmt.Sprintf("-e expression #%d, char %d: %s", n, i, msg)}
	}
	skipBlank := func() {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
	}
	// delimited reads up to the unescaped delimiter d.
	delimited := func(d byte) (string, bool) {
		var b strings.Builder
		for i < len(src) {
			c := src[i]
			if c == '\\' && i+1 < len(src) {
				if src[i+1] == d {
					b.WriteByte(d)
				} else if src[i+1] == 'n' {
					b.WriteString(`\n`)
				} else {
					b.WriteByte('\\')
					b.WriteByte(src[i+1])
				}
				i += 2
				continue
			}
			if c == d {
				i++
				return b.String(), true
			}
			b.WriteByte(c)
			i++
		}
		return "", false
	}
	addr := func() (sedAddr, error) {
		skipBlank()
		if i >= len(src) {
			return sedAddr{}, nil
		}
		switch c := src[i]; {
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			v, _ := strconv.Atoi(src[i:j])
			i = j
			return sedAddr{kind: "line", line: v}, nil
		case c == '$':
			i++
			return sedAddr{kind: "last"}, nil
		case c == '/' || c == '\\':
			d := byte('/')
			if c == '\\' {
				if i+1 >= len(src) {
					return sedAddr{}, fail("unexpected `,'")
				}
				d = src[i+1]
				i++
			}
			i++
			pat, ok := delimited(d)
			if !ok {
				return sedAddr{}, fail("unterminated address regex")
			}
			icase := false
			if i < len(src) && src[i] == 'I' {
				icase = true
				i++
			}
			re, err := sedCompile(pat, ere, icase)
			if err != nil {
				return sedAddr{}, fail("invalid regular expression")
			}
			return sedAddr{kind: "re", re: re}, nil
		}
		return sedAddr{}, nil
	}
	for {
		for i < len(src) && strings.IndexByte(" \t\n;", src[i]) >= 0 {
			i++
		}
		if i >= len(src) {
			return cmds, nil
		}
		c := &sedCmd{}
		var err error
		if c.a1, err = addr(); err != nil {
			return nil, err
		}
		if c.a1.kind != "" && i < len(src) && src[i] == ',' {
			i++
			if c.a2, err = addr(); err != nil {
				return nil, err
			}
			if c.a2.kind == "" {
				return nil, fail("unexpected `,'")
			}
		}
		skipBlank()
		if i < len(src) && src[i] == '!' {
			c.negate = true
			i++
			skipBlank()
		}
		if i >= len(src) {
			return nil, fail("missing command")
		}
		c.name = src[i]
		i++
		switch c.name {
		case 's':
			if i >= len(src) {
				return nil, fail("unterminated `s' command")
			}
			d := src[i]
			i++
			pat, ok := delimited(d)
			if !ok {
				return nil, fail("unterminated `s' command")
			}
			repl, ok := delimited(d)
			if !ok {
				return nil, fail("unterminated `s' command")
			}
			icase := false
			for i < len(src) && strings.IndexByte(" \t\n;}", src[i]) < 0 {
				switch f := src[i]; {
				case f == 'g':
					c.global = true
				case f == 'p':
					c.print = true
				case f == 'I' || f == 'i':
					icase = true
				case f >= '0' && f <= '9':
					c.nth = c.nth*10 + int(f-'0')
				default:
					return nil, fail("unknown option to `s'")
				}
				i++
			}
			if c.re, err = sedCompile(pat, ere, icase); err != nil {
				return nil, fail("invalid regular expression")
			}
			c.repl = repl
		case 'd', 'p', 'q', '=':
		case 'a', 'i', 'c':
			skipBlank()
			if i < len(src) && src[i] == '\\' {
				i++
				if i < len(src) && src[i] == '\n' {
					i++
				}
			}
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				j = len(src) - i
			}
			c.text = src[i : i+j]
			i += j
		default:
			return nil, fail(fmt.Sprintf("unknown command: `%c'", c.name))
		}
		cmds = append(cmds, c)
	}
}

// sedReplace renders one s/// replacement for a match.
func sedReplace(repl string, src string, m []int) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '&':
			b.WriteString(src[m[0]:m[1]])
		case c == '\\' && i+1 < len(repl):
			i++
			n := repl[i]
			switch {
			case n >= '0' && n <= '9':
				g := int(n - '0')
				if 2*g+1 < len(m) && m[2*g] >= 0 {
					b.WriteString(src[m[2*g]:m[2*g+1]])
				}
			case n == 'n':
				b.WriteByte('\n')
			case n == 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(n)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (c *sedCmd) matches(a sedAddr, line string, n int, last bool) bool {
	switch a.kind {
	case "line":
		return n == a.line
	case "last":
		return last
	case "re":
		return a.re.MatchString(line)
	}
	return true
}

// selected applies the command's address(es) to line n.
func (c *sedCmd) selected(line string, n int, last bool) bool {
	var sel bool
	switch {
	case c.a1.kind == "":
		sel = true
	case c.a2.kind == "":
		sel = c.matches(c.a1, line, n, last)
	case c.inRange:
		sel = true
		if c.a2.kind == "line" && n >= c.a2.line || c.a2.kind != "line" && c.matches(c.a2, line, n, last) {
			c.inRange = false
		}
	default:
		if c.matches(c.a1, line, n, last) {
			sel = true
			if !(c.a2.kind == "line" && n >= c.a2.line) {
				c.inRange = true
			}
		}
	}
	return sel != c.negate
}

// sedRun edits the lines of one input; quit reports a q command.
func sedRun(cmds []*sedCmd, input string, quiet bool, out io.Writer, lineBase int) (quit bool) {
	lines := splitLines(input)
	for idx, line := range lines {
		n := lineBase + idx + 1
		last := idx == len(lines)-1
		deleted := false
		var before, after []string
		for _, c := range cmds {
			if !c.selected(line, n, last) {
				continue
			}
			switch c.name {
			case 's':
				ms := c.re.FindAllStringSubmatchIndex(line, -1)
				if len(ms) == 0 {
					continue
				}
				var b strings.Builder
				prev, count, did := 0, 0, false
				for _, m := range ms {
					count++
					if c.nth > 0 && count < c.nth || did && !c.global {
						continue
					}
					b.WriteString(line[prev:m[0]])
					b.WriteString(sedReplace(c.repl, line, m))
					prev = m[1]
					did = true
					if !c.global {
						break
					}
				}
				if did {
					b.WriteString(line[prev:])
					line = b.String()
					if c.print {
						fmt.Fprintln(out, line)
					}
				}
			case 'd':
				deleted = true
			case 'p':
				fmt.Fprintln(out, line)
			case '=':
				fmt.Fprintln(out, n)
			case 'a':
				after = append(after, c.text)
			case 'i':
				before = append(before, c.text)
			case 'c':
				before = append(before, c.text)
				deleted = true
			case 'q':
				for _, t := range before {
					fmt.Fprintln(out, t)
				}
				if !quiet && !deleted {
					fmt.Fprintln(out, line)
				}
				for _, t := range after {
					fmt.Fprintln(out, t)
				}
				return true
			}
			if deleted {
				break
			}
		}
		for _, t := range before {
			fmt.Fprintln(out, t)
		}
		if !quiet && !deleted {
			fmt.Fprintln(out, line)
		}
		for _, t := range after {
			fmt.Fprintln(out, t)
		}
	}
	return false
}

func cmdSed(e *Env) int {
	var scripts []string
	var files []string
	quiet, ere, inPlace := false, false, false
	args := e.Args[1:]
	for k := 0; k < len(args); k++ {
		a := args[k]
		switch {
		case a == "-n" || a == "--quiet" || a == "--silent":
			quiet = true
		case a == "-E" || a == "-r" || a == "--regexp-extended":
			ere = true
		case a == "-i" || strings.HasPrefix(a, "-i") && !strings.HasPrefix(a, "-in") || strings.HasPrefix(a, "--in-place"):
			inPlace = true
		case a == "-e" || a == "--expression":
			if k+1 >= len(args) {
				fmt.Fprintln(e.Stderr, "sed: option requires an argument -- 'e'")
				return 1
			}
			k++
			scripts = append(scripts, args[k])
		case strings.HasPrefix(a, "--expression="):
			scripts = append(scripts, strings.TrimPrefix(a, "--expression="))
		case a == "-f":
			if k+1 >= len(args) {
				fmt.Fprintln(e.Stderr, "sed: option requires an argument -- 'f'")
				return 1
			}
			k++
			b, err := e.FS.ReadFile(e.Abs(args[k]))
			if err != nil {
				fmt.Fprintf(e.Stderr, "sed: couldn't open file %s: %s\n", args[k], errText(err))
				return 1
			}
			scripts = append(scripts, string(b))
		case a == "--":
			files = append(files, args[k+1:]...)
			k = len(args)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			// combined flags like -ne, -En
			ok := true
			for _, f := range a[1:] {
				switch f {
				case 'n':
					quiet = true
				case 'E', 'r':
					ere = true
				case 's', 'u', 'z':
				default:
					ok = false
				}
			}
			if !ok {
				fmt.Fprintf(e.Stderr, "sed: invalid option -- '%c'\nUsage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...\n", a[1])
				return 1
			}
		default:
			files = append(files, a)
		}
	}
	if len(scripts) == 0 {
		if len(files) == 0 {
			fmt.Fprintln(e.Stderr, "Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...")
			return 1
		}
		scripts, files = files[:1], files[1:]
	}
	var cmds []*sedCmd
	for n, s := range scripts {
		c, err := sedParse(s, n+1, ere)
		if err != nil {
			fmt.Fprintf(e.Stderr, "sed: %v\n", err)
			return 1
		}
		cmds = append(cmds, c...)
	}
	if inPlace {
		if len(files) == 0 {
			fmt.Fprintln(e.Stderr, "sed: no input files")
			return 1
		}
		status := 0
		for _, f := range files {
			p := e.Abs(f)
			b, err := e.FS.ReadFile(p)
			if err != nil {
				fmt.Fprintf(e.Stderr, "sed: can't read %s: %s\n", f, errText(err))
				status = 2
				continue
			}
			for _, c := range cmds {
				c.inRange = false
			}
			var out strings.Builder
			sedRun(cmds, string(b), quiet, &out, 0)
			fi, _ := e.FS.Stat(p)
			if err := e.FS.WriteFile(p, []byte(out.String()), fi.Mode.Perm()); err != nil {
				fmt.Fprintf(e.Stderr, "sed: couldn't open temporary file %s: %s\n", f, errText(err))
				return 4
			}
		}
		return status
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	// Without -i (and -s) sed sees its inputs as one stream.
	var all strings.Builder
	status := 0
	for _, f := range files {
		b, err := readInput(e, f)
		if err != nil {
			fmt.Fprintf(e.Stderr, "sed: can't read %s: %s\n", f, errText(err))
			status = 2
			continue
		}
		all.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			all.WriteByte('\n')
		}
	}
	sedRun(cmds, all.String(), quiet, e.Stdout, 0)
	return status
}

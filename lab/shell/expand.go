package shell

import (
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// field is one word under construction during expansion.
type field struct {
	text strings.Builder
	pat  strings.Builder // text with quoted glob characters escaped
	glob bool
}

func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

type expander struct {
	st     *state
	fields []*field
	cur    *field
	ok     bool
}

func (e *expander) ensure() *field {
	if e.cur == nil {
		e.cur = &field{}
		e.fields = append(e.fields, e.cur)
	}
	return e.cur
}

func (e *expander) addQuoted(s string) {
	f := e.ensure()
	f.text.WriteString(s)
	f.pat.WriteString(escapeGlob(s))
}

func (e *expander) addLiteral(s string) {
	f := e.ensure()
	f.text.WriteString(s)
	f.pat.WriteString(s)
	if strings.ContainsAny(s, "*?[") {
		f.glob = true
	}
}

// addSplit adds an unquoted expansion result, split on IFS.
func (e *expander) addSplit(s string) {
	ifs, set := e.st.vars["IFS"]
	if !set {
		ifs = " \t\n"
	}
	if ifs == "" {
		if s != "" {
			e.addQuoted(s)
		}
		return
	}
	isSep := func(r rune) bool { return strings.ContainsRune(ifs, r) }
	if s == "" {
		return
	}
	if isSep(rune(s[0])) {
		e.cur = nil
	}
	parts := strings.FieldsFunc(s, isSep)
	for k, p := range parts {
		if k > 0 {
			e.cur = nil
		}
		f := e.ensure()
		f.text.WriteString(p)
		f.pat.WriteString(p)
		if strings.ContainsAny(p, "*?[") {
			f.glob = true
		}
	}
	if isSep(rune(s[len(s)-1])) {
		e.cur = nil
	}
}

// parts feeds word parts to the expander. inArg marks the argument of an
// unquoted ${v:-word}: its unquoted literal text is split like an
// expansion result.
func (e *expander) parts(parts []wordPart, inArg bool) bool {
	st := e.st
	for idx, pt := range parts {
		switch x := pt.(type) {
		case litPart:
			s := x.s
			switch {
			case x.quoted:
				e.addQuoted(s)
			case inArg:
				e.addSplit(s)
			case idx == 0 && strings.HasPrefix(s, "~"):
				e.addQuoted(st.tilde(s))
			default:
				e.addLiteral(s)
			}
		case paramPart:
			if (x.name == "@" || x.name == "*") && x.op == "" {
				if x.quoted && x.name == "@" {
					for k, a := range st.args {
						if k > 0 {
							e.cur = nil
						}
						e.addQuoted(a)
					}
					continue
				}
				if x.quoted {
					e.addQuoted(strings.Join(st.args, " "))
					continue
				}
				for k, a := range st.args {
					if k > 0 {
						e.cur = nil
					}
					e.addSplit(a)
				}
				continue
			}
			if !x.quoted && x.arg != nil && st.usesArg(x) {
				if !e.parts(x.arg.parts, true) {
					return false
				}
				continue
			}
			v, ok := st.param(x)
			if !ok {
				return false
			}
			if x.quoted {
				e.addQuoted(v)
			} else {
				e.addSplit(v)
			}
		case substPart:
			v := st.cmdSubst(x.body)
			if st.exiting {
				return false
			}
			if x.quoted {
				e.addQuoted(v)
			} else {
				e.addSplit(v)
			}
		case arithPart:
			v, ok := st.arith(x.expr)
			if !ok {
				return false
			}
			if x.quoted {
				e.addQuoted(v)
			} else {
				e.addSplit(v)
			}
		}
	}
	return true
}

// usesArg reports whether ${v-word}, ${v:-word}, ${v+word} or ${v:+word}
// expands to its word (the other operators expand to strings).
func (st *state) usesArg(x paramPart) bool {
	v, set := st.lookupVar(x.name)
	switch x.op {
	case ":-":
		return !set || v == ""
	case "-":
		return !set
	case ":+":
		return set && v != ""
	case "+":
		return set
	}
	return false
}

// expandFields expands a word into fields (splitting, globbing). ok is
// false when expansion failed fatally (set -u, ${x:?}); st.status is set.
func (st *state) expandFields(w *word) ([]string, bool) {
	if st.dash {
		return st.expandFields1(w)
	}
	if ws := braceExpand(w); len(ws) > 1 {
		var all []string
		for _, x := range ws {
			f, ok := st.expandFields1(x)
			if !ok {
				return nil, false
			}
			all = append(all, f...)
		}
		return all, true
	}
	return st.expandFields1(w)
}

func (st *state) expandFields1(w *word) ([]string, bool) {
	e := &expander{st: st, ok: true}
	if !e.parts(w.parts, false) {
		return nil, false
	}
	var out []string
	for _, f := range e.fields {
		if f.glob {
			if m := st.glob(f.pat.String()); len(m) > 0 {
				out = append(out, m...)
				continue
			}
		}
		out = append(out, f.text.String())
	}
	return out, true
}

func (st *state) tilde(s string) string {
	if s == "~" || strings.HasPrefix(s, "~/") {
		return st.vars["HOME"] + s[1:]
	}
	name, rest, _ := strings.Cut(s[1:], "/")
	if IsName(name) {
		home := "/home/" + name
		if name == "root" {
			home = "/root"
		}
		if rest != "" || strings.Contains(s, "/") {
			return home + "/" + rest
		}
		return home
	}
	return s
}

// expandString expands a word without splitting or globbing (assignments,
// redirection targets, here-documents, case subjects).
func (st *state) expandString(w *word) (string, bool) {
	var b strings.Builder
	for idx, pt := range w.parts {
		switch x := pt.(type) {
		case litPart:
			if idx == 0 && !x.quoted && strings.HasPrefix(x.s, "~") {
				b.WriteString(st.tilde(x.s))
				continue
			}
			b.WriteString(x.s)
		case paramPart:
			if (x.name == "@" || x.name == "*") && x.op == "" {
				b.WriteString(strings.Join(st.args, " "))
				continue
			}
			v, ok := st.param(x)
			if !ok {
				return "", false
			}
			b.WriteString(v)
		case substPart:
			b.WriteString(st.cmdSubst(x.body))
			if st.exiting {
				return "", false
			}
		case arithPart:
			v, ok := st.arith(x.expr)
			if !ok {
				return "", false
			}
			b.WriteString(v)
		}
	}
	return b.String(), true
}

// expandPattern expands a word into a glob pattern (quoted parts escaped).
func (st *state) expandPattern(w *word) (string, bool) {
	var b strings.Builder
	for _, pt := range w.parts {
		switch x := pt.(type) {
		case litPart:
			if x.quoted {
				b.WriteString(escapeGlob(x.s))
			} else {
				b.WriteString(x.s)
			}
		default:
			v, ok := st.expandString(&word{parts: []wordPart{pt}})
			if !ok {
				return "", false
			}
			if isQuotedPart(pt) {
				v = escapeGlob(v)
			}
			b.WriteString(v)
		}
	}
	return b.String(), true
}

func isQuotedPart(pt wordPart) bool {
	switch x := pt.(type) {
	case paramPart:
		return x.quoted
	case substPart:
		return x.quoted
	case arithPart:
		return x.quoted
	}
	return false
}

// lookupVar returns a variable or special parameter.
func (st *state) lookupVar(name string) (string, bool) {
	switch name {
	case "?":
		return strconv.Itoa(st.status), true
	case "$":
		if st.group != nil {
			return strconv.Itoa(st.group.pid), true
		}
		return "4242", true
	case "#":
		return strconv.Itoa(len(st.args)), true
	case "!":
		if st.lastBg == 0 {
			return "", false
		}
		return strconv.Itoa(st.lastBg), true
	case "-":
		f := "hB"
		if st.errexit {
			f += "e"
		}
		if st.nounset {
			f += "u"
		}
		if st.xtrace {
			f += "x"
		}
		return f, true
	case "0":
		if st.arg0 != "" {
			return st.arg0, true
		}
		return "bash", true
	case "@", "*":
		return strings.Join(st.args, " "), len(st.args) > 0
	}
	if name[0] >= '1' && name[0] <= '9' {
		n, err := strconv.Atoi(name)
		if err != nil || n > len(st.args) {
			return "", false
		}
		return st.args[n-1], true
	}
	v, ok := st.vars[name]
	return v, ok
}

func (st *state) fatalExpansion(msg string) {
	st.errorf("bash: %s\n", msg)
	// A non-interactive shell exits on these errors.
	st.status = 1
	st.exiting = true
	st.exitCode = 1
}

func (st *state) param(x paramPart) (string, bool) {
	if st.dash && (x.op == "/" || x.op == "//" || x.op == ":") {
		st.errorf("%sBad substitution\n", st.prefix(st.line))
		st.status, st.exiting, st.exitCode = 2, true, 2
		return "", false
	}
	v, set := st.lookupVar(x.name)
	arg := func() (string, bool) {
		if x.arg == nil {
			return "", true
		}
		return st.expandString(x.arg)
	}
	switch x.op {
	case "":
		if !set && st.nounset && x.name != "@" && x.name != "*" {
			st.fatalExpansion(x.name + ": unbound variable")
			return "", false
		}
		return v, true
	case "len":
		if !set && st.nounset {
			st.fatalExpansion(x.name + ": unbound variable")
			return "", false
		}
		return strconv.Itoa(len([]rune(v))), true
	case ":-", "-":
		if !set || x.op == ":-" && v == "" {
			return arg()
		}
		return v, true
	case ":=", "=":
		if !set || x.op == ":=" && v == "" {
			a, ok := arg()
			if !ok {
				return "", false
			}
			if !IsName(x.name) {
				st.fatalExpansion(fmt.Sprintf("$%s: cannot assign in this way", x.name))
				return "", false
			}
			st.vars[x.name] = a
			return a, true
		}
		return v, true
	case ":+", "+":
		if !set || x.op == ":+" && v == "" {
			return "", true
		}
		return arg()
	case ":?", "?":
		if !set || x.op == ":?" && v == "" {
			a, ok := arg()
			if !ok {
				return "", false
			}
			if a == "" {
				a = "parameter null or not set"
			}
			st.fatalExpansion(x.name + ": " + a)
			return "", false
		}
		return v, true
	case "/", "//":
		if !set && st.nounset {
			st.fatalExpansion(x.name + ": unbound variable")
			return "", false
		}
		patw, replw := splitReplace(x.arg)
		pat, ok := st.expandPattern(patw)
		if !ok {
			return "", false
		}
		repl, ok := st.expandString(replw)
		if !ok {
			return "", false
		}
		return replacePattern(v, pat, repl, x.op == "//"), true
	case ":":
		spec, ok := arg()
		if !ok {
			return "", false
		}
		offS, lenS, hasLen := strings.Cut(spec, ":")
		off, err1 := strconv.Atoi(strings.TrimSpace(offS))
		r := []rune(v)
		if err1 != nil {
			st.fatalExpansion(fmt.Sprintf("%s: %s: substring expression not supported in the lab shell", x.name, spec))
			return "", false
		}
		if off < 0 {
			off = max(len(r)+off, 0)
		}
		if off > len(r) {
			return "", true
		}
		end := len(r)
		if hasLen {
			n, err := strconv.Atoi(strings.TrimSpace(lenS))
			if err != nil {
				st.fatalExpansion(fmt.Sprintf("%s: %s: substring expression not supported in the lab shell", x.name, spec))
				return "", false
			}
			if n < 0 {
				end = max(len(r)+n, off)
			} else {
				end = min(off+n, len(r))
			}
		}
		return string(r[off:end]), true
	case "#", "##", "%", "%%":
		if !set && st.nounset {
			st.fatalExpansion(x.name + ": unbound variable")
			return "", false
		}
		pat := ""
		if x.arg != nil {
			var ok bool
			pat, ok = st.expandPattern(x.arg)
			if !ok {
				return "", false
			}
		}
		return trimPattern(v, pat, x.op), true
	}
	return v, true
}

// splitReplace splits ${v/pat/repl}'s argument at the first unquoted '/'.
func splitReplace(w *word) (*word, *word) {
	if w == nil {
		return &word{}, &word{}
	}
	var pat, repl []wordPart
	found := false
	for _, pt := range w.parts {
		if found {
			repl = append(repl, pt)
			continue
		}
		if l, ok := pt.(litPart); ok && !l.quoted {
			if i := strings.IndexByte(l.s, '/'); i >= 0 {
				if i > 0 {
					pat = append(pat, litPart{s: l.s[:i]})
				}
				if i+1 < len(l.s) {
					repl = append(repl, litPart{s: l.s[i+1:]})
				}
				found = true
				continue
			}
		}
		pat = append(pat, pt)
	}
	return &word{parts: pat}, &word{parts: repl}
}

// replacePattern implements ${v/pat/repl} (first, longest match) and
// ${v//pat/repl} (all); # and % anchor the pattern.
func replacePattern(v, pat, repl string, all bool) string {
	if pat == "" {
		return v
	}
	r := []rune(v)
	anchorStart, anchorEnd := strings.HasPrefix(pat, "#"), strings.HasPrefix(pat, "%")
	if anchorStart || anchorEnd {
		pat = pat[1:]
	}
	var b strings.Builder
	budget := 200_000 // matchGlob calls; a pathological input gives up unchanged
	for i := 0; i <= len(r); {
		if budget <= 0 {
			return v
		}
		if anchorStart && i > 0 {
			b.WriteString(string(r[i:]))
			return b.String()
		}
		matched := -1
		for j := len(r); j >= i; j-- {
			if anchorEnd && j != len(r) {
				continue
			}
			budget--
			if j > i && matchGlob(pat, string(r[i:j])) {
				matched = j
				break
			}
		}
		if matched < 0 {
			if i < len(r) {
				b.WriteRune(r[i])
			}
			i++
			continue
		}
		b.WriteString(repl)
		i = matched
		if !all {
			b.WriteString(string(r[i:]))
			return b.String()
		}
	}
	return b.String()
}

// trimPattern implements ${v#p} ${v##p} ${v%p} ${v%%p}.
func trimPattern(v, pat, op string) string {
	r := []rune(v)
	switch op {
	case "#":
		for k := 0; k <= len(r); k++ {
			if matchGlob(pat, string(r[:k])) {
				return string(r[k:])
			}
		}
	case "##":
		for k := len(r); k >= 0; k-- {
			if matchGlob(pat, string(r[:k])) {
				return string(r[k:])
			}
		}
	case "%":
		for k := len(r); k >= 0; k-- {
			if matchGlob(pat, string(r[k:])) {
				return string(r[:k])
			}
		}
	case "%%":
		for k := 0; k <= len(r); k++ {
			if matchGlob(pat, string(r[k:])) {
				return string(r[:k])
			}
		}
	}
	return v
}

// cmdSubst runs body in a subshell and returns its output without
// trailing newlines; $? becomes its status.
func (st *state) cmdSubst(body *script) string {
	sub := st.sub()
	var out bytes.Buffer
	sub.io.out = &out
	sub.io.in = strings.NewReader("")
	sub.runScript(body)
	st.status = sub.status
	st.substRan = true
	if sub.exiting {
		st.status = sub.exitCode
	}
	if st.ctx.Err() != nil {
		st.checkCtx()
	}
	return strings.TrimRight(out.String(), "\n")
}

// glob expands a pattern against the filesystem; nil when nothing matches.
func (st *state) glob(pat string) []string {
	absPat := pat
	rel := !strings.HasPrefix(pat, "/")
	if rel {
		absPat = path.Join(st.cwd, pat)
		if st.cwd == "/" {
			absPat = "/" + pat
		}
	}
	segs := strings.Split(strings.TrimPrefix(absPat, "/"), "/")
	cands := []string{"/"}
	for _, seg := range segs {
		if seg == "" {
			continue
		}
		var next []string
		hasMeta := strings.ContainsAny(seg, "*?[")
		for _, dir := range cands {
			if !hasMeta {
				p := path.Join(dir, unescapeGlob(seg))
				if _, err := st.fs.Stat(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			names, err := st.fs.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, n := range names {
				if strings.HasPrefix(n, ".") && !strings.HasPrefix(seg, ".") {
					continue
				}
				if matchGlob(seg, n) {
					next = append(next, path.Join(dir, n))
				}
			}
		}
		cands = next
		if len(cands) == 0 {
			return nil
		}
	}
	if rel {
		prefix := st.cwd + "/"
		if st.cwd == "/" {
			prefix = "/"
		}
		for k, c := range cands {
			cands[k] = strings.TrimPrefix(c, prefix)
		}
	}
	return cands
}

func unescapeGlob(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	esc := false
	for _, r := range s {
		if r == '\\' && !esc {
			esc = true
			continue
		}
		esc = false
		b.WriteRune(r)
	}
	return b.String()
}

// matchGlob matches name against a shell pattern (* ? [...] and \ escapes);
// unlike path.Match, * also matches '/'.
func matchGlob(pat, name string) bool {
	p, n := []rune(pat), []rune(name)
	// iterative matcher with backtracking on the last star
	pi, ni := 0, 0
	starP, starN := -1, 0
	steps := 0
	for ni < len(n) || pi < len(p) {
		steps++
		if steps > 1_000_000 {
			return false
		}
		if pi < len(p) {
			switch c := p[pi]; c {
			case '*':
				starP, starN = pi, ni
				pi++
				continue
			case '?':
				if ni < len(n) {
					pi++
					ni++
					continue
				}
			case '[':
				if ni < len(n) {
					if ok, width := matchClass(p[pi:], n[ni]); width > 0 {
						if ok {
							pi += width
							ni++
							continue
						}
					} else if n[ni] == '[' {
						pi++
						ni++
						continue
					}
				}
			case '\\':
				if pi+1 < len(p) {
					if ni < len(n) && n[ni] == p[pi+1] {
						pi += 2
						ni++
						continue
					}
				} else if ni < len(n) && n[ni] == '\\' {
					pi++
					ni++
					continue
				}
			default:
				if ni < len(n) && n[ni] == c {
					pi++
					ni++
					continue
				}
			}
		}
		if starP >= 0 && starN < len(n) {
			starN++
			pi, ni = starP+1, starN
			continue
		}
		return false
	}
	return true
}

// matchClass matches a bracket expression at the start of p; width is 0
// when p has no closing bracket (then '[' is literal).
func matchClass(p []rune, c rune) (bool, int) {
	i := 1
	neg := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		neg = true
		i++
	}
	matched := false
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			if neg {
				matched = !matched
			}
			return matched, i + 1
		}
		first = false
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		hi := lo
		if i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']' {
			hi = p[i+2]
			i += 2
		}
		if c >= lo && c <= hi {
			matched = true
		}
		i++
	}
	return false, 0
}

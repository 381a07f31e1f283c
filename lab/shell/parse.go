package shell

import (
	"errors"
	"fmt"
	"strings"
)

// ParseError is a shell syntax error. Its text follows bash:
// "line 2: syntax error near unexpected token `fi'".
type ParseError struct {
	Line  int    // 1-based line of the offending token
	Token string // the unexpected token; "" at end of input
	Msg   string // what was expected or wrong, for the operator
}

// Error renders the error like bash does, without the "bash: -c: " prefix.
func (e *ParseError) Error() string {
	if e.Msg != "" && e.Token == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	if e.Token == "" {
		return fmt.Sprintf("line %d: syntax error: unexpected end of file", e.Line)
	}
	return fmt.Sprintf("line %d: syntax error near unexpected token `%s'", e.Line, e.Token)
}

// DashError renders the error as dash words it ("Syntax error: "}"
// unexpected"), without the "sh: 1: " prefix.
func (e *ParseError) DashError() string {
	switch {
	case e.Msg != "" && e.Token == "":
		if strings.HasPrefix(e.Msg, "Syntax error") {
			return e.Msg
		}
		if strings.Contains(e.Msg, "unexpected EOF") || strings.Contains(e.Msg, "here-document") {
			return "Syntax error: Unterminated quoted string"
		}
		return "Syntax error: " + e.Msg
	case e.Token == "":
		return "Syntax error: end of file unexpected"
	case e.Token == "newline":
		return "Syntax error: newline unexpected"
	}
	return fmt.Sprintf("Syntax error: %q unexpected", e.Token)
}

// ErrSyntax is matched (errors.Is) by every *ParseError.
var ErrSyntax = errors.New("syntax error")

// Is makes errors.Is(err, ErrSyntax) true for parse errors.
func (e *ParseError) Is(target error) bool { return target == ErrSyntax }

// ---- AST ----

type script struct{ items []*andOr }

type andOr struct {
	pipes []*pipeline
	ops   []string // "&&" or "||" between pipes
	bg    bool
}

type pipeline struct {
	bang bool
	cmds []command
}

type command interface{ redirects() []*redir }

type assign struct {
	name  string
	value *word
}

type simpleCmd struct {
	assigns []assign
	words   []*word
	redirs  []*redir
	line    int
}

type ifCmd struct {
	conds, bodies []*script
	elseBody      *script
	redirs        []*redir
}

type loopCmd struct {
	until      bool
	cond, body *script
	redirs     []*redir
}

type forCmd struct {
	name   string
	items  []*word
	hasIn  bool
	body   *script
	redirs []*redir
}

type caseItem struct {
	patterns []*word
	body     *script
}

type caseCmd struct {
	subject *word
	items   []caseItem
	redirs  []*redir
}

type groupCmd struct {
	body     *script
	subshell bool
	redirs   []*redir
}

type funcDef struct {
	name string
	body command
}

func (c *simpleCmd) redirects() []*redir { return c.redirs }
func (c *ifCmd) redirects() []*redir     { return c.redirs }
func (c *loopCmd) redirects() []*redir   { return c.redirs }
func (c *forCmd) redirects() []*redir    { return c.redirs }
func (c *caseCmd) redirects() []*redir   { return c.redirs }
func (c *groupCmd) redirects() []*redir  { return c.redirs }
func (c *funcDef) redirects() []*redir   { return nil }
func (c *condCmd) redirects() []*redir   { return c.redirs }

// condCmd is bash's [[ … ]]: words are not split or globbed; && || ( ) !
// < > are its own operators.
type condCmd struct {
	items  []condItem
	redirs []*redir
	line   int
}

type condItem struct {
	op string // operator token, or "" for a word
	w  *word
}

type redir struct {
	fd      int    // the redirected descriptor
	op      string // < > >> >| <> >& <& << <<-
	target  *word  // file name or descriptor number
	heredoc *word  // body for << (already split into parts)
}

type word struct{ parts []wordPart }

type wordPart interface{ isPart() }

type litPart struct {
	s      string
	quoted bool
}

type paramPart struct {
	name   string
	op     string // "", ":-", "-", ":=", "=", ":+", "+", ":?", "?", "#", "##", "%", "%%", "len"
	arg    *word
	quoted bool
}

type substPart struct {
	body   *script
	quoted bool
}

type arithPart struct {
	expr   *word
	quoted bool
}

func (litPart) isPart()   {}
func (paramPart) isPart() {}
func (substPart) isPart() {}
func (arithPart) isPart() {}

// literal returns the word's text if it is entirely an unquoted literal.
func (w *word) literal() (string, bool) {
	if len(w.parts) != 1 {
		return "", false
	}
	l, ok := w.parts[0].(litPart)
	if !ok || l.quoted {
		return "", false
	}
	return l.s, true
}

// ---- tokens ----

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tOp
	tNewline
	tIONumber
)

type token struct {
	kind tokKind
	op   string
	w    *word
	raw  string
	line int
	num  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return ""
	case tNewline:
		return "newline"
	case tOp:
		return t.op
	default:
		return t.raw
	}
}

// ---- parser ----

type pendingHeredoc struct {
	r      *redir
	delim  string
	quoted bool
	strip  bool
}

type parser struct {
	dash    bool // POSIX sh as Debian's dash parses it (no [[, <<<, $'…', &>, function)
	src     []rune
	pos     int
	line    int
	peeked  *token
	pending []pendingHeredoc
	depth   int
}

const maxParseDepth = 200

// Parse checks script's syntax without running it.
func Parse(src string) error {
	_, err := parse(src)
	return err
}

func parse(src string) (*script, error) { return parseMode(src, false) }

// parseMode parses as bash, or as dash when dash is set.
func parseMode(src string, dash bool) (s *script, err error) {
	p := &parser{src: []rune(src), line: 1, dash: dash}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*ParseError)
			if !ok {
				panic(r)
			}
			s, err = nil, pe
		}
	}()
	s = p.parseScript(nil)
	t := p.next()
	if t.kind != tEOF {
		p.fail(t)
	}
	if len(p.pending) > 0 {
		p.failMsg(fmt.Sprintf("here-document delimited by end-of-file (wanted `%s')", p.pending[0].delim))
	}
	return s, nil
}

func (p *parser) fail(t token) {
	panic(&ParseError{Line: t.line, Token: t.String()})
}

func (p *parser) failMsg(msg string) {
	panic(&ParseError{Line: p.line, Msg: msg})
}

func (p *parser) peek() token {
	if p.peeked == nil {
		t := p.lex()
		p.peeked = &t
	}
	return *p.peeked
}

func (p *parser) next() token {
	t := p.peek()
	p.peeked = nil
	return t
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) ch() rune {
	if p.pos >= len(p.src) {
		return 0
	}
	return p.src[p.pos]
}

func (p *parser) at(off int) rune {
	if p.pos+off >= len(p.src) {
		return 0
	}
	return p.src[p.pos+off]
}

func isMeta(r rune) bool {
	switch r {
	case ' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')':
		return true
	}
	return false
}

var operators = []string{"&>>", "&>", "&&", "||", ";;", ">>", "<<<", "<<-", "<<", ">&", "<&", "<>", ">|", ";", "&", "|", "<", ">", "(", ")"}

// lex reads the next token.
func (p *parser) lex() token {
	// blanks, line continuations, comments
	for !p.eof() {
		c := p.ch()
		if c == ' ' || c == '\t' || c == '\r' {
			p.pos++
		} else if c == '\\' && p.at(1) == '\n' {
			p.pos += 2
			p.line++
		} else if c == '#' {
			for !p.eof() && p.ch() != '\n' {
				p.pos++
			}
		} else {
			break
		}
	}
	if p.eof() {
		return token{kind: tEOF, line: p.line}
	}
	c := p.ch()
	if c == '\n' {
		line := p.line
		p.pos++
		p.line++
		p.readHeredocs()
		return token{kind: tNewline, line: line}
	}
	// IO number: digits immediately followed by < or >
	if c >= '0' && c <= '9' {
		j := p.pos
		for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
			j++
		}
		if j < len(p.src) && (p.src[j] == '<' || p.src[j] == '>') && j-p.pos < 4 {
			n := 0
			for _, d := range p.src[p.pos:j] {
				n = n*10 + int(d-'0')
			}
			raw := string(p.src[p.pos:j])
			p.pos = j
			return token{kind: tIONumber, num: n, raw: raw, line: p.line}
		}
	}
	for _, op := range operators {
		if p.dash && (op == "&>>" || op == "&>") {
			continue // dash: & then >
		}
		if p.dash && op == "<<<" && p.hasPrefix(op) {
			panic(&ParseError{Line: p.line, Msg: "Syntax error: redirection unexpected"})
		}
		if p.hasPrefix(op) {
			p.pos += len([]rune(op))
			return token{kind: tOp, op: op, line: p.line}
		}
	}
	line := p.line
	start := p.pos
	w := p.readWord()
	return token{kind: tWord, w: w, raw: string(p.src[start:p.pos]), line: line}
}

func (p *parser) hasPrefix(s string) bool {
	i := p.pos
	for _, r := range s {
		if i >= len(p.src) || p.src[i] != r {
			return false
		}
		i++
	}
	return true
}

// parts accumulator merging adjacent literals of the same quoting.
type partsBuf struct{ parts []wordPart }

func (b *partsBuf) lit(s string, quoted bool) {
	if s == "" && !quoted {
		return
	}
	if n := len(b.parts); n > 0 {
		if l, ok := b.parts[n-1].(litPart); ok && l.quoted == quoted {
			b.parts[n-1] = litPart{s: l.s + s, quoted: quoted}
			return
		}
	}
	b.parts = append(b.parts, litPart{s: s, quoted: quoted})
}

func (b *partsBuf) add(pt wordPart) { b.parts = append(b.parts, pt) }

// readWord reads an unquoted-context word up to a metacharacter.
func (p *parser) readWord() *word {
	var b partsBuf
	for !p.eof() {
		c := p.ch()
		if isMeta(c) {
			break
		}
		switch c {
		case '\\':
			p.pos++
			if p.eof() {
				b.lit("\\", true)
				break
			}
			if p.ch() == '\n' {
				p.pos++
				p.line++
				continue
			}
			b.lit(string(p.ch()), true)
			p.pos++
		case '\'':
			p.pos++
			start := p.pos
			for !p.eof() && p.ch() != '\'' {
				if p.ch() == '\n' {
					p.line++
				}
				p.pos++
			}
			if p.eof() {
				p.failMsg("unexpected EOF while looking for matching `''")
			}
			b.lit(string(p.src[start:p.pos]), true)
			p.pos++
		case '"':
			p.pos++
			p.readDQ(&b, '"')
			if p.eof() || p.ch() != '"' {
				p.failMsg("unexpected EOF while looking for matching `\"'")
			}
			p.pos++
		case '$':
			if p.at(1) == '\'' && !p.dash {
				// bash's $'…' with backslash escapes
				p.pos += 2
				var raw strings.Builder
				for !p.eof() && p.ch() != '\'' {
					if p.ch() == '\\' && p.at(1) != 0 {
						raw.WriteRune(p.ch())
						p.pos++
					}
					if p.ch() == '\n' {
						p.line++
					}
					raw.WriteRune(p.ch())
					p.pos++
				}
				if p.eof() {
					p.failMsg("unexpected EOF while looking for matching `''")
				}
				p.pos++
				text, _ := expandEscapes(raw.String(), false)
				b.lit(text, true)
				continue
			}
			p.readDollar(&b, false)
		case '`':
			p.readBacktick(&b, false)
		default:
			b.lit(string(c), false)
			p.pos++
		}
	}
	if len(b.parts) == 0 {
		// A word made only of empty quotes ("" or '').
		b.parts = append(b.parts, litPart{s: "", quoted: true})
	}
	return &word{parts: b.parts}
}

// readDQ reads double-quoted content up to (not including) term; term 0
// means "to end of input" (here-document bodies).
func (p *parser) readDQ(b *partsBuf, term rune) {
	for !p.eof() {
		c := p.ch()
		if term != 0 && c == term {
			return
		}
		switch c {
		case '\\':
			n := p.at(1)
			switch {
			case n == '\n':
				p.pos += 2
				p.line++
			case n == '$' || n == '`' || n == '\\' || (n == '"' && term == '"'):
				b.lit(string(n), true)
				p.pos += 2
			default:
				b.lit("\\", true)
				p.pos++
			}
		case '$':
			p.readDollar(b, true)
		case '`':
			p.readBacktick(b, true)
		default:
			if c == '\n' {
				p.line++
			}
			b.lit(string(c), true)
			p.pos++
		}
	}
}

func isNameStart(r rune) bool {
	return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

func isNameChar(r rune) bool { return isNameStart(r) || r >= '0' && r <= '9' }

// IsName reports whether s is a valid shell variable name.
func IsName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if i == 0 && !isNameStart(r) || !isNameChar(r) {
			return false
		}
	}
	return true
}

func (p *parser) readDollar(b *partsBuf, quoted bool) {
	p.pos++ // $
	c := p.ch()
	switch {
	case c == '(' && p.at(1) == '(':
		p.pos += 2
		// arithmetic: read up to the matching "))"
		depth := 0
		var ab partsBuf
		for {
			if p.eof() {
				p.failMsg("unexpected EOF while looking for matching `))'")
			}
			ch := p.ch()
			if ch == '(' {
				depth++
			} else if ch == ')' {
				if depth == 0 && p.at(1) == ')' {
					p.pos += 2
					break
				}
				depth--
			}
			if ch == '$' {
				p.readDollar(&ab, true)
				continue
			}
			ab.lit(string(ch), true)
			p.pos++
		}
		b.add(arithPart{expr: &word{parts: ab.parts}, quoted: quoted})
	case c == '(':
		p.pos++
		body := p.subParse(func(t token) bool { return t.kind == tOp && t.op == ")" })
		b.add(substPart{body: body, quoted: quoted})
	case c == '{':
		p.pos++
		p.readBraceParam(b, quoted)
	case isNameStart(c):
		start := p.pos
		for !p.eof() && isNameChar(p.ch()) {
			p.pos++
		}
		b.add(paramPart{name: string(p.src[start:p.pos]), quoted: quoted})
	case c >= '0' && c <= '9' || strings.ContainsRune("?$#@*!-", c) && c != 0:
		p.pos++
		b.add(paramPart{name: string(c), quoted: quoted})
	default:
		b.lit("$", quoted)
	}
}

func (p *parser) readBraceParam(b *partsBuf, quoted bool) {
	pp := paramPart{quoted: quoted}
	if p.ch() == '#' && p.at(1) != '}' {
		pp.op = "len"
		p.pos++
	}
	start := p.pos
	if c := p.ch(); c != 0 && (c >= '0' && c <= '9' || strings.ContainsRune("?$#@*!-", c)) {
		p.pos++
	} else {
		for !p.eof() && isNameChar(p.ch()) {
			p.pos++
		}
	}
	pp.name = string(p.src[start:p.pos])
	if pp.name == "" {
		p.failMsg("${}: bad substitution")
	}
	if pp.op == "len" {
		if p.ch() != '}' {
			p.failMsg("${#...}: bad substitution")
		}
		p.pos++
		b.add(pp)
		return
	}
	if p.ch() == '}' {
		p.pos++
		b.add(pp)
		return
	}
	for _, op := range []string{":-", ":=", ":+", ":?", "##", "%%", "//", "-", "=", "+", "?", "#", "%", "/", ":"} {
		if p.hasPrefix(op) {
			pp.op = op
			p.pos += len(op)
			break
		}
	}
	if pp.op == "" {
		p.failMsg(fmt.Sprintf("${%s%c...}: bad substitution", pp.name, p.ch()))
	}
	// The argument: like double-quoted text up to the matching }.
	var ab partsBuf
	depth := 0
	for {
		if p.eof() {
			p.failMsg("unexpected EOF while looking for matching `}'")
		}
		c := p.ch()
		if c == '}' && depth == 0 {
			p.pos++
			break
		}
		switch c {
		case '{':
			depth++
			ab.lit("{", false)
			p.pos++
		case '}':
			depth--
			ab.lit("}", false)
			p.pos++
		case '\\':
			if p.at(1) != 0 {
				ab.lit(string(p.at(1)), true)
				p.pos += 2
			} else {
				p.pos++
			}
		case '\'':
			if quoted {
				ab.lit("'", true)
				p.pos++
				continue
			}
			p.pos++
			s := p.pos
			for !p.eof() && p.ch() != '\'' {
				p.pos++
			}
			if p.eof() {
				p.failMsg("unexpected EOF while looking for matching `''")
			}
			ab.lit(string(p.src[s:p.pos]), true)
			p.pos++
		case '"':
			p.pos++
			p.readDQ(&ab, '"')
			if p.eof() {
				p.failMsg("unexpected EOF while looking for matching `\"'")
			}
			p.pos++
		case '$':
			p.readDollar(&ab, quoted)
		case '`':
			p.readBacktick(&ab, quoted)
		default:
			// Pattern characters stay special even inside "…".
			if c == '\n' {
				p.line++
			}
			ab.lit(string(c), false)
			p.pos++
		}
	}
	pp.arg = &word{parts: ab.parts}
	b.add(pp)
}

func (p *parser) readBacktick(b *partsBuf, quoted bool) {
	p.pos++
	var sb strings.Builder
	for {
		if p.eof() {
			p.failMsg("unexpected EOF while looking for matching ``'")
		}
		c := p.ch()
		if c == '`' {
			p.pos++
			break
		}
		if c == '\\' && (p.at(1) == '`' || p.at(1) == '\\' || p.at(1) == '$') {
			sb.WriteRune(p.at(1))
			p.pos += 2
			continue
		}
		if c == '\n' {
			p.line++
		}
		sb.WriteRune(c)
		p.pos++
	}
	sub := &parser{src: []rune(sb.String()), line: p.line, depth: p.depth + 1, dash: p.dash}
	if sub.depth > maxParseDepth {
		p.failMsg("expression nested too deeply")
	}
	body := sub.parseScript(nil)
	if t := sub.next(); t.kind != tEOF {
		sub.fail(t)
	}
	b.add(substPart{body: body, quoted: quoted})
}

// subParse parses a nested script from the current position (inside $(…))
// until a token accepted by stop, which it consumes.
func (p *parser) subParse(stop func(token) bool) *script {
	sub := &parser{src: p.src, pos: p.pos, line: p.line, depth: p.depth + 1, dash: p.dash}
	if sub.depth > maxParseDepth {
		p.failMsg("expression nested too deeply")
	}
	body := sub.parseScript(stop)
	t := sub.next()
	if !stop(t) {
		sub.fail(t)
	}
	p.pos, p.line = sub.pos, sub.line
	return body
}

// readHeredocs reads the bodies of pending here-documents after a newline.
func (p *parser) readHeredocs() {
	pend := p.pending
	p.pending = nil
	for _, h := range pend {
		var body strings.Builder
		found := false
		for !p.eof() {
			start := p.pos
			for !p.eof() && p.ch() != '\n' {
				p.pos++
			}
			line := string(p.src[start:p.pos])
			if !p.eof() {
				p.pos++
			}
			p.line++
			cmp := strings.TrimSuffix(line, "\r")
			if h.strip {
				cmp = strings.TrimLeft(cmp, "\t")
				line = strings.TrimLeft(line, "\t")
			}
			if cmp == h.delim {
				found = true
				break
			}
			body.WriteString(line)
			body.WriteByte('\n')
		}
		if !found {
			p.failMsg(fmt.Sprintf("here-document delimited by end-of-file (wanted `%s')", h.delim))
		}
		if h.quoted {
			h.r.heredoc = &word{parts: []wordPart{litPart{s: body.String(), quoted: true}}}
			continue
		}
		sub := &parser{src: []rune(body.String()), line: p.line, dash: p.dash}
		var b partsBuf
		sub.readDQ(&b, 0)
		if len(b.parts) == 0 {
			b.lit("", true)
		}
		h.r.heredoc = &word{parts: b.parts}
	}
}

// ---- grammar ----

func (p *parser) isWord(t token, s string) bool {
	if t.kind != tWord {
		return false
	}
	l, ok := t.w.literal()
	return ok && l == s
}

// stopWords end a list inside compound commands.
var stopWords = map[string]bool{"then": true, "elif": true, "else": true, "fi": true, "do": true, "done": true, "esac": true, "}": true}

func (p *parser) skipNewlines() {
	for p.peek().kind == tNewline {
		p.next()
	}
}

// parseScript parses and-or lists separated by ; & or newlines until EOF,
// a stop word, ")" , ";;" or a token accepted by stop.
func (p *parser) parseScript(stop func(token) bool) *script {
	p.depth++
	if p.depth > maxParseDepth {
		p.failMsg("expression nested too deeply")
	}
	defer func() { p.depth-- }()
	s := &script{}
	for {
		p.skipNewlines()
		t := p.peek()
		if t.kind == tEOF || (stop != nil && stop(t)) {
			return s
		}
		if t.kind == tOp && (t.op == ")" || t.op == ";;") {
			return s
		}
		if t.kind == tWord {
			if l, ok := t.w.literal(); ok && stopWords[l] {
				return s
			}
		}
		ao := p.parseAndOr()
		s.items = append(s.items, ao)
		t = p.peek()
		switch {
		case t.kind == tOp && t.op == ";":
			p.next()
		case t.kind == tOp && t.op == "&":
			p.next()
			ao.bg = true
		case t.kind == tNewline:
			p.next()
		default:
			return s
		}
	}
}

func (p *parser) parseAndOr() *andOr {
	ao := &andOr{pipes: []*pipeline{p.parsePipeline()}}
	for {
		t := p.peek()
		if t.kind != tOp || (t.op != "&&" && t.op != "||") {
			return ao
		}
		p.next()
		p.skipNewlines()
		ao.ops = append(ao.ops, t.op)
		ao.pipes = append(ao.pipes, p.parsePipeline())
	}
}

func (p *parser) parsePipeline() *pipeline {
	pl := &pipeline{}
	if p.isWord(p.peek(), "!") {
		p.next()
		pl.bang = true
	}
	pl.cmds = append(pl.cmds, p.parseCommand())
	for {
		t := p.peek()
		if t.kind != tOp || t.op != "|" {
			return pl
		}
		p.next()
		p.skipNewlines()
		pl.cmds = append(pl.cmds, p.parseCommand())
	}
}

func (p *parser) expectWord(s string) {
	t := p.next()
	if !p.isWord(t, s) {
		p.fail(t)
	}
}

func (p *parser) parseCommand() command {
	t := p.peek()
	if t.kind == tWord {
		if l, ok := t.w.literal(); ok {
			switch l {
			case "if":
				p.next()
				c := &ifCmd{}
				for {
					c.conds = append(c.conds, p.parseNonEmpty())
					p.expectWord("then")
					c.bodies = append(c.bodies, p.parseNonEmpty())
					n := p.next()
					if p.isWord(n, "elif") {
						continue
					}
					if p.isWord(n, "else") {
						c.elseBody = p.parseNonEmpty()
						p.expectWord("fi")
					} else if !p.isWord(n, "fi") {
						p.fail(n)
					}
					break
				}
				c.redirs = p.parseRedirs()
				return c
			case "while", "until":
				p.next()
				c := &loopCmd{until: l == "until"}
				c.cond = p.parseNonEmpty()
				p.expectWord("do")
				c.body = p.parseNonEmpty()
				p.expectWord("done")
				c.redirs = p.parseRedirs()
				return c
			case "for":
				p.next()
				n := p.next()
				name, ok := "", false
				if n.kind == tWord {
					name, ok = n.w.literal()
				}
				if !ok || !IsName(name) {
					panic(&ParseError{Line: n.line, Msg: fmt.Sprintf("`%s': not a valid identifier", n.String())})
				}
				c := &forCmd{name: name}
				if p.peek().kind == tNewline {
					p.skipNewlines()
				}
				if p.isWord(p.peek(), "in") {
					p.next()
					c.hasIn = true
					for p.peek().kind == tWord {
						c.items = append(c.items, p.next().w)
					}
					if t := p.peek(); t.kind == tOp && t.op == ";" || t.kind == tNewline {
						p.next()
					} else {
						p.fail(t)
					}
				} else if t := p.peek(); t.kind == tOp && t.op == ";" {
					p.next()
				}
				p.skipNewlines()
				p.expectWord("do")
				c.body = p.parseNonEmpty()
				p.expectWord("done")
				c.redirs = p.parseRedirs()
				return c
			case "case":
				p.next()
				n := p.next()
				if n.kind != tWord {
					p.fail(n)
				}
				c := &caseCmd{subject: n.w}
				p.skipNewlines()
				p.expectWord("in")
				for {
					p.skipNewlines()
					t := p.peek()
					if p.isWord(t, "esac") {
						p.next()
						break
					}
					if t.kind == tOp && t.op == "(" {
						p.next()
					}
					var it caseItem
					for {
						pt := p.next()
						if pt.kind != tWord {
							p.fail(pt)
						}
						it.patterns = append(it.patterns, pt.w)
						sep := p.next()
						if sep.kind == tOp && sep.op == "|" {
							continue
						}
						if sep.kind == tOp && sep.op == ")" {
							break
						}
						p.fail(sep)
					}
					it.body = p.parseScript(nil)
					c.items = append(c.items, it)
					t = p.peek()
					if t.kind == tOp && t.op == ";;" {
						p.next()
						continue
					}
					p.skipNewlines()
					if !p.isWord(p.peek(), "esac") {
						p.fail(p.next())
					}
				}
				c.redirs = p.parseRedirs()
				return c
			case "{":
				p.next()
				c := &groupCmd{body: p.parseNonEmpty()}
				p.expectWord("}")
				c.redirs = p.parseRedirs()
				return c
			case "[[":
				if p.dash {
					break
				}
				p.next()
				c := &condCmd{line: t.line}
				for {
					n := p.next()
					switch {
					case n.kind == tEOF || n.kind == tNewline:
						p.fail(n)
					case p.isWord(n, "]]"):
						if len(c.items) == 0 {
							p.fail(n)
						}
						c.redirs = p.parseRedirs()
						return c
					case n.kind == tWord:
						c.items = append(c.items, condItem{w: n.w})
						if l, ok := n.w.literal(); ok && l == "=~" {
							c.items = append(c.items, condItem{w: p.readRegexWord()})
						}
					case n.kind == tOp && (n.op == "&&" || n.op == "||" || n.op == "(" || n.op == ")" || n.op == "<" || n.op == ">"):
						c.items = append(c.items, condItem{op: n.op})
					default:
						p.fail(n)
					}
				}
			case "function":
				if p.dash {
					break
				}
				p.next()
				n := p.next()
				name, ok := "", false
				if n.kind == tWord {
					name, ok = n.w.literal()
				}
				if !ok {
					p.fail(n)
				}
				if t := p.peek(); t.kind == tOp && t.op == "(" {
					p.next()
					if t := p.next(); t.kind != tOp || t.op != ")" {
						p.fail(t)
					}
				}
				p.skipNewlines()
				return &funcDef{name: name, body: p.parseCommand()}
			}
			if stopWords[l] || l == "in" {
				p.fail(t)
			}
		}
	}
	if t.kind == tOp && t.op == "(" {
		p.next()
		c := &groupCmd{subshell: true, body: p.parseNonEmpty()}
		if t := p.next(); t.kind != tOp || t.op != ")" {
			p.fail(t)
		}
		c.redirs = p.parseRedirs()
		return c
	}
	return p.parseSimple()
}

// parseNonEmpty parses a compound list that must hold at least one command.
func (p *parser) parseNonEmpty() *script {
	s := p.parseScript(nil)
	if len(s.items) == 0 {
		p.fail(p.next())
	}
	return s
}

func (p *parser) parseRedirs() []*redir {
	var rs []*redir
	for {
		t := p.peek()
		if t.kind == tIONumber || t.kind == tOp && isRedirOp(t.op) {
			rs = append(rs, p.parseRedir())
			continue
		}
		return rs
	}
}

func isRedirOp(op string) bool {
	switch op {
	case "<", ">", ">>", ">|", "<>", ">&", "<&", "<<", "<<-", "<<<", "&>", "&>>":
		return true
	}
	return false
}

func (p *parser) parseRedir() *redir {
	t := p.next()
	fd := -1
	if t.kind == tIONumber {
		fd = t.num
		t = p.next()
		if t.kind != tOp || !isRedirOp(t.op) {
			p.fail(t)
		}
	}
	r := &redir{fd: fd, op: t.op}
	if fd < 0 {
		r.fd = 1
		if strings.HasPrefix(t.op, "<") {
			r.fd = 0
		}
	}
	tw := p.next()
	if tw.kind == tEOF {
		// bash reports the missing target as the (virtual) newline.
		panic(&ParseError{Line: tw.line, Token: "newline"})
	}
	if tw.kind != tWord {
		p.fail(tw)
	}
	r.target = tw.w
	if t.op == "<<" || t.op == "<<-" {
		delim, quoted := heredocDelim(tw.w)
		p.pending = append(p.pending, pendingHeredoc{r: r, delim: delim, quoted: quoted, strip: t.op == "<<-"})
	}
	return r
}

// readRegexWord reads the right side of [[ x =~ RE ]] raw: parentheses
// and | belong to the regular expression there, as in bash.
func (p *parser) readRegexWord() *word {
	for !p.eof() && (p.ch() == ' ' || p.ch() == '\t') {
		p.pos++
	}
	var b strings.Builder
	depth := 0
	for !p.eof() {
		c := p.ch()
		if (c == ' ' || c == '\t' || c == '\n') && depth == 0 {
			break
		}
		switch c {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return &word{parts: []wordPart{litPart{s: b.String(), quoted: true}}}
			}
			depth--
		case '\\':
			if p.at(1) != 0 {
				b.WriteRune(c)
				b.WriteRune(p.at(1))
				p.pos += 2
				continue
			}
		case '\'', '"':
			q := c
			p.pos++
			for !p.eof() && p.ch() != q {
				b.WriteString(regexpQuoteRune(p.ch()))
				p.pos++
			}
			if p.eof() {
				p.failMsg(fmt.Sprintf("unexpected EOF while looking for matching `%c'", q))
			}
			p.pos++
			continue
		}
		b.WriteRune(c)
		p.pos++
	}
	if b.Len() == 0 {
		p.failMsg("unexpected argument to conditional binary operator")
	}
	return &word{parts: []wordPart{litPart{s: b.String(), quoted: true}}}
}

func regexpQuoteRune(r rune) string {
	if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
		return "\\" + string(r)
	}
	return string(r)
}

func heredocDelim(w *word) (string, bool) {
	var sb strings.Builder
	quoted := false
	for _, pt := range w.parts {
		switch x := pt.(type) {
		case litPart:
			sb.WriteString(x.s)
			quoted = quoted || x.quoted
		case paramPart:
			sb.WriteString("$" + x.name)
		default:
			sb.WriteString("$")
		}
	}
	return sb.String(), quoted
}

func (p *parser) parseSimple() command {
	c := &simpleCmd{line: p.peek().line}
	for {
		t := p.peek()
		switch {
		case t.kind == tIONumber || t.kind == tOp && isRedirOp(t.op):
			c.redirs = append(c.redirs, p.parseRedir())
		case t.kind == tWord:
			if len(c.words) == 0 {
				if a, ok := asAssign(t.w); ok {
					p.next()
					c.assigns = append(c.assigns, a)
					continue
				}
			}
			p.next()
			c.words = append(c.words, t.w)
			// function definition: NAME ( ) compound
			if len(c.words) == 1 && len(c.assigns) == 0 && len(c.redirs) == 0 {
				if nt := p.peek(); nt.kind == tOp && nt.op == "(" {
					name, ok := t.w.literal()
					if !ok || !IsName(strings.ReplaceAll(name, "-", "_")) {
						p.fail(nt)
					}
					p.next()
					if ct := p.next(); ct.kind != tOp || ct.op != ")" {
						p.fail(ct)
					}
					p.skipNewlines()
					return &funcDef{name: name, body: p.parseCommand()}
				}
			}
		default:
			if len(c.words) == 0 && len(c.assigns) == 0 && len(c.redirs) == 0 {
				p.fail(p.next())
			}
			return c
		}
	}
}

func asAssign(w *word) (assign, bool) {
	l, ok := w.parts[0].(litPart)
	if !ok || l.quoted {
		return assign{}, false
	}
	i := strings.IndexByte(l.s, '=')
	if i <= 0 || !IsName(l.s[:i]) {
		return assign{}, false
	}
	rest := []wordPart{}
	if v := l.s[i+1:]; v != "" {
		rest = append(rest, litPart{s: v})
	}
	rest = append(rest, w.parts[1:]...)
	return assign{name: l.s[:i], value: &word{parts: rest}}, true
}

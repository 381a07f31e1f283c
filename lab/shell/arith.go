package shell

import (
	"fmt"
	"strconv"
	"strings"
)

// arith evaluates $(( expr )): integer + - * / % ** comparisons, && || !,
// unary minus, parentheses, variables by name or $name.
func (st *state) arith(w *word) (string, bool) {
	src, ok := st.expandString(w)
	if !ok {
		return "", false
	}
	a := &arithParser{src: src, st: st}
	v, err := a.parse()
	if err != nil {
		if st.dash {
			st.errorf("%s%v\n", st.prefix(st.line), err)
			st.status, st.exiting, st.exitCode = 2, true, 2
			return "", false
		}
		st.fatalExpansion(fmt.Sprintf("%s: %v", strings.TrimSpace(src), err))
		return "", false
	}
	return strconv.FormatInt(v, 10), true
}

type arithParser struct {
	src   string
	pos   int
	st    *state
	depth int
}

type arithError string

func (e arithError) Error() string { return string(e) }

func (a *arithParser) parse() (v int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			ae, ok := r.(arithError)
			if !ok {
				panic(r)
			}
			err = ae
		}
	}()
	if strings.TrimSpace(a.src) == "" {
		return 0, nil
	}
	v = a.binary(0)
	a.space()
	if a.pos < len(a.src) {
		panic(arithError(fmt.Sprintf("syntax error: invalid arithmetic operator (error token is %q)", a.src[a.pos:])))
	}
	return v, nil
}

func (a *arithParser) space() {
	for a.pos < len(a.src) && strings.ContainsRune(" \t\n", rune(a.src[a.pos])) {
		a.pos++
	}
}

var arithLevels = [][]string{
	{"||"}, {"&&"}, {"|"}, {"^"}, {"&"}, {"==", "!="}, {"<=", ">=", "<", ">"}, {"<<", ">>"}, {"+", "-"}, {"*", "/", "%"}, {"**"},
}

func (a *arithParser) binary(level int) int64 {
	if level >= len(arithLevels) {
		return a.unary()
	}
	l := a.binary(level + 1)
	for {
		a.space()
		op := ""
		for _, o := range arithLevels[level] {
			if strings.HasPrefix(a.src[a.pos:], o) && !(o == "|" && strings.HasPrefix(a.src[a.pos:], "||")) &&
				!(o == "&" && strings.HasPrefix(a.src[a.pos:], "&&")) && !(o == "<" && strings.HasPrefix(a.src[a.pos:], "<<")) &&
				!(o == ">" && strings.HasPrefix(a.src[a.pos:], ">>")) && !(o == "*" && strings.HasPrefix(a.src[a.pos:], "**")) {
				op = o
				break
			}
		}
		if op == "" {
			return l
		}
		a.pos += len(op)
		if op == "**" && a.st.dash {
			panic(arithError(fmt.Sprintf("arithmetic expression: expecting primary: %q", a.src)))
		}
		if op == "**" {
			// right-associative
			r := a.binary(level)
			if r < 0 {
				panic(arithError("exponent less than 0"))
			}
			v := int64(1)
			for k := int64(0); k < r && k < 64; k++ {
				v *= l
			}
			return v
		}
		r := a.binary(level + 1)
		l = arithApply(op, l, r)
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func arithApply(op string, l, r int64) int64 {
	switch op {
	case "||":
		return b2i(l != 0 || r != 0)
	case "&&":
		return b2i(l != 0 && r != 0)
	case "|":
		return l | r
	case "^":
		return l ^ r
	case "&":
		return l & r
	case "==":
		return b2i(l == r)
	case "!=":
		return b2i(l != r)
	case "<=":
		return b2i(l <= r)
	case ">=":
		return b2i(l >= r)
	case "<":
		return b2i(l < r)
	case ">":
		return b2i(l > r)
	case "<<":
		return l << (uint64(r) & 63)
	case ">>":
		return l >> (uint64(r) & 63)
	case "+":
		return l + r
	case "-":
		return l - r
	case "*":
		return l * r
	case "/", "%":
		if r == 0 {
			panic(arithError("division by 0"))
		}
		if l == -1<<63 && r == -1 {
			if op == "/" {
				return l
			}
			return 0
		}
		if op == "/" {
			return l / r
		}
		return l % r
	}
	return 0
}

func (a *arithParser) unary() int64 {
	a.depth++
	if a.depth > 200 {
		panic(arithError("expression nested too deeply"))
	}
	defer func() { a.depth-- }()
	a.space()
	if a.pos >= len(a.src) {
		panic(arithError("syntax error: operand expected"))
	}
	switch c := a.src[a.pos]; c {
	case '-', '+':
		if a.pos+1 < len(a.src) && a.src[a.pos+1] == c {
			// ++name / --name
			a.pos += 2
			a.space()
			name := a.name()
			v := a.varValue(name)
			if c == '+' {
				v++
			} else {
				v--
			}
			a.st.vars[name] = strconv.FormatInt(v, 10)
			return v
		}
		a.pos++
		if c == '-' {
			return -a.unary()
		}
		return a.unary()
	case '!':
		a.pos++
		return b2i(a.unary() == 0)
	case '~':
		a.pos++
		return ^a.unary()
	case '(':
		a.pos++
		v := a.binary(0)
		a.space()
		if a.pos >= len(a.src) || a.src[a.pos] != ')' {
			panic(arithError("missing `)'"))
		}
		a.pos++
		return v
	}
	start := a.pos
	for a.pos < len(a.src) && (isNameChar(rune(a.src[a.pos])) || a.src[a.pos] == '#') {
		a.pos++
	}
	tok := a.src[start:a.pos]
	if tok == "" {
		panic(arithError(fmt.Sprintf("syntax error: operand expected (error token is %q)", a.src[a.pos:])))
	}
	if tok[0] >= '0' && tok[0] <= '9' {
		v, err := strconv.ParseInt(tok, 0, 64)
		if err != nil {
			panic(arithError(fmt.Sprintf("value too great for base (error token is %q)", tok)))
		}
		return v
	}
	if !IsName(tok) {
		panic(arithError(fmt.Sprintf("syntax error (error token is %q)", tok)))
	}
	// assignment operators and postfix ++/--
	a.space()
	rest := a.src[a.pos:]
	switch {
	case strings.HasPrefix(rest, "++") || strings.HasPrefix(rest, "--"):
		a.pos += 2
		v := a.varValue(tok)
		nv := v + 1
		if rest[0] == '-' {
			nv = v - 1
		}
		a.st.vars[tok] = strconv.FormatInt(nv, 10)
		return v
	case strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "=="):
		a.pos++
		v := a.binary(0)
		a.st.vars[tok] = strconv.FormatInt(v, 10)
		return v
	}
	for _, op := range []string{"+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^="} {
		if strings.HasPrefix(rest, op) {
			a.pos += len(op)
			r := a.binary(0)
			v := arithApply(strings.TrimSuffix(op, "="), a.varValue(tok), r)
			a.st.vars[tok] = strconv.FormatInt(v, 10)
			return v
		}
	}
	return a.varValue(tok)
}

// name reads a variable name.
func (a *arithParser) name() string {
	start := a.pos
	for a.pos < len(a.src) && isNameChar(rune(a.src[a.pos])) {
		a.pos++
	}
	n := a.src[start:a.pos]
	if !IsName(n) {
		panic(arithError("syntax error: operand expected"))
	}
	return n
}

// varValue is a variable's value as an integer (its text evaluated as an
// expression, like bash).
func (a *arithParser) varValue(tok string) int64 {
	val := strings.TrimSpace(a.st.vars[tok])
	if val == "" {
		return 0
	}
	if v, err := strconv.ParseInt(val, 0, 64); err == nil {
		return v
	}
	// bash evaluates a variable's value as an expression (b=a; $((b))).
	if a.depth > 50 {
		panic(arithError(fmt.Sprintf("%s: expression recursion level exceeded", tok)))
	}
	sub := &arithParser{src: val, st: a.st, depth: a.depth + 10}
	v, err := sub.parse()
	if err != nil {
		panic(arithError(fmt.Sprintf("%s: %v", val, err)))
	}
	return v
}

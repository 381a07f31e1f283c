package shell

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// condError is a [[ ]] evaluation error: status 2.
type condError string

// evalCond runs [[ … ]] and returns its status: 0 true, 1 false, 2 error.
func (st *state) evalCond(c *condCmd) (status int) {
	ev := &condEval{st: st, items: c.items}
	defer func() {
		if r := recover(); r != nil {
			ce, ok := r.(condError)
			if !ok {
				panic(r)
			}
			st.errorf("%s%s\n", st.prefix(c.line), string(ce))
			status = 2
		}
	}()
	v := ev.or()
	if ev.pos < len(ev.items) {
		panic(condError("syntax error in conditional expression"))
	}
	if st.exiting {
		return st.exitCode
	}
	if v {
		return 0
	}
	return 1
}

type condEval struct {
	st    *state
	items []condItem
	pos   int
	depth int
}

func (c *condEval) peekOp() string {
	if c.pos < len(c.items) {
		if it := c.items[c.pos]; it.op != "" {
			return it.op
		}
		if l, ok := c.items[c.pos].w.literal(); ok {
			return "w:" + l
		}
	}
	return ""
}

func (c *condEval) or() bool {
	v := c.and()
	for c.peekOp() == "||" {
		c.pos++
		r := c.and()
		v = v || r
	}
	return v
}

func (c *condEval) and() bool {
	v := c.not()
	for c.peekOp() == "&&" {
		c.pos++
		r := c.not()
		v = v && r
	}
	return v
}

func (c *condEval) not() bool {
	c.depth++
	if c.depth > 100 {
		panic(condError("conditional expression nested too deeply"))
	}
	defer func() { c.depth-- }()
	if c.peekOp() == "w:!" {
		c.pos++
		return !c.not()
	}
	return c.primary()
}

func (c *condEval) word() *word {
	if c.pos >= len(c.items) || c.items[c.pos].op != "" {
		tok := "]]"
		if c.pos < len(c.items) {
			tok = c.items[c.pos].op
		}
		panic(condError(fmt.Sprintf("syntax error in conditional expression: unexpected token `%s'", tok)))
	}
	w := c.items[c.pos].w
	c.pos++
	return w
}

func (c *condEval) str(w *word) string {
	s, ok := c.st.expandString(w)
	if !ok {
		panic(condError("bad substitution"))
	}
	return s
}

func (c *condEval) primary() bool {
	if c.peekOp() == "(" {
		c.pos++
		v := c.or()
		if c.peekOp() != ")" {
			panic(condError("syntax error in conditional expression: expected `)'"))
		}
		c.pos++
		return v
	}
	first := c.word()
	if l, ok := first.literal(); ok && isUnary(l) && c.pos < len(c.items) && c.items[c.pos].op == "" {
		// A unary test unless what follows is a binary operator.
		next := c.peekOp()
		if !strings.HasPrefix(next, "w:") || !isCondBinary(strings.TrimPrefix(next, "w:")) {
			arg := c.str(c.word())
			t := &tester{e: &Env{FS: c.st.fs, Vars: c.st.vars, User: c.st.user, Dir: c.st.cwd}}
			return t.unary(l, arg)
		}
	}
	op := c.peekOp()
	switch {
	case op == "<" || op == ">":
		c.pos++
		l, r := c.str(first), c.str(c.word())
		if op == "<" {
			return l < r
		}
		return l > r
	case strings.HasPrefix(op, "w:") && isCondBinary(op[2:]):
		c.pos++
		bin := op[2:]
		left := c.str(first)
		rw := c.word()
		switch bin {
		case "==", "=", "!=":
			pat, ok := c.st.expandPattern(rw)
			if !ok {
				panic(condError("bad substitution"))
			}
			m := matchGlob(pat, left)
			if bin == "!=" {
				return !m
			}
			return m
		case "=~":
			re, err := regexp.Compile(c.str(rw))
			if err != nil {
				panic(condError(fmt.Sprintf("invalid regular expression `%s'", c.str(rw))))
			}
			m := re.FindStringSubmatch(left)
			if m == nil {
				return false
			}
			c.st.vars["BASH_REMATCH"] = m[0]
			return true
		default:
			l, errL := strconv.ParseInt(strings.TrimSpace(left), 10, 64)
			r, errR := strconv.ParseInt(strings.TrimSpace(c.str(rw)), 10, 64)
			if errL != nil || errR != nil {
				bad := left
				if errL == nil {
					bad = c.str(rw)
				}
				panic(condError(fmt.Sprintf("%s: syntax error: operand expected", bad)))
			}
			switch bin {
			case "-eq":
				return l == r
			case "-ne":
				return l != r
			case "-lt":
				return l < r
			case "-le":
				return l <= r
			case "-gt":
				return l > r
			}
			return l >= r
		}
	}
	return c.str(first) != ""
}

func isCondBinary(op string) bool {
	switch op {
	case "==", "=", "!=", "=~", "-eq", "-ne", "-lt", "-le", "-gt", "-ge":
		return true
	}
	return false
}

package vm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/lab/shell"
)

// cmdJq is a small jq: paths (.a.b, .["k"], .[N], .[]), pipes, length,
// keys, select(PATH == VALUE / != VALUE), and `//` defaults; options -r,
// -c, -e, -n. It exists so the lab's install scripts can read pvesh's
// JSON; anything else is refused with a clear message.
func cmdJq(e *shell.Env) int {
	raw, compact, exitStatus, null := false, false, false, false
	var filter string
	var files []string
	for _, a := range e.Args[1:] {
		switch {
		case a == "-r" || a == "--raw-output":
			raw = true
		case a == "-c" || a == "--compact-output":
			compact = true
		case a == "-e" || a == "--exit-status":
			exitStatus = true
		case a == "-n" || a == "--null-input":
			null = true
		case strings.HasPrefix(a, "-") && len(a) > 1 && filter == "" && strings.Trim(a[1:], "rcen") == "":
			raw = raw || strings.Contains(a, "r")
			compact = compact || strings.Contains(a, "c")
			exitStatus = exitStatus || strings.Contains(a, "e")
			null = null || strings.Contains(a, "n")
		case filter == "":
			filter = a
		default:
			files = append(files, a)
		}
	}
	if filter == "" {
		filter = "."
	}
	prog, err := parseJq(filter)
	if err != nil {
		fmt.Fprintf(e.Stderr, "jq: error: %v\njq: 1 compile error\n", err)
		return 3
	}
	var inputs []any
	if null {
		inputs = []any{nil}
	} else {
		var data []byte
		if len(files) == 0 {
			data, err = io.ReadAll(e.Stdin)
		} else {
			for _, f := range files {
				b, rerr := e.FS.ReadFile(e.Abs(f))
				if rerr != nil {
					fmt.Fprintf(e.Stderr, "jq: error: Could not open %s: %s\n", f, shell.ErrText(rerr))
					return 2
				}
				data = append(data, b...)
			}
		}
		if err != nil {
			return 2
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		for {
			var v any
			if err := dec.Decode(&v); err == io.EOF {
				break
			} else if err != nil {
				fmt.Fprintf(e.Stderr, "jq: error (at <stdin>:0): Cannot parse input: %v\n", err)
				return 2
			}
			inputs = append(inputs, v)
		}
	}
	status := 0
	var last any = false
	for _, in := range inputs {
		outs, err := prog.eval(in)
		if err != nil {
			fmt.Fprintf(e.Stderr, "jq: error (at <stdin>:0): %v\n", err)
			return 5
		}
		for _, o := range outs {
			last = o
			if s, ok := o.(string); ok && raw {
				fmt.Fprintln(e.Stdout, s)
				continue
			}
			var b []byte
			if compact {
				b, _ = json.Marshal(o)
			} else {
				b, _ = json.MarshalIndent(o, "", "  ")
			}
			fmt.Fprintln(e.Stdout, string(b))
		}
	}
	if exitStatus && (last == nil || last == false) {
		status = 1
	}
	return status
}

type jqProg struct{ stages [][]jqStep } // pipes of path programs with alternatives

type jqStep struct {
	kind  string // "key", "index", "iter", "length", "keys", "select", "alt", "literal", "identity"
	key   string
	index int
	sel   *jqSelect
	alt   *jqProg
	lit   any
}

type jqSelect struct {
	path *jqProg
	op   string
	val  any
}

func parseJq(src string) (*jqProg, error) {
	p := &jqProg{}
	for _, stage := range splitTop(src, '|') {
		stage = strings.TrimSpace(stage)
		if stage == "" {
			return nil, fmt.Errorf("syntax error, unexpected '|'")
		}
		steps, err := parseJqStage(stage)
		if err != nil {
			return nil, err
		}
		p.stages = append(p.stages, steps)
	}
	return p, nil
}

// splitTop splits on sep outside brackets, parentheses and strings.
func splitTop(s string, sep byte) []string {
	var parts []string
	depth, inStr, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == sep && depth == 0:
			if sep == '/' && (i+1 >= len(s) || s[i+1] != '/') {
				continue
			}
			parts = append(parts, s[start:i])
			if sep == '/' {
				i++
			}
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func parseJqStage(s string) ([]jqStep, error) {
	if alts := splitTop(s, '/'); len(alts) == 2 {
		left, err := parseJq(strings.TrimSpace(alts[0]))
		if err != nil {
			return nil, err
		}
		right, err := parseJq(strings.TrimSpace(alts[1]))
		if err != nil {
			return nil, err
		}
		return []jqStep{{kind: "alt", alt: left, sel: &jqSelect{path: right}}}, nil
	}
	switch s {
	case "length", "keys":
		return []jqStep{{kind: s}}, nil
	case ".":
		return []jqStep{{kind: "identity"}}, nil
	}
	if strings.HasPrefix(s, "select(") && strings.HasSuffix(s, ")") {
		inner := s[len("select(") : len(s)-1]
		for _, op := range []string{"==", "!="} {
			if l, r, ok := strings.Cut(inner, op); ok {
				path, err := parseJq(strings.TrimSpace(l))
				if err != nil {
					return nil, err
				}
				var v any
				if err := json.Unmarshal([]byte(strings.TrimSpace(r)), &v); err != nil {
					return nil, fmt.Errorf("select: cannot parse %q", strings.TrimSpace(r))
				}
				return []jqStep{{kind: "select", sel: &jqSelect{path: path, op: op, val: v}}}, nil
			}
		}
		return nil, fmt.Errorf("select: the lab's jq supports only PATH == VALUE and PATH != VALUE")
	}
	if !strings.HasPrefix(s, ".") {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err == nil {
			return []jqStep{{kind: "literal", lit: v}}, nil
		}
		return nil, fmt.Errorf("%s/0 is not defined (the lab's jq knows paths, [], |, length, keys, select, //)", s)
	}
	var steps []jqStep
	i := 0
	for i < len(s) {
		switch {
		case s[i] == '.' && i+1 < len(s) && s[i+1] == '[':
			i++
		case s[i] == '.':
			j := i + 1
			if j < len(s) && s[j] == '"' {
				k := strings.IndexByte(s[j+1:], '"')
				if k < 0 {
					return nil, fmt.Errorf("unterminated string")
				}
				steps = append(steps, jqStep{kind: "key", key: s[j+1 : j+1+k]})
				i = j + k + 2
				continue
			}
			for j < len(s) && (s[j] == '_' || s[j] == '-' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			if j == i+1 {
				if j == len(s) {
					i = j
					continue
				}
				return nil, fmt.Errorf("syntax error at %q", s[i:])
			}
			steps = append(steps, jqStep{kind: "key", key: s[i+1 : j]})
			i = j
		case s[i] == '[':
			k := strings.IndexByte(s[i:], ']')
			if k < 0 {
				return nil, fmt.Errorf("syntax error, unterminated [")
			}
			in := strings.TrimSpace(s[i+1 : i+k])
			switch {
			case in == "":
				steps = append(steps, jqStep{kind: "iter"})
			case strings.HasPrefix(in, `"`):
				var key string
				if err := json.Unmarshal([]byte(in), &key); err != nil {
					return nil, fmt.Errorf("bad key %s", in)
				}
				steps = append(steps, jqStep{kind: "key", key: key})
			default:
				n, err := strconv.Atoi(in)
				if err != nil {
					return nil, fmt.Errorf("bad index %s", in)
				}
				steps = append(steps, jqStep{kind: "index", index: n})
			}
			i += k + 1
		default:
			return nil, fmt.Errorf("syntax error at %q", s[i:])
		}
	}
	if len(steps) == 0 {
		steps = []jqStep{{kind: "identity"}}
	}
	return steps, nil
}

func (p *jqProg) eval(in any) ([]any, error) {
	cur := []any{in}
	for _, stage := range p.stages {
		for _, st := range stage {
			var next []any
			for _, v := range cur {
				out, err := st.apply(v)
				if err != nil {
					return nil, err
				}
				next = append(next, out...)
			}
			cur = next
		}
	}
	return cur, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

func (st jqStep) apply(v any) ([]any, error) {
	switch st.kind {
	case "identity":
		return []any{v}, nil
	case "literal":
		return []any{st.lit}, nil
	case "key":
		switch m := v.(type) {
		case nil:
			return []any{nil}, nil
		case map[string]any:
			return []any{m[st.key]}, nil
		}
		return nil, jqError(fmt.Sprintf("Cannot index %s with \"%s\"", typeName(v), st.key))
	case "index":
		switch a := v.(type) {
		case nil:
			return []any{nil}, nil
		case []any:
			i := st.index
			if i < 0 {
				i += len(a)
			}
			if i < 0 || i >= len(a) {
				return []any{nil}, nil
			}
			return []any{a[i]}, nil
		}
		return nil, jqError(fmt.Sprintf("Cannot index %s with number", typeName(v)))
	case "iter":
		switch a := v.(type) {
		case []any:
			return a, nil
		case map[string]any:
			keys := make([]string, 0, len(a))
			for k := range a {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := make([]any, 0, len(a))
			for _, k := range keys {
				out = append(out, a[k])
			}
			return out, nil
		}
		return nil, jqError(fmt.Sprintf("Cannot iterate over %s", typeName(v)))
	case "length":
		switch a := v.(type) {
		case nil:
			return []any{json.Number("0")}, nil
		case string:
			return []any{json.Number(strconv.Itoa(len([]rune(a))))}, nil
		case []any:
			return []any{json.Number(strconv.Itoa(len(a)))}, nil
		case map[string]any:
			return []any{json.Number(strconv.Itoa(len(a)))}, nil
		}
		return nil, fmt.Errorf("%s has no length", typeName(v))
	case "keys":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s has no keys", typeName(v))
		}
		keys := make([]any, 0, len(m))
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			keys = append(keys, k)
		}
		return []any{keys}, nil
	case "select":
		outs, err := st.sel.path.eval(v)
		if err != nil {
			return nil, err
		}
		want, _ := json.Marshal(st.sel.val)
		for _, o := range outs {
			got, _ := json.Marshal(o)
			if (string(got) == string(want)) == (st.sel.op == "==") {
				return []any{v}, nil
			}
		}
		return nil, nil
	case "alt":
		outs, err := st.alt.eval(v)
		if err == nil {
			var keep []any
			for _, o := range outs {
				if o != nil && o != false {
					keep = append(keep, o)
				}
			}
			if len(keep) > 0 {
				return keep, nil
			}
		}
		return st.sel.path.eval(v)
	}
	return nil, fmt.Errorf("unsupported filter")
}

// jqError is a runtime error worded as jq words it.
type jqError string

func (e jqError) Error() string { return string(e) }

package vm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/itchyny/gojq"

	"github.com/tappaas/tappaas/lab/shell"
)

// cmdJq is the guests' jq (NixOS and OPNsense both ship jq 1.7: see
// opnsensePackages), evaluated by gojq so that filters behave as jq's own
// language does (map, select, string interpolation, //, reduce …). The
// command line, output format and exit statuses follow jq's manual
// (https://jqlang.org/manual/v1.7/#invoking-jq): -r/-j raw strings, -c
// compact, -e status from the last output (1 for false/null, 4 for no
// output), -n null input, -s slurp, --arg/--argjson; 2 for unreadable
// input, 3 for a compile error, 5 for a runtime error.
//
// Known difference, kept: gojq prints object keys sorted where jq keeps
// their input order (https://github.com/itchyny/gojq#difference-to-jq).
func cmdJq(e *shell.Env) int {
	var o jqOpts
	if msg := o.parse(e.Args[1:]); msg != "" {
		fmt.Fprintf(e.Stderr, "jq: error: %s\nUse jq --help for help with command-line options,\nor see the jq manpage, or online docs  at https://jqlang.github.io/jq\n", msg)
		return 2
	}
	q, err := gojq.Parse(o.filter)
	if err != nil {
		fmt.Fprintf(e.Stderr, "jq: error: %v\njq: 1 compile error\n", err)
		return 3
	}
	code, err := gojq.Compile(q, gojq.WithVariables(o.varNames))
	if err != nil {
		fmt.Fprintf(e.Stderr, "jq: error: %v\njq: 1 compile error\n", err)
		return 3
	}
	inputs, status := o.read(e)
	if status != 0 {
		return status
	}
	produced, lastTruthy := false, false
	for _, in := range inputs {
		iter := code.RunWithContext(e.Ctx, in, o.varValues...)
		for {
			v, ok := iter.Next()
			if !ok {
				break
			}
			if err, isErr := v.(error); isErr {
				var halt *gojq.HaltError
				if errors.As(err, &halt) {
					// halt_error: a string goes to stderr as is, anything
					// else as JSON with a newline (jq manual, halt_error).
					switch hv := halt.Value().(type) {
					case nil:
					case string:
						io.WriteString(e.Stderr, hv)
					default:
						b, _ := gojq.Marshal(hv)
						fmt.Fprintf(e.Stderr, "%s\n", b)
					}
					return halt.ExitCode() & 0xff
				}
				fmt.Fprintf(e.Stderr, "jq: error (at <stdin>:0): %v\n", err)
				return 5
			}
			produced = true
			lastTruthy = v != nil && v != false
			o.write(e.Stdout, v)
		}
	}
	if o.exitStatus {
		switch {
		case !produced:
			return 4
		case !lastTruthy:
			return 1
		}
	}
	return 0
}

type jqOpts struct {
	raw, join, compact, exitStatus, null, slurp bool
	filter                                      string
	filterSet                                   bool
	files                                       []string
	varNames                                    []string
	varValues                                   []any
}

// parse reads jq's options; it returns an error text for a bad command line.
func (o *jqOpts) parse(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--raw-output":
			o.raw = true
		case a == "--join-output":
			o.raw, o.join = true, true
		case a == "--compact-output":
			o.compact = true
		case a == "--exit-status":
			o.exitStatus = true
		case a == "--null-input":
			o.null = true
		case a == "--slurp":
			o.slurp = true
		case a == "--arg" || a == "--argjson":
			if i+2 >= len(args) {
				return a + " takes two parameters (e.g. " + a + " varname value)"
			}
			var v any = args[i+2]
			if a == "--argjson" {
				if err := json.Unmarshal([]byte(args[i+2]), &v); err != nil {
					return "Invalid JSON text passed to --argjson"
				}
				v = normalizeJSON(v)
			}
			o.varNames = append(o.varNames, "$"+args[i+1])
			o.varValues = append(o.varValues, v)
			i += 2
		case len(a) > 1 && a[0] == '-' && a[1] != '-' && strings.Trim(a[1:], "rjcens") == "":
			for _, f := range a[1:] {
				switch f {
				case 'r':
					o.raw = true
				case 'j':
					o.raw, o.join = true, true
				case 'c':
					o.compact = true
				case 'e':
					o.exitStatus = true
				case 'n':
					o.null = true
				case 's':
					o.slurp = true
				}
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			return "Unknown option: " + a
		case !o.filterSet:
			o.filter, o.filterSet = a, true
		default:
			o.files = append(o.files, a)
		}
	}
	if !o.filterSet {
		o.filter = "."
	}
	return ""
}

// read returns the input values, or a non-zero status after saying why.
func (o *jqOpts) read(e *shell.Env) ([]any, int) {
	var data []byte
	var err error
	if len(o.files) == 0 {
		if !o.null {
			data, err = io.ReadAll(e.Stdin)
			if err != nil {
				return nil, 2
			}
		}
	} else {
		for _, f := range o.files {
			b, rerr := e.FS.ReadFile(e.Abs(f))
			if rerr != nil {
				fmt.Fprintf(e.Stderr, "jq: error: Could not open %s: %s\n", f, shell.ErrText(rerr))
				return nil, 2
			}
			data = append(data, b...)
		}
	}
	var values []any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintf(e.Stderr, "jq: error (at <stdin>:0): Cannot parse input: %v\n", err)
			return nil, 2
		}
		values = append(values, normalizeJSON(v))
	}
	switch {
	case o.null:
		return []any{nil}, 0
	case o.slurp:
		if values == nil {
			values = []any{}
		}
		return []any{values}, 0
	}
	return values, 0
}

func (o *jqOpts) write(w io.Writer, v any) {
	if s, ok := v.(string); ok && o.raw {
		io.WriteString(w, s)
	} else {
		b, err := gojq.Marshal(v)
		if err != nil {
			b = []byte("null")
		}
		if !o.compact {
			var pretty bytes.Buffer
			if json.Indent(&pretty, b, "", "  ") == nil {
				b = pretty.Bytes()
			}
		}
		w.Write(b)
	}
	if !o.join {
		io.WriteString(w, "\n")
	}
}

// normalizeJSON turns json.Number into the number types gojq computes
// with: int where it fits, a big integer for longer integer literals,
// float64 otherwise.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && int64(int(i)) == i {
			return int(i)
		}
		if b, ok := new(big.Int).SetString(string(x), 10); ok {
			return b
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = normalizeJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeJSON(x[k])
		}
	}
	return v
}

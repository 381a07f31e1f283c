package jsonnode

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
)

// oracle is the previous, json.Decoder-based parser: the reference the
// hand-written one must agree with.
func oracle(data []byte) (*Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var read func(depth int) (*Node, error)
	read = func(depth int) (*Node, error) {
		if depth > MaxDepth {
			return nil, errors.New("too deep")
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' {
				n := &Node{Kind: Object}
				seen := map[string]bool{}
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, err
					}
					k, _ := kt.(string)
					if seen[k] {
						return nil, errors.New("duplicate")
					}
					seen[k] = true
					v, err := read(depth + 1)
					if err != nil {
						return nil, err
					}
					n.Keys, n.Vals = append(n.Keys, k), append(n.Vals, v)
				}
				_, err := dec.Token()
				return n, err
			}
			n := &Node{Kind: Array}
			for dec.More() {
				v, err := read(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Elems = append(n.Elems, v)
			}
			_, err := dec.Token()
			return n, err
		case string:
			return &Node{Kind: String, Str: t}, nil
		case json.Number:
			return &Node{Kind: Number, Lit: t.String()}, nil
		case bool:
			if t {
				return &Node{Kind: Bool, Lit: "true"}, nil
			}
			return &Node{Kind: Bool, Lit: "false"}, nil
		default:
			return &Node{Kind: Null, Lit: "null"}, nil
		}
	}
	n, err := read(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data")
	}
	// json.Decoder.Token does not check everything Valid does (e.g. a
	// missing ',' between members); the grammar is Valid's.
	if !json.Valid(data) {
		return nil, errors.New("invalid")
	}
	return n, nil
}

var parseSeeds = []string{
	`{"a": [1, -2.5e+3, "x\u00e9\n\"", true, false, null, {}, []], "b": {"c": "d"}}`,
	` [ ] `, `"\ud83d\ude00"`, "\"\xff\"", `0`, `-0.0E-0`, `01`, `1.`, `.5`, `-`, `{"a":1,}`, `[1,]`,
	`{"a" 1}`, `{"a":1 "b":2}`, `[1 2]`, `tru`, `nul`, `"a` + "\x01" + `"`, `"\x"`, `{"a":1}{}`, `{,}`,
	`{"a":1,"a":2}`, "\t\n{}\r\n", ``, ` `, `"\`,
}

func TestParseAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range parseSeeds {
		checkAgainstOracle(t, []byte(s))
	}
}

func FuzzParseAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkAgainstOracle)
}

func checkAgainstOracle(t *testing.T, data []byte) {
	got, err := Parse(data)
	want, werr := oracle(data)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: Parse err=%v, encoding/json err=%v", data, err, werr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: Parse = %#v, encoding/json = %#v", data, got, want)
	}
}

package jsonnode

import (
	"bytes"
	"strings"
	"testing"
)

func render(n *Node, indent string) string {
	var b bytes.Buffer
	Write(&b, n, indent, 0)
	return b.String()
}

func TestRoundTripJQLayout(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"{\n  \"a\": 1,\n  \"b\": [\n    \"x\",\n    2.50,\n    true,\n    null\n  ],\n  \"c\": {},\n  \"d\": [],\n  \"é\": \"<&>\"\n}",
		"{\n    \"memory\": \"4096\",\n    \"config\": {\n        \"cluster:vm\": {\n            \"cores\": 4\n        }\n    }\n}",
	} {
		n, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := render(n, DetectIndent([]byte(in))); got != in {
			t.Errorf("round trip:\n got %q\nwant %q", got, in)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"duplicate key": `{"a": 1, "a": 2}`,
		"trailing data": `{} {}`,
		"truncated":     `{"a": [1, 2`,
		"too deep":      strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2),
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: Parse(%q) succeeded, want an error", name, in)
		}
	}
}

func TestEdit(t *testing.T) {
	t.Parallel()
	n, err := Parse([]byte(`{"a": 1, "b": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	n.Set("a", NewString("x"))
	n.Set("c", NewBool(true))
	if !n.Delete("b") || n.Delete("b") {
		t.Fatal("Delete reports presence wrongly")
	}
	c := n.Clone()
	c.Set("a", NewInt(7))
	if got, want := render(n, "  "), "{\n  \"a\": \"x\",\n  \"c\": true\n}"; got != want {
		t.Errorf("edited = %q, want %q (clone must not alias)", got, want)
	}
	if v, _ := c.Get("a"); v.Text() != "7" {
		t.Errorf("clone a = %q", v.Text())
	}
	arr := NewStringArray([]string{"p", "q"})
	if arr.Text() != `["p","q"]` {
		t.Errorf("Text of array = %q", arr.Text())
	}
}

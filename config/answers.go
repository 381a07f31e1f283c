package config

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// maxAnswersSize bounds an answers file (they are a few KiB).
const maxAnswersSize = 1 << 20

// LoadAnswers reads a TOML answers file, fills defaults and validates it.
// Every problem is reported at once as Errors, each naming its key: syntax
// errors, values of the wrong type, unknown keys, invalid values. The
// returned Install is usable only when the error is nil.
func LoadAnswers(r io.Reader) (Install, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAnswersSize+1))
	if err != nil {
		return Install{}, fmt.Errorf("read answers: %w", err)
	}
	if len(data) > maxAnswersSize {
		return Install{}, Errors{{Key: "(file)", Err: fmt.Errorf("answers file is larger than %d bytes", maxAnswersSize)}}
	}
	i, es := decodeAnswers(string(data))
	if len(es) > 0 && i == nil {
		return Install{}, es
	}
	i.ApplyDefaults()
	if err := i.Validate(); err != nil {
		var ves Errors
		if errors.As(err, &ves) {
			for _, ve := range ves {
				if !es.has(ve.Key) {
					es = append(es, ve)
				}
			}
		}
	}
	if len(es) > 0 {
		return Install{}, es
	}
	return *i, nil
}

// DecodeAnswers parses answers without defaults or validation (headless
// install: answers that lack only the image checksums, which are then
// taken from where the images are published). Syntax, type and
// unknown-key errors are returned as Errors.
func DecodeAnswers(r io.Reader) (Install, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAnswersSize))
	if err != nil {
		return Install{}, fmt.Errorf("read answers: %w", err)
	}
	i, es := decodeAnswers(string(data))
	if i == nil {
		return Install{}, es
	}
	return *i, es.orNil()
}

func (es Errors) has(key string) bool {
	for _, e := range es {
		if e.Key == key {
			return true
		}
	}
	return false
}

func decodeAnswers(data string) (*Install, Errors) {
	var i Install
	md, err := toml.Decode(data, &i)
	if err != nil {
		var pe toml.ParseError
		key := "(file)"
		msg := err.Error()
		if errors.As(err, &pe) {
			if pe.LastKey != "" {
				key = pe.LastKey
			}
			msg = fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)
		} else if m := lastKeyRe.FindStringSubmatch(msg); m != nil {
			// Type mismatches: "toml: line 2 (last key \"a.b\"): incompatible types: …".
			// Partially decoded values are unreliable: report only this.
			key = m[2]
			msg = strings.TrimSpace(msg[strings.Index(msg, m[0])+len(m[0]):])
			if m[1] != "" {
				msg = "line " + m[1] + ": " + msg
			}
		}
		return nil, Errors{{Key: key, Err: errors.New(msg)}}
	}
	var es Errors
	for _, k := range md.Undecoded() {
		ks := cleanKey(k)
		if es.has(ks) {
			continue
		}
		es.add(ks, fmt.Errorf("unknown key; known keys here: %s", strings.Join(knownKeys(k), ", ")))
	}
	return &i, es
}

var lastKeyRe = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\):`)

// cleanKey renders a key path; array-of-table indexes are not in toml.Key,
// so pools keys read "storage.pools.x".
func cleanKey(k toml.Key) string { return k.String() }

// knownKeys lists the TOML keys valid next to the unknown key k.
func knownKeys(k toml.Key) []string {
	t := reflect.TypeFor[Install]()
	for _, part := range k[:len(k)-1] {
		f, ok := fieldByTag(t, part)
		if !ok {
			break
		}
		t = f.Type
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			break
		}
	}
	var out []string
	for n := range t.NumField() {
		if tag := t.Field(n).Tag.Get("toml"); tag != "" {
			out = append(out, tag)
		}
	}
	sort.Strings(out)
	return out
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for n := range t.NumField() {
		if t.Field(n).Tag.Get("toml") == tag {
			return t.Field(n), true
		}
	}
	return reflect.StructField{}, false
}

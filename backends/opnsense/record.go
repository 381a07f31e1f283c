package opnsense

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Record is one OPNsense record as plain strings, the way the API stores
// them: booleans "1"/"0", numbers as decimal strings, single-select option
// fields as the selected key, multi-selects comma-joined, nested containers
// flattened with dotted keys ("option_data.routers"). Search rows also carry
// "uuid".
type Record map[string]string

// decodeValue flattens one JSON value into rec under prefix. It understands
// OPNsense's option maps ({"key":{"value":"label","selected":1},…} → the
// selected keys, comma-joined, in document order) and option lists
// ([{"value":"k","selected":1},…]).
func decodeValue(dec *json.Decoder, prefix string, rec Record, depth int) error {
	if depth > 32 {
		return errors.New("nesting too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case nil:
		rec[prefix] = ""
	case bool:
		if t {
			rec[prefix] = "1"
		} else {
			rec[prefix] = "0"
		}
	case json.Number:
		rec[prefix] = t.String()
	case string:
		rec[prefix] = t
	case json.Delim:
		switch t {
		case '{':
			return decodeObject(dec, prefix, rec, depth)
		case '[':
			return decodeArray(dec, prefix, rec, depth)
		default:
			return fmt.Errorf("unexpected %v", t)
		}
	}
	return nil
}

func decodeObject(dec *json.Decoder, prefix string, rec Record, depth int) error {
	// Read the members raw first: whether this is an option map depends on
	// all of them.
	type member struct {
		key string
		raw json.RawMessage
	}
	var ms []member
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		k, ok := kt.(string)
		if !ok {
			return fmt.Errorf("object key %v is not a string", kt)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		ms = append(ms, member{k, raw})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return err
	}
	if prefix != "" && len(ms) > 0 && allOptions(ms, func(m member) json.RawMessage { return m.raw }) {
		var sel []string
		for _, m := range ms {
			if isSelected(m.raw) {
				sel = append(sel, m.key)
			}
		}
		rec[prefix] = strings.Join(sel, ",")
		return nil
	}
	if prefix != "" && len(ms) == 0 {
		rec[prefix] = "" // empty option map or empty container
		return nil
	}
	for _, m := range ms {
		key := m.key
		if prefix != "" {
			key = prefix + "." + m.key
		}
		if v, ok := scalarFast(m.raw); ok {
			rec[key] = v
			continue
		}
		sub := newDecoder(m.raw)
		if err := decodeValue(sub, key, rec, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func decodeArray(dec *json.Decoder, prefix string, rec Record, depth int) error {
	var items []json.RawMessage
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		items = append(items, raw)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return err
	}
	if len(items) > 0 && allOptions(items, func(r json.RawMessage) json.RawMessage { return r }) {
		var sel []string
		for _, it := range items {
			if isSelected(it) {
				var o struct {
					Value json.RawMessage `json:"value"`
					Key   json.RawMessage `json:"key"`
				}
				_ = json.Unmarshal(it, &o)
				v := o.Key
				if len(v) == 0 {
					v = o.Value
				}
				sel = append(sel, scalarString(v))
			}
		}
		rec[prefix] = strings.Join(sel, ",")
		return nil
	}
	// Scalars are comma-joined; containers are flattened by index
	// ("prefix.0.field").
	var parts []string
	for i, it := range items {
		t := bytes.TrimSpace(it)
		if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			if err := decodeValue(newDecoder(it), fmt.Sprintf("%s.%d", prefix, i), rec, depth+1); err != nil {
				return err
			}
			continue
		}
		parts = append(parts, scalarString(it))
	}
	if len(parts) > 0 || len(items) == 0 {
		rec[prefix] = strings.Join(parts, ",")
	}
	return nil
}

func newDecoder(raw []byte) *json.Decoder {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d
}

// scalarFast decodes a JSON scalar without a Decoder (the common case).
func scalarFast(raw json.RawMessage) (string, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "", false
	}
	switch t[0] {
	case '"':
		if bytes.IndexByte(t, '\\') < 0 && len(t) >= 2 && t[len(t)-1] == '"' {
			return string(t[1 : len(t)-1]), true
		}
		var s string
		if json.Unmarshal(t, &s) == nil {
			return s, true
		}
	case 't':
		if string(t) == "true" {
			return "1", true
		}
	case 'f':
		if string(t) == "false" {
			return "0", true
		}
	case 'n':
		if string(t) == "null" {
			return "", true
		}
	}
	return "", false
}

// allOptions: every element is an object with a "selected" member.
func allOptions[T any](xs []T, raw func(T) json.RawMessage) bool {
	for _, x := range xs {
		if t := bytes.TrimSpace(raw(x)); len(t) == 0 || t[0] != '{' {
			return false
		}
		var o map[string]json.RawMessage
		if json.Unmarshal(raw(x), &o) != nil || o == nil {
			return false
		}
		if _, ok := o["selected"]; !ok {
			return false
		}
	}
	return true
}

func isSelected(raw json.RawMessage) bool {
	var o struct {
		Selected json.RawMessage `json:"selected"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return false
	}
	switch strings.Trim(string(o.Selected), `" `) {
	case "1", "true":
		return true
	}
	return false
}

func scalarString(raw json.RawMessage) string {
	r := Record{}
	if decodeValue(newDecoder(raw), "v", r, 0) != nil {
		return ""
	}
	return r["v"]
}

// ParseRecord decodes one record object (the value under the monad key) into
// a Record. It never panics; malformed input is an error.
func ParseRecord(data []byte) (Record, error) {
	dec := newDecoder(data)
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("opnsense: record: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("opnsense: record: expected an object, got %v", tok)
	}
	rec := Record{}
	if err := decodeObject(dec, "", rec, 0); err != nil {
		return nil, fmt.Errorf("opnsense: record: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("opnsense: record: trailing data after the object")
	}
	return rec, nil
}

// reply is the union of the generic reply shapes.
type reply struct {
	Result      string                     `json:"result"`
	UUID        string                     `json:"uuid"`
	Status      json.RawMessage            `json:"status"`
	Validations map[string]json.RawMessage `json:"validations"`
	Message     string                     `json:"message"`
	ErrorMsg    string                     `json:"errorMessage"`
	ErrorTitle  string                     `json:"errorTitle"`
}

// validationFields turns {"vlan.tag":"msg"|["m1","m2"]} into a string map.
func validationFields(v map[string]json.RawMessage) map[string]string {
	out := make(map[string]string, len(v))
	for k, raw := range v {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out[k] = s
			continue
		}
		var ss []string
		if json.Unmarshal(raw, &ss) == nil {
			out[k] = strings.Join(ss, "; ")
			continue
		}
		out[k] = strings.TrimSpace(string(raw))
	}
	return out
}

// statusString returns the "status" member as a trimmed lower-case string
// (configd output such as "OK\n\n" included).
func statusString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.ToLower(strings.TrimSpace(s))
	}
	return strings.ToLower(strings.TrimSpace(string(raw)))
}

// ParseSearch decodes a search reply ({"rows":[…],"rowCount":…}) into records.
// Display-only "%field" columns are dropped.
func ParseSearch(data []byte) ([]Record, error) {
	var env struct {
		Rows []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("opnsense: search reply: %w", err)
	}
	out := make([]Record, 0, len(env.Rows))
	for i, raw := range env.Rows {
		rec, err := ParseRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("opnsense: search row %d: %w", i, err)
		}
		for k := range rec {
			if strings.HasPrefix(k, "%") {
				delete(rec, k)
			}
		}
		out = append(out, rec)
	}
	return out, nil
}

// ParseGet decodes a get<Thing>/<uuid> reply: {"<monad>":{…}}, or [] for an
// unknown uuid (ErrNotFound).
func ParseGet(data []byte, monad string) (Record, error) {
	trim := bytes.TrimSpace(data)
	if len(trim) > 0 && trim[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(trim, &arr) == nil && len(arr) == 0 {
			return nil, ErrNotFound
		}
		return nil, errors.New("opnsense: get reply: unexpected array")
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(trim, &env); err != nil {
		return nil, fmt.Errorf("opnsense: get reply: %w", err)
	}
	raw, ok := env[monad]
	if !ok {
		return nil, ErrNotFound
	}
	return ParseRecord(raw)
}

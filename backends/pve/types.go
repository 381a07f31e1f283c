package pve

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Flag is a PVE boolean: accepts 0/1, "0"/"1", true/false on input.
type Flag bool

// UnmarshalJSON implements json.Unmarshaler.
func (f *Flag) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	switch s {
	case "1", "true", "yes", "on":
		*f = true
	default:
		*f = false
	}
	return nil
}

// Int is a PVE integer that some endpoints send as a string.
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = Int(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return err
	}
	*n = Int(f)
	return nil
}

// Str is a PVE string that may arrive as a number.
type Str string

// UnmarshalJSON implements json.Unmarshaler.
func (s *Str) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		*s = ""
	case string:
		*s = Str(x)
	case float64:
		*s = Str(strconv.FormatFloat(x, 'f', -1, 64))
	default:
		*s = Str(string(b))
	}
	return nil
}

// Params are raw PVE parameters (names exactly as the API documents them).
type Params map[string]any

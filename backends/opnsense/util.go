package opnsense

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

type jsonRaw = json.RawMessage

func unmarshal(raw json.RawMessage, v any) error { return json.Unmarshal(raw, v) }

func b2s(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func s2b(s string) bool { return s == "1" || strings.EqualFold(s, "true") }

func s2i(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

func i2s(n int) string { return strconv.Itoa(n) }

// splitList splits a comma list, dropping empties.
func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func isEndpointNotFound(err error) bool { return errorsIs(err, ErrEndpointNotFound) }

var errorsIs = errors.Is

package opnsense

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseAPIKeys extracts the API keys of a config.xml: every <apikeys>
// element, either in the MVC form of current OPNsense (text lines
// "<key>|<sha512-crypt of the secret>", what TAPPaaS' template renders for
// @APIKEYS@) or the legacy form (<item><key>…</key><secret>…</secret></item>).
// The map is key → secret hash.
func ParseAPIKeys(configXML []byte) (map[string]string, error) {
	dec := xml.NewDecoder(bytes.NewReader(configXML))
	dec.Strict = true
	keys := map[string]string{}
	var stack []string
	var text strings.Builder
	var itemKey, itemSecret string
	sawRoot := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("opnsense lab: config.xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				if t.Name.Local != "opnsense" {
					return nil, fmt.Errorf("opnsense lab: config.xml: root element is <%s>, want <opnsense>", t.Name.Local)
				}
				sawRoot = true
			}
			stack = append(stack, t.Name.Local)
			text.Reset()
			if t.Name.Local == "item" && parent(stack) == "apikeys" {
				itemKey, itemSecret = "", ""
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			name := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			switch {
			case name == "key" && top(stack) == "item":
				itemKey = strings.TrimSpace(text.String())
			case name == "secret" && top(stack) == "item":
				itemSecret = strings.TrimSpace(text.String())
			case name == "item" && top(stack) == "apikeys":
				if itemKey != "" {
					keys[itemKey] = itemSecret
				}
			case name == "apikeys":
				for _, line := range strings.Split(text.String(), "\n") {
					if k, h, ok := strings.Cut(strings.TrimSpace(line), "|"); ok && k != "" {
						keys[k] = h
					}
				}
			}
			text.Reset()
		}
	}
	if !sawRoot {
		return nil, errors.New("opnsense lab: config.xml: no <opnsense> root element")
	}
	return keys, nil
}

func parent(stack []string) string {
	if len(stack) < 2 {
		return ""
	}
	return stack[len(stack)-2]
}

// ApplyConfigXML is what the lab does when a config.xml is pushed to
// /conf/config.xml and reloaded (bootstrap.md step 8): the API keys become
// exactly the ones it carries (secrets as SHA-512 crypt hashes), so the
// image's bootstrap key stops working. It returns the number of keys.
func (s *Server) ApplyConfigXML(configXML []byte) (int, error) {
	keys, err := ParseAPIKeys(configXML)
	if err != nil {
		return 0, err
	}
	for k, h := range keys {
		if !strings.HasPrefix(h, "$6$") {
			return 0, fmt.Errorf("opnsense lab: config.xml: API key %q: secret is not a SHA-512 crypt hash ($6$…)", k)
		}
	}
	s.SetKeys(keys)
	return len(keys), nil
}

func top(stack []string) string {
	if len(stack) == 0 {
		return ""
	}
	return stack[len(stack)-1]
}

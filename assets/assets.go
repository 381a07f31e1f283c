// Package assets embeds the defaults tappaas ships: the OPNsense base
// configuration template, the cloud-init vendor data for Debian guests, and
// copies of upstream's module descriptors the bootstrap reads (firewall,
// template, cicd). Everything here is read-only data.
package assets

import (
	"bytes"
	"crypto/sha1"
	_ "embed"
	"encoding/xml"
	"fmt"
	"strings"
	"text/template"
)

//go:embed opnsense-config.xml.tmpl
var opnsenseTemplate string

// FirewallNode is a static DNS entry for a node in mgmt.internal.
type FirewallNode struct{ Name, IP string }

// FirewallConfig is what the OPNsense base configuration is rendered from.
// Only hashes of secrets go in (the API secret and root password are
// SHA-512-crypt hashed by the caller).
type FirewallConfig struct {
	APIKey            string
	APISecretHash     string
	RootPasswordHash  string
	AuthorizedKeysB64 string
	LANIP             string
	Nodes             []FirewallNode
}

var tmpl = template.Must(template.New("config.xml").Option("missingkey=error").Funcs(template.FuncMap{"uuid": itemUUID}).Parse(opnsenseTemplate))

// itemUUID is the fixed uuid of a configuration item (an RFC 4122 name-based,
// SHA-1 layout of kind and name). OPNsense identifies array items by their
// uuid attribute and invents a random one at every load when it is missing
// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Base/BaseModel.php:291-307),
// so a rendered configuration carries stable ones: the same item keeps its
// uuid across renders, reloads and API reads.
func itemUUID(kind, name string) string {
	h := sha1.Sum([]byte("tappaas\x00" + kind + "\x00" + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// RenderFirewallConfig renders /conf/config.xml for the firewall. Values
// are XML-escaped; the result is checked to be well-formed XML.
func RenderFirewallConfig(c FirewallConfig) ([]byte, error) {
	esc := func(s string) string {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	e := FirewallConfig{APIKey: esc(c.APIKey), APISecretHash: esc(c.APISecretHash), RootPasswordHash: esc(c.RootPasswordHash),
		AuthorizedKeysB64: esc(c.AuthorizedKeysB64), LANIP: esc(c.LANIP)}
	for _, n := range c.Nodes {
		e.Nodes = append(e.Nodes, FirewallNode{Name: esc(n.Name), IP: esc(n.IP)})
	}
	// The API key is stored as "<key>|<secret hash>" lines
	// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Auth/FieldTypes/ApiKeyField.php).
	for name, v := range map[string]string{"API key": c.APIKey, "API secret hash": c.APISecretHash} {
		if v == "" || strings.ContainsAny(v, "|\r\n") {
			return nil, fmt.Errorf("render firewall config: the %s is empty or holds '|' or a line break", name)
		}
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, e); err != nil {
		return nil, fmt.Errorf("render firewall config: %w", err)
	}
	d := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() == "EOF" {
				break
			}
			return nil, fmt.Errorf("rendered firewall config is not well-formed XML: %w", err)
		}
	}
	return b.Bytes(), nil
}

// Package assets embeds the defaults tappaas ships: the OPNsense base
// configuration template, the cloud-init vendor data for Debian guests, and
// copies of upstream's module descriptors the bootstrap reads (firewall,
// template, cicd). Everything here is read-only data.
package assets

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"fmt"
	"text/template"
)

//go:embed opnsense-config.xml.tmpl
var opnsenseTemplate string

//go:embed debian-vendor.yaml
var debianVendor string

// DebianVendorData is the cloud-init vendor data that installs the QEMU
// guest agent on Debian guests (upstream's tappaas-debian-vendor.yaml).
func DebianVendorData() string { return debianVendor }

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

var tmpl = template.Must(template.New("config.xml").Option("missingkey=error").Parse(opnsenseTemplate))

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

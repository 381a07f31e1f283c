package common

import "fmt"

// Login names shown beside the URLs of an install's done screen.
const (
	// UserPVE is the Proxmox VE (and PBS) web login: root in the Linux
	// PAM realm (pve-docs: pveum "root@pam").
	UserPVE = "root@pam"
	// UserFirewall is the OPNsense web GUI's administrator.
	UserFirewall = "root"
)

// ManagementReach says which network reaches the 10.0.0.x addresses of an
// install and how to get there from the upstream network: the management
// network is untagged on the lan bridge (zones.json: mgmt vlantag 0, DHCP
// from the firewall), so a machine on the LAN switch reaches it; from
// elsewhere, an SSH tunnel through the node's upstream address does.
// lanNIC is the node's LAN port; upstream the node's upstream address
// ("" when unknown); mgmt the node's management address.
func ManagementReach(lanNIC, upstream, mgmt string) []string {
	out := []string{fmt.Sprintf("10.0.0.x is the management network: plug a machine into the LAN switch behind %s (untagged; the firewall's DHCP gives it an address).", lanNIC)}
	if upstream != "" {
		out = append(out, fmt.Sprintf("From the upstream network: ssh -L 8006:%s:8006 -L 8443:10.0.0.1:443 root@%s, then open https://localhost:8006 and :8443.", mgmt, upstream))
	}
	return out
}

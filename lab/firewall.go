package lab

import (
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/opnsense"
	"github.com/tappaas/tappaas/lab/pve"
	"github.com/tappaas/tappaas/lab/vm"
)

// firewallBooted is the firewall VM starting again (qm reboot/reset, a
// stop and start, or `reboot` inside it): it reads /conf/config.xml (a
// file replaced without a reload takes effect now), runs the boot-time
// migrations and starts every service from the saved configuration
// (opnsense.Server.Boot). A restart from outside drops the guest's SSH
// sessions, as the VM's network stack goes away.
func (l *Lab) firewallBooted(vmid int, srv *opnsense.Server, dropSSH bool) {
	l.mu.Lock()
	var g *guest
	for _, x := range l.guests {
		if x.vmid == vmid {
			g = x
		}
	}
	l.mu.Unlock()
	if g != nil {
		if b, err := vm.OPNsenseBootConfig(g.fs); err == nil && b != nil {
			_, _ = srv.ApplyConfigXML(b)
		}
		if dropSSH && g.srv != nil {
			g.srv.DropAll()
		}
	}
	srv.Boot()
	l.scheduleSave()
}

// firewallDNS asks the site's firewall (this lab's, else a peer's) on
// 10.0.0.1:53. Its dnsmasq leases are the running DHCP guests of the node
// that hosts it (ipconfig0 ip=dhcp or none; the firewall is their server).
func (l *Lab) firewallDNS(name string) (ip string, found, recurse bool) {
	labs := append([]*Lab{l}, l.opts.Site.peers(l)...)
	for _, p := range labs {
		p.mu.Lock()
		fw := p.fw
		p.mu.Unlock()
		if fw == nil || fw.srv == nil || time.Now().Before(fw.ready) || !p.vmRunning(fw.vmid) {
			continue
		}
		leases := map[string]string{}
		p.node.Read(func(m *pve.Model) {
			for _, v := range m.VMs {
				ipc := v.Config["ipconfig0"]
				if v.Running && v.IP != "" && v.VMID != fw.vmid && (ipc == "" || strings.Contains(ipc, "ip=dhcp")) {
					leases[v.Config["name"]] = v.IP
				}
			}
		})
		addr, ans := fw.srv.LookupDNS(name, leases)
		return addr, ans == opnsense.DNSFound, ans == opnsense.DNSRecurse
	}
	return "", false, false
}

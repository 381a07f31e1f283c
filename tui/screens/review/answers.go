package review

import (
	"fmt"
	"strings"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/tui/common"
)

// answers is the one-page summary of the answers shown above the steps
// (nil when the request carries none: a resume reloads them on the node).
func answers(req common.Request) [][2]string {
	in := req.Install
	if in == nil {
		return nil
	}
	var out [][2]string
	add := func(k, v string) { out = append(out, [2]string{k, v}) }
	if req.Goal != common.GoalJoin {
		add("Site", join(in.Site.Domain, in.Site.AdminEmail))
	}
	add("Node", join(in.Node.Hostname, in.Node.ManagementCIDR, label("WAN ", in.Node.WANNIC), label("LAN ", in.Node.LANNIC)))
	if in.Node.AdminNetwork != "" {
		add("Admin network", in.Node.AdminNetwork+" stays routed via the old gateway after the cutover")
	}
	var pools []string
	for _, p := range in.Storage.Pools {
		pools = append(pools, fmt.Sprintf("pool %s (%s: %s)", p.Name, p.Layout, strings.Join(p.Disks, ", ")))
	}
	if len(pools) == 0 {
		pools = []string{"no new pool"}
	}
	add("Storage", strings.Join(pools, "; "))
	if req.Goal == common.GoalJoin {
		add("Join", "through "+in.Join.Peer)
		return out
	}
	pw := "root password: generated"
	if in.Firewall.RootPassword != "" {
		pw = "root password: yours"
	}
	add("Firewall", join(fmt.Sprintf("VM %d at %s", in.Firewall.VMID, config.FirewallLANIP), pw))
	add("Platform", join("branch "+in.Platform.Branch, fmt.Sprintf("tappaas-cicd %d cores, %d GB RAM, %d GB disk",
		in.Platform.CICDCores, in.Platform.CICDMemoryMB/1024, in.Platform.CICDDiskGB)))
	if in.BackupEnabled() {
		add("Backup", join("PBS datastore "+in.Backup.Datastore, "daily at "+in.Backup.Schedule))
	} else {
		add("Backup", "off")
	}
	add("Images", "sha256 firewall "+short(in.Firewall.ImageSHA256)+", template "+short(in.Platform.TemplateImageSHA256))
	return out
}

func label(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}

func join(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, " · ")
}

func short(sum string) string {
	if len(sum) <= 12 {
		return sum
	}
	return sum[:12] + "…"
}

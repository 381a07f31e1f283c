package zones

// The live zones.json of a platform: the one copy upstream's tools read and
// the zone editor and `tappaas zones` edit when run there.
const (
	// CICDFile is the master copy on tappaas-cicd: zone-manager runs with it
	// (TAPPaaS@f54e4fc:src/foundation/firewall/update.sh:140); install2.sh
	// seeds it only when absent (src/foundation/tappaas-cicd/install2.sh:99-104).
	CICDFile = "/home/tappaas/config/zones.json"
	// NodeFile is each node's copy, which the VM creator reads
	// (src/foundation/cluster/Create-TAPPaaS-VM.sh:124); upstream's node
	// install fetches it (src/foundation/cluster/install.sh:492, mode 644)
	// and cluster/update.sh:103 copies the cicd file over it.
	NodeFile = "/root/tappaas/zones.json"
)

// LiveFiles are the live paths in the order a tool should prefer them.
var LiveFiles = []string{CICDFile, NodeFile}

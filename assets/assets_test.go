package assets

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestRenderFirewallConfigEscapesAndIsXML(t *testing.T) {
	t.Parallel()
	b, err := RenderFirewallConfig(FirewallConfig{APIKey: "k<&>\"", APISecretHash: "$6$salt$hash", RootPasswordHash: "$6$x$y",
		AuthorizedKeysB64: "c3NoLWVkMjU1MTk=", LANIP: "10.0.0.1", Nodes: []FirewallNode{{Name: "tappaas1", IP: "10.0.0.10"}}})
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		System struct {
			User struct {
				APIKeys struct {
					Item struct {
						Key    string `xml:"key"`
						Secret string `xml:"secret"`
					} `xml:"item"`
				} `xml:"apikeys"`
			} `xml:"user"`
		} `xml:"system"`
	}
	if err := xml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.System.User.APIKeys.Item.Key != "k<&>\"" || v.System.User.APIKeys.Item.Secret != "$6$salt$hash" {
		t.Fatalf("round trip: %+v", v.System.User.APIKeys.Item)
	}
	if !strings.Contains(string(b), "<host>tappaas1</host>") {
		t.Fatal("node host entry missing")
	}
}

func TestModules(t *testing.T) {
	t.Parallel()
	fw, err := Module("firewall")
	if err != nil {
		t.Fatal(err)
	}
	if fw.VMID != 110 || fw.Cores != 4 || fw.MemoryMB != 8192 || fw.DiskSize != "32G" || fw.Bridge1 != "wan" || fw.CloudInit || fw.Tags != "TAPPaaS;Foundation" {
		t.Fatalf("firewall.json: %+v", fw)
	}
	c, err := Module("tappaas-cicd")
	if err != nil || c.VMID != 130 || c.ImageType != "clone" || c.Image != "8080" || !c.CloudInit {
		t.Fatalf("tappaas-cicd.json: %+v %v", c, err)
	}
	if _, err := Module("nope"); err == nil {
		t.Fatal("unknown module accepted")
	}
}

package config

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func exampleAnswers(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../examples/answers.toml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExampleAnswersLoad(t *testing.T) {
	t.Parallel()
	i, err := LoadAnswers(bytes.NewReader(exampleAnswers(t)))
	if err != nil {
		t.Fatalf("example answers: %v", err)
	}
	if i.Node.Hostname != "tappaas1" || i.Storage.VMPool != "tanka1" || len(i.Storage.Pools) != 1 {
		t.Fatalf("unexpected decode: %+v", i)
	}
	if !i.WipeConfirmed("/dev/sdb") || i.WipeConfirmed("sda") {
		t.Fatal("WipeConfirmed wrong")
	}
	if i.Firewall.VMID != 110 || i.Backup.Schedule != "21:00" || !i.BackupEnabled() {
		t.Fatalf("defaults not applied: %+v", i)
	}
}

func TestTemplateLoadsWithOnlyRequiredErrors(t *testing.T) {
	t.Parallel()
	_, err := LoadAnswers(strings.NewReader(answersTemplate))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	want := []string{"site.domain", "site.admin_email", "node.lan_nic", "node.wan_nic", "storage.pools",
		"firewall.image_sha256", "platform.template_image_sha256", "backup.pool"}
	got := keysOf(es)
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("missing error for %s; got %v", k, got)
		}
	}
	for _, e := range es {
		if !errors.Is(e, ErrRequired) && e.Key != "storage.vm_pool" {
			t.Errorf("template should only miss required values, got %v", e)
		}
		if strings.Contains(e.Err.Error(), "unknown key") {
			t.Errorf("template has an unknown key: %v", e)
		}
	}
}

// keysOf lists the keys that have errors.
func keysOf(es Errors) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}

func TestUnknownKeysNamed(t *testing.T) {
	t.Parallel()
	src := string(exampleAnswers(t)) + "\n[site2]\nx = 1\n"
	src = strings.Replace(src, "[node]\n", "[node]\nhostnam = \"x\"\n", 1)
	_, err := LoadAnswers(strings.NewReader(src))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	keys := keysOf(es)
	if !slices.Contains(keys, "node.hostnam") || !slices.Contains(keys, "site2") {
		t.Fatalf("unknown keys not all named: %v", keys)
	}
	if !strings.Contains(err.Error(), "hostname") {
		t.Fatalf("should list known keys: %v", err)
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	t.Parallel()
	src := `
[site]
domain = "CHANGE-domain.tld"
admin_email = "nope"
[node]
hostname = "tappaas12"
management_cidr = "10.0.0.1/24"
lan_nic = "enp1s0"
wan_nic = "enp1s0"
admin_network = "10.0.0.0/16"
[storage]
vm_pool = "tankz"
confirm_wipe = ["sdx"]
[[storage.pools]]
name = "tanka1"
layout = "raidz"
disks = ["sdb", "sdb"]
[firewall]
root_password = "short"
image_url = "ftp://x/y"
image_sha256 = "abc"
[platform]
cicd_cores = -1
cicd_memory_mb = 10
`
	_, err := LoadAnswers(strings.NewReader(src))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	for _, k := range []string{"site.domain", "site.admin_email", "node.hostname", "node.management_cidr",
		"node.wan_nic", "node.admin_network", "storage.vm_pool", "storage.confirm_wipe", "storage.pools[0].layout",
		"storage.pools[0].disks", "firewall.root_password", "firewall.image_url", "firewall.image_sha256",
		"platform.cicd_cores", "platform.cicd_memory_mb"} {
		if !es.has(k) {
			t.Errorf("no error for %s; got:\n%v", k, err)
		}
	}
}

func TestWrongTypeNamesKey(t *testing.T) {
	t.Parallel()
	_, err := LoadAnswers(strings.NewReader("[platform]\ncicd_cores = \"four\"\n"))
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Key != "platform.cicd_cores" {
		t.Fatalf("want one error on platform.cicd_cores, got %v", err)
	}
}

func TestSyntaxError(t *testing.T) {
	t.Parallel()
	_, err := LoadAnswers(strings.NewReader("[site\n"))
	var es Errors
	if !errors.As(err, &es) || !strings.Contains(err.Error(), "line ") {
		t.Fatalf("want a positioned syntax error, got %v", err)
	}
}

func TestValidators(t *testing.T) {
	t.Parallel()
	type tc struct {
		name string
		fn   func() error
		ok   bool
	}
	cases := []tc{
		{"domain ok", func() error { return ValidateDomain("example.org") }, true},
		{"domain one label", func() error { return ValidateDomain("localhost") }, false},
		{"domain bad label", func() error { return ValidateDomain("-a.org") }, false},
		{"email ok", func() error { return ValidateEmail("a@example.org") }, true},
		{"email name", func() error { return ValidateEmail("A <a@example.org>") }, false},
		{"host ok", func() error { return ValidateHostname("tappaas3") }, true},
		{"host 0", func() error { return ValidateHostname("tappaas0") }, false},
		{"host upper", func() error { return ValidateHostname("Tappaas1") }, false},
		{"mgmt ok", func() error { return ValidateManagementCIDR("10.0.0.11/24") }, true},
		{"mgmt outside", func() error { return ValidateManagementCIDR("192.168.1.10/24") }, false},
		{"mgmt dhcp pool", func() error { return ValidateManagementCIDR("10.0.0.150/24") }, false},
		{"cidr network", func() error { return ValidateCIDR("10.0.0.0/24") }, false},
		{"nic ok", func() error { return ValidateNIC("enp1s0") }, true},
		{"nic bridge", func() error { return ValidateNIC("vmbr0") }, false},
		{"nic long", func() error { return ValidateNIC("abcdefghijklmnopq") }, false},
		{"pool reserved", func() error { return ValidatePoolName("mirror") }, false},
		{"layout mirror 1", func() error { return ValidateLayout("mirror", 1) }, false},
		{"layout single 2", func() error { return ValidateLayout("single", 2) }, false},
		{"layout raidz2 4", func() error { return ValidateLayout("raidz2", 4) }, true},
		{"disk byid", func() error { return ValidateDisk("/dev/disk/by-id/wwn-0x5000") }, true},
		{"disk traversal", func() error { return ValidateDisk("/dev/../etc") }, false},
		{"sha ok", func() error { return ValidateSHA256(strings.Repeat("a", 64)) }, true},
		{"branch bad", func() error { return ValidateBranch("a..b") }, false},
		{"fp ok", func() error { return ValidateFingerprint(strings.TrimSuffix(strings.Repeat("AB:", 32), ":")) }, true},
		{"schedule bad", func() error { return ValidateSchedule("25:00") }, false},
		{"peer ok", func() error { return ValidatePeer("tappaas1.mgmt.internal") }, true},
		{"peer bad", func() error { return ValidatePeer("a b") }, false},
	}
	for _, c := range cases {
		err := c.fn()
		if (err == nil) != c.ok {
			t.Errorf("%s: err=%v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestMgmtIPForHostname(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]string{"tappaas1": "10.0.0.10", "tappaas9": "10.0.0.18", "pve": "10.0.0.10"} {
		got, err := MgmtIPForHostname(h)
		if err != nil || got.String() != want {
			t.Errorf("%s: %v %v", h, got, err)
		}
	}
	if _, err := MgmtIPForHostname("tappaas10"); err == nil {
		t.Error("tappaas10 accepted")
	}
}

func FuzzLoadAnswers(f *testing.F) {
	f.Add(exampleAnswers(f))
	f.Add([]byte(answersTemplate))
	f.Add([]byte("[[storage.pools]]\nname=1\n"))
	f.Add([]byte("[node]\nhostname = \"tappaas1\"\n[node]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		i, err := LoadAnswers(bytes.NewReader(data))
		if err == nil {
			// Anything accepted must validate again and round-trip.
			if err := i.Validate(); err != nil {
				t.Fatalf("accepted answers do not validate: %v", err)
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("rejection is not explained per key: %v", err)
		}
		for _, e := range es {
			if e.Key == "" || e.Err == nil || e.Err.Error() == "" {
				t.Fatalf("unexplained rejection: %#v", e)
			}
		}
	})
}

// TestUpperCaseDomainNormalised: an upper-case domain (or one with a
// trailing dot) is used in lower case, as certificates and DNS records
// need it.
func TestUpperCaseDomainNormalised(t *testing.T) {
	t.Parallel()
	src := strings.Replace(string(exampleAnswers(t)), `domain = "example.org"`, `domain = "LAB.Example.ORG."`, 1)
	i, err := LoadAnswers(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if i.Site.Domain != "lab.example.org" {
		t.Errorf("domain %q, want lab.example.org", i.Site.Domain)
	}
	if got := NormalizeDomain(" Example.ORG. "); got != "example.org" {
		t.Errorf("NormalizeDomain = %q", got)
	}
}

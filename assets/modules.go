package assets

import (
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

//go:embed modules/*.json
var modules embed.FS

// VMSpec is the VM part of an upstream module descriptor (module-fields.json,
// docs/upstream.md#module-descriptors): top-level fields, then the "cluster:vm" block.
type VMSpec struct {
	Name          string
	VMID          int
	Tags          string
	Description   string
	BIOS          string
	OSType        string
	Cores         int
	MemoryMB      int
	DiskSize      string // "32G"
	Storage       string
	ImageType     string // img, clone
	Image         string
	ImageLocation string
	Bridge0       string
	Trunks0       string
	Bridge1       string
	CloudInit     bool
}

// ModuleJSON returns the raw upstream descriptor (firewall, tappaas-cicd,
// tappaas-nixos, templates, cluster, backup).
func ModuleJSON(name string) ([]byte, error) {
	b, err := modules.ReadFile("modules/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("no embedded module %q", name)
	}
	return b, nil
}

// Module parses the VM fields of an embedded module descriptor, applying
// Create-TAPPaaS-VM.sh's defaults.
func Module(name string) (VMSpec, error) {
	b, err := ModuleJSON(name)
	if err != nil {
		return VMSpec{}, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return VMSpec{}, fmt.Errorf("module %s: %w", name, err)
	}
	get := func(k string) (any, bool) {
		if v, ok := raw[k]; ok {
			return v, true
		}
		if cfg, ok := raw["config"].(map[string]any); ok {
			if vm, ok := cfg["cluster:vm"].(map[string]any); ok {
				v, ok := vm[k]
				return v, ok
			}
		}
		return nil, false
	}
	str := func(k, def string) string {
		v, ok := get(k)
		if !ok {
			return def
		}
		switch x := v.(type) {
		case string:
			return x
		case float64:
			return strconv.Itoa(int(x))
		case bool:
			return strconv.FormatBool(x)
		}
		return def
	}
	num := func(k string, def int) int {
		n, err := strconv.Atoi(str(k, strconv.Itoa(def)))
		if err != nil {
			return def
		}
		return n
	}
	s := VMSpec{
		Name: str("vmname", name), VMID: num("vmid", 0), Tags: strings.ReplaceAll(str("vmtag", ""), ",", ";"),
		Description: str("description", ""), BIOS: str("bios", "ovmf"), OSType: str("ostype", "l26"),
		Cores: num("cores", 2), MemoryMB: num("memory", 4096), DiskSize: str("diskSize", "8G"),
		Storage: str("storage", "tanka1"), ImageType: str("imageType", ""), Image: str("image", "8080"),
		ImageLocation: str("imageLocation", ""), Bridge0: str("bridge0", "lan"), Trunks0: str("trunks0", "NONE"),
		Bridge1: str("bridge1", "NONE"), CloudInit: str("cloudInit", "true") == "true",
	}
	return s, nil
}

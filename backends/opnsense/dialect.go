package opnsense

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// AssignFlavour says how this firmware assigns a device to an interface slot.
type AssignFlavour int

const (
	// AssignNone: no API (stock ≤ 26.1 without TAPPaaS' patch).
	AssignNone AssignFlavour = iota
	// AssignTAPPaaS: TAPPaaS' InterfaceAssignController patch
	// (/api/interfaces/interface_assign/{addItem,delItem}), a file copied
	// onto the firewall (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/pre-update.sh:214-225)
	// that survives firmware upgrades; saves the IPv4 address at once,
	// which reloadInterface then configures.
	AssignTAPPaaS
	// AssignStock: /api/interfaces/assignment (26.7): assigns only, staged
	// until ServiceAssignment is reconfigured; no IP fields.
	AssignStock
	// AssignStockIP: the stock controller with IP fields (27.1 development).
	AssignStockIP
)

// String names the flavour for messages.
func (f AssignFlavour) String() string {
	switch f {
	case AssignTAPPaaS:
		return "tappaas-interface_assign"
	case AssignStock:
		return "stock-assignment"
	case AssignStockIP:
		return "stock-assignment-ip"
	}
	return "none"
}

// Dialect is what a firmware version offers.
type Dialect struct {
	Version             string // product_version, e.g. "26.1.2"
	Major, Minor, Patch int
	// HasSavepoint: filter savepoint / apply/<revision> / cancelRollback /
	// revert exist (≤ 26.1.x; removed in 26.7).
	HasSavepoint bool
	Assign       AssignFlavour
}

// DialectFor derives the firmware's own dialect from a product version
// ("26.1.2", "26.7", "27.1.a", "26.1.2_5"): ≤ 26.1 has no assignment API
// of its own (the TAPPaaS image is stock OPNsense: its patch comes later,
// see Client.Dialect, which probes for it).
func DialectFor(version string) (Dialect, error) {
	maj, mnr, pat, err := parseVersion(version)
	if err != nil {
		return Dialect{}, err
	}
	d := Dialect{Version: version, Major: maj, Minor: mnr, Patch: pat}
	switch {
	case maj < 26 || maj == 26 && mnr < 7:
		d.HasSavepoint = true
	case maj == 26 || maj == 27 && mnr < 1:
		d.Assign = AssignStock
	default:
		d.Assign = AssignStockIP
	}
	return d, nil
}

func parseVersion(v string) (maj, mnr, pat int, err error) {
	s := strings.TrimSpace(v)
	if i := strings.IndexAny(s, "_- "); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	nums := make([]int, 3)
	for i := 0; i < len(parts) && i < 3; i++ {
		n, e := strconv.Atoi(parts[i])
		if e != nil {
			if i < 2 {
				return 0, 0, 0, fmt.Errorf("opnsense: firmware version %q is not MAJOR.MINOR[.PATCH]", v)
			}
			break // "27.1.a": development suffix
		}
		nums[i] = n
	}
	if len(parts) < 2 {
		return 0, 0, 0, fmt.Errorf("opnsense: firmware version %q is not MAJOR.MINOR[.PATCH]", v)
	}
	return nums[0], nums[1], nums[2], nil
}

// Dialect probes the firmware version once (GET core/firmware/status) and
// whether TAPPaaS' interface_assign patch is installed (HasAssignPatch),
// which then wins over the firmware's own assignment API on any version.
// The version and a present patch are cached; an absent patch is probed
// again on the next call (it may be deployed in between).
func (c *Client) Dialect(ctx context.Context) (Dialect, error) {
	d, err := c.firmwareDialect(ctx)
	if err != nil || d.Assign == AssignTAPPaaS {
		return d, err
	}
	ok, err := c.HasAssignPatch(ctx)
	if err != nil {
		return Dialect{}, err
	}
	if ok {
		d.Assign = AssignTAPPaaS
		c.dmu.Lock()
		c.dialect = &d
		c.dmu.Unlock()
	}
	return d, nil
}

// HasAssignPatch reports whether the firewall serves TAPPaaS'
// InterfaceAssignController: a GET of interface_assign/addItem carries no
// "assign" object, which the patch refuses with HTTP 400 before touching
// anything (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-patch/InterfaceAssignController.php:70-75,176-180);
// without the file the firewall answers 404 "Endpoint not found"
// (opnsense/core@26.1.11:src/opnsense/www/api.php:45-46).
func (c *Client) HasAssignPatch(ctx context.Context) (bool, error) {
	err := c.Call(ctx, http.MethodGet, "interfaces/interface_assign/addItem", nil, nil)
	var ae *APIError
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrEndpointNotFound):
		return false, nil
	case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
		return true, nil
	}
	return false, err
}

func (c *Client) firmwareDialect(ctx context.Context) (Dialect, error) {
	c.dmu.Lock()
	if c.dialect != nil {
		d := *c.dialect
		c.dmu.Unlock()
		return d, nil
	}
	c.dmu.Unlock()
	st, err := c.FirmwareStatus(ctx)
	if err != nil {
		return Dialect{}, err
	}
	v := st.ProductVersion
	if v == "" {
		info, err := c.FirmwareInfo(ctx)
		if err != nil {
			return Dialect{}, err
		}
		v = info.ProductVersion
	}
	d, err := DialectFor(v)
	if err != nil {
		return Dialect{}, err
	}
	c.dmu.Lock()
	c.dialect = &d
	c.dmu.Unlock()
	return d, nil
}

// FirmwareStatus is GET /api/core/firmware/status.
type FirmwareStatus struct {
	ProductName    string
	ProductVersion string
	ProductSeries  string
	ProductArch    string
	Status         string // "none" until a check ran, "error", "update", …
	StatusMsg      string
}

// FirmwareStatus reads the cached update status and product block.
func (c *Client) FirmwareStatus(ctx context.Context) (FirmwareStatus, error) {
	var r struct {
		Status    string `json:"status"`
		StatusMsg string `json:"status_msg"`
		Product   struct {
			Name    string `json:"product_name"`
			Version string `json:"product_version"`
			Series  string `json:"product_series"`
			Arch    string `json:"product_arch"`
		} `json:"product"`
	}
	if err := c.Call(ctx, http.MethodGet, "core/firmware/status", nil, &r); err != nil {
		return FirmwareStatus{}, err
	}
	return FirmwareStatus{ProductName: r.Product.Name, ProductVersion: r.Product.Version,
		ProductSeries: r.Product.Series, ProductArch: r.Product.Arch, Status: r.Status, StatusMsg: r.StatusMsg}, nil
}

// Plugin is one entry of firmware info's plugin list.
type Plugin struct {
	Name, Version, Comment string
	Installed              bool
}

// FirmwareInfo is GET /api/core/firmware/info (trimmed).
type FirmwareInfo struct {
	ProductID, ProductVersion string
	Plugins                   []Plugin
}

// FirmwareInfo reads product and plugin information.
func (c *Client) FirmwareInfo(ctx context.Context) (FirmwareInfo, error) {
	var r struct {
		ProductID      string `json:"product_id"`
		ProductVersion string `json:"product_version"`
		Plugin         []struct {
			Name      string `json:"name"`
			Version   string `json:"version"`
			Comment   string `json:"comment"`
			Installed string `json:"installed"`
		} `json:"plugin"`
	}
	if err := c.Call(ctx, http.MethodGet, "core/firmware/info", nil, &r); err != nil {
		return FirmwareInfo{}, err
	}
	out := FirmwareInfo{ProductID: r.ProductID, ProductVersion: r.ProductVersion}
	for _, p := range r.Plugin {
		out.Plugins = append(out.Plugins, Plugin{Name: p.Name, Version: p.Version, Comment: p.Comment, Installed: p.Installed == "1"})
	}
	return out, nil
}

// SystemNotice is one subsystem entry of GET /api/core/system/status.
type SystemNotice struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Title      string `json:"title"`
	Status     string `json:"status"`
}

// SystemStatus is GET /api/core/system/status: the overall status and the
// per-subsystem notices.
type SystemStatus struct {
	Status     string // metadata.system.status, e.g. "OK"
	Subsystems map[string]SystemNotice
}

// SystemStatus reads the system health notices.
func (c *Client) SystemStatus(ctx context.Context) (SystemStatus, error) {
	var raw map[string]jsonRaw
	if err := c.Call(ctx, http.MethodGet, "core/system/status", nil, &raw); err != nil {
		return SystemStatus{}, err
	}
	out := SystemStatus{Subsystems: map[string]SystemNotice{}}
	for k, v := range raw {
		if k == "metadata" {
			var m struct {
				System struct {
					Status string `json:"status"`
				} `json:"system"`
			}
			_ = unmarshal(v, &m)
			out.Status = m.System.Status
			continue
		}
		var n SystemNotice
		if unmarshal(v, &n) == nil {
			out.Subsystems[k] = n
		}
	}
	return out, nil
}

// Ping checks that the API answers and accepts the credentials (an
// authenticated, read-only GET of core/firmware/status).
func (c *Client) Ping(ctx context.Context) error {
	return c.Call(ctx, http.MethodGet, "core/firmware/status", nil, nil)
}

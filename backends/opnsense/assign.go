package opnsense

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Assignments lists assigned interfaces (GET interfaces/overview/interfacesInfo).
func (c *Client) Assignments(ctx context.Context) ([]Assignment, error) {
	var r struct {
		Rows []struct {
			Device      string          `json:"device"`
			Identifier  string          `json:"identifier"`
			Description string          `json:"description"`
			Enabled     json.RawMessage `json:"enabled"`
			VLANTag     json.RawMessage `json:"vlan_tag"` // "210" or 210 (TAPPaaS #179)
			IPv4        []struct {
				IPAddr     string          `json:"ipaddr"`
				SubnetBits json.RawMessage `json:"subnetbits"`
			} `json:"ipv4"`
		} `json:"rows"`
	}
	if err := c.Call(ctx, http.MethodGet, "interfaces/overview/interfacesInfo", nil, &r); err != nil {
		return nil, err
	}
	out := make([]Assignment, 0, len(r.Rows))
	for _, row := range r.Rows {
		a := Assignment{Ifname: row.Identifier, Device: row.Device, Descr: row.Description,
			Enabled: rawBool(row.Enabled), VLANTag: s2i(rawScalar(row.VLANTag))}
		if len(row.IPv4) > 0 {
			if ip, err := netip.ParseAddr(row.IPv4[0].IPAddr); err == nil {
				if p, err := ip.Prefix(s2i(rawScalar(row.IPv4[0].SubnetBits))); err == nil {
					a.IPv4 = netip.PrefixFrom(ip, p.Bits())
				}
			}
		}
		out = append(out, a)
	}
	return out, nil
}

func rawScalar(raw json.RawMessage) string {
	return strings.Trim(strings.TrimSpace(string(raw)), `"`)
}

func rawBool(raw json.RawMessage) bool {
	switch rawScalar(raw) {
	case "1", "true":
		return true
	}
	return false
}

// Assign assigns a.Device to the next free optN slot with a.Descr and, where
// the dialect allows, the static address a.IPv4. It returns the ifname.
//
//   - AssignTAPPaaS: one call that also sets the address and applies.
//   - AssignStock (26.7): assignment only, staged until ApplyAssignments; an
//     address cannot be set through the API (ErrUnsupported if a.IPv4 is set,
//     before any change).
//   - AssignStockIP: assignment with address, staged until ApplyAssignments.
func (c *Client) Assign(ctx context.Context, a Assignment) (string, error) {
	d, err := c.Dialect(ctx)
	if err != nil {
		return "", err
	}
	if a.Device == "" {
		return "", fmt.Errorf("opnsense: assign: empty device")
	}
	switch d.Assign {
	case AssignTAPPaaS:
		if !a.IPv4.IsValid() {
			return "", fmt.Errorf("opnsense: assign %s: the TAPPaaS assignment API needs an IPv4 address", a.Device)
		}
		release, err := c.acquire(ctx)
		if err != nil {
			return "", err
		}
		defer release()
		body := map[string]any{"assign": map[string]any{
			"device": a.Device, "description": a.Descr, "enable": a.Enabled,
			"ipv4Type": "static", "ipv4Address": a.IPv4.Addr().String(), "ipv4Subnet": a.IPv4.Bits(),
		}}
		var r struct {
			Result string `json:"result"`
			Ifname string `json:"ifname"`
		}
		if err := c.Call(ctx, http.MethodPost, "interfaces/interface_assign/addItem", body, &r); err != nil {
			return "", assignHint(err)
		}
		if r.Result != "saved" || r.Ifname == "" {
			return "", fmt.Errorf("%w: assign %s: result %q", ErrFailed, a.Device, r.Result)
		}
		return r.Ifname, nil
	case AssignStock, AssignStockIP:
		rec := Record{"if": a.Device, "descr": a.Descr}
		if a.IPv4.IsValid() {
			if d.Assign == AssignStock {
				return "", fmt.Errorf("%w: setting an interface address through the API (OPNsense %s assigns only; 27.1 adds address fields)", ErrUnsupported, d.Version)
			}
			rec["enable"] = b2s(a.Enabled)
			rec["type4"] = "static"
			rec["ipaddr"] = a.IPv4.Addr().String()
			rec["subnet"] = strconv.Itoa(a.IPv4.Bits())
		}
		return c.Add(ctx, resAssignment, rec)
	}
	return "", fmt.Errorf("%w: interface assignment (OPNsense %s has no assignment API; install the TAPPaaS interface_assign patch)", ErrUnsupported, d.Version)
}

var resAssignment = Resource{"interfaces", "assignment", "Item", "interface"}

// Unassign removes the assignment of ifname (not lan/wan). Absent is not
// an error for the TAPPaaS patch (it answers "deleted"); the stock API
// answers ErrNotFound.
func (c *Client) Unassign(ctx context.Context, ifname string) error {
	if err := checkArg("ifname", ifname); err != nil {
		return err
	}
	d, err := c.Dialect(ctx)
	if err != nil {
		return err
	}
	switch d.Assign {
	case AssignTAPPaaS:
		release, err := c.acquire(ctx)
		if err != nil {
			return err
		}
		defer release()
		var r reply
		if err := c.Call(ctx, http.MethodPost, "interfaces/interface_assign/delItem/"+ifname, nil, &r); err != nil {
			return assignHint(err)
		}
		if r.Result != "deleted" {
			return resultError("POST interfaces/interface_assign/delItem/"+ifname, r)
		}
		return nil
	case AssignStock, AssignStockIP:
		return c.Del(ctx, resAssignment, ifname)
	}
	return fmt.Errorf("%w: interface assignment (OPNsense %s)", ErrUnsupported, d.Version)
}

// ApplyAssignments applies staged assignments (stock dialects: POST
// interfaces/assignment/reconfigure); a no-op for the TAPPaaS patch, which
// applies at once.
func (c *Client) ApplyAssignments(ctx context.Context) error {
	d, err := c.Dialect(ctx)
	if err != nil {
		return err
	}
	if d.Assign == AssignStock || d.Assign == AssignStockIP {
		return c.Reconfigure(ctx, ServiceAssignment)
	}
	return nil
}

func assignHint(err error) error {
	if isEndpointNotFound(err) {
		return fmt.Errorf("%w (the TAPPaaS interface_assign patch is not installed on the firewall)", err)
	}
	return err
}

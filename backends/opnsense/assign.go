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

// Assignments lists the assigned interfaces (GET
// interfaces/overview/interfacesInfo). The overview also lists every
// device no interface uses, with identifier "" and description
// "Unassigned Interface" (opnsense/core@26.1.11:src/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/OverviewController.php:171-176):
// those are skipped. An assigned interface's addresses are what the kernel
// has (not what config.xml says), as CIDR in "ipaddr" without "subnetbits"
// (same file, lines 199-206; 26.7.2 alike).
func (c *Client) Assignments(ctx context.Context) ([]Assignment, error) {
	var r struct {
		Rows []struct {
			Device      string          `json:"device"`
			Identifier  string          `json:"identifier"`
			Description string          `json:"description"`
			Enabled     json.RawMessage `json:"enabled"`
			VLANTag     json.RawMessage `json:"vlan_tag"` // "210" (ifconfig parser), null when not a VLAN
			IPv4        []struct {
				IPAddr string `json:"ipaddr"` // "10.2.10.1/24"
			} `json:"ipv4"`
		} `json:"rows"`
	}
	if err := c.Call(ctx, http.MethodGet, "interfaces/overview/interfacesInfo", nil, &r); err != nil {
		return nil, err
	}
	out := make([]Assignment, 0, len(r.Rows))
	for _, row := range r.Rows {
		if row.Identifier == "" {
			continue // an unassigned device
		}
		a := Assignment{Ifname: row.Identifier, Device: row.Device, Descr: row.Description,
			Enabled: rawBool(row.Enabled), VLANTag: s2i(rawScalar(row.VLANTag))}
		for _, ip := range row.IPv4 {
			if p, err := netip.ParsePrefix(ip.IPAddr); err == nil && p.Addr().Is4() {
				a.IPv4 = p
				break
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
//   - AssignTAPPaaS: addItem saves the assignment with its address; its
//     own "interface reconfigure all" configures nothing (there is no
//     interface "all": opnsense/core@26.1.11:src/etc/rc.configure_interface:39-41,
//     src/etc/inc/interfaces.inc:2313-2318), so the new interface is then
//     configured with overview/reloadInterface/<ifname>, as TAPPaaS'
//     vlan_manager.py does (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-controller/src/opnsense_controller/vlan_manager.py:234-258).
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
		if err := checkArg("ifname", r.Ifname); err != nil {
			return "", err
		}
		var rr struct {
			Message string `json:"message"`
		}
		// OverviewController::reloadInterfaceAction answers configd's
		// script result: "OK" (plus newlines) or "Error (N)"
		// (opnsense/core@26.1.11:.../OverviewController.php:300-314,
		// src/opnsense/service/modules/actions/script.py:39-45).
		if err := c.Call(ctx, http.MethodPost, "interfaces/overview/reloadInterface/"+r.Ifname, nil, &rr); err != nil {
			return r.Ifname, fmt.Errorf("configure %s (%s) after assigning it: %w", r.Ifname, a.Device, err)
		}
		if m := strings.TrimSpace(rr.Message); !strings.EqualFold(m, "ok") {
			return r.Ifname, fmt.Errorf("%w: configure %s (%s) after assigning it: %q", ErrFailed, r.Ifname, a.Device, m)
		}
		return r.Ifname, nil
	case AssignStock, AssignStockIP:
		// Unlocked: a new assignment is locked by default and a locked one
		// cannot be removed (opnsense/core@26.7.2:src/opnsense/mvc/app/models/OPNsense/Interfaces/NetworkInterface.xml:19-22,
		// .../Interfaces/Api/AssignmentController.php:86-94).
		rec := Record{"if": a.Device, "descr": a.Descr, "lock": "0"}
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
	return "", fmt.Errorf("%w: interface assignment (OPNsense %s has no assignment API; install the TAPPaaS interface_assign patch: rerun the install, step firewall.assign-patch copies it from tappaas-cicd)", ErrUnsupported, d.Version)
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

package opnsense

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

var ruleCodec = codec[Rule]{
	res: ResRule,
	to: func(v Rule) Record {
		return Record{"enabled": b2s(v.Enabled), "sequence": i2s(v.Sequence), "action": v.Action, "quick": b2s(v.Quick),
			"interface": v.Interface, "direction": v.Direction, "ipprotocol": v.IPProtocol,
			"protocol": v.Protocol, "source_net": v.SourceNet, "source_not": b2s(v.SourceNot), "source_port": v.SourcePort,
			"destination_net": v.DestinationNet, "destination_not": b2s(v.DestinationNot),
			"destination_port": v.DestinationPort, "gateway": v.Gateway, "log": b2s(v.Log), "description": v.Description}
	},
	from: func(id string, r Record) Rule {
		return Rule{UUID: id, Enabled: s2b(r["enabled"]), Sequence: s2i(r["sequence"]), Action: r["action"],
			Quick: s2b(r["quick"]), Interface: r["interface"], Direction: r["direction"],
			IPProtocol: r["ipprotocol"], Protocol: r["protocol"], SourceNet: r["source_net"], SourceNot: s2b(r["source_not"]),
			SourcePort: r["source_port"], DestinationNet: r["destination_net"], DestinationNot: s2b(r["destination_not"]),
			DestinationPort: r["destination_port"], Gateway: r["gateway"], Log: s2b(r["log"]), Description: r["description"]}
	},
}

// Rules lists filter rules.
func (c *Client) Rules(ctx context.Context) ([]Rule, error) { return ruleCodec.list(ctx, c) }

// Rule reads one filter rule.
func (c *Client) Rule(ctx context.Context, uuid string) (Rule, error) {
	return ruleCodec.get(ctx, c, uuid)
}

// AddRule creates a rule (staged until Apply).
func (c *Client) AddRule(ctx context.Context, v Rule) (string, error) {
	return ruleCodec.add(ctx, c, v)
}

// SetRule updates a rule.
func (c *Client) SetRule(ctx context.Context, uuid string, v Rule) error {
	return ruleCodec.set(ctx, c, uuid, v)
}

// DelRule deletes a rule.
func (c *Client) DelRule(ctx context.Context, uuid string) error { return c.Del(ctx, ResRule, uuid) }

// Savepoint records the current filter configuration and returns its
// revision (≤ 26.1 only; ErrUnsupported otherwise). Takes the write lock.
func (c *Client) Savepoint(ctx context.Context) (string, error) {
	if err := c.need(ctx, "savepoint"); err != nil {
		return "", err
	}
	release, err := c.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	var r struct {
		Status   jsonRaw `json:"status"`
		Revision string  `json:"revision"`
	}
	if err := c.Call(ctx, http.MethodPost, "firewall/filter/savepoint", nil, &r); err != nil {
		return "", err
	}
	if statusString(r.Status) != "ok" || r.Revision == "" {
		return "", fmt.Errorf("%w: firewall savepoint: status %q", ErrFailed, statusString(r.Status))
	}
	return r.Revision, nil
}

// Apply makes the saved filter rules live. With a revision (from Savepoint;
// ≤ 26.1 only) the firewall also arms its automatic rollback: unless
// CancelRollback(revision) follows within 60 s, the filter reverts to the
// savepoint. Takes the write lock.
func (c *Client) Apply(ctx context.Context, revision string) error {
	path := string(ServiceFilter)
	if revision != "" {
		if err := checkArg("revision", revision); err != nil {
			return err
		}
		if err := c.need(ctx, "apply with rollback"); err != nil {
			return err
		}
		path += "/" + revision
	}
	release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	var r reply
	if err := c.Call(ctx, http.MethodPost, path, nil, &r); err != nil {
		return err
	}
	if st := statusString(r.Status); st != "ok" {
		return fmt.Errorf("%w: firewall apply: status %q", ErrFailed, st)
	}
	return nil
}

// CancelRollback confirms an Apply(revision): the automatic revert is
// disarmed. Call it only after checking the firewall is still reachable.
//
// The reply cannot tell whether a timer was cancelled: its status is the
// output of rollback_cancel.php, which prints nothing — "\n\n" when it
// removed the timer's lock, "" when no timer ran (configd's "Execute
// error", mapped to "" by Backend::configdRun)
// (opnsense/core@26.1.11:src/opnsense/mvc/app/controllers/OPNsense/Firewall/Api/FilterBaseController.php:319-330,
// src/opnsense/scripts/filter/rollback_cancel.php:30-40,
// src/opnsense/mvc/app/library/OPNsense/Core/Backend.php:174-179). Any other
// status is an error; the caller confirms by reading the rules back.
func (c *Client) CancelRollback(ctx context.Context, revision string) error {
	if err := checkArg("revision", revision); err != nil {
		return err
	}
	if err := c.need(ctx, "cancelRollback"); err != nil {
		return err
	}
	release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	var r reply
	if err := c.Call(ctx, http.MethodPost, "firewall/filter/cancelRollback/"+revision, nil, &r); err != nil {
		return err
	}
	if st := statusString(r.Status); st != "" {
		return fmt.Errorf("%w: firewall cancelRollback %s: status %q", ErrFailed, revision, st)
	}
	return nil
}

// Revert restores the filter rules of a savepoint at once.
func (c *Client) Revert(ctx context.Context, revision string) error {
	const verb = "revert"
	if err := checkArg("revision", revision); err != nil {
		return err
	}
	if err := c.need(ctx, verb); err != nil {
		return err
	}
	release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	var r reply
	if err := c.Call(ctx, http.MethodPost, "firewall/filter/"+verb+"/"+revision, nil, &r); err != nil {
		return err
	}
	st := statusString(r.Status)
	if strings.Contains(st, "unknown") || strings.Contains(st, "removed") {
		return fmt.Errorf("opnsense: firewall %s %s: %w (%s)", verb, revision, ErrNotFound, st)
	}
	if st != "ok" {
		return fmt.Errorf("%w: firewall %s: status %q", ErrFailed, verb, st)
	}
	return nil
}

// need refuses savepoint-family calls on firmware without them.
func (c *Client) need(ctx context.Context, what string) error {
	d, err := c.firmwareDialect(ctx)
	if err != nil {
		return err
	}
	if !d.HasSavepoint {
		return fmt.Errorf("%w: firewall %s (removed in OPNsense 26.7; this is %s)", ErrUnsupported, what, d.Version)
	}
	return nil
}

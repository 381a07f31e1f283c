package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/pve"
	"github.com/tappaas/tappaas/steps/join"
)

// The read-only API token `tappaas status` and the dashboard use:
// root@pam!tappaas-status with privilege separation and the PVEAuditor role
// on / (PVE API: POST /access/users/{userid}/token/{tokenid}, PUT /access/acl
// with "tokens"; docs/pve-api.md#auth). No password is stored; the token's
// secret is kept in the node's state secrets (0600).
const (
	StatusTokenUser   = "root@pam"
	StatusTokenName   = "tappaas-status"
	statusTokenSecret = "pve.status-token" // "user@realm!name=secret"
)

// HasStatusToken says whether the read-only status token is kept. Without
// it StatusPVE creates one and writes it to the state: take the run lock
// first.
func (t *Targets) HasStatusToken() bool {
	if t.Secrets == nil {
		return false
	}
	tok, ok := t.Secrets.Secret(statusTokenSecret)
	id, secret, _ := strings.Cut(tok, "=")
	return ok && id != "" && secret != ""
}

// StatusPVE returns a PVE API client for reading the platform's state,
// authenticated with the read-only status token (created over the trusted
// SSH link on first use, and again when its secret was lost) and pinned to
// the node certificate read over that link.
func (t *Targets) StatusPVE(ctx context.Context) (*pve.Client, error) {
	if t.PVEAddr == "" {
		return nil, errors.New("the node's API address is unknown")
	}
	if t.Secrets == nil {
		return nil, errors.New("no secrets store: open the checkpoints first")
	}
	fp, err := join.NodeFingerprint(ctx, t.Node)
	if err != nil {
		return nil, fmt.Errorf("read the node certificate fingerprint: %w", err)
	}
	tok, ok := t.Secrets.Secret(statusTokenSecret)
	id, secret, _ := strings.Cut(tok, "=")
	if !ok || id == "" || secret == "" {
		id, secret, err = createStatusToken(ctx, t.Node)
		if err != nil {
			return nil, err
		}
		if err := t.Secrets.SetSecret(statusTokenSecret, id+"="+secret); err != nil {
			return nil, fmt.Errorf("keep the status token: %w", err)
		}
	}
	return pve.New(pve.Config{BaseURL: "https://" + net.JoinHostPort(t.PVEAddr, "8006"), Fingerprint: fp,
		TokenID: id, TokenSecret: secret, Dial: t.Dial, Log: t.Log})
}

// createStatusToken (re)creates the status token with pveum and grants it
// PVEAuditor on /.
func createStatusToken(ctx context.Context, e exec.Executor) (id, secret string, err error) {
	user, name := StatusTokenUser, StatusTokenName
	// A token whose secret we lost is replaced: PVE shows a secret once.
	_, _ = e.Run(ctx, exec.Cmd{Script: "pveum user token remove " + user + " " + name})
	res, err := e.Run(ctx, exec.Cmd{Script: "pveum user token add " + user + " " + name + " --privsep 1 --comment 'tappaas status (read-only)' --output-format json", Secret: true})
	if err != nil {
		return "", "", fmt.Errorf("create the read-only API token %s!%s: %w", user, name, err)
	}
	var out struct {
		FullTokenID string `json:"full-tokenid"`
		Value       string `json:"value"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || out.FullTokenID == "" || out.Value == "" {
		return "", "", fmt.Errorf("create the read-only API token %s!%s: pveum printed no full-tokenid and value", user, name)
	}
	if _, err := e.Run(ctx, exec.Cmd{Script: "pveum acl modify / --roles PVEAuditor --tokens '" + out.FullTokenID + "'"}); err != nil {
		return "", "", fmt.Errorf("grant PVEAuditor on / to %s: %w", out.FullTokenID, err)
	}
	return out.FullTokenID, out.Value, nil
}

package pve

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
)

// upidCall runs a call whose data is a UPID and parses it strictly.
func (c *Client) upidCall(ctx context.Context, method, path string, p any) (string, error) {
	var s string
	if err := c.Do(ctx, method, path, p, &s); err != nil {
		return "", err
	}
	if _, err := parseUPID(s); err != nil {
		return "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	return s, nil
}

// ClusterCreate is POST /cluster/config (root@pam ticket only) → UPID of
// clustercreate; go-proxmox returns it as a "status" string and never
// waits. links are link0, link1, … values ("10.0.0.10").
func (c *Client) ClusterCreate(ctx context.Context, name string, links ...string) (string, error) {
	p := map[string]any{"clustername": name}
	for i, l := range links {
		p["link"+strconv.Itoa(i)] = l
	}
	return c.upidCall(withAuth(ctx, authTicket), http.MethodPost, "/cluster/config", p)
}

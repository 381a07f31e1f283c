package install

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/pve"
	"github.com/tappaas/tappaas/steps/join"
)

// PVETicket implements cluster.TicketAPI: it creates the cluster through the
// PVE API with a root@pam ticket (PVE refuses API tokens there,
// docs/pve-api.md#auth), pinned to the node certificate read over the trusted
// SSH link.
type PVETicket struct {
	// Node reads the certificate fingerprint (/etc/pve/local/pve-ssl.pem).
	Node exec.Executor
	// Addr is the node's address for the API ("192.168.1.10").
	Addr string
	// Password returns root@pam's password (asked; never stored).
	Password func(ctx context.Context) (string, error)
	Dial     exec.DialFunc
}

// CreateCluster implements cluster.TicketAPI.
func (p *PVETicket) CreateCluster(ctx context.Context, name, link0 string, out func(string)) error {
	if p.Password == nil {
		return errors.New("no root@pam password for the PVE API")
	}
	fp, err := join.NodeFingerprint(ctx, p.Node)
	if err != nil {
		return fmt.Errorf("read the node certificate fingerprint: %w", err)
	}
	c, err := pve.New(pve.Config{BaseURL: "https://" + net.JoinHostPort(p.Addr, "8006"), Fingerprint: fp, Dial: p.Dial})
	if err != nil {
		return err
	}
	pw, err := p.Password(ctx)
	if err != nil {
		return err
	}
	if err := c.LoginTicket(ctx, "root@pam", pw); err != nil {
		return fmt.Errorf("root@pam login: %w", err)
	}
	upid, err := c.ClusterCreate(ctx, name, link0)
	if err != nil {
		return err
	}
	return c.WaitTask(ctx, upid, out)
}

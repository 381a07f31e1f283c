package lab

import (
	"net"
	"sync"
	"time"

	"github.com/tappaas/tappaas/lab/pve"
)

// addrConn is a connection dialled to one of the node's addresses. When
// that address leaves the node (a bridge or IP change, ifreload), the link
// goes dark as on a real network: Linux drops packets for an address it no
// longer has (no RST is sent for a connection to a removed local address),
// so the client hears nothing — its reads wait, its writes vanish — and
// learns of it only from its keepalives; the server end hears nothing
// either and its commands run on. A connection on an address that stays
// (the management address) is untouched.
type addrConn struct {
	net.Conn
	host string

	mu     sync.Mutex
	dark   bool
	closed chan struct{}
	once   sync.Once
	forget func()
}

func (c *addrConn) isDark() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dark
}

// goDark cuts the link: a Read in progress is woken and waits for Close.
func (c *addrConn) goDark() {
	c.mu.Lock()
	c.dark = true
	c.mu.Unlock()
	_ = c.Conn.SetReadDeadline(time.Now())
}

func (c *addrConn) Read(b []byte) (int, error) {
	if c.isDark() {
		<-c.closed
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Read(b)
	if c.isDark() {
		// What arrived after the cut is lost.
		<-c.closed
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *addrConn) Write(b []byte) (int, error) {
	if c.isDark() {
		return len(b), nil // into the void, as unacknowledged segments
	}
	return c.Conn.Write(b)
}

// Close closes the client end. On a dark link the server end is left as
// it is (it never hears of it); the lab closes it when it stops.
func (c *addrConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.forget()
	})
	if c.isDark() {
		return nil
	}
	return c.Conn.Close()
}

// trackAddr wraps nc, dialled to host (an address of this node).
func (l *Lab) trackAddr(nc net.Conn, host string) net.Conn {
	c := &addrConn{Conn: nc, host: host, closed: make(chan struct{})}
	c.forget = func() {
		l.mu.Lock()
		delete(l.addrConns, c)
		l.mu.Unlock()
	}
	l.mu.Lock()
	if l.addrConns == nil {
		l.addrConns = map[*addrConn]struct{}{}
	}
	l.addrConns[c] = struct{}{}
	l.mu.Unlock()
	return c
}

// checkAddrs darkens the connections whose node address is gone (called
// after every change of the node).
func (l *Lab) checkAddrs() {
	l.mu.Lock()
	conns := make([]*addrConn, 0, len(l.addrConns))
	for c := range l.addrConns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	if len(conns) == 0 {
		return
	}
	up := map[string]bool{}
	l.node.Read(func(m *pve.Model) {
		for _, c := range conns {
			up[c.host] = m.AddrUp(c.host)
		}
	})
	for _, c := range conns {
		if !up[c.host] && !c.isDark() {
			c.goDark()
		}
	}
}

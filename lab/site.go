package lab

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/tappaas/tappaas/lab/pve"
)

// Site is one network shared by several labs (tappaas1, tappaas2, …): each
// lab's dial table also reaches the other labs' addresses, a node without
// its own firewall routes through the site's, and a node can join another
// node's cluster. Create one with NewSite and pass it in Options.Site.
type Site struct {
	mu   sync.Mutex
	labs []*Lab
}

// NewSite returns an empty site.
func NewSite() *Site { return &Site{} }

func (s *Site) add(l *Lab) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.labs = append(s.labs, l)
}

func (s *Site) remove(l *Lab) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.labs[:0]
	for _, x := range s.labs {
		if x != l {
			out = append(out, x)
		}
	}
	s.labs = out
}

func (s *Site) peers(self *Lab) []*Lab {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Lab
	for _, x := range s.labs {
		if x != self {
			out = append(out, x)
		}
	}
	return out
}

// resolveSite looks addr up in the other labs of the site.
func (l *Lab) resolveSite(addr string) (string, error) {
	var firstErr error
	for _, p := range l.opts.Site.peers(l) {
		a, err := p.resolveOwn(addr)
		if err == nil {
			return a, nil
		}
		var oe *net.OpError
		if errors.As(err, &oe) && errors.Is(oe.Err, syscall.ECONNREFUSED) && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", opErr(addr, syscall.EHOSTUNREACH)
}

// siteFirewallUp reports whether another lab of the site runs a booted firewall.
func (l *Lab) siteFirewallUp() bool {
	for _, p := range l.opts.Site.peers(l) {
		p.mu.Lock()
		fw := p.fw
		p.mu.Unlock()
		if fw != nil && !time.Now().Before(fw.ready) && p.vmRunning(fw.vmid) {
			return true
		}
	}
	return false
}

// siteJoin forwards a join request to the member it names.
func (l *Lab) siteJoin(req pve.JoinRequest) (*pve.JoinResult, error) {
	ip := l.labResolve(req.Hostname)
	if ip == "" {
		return nil, errors.New("unable to resolve '" + req.Hostname + "': Name or service not known")
	}
	for _, p := range l.opts.Site.peers(l) {
		var addr string
		p.node.Read(func(m *pve.Model) { addr = m.NodeAddr })
		if ip != addr && ip != mgmtAddr(p.node.Hostname()) {
			continue
		}
		if _, err := p.resolveOwn(net.JoinHostPort(ip, "8006")); err != nil {
			return nil, errors.New("unable to connect to '" + req.Hostname + "': " + err.Error())
		}
		return p.node.AcceptJoin(req)
	}
	return nil, errors.New("unable to connect to '" + req.Hostname + "' (" + ip + ":8006): No route to host")
}

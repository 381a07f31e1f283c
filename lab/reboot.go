package lab

// RebootNode restarts the PVE node while the lab runs: its SSH connections
// die with the machine, transient timers and /run are gone, and the units
// enabled for boot run (pve.Node.Reboot).
func (l *Lab) RebootNode() {
	if l.sshSrv != nil {
		l.sshSrv.DropAll()
	}
	l.node.Reboot()
}

// SSHConnections is how many SSH connections the node's sshd accepted.
func (l *Lab) SSHConnections() int64 {
	if l.sshSrv == nil {
		return 0
	}
	return l.sshSrv.Connections()
}

package lab

import (
	"context"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
)

// newGuestInterp is a guest VM's shell (lab/vm supplies the cicd commands
// once it lands; until then the builtins).
func newGuestInterp(fsys shell.FS, hostname string, sleep func(context.Context, time.Duration) error) *shell.Interp {
	in := shell.New(fsys)
	in.Host.Hostname = hostname
	in.Sleep = sleep
	return in
}

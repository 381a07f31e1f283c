package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// Facts of the reboot after the configuration push.
var (
	// FactPushedPID is the firewall VM's QEMU process id when the
	// configuration was pushed. `qm reboot` shuts the VM down and starts it
	// again, in a new process: a different pid proves a boot since.
	FactPushedPID = steps.Key[int]("firewall.pushed_pid")
	// FactSSHHostKey is the firewall's SSH host key (authorized-key form),
	// pinned before the reboot; the firewall must come back with it.
	FactSSHHostKey = steps.Key[string]("firewall.ssh_host_key")
)

// HostKeyReader reads the firewall's SSH host key without logging in (key
// exchange only, as ssh-keyscan does), over the node's trusted link.
type HostKeyReader interface {
	FirewallHostKey(ctx context.Context) (string, error)
}

// QEMUProcess reads the VM's QEMU pid from PVE
// (GET /nodes/{node}/qemu/{vmid}/status/current: pid while running); 0
// when the VM is not running.
func QEMUProcess(ctx context.Context, e exec.Executor, vmid int) (int, error) {
	host, err := node.Query(ctx, e, "hostname")
	if err != nil {
		return 0, err
	}
	out, err := node.Query(ctx, e, exec.Join("pvesh", "get", fmt.Sprintf("/nodes/%s/qemu/%d/status/current", strings.TrimSpace(host), vmid), "--output-format", "json"))
	if err != nil {
		return 0, err
	}
	var st struct {
		Status string          `json:"status"`
		PID    json.RawMessage `json:"pid"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return 0, fmt.Errorf("VM %d status: unexpected output: %w", vmid, err)
	}
	if st.Status != "running" {
		return 0, nil
	}
	// PVE sends the pid as a number or a string, depending on the version.
	pid, err := strconv.Atoi(strings.Trim(string(st.PID), `"`))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("VM %d status: no QEMU pid in %s", vmid, out)
	}
	return pid, nil
}

// Reboot reboots the firewall once after its configuration was pushed, as
// upstream does (TAPPaaS@f54e4fc:src/foundation/firewall/config-firewall.sh:270-274):
// OPNsense runs its model migrations only at boot
// (opnsense/core@26.1.11:src/etc/rc.bootup:63), and the clean boot is what
// the firewall will do from now on. It waits until the firewall is back
// with the same identities: the API accepts our key behind the pinned
// certificate, and SSH presents the host key seen before the reboot. A
// resumed run reboots only when no boot happened since the push.
type Reboot struct {
	Node exec.Executor
	Cfg  config.Install
	API  API
	// SSH reads the firewall's SSH host key; nil skips that check.
	SSH HostKeyReader
	// Wait bounds the wait for the firewall to come back (default 10 min).
	Wait time.Duration
}

func (s *Reboot) ID() string { return "firewall.reboot" }

func (s *Reboot) Title() string { return "Reboot the firewall into its configuration" }

func (s *Reboot) Needs() []string { return []string{"firewall.config"} }

func (s *Reboot) Touches() []string {
	return []string{"opnsense", "vm:" + strconv.Itoa(s.Cfg.Firewall.VMID)}
}

func (s *Reboot) Describe(*steps.Runtime) []string {
	return []string{fmt.Sprintf("qm reboot %d (boot-time migrations, services from config.xml)", s.Cfg.Firewall.VMID),
		"wait for the API with our key and the pinned certificate, and SSH with the same host key"}
}

// back reports why the firewall is not back with its identities (why ""
// and err nil when it is). changed is set when it answers with another
// certificate or SSH host key: a hard stop, never waited out.
func (s *Reboot) back(ctx context.Context, rt *steps.Runtime) (why string, changed, err error) {
	key, secret, _ := (&Config{}).ours(rt)
	pinned, ok := steps.Get(rt.Facts, FactFingerprint)
	if !ok {
		return "no pinned firewall certificate (step firewall.config pins it)", nil, nil
	}
	fp, err := s.API.Fingerprint(ctx)
	if err != nil {
		return "its certificate cannot be read yet", nil, err
	}
	if !strings.EqualFold(fp, pinned) {
		return "", fmt.Errorf("the firewall came back with another TLS certificate (%s…, pinned %s…): stop and check the VM (qm terminal %d)", fp[:min(11, len(fp))], pinned[:min(11, len(pinned))], s.Cfg.Firewall.VMID), nil
	}
	if err := s.API.Probe(ctx, fp, key, secret); err != nil {
		if errors.Is(err, ErrRefused) {
			return "the API refuses our key (if this lasts, rerun the install: step firewall.config pushes the configuration again)", nil, err
		}
		return "the API does not answer yet", nil, err
	}
	if s.SSH != nil {
		hk, err := s.SSH.FirewallHostKey(ctx)
		if err != nil {
			return "SSH does not answer yet", nil, err
		}
		if want, ok := steps.Get(rt.Facts, FactSSHHostKey); ok && want != hk {
			return "", fmt.Errorf("the firewall came back with another SSH host key: stop and check the VM (qm terminal %d)", s.Cfg.Firewall.VMID), nil
		}
	}
	return "", nil, nil
}

// rebooted reports whether the VM runs a QEMU process other than the one
// the configuration was pushed to.
func (s *Reboot) rebooted(ctx context.Context, rt *steps.Runtime) (bool, int, error) {
	pid, err := QEMUProcess(ctx, s.Node, s.Cfg.Firewall.VMID)
	if err != nil {
		return false, 0, err
	}
	pushed, ok := steps.Get(rt.Facts, FactPushedPID)
	return ok && pid != 0 && pid != pushed, pid, nil
}

// Check implements steps.Step: the firewall booted since the push and is
// back with its identities.
func (s *Reboot) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	done, pid, err := s.rebooted(ctx, rt)
	if err != nil {
		return steps.Status{}, err
	}
	if pid == 0 {
		return steps.NotDone("VM %d is not running", s.Cfg.Firewall.VMID), nil
	}
	if !done {
		return steps.NotDone("the firewall has not booted since its configuration was pushed"), nil
	}
	why, changed, err := s.back(ctx, rt)
	if changed != nil {
		return steps.Status{}, changed
	}
	if err != nil || why != "" {
		return steps.NotDone("rebooted, not back yet: %s (%v)", why, err), nil
	}
	return steps.Done("rebooted since the push; API and SSH back with the pinned identities"), nil
}

func (s *Reboot) Apply(ctx context.Context, rt *steps.Runtime) error {
	id := strconv.Itoa(s.Cfg.Firewall.VMID)
	done, pid, err := s.rebooted(ctx, rt)
	if err != nil {
		return err
	}
	if !done {
		if pid == 0 {
			return fmt.Errorf("VM %s is not running: start it (qm start %s) and rerun", id, id)
		}
		if _, ok := steps.Get(rt.Facts, FactPushedPID); !ok {
			// Pushed by a run that did not record it: this process is the
			// one that got the configuration.
			if err := steps.Set(rt.Facts, FactPushedPID, pid); err != nil {
				return err
			}
		}
		if s.SSH != nil {
			if _, ok := steps.Get(rt.Facts, FactSSHHostKey); !ok {
				hk, err := s.SSH.FirewallHostKey(ctx)
				if err != nil {
					return fmt.Errorf("read the firewall's SSH host key before the reboot: %w", err)
				}
				if err := steps.Set(rt.Facts, FactSSHHostKey, hk); err != nil {
					return err
				}
			}
		}
		rt.Printf("rebooting the firewall (VM %s) into its configuration", id)
		// qm reboot shuts the guest down (ACPI) and starts it again; a
		// guest that does not shut down in time is stopped and started,
		// as upstream falls back to (config-firewall.sh:274).
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("qm", "reboot", id, "--timeout", "300")); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rt.Printf("qm reboot failed (%v); stopping and starting VM %s", err, id)
			if _, err := node.Run(ctx, rt, s.Node, exec.Join("qm", "stop", id)); err != nil {
				return err
			}
			if _, err := node.Run(ctx, rt, s.Node, exec.Join("qm", "start", id)); err != nil {
				return err
			}
		}
	}
	wait := s.Wait
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	var last string
	var changed error
	err = node.Poll(ctx, rt, "the firewall to come back after its reboot", wait, 5*time.Second, func(ctx context.Context) (bool, error) {
		why, ch, err := s.back(ctx, rt)
		last, changed = why, ch
		return ch != nil || (why == "" && err == nil), err
	})
	if changed != nil {
		return changed
	}
	if err != nil {
		return fmt.Errorf("the firewall is not back after its reboot (%s); check its console (qm terminal %s): %w", last, id, err)
	}
	return nil
}

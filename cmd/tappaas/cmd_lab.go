package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tappaas/tappaas/lab"
)

func newLabCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run or inspect the simulated PVE node and OPNsense firewall",
	}
	cmd.AddCommand(newLabServeCmd(), newLabStateCmd())
	return cmd
}

type labServeOpts struct {
	speed     float64
	accessLog string
	dir       string
	reset     bool
	faults    labFaultFlags
	hostname  string
}

// labFaultFlags are the fault injection flags of `lab serve` and of every
// command that takes --lab.
type labFaultFlags struct {
	failAPI   []string
	failSSH   []string
	dropSSHAt int
	slow      []string
	faults    []string // --fault: any kind, with +after
}

// addLabFaultFlags declares the fault flags; with says when they apply
// ("" for lab serve, "with --lab: " for the commands).
func addLabFaultFlags(f *pflag.FlagSet, o *labFaultFlags, with string) {
	f.StringArrayVar(&o.failAPI, "fail-api", nil, with+`fail an API call: "METHOD /path[=N]" (N times, default 1), e.g. "POST /nodes/tappaas1/qemu=2"`)
	f.StringArrayVar(&o.failSSH, "fail-ssh", nil, with+`fail a shell command: "command prefix[=N]", e.g. "qm start=1"`)
	f.IntVar(&o.dropSSHAt, "drop-ssh-at", 0, with+"sever the SSH link when the K-th command arrives")
	f.StringArrayVar(&o.slow, "slow", nil, with+`slow a call or command: "prefix=DURATION", e.g. "qm start=20s"`)
	f.StringArrayVar(&o.faults, "fault", nil, with+`any fault: "api[+after]:METHOD /path[=N]", "opnsense[+after]:METHOD /path[=N]", "ssh[+after]:prefix[=N]", "drop[+after]:K", "slow:prefix=DURATION" (+after: the call is done, its reply fails)`)
}

func (o labFaultFlags) set() bool {
	return len(o.failAPI)+len(o.failSSH)+len(o.slow)+len(o.faults) > 0 || o.dropSSHAt != 0
}

func newLabServeCmd() *cobra.Command {
	var o labServeOpts
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run a lab standalone and print how to reach it (Ctrl+C stops it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			faults, err := parseFaultFlags(o.faults)
			if err != nil {
				return exitCode(2, err)
			}
			opts := lab.Options{Dir: o.dir, Reset: o.reset, Speed: o.speed, Faults: faults, Hostname: o.hostname}
			if o.accessLog != "" {
				f, err := os.OpenFile(o.accessLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
				if err != nil {
					return fmt.Errorf("access log: %w", err)
				}
				defer f.Close()
				opts.AccessLog = f
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			l, err := lab.Start(ctx, opts)
			if err != nil {
				return err
			}
			printLabInfo(cmd.OutOrStdout(), l.Info(), o.dir)
			if err := l.Serve(ctx, o.dir); err != nil {
				_ = l.Close()
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "\nstopping the lab…")
			return l.Close()
		},
	}
	f := c.Flags()
	f.Float64Var(&o.speed, "speed", 1, "latency scale: 1 realistic, 0 instant")
	f.StringVar(&o.accessLog, "access-log", "", "append JSON lines of every API call and SSH command (secrets masked) to FILE")
	f.StringVar(&o.dir, "dir", defaultLabDir(), "keep the lab's model here between runs")
	f.StringVar(&o.hostname, "hostname", "tappaas1", "the node's name; tappaasN (N>1) is installed on 10.0.0.(9+N) like a node that will join")
	f.BoolVar(&o.reset, "reset", false, "start from a freshly installed node, discarding the saved model")
	addLabFaultFlags(f, &o.faults, "")
	return c
}

// parseFaultFlags turns the fault flags into lab faults.
func parseFaultFlags(o labFaultFlags) ([]lab.Fault, error) {
	var specs []string
	for _, s := range o.failAPI {
		specs = append(specs, "api:"+s)
	}
	for _, s := range o.failSSH {
		specs = append(specs, "ssh:"+s)
	}
	for _, s := range o.slow {
		specs = append(specs, "slow:"+s)
	}
	if o.dropSSHAt < 0 {
		return nil, errors.New("--drop-ssh-at must be positive")
	}
	if o.dropSSHAt > 0 {
		specs = append(specs, "drop:"+strconv.Itoa(o.dropSSHAt))
	}
	specs = append(specs, o.faults...)
	var out []lab.Fault
	for _, s := range specs {
		f, err := lab.ParseFault(s)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func printLabInfo(w io.Writer, info lab.Info, dir string) {
	fmt.Fprintf(w, "tappaas lab: simulated PVE node %q (state in %s)\n\n", info.Hostname, dir)
	fmt.Fprintf(w, "Lab addresses (reachable through the lab's dial table; loopback listeners):\n")
	keys := make([]string, 0, len(info.Loopback))
	for k := range info.Loopback {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-22s -> %s\n", k, info.Loopback[k])
	}
	fmt.Fprintf(w, "\nNode install address:  %s   (management %s after the network step)\n", info.NodeAddr, info.MgmtAddr)
	fmt.Fprintf(w, "root@pam password:     %s   (lab only)\n", info.RootPassword)
	fmt.Fprintf(w, "SSH host key:          %s\n", info.SSHHostKey)
	fmt.Fprintf(w, "SSH fingerprint:       %s\n", info.SSHFingerprint)
	fmt.Fprintf(w, "PVE API fingerprint:   %s\n", info.PVEFingerprint)
	if info.PBSFingerprint != "" {
		fmt.Fprintf(w, "PBS API fingerprint:   %s\n", info.PBSFingerprint)
	}
	fmt.Fprintf(w, "Firewall:              https://%s (after its VM boots); image bootstrap key %s\n", info.FirewallAddr, info.FirewallKey)
	if info.FirewallFingerprint != "" {
		fmt.Fprintf(w, "Firewall fingerprint:  %s\n", info.FirewallFingerprint)
	}
	fmt.Fprintf(w, "Client key (already in root's authorized_keys):\n%s\n", strings.TrimSpace(string(info.ClientKeyPEM)))
	fmt.Fprintf(w, "\nImage mirror:\n")
	for _, im := range info.Images {
		fmt.Fprintf(w, "  %s\n    sha256 %s (%s %s)\n", im.URL, im.SHA256, im.Guest, im.Version)
	}
	fmt.Fprintf(w, "\nAnother process reaches these addresses with lab.Connect(%q) (its dial table and this information).\nServing until Ctrl+C.\n", dir)
}

func newLabStateCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "state",
		Short: "Print the model of a persisted lab as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := lab.ReadState(dir)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(b, '\n'))
			return err
		},
	}
	c.Flags().StringVar(&dir, "dir", defaultLabDir(), "the lab's state directory")
	return c
}

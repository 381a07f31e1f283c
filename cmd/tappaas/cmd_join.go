package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps/install"
)

// peerPasswordEnv passes the peer's root password to headless joins.
const peerPasswordEnv = "TAPPAAS_PEER_PASSWORD"

func newJoinCmd() *cobra.Command {
	var o installOptions
	var pwFile, peerHost, peerAccept string
	c := &cobra.Command{
		Use:   "join",
		Short: "Join this node to the TAPPaaS cluster (headless with --answers FILE --yes)",
		Long: "Join a freshly installed PVE node (tappaas2..9) to the cluster: preflight, node, network\n" +
			"(secondary layout), join through [join] peer, re-pin, storage, HA and replication.\n" +
			"The peer's root password is asked on the terminal, or read from --peer-password-file or\n" +
			"$" + peerPasswordEnv + "; it is never stored. Exit codes: 0 done, 1 failed, 2 input needed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			pw := peerPassword(pwFile, cmd.InOrStdin(), cmd.ErrOrStderr())
			if peerHost != "" {
				pt, err := install.Connect(ctx, install.ConnectOptions{Host: peerHost, KnownHosts: o.knownHosts, AcceptHostKey: peerAccept,
					KeyFiles: o.identity, UseAgent: len(o.identity) == 0})
				if err != nil {
					return exitCode(2, fmt.Errorf("--peer-host: %w", err))
				}
				defer pt.Close()
				o.peerExec = pt.Node
			}
			code, err := runJoin(ctx, o, pw, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return exitCode(code, err)
			}
			return nil
		},
	}
	addSessionFlags(c, &o)
	f := c.Flags()
	f.StringVar(&o.answers, "answers", "", "TOML answers file ([node] and [join] sections)")
	f.BoolVar(&o.yes, "yes", false, "run without asking for confirmation")
	f.StringVar(&pwFile, "peer-password-file", "", "read the peer's root password from this file (never stored)")
	f.StringVar(&peerHost, "peer-host", "", "SSH to the peer (root@ADDR) to learn its fingerprint and register HA there")
	f.StringVar(&peerAccept, "peer-accept-host-key", "", "accept the peer's unknown SSH host key only with this fingerprint")
	f.IntVar(&o.concurrency, "concurrency", 4, "steps run at once when independent")
	return c
}

// peerPassword returns a function that yields the peer's root password
// when the join step needs it: file, environment, or a terminal prompt.
func peerPassword(file string, stdin io.Reader, stderr io.Writer) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		if file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("--peer-password-file: %w", err)
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}
		if v := os.Getenv(peerPasswordEnv); v != "" {
			return v, nil
		}
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(f.Fd()) {
			fmt.Fprint(stderr, "Root password of the peer node (not stored): ")
			b, err := term.ReadPassword(f.Fd())
			fmt.Fprintln(stderr)
			return string(b), err
		}
		return "", &inputError{errors.New("input needed: the peer's root password (--peer-password-file or $" + peerPasswordEnv + ")")}
	}
}

// runJoin is `tappaas join` without cobra.
func runJoin(ctx context.Context, o installOptions, password func(context.Context) (string, error), stdout, stderr io.Writer) (int, error) {
	if o.answers == "" {
		return 2, errors.New("input needed: --answers FILE with [node] and [join] sections")
	}
	f, err := os.Open(o.answers)
	if err != nil {
		return 2, fmt.Errorf("answers: %w", err)
	}
	cfg, err := config.LoadAnswers(f)
	f.Close()
	if err != nil {
		return 2, fmt.Errorf("%s: %w", o.answers, err)
	}
	if cfg.Join.Peer == "" {
		return 2, errors.New("input needed: [join] peer = an existing member (e.g. 10.0.0.10)")
	}
	sess, err := openSession(ctx, o, stderr)
	if err != nil {
		return exitCodeOf(err), err
	}
	defer sess.Close()
	plan, err := install.JoinPlan(cfg, sess.Targets, install.Peer{Exec: o.peerExec, Password: password})
	if err != nil {
		return 2, err
	}
	if !o.yes {
		for _, si := range plan.Review(nil, sess.Store) {
			fmt.Fprintf(stdout, "  %-24s %s\n", si.ID, si.Title)
		}
		return 2, errors.New("input needed: review the plan above, then run again with --yes")
	}
	if err := runPlan(ctx, sess, plan, o, stdout); err != nil {
		if errors.Is(err, context.Canceled) {
			return exitInterrupted, err
		}
		var ie *inputError
		if errors.As(err, &ie) {
			return 2, err
		}
		return 1, err
	}
	return 0, nil
}

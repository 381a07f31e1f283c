package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/install"
)

// The pins `tappaas forget-*` drops, as ssh-keygen -R does for OpenSSH:
// tappaas stops on a changed key or certificate and never re-pins by
// itself; the operator checks the new one and forgets the old.
const (
	forgetHostKey     = "host-key"
	forgetCertificate = "certificate"
)

func newForgetHostKeyCmd() *cobra.Command {
	var o installOptions
	c := &cobra.Command{
		Use:   "forget-host-key NAME",
		Short: "Forget a guest's pinned SSH host key (firewall, cicd or an address) after checking its new key",
		Long: "A guest whose SSH host key changed stops the install (it may be a man-in-the-middle).\n" +
			"When the VM was re-created on purpose, check the new key on its console\n" +
			"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then forget the old one here;\n" +
			"the next run pins the key the guest offers. NAME is firewall, cicd or the guest's address.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runForget(cmd.Context(), o, forgetHostKey, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return exitCode(code, err)
			}
			return nil
		},
	}
	addSessionFlags(c, &o)
	return c
}

func newForgetCertificateCmd() *cobra.Command {
	var o installOptions
	c := &cobra.Command{
		Use:   "forget-certificate firewall",
		Short: "Forget the firewall's pinned TLS certificate after checking its new one",
		Long: "A firewall presenting another web GUI certificate than the pinned one stops the install\n" +
			"before any API key is sent. When the certificate was replaced on purpose, compare the\n" +
			"fingerprint in the error with the one OPNsense shows (System > Trust > Certificates),\n" +
			"then forget the old one here; the next run learns the new one from the node and pins it.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runForget(cmd.Context(), o, forgetCertificate, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return exitCode(code, err)
			}
			return nil
		},
	}
	addSessionFlags(c, &o)
	return c
}

// runForget drops one pin from the node's checkpoint under the run lock.
func runForget(ctx context.Context, o installOptions, what, name string, stdout, stderr io.Writer) (int, error) {
	if what == forgetCertificate && name != "firewall" {
		return 2, fmt.Errorf("forget-certificate %q: only the firewall's certificate is pinned in the checkpoint (PVE and PBS are re-read from the node)", name)
	}
	sess, err := openSession(ctx, o, stderr)
	if err != nil {
		return exitCodeOf(err), err
	}
	defer sess.Close()
	unlock, err := sess.Store.Lock(ctx, state.CurrentHolder())
	if err != nil {
		return 1, err
	}
	defer unlock()
	facts := steps.NewFacts(sess.Store.Facts())
	var werr error
	facts.OnChange(func(key string, raw json.RawMessage) { werr = errors.Join(werr, sess.Store.SetFact(key, raw)) })
	switch what {
	case forgetHostKey:
		addr, err := install.GuestAddr(facts, name)
		if err != nil {
			return 2, fmt.Errorf("forget-host-key: %w", err)
		}
		old, _ := steps.Get(facts, install.FactVMHostKeys)
		ok, err := install.ForgetHostKey(facts, addr)
		if err == nil {
			err = errors.Join(werr, sess.Store.Flush())
		}
		if err != nil {
			return 1, fmt.Errorf("forget the host key of %s: %w", name, err)
		}
		if !ok {
			fmt.Fprintf(stdout, "no SSH host key is pinned for %s (%s); nothing to forget\n", name, addr)
			return 0, nil
		}
		fmt.Fprintf(stdout, "forgot the SSH host key pinned for %s (%s): %s\nthe next run pins the key %s offers\n", name, addr, keyFingerprint(old[addr]), name)
	case forgetCertificate:
		fp, ok, _ := firewall.Pinned(facts)
		if !ok {
			fmt.Fprintln(stdout, "no firewall certificate is pinned; nothing to forget")
			return 0, nil
		}
		err := steps.Set(facts, firewall.FactFingerprint, "")
		if err == nil {
			err = errors.Join(werr, sess.Store.Flush())
		}
		if err != nil {
			return 1, fmt.Errorf("forget the firewall certificate: %w", err)
		}
		fmt.Fprintf(stdout, "forgot the firewall certificate pinned as %s\nthe next run learns the certificate the firewall presents (read from the node) and pins it\n", fp)
	}
	return 0, nil
}

// keyFingerprint is the "SHA256:…" form of an authorized-key line.
func keyFingerprint(line string) string {
	k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return "(unreadable key)"
	}
	return gossh.FingerprintSHA256(k)
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/steps/install"
)

// unlockOptions are the flags of `tappaas unlock`.
type unlockOptions struct {
	installOptions
	id string
}

func newUnlockCmd() *cobra.Command {
	var o unlockOptions
	c := &cobra.Command{
		Use:   "unlock LOCK_ID",
		Short: "Remove the node's state lock left by a run that cannot release it (force-unlock)",
		Long: "Remove the node's state lock (" + install.StateDir + "/" + state.LockFile + ") whose lock ID is LOCK_ID, as\n" +
			"`terraform force-unlock` does: for a run that died on another host or lost its link.\n" +
			"The lock ID is in the message of the run that was refused. It shows who holds the\n" +
			"lock and asks before removing it (--yes skips the question); a wrong ID changes\n" +
			"nothing. It changes nothing else on the node. Exit codes: 0 removed, 1 failed,\n" +
			"2 not confirmed.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.id = args[0]
			code, err := runUnlock(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return exitCode(code, err)
			}
			return nil
		},
	}
	addSessionFlags(c, &o.installOptions)
	c.Flags().BoolVar(&o.yes, "yes", false, "remove the lock without asking")
	return c
}

// runUnlock is `tappaas unlock ID` without cobra: tests call it in-process.
func runUnlock(ctx context.Context, o unlockOptions, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	sess, err := openSession(ctx, o.installOptions, stderr)
	if err != nil {
		return exitCodeOf(err), err
	}
	defer sess.Close()
	h, err := sess.Store.ReadLock()
	if err != nil {
		return 1, err
	}
	if h.ID != o.id {
		// ForceUnlock says why (wrong ID, or a lock without one).
		_, err := sess.Store.ForceUnlock(o.id)
		return 1, err
	}
	fmt.Fprintf(stdout, "The state lock %s is held by %s (lock ID %s).\n", sess.Store.LockPath(), h, h.ID)
	if !o.yes {
		fmt.Fprint(stdout, "Do you really want to remove it? If that run is still going, another run could then\n"+
			"change the node at the same time. Only 'yes' will be accepted to confirm.\n\nEnter a value: ")
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(stdout)
			return 2, errors.New("unlock not confirmed: the lock is kept")
		}
	}
	if _, err := sess.Store.ForceUnlock(o.id); err != nil {
		return 1, err
	}
	fmt.Fprintf(stdout, "The state lock has been removed. The next run re-checks every step on the node.\n")
	return 0, nil
}

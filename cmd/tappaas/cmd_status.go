package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/steps/install"
)

func newStatusCmd() *cobra.Command {
	var o installOptions
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the node's tappaas checkpoints (what ran, when, and how it ended)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			code, err := runStatus(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return exitCode(code, err)
			}
			return nil
		},
	}
	addSessionFlags(c, &o)
	return c
}

// runStatus reads the checkpoints on the node and prints them as a table
// (or JSON). It changes nothing on the node.
func runStatus(ctx context.Context, o installOptions, stdout, stderr io.Writer) (int, error) {
	sess, err := openSession(ctx, o, stderr)
	if err != nil {
		var ie *inputError
		if errors.As(err, &ie) {
			return 2, err
		}
		return 1, err
	}
	defer sess.Close()
	snap := sess.Store.Snapshot()
	if o.output == "json" {
		b, err := json.MarshalIndent(map[string]any{"plan": snap.Plan, "by": snap.By, "updated": snap.Updated, "steps": snap.Steps}, "", "  ")
		if err != nil {
			return 1, err
		}
		fmt.Fprintln(stdout, string(b))
		return 0, nil
	}
	if snap.Plan == "" && len(snap.Steps) == 0 {
		fmt.Fprintf(stdout, "no tappaas run recorded on %s (%s)\n", sess.Targets.Node.Target(), install.StateDir)
		return 0, nil
	}
	by := "unknown"
	if snap.By != nil {
		by = snap.By.String()
	}
	fmt.Fprintf(stdout, "plan %s, last run by %s, updated %s\n\n", snap.Plan, by, snap.Updated.Format(time.RFC3339))
	type row struct {
		id string
		r  state.Record
	}
	var rows []row
	for id, r := range snap.Steps {
		rows = append(rows, row{id, r})
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i].r.Started, rows[j].r.Started
		if a.Equal(b) {
			return rows[i].id < rows[j].id
		}
		return a.Before(b)
	})
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tTRIES\tFINISHED\tDETAIL")
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.r.Status]++
		detail := r.r.Detail
		if r.r.Error != "" {
			detail = r.r.Error
		}
		if len(detail) > 70 {
			detail = detail[:67] + "..."
		}
		fin := ""
		if !r.r.Finished.IsZero() {
			fin = r.r.Finished.Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.id, r.r.Status, r.r.Attempts, fin, detail)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d done, %d skipped, %d failed, %d interrupted\n", counts["done"], counts["skipped"], counts["failed"], counts["interrupted"])
	return 0, nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"charm.land/lipgloss/v2"
	"charm.land/lipgloss/v2/table"
	"github.com/charmbracelet/x/ansi"
	"github.com/spf13/cobra"

	"github.com/tappaas/tappaas/backends/pve"
	"github.com/tappaas/tappaas/backends/state"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/steps/dashboard"
	"github.com/tappaas/tappaas/steps/install"
	"github.com/tappaas/tappaas/steps/node"
)

func newStatusCmd() *cobra.Command {
	var o installOptions
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the platform's dashboard (nodes, VMs, backups, zone drift) and the node's tappaas checkpoints",
		Long: `Shows the platform as the dashboard sees it — cluster, nodes, VMs, backups, zone
drift — read through the PVE API with a read-only token (root@pam!tappaas-status,
PVEAuditor; created over SSH on first use, its secret kept in the node's state),
and the node's checkpoints (what ran, when, and how it ended).

Every source is read concurrently under its own timeout (--source-timeout); one
that fails is shown "stale since …" with its error and the rest is still shown.

Colours:
` + dashboard.RulesText(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			code, err := runStatus(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				return exitCode(code, err)
			}
			return nil
		},
	}
	addSessionFlags(c, &o)
	c.Flags().DurationVar(&o.sourceTimeout, "source-timeout", 10*time.Second, "how long each dashboard source may take before it is shown stale")
	return c
}

// runStatus reads the checkpoints on the node and prints them as a table
// (or JSON). It changes nothing on the node.
func runStatus(ctx context.Context, o installOptions, stdout, stderr io.Writer) (int, error) {
	sess, err := openSession(ctx, o, stderr)
	if err != nil {
		return exitCodeOf(err), err
	}
	defer sess.Close()
	snap := sess.Store.Snapshot()
	var dash *dashboard.Dashboard
	if snap.Plan != "" || len(snap.Steps) > 0 {
		dash = gatherDashboard(ctx, sess, o.sourceTimeout)
	}
	if o.output == "json" {
		b, err := json.MarshalIndent(map[string]any{"plan": snap.Plan, "by": snap.By, "updated": snap.Updated, "steps": snap.Steps, "dashboard": dash}, "", "  ")
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
	printDashboard(stdout, dash)
	fmt.Fprintln(stdout)
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
	counts := map[string]int{}
	cells := make([][]string, 0, len(rows))
	for _, r := range rows {
		counts[r.r.Status]++
		detail := r.r.Detail
		if r.r.Error != "" {
			detail = r.r.Error
		}
		fin := ""
		if !r.r.Finished.IsZero() {
			fin = r.r.Finished.Format("2006-01-02 15:04:05")
		}
		cells = append(cells, []string{r.id, r.r.Status, fmt.Sprint(r.r.Attempts), fin, detail})
	}
	writeStepTable(stdout, cells)
	fmt.Fprintf(stdout, "\n%d done, %d skipped, %d failed, %d interrupted\n", counts["done"], counts["skipped"], counts["failed"], counts["interrupted"])
	return 0, nil
}

// detailWidth is how many cells of a step's detail `tappaas status` shows.
const detailWidth = 70

// writeStepTable prints the STEP/STATUS/TRIES/FINISHED/DETAIL table. Columns
// are sized and the detail cut by display width, so a detail or hostname in
// CJK or with emoji (two cells a character) keeps the columns aligned.
func writeStepTable(w io.Writer, rows [][]string) {
	t := table.New().Headers("STEP", "STATUS", "TRIES", "FINISHED", "DETAIL").Wrap(false).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderHeader(false).BorderColumn(false).BorderRow(false)
	for _, r := range rows {
		r[4] = ansi.Truncate(r[4], detailWidth, "…")
		t.Row(r...)
	}
	t.StyleFunc(func(_, col int) lipgloss.Style {
		if col < 4 {
			return lipgloss.NewStyle().PaddingRight(2)
		}
		return lipgloss.NewStyle()
	})
	for _, l := range strings.Split(t.String(), "\n") {
		fmt.Fprintln(w, strings.TrimRight(l, " "))
	}
}

// gatherDashboard reads the dashboard's sources through the session's
// targets. A failure to build the PVE client marks the PVE sources stale
// rather than failing the command.
func gatherDashboard(ctx context.Context, sess *install.Session, timeout time.Duration) *dashboard.Dashboard {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	t := sess.Targets
	src := dashboard.Sources{
		Timeout: timeout,
		ZonesFile: func(ctx context.Context) (*cz.File, error) {
			data, ok, err := node.ReadFile(ctx, t.Node, cz.NodeFile)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("%s is not on the node", cz.NodeFile)
			}
			return cz.Parse(data)
		},
		Firewall: t.ZonesFirewall,
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	var err error
	if !t.HasStatusToken() {
		// The token is made once, under the run lock like any change.
		if lerr := sess.Lock(cctx, nil); lerr != nil {
			err = fmt.Errorf("the read-only status token is created on first use under the run lock: %w", lerr)
		}
	}
	var c *pve.Client
	if err == nil {
		c, err = t.StatusPVE(cctx)
	}
	cancel()
	if err != nil {
		d := dashboard.Gather(ctx, src, nil)
		d.Sources = append(d.Sources, dashboard.Source{Name: "pve", Stale: true, Error: err.Error()})
		d.Level = dashboard.Worst(d.Level, dashboard.Amber)
		return d
	}
	src.PVE = c.Proxmox()
	return dashboard.Gather(ctx, src, nil)
}

// printDashboard prints the dashboard as text: one block per panel, a
// level and reason per row, stale sources last.
func printDashboard(w io.Writer, d *dashboard.Dashboard) {
	if d == nil {
		return
	}
	fmt.Fprintf(w, "platform %s at %s\n", strings.ToUpper(string(d.Level)), d.At.Format(time.RFC3339))
	cl := d.Cluster
	if cl.Name != "" {
		fmt.Fprintf(w, "cluster %s: %d node(s), quorate %v  %s %s\n", cl.Name, cl.Nodes, cl.Quorate, cl.Level, cl.Reason)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nNODE\tLEVEL\tONLINE\tPVE\tCPU\tMEMORY\tROOT DISK\tREASON")
	for _, n := range d.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%.0f%%\t%s\t%s\t%s\n", n.Name, n.Level, n.Online, n.PVEVersion, n.CPU*100, use(n.MemUsed, n.MemTotal), use(n.DiskUsed, n.DiskTotal), n.Reason)
	}
	fmt.Fprintln(tw, "\nVMID\tLEVEL\tNAME\tNODE\tSTATE\tUPTIME\tHA\tREASON")
	for _, v := range d.VMs {
		ha := v.HAState
		if ha == "" {
			ha = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.VMID, v.Level, v.Name, v.Node, v.Status, time.Duration(v.Uptime)*time.Second, ha, v.Reason)
	}
	fmt.Fprintln(tw, "\nBACKUP\tLEVEL\tNAME\tLAST\tRESULT\tREASON")
	for _, b := range d.Backups {
		last := "never"
		if !b.Last.IsZero() {
			last = b.Last.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", b.VMID, b.Level, b.Name, last, b.Result, b.Reason)
	}
	tw.Flush()
	if z := d.Zones; z != nil {
		fmt.Fprintf(w, "\nzones: %d in the live file, %d change(s) pending  %s %s\n", z.Zones, len(z.Changes), z.Level, z.Reason)
		for _, c := range z.Changes {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	for _, s := range d.Sources {
		if s.Stale {
			fmt.Fprintf(w, "source %s: %s\n", s.Name, s.StaleText())
		}
	}
}

func use(used, total uint64) string {
	if total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f/%.1f GiB", float64(used)/(1<<30), float64(total)/(1<<30))
}

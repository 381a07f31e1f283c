package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/spf13/cobra"

	"github.com/tappaas/tappaas/backends/opnsense"
	cz "github.com/tappaas/tappaas/config/zones"
	labfw "github.com/tappaas/tappaas/lab/opnsense"
	szones "github.com/tappaas/tappaas/steps/zones"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/keys"
	zonesui "github.com/tappaas/tappaas/tui/screens/zones"
	"github.com/tappaas/tappaas/tui/styles"
)

// Exit codes of `tappaas zones`.
const (
	zonesExitInvalid = 1 // the zones file does not validate (or apply failed)
	zonesExitDrift   = 2 // plan found changes
	zonesExitSetup   = 3 // no firewall to talk to
)

type zonesOpts struct {
	file, output                   string
	firewall, keyFile, fingerprint string
	lab                            bool
	labState, labVersion           string
	yes                            bool
	confirmDelete                  []string
	// live are the platform's live zones.json paths (cz.LiveFiles).
	live []string
}

// defaultZonesPath is the file the zones commands and the editor use
// without --file: the platform's live zones.json when this machine has one
// (tappaas-cicd's master copy, else a node's), else ./zones.json.
func defaultZonesPath(live []string) string {
	for _, p := range live {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "zones.json"
}

func newZonesCmd() *cobra.Command {
	o := &zonesOpts{live: cz.LiveFiles}
	cmd := &cobra.Command{
		Use:   "zones",
		Short: "Validate, plan and apply network zones (zones.json) to the OPNsense firewall",
		Long: `Zones are TAPPaaS's network segments: a VLAN with a subnet, DHCP range, DNS domain
and access rules each. These commands read zones.json (--file; default the platform's
live file when this machine has one, ` + cz.CICDFile + ` on tappaas-cicd or ` + cz.NodeFile + `
on a node, else ./zones.json, else the built-in default set), check it, and reconcile the
firewall with it.

Exit codes: 0 ok / no changes, 1 invalid file or failed apply, 2 plan found changes,
3 no firewall configured.`,
	}
	cmd.PersistentFlags().StringVar(&o.file, "file", "", "zones file (default the platform's live zones.json, else ./zones.json, else the built-in default zones)")
	cmd.PersistentFlags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	fwFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&o.firewall, "firewall", "", "OPNsense API base URL, e.g. https://10.0.0.1")
		c.Flags().StringVar(&o.keyFile, "key-file", "", "OPNsense API key file (key=… and secret=… lines, as OPNsense downloads it)")
		c.Flags().StringVar(&o.fingerprint, "fingerprint", "", "SHA-256 fingerprint of the firewall's web GUI certificate (pinned)")
		c.Flags().BoolVar(&o.lab, "lab", false, "use an in-process simulated OPNsense (lab) instead of a real firewall")
		c.Flags().StringVar(&o.labState, "lab-state", "", "with --lab: keep the simulated firewall's state in this file between runs")
		c.Flags().StringVar(&o.labVersion, "lab-version", labfw.DefaultVersion, "with --lab: simulated firmware version (26.1.2, 26.7, 27.1)")
	}
	validate := &cobra.Command{
		Use:   "validate",
		Short: "Check the zones file; errors name zone and field",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return o.validate(c) },
	}
	plan := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change on the firewall (exit 2 when there is drift)",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return o.plan(c, false) },
	}
	fwFlags(plan)
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Apply the zones to the firewall (savepoint, confirm after the API answers)",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return o.plan(c, true) },
	}
	fwFlags(apply)
	apply.Flags().BoolVarP(&o.yes, "yes", "y", false, "apply without asking")
	apply.Flags().StringSliceVar(&o.confirmDelete, "confirm-delete", nil, "zones whose objects a plan may delete when it deletes most of what the firewall holds (comma-separated)")
	edit := &cobra.Command{
		Use:   "edit",
		Short: "Edit zones.json in the full-screen zone editor (plan/apply need firewall flags or --lab)",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return o.edit(c) },
	}
	fwFlags(edit)
	cmd.AddCommand(validate, plan, apply, edit)
	return cmd
}

func (o *zonesOpts) json() (bool, error) {
	switch o.output {
	case "text", "":
		return false, nil
	case "json":
		return true, nil
	}
	return false, exitCode(zonesExitInvalid, fmt.Errorf("--output %q: expected text or json", o.output))
}

// load reads --file, the live file, ./zones.json or the embedded default,
// and validates it.
func (o *zonesOpts) load() (*cz.File, string, cz.Report, error) {
	path := o.file
	if path == "" {
		if p := defaultZonesPath(o.live); fileExists(p) {
			path = p
		}
	}
	var f *cz.File
	var err error
	src := path
	if path == "" {
		src = "built-in default zones"
		f, err = cz.Default()
	} else {
		f, err = cz.LoadFile(path)
	}
	if err != nil {
		return nil, src, cz.Report{}, exitCode(zonesExitInvalid, err)
	}
	return f, src, f.Validate(), nil
}

func printReport(w io.Writer, src string, r cz.Report) {
	for _, i := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", i)
	}
	for _, i := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", i)
	}
	if r.OK() {
		fmt.Fprintf(w, "%s: valid (%d warning(s))\n", src, len(r.Warnings))
	} else {
		fmt.Fprintf(w, "%s: %d error(s), %d warning(s)\n", src, len(r.Errors), len(r.Warnings))
	}
}

func (o *zonesOpts) validate(c *cobra.Command) error {
	asJSON, err := o.json()
	if err != nil {
		return err
	}
	f, src, r, err := o.load()
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	if asJSON {
		if r.Errors == nil {
			r.Errors = []cz.Issue{}
		}
		if r.Warnings == nil {
			r.Warnings = []cz.Issue{}
		}
		b, _ := cz.MarshalJSON(struct {
			File  string `json:"file"`
			OK    bool   `json:"ok"`
			Zones int    `json:"zones"`
			cz.Report
		}{src, r.OK(), len(f.Zones), r})
		fmt.Fprintln(out, string(b))
	} else {
		printReport(out, src, r)
	}
	if !r.OK() {
		return exitCode(zonesExitInvalid, fmt.Errorf("%s is not valid", src))
	}
	return nil
}

func (o *zonesOpts) plan(c *cobra.Command, apply bool) error {
	asJSON, err := o.json()
	if err != nil {
		return err
	}
	f, src, r, err := o.load()
	if err != nil {
		return err
	}
	out, errOut := c.OutOrStdout(), c.ErrOrStderr()
	if !r.OK() {
		printReport(errOut, src, r)
		return exitCode(zonesExitInvalid, fmt.Errorf("%s is not valid: fix the errors above first", src))
	}
	ctx := c.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	// Ctrl-C stops between changes; filter changes already made are
	// reverted to the savepoint (or rolled back by the firewall itself).
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fw, closeFW, err := o.connect(ctx)
	if err != nil {
		return err
	}
	defer closeFW()
	cur, err := cz.Snapshot(ctx, fw)
	if err != nil {
		return exitCode(zonesExitInvalid, fmt.Errorf("read the firewall: %w", err))
	}
	ch := cz.Plan(f, cur)
	if !apply {
		if asJSON {
			b, err := ch.JSON()
			if err != nil {
				return err
			}
			fmt.Fprintln(out, string(b))
		} else {
			fmt.Fprint(out, ch.Text())
		}
		if !ch.Empty() {
			return exitCode(zonesExitDrift, errors.New("the firewall differs from the zones (see the plan above)"))
		}
		return nil
	}
	if ch.Empty() {
		if asJSON {
			fmt.Fprintln(out, `{"applied": 0, "log": []}`)
		} else {
			fmt.Fprint(out, ch.Text())
		}
		return nil
	}
	if !asJSON {
		fmt.Fprint(out, ch.Text())
	}
	if err := ch.Guard(o.confirmDelete); err != nil {
		return exitCode(zonesExitInvalid, err)
	}
	if !o.yes {
		if asJSON {
			return exitCode(zonesExitInvalid, errors.New("--output json needs --yes to apply"))
		}
		fmt.Fprint(out, "Apply these changes? [y/N] ")
		line, _ := bufio.NewReader(c.InOrStdin()).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return exitCode(zonesExitInvalid, errors.New("not applied"))
		}
	}
	var log []string
	aerr := cz.Apply(ctx, fw, ch, func(s string) {
		log = append(log, s)
		if !asJSON {
			fmt.Fprintln(out, s)
		}
	})
	if aerr == nil {
		// A re-assigned interface moves its rules in a second round.
		if cur, err := cz.Snapshot(ctx, fw); err == nil {
			if again := cz.Plan(f, cur); !again.Empty() {
				aerr = cz.Apply(ctx, fw, again, func(s string) { log = append(log, s) })
			}
		}
	}
	if asJSON {
		if log == nil {
			log = []string{}
		}
		b, _ := cz.MarshalJSON(map[string]any{"applied": len(ch.Changes), "log": log, "error": errString(aerr)})
		fmt.Fprintln(out, string(b))
	}
	if aerr != nil {
		return exitCode(zonesExitInvalid, fmt.Errorf("apply: %w", aerr))
	}
	if !asJSON {
		fmt.Fprintln(out, "Applied.")
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// edit runs the zone editor screen on its own. It edits --file (default
// the live file, else ./zones.json, created from the default set on save
// when absent).
func (o *zonesOpts) edit(c *cobra.Command) error {
	path := o.file
	if path == "" {
		path = defaultZonesPath(o.live)
	}
	f, err := cz.LoadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if f, err = cz.Default(); err != nil {
			return err
		}
	case err != nil:
		return exitCode(zonesExitInvalid, err)
	}
	ctx := c.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	deps := zonesui.Deps{Path: path}
	if o.lab || o.firewall != "" {
		fw, closeFW, err := o.connect(ctx)
		if err != nil {
			return err
		}
		defer closeFW()
		deps.Plan = func(ctx context.Context, f *cz.File) (*cz.Changes, error) {
			cur, err := cz.Snapshot(ctx, fw)
			if err != nil {
				return nil, err
			}
			return cz.Plan(f, cur), nil
		}
		deps.Apply = func(ctx context.Context, ch *cz.Changes, out func(string)) error {
			if err := ch.Guard(nil); err != nil {
				return err
			}
			return cz.Apply(ctx, fw, ch, out)
		}
	}
	profile := colorprofile.Detect(os.Stdout, os.Environ())
	com := common.New(styles.ForProfile(profile), keys.Default(), nil)
	host := &zonesHost{com: com, s: zonesui.New(com, f, deps), help: help.New()}
	_, err = tea.NewProgram(host, tea.WithContext(ctx), tea.WithInput(c.InOrStdin()), tea.WithOutput(c.OutOrStdout()), tea.WithColorProfile(profile)).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// zonesHost runs the zone editor screen full-screen with a header and the
// screen's key help; esc on the table (the screen's "home") or ctrl+c quits.
type zonesHost struct {
	com  *common.Common
	s    common.Screen
	help help.Model
	w, h int
}

func (z *zonesHost) Init() tea.Cmd { return z.s.Init() }

func (z *zonesHost) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		z.w, z.h = msg.Width, msg.Height
		z.help.SetWidth(msg.Width)
		z.s.SetSize(msg.Width, max(msg.Height-3, 5))
		return z, nil
	case tea.KeyPressMsg:
		if msg.String() == "ctrl+c" {
			return z, tea.Quit
		}
	case common.GoHomeMsg:
		return z, tea.Quit
	}
	var cmd tea.Cmd
	z.s, cmd = z.s.Update(msg)
	return z, cmd
}

func (z *zonesHost) View() tea.View {
	st := z.com.Styles
	body := z.s.View()
	lines := strings.Count(body, "\n")
	pad := ""
	if n := z.h - 3 - lines; n > 0 {
		pad = strings.Repeat("\n", n)
	}
	v := tea.NewView(st.Title.Render("tappaas · "+z.s.Title()) + "\n\n" + body + pad + z.help.View(z.s))
	v.AltScreen = true
	return v
}

// connect returns the firewall from the flags: a real OPNsense (pinned
// TLS, key file) or, with --lab, a simulated one served on 127.0.0.1.
func (o *zonesOpts) connect(ctx context.Context) (cz.Firewall, func(), error) {
	if o.lab {
		return o.connectLab()
	}
	if o.firewall == "" || o.keyFile == "" || o.fingerprint == "" {
		return nil, nil, exitCode(zonesExitSetup, errors.New("plan and apply need a firewall: give --firewall URL --key-file FILE --fingerprint SHA256, or --lab"))
	}
	key, secret, err := readKeyFile(o.keyFile)
	if err != nil {
		return nil, nil, exitCode(zonesExitSetup, err)
	}
	c, err := opnsense.New(opnsense.Config{BaseURL: o.firewall, Key: key, Secret: secret, Fingerprint: o.fingerprint})
	if err != nil {
		return nil, nil, exitCode(zonesExitSetup, err)
	}
	return szones.FromOPNsense(c), func() { c.Close() }, nil
}

// readKeyFile parses OPNsense's API key download: key=… and secret=… lines.
func readKeyFile(path string) (key, secret string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("read key file: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "key":
			key = strings.TrimSpace(v)
		case "secret":
			secret = strings.TrimSpace(v)
		}
	}
	if key == "" || secret == "" {
		return "", "", fmt.Errorf("key file %s: expected lines key=… and secret=…", path)
	}
	return key, secret, nil
}

// connectLab serves a simulated OPNsense on 127.0.0.1 and connects to it
// through the normal pinned client.
func (o *zonesOpts) connectLab() (cz.Firewall, func(), error) {
	sim := labfw.NewServer(labfw.Options{Version: o.labVersion})
	if o.labState != "" {
		if data, err := os.ReadFile(o.labState); err == nil {
			if err := sim.Restore(data); err != nil {
				return nil, nil, exitCode(zonesExitSetup, fmt.Errorf("--lab-state %s: %w", o.labState, err))
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, nil, exitCode(zonesExitSetup, err)
		}
	}
	cert, _, fp, err := labfw.NewCert("127.0.0.1")
	if err != nil {
		return nil, nil, exitCode(zonesExitSetup, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, exitCode(zonesExitSetup, err)
	}
	srv := &http.Server{Handler: sim.Handler(), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, "", "")
	c, err := opnsense.New(opnsense.Config{BaseURL: "https://" + ln.Addr().String(), Key: labfw.BootstrapKey, Secret: labfw.BootstrapSecret, Fingerprint: fp})
	if err != nil {
		srv.Close()
		return nil, nil, exitCode(zonesExitSetup, err)
	}
	closeFn := func() {
		c.Close()
		srv.Close()
		if o.labState != "" {
			if data, err := sim.Snapshot(); err == nil {
				_ = writeFileAtomic(o.labState, data, 0o600)
			}
		}
	}
	return szones.FromOPNsense(c), closeFn, nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

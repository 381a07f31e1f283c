package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/charmbracelet/x/ansi"
	"github.com/spf13/cobra"

	"github.com/tappaas/tappaas/assets"
	"github.com/tappaas/tappaas/config/modules"
	cz "github.com/tappaas/tappaas/config/zones"
)

// Exit codes of `tappaas module` (3: a subcommand not built yet).
const moduleExitInvalid = 1 // a file does not validate, or no such module

// installedZones is where upstream keeps the live zones file; check_json
// checks zone0/zone1 against it (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/common-install-routines.sh:943).
const installedZones = "/home/tappaas/config/zones.json"

type moduleOpts struct {
	output, zones, repo string
	nodes               []string
}

func newModuleCmd() *cobra.Command {
	o := &moduleOpts{}
	cmd := &cobra.Command{
		Use:   "module",
		Short: "TAPPaaS modules: validate module JSONs, browse the catalog (add/update/remove not built yet)",
		Long: `Modules are what TAPPaaS runs on the platform (Identity, VaultWarden, Nextcloud, …), each
described by a module JSON and listed in the module catalog. The catalog is read from a
TAPPaaS checkout (--repo) or the copy built into tappaas.

Exit codes: 0 ok, 1 invalid file or unknown module, 3 a subcommand not built yet.`,
	}
	cmd.PersistentFlags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	cmd.PersistentFlags().StringVar(&o.zones, "zones", "", "zones.json to check zone0/zone1 against (default "+installedZones+" when present)")
	cmd.PersistentFlags().StringVar(&o.repo, "repo", "", "a TAPPaaS checkout to read the catalog and field table from (default: the built-in copy)")
	validate := &cobra.Command{
		Use:   "validate FILE|DIR…",
		Short: "Check module JSONs (and module directories, pinhole.json, module-catalog.json) as upstream does, plus types",
		Long: `Checks each file the way TAPPaaS's check_json does — the same errors and warnings —
plus the types check_json does not look at. Findings name the file, the key path and a fix.
A module directory (src/apps/litellm) is checked as install-module.sh checks it: its
<dir>.json, and install-service.sh/update-service.sh for every service it provides.
zone0/zone1 are checked against --zones, else ` + installedZones + ` when present
(without either, zones are not checked, as in check_json).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return o.validate(c, args) },
	}
	validate.Flags().StringSliceVar(&o.nodes, "nodes", nil, "the cluster's node hostnames, first = default node (checks HANode)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the modules of the catalog",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return o.list(c) },
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a catalog module: description, VMID, zone, resources, dependencies",
		Args:  cobra.ExactArgs(1),
		RunE:  func(c *cobra.Command, args []string) error { return o.show(c, args[0]) },
	}
	cmd.AddCommand(validate, list, show)
	for _, name := range []string{"add", "update", "remove"} {
		cmd.AddCommand(&cobra.Command{
			Use:                name + " NAME",
			Short:              name + " a module (not built yet)",
			DisableFlagParsing: true,
			RunE:               func(*cobra.Command, []string) error { return errNotBuilt("tappaas module " + name) },
		})
	}
	return cmd
}

func (o *moduleOpts) json() (bool, error) {
	switch o.output {
	case "text", "":
		return false, nil
	case "json":
		return true, nil
	}
	return false, exitCode(moduleExitInvalid, fmt.Errorf("--output %q: expected text or json", o.output))
}

// source is the TAPPaaS tree the catalog and field table come from.
func (o *moduleOpts) source() (fs.FS, string) {
	if o.repo != "" {
		return os.DirFS(o.repo), o.repo
	}
	return assets.Upstream(), "built-in TAPPaaS@f54e4fc"
}

func (o *moduleOpts) schema(fsys fs.FS) (*modules.Schema, error) {
	data, err := fs.ReadFile(fsys, assets.ModuleFieldsPath)
	if err != nil {
		return nil, exitCode(moduleExitInvalid, fmt.Errorf("read the module field table: %w", err))
	}
	s, err := modules.ParseSchema(data)
	if err != nil {
		return nil, exitCode(moduleExitInvalid, err)
	}
	return s, nil
}

func (o *moduleOpts) loadZones() (*cz.File, string, error) {
	path := o.zones
	if path == "" {
		if _, err := os.Stat(installedZones); err == nil {
			path = installedZones
		}
	}
	if path == "" {
		// Upstream's check_json skips the zone check without a zones file
		// (common-install-routines.sh:944); so do we.
		return nil, "", nil
	}
	f, err := cz.LoadFile(path)
	if err != nil {
		return nil, path, exitCode(moduleExitInvalid, err)
	}
	return f, path, nil
}

type fileResult struct {
	File     string            `json:"file"`
	Kind     string            `json:"kind"` // module, pinhole, catalog
	OK       bool              `json:"ok"`
	Errors   int               `json:"errors"`
	Warnings int               `json:"warnings"`
	Findings []modules.Finding `json:"findings"`
}

func (o *moduleOpts) validate(c *cobra.Command, files []string) error {
	asJSON, err := o.json()
	if err != nil {
		return err
	}
	fsys, _ := o.source()
	s, err := o.schema(fsys)
	if err != nil {
		return err
	}
	zf, zsrc, err := o.loadZones()
	if err != nil {
		return err
	}
	opts := modules.Options{Schema: s, Zones: zf, ZonesFile: zsrc, Nodes: o.nodes}
	var results []fileResult
	allOK := true
	for _, p := range files {
		res := validateOne(p, opts)
		for _, f := range res.Findings {
			if f.Severity == modules.SevError {
				res.Errors++
			} else {
				res.Warnings++
			}
		}
		res.OK = res.Errors == 0
		allOK = allOK && res.OK
		if res.Findings == nil {
			res.Findings = []modules.Finding{}
		}
		results = append(results, res)
	}
	out := c.OutOrStdout()
	if asJSON {
		b, _ := json.MarshalIndent(struct {
			OK    bool         `json:"ok"`
			Zones string       `json:"zones"` // "" when zones were not checked
			Files []fileResult `json:"files"`
		}{allOK, zsrc, results}, "", "  ")
		fmt.Fprintln(out, string(b))
	} else {
		if zf == nil {
			fmt.Fprintf(out, "note: zone0/zone1 not checked: no --zones and no %s\n", installedZones)
		}
		for _, r := range results {
			for _, f := range r.Findings {
				fmt.Fprintf(out, "%s: %s\n", f.Severity, f)
			}
			verdict := "valid"
			if !r.OK {
				verdict = "invalid"
			}
			fmt.Fprintf(out, "%s: %s %s (%d error(s), %d warning(s))\n", r.File, verdict, r.Kind, r.Errors, r.Warnings)
		}
	}
	if !allOK {
		return exitCode(moduleExitInvalid, errors.New("validation failed"))
	}
	return nil
}

// validateOne validates a module directory, a module JSON, a pinhole.json or
// a module-catalog.json.
func validateOne(p string, o modules.Options) fileResult {
	res := fileResult{File: p, Kind: "module"}
	fail := func(err error) fileResult {
		res.Findings = append(res.Findings, modules.Finding{File: p, Severity: modules.SevError, Message: err.Error(),
			Fix: "give a readable JSON file", Rule: "check_json:syntax"})
		return res
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fail(err)
		}
		res.Kind = "module directory"
		_, r := modules.ValidateDir(os.DirFS(p), filepath.ToSlash(p), filepath.Base(abs), o)
		res.Findings = r.Findings
		return res
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return fail(err)
	}
	switch filepath.Base(p) {
	case "pinhole.json":
		res.Kind = "pinhole"
		_, r, err := modules.ParsePinhole(o.Schema, p, data)
		if err != nil {
			return fail(err)
		}
		res.Findings = r.Findings
	case "module-catalog.json":
		res.Kind = "catalog"
		c, err := modules.ParseCatalog(p, data)
		if err != nil {
			return fail(err)
		}
		// moduleJson paths are relative to the repository: src/module-catalog.json.
		var root fs.FS
		if dir := filepath.Dir(p); filepath.Base(dir) == "src" {
			root = os.DirFS(filepath.Dir(dir))
		}
		res.Findings = c.Validate(root).Findings
	default:
		f, err := modules.Parse(p, data)
		if err != nil {
			return fail(err)
		}
		res.Findings = f.Validate(o).Findings
	}
	return res
}

func (o *moduleOpts) catalog() (*modules.Catalog, fs.FS, string, error) {
	fsys, src := o.source()
	c, err := modules.LoadCatalogFS(fsys, assets.CatalogPath)
	if err != nil {
		return nil, nil, src, exitCode(moduleExitInvalid, fmt.Errorf("%s: %w", src, err))
	}
	return c, fsys, src, nil
}

type listEntry struct {
	Name        string `json:"name"`
	List        string `json:"list"`
	Stack       string `json:"stack,omitempty"`
	Category    string `json:"category,omitempty"`
	Status      string `json:"status,omitempty"`
	VMID        int    `json:"vmid"`
	Version     string `json:"version,omitempty"`
	Description string `json:"description,omitempty"`
	ModuleJSON  string `json:"moduleJson"`
	Missing     bool   `json:"missing,omitempty"` // the module JSON is not in the source
}

func (o *moduleOpts) list(c *cobra.Command) error {
	asJSON, err := o.json()
	if err != nil {
		return err
	}
	cat, fsys, src, err := o.catalog()
	if err != nil {
		return err
	}
	var rows []listEntry
	for _, e := range cat.Entries {
		r := listEntry{Name: e.ModuleName, List: e.List, Stack: e.Stack, Category: e.Category, Status: e.Status, VMID: e.VMID, ModuleJSON: e.ModuleJSON}
		if f, err := modules.LoadFS(fsys, e.ModuleJSON); err == nil {
			m := f.Module()
			r.Version, r.Description = m.Version, m.Description
		} else {
			r.Missing = true
		}
		rows = append(rows, r)
	}
	out := c.OutOrStdout()
	if asJSON {
		b, _ := json.MarshalIndent(struct {
			Source  string      `json:"source"`
			Modules []listEntry `json:"modules"`
		}{src, rows}, "", "  ")
		fmt.Fprintln(out, string(b))
		return nil
	}
	fmt.Fprintf(out, "Catalog: %s (%s)\n\n", src, assets.CatalogPath)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSTACK\tVMID\tSTATUS\tVERSION\tDESCRIPTION")
	for _, r := range rows {
		kind := strings.TrimSuffix(strings.TrimSuffix(r.List, "Modules"), "Templates")
		if r.List == modules.ListTemplates {
			kind = "template"
		}
		vmid := "-"
		if r.VMID != 0 {
			vmid = fmt.Sprint(r.VMID)
		}
		desc := r.Description
		if r.Missing {
			desc = "(module JSON " + r.ModuleJSON + " not found)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, kind, dash(r.Stack), vmid, dash(r.Status), dash(r.Version), ansi.Truncate(desc, 60, "…"))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (o *moduleOpts) show(c *cobra.Command, name string) error {
	asJSON, err := o.json()
	if err != nil {
		return err
	}
	cat, fsys, src, err := o.catalog()
	if err != nil {
		return err
	}
	e, ok := cat.Entry(name)
	if !ok {
		return exitCode(moduleExitInvalid, fmt.Errorf("no module %q in the catalog (%s); `tappaas module list` shows them", name, src))
	}
	f, err := modules.LoadFS(fsys, e.ModuleJSON)
	if err != nil {
		return exitCode(moduleExitInvalid, fmt.Errorf("module %s: %w", name, err))
	}
	s, err := o.schema(fsys)
	if err != nil {
		return err
	}
	zf, zsrc, err := o.loadZones()
	if err != nil {
		return err
	}
	m := f.Module()
	rep := f.Validate(modules.Options{Schema: s, Zones: zf, ZonesFile: zsrc})
	// Pinholes of the services the module provides (services/<svc>/pinhole.json).
	pinholes := map[string][]modules.PinholePort{}
	for _, svc := range m.Provides {
		p := filepath.ToSlash(filepath.Join(filepath.Dir(e.ModuleJSON), "services", svc, "pinhole.json"))
		if data, err := fs.ReadFile(fsys, p); err == nil {
			if ph, _, err := modules.ParsePinhole(s, p, data); err == nil {
				pinholes[svc] = ph.Ports
			}
		}
	}
	out := c.OutOrStdout()
	if asJSON {
		if rep.Findings == nil {
			rep.Findings = []modules.Finding{}
		}
		b, _ := json.MarshalIndent(struct {
			Entry    listEntry                        `json:"catalog"`
			PatternA bool                             `json:"patternA"`
			Module   modules.Module                   `json:"module"`
			Pinholes map[string][]modules.PinholePort `json:"pinholes"`
			OK       bool                             `json:"ok"`
			Findings []modules.Finding                `json:"findings"`
		}{listEntry{Name: e.ModuleName, List: e.List, Stack: e.Stack, Category: e.Category, Status: e.Status, VMID: e.VMID,
			Version: m.Version, Description: m.Description, ModuleJSON: e.ModuleJSON}, f.PatternA(), m, pinholes, rep.OK(), rep.Findings}, "", "  ")
		fmt.Fprintln(out, string(b))
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", k, v)
		}
	}
	fmt.Fprintf(tw, "%s\n", m.VMName)
	row("description", m.Description)
	row("catalog", strings.Join(nonEmpty(e.List, e.Stack, e.Category, e.Status), ", "))
	row("version", strings.Join(nonEmpty(m.Version, m.AppVersion), ", app "))
	row("maintainer", m.Maintainer)
	row("status", m.Status)
	form := "flat"
	if f.PatternA() {
		form = "Pattern A"
	}
	row("module JSON", e.ModuleJSON+" ("+form+")")
	if m.VMID != 0 {
		v := fmt.Sprint(m.VMID)
		if r, ok := cat.Range(m.VMID); ok {
			v += fmt.Sprintf(" (%d-%d: %s)", r.Low, r.High, r.Purpose)
		}
		row("VMID", v)
	}
	if g := m.Guest(); g != "" {
		row("guest", fmt.Sprintf("%s: %s cores, %s MB memory, %s disk, image %s %s", g,
			orDefault(m.Cores, s, "cores"), orDefault(m.Memory, s, "memory"), strOrDefault(m.DiskSize, s, "diskSize"),
			strOrDefault(m.ImageType, s, "imageType"), m.Image))
	}
	zone := m.Zone0
	if zone == "" && m.Guest() != "" {
		zone = "mgmt (default)"
	}
	if zf == nil {
		zone += " (zones not checked: give --zones)"
	} else if z := zf.Zone(m.Zone0); z != nil {
		zone += fmt.Sprintf(" (%s, %s, %s)", z.IP, z.State, zsrc)
	}
	row("zone", zone)
	if m.ProxyDomain != "" || m.Has(modules.Dependency{Provider: "firewall", Service: "proxy"}) {
		port := orDefault(m.ProxyPort, s, "proxyPort")
		row("proxy", strings.TrimSpace(m.ProxyDomain+" → port "+port))
	}
	var deps []string
	for _, d := range m.DependsOn {
		deps = append(deps, d.String())
	}
	row("depends on", strings.Join(deps, ", "))
	var prov []string
	for _, svc := range m.Provides {
		p := svc
		for _, pp := range pinholes[svc] {
			p += fmt.Sprintf(" [pinhole %s %s]", pp.Protocol, pp.Port)
		}
		prov = append(prov, p)
	}
	row("provides", strings.Join(prov, ", "))
	v := fmt.Sprintf("valid (%d warning(s))", len(rep.Warnings()))
	if !rep.OK() {
		v = fmt.Sprintf("invalid (%d error(s), %d warning(s))", len(rep.Errors()), len(rep.Warnings()))
	}
	row("validation", v)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, fd := range rep.Findings {
		fmt.Fprintf(out, "  %s: %s\n", fd.Severity, fd)
	}
	return nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// orDefault renders an integer field, or the schema default marked as such.
func orDefault(v int, s *modules.Schema, field string) string {
	if v != 0 {
		return fmt.Sprint(v)
	}
	return strOrDefault("", s, field)
}

func strOrDefault(v string, s *modules.Schema, field string) string {
	if v != "" {
		return v
	}
	if fd := s.Fields[field]; fd != nil && fd.Default != nil {
		return fd.Default.Text() + " (default)"
	}
	return "?"
}

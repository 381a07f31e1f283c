package modules

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// Catalog is a repository's module registry, src/module-catalog.json, with
// the schema of src/foundation/module-catalog-fields.json.
type Catalog struct {
	Path        string
	Description string
	Conventions VMIDConventions
	// Entries of the four lists in file order: foundationModules,
	// applicationModules, proxmoxTemplates, testModules.
	Entries []Entry
}

// VMIDConventions is the catalog's "vmidConventions" block.
type VMIDConventions struct {
	Summary        string
	Ranges         []VMIDRange
	AllocationRule string
}

// VMIDRange is one "low-high": purpose entry of vmidConventions.ranges.
type VMIDRange struct {
	Low, High int
	Purpose   string
}

// Catalog lists (module-catalog-fields.json "properties").
const (
	ListFoundation  = "foundationModules"
	ListApplication = "applicationModules"
	ListTemplates   = "proxmoxTemplates"
	ListTests       = "testModules"
)

// Entry is one catalog entry.
type Entry struct {
	List       string // which of the four lists holds it
	ModuleName string
	Repo       string
	ModuleJSON string // repository-relative path of the module JSON
	VMID       int    // 0: no VM of its own (the schema allows 0 or null)
	Stack      string
	Category   string
	Status     string
	path       Path
	keys       []string // as written, for additionalProperties: false
}

// Catalog schema facts (TAPPaaS@f54e4fc:src/foundation/module-catalog-fields.json).
var (
	catalogName   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*$`)
	catalogCat    = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	catalogRepos  = []string{"foundation", "application", "community"}
	catalogStacks = []string{"foundation", "security", "productivity", "ai", "home-automation",
		"infrastructure", "storage", "entertainment", "development", "application"}
	catalogStatus = []string{"stable", "beta", "incomplete", "deprecated"}
	// catalogEntry / simpleEntry "properties" (additionalProperties: false).
	entryProps  = []string{"moduleName", "repo", "moduleJson", "vmid", "stack", "category", "status"}
	simpleProps = []string{"moduleName", "repo", "moduleJson", "vmid"}
)

// ErrCatalog wraps ParseCatalog's errors.
var ErrCatalog = errors.New("not a module catalog")

// ParseCatalog reads a module-catalog.json. It fails only when the document
// cannot serve as a catalog (not an object, a list or entry of the wrong
// shape, an entry without moduleName or with a non-integer vmid); schema
// deviations are warnings of Validate.
func ParseCatalog(name string, data []byte) (*Catalog, error) {
	root, err := jsonnode.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: invalid JSON: %v", name, ErrCatalog, err)
	}
	if root.Kind != jsonnode.Object {
		return nil, fmt.Errorf("%s: %w: the top-level value is %s, expected an object", name, ErrCatalog, root.Kind)
	}
	c := &Catalog{Path: name}
	if d, ok := root.Get("description"); ok {
		c.Description = d.Text()
	}
	if vc, ok := root.Get("vmidConventions"); ok && vc.Kind == jsonnode.Object {
		if s, ok := vc.Get("summary"); ok {
			c.Conventions.Summary = s.Text()
		}
		if s, ok := vc.Get("allocationRule"); ok {
			c.Conventions.AllocationRule = s.Text()
		}
		if r, ok := vc.Get("ranges"); ok && r.Kind == jsonnode.Object {
			for i, k := range r.Keys {
				lo, hi, ok := strings.Cut(k, "-")
				l, e1 := strconv.Atoi(lo)
				h, e2 := strconv.Atoi(hi)
				if !ok || e1 != nil || e2 != nil || l > h {
					return nil, fmt.Errorf("%s: %w: .vmidConventions.ranges: %q is not a range \"low-high\"", name, ErrCatalog, k)
				}
				c.Conventions.Ranges = append(c.Conventions.Ranges, VMIDRange{Low: l, High: h, Purpose: r.Vals[i].Text()})
			}
		}
	}
	for _, list := range []string{ListFoundation, ListApplication, ListTemplates, ListTests} {
		arr, ok := root.Get(list)
		if !ok {
			if list == ListFoundation || list == ListApplication {
				return nil, fmt.Errorf("%s: %w: .%s is missing (required by module-catalog-fields.json)", name, ErrCatalog, list)
			}
			continue
		}
		if arr.Kind != jsonnode.Array {
			return nil, fmt.Errorf("%s: %w: .%s is %s, expected an array", name, ErrCatalog, list, arr.Kind)
		}
		for i, en := range arr.Elems {
			p := Path{list, i}
			if en.Kind != jsonnode.Object {
				return nil, fmt.Errorf("%s: %w: %s is %s, expected an object", name, ErrCatalog, p, en.Kind)
			}
			e := Entry{List: list, path: p, keys: en.Keys}
			for j, k := range en.Keys {
				v := en.Vals[j]
				switch k {
				case "vmid":
					switch {
					case v.Kind == jsonnode.Null:
					case v.Kind == jsonnode.Number && intRE.MatchString(v.Lit):
						e.VMID, _ = strconv.Atoi(v.Lit)
					default:
						return nil, fmt.Errorf("%s: %w: %s.vmid is %s, expected an integer or null", name, ErrCatalog, p, v.Text())
					}
				case "moduleName", "repo", "moduleJson", "stack", "category", "status":
					if v.Kind != jsonnode.String {
						return nil, fmt.Errorf("%s: %w: %s.%s is %s, expected a string", name, ErrCatalog, p, k, v.Kind)
					}
					*map[string]*string{"moduleName": &e.ModuleName, "repo": &e.Repo, "moduleJson": &e.ModuleJSON,
						"stack": &e.Stack, "category": &e.Category, "status": &e.Status}[k] = v.Str
				}
			}
			if e.ModuleName == "" {
				return nil, fmt.Errorf("%s: %w: %s has no moduleName", name, ErrCatalog, p)
			}
			c.Entries = append(c.Entries, e)
		}
	}
	return c, nil
}

// LoadCatalogFS reads a catalog from fsys.
func LoadCatalogFS(fsys fs.FS, p string) (*Catalog, error) {
	data, err := readLimited(fsys.Open(p))
	if err != nil {
		return nil, fmt.Errorf("read catalog %s: %w", p, err)
	}
	return ParseCatalog(p, data)
}

// Entry returns the named module's entry, preferring foundation and
// application entries (upstream lists "template" twice, as a Proxmox
// template and as a test module).
func (c *Catalog) Entry(name string) (Entry, bool) {
	for _, e := range c.Entries {
		if e.ModuleName == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Range returns the vmidConventions range a VMID falls in.
func (c *Catalog) Range(vmid int) (VMIDRange, bool) {
	for _, r := range c.Conventions.Ranges {
		if vmid >= r.Low && vmid <= r.High {
			return r, true
		}
	}
	return VMIDRange{}, false
}

// listRange is the VMID range each list's entries belong in
// (TAPPaaS@f54e4fc:.claude/commands/tappaas-verify-module-ids.md, step 3.4).
var listRange = map[string][2]int{
	ListFoundation:  {100, 200},
	ListApplication: {201, 899},
	ListTemplates:   {8000, 9000},
	ListTests:       {900, 999},
}

// Validate checks the catalog against module-catalog-fields.json and the
// consistency checks of upstream's verify-module-ids command: the module
// JSON exists in fsys (the repository root; nil skips file checks), its
// vmname and vmid match the entry, the VMID is in its list's range and
// unique. All are warnings: upstream's tools warn and go on
// (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/repository.sh).
func (c *Catalog) Validate(fsys fs.FS) Report {
	v := &validator{file: c.Path}
	w := func(rule string, p Path, fix, format string, args ...any) {
		v.find(SevWarning, "catalog:"+rule, p, fix, format, args...)
	}
	byVMID := map[int]string{}
	for _, e := range c.Entries {
		full := e.List == ListFoundation || e.List == ListApplication
		props := simpleProps
		if full {
			props = entryProps
		}
		for _, k := range e.keys {
			if !slices.Contains(props, k) {
				w("property", e.path.with(k), "remove it; entries hold "+strings.Join(props, ", "), "%s is not a catalog entry property (additionalProperties: false)", k)
			}
		}
		if full {
			for _, k := range []string{"vmid", "moduleJson", "stack", "category", "status"} {
				if !slices.Contains(e.keys, k) {
					w("required", e.path.with(k), "add it", "%s is required in %s entries", k, e.List)
				}
			}
		}
		if !catalogName.MatchString(e.ModuleName) {
			w("pattern", e.path.with("moduleName"), "use letters, digits and '-', starting with a letter", "moduleName %q does not match %s", e.ModuleName, catalogName)
		}
		if e.Repo != "" && !slices.Contains(catalogRepos, e.Repo) {
			w("enum", e.path.with("repo"), "use one of: "+strings.Join(catalogRepos, ", "), "repo %q is not allowed", e.Repo)
		}
		if full {
			has := func(k string) bool { return slices.Contains(e.keys, k) }
			if has("stack") && !slices.Contains(catalogStacks, e.Stack) {
				w("enum", e.path.with("stack"), "use one of: "+strings.Join(catalogStacks, ", "), "stack %q is not one of module-catalog-fields.json's stacks", e.Stack)
			}
			if has("category") && !catalogCat.MatchString(e.Category) {
				w("pattern", e.path.with("category"), "use lower-case letters, digits and '-'", "category %q does not match %s", e.Category, catalogCat)
			}
			if has("status") && !slices.Contains(catalogStatus, e.Status) {
				w("enum", e.path.with("status"), "use one of: "+strings.Join(catalogStatus, ", "), "status %q is not allowed", e.Status)
			}
		}
		if r := listRange[e.List]; e.VMID != 0 && (e.VMID < r[0] || e.VMID > r[1]) {
			w("range", e.path.with("vmid"), fmt.Sprintf("use a VMID from %d to %d for %s", r[0], r[1], e.List), "vmid %d is outside %s's range", e.VMID, e.List)
		}
		if e.VMID != 0 {
			if other, ok := byVMID[e.VMID]; ok && other != e.ModuleName {
				w("duplicate-vmid", e.path.with("vmid"), "give each module its own VMID", "vmid %d is also %s's", e.VMID, other)
			}
			byVMID[e.VMID] = e.ModuleName
		}
		if fsys == nil || e.List == ListTemplates {
			continue // templates are not module JSONs (verify-module-ids step 3)
		}
		f, err := LoadFS(fsys, e.ModuleJSON)
		if err != nil {
			w("module-json", e.path.with("moduleJson"), "fix the path or add the module", "%s cannot be read: %v", e.ModuleJSON, unwrapPath(err))
			continue
		}
		m := f.Module()
		if m.VMName != e.ModuleName {
			w("name", e.path.with("moduleName"), "make moduleName the module's vmname", "moduleName %q but %s has vmname %q", e.ModuleName, e.ModuleJSON, m.VMName)
		}
		if m.VMID != e.VMID {
			w("vmid", e.path.with("vmid"), "make the catalog's vmid the module's", "vmid %d but %s has vmid %d", e.VMID, e.ModuleJSON, m.VMID)
		}
	}
	return v.r
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

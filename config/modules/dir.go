package modules

import (
	"errors"
	"io/fs"
	"path"
)

// ValidateDir checks a module directory the way install-module.sh does
// before it runs anything: the module JSON <name>.json validates (Validate),
// and every service the module provides has services/<svc>/ with
// install-service.sh and update-service.sh (validate_provided_services,
// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/common-install-routines.sh:443-476;
// install-module.sh:246-248 aborts on them). A pinhole.json of a provided
// service is validated too. Upstream makes the scripts executable itself
// (ensure_scripts_executable, install-module.sh:244), so only their presence
// is checked. A missing install.sh or update.sh is a warning: install-module
// skips an absent install.sh (install-module.sh:290-295), though
// module-fields.json module_structure calls both required.
//
// fsys is rooted at the module directory; dir names it in findings. The File
// is nil when <name>.json cannot be loaded.
func ValidateDir(fsys fs.FS, dir, name string, o Options) (*File, Report) {
	v := &validator{file: dir}
	rel := name + ".json"
	data, err := fs.ReadFile(fsys, rel)
	if err != nil {
		v.file = path.Join(dir, rel)
		v.find(SevError, "check_json:syntax", nil, "run it on the module directory holding "+rel, "cannot read the module JSON: %v", unwrapPath(err))
		return nil, v.r
	}
	f, err := Parse(path.Join(dir, rel), data)
	if err != nil {
		v.file = path.Join(dir, rel)
		v.find(SevError, "check_json:syntax", nil, "make it a JSON object of module fields", "%v", errors.Unwrap(err))
		return nil, v.r
	}
	v.r.Findings = append(v.r.Findings, f.Validate(o).Findings...)
	isFile := func(p string) bool {
		st, err := fs.Stat(fsys, p)
		return err == nil && st.Mode().IsRegular()
	}
	for _, script := range []string{"install.sh", "update.sh"} {
		if !isFile(script) {
			v.file = path.Join(dir, script)
			v.find(SevWarning, "tappaas:structure", nil, "add "+script+" (module-fields.json module_structure)", "the module has no %s", script)
		}
	}
	for _, svc := range f.Module().Provides {
		sd := path.Join("services", svc)
		if st, err := fs.Stat(fsys, sd); err != nil || !st.IsDir() {
			v.file = path.Join(dir, sd)
			v.find(SevError, "tappaas:service", nil, "add the directory with install-service.sh and update-service.sh, or drop "+svc+" from provides",
				"Module provides '%s' but directory not found: %s", svc, sd)
			continue
		}
		for _, script := range []string{"install-service.sh", "update-service.sh"} {
			if !isFile(path.Join(sd, script)) {
				v.file = path.Join(dir, sd, script)
				v.find(SevError, "tappaas:service", nil, "add "+path.Join(sd, script),
					"Module provides '%s' but missing %s in %s", svc, script, sd)
			}
		}
		ph := path.Join(sd, "pinhole.json")
		if data, err := fs.ReadFile(fsys, ph); err == nil {
			_, r, err := ParsePinhole(o.Schema, path.Join(dir, ph), data)
			if err != nil {
				v.file = path.Join(dir, ph)
				v.find(SevError, "check_json:syntax", nil, `make it {"ports": [...]}`, "%v", errors.Unwrap(err))
				continue
			}
			v.r.Findings = append(v.r.Findings, r.Findings...)
		}
	}
	return f, v.r
}

package assets

import (
	"embed"
	"io/fs"
)

//go:embed upstream
var upstream embed.FS

// Upstream is the embedded copy of the TAPPaaS repository files tappaas reads
// when no live checkout is at hand (the lab, offline review): the module
// catalog src/module-catalog.json, the field tables
// src/foundation/module-fields.json and module-catalog-fields.json, the
// module JSONs the catalog names (and the cluster and templates providers),
// and the services' pinhole.json. Paths are the repository's, so the
// catalog's moduleJson entries resolve as they are. Unmodified copies of
// TAPPaaS@f54e4fc.
func Upstream() fs.FS {
	sub, err := fs.Sub(upstream, "upstream")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Catalog and field-table paths inside Upstream (and a TAPPaaS checkout).
const (
	CatalogPath      = "src/module-catalog.json"
	ModuleFieldsPath = "src/foundation/module-fields.json"
)

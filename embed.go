// Package tappaas holds files embedded from the module root.
package tappaas

import _ "embed"

// DefaultZones is the default zone set, the repository-root zones.json
// (mgmt, srv, private, iot, dmz). Load it with zones.Parse.
//
//go:embed zones.json
var DefaultZones []byte

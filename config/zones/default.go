package zones

import tappaas "github.com/tappaas/tappaas"

// Default returns the default zone set (the repository-root zones.json,
// embedded in the binary).
func Default() (*File, error) { return Parse(tappaas.DefaultZones) }

package zones

import (
	"fmt"
	"slices"
	"strings"
)

// A plan that deletes more than half of the zone objects the firewall holds
// (and at least massDeleteMin of them) is refused unless every zone it
// deletes from is confirmed by name: an emptied or truncated zones.json
// ("{}") must not quietly tear the network down.
const massDeleteMin = 5

// MassDeleteError is Guard's refusal. Zones are the zones whose objects the
// plan deletes but that were not confirmed.
type MassDeleteError struct {
	Delete, Existing int
	Zones            []string
}

func (e *MassDeleteError) Error() string {
	return fmt.Sprintf("the plan deletes %d of the %d zone objects on the firewall (zones %s); "+
		"if that is what you want, confirm by naming those zones (--confirm-delete %s), "+
		"otherwise check the zones file", e.Delete, e.Existing, strings.Join(e.Zones, ", "), strings.Join(e.Zones, ","))
}

// Guard returns a *MassDeleteError when the plan deletes most of what
// exists and confirmed does not name every zone it deletes from. Apply
// callers check it before applying.
func (c *Changes) Guard(confirmed []string) error {
	if c.Empty() {
		return nil
	}
	del := 0
	var missing []string
	for _, ch := range c.Changes {
		if ch.Op != Delete || ch.Zone == "" {
			continue // the dnsmasq listen list is updated, not an object
		}
		del++
		if !slices.Contains(confirmed, ch.Zone) && !slices.Contains(missing, ch.Zone) {
			missing = append(missing, ch.Zone)
		}
	}
	if del < massDeleteMin || del*2 <= c.Existing {
		return nil
	}
	if len(missing) == 0 {
		return nil
	}
	return &MassDeleteError{Delete: del, Existing: c.Existing, Zones: missing}
}

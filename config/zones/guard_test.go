package zones_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/config/zones/zonestest"
)

// An emptied zones file must not tear the firewall down silently: the plan
// is refused until every zone it deletes from is named.
func TestGuardRefusesMassDeletionUnlessConfirmedByName(t *testing.T) {
	t.Parallel()
	fw := zonestest.New()
	f := load(t, "../../zones.json")
	applyAndReplan(t, fw, f)

	empty, err := zones.Parse([]byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	ch := zones.Plan(empty, fw.State())
	del := 0
	for _, c := range ch.Changes {
		if c.Op == zones.Delete && c.Kind != zones.KindListen {
			del++
		}
	}
	err = ch.Guard(nil)
	var me *zones.MassDeleteError
	if !errors.As(err, &me) || me.Delete != del || me.Existing < del || strings.Join(me.Zones, ",") != "dmz,iot,mgmt,private,srv" {
		t.Fatalf("Guard = %v (deletes %d)", err, del)
	}
	if !strings.Contains(err.Error(), "--confirm-delete dmz,iot,mgmt,private,srv") {
		t.Fatalf("message: %v", err)
	}
	if err := ch.Guard([]string{"srv", "private"}); err == nil {
		t.Fatal("partial confirmation accepted")
	}
	if err := ch.Guard([]string{"mgmt", "srv", "private", "iot", "dmz"}); err != nil {
		t.Fatalf("confirmed: %v", err)
	}

	// One zone set Inactive is an ordinary plan.
	iot := f.Zone("iot").Clone()
	iot.State = zones.Inactive
	f.SetZone("iot", iot)
	if err := zones.Plan(f, fw.State()).Guard(nil); err != nil {
		t.Fatalf("single teardown refused: %v", err)
	}
}

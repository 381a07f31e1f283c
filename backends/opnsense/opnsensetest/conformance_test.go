package opnsensetest_test

import (
	"fmt"
	"testing"

	"github.com/tappaas/tappaas/backends/opnsense"
	"github.com/tappaas/tappaas/backends/opnsense/opnsensetest"
	labopn "github.com/tappaas/tappaas/lab/opnsense"
)

func TestConformanceClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		patch   bool // TAPPaaS' interface_assign patch installed
	}{{"26.1.2", true}, {"26.7.2", true}, {"26.7.2", false}, {"27.1", false}} {
		t.Run(fmt.Sprintf("%s/patch=%v", tc.version, tc.patch), func(t *testing.T) {
			t.Parallel()
			opnsensetest.RunConformance(t, func(t *testing.T) opnsense.API {
				return opnsensetest.NewServer(t, labopn.Options{Version: tc.version, AssignPatch: func() bool { return tc.patch }}).Client(t)
			})
		})
	}
}

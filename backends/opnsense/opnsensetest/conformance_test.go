package opnsensetest_test

import (
	"testing"

	"github.com/tappaas/tappaas/backends/opnsense"
	"github.com/tappaas/tappaas/backends/opnsense/opnsensetest"
	labopn "github.com/tappaas/tappaas/lab/opnsense"
)

func TestConformanceClient(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"26.1.2", "26.7.2", "27.1"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			opnsensetest.RunConformance(t, func(t *testing.T) opnsense.API {
				return opnsensetest.NewServer(t, labopn.Options{Version: v}).Client(t)
			})
		})
	}
}

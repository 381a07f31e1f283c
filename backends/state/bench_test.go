package state_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/state"
)

// BenchmarkCheckpointWrite measures one RecordStep (journal append + fsync,
// state.json atomic rewrite + fsync + directory fsync) with 50 and 1,000
// step records in the file, on tmpfs and on the test's disk.
func BenchmarkCheckpointWrite(b *testing.B) {
	dirs := map[string]func(b *testing.B) string{
		"disk": func(b *testing.B) string { return b.TempDir() },
		"tmpfs": func(b *testing.B) string {
			d, err := os.MkdirTemp("/dev/shm", "tappaas-bench-*")
			if err != nil {
				b.Skip("no /dev/shm")
			}
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		},
	}
	for _, where := range []string{"tmpfs", "disk"} {
		for _, records := range []int{50, 1000} {
			for _, journalOnly := range []bool{false, true} {
				name := fmt.Sprintf("%s/%drecords/snapshot", where, records)
				if journalOnly {
					name = fmt.Sprintf("%s/%drecords/journal", where, records)
				}
				b.Run(name, func(b *testing.B) {
					st, err := state.Open(state.DirFS(dirs[where](b)))
					if err != nil {
						b.Fatal(err)
					}
					st.SnapshotEvery = time.Hour // fast set-up
					for i := range records {
						if err := st.RecordStep(fmt.Sprintf("step.%04d", i), state.Record{Status: state.StatusDone}); err != nil {
							b.Fatal(err)
						}
					}
					st.SnapshotEvery = 0 // state.json rewritten on every change
					if journalOnly {
						st.SnapshotEvery = time.Hour
					}
					n := max(b.N, 200) // -benchtime 1x still measures a fair sample
					if where == "disk" {
						n = max(b.N, 30)
					}
					start := time.Now()
					for i := range n {
						if err := st.RecordStep(fmt.Sprintf("step.%04d", i%records), state.Record{Status: state.StatusRunning, Attempts: 1}); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(time.Since(start).Microseconds())/float64(n), "µs/write")
				})
			}
		}
	}
}

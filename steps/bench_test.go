package steps_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/backends/state/statetest"
	"github.com/tappaas/tappaas/steps"
)

// noopStep is a step with no work of its own: done once applied.
type noopStep struct {
	id    string
	needs []string
	done  atomic.Bool
}

func (s *noopStep) ID() string      { return s.id }
func (s *noopStep) Title() string   { return s.id }
func (s *noopStep) Needs() []string { return s.needs }
func (s *noopStep) Check(context.Context, *steps.Runtime) (steps.Status, error) {
	if s.done.Load() {
		return steps.Status{Done: true, Detail: "present"}, nil
	}
	return steps.Status{Detail: "missing"}, nil
}
func (s *noopStep) Apply(context.Context, *steps.Runtime) error { s.done.Store(true); return nil }

func noopPlan(b *testing.B, n int, chain bool) *steps.Plan {
	ss := make([]steps.Step, n)
	for i := range n {
		s := &noopStep{id: fmt.Sprintf("step.%04d", i)}
		if chain && i > 0 {
			s.needs = []string{fmt.Sprintf("step.%04d", i-1)}
			if i > 10 {
				s.needs = append(s.needs, fmt.Sprintf("step.%04d", i/2))
			}
		}
		ss[i] = s
	}
	p, err := steps.NewPlan("bench", ss...)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// tmpfsDir returns a fresh directory on /dev/shm (tmpfs) when available.
func tmpfsDir(b *testing.B) string {
	dir, err := os.MkdirTemp("/dev/shm", "tappaas-bench-*")
	if err != nil {
		b.Logf("no /dev/shm (%v): using the test's temp dir", err)
		return b.TempDir()
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func benchStore(b *testing.B, kind string) *state.Store {
	var fsys state.FS
	switch kind {
	case "mem":
		fsys = statetest.NewMemFS()
	default:
		fsys = state.DirFS(tmpfsDir(b))
	}
	st, err := state.Open(fsys)
	if err != nil {
		b.Fatal(err)
	}
	if kind == "tmpfs-snapshot-each" {
		st.SnapshotEvery = 0
	}
	return st
}

// BenchmarkRunnerPerStep measures the runner's overhead per step (the steps
// do no work): checkpoints running → done, events to a Queue, Check twice.
// "tmpfs" is the default store (fsync'd journal append per change,
// state.json rewritten at most every 250ms); "tmpfs-snapshot-each" rewrites
// state.json on every change too; "mem" has no file IO at all.
func BenchmarkRunnerPerStep(b *testing.B) {
	for _, size := range []int{50, 1000} {
		for _, kind := range []string{"tmpfs", "tmpfs-snapshot-each", "mem"} {
			size := size
			if kind == "tmpfs-snapshot-each" && size > 200 {
				size = 200 // O(records) per write: 1,000 steps take seconds
			}
			b.Run(fmt.Sprintf("%s/%dsteps", kind, size), func(b *testing.B) {
				var total time.Duration
				for range b.N {
					b.StopTimer()
					p := noopPlan(b, size, false)
					st := benchStore(b, kind)
					q := steps.NewQueue(0)
					go func() {
						for range q.C() {
						}
					}()
					r := &steps.Runner{Store: st, Events: q, Holder: state.Holder{User: "b", Host: "h", PID: 1}}
					b.StartTimer()
					start := time.Now()
					if err := r.Run(context.Background(), p); err != nil {
						b.Fatal(err)
					}
					total += time.Since(start)
					q.Close()
				}
				b.ReportMetric(float64(total.Microseconds())/float64(b.N*size), "µs/step")
			})
		}
	}
}

// BenchmarkPlan1000 builds and runs a 1,000-step DAG with concurrency 4,
// checkpointing to tmpfs, then re-runs it finished (every step skipped).
func BenchmarkPlan1000(b *testing.B) {
	for range b.N {
		st := benchStore(b, "tmpfs")
		start := time.Now()
		p := noopPlan(b, 1000, true)
		build := time.Since(start)
		r := &steps.Runner{Store: st, Concurrency: 4, Holder: state.Holder{User: "b", Host: "h", PID: 1}}
		if err := r.Run(context.Background(), p); err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		start = time.Now()
		if err := r.Run(context.Background(), p); err != nil {
			b.Fatal(err)
		}
		again := time.Since(start)
		b.ReportMetric(float64(build.Microseconds())/1000, "ms-build")
		b.ReportMetric(float64(first.Microseconds())/1000, "ms-run")
		b.ReportMetric(float64(again.Microseconds())/1000, "ms-rerun")
	}
}

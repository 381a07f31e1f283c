package run

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/tuitest"
)

// floodJob prints rate lines per second on one step until stopped.
type floodJob struct {
	rate  int
	total int // stop after this many lines (0: until ctx ends)
	done  chan struct{}
}

func (j *floodJob) Name() string            { return "flood" }
func (j *floodJob) Steps() []steps.StepInfo { return infos() }
func (j *floodJob) Pause()                  {}
func (j *floodJob) Run(ctx context.Context, emit func(steps.Event)) error {
	emit(steps.StepStarted{StepID: "node.packages", Attempt: 1, At: time.Now()})
	const tick = 5 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	n := 0
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			close(j.done)
			return ctx.Err()
		case <-t.C:
		}
		// exactly rate lines per second of wall time, however late the tick
		due := int(time.Since(start).Seconds() * float64(j.rate))
		lines := make([]string, due-n)
		for i := range lines {
			lines[i] = fmt.Sprintf("Unpacking package-%07d (1.2.3-4) over (1.2.3-3) ...", n+i)
		}
		n = due
		emit(steps.Output{StepID: "node.packages", Stream: steps.StreamStdout, Lines: lines})
		if j.total > 0 && n >= j.total {
			emit(steps.StepDone{StepID: "node.packages"})
			close(j.done)
			return nil
		}
	}
}

type timedKey struct {
	k  tea.KeyPressMsg
	at time.Time
}

// frameHost renders like Bubble Tea (at most 60 frames/s for background
// updates) and measures key press → updated frame.
type frameHost struct {
	s         *Model
	lastFrame time.Time
	lat       []time.Duration
	frames    int
}

func (h *frameHost) Init() tea.Cmd  { return h.s.Init() }
func (h *frameHost) View() tea.View { return tea.NewView(h.s.View()) }
func (h *frameHost) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		h.s.SetSize(msg.Width, msg.Height)
		return h, nil
	case common.OpenDialogMsg, common.CloseDialogMsg:
		return h, nil
	case timedKey:
		s, cmd := h.s.Update(msg.k)
		h.s = s.(*Model)
		_ = h.s.View()
		h.frames++
		h.lat = append(h.lat, time.Since(msg.at))
		return h, cmd
	}
	s, cmd := h.s.Update(msg)
	h.s = s.(*Model)
	if time.Since(h.lastFrame) >= time.Second/60 {
		_ = h.s.View()
		h.frames++
		h.lastFrame = time.Now()
	}
	return h, cmd
}

// BenchmarkRunViewUnder10kLinesPerSecond measures key press → updated frame
// while a step prints 10,000 lines per second. One op is 100 key presses
// 10 ms apart (about a second of flood); p50/p99 latency are the metrics.
func BenchmarkRunViewUnder10kLinesPerSecond(b *testing.B) {
	job := &floodJob{rate: 10000, done: make(chan struct{})}
	h := &frameHost{s: New(testCommon(), job, common.Request{})}
	h.s.com.Now = time.Now
	d := tuitest.NewDriver(b, h, 80, 24)
	d.Pump(200 * time.Millisecond) // let the flood start
	keys := []string{"up", "down", "tab", "pgup", "pgdown", "f"}
	b.ResetTimer()
	for i := 0; i < b.N*100; i++ {
		d.Inject(timedKey{k: tuitest.KeyMsg(keys[i%len(keys)]), at: time.Now()})
		n := len(h.lat)
		d.WaitFor(func() bool { return len(h.lat) > n }, 5*time.Second)
		d.Pump(10 * time.Millisecond) // keep the stream flowing between keys
	}
	b.StopTimer()
	h.s.cancel()
	<-job.done
	slices.Sort(h.lat)
	if len(h.lat) > 0 {
		b.ReportMetric(float64(h.lat[len(h.lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(h.lat[len(h.lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	var total int64
	for _, r := range h.s.rows {
		total += r.ring.Total()
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(h.s.dropped), "lines-dropped")
}

// BenchmarkRunViewMemoryAfterMillionLines feeds a million lines through the
// queue and the model and reports the live heap afterwards (the log pane
// keeps a bounded ring per step; the full log is in the log file).
func BenchmarkRunViewMemoryAfterMillionLines(b *testing.B) {
	for i := 0; i < b.N; i++ {
		job := newScriptJob()
		m := New(testCommon(), job, common.Request{})
		q := steps.NewQueue(0)
		line := "Setting up libfoo-dev:amd64 (2.40.0-1) ... with a fairly long line of apt output"
		batch := make([]string, 1000)
		for k := range batch {
			batch[k] = line
		}
		for n := 0; n < 1_000_000; n += len(batch) {
			q.Send(steps.Output{StepID: "node.packages", Stream: steps.StreamStdout, Lines: batch})
			evs, _ := q.Wait()
			for _, e := range evs {
				m.apply(e)
			}
		}
		_ = m.View()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
		b.ReportMetric(float64(m.rows[1].ring.Len()), "lines-kept")
		runtime.KeepAlive(m)
	}
}

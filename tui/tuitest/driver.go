package tuitest

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
)

// Driver runs a tea.Model the way Bubble Tea does — Update on one
// goroutine, every Cmd on its own goroutine feeding messages back — without
// a terminal, so tests can send keys and wait for states deterministically.
type Driver struct {
	t    testing.TB
	m    tea.Model
	msgs chan tea.Msg
	// Quit is set once the model returned tea.Quit.
	Quit bool

	mu sync.Mutex
	// inflight tracks each Cmd until its message is queued.
	inflight map[int]*cmdState
	seq      int
}

// cmdState is where a Cmd's goroutine is (guarded by Driver.mu).
type cmdState struct {
	started  time.Time // zero until the goroutine runs the Cmd
	returned bool      // the Cmd returned; its message is being queued
}

// NewDriver sizes m to w×h and runs its Init.
func NewDriver(t testing.TB, m tea.Model, w, h int) *Driver {
	t.Helper()
	d := &Driver{t: t, m: m, msgs: make(chan tea.Msg, 4096), inflight: map[int]*cmdState{}}
	d.run(m.Init())
	d.Send(tea.WindowSizeMsg{Width: w, Height: h})
	return d
}

// Model returns the current model.
func (d *Driver) Model() tea.Model { return d.m }

// Send delivers msg to Update and schedules the returned Cmd.
func (d *Driver) Send(msg tea.Msg) {
	d.t.Helper()
	if _, ok := msg.(tea.QuitMsg); ok {
		d.Quit = true
		return
	}
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			d.run(c)
		}
		return
	}
	if v := reflect.ValueOf(msg); v.IsValid() && v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		// tea.Sequence: run in order, each to completion.
		for i := 0; i < v.Len(); i++ {
			c := v.Index(i).Interface().(tea.Cmd)
			if c == nil {
				continue
			}
			if m := c(); m != nil {
				d.Send(m)
			}
		}
		return
	}
	var cmd tea.Cmd
	d.m, cmd = d.m.Update(msg)
	d.run(cmd)
}

func (d *Driver) run(c tea.Cmd) {
	if c == nil {
		return
	}
	st := &cmdState{}
	d.mu.Lock()
	d.seq++
	id := d.seq
	d.inflight[id] = st
	d.mu.Unlock()
	go func() {
		if scheduled != nil {
			scheduled()
		}
		d.mu.Lock()
		st.started = time.Now()
		d.mu.Unlock()
		m := c()
		d.mu.Lock()
		st.returned = true
		d.mu.Unlock()
		if m != nil {
			d.msgs <- m
		}
		d.mu.Lock()
		delete(d.inflight, id)
		d.mu.Unlock()
	}()
}

// scheduled, when set (tests of the driver), runs at the start of each Cmd
// goroutine: a stand-in for a scheduler that runs it late.
var scheduled func()

// settleGrace is how long a Cmd may run before Settle takes it for a timer
// or a blocking wait (a cursor blink, a spinner tick, a backend call) rather
// than an instant message (huh's next-field). It counts from when the Cmd's
// goroutine first runs, not from when the Cmd was issued: on a busy machine
// a goroutine can wait far longer than this to be scheduled at all.
const settleGrace = 25 * time.Millisecond

// young reports whether a Cmd may still deliver a message promptly: its
// goroutine has not run yet, it has returned and its message is on the
// way, or it started less than settleGrace ago.
func (d *Driver) young() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, st := range d.inflight {
		if st.started.IsZero() || st.returned || time.Since(st.started) < settleGrace {
			return true
		}
	}
	return false
}

// Inject queues msg behind the messages already pending, as input from the
// terminal would be.
func (d *Driver) Inject(msg tea.Msg) { d.msgs <- msg }

// Pump delivers pending messages for up to dur.
func (d *Driver) Pump(dur time.Duration) {
	d.WaitFor(func() bool { return false }, dur)
}

// WaitFor delivers messages until cond is true or timeout passes; it reports
// whether cond became true.
func (d *Driver) WaitFor(cond func() bool, timeout time.Duration) bool {
	d.t.Helper()
	deadline := time.After(timeout)
	for {
		if cond() {
			return true
		}
		select {
		case m := <-d.msgs:
			d.Send(m)
		case <-deadline:
			return cond()
		}
	}
}

// Key sends one key press: "enter", "esc", "tab", "shift+tab", "up", "down",
// "left", "right", "pgup", "pgdown", "space", "backspace", "ctrl+c", or a
// single printable character.
func (d *Driver) Key(s string) {
	d.t.Helper()
	d.Send(KeyMsg(s))
	d.Settle()
}

// Settle delivers messages until none arrives for a few milliseconds and no
// Cmd started in the last settleGrace is still running, like an operator who
// waits for the screen before the next key. The grace keeps a loaded machine
// (a Cmd goroutine not scheduled for a while) from letting the next key
// overtake a focus change.
func (d *Driver) Settle() { d.settle(true) }

func (d *Driver) settle(grace bool) {
	idle := time.NewTimer(3 * time.Millisecond)
	defer idle.Stop()
	for {
		select {
		case m := <-d.msgs:
			d.Send(m)
			if !idle.Stop() {
				<-idle.C
			}
			idle.Reset(3 * time.Millisecond)
		case <-idle.C:
			if len(d.msgs) == 0 && (!grace || !d.young()) {
				return
			}
			idle.Reset(time.Millisecond)
		}
	}
}

// Type sends each rune of s as a key press, then settles. Printable keys
// only edit the focused field (they never move the focus), so between them
// the short idle wait is enough.
func (d *Driver) Type(s string) {
	d.t.Helper()
	for _, r := range s {
		d.Send(tea.KeyPressMsg{Code: r, Text: string(r)})
		d.settle(false)
	}
	d.Settle()
}

// KeyMsg builds the key press message for s (see Key).
func KeyMsg(s string) tea.KeyPressMsg {
	special := map[string]tea.KeyPressMsg{
		"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape}, "tab": {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift}, "up": {Code: tea.KeyUp},
		"down": {Code: tea.KeyDown}, "left": {Code: tea.KeyLeft}, "right": {Code: tea.KeyRight},
		"pgup": {Code: tea.KeyPgUp}, "pgdown": {Code: tea.KeyPgDown}, "home": {Code: tea.KeyHome},
		"end": {Code: tea.KeyEnd}, "space": {Code: tea.KeySpace, Text: " "},
		"backspace": {Code: tea.KeyBackspace}, "ctrl+c": {Code: 'c', Mod: tea.ModCtrl},
		"ctrl+u": {Code: 'u', Mod: tea.ModCtrl},
	}
	if k, ok := special[s]; ok {
		return k
	}
	r, _ := utf8.DecodeRuneInString(s)
	if strings.ToUpper(s) == s && strings.ToLower(s) != s {
		return tea.KeyPressMsg{Code: r, Text: s, ShiftedCode: r}
	}
	return tea.KeyPressMsg{Code: r, Text: s}
}

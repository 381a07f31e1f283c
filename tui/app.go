// Package tui is tappaas's full-screen installer: a Bubble Tea v2 program
// whose root model (App) owns a screen, a dialog overlay stack and the
// Backend bridge. See common's package doc for the house rules.
package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/components/dialog"
	"github.com/tappaas/tappaas/tui/components/footer"
	"github.com/tappaas/tappaas/tui/screens/done"
	"github.com/tappaas/tappaas/tui/screens/home"
	"github.com/tappaas/tappaas/tui/screens/join"
	"github.com/tappaas/tappaas/tui/screens/placeholder"
	"github.com/tappaas/tappaas/tui/screens/preflight"
	"github.com/tappaas/tappaas/tui/screens/review"
	"github.com/tappaas/tappaas/tui/screens/run"
	"github.com/tappaas/tappaas/tui/screens/status"
	"github.com/tappaas/tappaas/tui/screens/wizard"
)

// Minimum terminal size; below it the app shows a "too small" screen.
const (
	MinWidth  = 80
	MinHeight = 24
)

// Aliases so callers need only import tui.
type (
	Backend  = common.Backend
	Job      = common.Job
	Request  = common.Request
	NodeInfo = common.NodeInfo
	Detected = common.Detected
	Check    = common.Check
	Summary  = common.Summary
)

// Options configure an App.
type Options struct {
	// Backend does all IO (required).
	Backend Backend
	// Common carries styles, keys, logger and log path (required).
	Common *common.Common
	// Prompter delivers host-key questions from backends (may be nil).
	Prompter *Prompter
	// Zones returns the zone editor screen; nil when it is not built.
	Zones func(com *common.Common) common.Screen
	// Timeout bounds each backend call (default 2 minutes).
	Timeout time.Duration
}

// App is the root model.
type App struct {
	com      *common.Common
	be       Backend
	prompter *Prompter
	zones    func(*common.Common) common.Screen
	timeout  time.Duration

	screen   common.Screen
	home     *home.Model
	dialogs  []common.Dialog
	info     *common.NodeInfo
	detected *common.Detected
	// draft holds the install wizard's answers when the operator leaves it
	// (esc, or on to preflight): reopening it starts from them, not blank.
	draft *config.Install

	// lastRun is the latest run of this session (nil: none): the exit
	// code and line say how it ended.
	lastRun *run.Model

	width, height int
	fullHelp      bool
	// infoErr is why the node could not be read (nil: it could).
	infoErr error
	// detecting: a Detect for a wizard is under way.
	detecting bool
	// smallQuit: q was pressed on the "too small" notice, which now asks.
	smallQuit bool
}

type (
	nodeInfoMsg struct {
		info common.NodeInfo
		err  error
	}
	detectedMsg struct {
		det  common.Detected
		err  error
		goal common.Goal
	}
	planMsg struct {
		job    common.Job
		err    error
		req    common.Request
		direct bool // run at once (retry/resume from run view)
	}
	hostKeyMsg    struct{ p *HostKeyPrompt }
	hostKeyAnswer struct {
		p  *HostKeyPrompt
		ok bool
	}
	wipeAnswer struct {
		ok bool
		c  review.ConfirmMsg
	}
)

// New returns the root model.
func New(opts Options) *App {
	a := &App{com: opts.Common, be: opts.Backend, prompter: opts.Prompter, zones: opts.Zones, timeout: opts.Timeout}
	if a.timeout <= 0 {
		a.timeout = 2 * time.Minute
	}
	a.home = home.New(a.com, a.zones != nil)
	a.screen = a.home
	return a
}

// Screen returns the active screen (for tests).
func (a *App) Screen() common.Screen { return a.screen }

// Dialogs returns the open dialogs, bottom first (for tests).
func (a *App) Dialogs() []common.Dialog { return a.dialogs }

// Init implements tea.Model.
func (a *App) Init() tea.Cmd {
	return tea.Batch(a.nodeInfoCmd(), a.waitPromptCmd())
}

func (a *App) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), a.timeout)
}

func (a *App) nodeInfoCmd() tea.Cmd {
	be := a.be
	return func() tea.Msg {
		ctx, cancel := a.ctx()
		defer cancel()
		info, err := be.NodeInfo(ctx)
		return nodeInfoMsg{info: info, err: err}
	}
}

func (a *App) detectCmd(goal common.Goal) tea.Cmd {
	be := a.be
	return func() tea.Msg {
		ctx, cancel := a.ctx()
		defer cancel()
		det, err := be.Detect(ctx)
		return detectedMsg{det: det, err: err, goal: goal}
	}
}

func (a *App) preflightCmd(req common.Request) tea.Cmd {
	be := a.be
	return func() tea.Msg {
		ctx, cancel := a.ctx()
		defer cancel()
		checks, err := be.Preflight(ctx, req)
		return preflight.ResultMsg{Checks: checks, Err: err}
	}
}

func (a *App) planCmd(req common.Request, direct bool) tea.Cmd {
	be := a.be
	return func() tea.Msg {
		ctx, cancel := a.ctx()
		defer cancel()
		job, err := be.Plan(ctx, req)
		return planMsg{job: job, err: err, req: req, direct: direct}
	}
}

func (a *App) summaryCmd(req common.Request) tea.Cmd {
	be := a.be
	return func() tea.Msg {
		ctx, cancel := a.ctx()
		defer cancel()
		s, err := be.Summary(ctx, req)
		return done.SummaryMsg{Summary: s, Err: err}
	}
}

func (a *App) waitPromptCmd() tea.Cmd {
	if a.prompter == nil {
		return nil
	}
	ch := a.prompter.ch
	return func() tea.Msg { return hostKeyMsg{p: <-ch} }
}

func replyHostKeyCmd(p *HostKeyPrompt, ok bool) tea.Cmd {
	return func() tea.Msg { p.reply <- ok; return nil }
}

func (a *App) setScreen(s common.Screen) tea.Cmd {
	if w, ok := a.screen.(*wizard.Model); ok && w != s {
		in := w.Input()
		a.draft = &in
	}
	if r, ok := s.(*run.Model); ok {
		a.lastRun = r
	}
	a.screen = s
	a.fullHelp = false
	a.layout()
	return s.Init()
}

func (a *App) bodySize() (int, int) {
	return a.width, max(a.height-2-a.footerLines(), 1)
}

func (a *App) layout() {
	if a.screen != nil {
		a.screen.SetSize(a.bodySize())
	}
}

func (a *App) tooSmall() bool { return a.width < MinWidth || a.height < MinHeight }

// Update implements tea.Model.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.width, a.height = msg.Width, msg.Height
		if !a.tooSmall() {
			a.smallQuit = false
		}
		a.layout()
		// huh forms size themselves from WindowSizeMsg too.
		return a, a.forward(tea.WindowSizeMsg{Width: a.width, Height: a.height - 2 - a.footerLines()})
	case tea.KeyPressMsg:
		if cmd, handled := a.globalKey(msg); handled {
			return a, cmd
		}
	case common.OpenDialogMsg:
		a.dialogs = append(a.dialogs, msg.Dialog)
		return a, nil
	case common.CloseDialogMsg:
		for i := len(a.dialogs) - 1; i >= 0; i-- {
			if a.dialogs[i].ID() == msg.ID {
				a.dialogs = append(a.dialogs[:i], a.dialogs[i+1:]...)
				break
			}
		}
		return a, nil
	case common.ErrMsg:
		a.com.Log.Error("operation failed", "what", msg.What, "err", msg.Err)
		body := []string{a.com.Styles.Error.Render(msg.Err.Error()), "", "Details are in the log file: " + a.com.LogPath}
		return a, common.OpenDialogCmd(dialog.New(a.com, "error", "Could not "+msg.What, body,
			[]dialog.Option{{Key: "o", Label: "OK", Value: "ok"}}, func(string) tea.Msg { return nil }).WithCancel("ok"))
	case nodeInfoMsg:
		a.infoErr = msg.err
		if msg.err == nil {
			a.info = &msg.info
		}
		a.home.SetInfo(msg.info, msg.err)
		return a, nil
	case common.GoHomeMsg:
		a.dialogs = nil
		cmd := a.setScreen(a.home)
		return a, tea.Batch(cmd, a.nodeInfoCmd())
	case home.ActionMsg:
		return a, a.action(msg.Action)
	case detectedMsg:
		a.detecting = false
		if msg.err != nil {
			return a, common.ErrorCmd("detect the node's network interfaces and disks", msg.err)
		}
		a.detected = &msg.det
		return a, a.openWizard(msg.goal)
	case wizard.SubmitMsg:
		req := common.Request{Goal: common.GoalInstall, Install: &msg.Install}
		return a, tea.Batch(a.setScreen(preflight.New(a.com, req)), a.preflightCmd(req))
	case join.SubmitMsg:
		in := msg.Install
		req := common.Request{Goal: common.GoalJoin, Install: &in, PeerPassword: msg.PeerPassword}
		return a, tea.Batch(a.setScreen(preflight.New(a.com, req)), a.preflightCmd(req))
	case preflight.ContinueMsg:
		return a, tea.Batch(a.setScreen(review.New(a.com, msg.Req)), a.planCmd(msg.Req, false))
	case preflight.RecheckMsg:
		return a, a.preflightCmd(msg.Req)
	case planMsg:
		if msg.err != nil {
			// Home first (it drops stale dialogs), then the error on top.
			return a, tea.Sequence(common.GoHomeCmd, common.ErrorCmd("build the plan", msg.err))
		}
		if msg.direct {
			return a, a.setScreen(run.New(a.com, msg.job, msg.req))
		}
		return a, a.forward(review.PlanMsg{Job: msg.job})
	case review.ConfirmMsg:
		if disks := a.inUseDisks(msg.Req); len(disks) > 0 {
			return a, common.OpenDialogCmd(a.wipeDialog(disks, msg))
		}
		return a, a.setScreen(run.New(a.com, msg.Job, msg.Req))
	case wipeAnswer:
		if msg.ok {
			return a, a.setScreen(run.New(a.com, msg.c.Job, msg.c.Req))
		}
		return a, nil
	case run.RetryMsg:
		return a, a.planCmd(msg.Req, true)
	case run.FinishedMsg:
		return a, tea.Batch(a.setScreen(done.New(a.com, msg.Req).Took(msg.Took)), a.summaryCmd(msg.Req))
	case run.ExitMsg:
		return a, tea.Quit
	case hostKeyMsg:
		return a, tea.Batch(common.OpenDialogCmd(a.hostKeyDialog(msg.p)), a.waitPromptCmd())
	case hostKeyAnswer:
		return a, replyHostKeyCmd(msg.p, msg.ok)
	}
	if len(a.dialogs) > 0 {
		if _, isKey := msg.(tea.KeyPressMsg); isKey {
			top := len(a.dialogs) - 1
			d, cmd := a.dialogs[top].Update(msg)
			a.dialogs[top] = d
			return a, cmd
		}
	}
	return a, a.forward(msg)
}

func (a *App) forward(msg tea.Msg) tea.Cmd {
	if a.screen == nil {
		return nil
	}
	s, cmd := a.screen.Update(msg)
	a.screen = s
	return cmd
}

func (a *App) capturing() bool {
	c, ok := a.screen.(common.Capturer)
	return ok && c.Capturing()
}

func (a *App) globalKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	km := a.com.Keys.Global
	if a.tooSmall() {
		return a.smallKey(k), true
	}
	if key.Matches(k, km.ForceQuit) {
		r, running := a.screen.(*run.Model)
		if !running || !r.Running() {
			return tea.Quit, true
		}
		if a.topDialog() == "quit" {
			// Second ctrl+c: the safe stop, then exit. It never cuts a
			// step short (that is "Interrupt now" in the dialog).
			return tea.Sequence(common.CloseDialogCmd("quit"), func() tea.Msg { return run.StopAfterStepMsg{Exit: true} }), true
		}
		return a.forward(run.QuitRequestMsg{}), true
	}
	if len(a.dialogs) == 0 && !a.capturing() && key.Matches(k, km.Help) {
		a.fullHelp = !a.fullHelp
		a.layout()
		return nil, true
	}
	return nil, false
}

// smallKey handles a key while the terminal is too small: nothing reaches a
// screen or dialog hidden behind the notice. q or ctrl+c asks on the notice
// itself; the same key again quits (a running install stops after its
// running step, the checkpoint kept); any other key keeps going.
func (a *App) smallKey(k tea.KeyPressMsg) tea.Cmd {
	quit := k.String() == "q" || key.Matches(k, a.com.Keys.Global.ForceQuit)
	if !quit {
		a.smallQuit = false
		return nil
	}
	if !a.smallQuit {
		a.smallQuit = true
		return nil
	}
	a.smallQuit = false
	if r, ok := a.screen.(*run.Model); ok && r.Running() {
		a.dialogs = nil
		return func() tea.Msg { return run.StopAfterStepMsg{Exit: true} }
	}
	return tea.Quit
}

func (a *App) running() bool {
	r, ok := a.screen.(*run.Model)
	return ok && r.Running()
}

func (a *App) topDialog() string {
	if len(a.dialogs) == 0 {
		return ""
	}
	return a.dialogs[len(a.dialogs)-1].ID()
}

func (a *App) action(act home.Action) tea.Cmd {
	switch act {
	case home.ActInstall, home.ActJoin:
		// Facts are re-read each time a wizard opens: a run since the
		// last visit may have built a pool or moved the uplink. One read
		// at a time: keys pressed while it runs open no second wizard.
		if a.detecting {
			return nil
		}
		a.detecting = true
		if act == home.ActJoin {
			return a.detectCmd(common.GoalJoin)
		}
		return a.detectCmd(common.GoalInstall)
	case home.ActResume:
		req := common.Request{Goal: common.GoalResume}
		if a.info != nil && a.info.Checkpoint != nil && a.info.Checkpoint.Goal == common.GoalJoin {
			req.Goal = common.GoalJoin
		}
		return tea.Batch(a.setScreen(review.New(a.com, req)), a.planCmd(req, false))
	case home.ActZones:
		if a.zones != nil {
			return a.setScreen(a.zones(a.com))
		}
		return a.setScreen(placeholder.New(a.com, "Zones", "The zone editor is not built yet in this version of tappaas."))
	case home.ActModules:
		return a.setScreen(placeholder.New(a.com, "Modules", "Adding modules is not built yet in this version of tappaas."))
	case home.ActStatus:
		return a.setScreen(status.New(a.com, a.info))
	case home.ActQuit:
		return tea.Quit
	}
	return nil
}

func (a *App) openWizard(goal common.Goal) tea.Cmd {
	if goal == common.GoalJoin {
		return a.setScreen(join.New(a.com, *a.detected))
	}
	det := *a.detected
	if a.draft != nil {
		det.Install = *a.draft
	}
	return a.setScreen(wizard.New(a.com, det))
}

// inUseDisks lists the disks the request would erase that detection saw in
// use (partitions, data). An existing pool is kept, so its disks are not
// erased and not listed.
func (a *App) inUseDisks(req common.Request) []string {
	if a.detected == nil {
		return nil
	}
	var out []string
	for _, d := range a.detected.Erases(req) {
		for _, dd := range a.detected.Disks {
			if dd.Name == config.DiskName(d) && (dd.InUse != "" || dd.NotOffered != "") {
				out = append(out, dd.Name)
			}
		}
	}
	return out
}

// wipeDialog is the destructive confirmation before a run that erases disks
// holding data: the operator types the disks' names.
func (a *App) wipeDialog(disks []string, c review.ConfirmMsg) common.Dialog {
	var uses []string
	for _, d := range disks {
		for _, dd := range a.detected.Disks {
			if dd.Name == d {
				uses = append(uses, d+": "+dd.InUse+dd.NotOffered)
			}
		}
	}
	body := append([]string{"The run will erase disks that are in use:"}, uses...)
	body = append(body, "", "Everything on them is lost. There is no undo.")
	return dialog.New(a.com, "wipe", "Erase disks in use?", body, []dialog.Option{
		{Label: "Erase and run", Value: "run", Danger: true},
		{Label: "Go back", Value: "back"},
	}, func(v string) tea.Msg { return wipeAnswer{ok: v == "run", c: c} }).
		WithCancel("back").WithTyped(common.WipeWord(disks))
}

func (a *App) hostKeyDialog(p *HostKeyPrompt) common.Dialog {
	body := []string{
		fmt.Sprintf("tappaas has not connected to %s before.", p.Host),
		"Compare this fingerprint with the one the node shows",
		"(ssh-keygen -lf /etc/ssh/ssh_host_" + strings.ToLower(strings.TrimPrefix(p.KeyType, "ssh-")) + "_key.pub):",
		"",
		a.com.Styles.Bold.Render(p.KeyType + " " + p.Fingerprint),
	}
	return dialog.New(a.com, "hostkey", "Trust this host key?", body, []dialog.Option{
		{Key: "y", Label: "Trust and remember", Value: "yes"},
		{Key: "n", Label: "Do not trust", Value: "no"},
	}, func(v string) tea.Msg { return hostKeyAnswer{p: p, ok: v == "yes"} }).WithCancel("no").WithDefault("no")
}

func (a *App) footerLines() int {
	if a.fullHelp {
		return 3
	}
	return 1
}

func (a *App) helpBindings() []key.Binding {
	var bs []key.Binding
	if n := len(a.dialogs); n > 0 {
		bs = a.dialogs[n-1].ShortHelp()
	} else if a.fullHelp {
		for _, g := range a.screen.FullHelp() {
			bs = append(bs, g...)
		}
	} else {
		bs = a.screen.ShortHelp()
	}
	if len(a.dialogs) == 0 && !a.capturing() {
		bs = append(bs, a.com.Keys.Global.Help)
	}
	return bs
}

// View implements tea.Model.
func (a *App) View() tea.View {
	v := tea.NewView(a.Render())
	v.AltScreen = true
	v.WindowTitle = "tappaas"
	return v
}

// Render returns the frame as a string (used by View and golden tests).
func (a *App) Render() string {
	st := a.com.Styles
	if a.width == 0 || a.height == 0 {
		return ""
	}
	if a.tooSmall() {
		msg := st.Small.Render("Terminal too small") + "\n\n" +
			fmt.Sprintf("This window is %dx%d; tappaas needs at least %dx%d.", a.width, a.height, MinWidth, MinHeight) + "\n" +
			"Enlarge the window or use a smaller font. A running install keeps running." + "\n\n"
		switch {
		case a.smallQuit && a.running():
			msg += st.Dialog.Danger.Render("Quit? The install stops after the running step; the checkpoint is kept.") + "\n" +
				st.Muted.Render("q again: stop and quit · any other key: keep running")
		case a.smallQuit:
			msg += st.Dialog.Danger.Render("Quit tappaas?") + "\n" + st.Muted.Render("q again: quit · any other key: stay")
		default:
			msg += st.Muted.Render("q quit (asks first) · other keys wait until the window is larger")
		}
		return lipgloss.NewStyle().Width(a.width).MaxHeight(a.height).Render(msg)
	}
	w, h := a.bodySize()
	title := st.Header.Name.Render("TAPPaaS") + " " + st.Header.Bar.Render(a.screen.Title())
	right := ""
	if a.info != nil {
		right = st.Header.Info.Render(a.info.Hostname)
	}
	gap := max(a.width-lipgloss.Width(title)-lipgloss.Width(right), 1)
	header := ansi.Truncate(title+strings.Repeat(" ", gap)+right, a.width, "")
	rule := st.Rule.Render(strings.Repeat("─", a.width))
	body := fit(a.screen.View(), w, h)
	if n := len(a.dialogs); n > 0 {
		body = overlay(body, a.dialogs[n-1].View(w, h), w, h)
	}
	foot := footer.Render(st, a.width, a.footerLines(), a.helpBindings()...)
	foot = fit(foot, a.width, a.footerLines())
	return header + "\n" + rule + "\n" + body + "\n" + foot
}

// fit pads or cuts s to exactly h lines of at most w cells.
func fit(s string, w, h int) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = ansi.Truncate(l, w, "")
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// overlay draws box centred over bg.
func overlay(bg, box string, w, h int) string {
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	x, y := max((w-bw)/2, 0), max((h-bh)/2, 0)
	c := lipgloss.NewCompositor(lipgloss.NewLayer(bg), lipgloss.NewLayer(box).X(x).Y(y).Z(1))
	return fit(c.Render(), w, h)
}

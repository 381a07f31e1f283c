// Package dialog has the modal dialogs the root shows on its overlay stack:
// one choice dialog serves host-key trust, ask-on-fail, quit and
// destructive confirmations (optionally requiring a typed confirmation).
package dialog

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tappaas/tappaas/tui/common"
)

// Option is one button.
type Option struct {
	// Key is a single-key shortcut ("r"); may be empty.
	Key   string
	Label string
	Value string
	// Danger options need the typed confirmation (when one is set).
	Danger bool
}

// Choice is a modal asking the operator to pick one option.
type Choice struct {
	com    *common.Common
	id     string
	title  string
	body   []string
	opts   []Option
	sel    int
	cancel string // value chosen by esc; "" = esc does nothing
	typed  string // text the operator must type before a Danger option
	input  textinput.Model
	errMsg string
	result func(value string) tea.Msg
}

// ChosenMsg is the default result message.
type ChosenMsg struct{ ID, Value string }

// New builds a choice dialog. result turns the chosen value into the message
// the root delivers to the screen below (nil: ChosenMsg).
func New(com *common.Common, id, title string, body []string, opts []Option, result func(string) tea.Msg) *Choice {
	if result == nil {
		result = func(v string) tea.Msg { return ChosenMsg{ID: id, Value: v} }
	}
	return &Choice{com: com, id: id, title: title, body: body, opts: opts, result: result}
}

// WithCancel sets the value esc chooses.
func (d *Choice) WithCancel(value string) *Choice { d.cancel = value; return d }

// WithDefault selects the option with value v.
func (d *Choice) WithDefault(v string) *Choice {
	for i, o := range d.opts {
		if o.Value == v {
			d.sel = i
		}
	}
	return d
}

// WithTyped requires the operator to type text before any Danger option.
func (d *Choice) WithTyped(text string) *Choice {
	d.typed = text
	d.input = textinput.New()
	d.input.SetStyles(d.com.Styles.TextInput())
	d.input.Prompt = "> "
	d.input.SetWidth(len(text) + 2)
	d.input.Focus()
	return d
}

// ID implements common.Dialog.
func (d *Choice) ID() string { return d.id }

// Selected is the highlighted option's value.
func (d *Choice) Selected() string { return d.opts[d.sel].Value }

// Update implements common.Dialog.
func (d *Choice) Update(msg tea.Msg) (common.Dialog, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if d.typed != "" {
			var cmd tea.Cmd
			d.input, cmd = d.input.Update(msg)
			return d, cmd
		}
		return d, nil
	}
	km := d.com.Keys.Dialog
	switch {
	case key.Matches(k, km.Cancel):
		if d.cancel != "" {
			return d, d.choose(d.cancel)
		}
		return d, nil
	case key.Matches(k, km.Confirm):
		return d, d.pick(d.sel)
	case k.String() == "left" || k.String() == "shift+tab":
		d.sel = (d.sel + len(d.opts) - 1) % len(d.opts)
		return d, nil
	case k.String() == "right" || k.String() == "tab":
		d.sel = (d.sel + 1) % len(d.opts)
		return d, nil
	}
	if d.typed != "" {
		var cmd tea.Cmd
		d.input, cmd = d.input.Update(msg)
		d.errMsg = ""
		return d, cmd
	}
	for i, o := range d.opts {
		if o.Key != "" && k.String() == o.Key {
			d.sel = i
			return d, d.pick(i)
		}
	}
	return d, nil
}

func (d *Choice) pick(i int) tea.Cmd {
	o := d.opts[i]
	if o.Danger && d.typed != "" && strings.TrimSpace(d.input.Value()) != d.typed {
		d.errMsg = "type exactly: " + d.typed
		return nil
	}
	return d.choose(o.Value)
}

func (d *Choice) choose(v string) tea.Cmd {
	res := d.result(v)
	return tea.Sequence(common.CloseDialogCmd(d.id), common.MsgCmd(res))
}

// View implements common.Dialog.
func (d *Choice) View(width, height int) string {
	st := d.com.Styles
	w := min(max(width-8, 30), 72)
	inner := w - 4
	var b strings.Builder
	b.WriteString(st.Dialog.Title.Render(d.title))
	for _, l := range d.body {
		b.WriteString("\n")
		b.WriteString(lipgloss.NewStyle().Width(inner).Render(l))
	}
	if d.typed != "" {
		b.WriteString("\n\n" + st.Dialog.Danger.Render("Type "+d.typed+" to confirm:") + "\n")
		b.WriteString(d.input.View())
		if d.errMsg != "" {
			b.WriteString("\n" + st.Error.Render(d.errMsg))
		}
	}
	b.WriteString("\n\n")
	var btns []string
	for i, o := range d.opts {
		label := o.Label
		if o.Key != "" {
			label = "[" + o.Key + "] " + label
		}
		if i == d.sel {
			btns = append(btns, st.Dialog.ButtonActive.Render(label))
		} else {
			btns = append(btns, st.Dialog.Button.Render(label))
		}
	}
	b.WriteString(lipgloss.NewStyle().Width(inner).Render(strings.Join(btns, " ")))
	return st.Dialog.Box.Width(w).Render(b.String())
}

// ShortHelp implements help.KeyMap.
func (d *Choice) ShortHelp() []key.Binding {
	km := d.com.Keys.Dialog
	bs := []key.Binding{km.Right, km.Confirm}
	if d.cancel != "" {
		bs = append(bs, km.Cancel)
	}
	return bs
}

// FullHelp implements help.KeyMap.
func (d *Choice) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }

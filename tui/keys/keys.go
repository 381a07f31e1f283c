// Package keys holds the TUI's key bindings, grouped by area. Screens take
// their bindings from here so help text and behaviour stay in one place.
package keys

import "charm.land/bubbles/v2/key"

// KeyMap is every binding of the application.
type KeyMap struct {
	Global struct {
		Quit, ForceQuit, Help, Back key.Binding
	}
	List struct {
		Up, Down, Select, Top, Bottom, PageUp, PageDown key.Binding
	}
	Run struct {
		Pause, Retry, Skip, Quit, Focus, Follow, Search, Next, Prev, PageUp, PageDown, Top, Bottom, Continue key.Binding
	}
	Dialog struct {
		Left, Right, Confirm, Cancel key.Binding
	}
}

func b(help, desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
}

// Default returns the default key map.
func Default() *KeyMap {
	k := &KeyMap{}
	k.Global.Quit = b("q", "quit", "q")
	k.Global.ForceQuit = b("ctrl+c", "quit", "ctrl+c")
	k.Global.Help = b("?", "more keys", "?")
	k.Global.Back = b("esc", "back", "esc")

	k.List.Up = b("↑/k", "up", "up", "k")
	k.List.Down = b("↓/j", "down", "down", "j")
	k.List.Select = b("enter", "choose", "enter")
	k.List.Top = b("home/g", "top", "home", "g")
	k.List.Bottom = b("end/G", "end", "end", "G")
	k.List.PageUp = b("pgup", "page up", "pgup")
	k.List.PageDown = b("pgdn/space", "page down", "pgdown", "space")

	k.Run.Pause = b("p", "pause after step", "p")
	k.Run.Retry = b("r", "retry", "r")
	k.Run.Skip = b("s", "skip (optional)", "s")
	k.Run.Quit = b("q", "quit safely", "q")
	k.Run.Focus = b("tab", "steps/log", "tab")
	k.Run.Follow = b("f", "follow", "f")
	k.Run.Search = b("/", "search log", "/")
	k.Run.Next = b("n", "next match", "n")
	k.Run.Prev = b("N", "prev match", "N")
	k.Run.PageUp = b("pgup", "page up", "pgup", "ctrl+u")
	k.Run.PageDown = b("pgdn", "page down", "pgdown", "ctrl+d")
	k.Run.Top = b("g", "log top", "g")
	k.Run.Bottom = b("G", "log end", "G")
	k.Run.Continue = b("enter", "continue", "enter")

	k.Dialog.Left = b("←", "previous", "left", "shift+tab", "h")
	k.Dialog.Right = b("→", "next", "right", "tab", "l")
	k.Dialog.Confirm = b("enter", "confirm", "enter")
	k.Dialog.Cancel = b("esc", "cancel", "esc")
	return k
}

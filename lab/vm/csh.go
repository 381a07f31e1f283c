package vm

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/tappaas/tappaas/lab/shell"
)

// CshMode selects how faithfully the firewall's csh login shell is
// emulated for SSH command lines (the lab runs the accepted lines with sh
// semantics either way).
type CshMode int

const (
	// CshLenient refuses only what breaks before anything runs: a newline
	// inside quotes, $(…), a leading VAR=value and sh's if/then.
	CshLenient CshMode = iota
	// CshStrict also refuses, as tcsh 6.24 (FreeBSD's /bin/csh) does:
	// { and } as commands ("{: Command not found.", which breaks
	// `{ …; }` groups), sh builtins csh lacks (export, read, local, …),
	// undefined $variables ("X: Undefined variable.") and ! history
	// references ("b: Event not found.", even inside '…').
	CshStrict
)

// HandlerOptions tune Handler.
type HandlerOptions struct {
	// Csh is the firewall's csh emulation (default CshLenient).
	Csh CshMode
}

// Handler returns the guest's SSH command handler (an sshd.Handler): the
// user's login shell runs the command line. NixOS users get bash; on OPNsense,
// root's login shell is csh, so sh-only syntax in the command line itself
// fails the way csh fails — the installer must wrap such commands in /bin/sh
// (docs/upstream.md#firewall-takeover). See HandlerWith.
func Handler(kind string, in *shell.Interp) func(ctx context.Context, user, command string, stdin io.Reader, stdout, stderr io.Writer) int {
	return HandlerWith(kind, in, HandlerOptions{})
}

// HandlerWith is Handler with options.
func HandlerWith(kind string, in *shell.Interp, o HandlerOptions) func(ctx context.Context, user, command string, stdin io.Reader, stdout, stderr io.Writer) int {
	return func(ctx context.Context, user, command string, stdin io.Reader, stdout, stderr io.Writer) int {
		home := "/home/" + user
		if user == "root" {
			home = "/root"
		}
		vars := map[string]string{"USER": user, "LOGNAME": user, "HOME": home, "PWD": home}
		switch kind {
		case OPNsense:
			vars["SHELL"] = "/bin/csh"
			vars["PATH"] = "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin:/root/bin"
			if msg := cshCheck(command, o.Csh, vars); msg != "" {
				fmt.Fprintln(stderr, msg)
				return 1
			}
		default:
			vars["SHELL"] = "/run/current-system/sw/bin/bash"
			vars["PATH"] = home + "/bin:/run/wrappers/bin:" + home + "/.nix-profile/bin:/nix/profile/bin:/etc/profiles/per-user/" + user + "/bin:/nix/var/nix/profiles/default/bin:/run/current-system/sw/bin"
		}
		return in.Run(ctx, command, stdin, stdout, stderr, vars)
	}
}

// cshOnlyInSh are sh builtins and keywords tcsh does not have.
var cshOnlyInSh = map[string]bool{"{": true, "}": true, "export": true, "read": true, "local": true, "readonly": true,
	"declare": true, "typeset": true, "return": true, ".": true, "function": true, "then": true, "fi": true, "do": true,
	"done": true, "esac": true, "[[": true, "elif": true, "trap": true, "getopts": true, "type": true, "command": true}

// cshVars are the variables tcsh defines itself.
var cshVars = map[string]bool{"status": true, "cwd": true, "home": true, "path": true, "user": true, "term": true,
	"shell": true, "prompt": true, "argv": true, "tcsh": true, "version": true, "uid": true, "gid": true}

// cshCheck reports what csh would say about a command line ("" if it
// accepts it). vars is the login environment (for undefined variables).
func cshCheck(cmd string, mode CshMode, vars map[string]string) string {
	var plain strings.Builder  // quoted text blanked (for syntax)
	var expand strings.Builder // '…' blanked, "…" kept (for $variables)
	quote := byte(0)
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		if mode == CshStrict && c == '!' && (i == 0 || cmd[i-1] != '\\') && i+1 < len(cmd) && !strings.ContainsRune(" \t\n=(", rune(cmd[i+1])) {
			j := i + 1
			for j < len(cmd) && !strings.ContainsRune(" \t\n'\";&|()<>", rune(cmd[j])) {
				j++
			}
			return cmd[i+1:j] + ": Event not found."
		}
		switch {
		case quote != 0:
			if c == '\n' {
				return "Unmatched '" + string(quote) + "'."
			}
			if c == quote {
				quote = 0
				plain.WriteByte(c)
				expand.WriteByte(c)
				continue
			}
			plain.WriteByte('x')
			if quote == '"' {
				expand.WriteByte(c)
			} else {
				expand.WriteByte('x')
			}
		case c == '\\' && i+1 < len(cmd):
			plain.WriteString("xx")
			expand.WriteString("xx")
			i++
		case c == '\'' || c == '"':
			quote = c
			plain.WriteByte(c)
			expand.WriteByte(c)
		default:
			plain.WriteByte(c)
			expand.WriteByte(c)
		}
	}
	if quote != 0 {
		return "Unmatched '" + string(quote) + "'."
	}
	text := plain.String()
	if strings.Contains(expand.String(), "$(") {
		return "Illegal variable name."
	}
	for _, w := range commandWords(text, cmd) {
		switch {
		case isAssignment(w.plain):
			return w.orig + ": Command not found."
		case w.plain == "if" && (strings.Contains(text, "; then") || strings.Contains(text, "\nthen")):
			return "if: Expression Syntax."
		case mode == CshStrict && cshOnlyInSh[w.plain]:
			return w.plain + ": Command not found."
		}
	}
	if mode == CshStrict {
		ex := expand.String()
		for i := 0; i < len(ex); i++ {
			if ex[i] != '$' || i+1 >= len(ex) {
				continue
			}
			j := i + 1
			if ex[j] == '{' {
				j++
			}
			k := j
			for k < len(ex) && (ex[k] == '_' || ex[k] >= 'a' && ex[k] <= 'z' || ex[k] >= 'A' && ex[k] <= 'Z' || k > j && ex[k] >= '0' && ex[k] <= '9') {
				k++
			}
			name := ex[j:k]
			if name == "" {
				continue
			}
			if _, ok := vars[name]; !ok && !cshVars[name] && name != "PATH" && name != "TERM" {
				return name + ": Undefined variable."
			}
		}
	}
	return ""
}

type cmdWord struct{ plain, orig string }

// commandWords returns the words in command position (after ; && || | &
// ( or a line start), from the blanked text and the original command.
func commandWords(plain, orig string) []cmdWord {
	var out []cmdWord
	atStart := true
	for i := 0; i < len(plain); {
		c := plain[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.ContainsRune(";&|(\n", rune(c)):
			atStart = true
			i++
		case c == ')':
			i++
		default:
			j := i
			for j < len(plain) && !strings.ContainsRune(" \t;&|()\n", rune(plain[j])) {
				j++
			}
			if atStart {
				out = append(out, cmdWord{plain: plain[i:j], orig: orig[i:j]})
			}
			atStart = false
			i = j
		}
	}
	return out
}

// isAssignment reports whether word looks like sh's NAME=value.
func isAssignment(word string) bool {
	name, _, ok := strings.Cut(word, "=")
	return ok && shell.IsName(name)
}

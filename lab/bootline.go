package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/lab/sshd"
)

// sshBootLine is the one command line tappaas's SSH executor sends to every
// login shell (backends/ssh: the script itself follows on stdin, encoded on
// one line for `printf %b`). The lab decodes it so the access log, the
// counters and command faults see the real script, not the fixed line.
const sshBootLine = `exec /bin/sh -c 'IFS= read -r s && eval "$(printf %b "$s")"'`

// unwrapBootLine returns the script carried on stdin when command is the
// executor's boot line, and the rest of stdin for the script itself. For any
// other command it returns command and stdin unchanged. Running the decoded
// script with the rest of stdin is what `/bin/sh -c` would do with the line.
func unwrapBootLine(command string, stdin io.Reader) (string, io.Reader, bool) {
	if command != sshBootLine || stdin == nil {
		return command, stdin, false
	}
	br := bufio.NewReader(stdin)
	line, err := br.ReadString('\n')
	if err != nil && line == "" {
		return command, br, false
	}
	return decodePrintfB(strings.TrimSuffix(line, "\n")), br, true
}

// decodePrintfB undoes the executor's encoding: `\\` → `\`, `\n` → newline
// (the only escapes it produces); other escapes are kept as printf %b
// would interpret the common ones.
func decodePrintfB(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// encodeBootScript is the executor's encoding of script for the boot line
// (the inverse of decodePrintfB for what the executor produces).
func encodeBootScript(script string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(script) + "\n"
}

// sshAgentScript is the executor's persistent shell (backends/ssh
// agentScript), run behind the boot line. The lab serves it natively, so
// every request is logged, counted and open to faults like an exec
// request; the protocol is the executor's: a token line, a line count, the
// script's lines; after the command "\x1e" TOKEN " " CODE "\n" on stdout
// and "\x1e" TOKEN "\n" on stderr. The session's end ends the shell and
// cancels a running command (the executor's watchdog kills its group).
const sshAgentScript = `exec 3<&0 </dev/null
{ while IFS= read -r l <&3; do printf '%s\n' "$l" || break; done; kill -KILL 0; } 2>/dev/null | while IFS= read -r t && IFS= read -r n; do
s=; while [ "$n" -gt 0 ] && IFS= read -r l; do s="$s$l
"; n=$((n-1)); done
( unset t n l c; eval "unset s
$s" ) </dev/null 3<&-
c=$?
printf '\036%s %d\n' "$t" "$c"
printf '\036%s\n' "$t" >&2
done`

// serveAgent is sshAgentScript: one request after the other until stdin
// ends. A drop fault (--drop-ssh-at) counts each request as a command and
// severs the connection before it runs.
func (l *Lab) serveAgent(ctx context.Context, user string, stdin io.Reader, stdout, stderr io.Writer) int {
	r := bufio.NewReader(stdin)
	for {
		token, err := r.ReadString('\n')
		if err != nil {
			return 0
		}
		nl, err := r.ReadString('\n')
		if err != nil {
			return 0
		}
		n, err := strconv.Atoi(strings.TrimSuffix(nl, "\n"))
		if err != nil || n < 0 {
			return 2
		}
		var b strings.Builder
		for ; n > 0; n-- {
			line, err := r.ReadString('\n')
			if err != nil {
				return 0
			}
			b.WriteString(line)
		}
		token = strings.TrimSuffix(token, "\n")
		drop, after := l.faults.Command()
		if drop && !after {
			sshd.DropConnection(ctx)
			return 0
		}
		code := l.runScript(ctx, user, strings.TrimSuffix(b.String(), "\n"), true, strings.NewReader(""), stdout, stderr)
		if drop { // +after: the command ran, the link goes before its answer
			sshd.DropConnection(ctx)
			return 0
		}
		if ctx.Err() != nil {
			return 0
		}
		fmt.Fprintf(stdout, "\x1e%s %d\n", token, code&0xff)
		fmt.Fprintf(stderr, "\x1e%s\n", token)
	}
}

package lab

import (
	"bufio"
	"io"
	"strings"
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

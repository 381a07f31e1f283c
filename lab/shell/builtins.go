package shell

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"time"
)

// builtins returns the replaceable commands every lab host has.
func builtins() map[string]Command {
	return map[string]Command{
		"true": func(*Env) int { return 0 }, ":": func(*Env) int { return 0 }, "false": func(*Env) int { return 1 },
		"echo": cmdEcho, "printf": cmdPrintf, "cat": cmdCat, "tee": cmdTee, "test": cmdTest, "[": cmdTest,
		"mkdir": cmdMkdir, "rm": cmdRm, "rmdir": cmdRmdir, "mv": cmdMv, "cp": cmdCp, "chmod": cmdChmod, "chown": cmdChown,
		"ls": cmdLs, "sha256sum": hashCmd(sha256.New), "sha512sum": hashCmd(sha512.New), "md5sum": hashCmd(md5.New),
		"head": cmdHead, "tail": cmdTail, "grep": cmdGrep, "egrep": cmdGrep, "fgrep": cmdGrep, "wc": cmdWc,
		"sleep": cmdSleep, "env": cmdEnv, "printenv": cmdPrintenv, "uname": cmdUname, "id": cmdID, "whoami": cmdWhoami,
		"hostname": cmdHostname, "base64": cmdBase64, "touch": cmdTouch, "ln": cmdLn, "stat": cmdStat, "date": cmdDate,
		"basename": cmdBasename, "dirname": cmdDirname, "readlink": cmdReadlink, "realpath": cmdRealpath,
		"mktemp": cmdMktemp, "tr": cmdTr, "cut": cmdCut, "sort": cmdSort, "uniq": cmdUniq, "seq": cmdSeq,
		"sync": func(*Env) int { return 0 }, "nohup": cmdNohup, "timeout": cmdTimeout, "sudo": cmdSudo,
		"which": cmdWhich, "xargs": cmdXargs, "find": cmdFind, "sed": cmdSed,
	}
}

// ---- option parsing ----

type opts struct {
	set  map[byte]bool
	val  map[byte]string
	args []string
}

func (o *opts) has(c byte) bool { return o.set[c] }

// getopt parses GNU-style options: spec lists letters, a ':' after one
// takes an argument; long maps --name to a letter. Options may follow
// operands; "--" ends them. On error it prints coreutils' message.
func getopt(e *Env, spec string, long map[string]byte) (*opts, bool) {
	o := &opts{set: map[byte]bool{}, val: map[byte]string{}}
	takes := func(c byte) (bool, bool) {
		i := strings.IndexByte(spec, c)
		if i < 0 {
			return false, false
		}
		return true, i+1 < len(spec) && spec[i+1] == ':'
	}
	args := e.Args[1:]
	for k := 0; k < len(args); k++ {
		a := args[k]
		if a == "--" {
			o.args = append(o.args, args[k+1:]...)
			break
		}
		if strings.HasPrefix(a, "--") {
			name, v, hasV := strings.Cut(a[2:], "=")
			c, ok := long[name]
			if !ok {
				fmt.Fprintf(e.Stderr, "%s: unrecognized option '%s'\nTry '%s --help' for more information.\n", e.Name(), a, e.Name())
				return nil, false
			}
			_, arg := takes(c)
			if arg && !hasV {
				if k+1 >= len(args) {
					fmt.Fprintf(e.Stderr, "%s: option '--%s' requires an argument\nTry '%s --help' for more information.\n", e.Name(), name, e.Name())
					return nil, false
				}
				k++
				v = args[k]
			}
			o.set[c] = true
			o.val[c] = v
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			o.args = append(o.args, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			known, arg := takes(c)
			if !known {
				fmt.Fprintf(e.Stderr, "%s: invalid option -- '%c'\nTry '%s --help' for more information.\n", e.Name(), c, e.Name())
				return nil, false
			}
			o.set[c] = true
			if arg {
				if j+1 < len(a) {
					o.val[c] = a[j+1:]
				} else if k+1 < len(args) {
					k++
					o.val[c] = args[k]
				} else {
					fmt.Fprintf(e.Stderr, "%s: option requires an argument -- '%c'\nTry '%s --help' for more information.\n", e.Name(), c, e.Name())
					return nil, false
				}
				break
			}
		}
	}
	return o, true
}

func missingOperand(e *Env) int {
	fmt.Fprintf(e.Stderr, "%s: missing operand\nTry '%s --help' for more information.\n", e.Name(), e.Name())
	return 1
}

// readInput reads a file operand ("-" = stdin).
func readInput(e *Env, name string) ([]byte, error) {
	if name == "-" || name == "/dev/stdin" {
		return io.ReadAll(e.Stdin)
	}
	if name == "/dev/null" {
		return nil, nil
	}
	return e.FS.ReadFile(e.Abs(name))
}

// ---- echo / printf ----

func cmdEcho(e *Env) int {
	args := e.Args[1:]
	newline, escapes := true, false
	if e.st != nil && e.st.dash {
		// dash: only -n, and backslash escapes always interpreted
		if len(args) > 0 && args[0] == "-n" {
			newline = false
			args = args[1:]
		}
		out, stop := expandEscapes(strings.Join(args, " "), true)
		if newline && !stop {
			out += "\n"
		}
		if _, err := io.WriteString(e.Stdout, out); err != nil {
			return 1
		}
		return 0
	}
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && strings.Trim(args[0][1:], "neE") == "" {
		for _, f := range args[0][1:] {
			switch f {
			case 'n':
				newline = false
			case 'e':
				escapes = true
			case 'E':
				escapes = false
			}
		}
		args = args[1:]
	}
	s := strings.Join(args, " ")
	if escapes {
		var stop bool
		s, stop = expandEscapes(s, true)
		if stop {
			newline = false
		}
	}
	if newline {
		s += "\n"
	}
	_, err := io.WriteString(e.Stdout, s)
	if err != nil {
		return 1
	}
	return 0
}

// expandEscapes interprets backslash escapes (echo -e, printf %b and
// formats); stop is true after \c.
func expandEscapes(s string, echoStyle bool) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'v':
			b.WriteByte(11)
		case 'e', 'E':
			b.WriteByte(27)
		case '\\':
			b.WriteByte('\\')
		case 'c':
			return b.String(), true
		case '"':
			b.WriteByte('"')
		case '\'':
			b.WriteByte('\'')
		case 'x':
			j := i + 1
			for j < len(s) && j < i+3 && isHex(s[j]) {
				j++
			}
			if j == i+1 {
				b.WriteString("\\x")
				continue
			}
			v, _ := strconv.ParseUint(s[i+1:j], 16, 8)
			b.WriteByte(byte(v))
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			start := i
			if s[i] == '0' && echoStyle {
				start = i + 1
			}
			j := start
			for j < len(s) && j < start+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint("0"+s[start:j], 8, 16)
			b.WriteByte(byte(v))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String(), false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func cmdPrintf(e *Env) int {
	args := e.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) > 0 && args[0] == "-v" {
		return e.Errorf(2, "-v: not supported in the lab shell")
	}
	if len(args) == 0 {
		fmt.Fprintln(e.Stderr, "printf: usage: printf [-v var] format [arguments]")
		return 2
	}
	format, vals := args[0], args[1:]
	var out strings.Builder
	status := 0
	for first := true; first || len(vals) > 0; first = false {
		consumed := 0
		stop := false
		for i := 0; i < len(format); i++ {
			c := format[i]
			if c == '\\' {
				j := i + 1
				if j < len(format) && format[j] >= '0' && format[j] <= '7' {
					for j < len(format) && j < i+4 && format[j] >= '0' && format[j] <= '7' {
						j++
					}
				} else if j < len(format) && format[j] == 'x' {
					j++
					for j < len(format) && j < i+4 && isHex(format[j]) {
						j++
					}
				} else {
					j++
				}
				if j > len(format) {
					j = len(format)
				}
				s, st := expandEscapes(format[i:j], false)
				out.WriteString(s)
				if st {
					stop = true
					break
				}
				i = j - 1
				continue
			}
			if c != '%' {
				out.WriteByte(c)
				continue
			}
			if i+1 < len(format) && format[i+1] == '%' {
				out.WriteByte('%')
				i++
				continue
			}
			j := i + 1
			for j < len(format) && strings.IndexByte("-+ #0", format[j]) >= 0 {
				j++
			}
			for j < len(format) && (format[j] >= '0' && format[j] <= '9' || format[j] == '.') {
				j++
			}
			if j >= len(format) {
				out.WriteString(format[i:])
				break
			}
			spec := format[i:j]
			verb := format[j]
			i = j
			arg := ""
			if consumed < len(vals) {
				arg = vals[consumed]
			}
			consumed++
			switch verb {
			case 's':
				out.WriteString(fmt.Sprintf(spec+"s", arg))
			case 'b':
				s, st := expandEscapes(arg, true)
				out.WriteString(fmt.Sprintf(spec+"s", s))
				if st {
					stop = true
				}
			case 'q':
				out.WriteString(quoteWord(arg))
			case 'c':
				if arg != "" {
					out.WriteString(fmt.Sprintf(spec+"c", []rune(arg)[0]))
				}
			case 'd', 'i', 'u', 'x', 'X', 'o':
				n, err := parsePrintfInt(arg)
				if err != nil {
					fmt.Fprintf(e.Stderr, "printf: %s: invalid number\n", arg)
					status = 1
				}
				v := verb
				if v == 'i' || v == 'u' {
					v = 'd'
				}
				out.WriteString(fmt.Sprintf(spec+string(v), n))
			case 'f', 'e', 'g', 'E', 'G':
				f, err := strconv.ParseFloat(strings.TrimSpace(arg), 64)
				if err != nil && arg != "" {
					fmt.Fprintf(e.Stderr, "printf: %s: invalid number\n", arg)
					status = 1
				}
				out.WriteString(fmt.Sprintf(spec+string(verb), f))
			default:
				fmt.Fprintf(e.Stderr, "printf: `%c': invalid format character\n", verb)
				return 1
			}
		}
		if stop || consumed == 0 {
			break
		}
		if consumed > len(vals) {
			consumed = len(vals)
		}
		vals = vals[consumed:]
	}
	if _, err := io.WriteString(e.Stdout, out.String()); err != nil {
		return 1
	}
	return status
}

func parsePrintfInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') {
		return int64([]rune(s[1:])[0]), nil
	}
	return strconv.ParseInt(s, 0, 64)
}

// ---- files ----

func cmdCat(e *Env) int {
	o, ok := getopt(e, "nuAvetsE", map[string]byte{"number": 'n'})
	if !ok {
		return 1
	}
	files := o.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	lineNo := 0
	for _, f := range files {
		if f == "-" {
			if o.has('n') {
				b, _ := io.ReadAll(e.Stdin)
				writeNumbered(e.Stdout, b, &lineNo)
				continue
			}
			if _, err := io.Copy(e.Stdout, e.Stdin); err != nil {
				return 1
			}
			continue
		}
		b, err := readInput(e, f)
		if err != nil {
			fmt.Fprintf(e.Stderr, "cat: %s: %s\n", f, errText(err))
			status = 1
			continue
		}
		if o.has('n') {
			writeNumbered(e.Stdout, b, &lineNo)
			continue
		}
		if _, err := e.Stdout.Write(b); err != nil {
			return 1
		}
	}
	return status
}

func writeNumbered(w io.Writer, b []byte, n *int) {
	for _, l := range splitLines(string(b)) {
		*n++
		fmt.Fprintf(w, "%6d\t%s\n", *n, l)
	}
}

// splitLines splits text into lines without their newlines; a final line
// without newline is kept.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}

func cmdTee(e *Env) int {
	o, ok := getopt(e, "ai", map[string]byte{"append": 'a'})
	if !ok {
		return 1
	}
	status := 0
	var names []string
	for _, f := range o.args {
		p := e.Abs(f)
		if f == "/dev/null" {
			continue
		}
		var err error
		if o.has('a') {
			err = e.FS.AppendFile(p, nil, 0o644)
		} else {
			err = e.FS.WriteFile(p, nil, 0o644)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "tee: %s: %s\n", f, errText(err))
			status = 1
			continue
		}
		names = append(names, p)
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := e.Stdin.Read(buf)
		if n > 0 {
			for _, p := range names {
				if werr := e.FS.AppendFile(p, buf[:n], 0o644); werr != nil {
					fmt.Fprintf(e.Stderr, "tee: %s: %s\n", p, errText(werr))
					status = 1
				}
			}
			if _, werr := e.Stdout.Write(buf[:n]); werr != nil {
				status = 1
			}
		}
		if err != nil {
			break
		}
		if e.Ctx != nil && e.Ctx.Err() != nil {
			return 130
		}
	}
	return status
}

func cmdMkdir(e *Env) int {
	o, ok := getopt(e, "pm:v", map[string]byte{"parents": 'p', "mode": 'm', "verbose": 'v'})
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return missingOperand(e)
	}
	mode := fs.FileMode(0o755)
	if o.has('m') {
		m, err := applyMode(0o777, o.val['m'], false)
		if err != nil {
			return e.Errorf(1, "invalid mode '%s'", o.val['m'])
		}
		mode = m
	}
	status := 0
	for _, d := range o.args {
		p := e.Abs(d)
		var err error
		if o.has('p') {
			err = e.FS.MkdirAll(p, mode)
		} else if mk, ok := e.FS.(interface {
			Mkdir(string, fs.FileMode) error
		}); ok {
			err = mk.Mkdir(p, mode)
		} else {
			if _, serr := e.FS.Stat(p); serr == nil {
				err = fs.ErrExist
			} else if _, perr := e.FS.Stat(path.Dir(p)); perr != nil {
				err = perr
			} else {
				err = e.FS.MkdirAll(p, mode)
			}
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "mkdir: cannot create directory '%s': %s\n", d, errText(err))
			status = 1
			continue
		}
		if o.has('m') {
			_ = e.FS.Chmod(p, mode)
		}
		if o.has('v') {
			fmt.Fprintf(e.Stdout, "mkdir: created directory '%s'\n", d)
		}
	}
	return status
}

func cmdRm(e *Env) int {
	o, ok := getopt(e, "frRivd", map[string]byte{"force": 'f', "recursive": 'r', "verbose": 'v', "dir": 'd', "no-preserve-root": 'P'})
	if !ok {
		return 1
	}
	recursive := o.has('r') || o.has('R')
	if len(o.args) == 0 {
		if o.has('f') {
			return 0
		}
		return missingOperand(e)
	}
	status := 0
	for _, f := range o.args {
		p := e.Abs(f)
		if p == "/" && recursive {
			fmt.Fprintf(e.Stderr, "rm: it is dangerous to operate recursively on '/'\nrm: use --no-preserve-root to override this failsafe\n")
			status = 1
			continue
		}
		fi, err := lstat(e.FS, p)
		if err != nil {
			if !o.has('f') {
				fmt.Fprintf(e.Stderr, "rm: cannot remove '%s': %s\n", f, errText(err))
				status = 1
			}
			continue
		}
		if fi.IsDir && fi.Mode&fs.ModeSymlink == 0 {
			if !recursive && !o.has('d') {
				fmt.Fprintf(e.Stderr, "rm: cannot remove '%s': Is a directory\n", f)
				status = 1
				continue
			}
			if recursive {
				err = e.FS.RemoveAll(p)
			} else {
				err = e.FS.Remove(p)
			}
		} else {
			err = e.FS.Remove(p)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "rm: cannot remove '%s': %s\n", f, errText(err))
			status = 1
			continue
		}
		if o.has('v') {
			fmt.Fprintf(e.Stdout, "removed '%s'\n", f)
		}
	}
	return status
}

func lstat(fsys FS, p string) (FileInfo, error) {
	if l, ok := fsys.(Linker); ok {
		return l.Lstat(p)
	}
	return fsys.Stat(p)
}

func cmdRmdir(e *Env) int {
	o, ok := getopt(e, "p", map[string]byte{"parents": 'p'})
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return missingOperand(e)
	}
	status := 0
	for _, d := range o.args {
		p := e.Abs(d)
		fi, err := e.FS.Stat(p)
		if err == nil && !fi.IsDir {
			err = errNotDir
		}
		if err == nil {
			err = e.FS.Remove(p)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "rmdir: failed to remove '%s': %s\n", d, errText(err))
			status = 1
		}
	}
	return status
}

func cmdMv(e *Env) int {
	o, ok := getopt(e, "fnviT", map[string]byte{"force": 'f', "no-clobber": 'n', "verbose": 'v'})
	if !ok {
		return 1
	}
	srcs, dst, dp, dstDir, rc := destOperands(e, "mv", o)
	if rc >= 0 {
		return rc
	}
	status := 0
	for _, s := range srcs {
		sp := e.Abs(s)
		if _, err := lstat(e.FS, sp); err != nil {
			fmt.Fprintf(e.Stderr, "mv: cannot stat '%s': %s\n", s, errText(err))
			status = 1
			continue
		}
		target := dp
		if dstDir {
			target = path.Join(dp, path.Base(sp))
		}
		if o.has('n') {
			if _, err := e.FS.Stat(target); err == nil {
				continue
			}
		}
		if err := e.FS.Rename(sp, target); err != nil {
			fmt.Fprintf(e.Stderr, "mv: cannot move '%s' to '%s': %s\n", s, dst, errText(err))
			status = 1
		}
	}
	return status
}

// destOperands splits the operands of mv or cp (named by cmd) into the
// sources and the destination (as given, and absolute), and says whether the
// destination is a directory to move/copy into. rc >= 0 means the command
// must exit with it (GNU coreutils' messages for missing or bad operands).
func destOperands(e *Env, cmd string, o *opts) (srcs []string, dst, dp string, dstDir bool, rc int) {
	if len(o.args) < 2 {
		if len(o.args) == 1 {
			fmt.Fprintf(e.Stderr, "%s: missing destination file operand after '%s'\nTry '%s --help' for more information.\n", cmd, o.args[0], cmd)
			return nil, "", "", false, 1
		}
		fmt.Fprintf(e.Stderr, "%s: missing file operand\nTry '%s --help' for more information.\n", cmd, cmd)
		return nil, "", "", false, 1
	}
	srcs, dst = o.args[:len(o.args)-1], o.args[len(o.args)-1]
	dp = e.Abs(dst)
	dfi, derr := e.FS.Stat(dp)
	dstDir = derr == nil && dfi.IsDir && !o.has('T')
	if len(srcs) > 1 && !dstDir {
		fmt.Fprintf(e.Stderr, "%s: target '%s': Not a directory\n", cmd, dst)
		return nil, "", "", false, 1
	}
	return srcs, dst, dp, dstDir, -1
}

func cmdCp(e *Env) int {
	o, ok := getopt(e, "rRapfvnT", map[string]byte{"recursive": 'r', "archive": 'a', "force": 'f', "preserve": 'p', "verbose": 'v', "no-clobber": 'n'})
	if !ok {
		return 1
	}
	recursive := o.has('r') || o.has('R') || o.has('a')
	srcs, dst, dp, dstDir, rc := destOperands(e, "cp", o)
	if rc >= 0 {
		return rc
	}
	status := 0
	for _, s := range srcs {
		sp := e.Abs(s)
		fi, err := e.FS.Stat(sp)
		if err != nil {
			fmt.Fprintf(e.Stderr, "cp: cannot stat '%s': %s\n", s, errText(err))
			status = 1
			continue
		}
		target := dp
		if dstDir {
			target = path.Join(dp, path.Base(sp))
		}
		if fi.IsDir {
			if !recursive {
				fmt.Fprintf(e.Stderr, "cp: -r not specified; omitting directory '%s'\n", s)
				status = 1
				continue
			}
			if target == sp || strings.HasPrefix(target, sp+"/") {
				fmt.Fprintf(e.Stderr, "cp: cannot copy a directory, '%s', into itself, '%s'\n", s, dst)
				status = 1
				continue
			}
			if err := copyTree(e.FS, sp, target); err != nil {
				fmt.Fprintf(e.Stderr, "cp: cannot create '%s': %s\n", dst, errText(err))
				status = 1
			}
			continue
		}
		if o.has('n') {
			if _, err := e.FS.Stat(target); err == nil {
				continue
			}
		}
		if err := copyFile(e.FS, sp, target, fi.Mode); err != nil {
			fmt.Fprintf(e.Stderr, "cp: cannot create regular file '%s': %s\n", dst, errText(err))
			status = 1
		}
	}
	return status
}

func copyFile(fsys FS, from, to string, mode fs.FileMode) error {
	b, err := fsys.ReadFile(from)
	if err != nil {
		return err
	}
	if err := fsys.WriteFile(to, b, mode.Perm()); err != nil {
		return err
	}
	return nil
}

func copyTree(fsys FS, from, to string) error {
	fi, err := fsys.Stat(from)
	if err != nil {
		return err
	}
	if !fi.IsDir {
		return copyFile(fsys, from, to, fi.Mode)
	}
	if err := fsys.MkdirAll(to, fi.Mode.Perm()); err != nil {
		return err
	}
	names, err := fsys.ReadDir(from)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := copyTree(fsys, path.Join(from, n), path.Join(to, n)); err != nil {
			return err
		}
	}
	return nil
}

// applyMode computes a new mode from an octal or symbolic chmod spec.
func applyMode(cur fs.FileMode, spec string, isDir bool) (fs.FileMode, error) {
	if spec == "" {
		return 0, errors.New("empty mode")
	}
	if spec[0] >= '0' && spec[0] <= '7' {
		n, err := strconv.ParseUint(spec, 8, 32)
		if err != nil || n > 0o7777 {
			return 0, errors.New("bad octal mode")
		}
		return modeFromUint(n), nil
	}
	m := uint32(cur.Perm())
	if cur&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if cur&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if cur&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	for _, clause := range strings.Split(spec, ",") {
		i := 0
		var who uint32
		for i < len(clause) && strings.IndexByte("ugoa", clause[i]) >= 0 {
			switch clause[i] {
			case 'u':
				who |= 0o4700
			case 'g':
				who |= 0o2070
			case 'o':
				who |= 0o1007
			case 'a':
				who |= 0o7777
			}
			i++
		}
		if i >= len(clause) {
			return 0, errors.New("bad mode")
		}
		for i < len(clause) {
			op := clause[i]
			if op != '+' && op != '-' && op != '=' {
				return 0, errors.New("bad mode")
			}
			i++
			var bits uint32
			for i < len(clause) && strings.IndexByte("rwxXst", clause[i]) >= 0 {
				switch clause[i] {
				case 'r':
					bits |= 0o444
				case 'w':
					bits |= 0o222
				case 'x':
					bits |= 0o111
				case 'X':
					if isDir || m&0o111 != 0 {
						bits |= 0o111
					}
				case 's':
					bits |= 0o6000
				case 't':
					bits |= 0o1000
				}
				i++
			}
			w := who
			if w == 0 {
				w = 0o7777 &^ 0o022 // umask-style default for "+x"
				if op == '=' {
					w = 0o7777
				}
			}
			switch op {
			case '+':
				m |= bits & w
			case '-':
				m &^= bits & w
			case '=':
				m = m&^(w&0o7777) | bits&w
			}
		}
	}
	return modeFromUint(uint64(m)), nil
}

func modeFromUint(n uint64) fs.FileMode {
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func cmdChmod(e *Env) int {
	// Modes like -x look like options; take the first non-option-looking
	// or symbolic argument as the mode.
	args := e.Args[1:]
	recursive, verbose := false, false
	var rest []string
	for k, a := range args {
		if a == "--" {
			rest = append(rest, args[k+1:]...)
			break
		}
		if a == "-R" || a == "--recursive" {
			recursive = true
			continue
		}
		if a == "-v" || a == "-c" || a == "-f" {
			verbose = verbose || a == "-v"
			continue
		}
		rest = append(rest, a)
	}
	if len(rest) < 2 {
		if len(rest) == 1 {
			fmt.Fprintf(e.Stderr, "chmod: missing operand after '%s'\nTry 'chmod --help' for more information.\n", rest[0])
			return 1
		}
		return missingOperand(e)
	}
	spec := rest[0]
	if _, err := applyMode(0o644, spec, false); err != nil {
		fmt.Fprintf(e.Stderr, "chmod: invalid mode: '%s'\nTry 'chmod --help' for more information.\n", spec)
		return 1
	}
	status := 0
	var walk func(p, shown string)
	walk = func(p, shown string) {
		fi, err := e.FS.Stat(p)
		if err != nil {
			fmt.Fprintf(e.Stderr, "chmod: cannot access '%s': %s\n", shown, errText(err))
			status = 1
			return
		}
		m, _ := applyMode(fi.Mode, spec, fi.IsDir)
		if err := e.FS.Chmod(p, m); err != nil {
			fmt.Fprintf(e.Stderr, "chmod: changing permissions of '%s': %s\n", shown, errText(err))
			status = 1
			return
		}
		if verbose {
			fmt.Fprintf(e.Stdout, "mode of '%s' changed to %04o (%s)\n", shown, uint32(m.Perm()), modeString(m, false))
		}
		if recursive && fi.IsDir {
			names, _ := e.FS.ReadDir(p)
			for _, n := range names {
				walk(path.Join(p, n), path.Join(shown, n))
			}
		}
	}
	for _, f := range rest[1:] {
		walk(e.Abs(f), f)
	}
	return status
}

// cmdChown is GNU chown [-R] [-h] OWNER[:[GROUP]] | :GROUP FILE...: names
// resolve through the host's /etc/passwd and /etc/group, and the
// filesystem enforces chown(2)'s rules (only root gives a file away), so a
// user's chown of a root-owned file fails as on Linux.
func cmdChown(e *Env) int {
	o, ok := getopt(e, "Rhvfc", map[string]byte{"recursive": 'R', "no-dereference": 'h'})
	if !ok {
		return 1
	}
	if len(o.args) < 2 {
		return missingOperand(e)
	}
	spec := o.args[0]
	uid, gid := -1, -1
	owner, group, hasGroup := strings.Cut(spec, ":")
	if owner != "" {
		u, ok := lookupUID(e.FS, owner)
		if !ok {
			return e.Errorf(1, "invalid user: '%s'", spec)
		}
		uid = u
		if hasGroup && group == "" {
			// OWNER: means the owner's login group.
			if g, ok := primaryGID(e.FS, u); ok {
				gid = g
			}
		}
	}
	if group != "" {
		g, ok := lookupGID(e.FS, group)
		if !ok {
			return e.Errorf(1, "invalid group: '%s'", spec)
		}
		gid = g
	}
	ch, _ := e.FS.(Chowner)
	status := 0
	var walk func(shown, p string, top bool)
	walk = func(shown, p string, top bool) {
		fi, err := lstat(e.FS, p)
		if err != nil {
			fmt.Fprintf(e.Stderr, "chown: cannot access '%s': %s\n", shown, errText(err))
			status = 1
			return
		}
		link := fi.Mode&fs.ModeSymlink != 0
		switch {
		case ch == nil:
		case link && (o.has('h') || !top):
			err = ch.Lchown(p, uid, gid)
		default:
			err = ch.Chown(p, uid, gid)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "chown: changing ownership of '%s': %s\n", shown, errText(err))
			status = 1
		}
		if o.has('R') && fi.IsDir && !link {
			names, err := e.FS.ReadDir(p)
			if err != nil {
				fmt.Fprintf(e.Stderr, "chown: cannot read directory '%s': %s\n", shown, errText(err))
				status = 1
				return
			}
			for _, n := range names {
				walk(path.Join(shown, n), path.Join(p, n), false)
			}
		}
	}
	for _, f := range o.args[1:] {
		walk(f, e.Abs(f), true)
	}
	return status
}

// modeString renders a mode like ls -l ("-rw-r--r--").
func modeString(m fs.FileMode, isDir bool) string {
	b := []byte("----------")
	switch {
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case isDir || m&fs.ModeDir != 0:
		b[0] = 'd'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m.Perm()&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	if m&fs.ModeSetuid != 0 {
		b[3] = map[bool]byte{true: 's', false: 'S'}[b[3] == 'x']
	}
	if m&fs.ModeSetgid != 0 {
		b[6] = map[bool]byte{true: 's', false: 'S'}[b[6] == 'x']
	}
	if m&fs.ModeSticky != 0 {
		b[9] = map[bool]byte{true: 't', false: 'T'}[b[9] == 'x']
	}
	return string(b)
}

func cmdLs(e *Env) int {
	o, ok := getopt(e, "laA1dhtrRF", map[string]byte{"all": 'a', "almost-all": 'A', "directory": 'd', "human-readable": 'h'})
	if !ok {
		return 2
	}
	targets := o.args
	if len(targets) == 0 {
		targets = []string{"."}
	}
	status := 0
	var files []string
	var dirs []string
	for _, t := range targets {
		fi, err := lstat(e.FS, e.Abs(t))
		if err != nil {
			fmt.Fprintf(e.Stderr, "ls: cannot access '%s': %s\n", t, errText(err))
			status = 2
			continue
		}
		if fi.Mode&fs.ModeSymlink != 0 && !o.has('l') && !o.has('d') {
			if rfi, err := e.FS.Stat(e.Abs(t)); err == nil {
				fi = rfi
			}
		}
		if fi.IsDir && !o.has('d') {
			dirs = append(dirs, t)
		} else {
			files = append(files, t)
		}
	}
	sort.Strings(files)
	sort.Strings(dirs)
	var pending []lsEntry
	flush := func() {
		w := 1
		for _, en := range pending {
			w = max(w, len(strconv.FormatInt(en.fi.Size, 10)))
		}
		for _, en := range pending {
			links := 1
			if en.fi.IsDir {
				links = 2
			}
			fmt.Fprintf(e.Stdout, "%s %d %s %s %*d %s %s%s\n", modeString(en.fi.Mode, en.fi.IsDir), links, userName(e.FS, en.fi.UID), groupName(e.FS, en.fi.GID), w, en.fi.Size,
				en.fi.ModTime.Format("Jan _2 15:04"), en.shown, en.suffix)
		}
		pending = pending[:0]
	}
	line := func(shown, p string) {
		if !o.has('l') {
			fmt.Fprintln(e.Stdout, shown)
			return
		}
		fi, err := lstat(e.FS, p)
		if err != nil {
			return
		}
		links := 1
		if fi.IsDir {
			links = 2
		}
		suffix := ""
		if fi.Mode&fs.ModeSymlink != 0 {
			if l, ok := e.FS.(Linker); ok {
				if t, err := l.Readlink(p); err == nil {
					suffix = " -> " + t
				}
			}
		}
		_ = links
		pending = append(pending, lsEntry{fi: fi, shown: shown, suffix: suffix})
	}
	for _, f := range files {
		line(f, e.Abs(f))
	}
	flush()
	for k, d := range dirs {
		if len(targets) > 1 {
			if k > 0 || len(files) > 0 {
				fmt.Fprintln(e.Stdout)
			}
			fmt.Fprintf(e.Stdout, "%s:\n", d)
		}
		names, err := e.FS.ReadDir(e.Abs(d))
		if err != nil {
			fmt.Fprintf(e.Stderr, "ls: cannot open directory '%s': %s\n", d, errText(err))
			status = 2
			continue
		}
		if o.has('l') {
			flush()
			fmt.Fprintf(e.Stdout, "total %d\n", len(names)*4)
		}
		if o.has('a') {
			line(".", e.Abs(d))
			line("..", path.Dir(e.Abs(d)))
		}
		for _, n := range names {
			if strings.HasPrefix(n, ".") && !o.has('a') && !o.has('A') {
				continue
			}
			line(n, path.Join(e.Abs(d), n))
		}
		flush()
	}
	return status
}

type lsEntry struct {
	fi            FileInfo
	shown, suffix string
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func hashCmd(newHash func() hash.Hash) Command {
	return func(e *Env) int {
		o, ok := getopt(e, "cbtwz", map[string]byte{"check": 'c', "binary": 'b', "text": 't', "status": 's', "quiet": 'q', "strict": 'S', "warn": 'w'})
		if !ok {
			return 1
		}
		files := o.args
		if len(files) == 0 {
			files = []string{"-"}
		}
		sum := func(b []byte) string {
			h := newHash()
			h.Write(b)
			return hex.EncodeToString(h.Sum(nil))
		}
		status := 0
		if o.has('c') {
			failed, bad := 0, 0
			for _, f := range files {
				b, err := readInput(e, f)
				if err != nil {
					fmt.Fprintf(e.Stderr, "%s: %s: %s\n", e.Name(), f, errText(err))
					status = 1
					continue
				}
				for _, l := range splitLines(string(b)) {
					want, name, ok := strings.Cut(l, "  ")
					if !ok {
						want, name, ok = strings.Cut(l, " *")
					}
					if !ok || len(want) != newHash().Size()*2 {
						bad++
						continue
					}
					data, err := readInput(e, name)
					if err != nil {
						fmt.Fprintf(e.Stderr, "%s: %s: %s\n", e.Name(), name, errText(err))
						if !o.has('q') && !o.has('s') {
							fmt.Fprintf(e.Stdout, "%s: FAILED open or read\n", name)
						}
						failed++
						continue
					}
					if strings.EqualFold(sum(data), want) {
						if !o.has('q') && !o.has('s') {
							fmt.Fprintf(e.Stdout, "%s: OK\n", name)
						}
					} else {
						if !o.has('s') {
							fmt.Fprintf(e.Stdout, "%s: FAILED\n", name)
						}
						failed++
					}
				}
			}
			if failed > 0 {
				if !o.has('s') {
					word := "computed checksum did"
					if failed > 1 {
						word = "computed checksums did"
					}
					fmt.Fprintf(e.Stderr, "%s: WARNING: %d %s NOT match\n", e.Name(), failed, word)
				}
				status = 1
			}
			if bad > 0 {
				fmt.Fprintf(e.Stderr, "%s: WARNING: %d line is improperly formatted\n", e.Name(), bad)
				if o.has('S') || failed == 0 && bad > 0 && status == 0 {
					status = 1
				}
			}
			return status
		}
		sep := "  "
		if o.has('b') {
			sep = " *"
		}
		for _, f := range files {
			b, err := readInput(e, f)
			if err != nil {
				fmt.Fprintf(e.Stderr, "%s: %s: %s\n", e.Name(), f, errText(err))
				status = 1
				continue
			}
			fmt.Fprintf(e.Stdout, "%s%s%s\n", sum(b), sep, f)
		}
		return status
	}
}

// numFlagArgs rewrites head/tail's historical "-5" into "-n 5".
func numFlagArgs(e *Env) {
	for k, a := range e.Args[1:] {
		if len(a) > 1 && a[0] == '-' && a[1] >= '0' && a[1] <= '9' {
			if _, err := strconv.Atoi(a[1:]); err == nil {
				args := append([]string{}, e.Args[:k+1]...)
				args = append(args, "-n", a[1:])
				e.Args = append(args, e.Args[k+2:]...)
				return
			}
		}
	}
}

func cmdHead(e *Env) int {
	numFlagArgs(e)
	o, ok := getopt(e, "n:c:qv", map[string]byte{"lines": 'n', "bytes": 'c', "quiet": 'q'})
	if !ok {
		return 1
	}
	n, byBytes := 10, false
	if o.has('c') {
		v, err := strconv.Atoi(o.val['c'])
		if err != nil {
			return e.Errorf(1, "invalid number of bytes: '%s'", o.val['c'])
		}
		n, byBytes = v, true
	} else if o.has('n') {
		v, err := strconv.Atoi(o.val['n'])
		if err != nil {
			return e.Errorf(1, "invalid number of lines: '%s'", o.val['n'])
		}
		n = v
	}
	files := o.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	for k, f := range files {
		if len(files) > 1 {
			if k > 0 {
				fmt.Fprintln(e.Stdout)
			}
			fmt.Fprintf(e.Stdout, "==> %s <==\n", f)
		}
		if f == "-" && byBytes && n >= 0 {
			// Exactly n bytes: the rest of stdin stays for others.
			if _, err := io.CopyN(e.Stdout, e.Stdin, int64(n)); err != nil && err != io.EOF {
				status = 1
			}
			continue
		}
		if f == "-" && !byBytes && n >= 0 {
			// Read only what is needed (the producer may be endless).
			br := bufio.NewReader(e.Stdin)
			for i := 0; i < n; i++ {
				l, err := br.ReadString('\n')
				io.WriteString(e.Stdout, l)
				if err != nil {
					break
				}
			}
			continue
		}
		b, err := readInput(e, f)
		if err != nil {
			fmt.Fprintf(e.Stderr, "head: cannot open '%s' for reading: %s\n", f, errText(err))
			status = 1
			continue
		}
		if byBytes {
			if n < 0 {
				n = max(len(b)+n, 0)
			}
			e.Stdout.Write(b[:min(n, len(b))])
			continue
		}
		lines := strings.SplitAfter(string(b), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		cnt := n
		if n < 0 {
			cnt = max(len(lines)+n, 0)
		}
		io.WriteString(e.Stdout, strings.Join(lines[:min(cnt, len(lines))], ""))
	}
	return status
}

func cmdTail(e *Env) int {
	numFlagArgs(e)
	o, ok := getopt(e, "n:c:fFqv", map[string]byte{"lines": 'n', "bytes": 'c', "follow": 'f'})
	if !ok {
		return 1
	}
	spec := "10"
	if o.has('n') {
		spec = o.val['n']
	}
	byBytes := false
	if o.has('c') {
		spec, byBytes = o.val['c'], true
	}
	fromStart := strings.HasPrefix(spec, "+")
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(spec, "+"), "-"))
	if err != nil {
		return e.Errorf(1, "invalid number of lines: '%s'", spec)
	}
	files := o.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	for k, f := range files {
		b, err := readInput(e, f)
		if err != nil {
			fmt.Fprintf(e.Stderr, "tail: cannot open '%s' for reading: %s\n", f, errText(err))
			status = 1
			continue
		}
		if len(files) > 1 {
			if k > 0 {
				fmt.Fprintln(e.Stdout)
			}
			fmt.Fprintf(e.Stdout, "==> %s <==\n", f)
		}
		if byBytes {
			if fromStart {
				e.Stdout.Write(b[min(max(n-1, 0), len(b)):])
			} else {
				e.Stdout.Write(b[max(len(b)-n, 0):])
			}
			continue
		}
		lines := strings.SplitAfter(string(b), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		if fromStart {
			io.WriteString(e.Stdout, strings.Join(lines[min(max(n-1, 0), len(lines)):], ""))
		} else {
			io.WriteString(e.Stdout, strings.Join(lines[max(len(lines)-n, 0):], ""))
		}
	}
	return status
}

// breToRE2 converts a POSIX basic regular expression to RE2 syntax.
func breToRE2(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			n := p[i+1]
			switch n {
			case '(', ')', '{', '}', '|', '+', '?':
				b.WriteByte(n)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			i++
			continue
		}
		switch c {
		case '(', ')', '{', '}', '|', '+', '?':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '*':
			if i == 0 || p[i-1] == '^' && i == 1 {
				b.WriteString(`\*`)
			} else {
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// posixClasses maps bracket classes RE2 spells differently.
var posixClassRe = regexp.MustCompile(`\[\[:(alpha|digit|alnum|upper|lower|space|blank|punct|xdigit|print|graph|cntrl|word):\]`)

func cmdGrep(e *Env) int {
	var patterns []string
	// -e may repeat; collect before getopt.
	args := []string{e.Args[0]}
	for k := 1; k < len(e.Args); k++ {
		a := e.Args[k]
		if a == "-e" && k+1 < len(e.Args) {
			patterns = append(patterns, e.Args[k+1])
			k++
			continue
		}
		if strings.HasPrefix(a, "--regexp=") {
			patterns = append(patterns, strings.TrimPrefix(a, "--regexp="))
			continue
		}
		args = append(args, a)
	}
	saved := e.Args
	e.Args = args
	o, ok := getopt(e, "qEFcvinoxwlLhHsrPm:A:B:C:", map[string]byte{"quiet": 'q', "silent": 'q', "extended-regexp": 'E', "fixed-strings": 'F',
		"count": 'c', "invert-match": 'v', "ignore-case": 'i', "line-number": 'n', "only-matching": 'o', "line-regexp": 'x',
		"word-regexp": 'w', "files-with-matches": 'l', "no-filename": 'h', "with-filename": 'H', "no-messages": 's', "max-count": 'm'})
	e.Args = saved
	if !ok {
		return 2
	}
	files := o.args
	if len(patterns) == 0 {
		if len(files) == 0 {
			fmt.Fprintf(e.Stderr, "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n")
			return 2
		}
		patterns = strings.Split(files[0], "\n")
		files = files[1:]
	}
	extended := o.has('E') || e.Name() == "egrep" || o.has('P')
	fixed := o.has('F') || e.Name() == "fgrep"
	var res []string
	for _, p := range patterns {
		switch {
		case fixed:
			p = regexp.QuoteMeta(p)
		case !extended:
			p = breToRE2(p)
		}
		p = posixClassRe.ReplaceAllString(p, "[[:$1:]")
		if o.has('w') {
			p = `\b(?:` + p + `)\b`
		}
		if o.has('x') {
			p = `^(?:` + p + `)$`
		}
		res = append(res, "(?:"+p+")")
	}
	expr := strings.Join(res, "|")
	if o.has('i') {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		fmt.Fprintf(e.Stderr, "grep: %s\n", grepErr(err))
		return 2
	}
	maxCount := -1
	if o.has('m') {
		maxCount, err = strconv.Atoi(o.val['m'])
		if err != nil {
			fmt.Fprintf(e.Stderr, "grep: invalid max count\n")
			return 2
		}
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	showName := (len(files) > 1 || o.has('H')) && !o.has('h')
	matchedAny := false
	status := 0
	for _, f := range files {
		var data []byte
		if f == "-" {
			data, err = io.ReadAll(e.Stdin)
		} else {
			p := e.Abs(f)
			if fi, serr := e.FS.Stat(p); serr == nil && fi.IsDir {
				if !o.has('s') {
					fmt.Fprintf(e.Stderr, "grep: %s: Is a directory\n", f)
				}
				status = 2
				continue
			}
			data, err = readInput(e, f)
		}
		if err != nil {
			if !o.has('s') {
				fmt.Fprintf(e.Stderr, "grep: %s: %s\n", f, errText(err))
			}
			status = 2
			continue
		}
		name := f
		if f == "-" {
			name = "(standard input)"
		}
		count := 0
		for idx, l := range splitLines(string(data)) {
			if maxCount >= 0 && count >= maxCount {
				break
			}
			m := re.MatchString(l)
			if m == o.has('v') {
				continue
			}
			count++
			matchedAny = true
			if o.has('q') {
				return 0
			}
			if o.has('c') || o.has('l') || o.has('L') {
				continue
			}
			prefix := ""
			if showName {
				prefix = name + ":"
			}
			if o.has('n') {
				prefix += strconv.Itoa(idx+1) + ":"
			}
			if o.has('o') && !o.has('v') {
				for _, mm := range re.FindAllString(l, -1) {
					if mm != "" {
						fmt.Fprintf(e.Stdout, "%s%s\n", prefix, mm)
					}
				}
				continue
			}
			fmt.Fprintf(e.Stdout, "%s%s\n", prefix, l)
		}
		switch {
		case o.has('l'):
			if count > 0 {
				fmt.Fprintln(e.Stdout, name)
			}
		case o.has('L'):
			if count == 0 {
				fmt.Fprintln(e.Stdout, name)
			}
		case o.has('c'):
			if showName {
				fmt.Fprintf(e.Stdout, "%s:%d\n", name, count)
			} else {
				fmt.Fprintf(e.Stdout, "%d\n", count)
			}
		}
	}
	if status == 2 && !(o.has('q') && matchedAny) {
		return 2
	}
	if matchedAny {
		return 0
	}
	return 1
}

func grepErr(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		switch se.Code {
		case syntax.ErrMissingBracket:
			return "Unmatched [, [^, [:, [., or [="
		case syntax.ErrMissingParen, syntax.ErrUnexpectedParen:
			return "Unmatched ( or \\("
		}
		return string(se.Code)
	}
	return err.Error()
}

func cmdWc(e *Env) int {
	o, ok := getopt(e, "lcwmL", map[string]byte{"lines": 'l', "bytes": 'c', "words": 'w', "chars": 'm'})
	if !ok {
		return 1
	}
	sel := []byte{}
	for _, c := range []byte("lwmc") {
		if o.has(c) {
			sel = append(sel, c)
		}
	}
	if len(sel) == 0 {
		sel = []byte("lwc")
	}
	files := o.args
	stdinOnly := len(files) == 0
	if stdinOnly {
		files = []string{"-"}
	}
	type counts struct {
		v    map[byte]int
		name string
	}
	var rows []counts
	total := map[byte]int{}
	status := 0
	for _, f := range files {
		b, err := readInput(e, f)
		if err != nil {
			fmt.Fprintf(e.Stderr, "wc: %s: %s\n", f, errText(err))
			status = 1
			continue
		}
		v := map[byte]int{'l': bytes.Count(b, []byte("\n")), 'w': len(strings.Fields(string(b))), 'c': len(b), 'm': len([]rune(string(b)))}
		for k, x := range v {
			total[k] += x
		}
		name := f
		if stdinOnly {
			name = ""
		}
		rows = append(rows, counts{v: v, name: name})
	}
	if len(files) > 1 {
		rows = append(rows, counts{v: total, name: "total"})
	}
	// GNU: one count of one input is unpadded; otherwise the width is
	// the digits of the inputs' total size, at least 7 for non-files.
	width := 1
	if len(sel) > 1 || len(files) > 1 {
		width = len(strconv.Itoa(total['c']))
		if stdinOnly || slicesContains(files, "-") {
			width = max(width, 7)
		}
	}
	for _, r := range rows {
		var parts []string
		for _, c := range sel {
			parts = append(parts, fmt.Sprintf("%*d", width, r.v[c]))
		}
		s := strings.Join(parts, " ")
		if r.name != "" {
			s += " " + r.name
		}
		fmt.Fprintln(e.Stdout, s)
	}
	return status
}

// parseDuration parses sleep/timeout durations: 1, 0.5, 2s, 3m, 1h, 1d.
func parseDuration(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	mult := time.Second
	switch s[len(s)-1] {
	case 's':
		s = s[:len(s)-1]
	case 'm':
		mult, s = time.Minute, s[:len(s)-1]
	case 'h':
		mult, s = time.Hour, s[:len(s)-1]
	case 'd':
		mult, s = 24*time.Hour, s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e9 {
		return 0, false
	}
	return time.Duration(f * float64(mult)), true
}

func cmdSleep(e *Env) int {
	if len(e.Args) < 2 {
		return missingOperand(e)
	}
	var total time.Duration
	for _, a := range e.Args[1:] {
		d, ok := parseDuration(a)
		if !ok {
			fmt.Fprintf(e.Stderr, "sleep: invalid time interval '%s'\nTry 'sleep --help' for more information.\n", a)
			return 1
		}
		total += d
	}
	if err := e.Sleep(total); err != nil {
		return 130
	}
	return 0
}

func cmdEnv(e *Env) int {
	args := e.Args[1:]
	vars := copyVars(e.Vars)
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "-i" || a == "-" || a == "--ignore-environment":
			vars = map[string]string{}
		case a == "-u" && len(args) > 1:
			delete(vars, args[1])
			args = args[1:]
		case a == "--":
			args = args[1:]
			goto cmd
		case strings.Contains(a, "=") && !strings.HasPrefix(a, "="):
			k, v, _ := strings.Cut(a, "=")
			vars[k] = v
		default:
			goto cmd
		}
		args = args[1:]
	}
cmd:
	if len(args) == 0 {
		keys := make([]string, 0, len(vars))
		for k := range vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(e.Stdout, "%s=%s\n", k, vars[k])
		}
		return 0
	}
	child := *e
	child.Vars = vars
	if !child.Executable(args[0]) {
		fmt.Fprintf(e.Stderr, "env: '%s': No such file or directory\n", args[0])
		return 127
	}
	return child.Exec(args...)
}

func cmdPrintenv(e *Env) int {
	if len(e.Args) == 1 {
		return cmdEnv(&Env{Args: []string{"env"}, Stdout: e.Stdout, Vars: e.Vars})
	}
	status := 0
	for _, n := range e.Args[1:] {
		v, ok := e.Vars[n]
		if !ok {
			status = 1
			continue
		}
		fmt.Fprintln(e.Stdout, v)
	}
	return status
}

func (e *Env) host() Host {
	if in := e.Interp(); in != nil {
		in.mu.RLock()
		defer in.mu.RUnlock()
		return in.Host
	}
	return Host{Hostname: "localhost", Kernel: "Linux", Machine: "x86_64", OS: "GNU/Linux"}
}

func cmdUname(e *Env) int {
	o, ok := getopt(e, "asnrvmpio", map[string]byte{"all": 'a', "kernel-name": 's', "nodename": 'n', "kernel-release": 'r', "machine": 'm'})
	if !ok {
		return 1
	}
	h := e.host()
	hn := hostnameOf(e)
	all := o.has('a')
	var parts []string
	if all || o.has('s') || len(o.set) == 0 {
		parts = append(parts, h.Kernel)
	}
	if all || o.has('n') {
		parts = append(parts, hn)
	}
	if all || o.has('r') {
		parts = append(parts, h.Release)
	}
	if all || o.has('v') {
		parts = append(parts, h.Version)
	}
	if all || o.has('m') {
		parts = append(parts, h.Machine)
	}
	if o.has('p') || o.has('i') {
		parts = append(parts, "unknown")
	}
	if all || o.has('o') {
		parts = append(parts, h.OS)
	}
	fmt.Fprintln(e.Stdout, strings.Join(parts, " "))
	return 0
}

func uidOf(h Host, user string) int {
	if user == "root" {
		return 0
	}
	if id, ok := h.UIDs[user]; ok {
		return id
	}
	return 1000
}

func cmdID(e *Env) int {
	o, ok := getopt(e, "ugnGr", map[string]byte{"user": 'u', "group": 'g', "name": 'n', "groups": 'G'})
	if !ok {
		return 1
	}
	user := e.User
	if len(o.args) > 0 {
		user = o.args[0]
		if user != "root" && user != e.User {
			if _, err := e.FS.Stat("/home/" + user); err != nil {
				return e.Errorf(1, "'%s': no such user", user)
			}
		}
	}
	uid := uidOf(e.host(), user)
	group := user
	if uid != 0 {
		group = "users"
	}
	gid := uid
	if uid != 0 {
		gid = 100
	}
	switch {
	case o.has('u') && o.has('n'):
		fmt.Fprintln(e.Stdout, user)
	case o.has('u'):
		fmt.Fprintln(e.Stdout, uid)
	case o.has('g') && o.has('n'):
		fmt.Fprintln(e.Stdout, group)
	case o.has('g'):
		fmt.Fprintln(e.Stdout, gid)
	case o.has('G'):
		fmt.Fprintln(e.Stdout, gid)
	default:
		fmt.Fprintf(e.Stdout, "uid=%d(%s) gid=%d(%s) groups=%d(%s)\n", uid, user, gid, group, gid, group)
	}
	return 0
}

func cmdWhoami(e *Env) int {
	fmt.Fprintln(e.Stdout, e.User)
	return 0
}

// hostnameOf is /etc/hostname's first line, else Host.Hostname.
func hostnameOf(e *Env) string {
	if b, err := e.FS.ReadFile("/etc/hostname"); err == nil {
		if l := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]); l != "" {
			return strings.SplitN(l, ".", 2)[0]
		}
	}
	return e.host().Hostname
}

func cmdHostname(e *Env) int {
	o, ok := getopt(e, "fsIidA", map[string]byte{"fqdn": 'f', "short": 's', "all-ip-addresses": 'I', "ip-address": 'i', "domain": 'd'})
	if !ok {
		return 1
	}
	h := e.host()
	hn := hostnameOf(e)
	switch {
	case len(o.args) > 0:
		if e.User != "root" {
			return e.Errorf(1, "you must be root to change the host name")
		}
		if in := e.Interp(); in != nil {
			in.mu.Lock()
			in.Host.Hostname = o.args[0]
			in.mu.Unlock()
		}
		_ = e.FS.WriteFile("/etc/hostname", []byte(o.args[0]+"\n"), 0o644)
	case o.has('I'):
		fmt.Fprintln(e.Stdout, strings.Join(h.IPs, " ")+" ")
	case o.has('i'):
		if len(h.IPs) > 0 {
			fmt.Fprintln(e.Stdout, h.IPs[0])
		} else {
			fmt.Fprintln(e.Stdout, "127.0.1.1")
		}
	case o.has('f') || o.has('A'):
		if h.Domain != "" {
			fmt.Fprintln(e.Stdout, hn+"."+h.Domain)
		} else {
			fmt.Fprintln(e.Stdout, hn)
		}
	case o.has('d'):
		fmt.Fprintln(e.Stdout, h.Domain)
	default:
		fmt.Fprintln(e.Stdout, hn)
	}
	return 0
}

func cmdBase64(e *Env) int {
	o, ok := getopt(e, "diw:", map[string]byte{"decode": 'd', "ignore-garbage": 'i', "wrap": 'w'})
	if !ok {
		return 1
	}
	in := "-"
	if len(o.args) > 1 {
		fmt.Fprintf(e.Stderr, "base64: extra operand '%s'\nTry 'base64 --help' for more information.\n", o.args[1])
		return 1
	}
	if len(o.args) == 1 {
		in = o.args[0]
	}
	b, err := readInput(e, in)
	if err != nil {
		fmt.Fprintf(e.Stderr, "base64: %s: %s\n", in, errText(err))
		return 1
	}
	if o.has('d') {
		s := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, string(b))
		if o.has('i') {
			s = strings.Map(func(r rune) rune {
				if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=' {
					return r
				}
				return -1
			}, s)
		}
		out, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			// GNU prints what decoded before the error.
			if ce, ok := err.(base64.CorruptInputError); ok && int(ce) > 0 {
				part, _ := base64.StdEncoding.DecodeString(s[:int(ce)/4*4])
				e.Stdout.Write(part)
			}
			fmt.Fprintln(e.Stderr, "base64: invalid input")
			return 1
		}
		e.Stdout.Write(out)
		return 0
	}
	wrap := 76
	if o.has('w') {
		wrap, err = strconv.Atoi(o.val['w'])
		if err != nil || wrap < 0 {
			fmt.Fprintf(e.Stderr, "base64: invalid wrap size: '%s'\n", o.val['w'])
			return 1
		}
	}
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	if wrap == 0 {
		sb.WriteString(enc)
	} else {
		for len(enc) > wrap {
			sb.WriteString(enc[:wrap])
			sb.WriteByte('\n')
			enc = enc[wrap:]
		}
		sb.WriteString(enc)
	}
	if sb.Len() > 0 && wrap != 0 {
		sb.WriteByte('\n')
	}
	io.WriteString(e.Stdout, sb.String())
	return 0
}

func cmdTouch(e *Env) int {
	o, ok := getopt(e, "camd:t:r:", map[string]byte{"no-create": 'c', "date": 'd'})
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return missingOperand(e)
	}
	status := 0
	now := time.Now()
	if in := e.Interp(); in != nil && in.Now != nil {
		now = in.Now()
	}
	for _, f := range o.args {
		p := e.Abs(f)
		if _, err := e.FS.Stat(p); err != nil {
			if o.has('c') {
				continue
			}
			if err := e.FS.AppendFile(p, nil, 0o644); err != nil {
				fmt.Fprintf(e.Stderr, "touch: cannot touch '%s': %s\n", f, errText(err))
				status = 1
			}
			continue
		}
		if ct, ok := e.FS.(interface {
			Chtimes(string, time.Time) error
		}); ok {
			_ = ct.Chtimes(p, now)
		} else {
			_ = e.FS.AppendFile(p, nil, 0o644)
		}
	}
	return status
}

func cmdLn(e *Env) int {
	o, ok := getopt(e, "sfnTv", map[string]byte{"symbolic": 's', "force": 'f', "no-dereference": 'n'})
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return missingOperand(e)
	}
	target := o.args[0]
	name := path.Base(target)
	if len(o.args) > 1 {
		name = o.args[1]
	}
	p := e.Abs(name)
	if fi, err := e.FS.Stat(p); err == nil && fi.IsDir && !o.has('n') && !o.has('T') && len(o.args) > 1 {
		if lfi, lerr := lstat(e.FS, p); lerr == nil && lfi.Mode&fs.ModeSymlink == 0 {
			p = path.Join(p, path.Base(target))
		}
	}
	kind := "hard link"
	if o.has('s') {
		kind = "symbolic link"
	}
	if _, err := lstat(e.FS, p); err == nil {
		if !o.has('f') {
			fmt.Fprintf(e.Stderr, "ln: failed to create %s '%s': File exists\n", kind, name)
			return 1
		}
		if err := e.FS.Remove(p); err != nil {
			fmt.Fprintf(e.Stderr, "ln: cannot remove '%s': %s\n", name, errText(err))
			return 1
		}
	}
	if !o.has('s') {
		fi, err := e.FS.Stat(e.Abs(target))
		if err != nil {
			fmt.Fprintf(e.Stderr, "ln: failed to access '%s': %s\n", target, errText(err))
			return 1
		}
		if fi.IsDir {
			fmt.Fprintf(e.Stderr, "ln: %s: hard link not allowed for directory\n", target)
			return 1
		}
		// MemFS has no inodes: a hard link is a copy.
		if err := copyFile(e.FS, e.Abs(target), p, fi.Mode); err != nil {
			fmt.Fprintf(e.Stderr, "ln: failed to create hard link '%s': %s\n", name, errText(err))
			return 1
		}
		return 0
	}
	l, ok := e.FS.(Linker)
	if !ok {
		fmt.Fprintf(e.Stderr, "ln: failed to create symbolic link '%s': Operation not supported\n", name)
		return 1
	}
	if err := l.Symlink(target, p); err != nil {
		fmt.Fprintf(e.Stderr, "ln: failed to create symbolic link '%s': %s\n", name, errText(err))
		return 1
	}
	return 0
}

func cmdStat(e *Env) int {
	o, ok := getopt(e, "c:Lt", map[string]byte{"format": 'c', "printf": 'p', "dereference": 'L'})
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return missingOperand(e)
	}
	format := ""
	nl := "\n"
	if o.has('c') {
		format = o.val['c']
	}
	if o.has('p') {
		format, nl = o.val['p'], ""
		format, _ = expandEscapes(format, false)
	}
	status := 0
	for _, f := range o.args {
		p := e.Abs(f)
		var fi FileInfo
		var err error
		if o.has('L') {
			fi, err = e.FS.Stat(p)
		} else {
			fi, err = lstat(e.FS, p)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "stat: cannot statx '%s': %s\n", f, errText(err))
			status = 1
			continue
		}
		kind := "regular file"
		switch {
		case fi.Mode&fs.ModeSymlink != 0:
			kind = "symbolic link"
		case fi.IsDir:
			kind = "directory"
		case fi.Size == 0:
			kind = "regular empty file"
		}
		if format == "" {
			fmt.Fprintf(e.Stdout, "  File: %s\n  Size: %d\tBlocks: %d\tIO Block: 4096   %s\nAccess: (%04o/%s)  Uid: (%5d/%8s)   Gid: (%5d/%8s)\nModify: %s\n",
				f, fi.Size, (fi.Size+511)/512, kind, uint32(fi.Mode.Perm()), modeString(fi.Mode, fi.IsDir), fi.UID, userName(e.FS, fi.UID), fi.GID, groupName(e.FS, fi.GID), fi.ModTime.Format("2006-01-02 15:04:05.000000000 -0700"))
			continue
		}
		var sb strings.Builder
		for i := 0; i < len(format); i++ {
			if format[i] != '%' || i+1 >= len(format) {
				sb.WriteByte(format[i])
				continue
			}
			i++
			switch format[i] {
			case 'a':
				fmt.Fprintf(&sb, "%o", uint32(fi.Mode.Perm())|specialBits(fi.Mode))
			case 'A':
				sb.WriteString(modeString(fi.Mode, fi.IsDir))
			case 's':
				fmt.Fprintf(&sb, "%d", fi.Size)
			case 'n':
				sb.WriteString(f)
			case 'N':
				sb.WriteString("'" + f + "'")
			case 'F':
				sb.WriteString(kind)
			case 'U':
				sb.WriteString(userName(e.FS, fi.UID))
			case 'G':
				sb.WriteString(groupName(e.FS, fi.GID))
			case 'u':
				sb.WriteString(strconv.Itoa(fi.UID))
			case 'g':
				sb.WriteString(strconv.Itoa(fi.GID))
			case 'Y':
				fmt.Fprintf(&sb, "%d", fi.ModTime.Unix())
			case 'y':
				sb.WriteString(fi.ModTime.Format("2006-01-02 15:04:05.000000000 -0700"))
			case '%':
				sb.WriteByte('%')
			default:
				sb.WriteByte('?')
			}
		}
		io.WriteString(e.Stdout, sb.String()+nl)
	}
	return status
}

func specialBits(m fs.FileMode) uint32 {
	var b uint32
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

func cmdDate(e *Env) int {
	args := e.Args[1:]
	now := time.Now()
	if in := e.Interp(); in != nil && in.Now != nil {
		now = in.Now()
	}
	utc := false
	format := "%a %b %e %H:%M:%S %Z %Y"
	for k := 0; k < len(args); k++ {
		a := args[k]
		switch {
		case a == "-u" || a == "--utc" || a == "-R" && false:
			utc = true
		case a == "-R" || a == "--rfc-email":
			format = "%a, %d %b %Y %H:%M:%S %z"
		case a == "-I" || a == "--iso-8601" || a == "--iso-8601=date":
			format = "%Y-%m-%d"
		case a == "-Iseconds" || a == "--iso-8601=seconds":
			format = "%Y-%m-%dT%H:%M:%S%:z"
		case a == "-d" || a == "--date":
			if k+1 >= len(args) {
				return e.Errorf(1, "option requires an argument -- 'd'")
			}
			k++
			t, ok := parseDate(args[k])
			if !ok {
				return e.Errorf(1, "invalid date '%s'", args[k])
			}
			now = t
		case strings.HasPrefix(a, "--date="):
			t, ok := parseDate(strings.TrimPrefix(a, "--date="))
			if !ok {
				return e.Errorf(1, "invalid date '%s'", strings.TrimPrefix(a, "--date="))
			}
			now = t
		case strings.HasPrefix(a, "+"):
			format = a[1:]
		default:
			return e.Errorf(1, "invalid date '%s'", a)
		}
	}
	if utc {
		now = now.UTC()
	}
	fmt.Fprintln(e.Stdout, strftime(format, now))
	return 0
}

func parseDate(s string) (time.Time, bool) {
	if strings.HasPrefix(s, "@") {
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(n, 0), true
	}
	for _, l := range []string{time.RFC3339, time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func strftime(f string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		c := f[i]
		if c == ':' && i+1 < len(f) && f[i+1] == 'z' {
			i++
			b.WriteString(t.Format("-07:00"))
			continue
		}
		switch c {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case 'N':
			fmt.Fprintf(&b, "%09d", t.Nanosecond())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			fmt.Fprintf(&b, "%d", wd)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(c)
		}
	}
	return b.String()
}

func cmdBasename(e *Env) int {
	o, ok := getopt(e, "as:z", map[string]byte{"multiple": 'a', "suffix": 's'})
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return missingOperand(e)
	}
	names := o.args
	suffix := o.val['s']
	if !o.has('a') && !o.has('s') {
		if len(names) == 2 {
			suffix = names[1]
		}
		names = names[:1]
	}
	for _, n := range names {
		b := path.Base(n)
		if suffix != "" && b != suffix {
			b = strings.TrimSuffix(b, suffix)
		}
		fmt.Fprintln(e.Stdout, b)
	}
	return 0
}

func cmdDirname(e *Env) int {
	if len(e.Args) < 2 {
		return missingOperand(e)
	}
	for _, n := range e.Args[1:] {
		fmt.Fprintln(e.Stdout, path.Dir(n))
	}
	return 0
}

// canonical resolves every symlink in p (readlink -f); ok is false when a
// component other than the last is missing.
func canonical(e *Env, p string, mustExist bool) (string, bool) {
	p = e.Abs(p)
	l, isLinker := e.FS.(Linker)
	for hops := 0; hops < maxSymlinks; hops++ {
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		cur := "/"
		changed := false
		for i, part := range parts {
			if part == "" {
				continue
			}
			next := path.Join(cur, part)
			if isLinker {
				if t, err := l.Readlink(next); err == nil {
					if !strings.HasPrefix(t, "/") {
						t = path.Join(cur, t)
					}
					p = path.Join(append([]string{t}, parts[i+1:]...)...)
					changed = true
					break
				}
			}
			if _, err := e.FS.Stat(next); err != nil && (mustExist || i < len(parts)-1) {
				return "", false
			}
			cur = next
		}
		if !changed {
			return cur, true
		}
	}
	return "", false
}

func cmdReadlink(e *Env) int {
	o, ok := getopt(e, "fenmqsvz", map[string]byte{"canonicalize": 'f', "canonicalize-existing": 'e'})
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return missingOperand(e)
	}
	status := 0
	for _, f := range o.args {
		if o.has('f') || o.has('e') || o.has('m') {
			p, ok := canonical(e, f, o.has('e'))
			if !ok {
				status = 1
				continue
			}
			fmt.Fprintln(e.Stdout, p)
			continue
		}
		l, ok := e.FS.(Linker)
		if !ok {
			status = 1
			continue
		}
		t, err := l.Readlink(e.Abs(f))
		if err != nil {
			status = 1
			continue
		}
		fmt.Fprintln(e.Stdout, t)
	}
	return status
}

func cmdRealpath(e *Env) int {
	o, ok := getopt(e, "emsq", map[string]byte{"canonicalize-existing": 'e', "canonicalize-missing": 'm'})
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return missingOperand(e)
	}
	status := 0
	for _, f := range o.args {
		p, ok := canonical(e, f, o.has('e'))
		if !ok {
			fmt.Fprintf(e.Stderr, "realpath: %s: No such file or directory\n", f)
			status = 1
			continue
		}
		fmt.Fprintln(e.Stdout, p)
	}
	return status
}

func cmdMktemp(e *Env) int {
	o, ok := getopt(e, "dp:qut", map[string]byte{"directory": 'd', "tmpdir": 'p', "quiet": 'q', "dry-run": 'u'})
	if !ok {
		return 1
	}
	tmpl := "tmp.XXXXXXXXXX"
	dir := "/tmp"
	if v := e.Vars["TMPDIR"]; v != "" {
		dir = v
	}
	if o.has('p') && o.val['p'] != "" {
		dir = o.val['p']
	}
	explicitDir := o.has('p') || o.has('t')
	if len(o.args) > 0 {
		tmpl = o.args[0]
		if !explicitDir {
			dir = ""
		}
	}
	n := len(tmpl) - len(strings.TrimRight(tmpl, "X"))
	if n < 3 {
		return e.Errorf(1, "too few X's in template '%s'", tmpl)
	}
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	seed := time.Now().UnixNano()
	for attempt := 0; attempt < 100; attempt++ {
		var sb strings.Builder
		for i := 0; i < n; i++ {
			seed = seed*6364136223846793005 + 1442695040888963407
			sb.WriteByte(chars[uint64(seed>>33)%uint64(len(chars))])
		}
		name := tmpl[:len(tmpl)-n] + sb.String()
		p := name
		if dir != "" {
			p = path.Join(dir, name)
		}
		abs := e.Abs(p)
		if _, err := e.FS.Stat(abs); err == nil {
			continue
		}
		var err error
		if o.has('d') {
			if _, perr := e.FS.Stat(path.Dir(abs)); perr != nil {
				err = perr
			} else {
				err = e.FS.MkdirAll(abs, 0o700)
			}
		} else {
			err = e.FS.WriteFile(abs, nil, 0o600)
		}
		if err != nil {
			what := "file"
			if o.has('d') {
				what = "directory"
			}
			return e.Errorf(1, "failed to create %s via template '%s': %s", what, p, errText(err))
		}
		fmt.Fprintln(e.Stdout, p)
		return 0
	}
	return e.Errorf(1, "failed to create file via template '%s': File exists", tmpl)
}

// trSet expands a tr set: ranges, escapes and [:classes:].
func trSet(s string) []rune {
	s, _ = expandEscapes(s, false)
	classes := map[string]string{
		"[:upper:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "[:lower:]": "abcdefghijklmnopqrstuvwxyz",
		"[:digit:]": "0123456789", "[:space:]": " \t\n\r\v\f", "[:blank:]": " \t",
		"[:alpha:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
		"[:alnum:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		"[:punct:]": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
	}
	var out []rune
	r := []rune(s)
	for i := 0; i < len(r); i++ {
		if r[i] == '[' {
			if j := strings.Index(string(r[i:]), ":]"); j > 0 {
				if c, ok := classes[string(r[i:i+j+2])]; ok {
					out = append(out, []rune(c)...)
					i += len([]rune(string(r[i:i+j+2]))) - 1
					continue
				}
			}
		}
		if i+2 < len(r) && r[i+1] == '-' && r[i+2] >= r[i] {
			for c := r[i]; c <= r[i+2]; c++ {
				out = append(out, c)
			}
			i += 2
			continue
		}
		out = append(out, r[i])
	}
	return out
}

func cmdTr(e *Env) int {
	o, ok := getopt(e, "dscC", map[string]byte{"delete": 'd', "squeeze-repeats": 's', "complement": 'c'})
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return missingOperand(e)
	}
	in, err := io.ReadAll(e.Stdin)
	if err != nil {
		return 1
	}
	set1 := trSet(o.args[0])
	member := func(set []rune, r rune) bool {
		for _, c := range set {
			if c == r {
				return true
			}
		}
		return false
	}
	in1 := func(r rune) bool { return member(set1, r) != (o.has('c') || o.has('C')) }
	var out strings.Builder
	switch {
	case o.has('d'):
		var sq []rune
		if len(o.args) > 1 {
			sq = trSet(o.args[1])
		}
		var last rune = -1
		for _, r := range string(in) {
			if in1(r) {
				continue
			}
			if o.has('s') && r == last && member(sq, r) {
				continue
			}
			out.WriteRune(r)
			last = r
		}
	case len(o.args) > 1:
		set2 := trSet(o.args[1])
		if len(set2) == 0 {
			return e.Errorf(1, "when not truncating set1, string2 must be non-empty")
		}
		var last rune = -1
		for _, r := range string(in) {
			c := r
			if o.has('c') || o.has('C') {
				if in1(r) {
					c = set2[len(set2)-1]
				}
			} else {
				for k, s := range set1 {
					if s == r {
						c = set2[min(k, len(set2)-1)]
					}
				}
			}
			if o.has('s') && c == last && member(set2, c) {
				continue
			}
			out.WriteRune(c)
			last = c
		}
	case o.has('s'):
		var last rune = -1
		for _, r := range string(in) {
			if r == last && in1(r) {
				continue
			}
			out.WriteRune(r)
			last = r
		}
	default:
		fmt.Fprintf(e.Stderr, "tr: missing operand after '%s'\nTry 'tr --help' for more information.\n", o.args[0])
		return 1
	}
	io.WriteString(e.Stdout, out.String())
	return 0
}

// parseList parses cut's LIST (1,3-5,7-).
func parseList(s string) (func(int) bool, bool) {
	type rng struct{ lo, hi int }
	var rs []rng
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		var r rng
		var err error
		if lo == "" {
			r.lo = 1
		} else if r.lo, err = strconv.Atoi(lo); err != nil || r.lo < 1 {
			return nil, false
		}
		switch {
		case !isRange:
			r.hi = r.lo
		case hi == "":
			r.hi = 1 << 30
		default:
			if r.hi, err = strconv.Atoi(hi); err != nil || r.hi < r.lo {
				return nil, false
			}
		}
		rs = append(rs, r)
	}
	return func(n int) bool {
		for _, r := range rs {
			if n >= r.lo && n <= r.hi {
				return true
			}
		}
		return false
	}, true
}

func cmdCut(e *Env) int {
	o, ok := getopt(e, "d:f:c:b:s", map[string]byte{"delimiter": 'd', "fields": 'f', "characters": 'c', "bytes": 'b', "only-delimited": 's'})
	if !ok {
		return 1
	}
	list := o.val['f']
	chars := false
	if o.has('c') || o.has('b') {
		list, chars = o.val['c']+o.val['b'], true
	}
	if list == "" {
		fmt.Fprintf(e.Stderr, "cut: you must specify a list of bytes, characters, or fields\nTry 'cut --help' for more information.\n")
		return 1
	}
	sel, ok := parseList(list)
	if !ok {
		return e.Errorf(1, "invalid field value '%s'", list)
	}
	delim := "\t"
	if o.has('d') {
		delim = o.val['d']
		if len([]rune(delim)) != 1 {
			return e.Errorf(1, "the delimiter must be a single character")
		}
	}
	files := o.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	for _, f := range files {
		b, err := readInput(e, f)
		if err != nil {
			fmt.Fprintf(e.Stderr, "cut: %s: %s\n", f, errText(err))
			status = 1
			continue
		}
		for _, l := range splitLines(string(b)) {
			if chars {
				var sb strings.Builder
				for i, r := range []rune(l) {
					if sel(i + 1) {
						sb.WriteRune(r)
					}
				}
				fmt.Fprintln(e.Stdout, sb.String())
				continue
			}
			if !strings.Contains(l, delim) {
				if !o.has('s') {
					fmt.Fprintln(e.Stdout, l)
				}
				continue
			}
			var out []string
			for i, fld := range strings.Split(l, delim) {
				if sel(i + 1) {
					out = append(out, fld)
				}
			}
			fmt.Fprintln(e.Stdout, strings.Join(out, delim))
		}
	}
	return status
}

func cmdSort(e *Env) int {
	o, ok := getopt(e, "urnk:t:V", map[string]byte{"unique": 'u', "reverse": 'r', "numeric-sort": 'n', "version-sort": 'V'})
	if !ok {
		return 2
	}
	files := o.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	var lines []string
	for _, f := range files {
		b, err := readInput(e, f)
		if err != nil {
			fmt.Fprintf(e.Stderr, "sort: cannot read: %s: %s\n", f, errText(err))
			return 2
		}
		lines = append(lines, splitLines(string(b))...)
	}
	key := func(s string) string { return s }
	if o.has('k') {
		n, err := strconv.Atoi(strings.SplitN(o.val['k'], ",", 2)[0])
		if err != nil || n < 1 {
			return e.Errorf(2, "invalid number at field start: invalid count at start of '%s'", o.val['k'])
		}
		sep := o.val['t']
		key = func(s string) string {
			var f []string
			if sep != "" {
				f = strings.Split(s, sep)
			} else {
				f = strings.Fields(s)
			}
			if n-1 < len(f) {
				return f[n-1]
			}
			return ""
		}
	}
	less := func(a, b string) bool { return key(a) < key(b) }
	if o.has('n') {
		num := func(s string) float64 {
			f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
			return f
		}
		less = func(a, b string) bool { return num(key(a)) < num(key(b)) }
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if o.has('r') {
			return less(lines[j], lines[i])
		}
		return less(lines[i], lines[j])
	})
	var prev *string
	for k := range lines {
		if o.has('u') && prev != nil && key(*prev) == key(lines[k]) {
			continue
		}
		fmt.Fprintln(e.Stdout, lines[k])
		prev = &lines[k]
	}
	return 0
}

func cmdUniq(e *Env) int {
	o, ok := getopt(e, "cdu", map[string]byte{"count": 'c', "repeated": 'd', "unique": 'u'})
	if !ok {
		return 1
	}
	in := "-"
	if len(o.args) > 0 {
		in = o.args[0]
	}
	b, err := readInput(e, in)
	if err != nil {
		fmt.Fprintf(e.Stderr, "uniq: %s: %s\n", in, errText(err))
		return 1
	}
	lines := splitLines(string(b))
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && lines[j] == lines[i] {
			j++
		}
		n := j - i
		if (!o.has('d') || n > 1) && (!o.has('u') || n == 1) {
			if o.has('c') {
				fmt.Fprintf(e.Stdout, "%7d %s\n", n, lines[i])
			} else {
				fmt.Fprintln(e.Stdout, lines[i])
			}
		}
		i = j
	}
	return 0
}

func cmdSeq(e *Env) int {
	args := e.Args[1:]
	sep := "\n"
	if len(args) >= 2 && args[0] == "-s" {
		sep, args = args[1], args[2:]
	} else if len(args) >= 1 && strings.HasPrefix(args[0], "-s") {
		sep, args = args[0][2:], args[1:]
	}
	nums := make([]int, len(args))
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil {
			return e.Errorf(1, "invalid floating point argument: '%s'", a)
		}
		nums[i] = n
	}
	first, step, last := 1, 1, 0
	switch len(nums) {
	case 1:
		last = nums[0]
	case 2:
		first, last = nums[0], nums[1]
	case 3:
		first, step, last = nums[0], nums[1], nums[2]
	default:
		return missingOperand(e)
	}
	if step == 0 {
		return e.Errorf(1, "invalid Zero increment value: '0'")
	}
	var out []string
	for n := first; (step > 0 && n <= last) || (step < 0 && n >= last); n += step {
		out = append(out, strconv.Itoa(n))
		if len(out) > 1_000_000 {
			break
		}
	}
	if len(out) > 0 {
		io.WriteString(e.Stdout, strings.Join(out, sep)+"\n")
	}
	return 0
}

// cmdNohup runs its command immune to the session ending (its context is
// detached from the caller's cancellation, as SIGHUP is ignored).
func cmdNohup(e *Env) int {
	if len(e.Args) < 2 {
		return missingOperand(e)
	}
	child := *e
	if e.Ctx != nil {
		child.Ctx = context.WithoutCancel(e.Ctx)
	}
	if !child.Executable(e.Args[1]) {
		fmt.Fprintf(e.Stderr, "nohup: failed to run command '%s': No such file or directory\n", e.Args[1])
		return 127
	}
	return child.Exec(e.Args[1:]...)
}

func cmdTimeout(e *Env) int {
	args := e.Args[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if args[0] == "-s" || args[0] == "-k" || args[0] == "--signal" || args[0] == "--kill-after" {
			if len(args) < 2 {
				return missingOperand(e)
			}
			args = args[1:]
		}
		args = args[1:]
	}
	if len(args) < 2 {
		return missingOperand(e)
	}
	d, ok := parseDuration(args[0])
	if !ok {
		fmt.Fprintf(e.Stderr, "timeout: invalid time interval '%s'\nTry 'timeout --help' for more information.\n", args[0])
		return 125
	}
	if !e.Executable(args[1]) {
		fmt.Fprintf(e.Stderr, "timeout: failed to run command '%s': No such file or directory\n", args[1])
		return 127
	}
	parent := e.Ctx
	if parent == nil {
		return e.Exec(args[1:]...)
	}
	ctx, cancel := contextWithTimeout(parent, d)
	defer cancel()
	child := *e
	child.Ctx = ctx
	code := child.Exec(args[1:]...)
	if ctx.Err() != nil && parent.Err() == nil {
		return 124
	}
	return code
}

func cmdSudo(e *Env) int {
	args := e.Args[1:]
	user := "root"
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-u":
			if len(args) < 2 {
				return e.Errorf(1, "option requires an argument -- 'u'")
			}
			user = args[1]
			args = args[1:]
		case "-n", "-E", "-H", "-i", "-S", "--", "-k":
		default:
			if !strings.HasPrefix(args[0], "--preserve-env") {
				return e.Errorf(1, "invalid option -- '%s'", strings.TrimLeft(args[0], "-"))
			}
		}
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(e.Stderr, "usage: sudo -h | -K | -k | -V")
		return 1
	}
	if !e.Executable(args[0]) {
		fmt.Fprintf(e.Stderr, "sudo: %s: command not found\n", args[0])
		return 1
	}
	child := *e
	child.User = user
	child.Vars = copyVars(e.Vars)
	child.Vars["USER"] = user
	child.Vars["SUDO_USER"] = e.User
	if user == "root" {
		child.Vars["HOME"] = "/root"
	}
	return child.Exec(args...)
}

func cmdWhich(e *Env) int {
	if e.st == nil || len(e.Args) < 2 {
		return 1
	}
	status := 0
	for _, n := range e.Args[1:] {
		if strings.HasPrefix(n, "-") {
			continue
		}
		p, kind, ok := e.st.commandPath(n)
		if !ok || kind != "file" {
			status = 1
			continue
		}
		fmt.Fprintln(e.Stdout, p)
	}
	return status
}

func cmdXargs(e *Env) int {
	args := e.Args[1:]
	perLine := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-r", "--no-run-if-empty":
		case "-L", "-n":
			if len(args) < 2 || args[1] != "1" {
				return e.Errorf(1, "only -n 1 / -L 1 are supported in the lab shell")
			}
			perLine = true
			args = args[1:]
		case "-0":
			return e.Errorf(1, "-0 is not supported in the lab shell")
		default:
			return e.Errorf(1, "invalid option -- '%s'", strings.TrimLeft(args[0], "-"))
		}
		args = args[1:]
	}
	if len(args) == 0 {
		args = []string{"echo"}
	}
	in, err := io.ReadAll(e.Stdin)
	if err != nil {
		return 1
	}
	items := strings.Fields(string(in))
	if len(items) == 0 {
		return 0
	}
	status := 0
	if perLine {
		for _, it := range items {
			if c := e.Exec(append(append([]string{}, args...), it)...); c != 0 {
				status = 123
			}
		}
		return status
	}
	if c := e.Exec(append(append([]string{}, args...), items...)...); c != 0 {
		return 123
	}
	return 0
}

func cmdFind(e *Env) int {
	args := e.Args[1:]
	var roots []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		roots = append(roots, args[0])
		args = args[1:]
	}
	if len(roots) == 0 {
		roots = []string{"."}
	}
	var nameGlob, typ string
	maxDepth := -1
	for k := 0; k < len(args); k++ {
		if k+1 >= len(args) {
			return e.Errorf(1, "missing argument to '%s'", args[k])
		}
		switch args[k] {
		case "-name":
			nameGlob = args[k+1]
		case "-type":
			typ = args[k+1]
		case "-maxdepth":
			n, err := strconv.Atoi(args[k+1])
			if err != nil {
				return e.Errorf(1, "invalid argument '%s' to -maxdepth", args[k+1])
			}
			maxDepth = n
		default:
			return e.Errorf(1, "unknown predicate '%s' (the lab's find knows -name, -type, -maxdepth)", args[k])
		}
		k++
	}
	status := 0
	var walk func(p, shown string, depth int)
	walk = func(p, shown string, depth int) {
		fi, err := lstat(e.FS, p)
		if err != nil {
			fmt.Fprintf(e.Stderr, "find: '%s': %s\n", shown, errText(err))
			status = 1
			return
		}
		ok := (nameGlob == "" || matchGlob(nameGlob, path.Base(p))) &&
			(typ == "" || typ == "d" && fi.IsDir || typ == "f" && !fi.IsDir && fi.Mode&fs.ModeSymlink == 0 || typ == "l" && fi.Mode&fs.ModeSymlink != 0)
		if ok {
			fmt.Fprintln(e.Stdout, shown)
		}
		if fi.IsDir && (maxDepth < 0 || depth < maxDepth) {
			names, _ := e.FS.ReadDir(p)
			for _, n := range names {
				walk(path.Join(p, n), strings.TrimSuffix(shown, "/")+"/"+n, depth+1)
			}
		}
	}
	for _, r := range roots {
		walk(e.Abs(r), r, 0)
	}
	return status
}

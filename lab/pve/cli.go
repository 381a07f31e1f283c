package pve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
)

// cli is a parsed PVE-style command line: positionals and -opt/--opt values.
type cli struct {
	pos  []string
	opts map[string]string
	bad  string
}

var boolOpts = map[string]bool{"full": true, "purge": true, "force": true, "skiplock": true, "start": true, "destroy-unreferenced-disks": true,
	"json": true, "noout": true, "verbose": true, "quiet": true, "y": true, "yes": true, "add_storage": true, "add-datastore": true, "privsep": true,
	"propagate": true, "delete": true, "a": true, "all": true, "keepActive": true, "forceStop": true, "enabled": true, "noerr": true}

func parseCLI(args []string) cli {
	c := cli{opts: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			c.pos = append(c.pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' && !isNumber(a) {
			name := strings.TrimLeft(a, "-")
			if k, v, ok := strings.Cut(name, "="); ok {
				c.opts[k] = v
				continue
			}
			if boolOpts[name] {
				if i+1 < len(args) && (args[i+1] == "0" || args[i+1] == "1") {
					c.opts[name] = args[i+1]
					i++
				} else {
					c.opts[name] = "1"
				}
				continue
			}
			if i+1 >= len(args) {
				c.bad = name
				c.opts[name] = ""
				continue
			}
			if _, dup := c.opts[name]; dup {
				c.opts[name] += "\x00" + args[i+1]
			} else {
				c.opts[name] = args[i+1]
			}
			i++
			continue
		}
		c.pos = append(c.pos, a)
	}
	return c
}

func isNumber(s string) bool { _, err := strconv.ParseFloat(s, 64); return err == nil }

// fail prints an error the way PVE's CLI does (perl die → exit 255).
func fail(e *shell.Env, err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		if len(ae.Errors) > 0 {
			fmt.Fprintf(e.Stderr, "%d %s\n", ae.Code, ae.Msg)
			for _, k := range sortedKeys(ae.Errors) {
				fmt.Fprintf(e.Stderr, "%s: %s\n", k, ae.Errors[k])
			}
			return 255
		}
		msg := ae.Msg
		if ae.Code == 403 || ae.Code == 401 {
			msg = fmt.Sprintf("%d %s", ae.Code, ae.Msg)
		}
		fmt.Fprintln(e.Stderr, msg)
		return 255
	}
	fmt.Fprintln(e.Stderr, err.Error())
	return 255
}

func usage(e *shell.Env, text string) int {
	fmt.Fprintf(e.Stderr, "400 not enough arguments\n%s\n", text)
	return 255
}

var root = authInfo{user: "root@pam"}

// wait sleeps for a CLI task's duration (outside the lock) and reports its outcome.
func (n *Node) waitTask(e *shell.Env, t *Task, printLog bool) int {
	if d := time.Until(t.FinishAt); d > 0 {
		if err := n.sleepCtx(e, d); err != nil {
			return 130
		}
	}
	if printLog {
		for _, l := range t.Log[:len(t.Log)-1] {
			fmt.Fprintln(e.Stdout, l)
		}
	}
	if t.Exit != "OK" {
		fmt.Fprintln(e.Stderr, t.Exit)
		return 255
	}
	return 0
}

// withLock runs f under the node lock, counting a mutation when it
// succeeds and mut is set.
func (n *Node) withLock(mut bool, f func() error) (err error) {
	n.lock()
	defer func() {
		if r := recover(); r != nil {
			err = runErr("lab internal error: %v", r)
		}
		if err == nil && mut {
			n.mut[1].Add(1)
			n.changed()
		}
		n.unlock()
	}()
	return f()
}

// Commands returns the PVE node's shell commands, to register in the
// node's interpreter.
func (n *Node) Commands() map[string]shell.Command {
	cmds := map[string]shell.Command{
		"pveversion": n.cmdPveversion, "pvesh": n.cmdPvesh, "qm": n.cmdQm, "pvesm": n.cmdPvesm, "pvecm": n.cmdPvecm,
		"pveum": n.cmdPveum, "ha-manager": n.cmdHAManager, "pvenode": n.cmdPvenode,
		"apt-get": n.cmdApt, "apt": n.cmdApt, "dpkg-query": n.cmdDpkgQuery, "dpkg": n.cmdDpkg,
		"zpool": n.cmdZpool, "zfs": n.cmdZfs, "lsblk": n.cmdLsblk, "ip": n.cmdIP, "ifreload": n.cmdIfreload,
		"systemctl": n.cmdSystemctl, "systemd-run": n.cmdSystemdRun, "openssl": n.cmdOpenssl,
		"curl": n.cmdCurl, "wget": n.cmdWget, "zstd": n.cmdZstd, "unzstd": n.cmdZstd, "ping": n.cmdPing, "getent": n.cmdGetent,
		"hostname": n.cmdHostname, "wipefs": n.cmdWipe, "sgdisk": n.cmdWipe, "partprobe": n.cmdTrue, "udevadm": n.cmdTrue,
		"dd": n.cmdDd, "timedatectl": n.cmdTimedatectl, "df": n.cmdDf, "proxmox-backup-manager": n.cmdPBM,
		"pvesr": n.cmdPvesr, "ssh-keygen": n.cmdSSHKeygen,
	}
	for name, c := range cmds {
		cmds[name] = guard(n, c)
	}
	return cmds
}

// guard turns a panic in a command into exit 70 with a message (and frees
// the model lock if the command held it).
func guard(n *Node, c shell.Command) shell.Command {
	return func(e *shell.Env) (rc int) {
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintf(e.Stderr, "%s: lab internal error: %v\n", e.Name(), r)
				rc = 70
			}
		}()
		return c(e)
	}
}

func (n *Node) cmdTrue(e *shell.Env) int { return 0 }

func (n *Node) cmdPveversion(e *shell.Env) int {
	c := parseCLI(e.Args[1:])
	_, v := c.opts["v"]
	_, verbose := c.opts["verbose"]
	if !v && !verbose {
		fmt.Fprintf(e.Stdout, "pve-manager/%s/%s (running kernel: %s)\n", PVEVersion, PVERepoID, Kernel)
		return 0
	}
	fmt.Fprintf(e.Stdout, "proxmox-ve: 9.1.0 (running kernel: %s)\npve-manager: %s (running version: %s/%s)\n", Kernel, PVEVersion, PVEVersion, PVERepoID)
	n.lock()
	names := sortedKeys(n.m.Apt.Installed)
	for _, p := range names {
		if p != "pve-manager" && p != "proxmox-ve" {
			fmt.Fprintf(e.Stdout, "%s: %s\n", p, n.m.Apt.Installed[p])
		}
	}
	n.unlock()
	return 0
}

// invoke calls an API endpoint in-process as root@pam (pvesh).
func (n *Node) invoke(method, path string, params map[string]string) (any, map[string]any, error) {
	rt, pp, known := n.routeFor(method, path)
	if rt == nil {
		if known {
			return nil, nil, &APIError{Code: 501, Msg: fmt.Sprintf("Method '%s %s' not implemented", method, path)}
		}
		return nil, nil, &APIError{Code: 400, Msg: fmt.Sprintf("No '%s' handler defined for '%s'", strings.ToLower(map[string]string{"GET": "get", "POST": "create", "PUT": "set", "DELETE": "delete"}[method]), path)}
	}
	if e := checkParams(rt, pp, params); e != nil {
		return nil, nil, e
	}
	for k, v := range pp {
		params[k] = v
	}
	c := &call{n: n, auth: root, p: params, extra: map[string]any{}}
	data, err := n.handle(c, rt, method)
	if err == nil && method != "GET" {
		n.mut[0].Add(-1) // counted as a shell command, not an API call
		n.mut[1].Add(1)
	}
	return data, c.extra, err
}

func (n *Node) cmdPvesh(e *shell.Env) int {
	args := e.Args[1:]
	if len(args) < 2 {
		return usage(e, "USAGE: pvesh <get|set|create|delete|ls|usage> <api_path> [OPTIONS]")
	}
	verb, path := args[0], "/"+strings.Trim(args[1], "/")
	c := parseCLI(args[2:])
	format := c.opts["output-format"]
	delete(c.opts, "output-format")
	delete(c.opts, "noproxy")
	delete(c.opts, "quiet")
	method := map[string]string{"get": "GET", "ls": "GET", "create": "POST", "set": "PUT", "delete": "DELETE"}[verb]
	if method == "" {
		return e.Errorf(255, "unknown command 'pvesh %s'", verb)
	}
	data, _, err := n.invoke(method, path, c.opts)
	if err != nil {
		return fail(e, err)
	}
	if s, ok := data.(string); ok && strings.HasPrefix(s, "UPID:") {
		n.lock()
		t := n.task(s)
		n.unlock()
		if t != nil {
			if rc := n.waitTask(e, t, true); rc != 0 {
				return rc
			}
		}
		if format != "" {
			b, _ := json.Marshal(s)
			fmt.Fprintln(e.Stdout, string(b))
		} else {
			fmt.Fprintln(e.Stdout, s)
		}
		return 0
	}
	if data == nil {
		return 0
	}
	switch format {
	case "json":
		b, _ := json.Marshal(data)
		fmt.Fprintln(e.Stdout, string(b))
	default:
		b, _ := json.MarshalIndent(data, "", "   ")
		fmt.Fprintln(e.Stdout, string(b))
	}
	return 0
}

func readAllString(r io.Reader) string {
	if r == nil {
		return ""
	}
	b, _ := io.ReadAll(r)
	return string(b)
}

// readPassword is PVE::PTY::read_password on a stdin that is not a
// terminal: one line, without its newline (chomp; other whitespace is
// kept); no line at all is "EOF while reading password"
// (proxmox/pve-common src/PVE/PTY.pm read_password).
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("EOF while reading password")
	}
	var b []byte
	one := make([]byte, 1)
	for {
		n, err := r.Read(one)
		if n == 1 {
			if one[0] == '\n' {
				return string(b), nil
			}
			b = append(b, one[0])
			continue
		}
		if err != nil {
			if len(b) == 0 {
				return "", errors.New("EOF while reading password")
			}
			return string(b), nil
		}
	}
}

// interactivePassword resolves an option mapped with PVE's 'pve-password'
// standard mapping (interactive => 1): Getopt takes it as "password:s", so
// `--password` without a value (here: last on the line) is read from stdin
// with readPassword (proxmox/pve-common src/PVE/CLIHandler.pm
// $standard_mappings, src/PVE/JSONSchema.pm get_options).
func interactivePassword(e *shell.Env, c cli) (ok bool) {
	v, given := c.opts["password"]
	if !given || v != "" {
		return true
	}
	pw, err := readPassword(e.Stdin)
	if err != nil {
		fmt.Fprintln(e.Stderr, err.Error())
		return false
	}
	c.opts["password"] = pw
	return true
}

// sleepCtx waits d (already scaled), interrupted by the command's context.
func (n *Node) sleepCtx(e *shell.Env, d time.Duration) error {
	ctx := e.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package pve

import (
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/tappaas/tappaas/lab/shell"
)

// fetchURL is what an HTTP GET (or HEAD, which transfers no body and so
// takes no download time) from the node gets: mirror URLs, or for other
// internet URLs a connectivity answer (an empty page for "/", 404
// otherwise). code is curl's exit code on failure.
func (n *Node) fetchURL(e *shell.Env, raw string, head bool) (data []byte, status int, code int, msg string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, 0, 3, "URL rejected: Malformed input to a URL function"
	}
	host := u.Hostname()
	ip, ok := n.resolve(host)
	if !ok {
		return nil, 0, 6, "Could not resolve host: " + host
	}
	n.lock()
	up := n.reachableLocked(ip)
	n.unlock()
	if !up {
		return nil, 0, 7, fmt.Sprintf("Failed to connect to %s port 443 after 3001 ms: Could not connect to server", host)
	}
	if b, st, ok := ReleaseAPI(raw); ok {
		return b, st, 0, ""
	}
	if b, img, ok := MirrorFetch(raw); ok {
		if img != nil && !head {
			if err := n.sleepCtx(e, n.scaled(downloadTime(img.Nominal))); err != nil {
				return nil, 0, 130, "interrupted"
			}
		}
		return b, 200, 0, ""
	}
	if u.Path == "" || u.Path == "/" {
		return []byte("<!doctype html><title>lab</title>\n"), 200, 0, ""
	}
	return []byte("404: Not Found"), 404, 0, ""
}

func (n *Node) cmdCurl(e *shell.Env) int {
	var out, rawURL string
	failOnErr, silent, showErr, remoteName, head := false, false, false, false, false
	args := e.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		takes := map[string]bool{"-o": true, "--output": true, "-u": true, "-H": true, "-X": true, "-d": true, "--data": true, "-w": true, "--retry": true,
			"--retry-delay": true, "--connect-timeout": true, "-m": true, "--max-time": true, "-A": true, "--cacert": true, "--retry-max-time": true, "-C": true, "--continue-at": true}
		switch {
		case takes[a] && i+1 < len(args):
			if a == "-o" || a == "--output" {
				out = args[i+1]
			}
			i++
		case a == "--fail" || a == "-f":
			failOnErr = true
		case a == "--silent" || a == "-s":
			silent = true
		case a == "--show-error" || a == "-S":
			showErr = true
		case a == "-O" || a == "--remote-name":
			remoteName = true
		case a == "-I" || a == "--head":
			head = true
		case strings.HasPrefix(a, "--"):
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j, ch := range a[1:] {
				switch ch {
				case 'f':
					failOnErr = true
				case 's':
					silent = true
				case 'S':
					showErr = true
				case 'O':
					remoteName = true
				case 'I':
					head = true
				case 'o':
					if j == len(a)-2 && i+1 < len(args) {
						out = args[i+1]
						i++
					}
				}
			}
		default:
			rawURL = a
		}
	}
	if rawURL == "" {
		fmt.Fprintln(e.Stderr, "curl: no URL specified")
		return 2
	}
	data, status, code, msg := n.fetchURL(e, rawURL, head)
	if code != 0 {
		if !silent || showErr {
			fmt.Fprintf(e.Stderr, "curl: (%d) %s\n", code, msg)
		}
		return code
	}
	if status >= 400 && failOnErr {
		if !silent || showErr {
			fmt.Fprintf(e.Stderr, "curl: (22) The requested URL returned error: %d\n", status)
		}
		return 22
	}
	if head {
		fmt.Fprintf(e.Stdout, "HTTP/2 %d\r\ncontent-length: %d\r\n\r\n", status, len(data))
		return 0
	}
	if remoteName && out == "" {
		out = path.Base(rawURL)
	}
	if out == "" || out == "-" {
		_, _ = e.Stdout.Write(data)
		return 0
	}
	if err := n.fs.WriteFile(e.Abs(out), data, 0o644); err != nil {
		fmt.Fprintf(e.Stderr, "curl: (23) Failure writing output to destination, passed %d returned 0\n", len(data))
		return 23
	}
	return 0
}

func (n *Node) cmdWget(e *shell.Env) int {
	var out, rawURL string
	quiet := false
	args := e.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "-O" || a == "--output-document") && i+1 < len(args):
			out = args[i+1]
			i++
		case strings.HasPrefix(a, "--output-document="):
			out = strings.TrimPrefix(a, "--output-document=")
		case a == "-q" || a == "--quiet":
			quiet = true
		case a == "-qO-" || a == "-qO":
			quiet = true
			out = "-"
			if a == "-qO" && i+1 < len(args) {
				out = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "-"):
		default:
			rawURL = a
		}
	}
	if rawURL == "" {
		fmt.Fprintln(e.Stderr, "wget: missing URL")
		return 1
	}
	data, status, code, msg := n.fetchURL(e, rawURL, false)
	if code != 0 {
		if !quiet {
			fmt.Fprintf(e.Stderr, "wget: %s\n", strings.ToLower(msg))
		}
		return 4
	}
	if status >= 400 {
		if !quiet {
			fmt.Fprintf(e.Stderr, "ERROR %d: Not Found.\n", status)
		}
		return 8
	}
	if out == "" {
		out = path.Base(rawURL)
	}
	if out == "-" {
		_, _ = e.Stdout.Write(data)
		return 0
	}
	if err := n.fs.WriteFile(e.Abs(out), data, 0o644); err != nil {
		fmt.Fprintf(e.Stderr, "%s: %s\n", out, shell.ErrText(err))
		return 3
	}
	if !quiet {
		fmt.Fprintf(e.Stderr, "'%s' saved [%d/%d]\n", out, len(data), len(data))
	}
	return 0
}

func (n *Node) cmdZstd(e *shell.Env) int {
	decomp := e.Name() == "unzstd"
	force, toStdout, rm := false, false, false
	out := ""
	var files []string
	args := e.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-d" || a == "--decompress" || a == "--uncompress":
			decomp = true
		case a == "-f" || a == "--force":
			force = true
		case a == "-c" || a == "--stdout":
			toStdout = true
		case a == "--rm":
			rm = true
		case a == "-o" && i+1 < len(args):
			out = args[i+1]
			i++
		case strings.HasPrefix(a, "--long") || a == "-q" || a == "--quiet" || a == "-T0" || strings.HasPrefix(a, "-T"):
		case strings.HasPrefix(a, "-") && len(a) > 1 && !strings.HasPrefix(a, "--"):
			for _, ch := range a[1:] {
				switch ch {
				case 'd':
					decomp = true
				case 'f':
					force = true
				case 'c':
					toStdout = true
				}
			}
		default:
			files = append(files, a)
		}
	}
	if !decomp {
		fmt.Fprintln(e.Stderr, "zstd: lab: only decompression (-d) is simulated")
		return 1
	}
	if len(files) == 0 {
		b, _ := io.ReadAll(e.Stdin)
		d, err := decompress(b)
		if err != nil {
			fmt.Fprintf(e.Stderr, "zstd: /*stdin*\\: %v\n", err)
			return 1
		}
		_, _ = e.Stdout.Write(d)
		return 0
	}
	for _, f := range files {
		p := e.Abs(f)
		b, err := n.fs.ReadFile(p)
		if err != nil {
			fmt.Fprintf(e.Stderr, "zstd: can't stat %s : No such file or directory -- ignored\n", f)
			return 1
		}
		dst := out
		if dst == "" && !toStdout {
			if !strings.HasSuffix(f, ".zst") {
				fmt.Fprintf(e.Stderr, "zstd: %s: unknown suffix (.zst/.tzst expected). Can't derive the output file name. Specify it with -o dstFileName. Ignoring.\n", f)
				return 1
			}
			dst = strings.TrimSuffix(f, ".zst")
		}
		d, err := decompress(b)
		if err != nil {
			fmt.Fprintf(e.Stderr, "zstd: %s: %v\n", f, err)
			return 1
		}
		if toStdout {
			_, _ = e.Stdout.Write(d)
			continue
		}
		dp := e.Abs(dst)
		if _, err := n.fs.Stat(dp); err == nil && !force {
			fmt.Fprintf(e.Stderr, "zstd: %s already exists; not overwritten  \n", dst)
			return 1
		}
		if err := n.sleepCtx(e, n.scaled(downloadTime(int64(len(d))*8000))); err != nil {
			return 130
		}
		if err := n.fs.WriteFile(dp, d, 0o644); err != nil {
			fmt.Fprintf(e.Stderr, "zstd: %s: %s\n", dst, shell.ErrText(err))
			return 1
		}
		if rm {
			_ = n.fs.Remove(p)
		}
		fmt.Fprintf(e.Stderr, "%s: %d bytes \n", f, len(d))
	}
	return 0
}

func (n *Node) cmdDd(e *shell.Env) int {
	kv := map[string]string{}
	for _, a := range e.Args[1:] {
		k, v, _ := strings.Cut(a, "=")
		kv[k] = v
	}
	in, out := kv["if"], kv["of"]
	if in == "" || out == "" {
		fmt.Fprintln(e.Stderr, "dd: lab: if= and of= are required")
		return 1
	}
	b, err := n.fs.ReadFile(e.Abs(in))
	if err != nil && !strings.HasPrefix(in, "/dev/zero") {
		fmt.Fprintf(e.Stderr, "dd: failed to open '%s': No such file or directory\n", in)
		return 1
	}
	if strings.HasPrefix(out, "/dev/zvol/") {
		parts := strings.Split(strings.TrimPrefix(out, "/dev/zvol/"), "/")
		ok := false
		n.lock()
		if len(parts) >= 2 {
			for _, s := range n.m.Storages {
				if s.Type == "zfspool" && s.Config["pool"] == strings.Join(parts[:len(parts)-1], "/") && n.m.Volumes[s.ID+":"+parts[len(parts)-1]] != nil {
					ok = true
				}
			}
		}
		n.unlock()
		if !ok {
			fmt.Fprintf(e.Stderr, "dd: failed to open '%s': No such file or directory\n", out)
			return 1
		}
	} else if err := n.fs.WriteFile(e.Abs(out), b, 0o644); err != nil {
		fmt.Fprintf(e.Stderr, "dd: failed to open '%s': %s\n", out, shell.ErrText(err))
		return 1
	}
	fmt.Fprintf(e.Stderr, "%d+0 records in\n%d+0 records out\n%d bytes copied, 0.01 s\n", len(b)/512, len(b)/512, len(b))
	return 0
}

// Package firewall creates the OPNsense firewall VM and takes it over:
// image download with retry and checksum verification, the VM per
// firewall.json, a rendered configuration carrying freshly generated API
// credentials, the push, the wait for the API with our key, and the proof
// that the image's public bootstrap credentials no longer work
// (docs/upstream.md#firewall-takeover, #first-boot-settle and
// #rotation-only-warns).
//
// The Image step is shared with the platform phase (the NixOS template).
package firewall

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// ImportDir is where images land: storage local's "import" content, so the
// VM create can reference local:import/<file>.
const ImportDir = "/var/lib/vz/import"

// Image downloads an image (resuming partial downloads, retrying), verifies
// its SHA-256 before anything uses it, and decompresses .zst images.
type Image struct {
	Node   exec.Executor
	StepID string // "firewall.image"
	URL    string
	SHA256 string
	// Attempts bounds the download retries (default 4).
	Attempts int
	// NeedsIDs are the steps this one waits for.
	NeedsIDs []string
}

// FileName is the downloaded file's name.
func (s *Image) FileName() string { return path.Base(s.URL) }

// ImportName is the (decompressed) file the VM imports.
func (s *Image) ImportName() string { return strings.TrimSuffix(s.FileName(), ".zst") }

// ImportPath is the absolute path of ImportName.
func (s *Image) ImportPath() string { return path.Join(ImportDir, s.ImportName()) }

// VolID is the import volume ("local:import/<file>").
func (s *Image) VolID() string { return "local:import/" + s.ImportName() }

func (s *Image) stamp() string { return s.ImportPath() + ".sha256" }

func (s *Image) ID() string { return s.StepID }

func (s *Image) Title() string { return "Download " + s.FileName() }

func (s *Image) Needs() []string { return s.NeedsIDs }

func (s *Image) Touches() []string { return []string{"file:" + s.ImportPath()} }

func (s *Image) Describe(*steps.Runtime) []string {
	return []string{"download " + s.URL, "verify SHA-256 " + s.SHA256[:min(12, len(s.SHA256))] + "…", "unpack to " + s.ImportPath()}
}

// Check implements steps.Step: the unpacked image exists and was made from
// a download whose checksum matched the configured one.
func (s *Image) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	st, ok, err := node.ReadFile(ctx, s.Node, s.stamp())
	if err != nil {
		return steps.Status{}, err
	}
	if !ok || strings.TrimSpace(string(st)) != strings.ToLower(s.SHA256) {
		return steps.NotDone("%s is not downloaded and verified", s.ImportName()), nil
	}
	if ok, err := node.QueryOK(ctx, s.Node, "test -s "+exec.Quote(s.ImportPath())); err != nil {
		return steps.Status{}, err
	} else if !ok {
		return steps.NotDone("%s is missing", s.ImportPath()), nil
	}
	return steps.Done("%s verified (sha256 %s…)", s.ImportName(), s.SHA256[:12]), nil
}

// size asks the server for the image's size (the last Content-Length
// after redirects); 0 when it does not say.
func (s *Image) size(ctx context.Context) int64 {
	out, err := node.Query(ctx, s.Node, exec.Join("curl", "-fsIL", "--connect-timeout", "20", s.URL))
	if err != nil {
		return 0
	}
	var n int64
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if ok && strings.EqualFold(k, "content-length") {
			if x, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				n = x
			}
		}
	}
	return n
}

// watchEvery is how often a download's size is reported.
const watchEvery = 2 * time.Second

// watch reports the partial file's size until ctx ends (read-only: stat).
func (s *Image) watch(ctx context.Context, rt *steps.Runtime, part, what string, total int64) {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		out, err := node.Query(ctx, s.Node, "stat -c %s "+exec.Quote(part))
		if err != nil {
			continue // not there yet
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64); err == nil {
			rt.Transfer(what, n, total)
		}
	}
}

func (s *Image) Apply(ctx context.Context, rt *steps.Runtime) error {
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	dl := path.Join(ImportDir, s.FileName()+".part")
	if _, err := node.Run(ctx, rt, s.Node, "mkdir -p "+exec.Quote(ImportDir)); err != nil {
		return err
	}
	total := s.size(ctx)
	var lastErr error
	for a := 1; a <= attempts; a++ {
		what := s.FileName()
		if a > 1 {
			what += fmt.Sprintf(" (attempt %d of %d)", a, attempts)
		}
		rt.Transfer(what, 0, total)
		wctx, stop := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() { defer close(watched); s.watch(wctx, rt, dl, what, total) }()
		_, err := node.Run(ctx, rt, s.Node, exec.Join("curl", "-fsSL", "--retry", "3", "--connect-timeout", "20", "-C", "-", "-o", dl, s.URL))
		stop()
		<-watched
		if err == nil {
			if total > 0 {
				rt.Transfer(what, total, total)
			}
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lastErr = err
		rt.Printf("download attempt %d failed: %v", a, err)
		if a == attempts {
			return steps.MarkRetryable(fmt.Errorf("download %s failed %d times (check the node's internet access; a rerun resumes the partial file): %w", s.URL, attempts, lastErr))
		}
		// Back off before the next attempt (curl resumes with -C -).
		t := time.NewTimer(time.Duration(a) * time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	out, err := node.Run(ctx, rt, s.Node, "sha256sum "+exec.Quote(dl))
	if err != nil {
		return err
	}
	got := strings.Fields(out)
	if len(got) == 0 || !strings.EqualFold(got[0], s.SHA256) {
		// A corrupt or foreign file must not be resumed: remove it.
		_, _ = node.Query(ctx, s.Node, "rm -f "+exec.Quote(dl))
		have := "nothing"
		if len(got) > 0 {
			have = got[0]
		}
		return fmt.Errorf("checksum mismatch for %s: got %s, want %s (the file was removed; check the URL and sha256 in the answers)", s.URL, have, s.SHA256)
	}
	rt.Printf("sha256 verified: %s", s.SHA256)
	if strings.HasSuffix(s.FileName(), ".zst") {
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("zstd", "-d", "-q", "--long=27", "-f", "-o", s.ImportPath(), dl)); err != nil {
			return fmt.Errorf("unpack %s: %w", s.FileName(), err)
		}
		if _, err := node.Run(ctx, rt, s.Node, "rm -f "+exec.Quote(dl)); err != nil {
			return err
		}
	} else if _, err := node.Run(ctx, rt, s.Node, exec.Join("mv", "-f", dl, s.ImportPath())); err != nil {
		return err
	}
	if ok, err := node.QueryOK(ctx, s.Node, "test -s "+exec.Quote(s.ImportPath())); err != nil {
		return fmt.Errorf("check the unpacked image %s: %w", s.ImportPath(), err)
	} else if !ok {
		return fmt.Errorf("unpacked image %s is empty (zstd window mismatch? upstream #368)", s.ImportPath())
	}
	return node.Write(ctx, s.Node, s.stamp(), []byte(strings.ToLower(s.SHA256)+"\n"), 0o644)
}

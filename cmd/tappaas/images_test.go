package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/config"

	"github.com/tappaas/tappaas/lab/pve"
	"github.com/tappaas/tappaas/steps/install"
	"github.com/tappaas/tappaas/steps/node"
	"github.com/tappaas/tappaas/tui"
)

// The wizard's image checksums come from where the images are published:
// the GitHub release's asset digests, read by curl on the node (the lab
// answers for api.github.com), each with its source; nothing is pasted.
func TestDetectTakesChecksumsFromTheRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := installOptions{lab: true, labDir: dir, labReset: true, logFile: dir + "/log", concurrency: 1}
	b := tui.NewNodeBackend(tui.NodeOptions{Target: "lab", Concurrency: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Open: func(ctx context.Context) (*install.Session, error) { return openSession(ctx, o, io.Discard) }})
	defer b.Close()
	det, err := b.Detect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, img := range pve.MirrorImages() {
		want[img.URL] = img.SHA256
	}
	in := det.Install
	if in.Firewall.ImageSHA256 == "" || in.Firewall.ImageSHA256 != want[in.Firewall.ImageURL] {
		t.Errorf("firewall sha256 %q, want %q", in.Firewall.ImageSHA256, want[in.Firewall.ImageURL])
	}
	if in.Platform.TemplateImageSHA256 == "" || in.Platform.TemplateImageSHA256 != want[in.Platform.TemplateImageURL] {
		t.Errorf("template sha256 %q, want %q", in.Platform.TemplateImageSHA256, want[in.Platform.TemplateImageURL])
	}
	if len(det.Images) != 2 || !strings.Contains(det.Images[0].Source, "GitHub release opnsense-firewall-v1.1 of TAPPaaS/TAPPaaS") ||
		!strings.Contains(det.Images[1].Source, "GitHub release nixos-template-v1.2") {
		t.Errorf("sources: %+v", det.Images)
	}
}

// Over SSH the node reports where our session comes from ($SSH_CLIENT, as
// sshd sets it): the source of Targets.OperatorAddr. The lab's SSH server
// sets it like OpenSSH ("client-ip client-port server-port"); its dial
// table reaches it over loopback, which install.OperatorAddr ignores.
func TestLabSSHSetsSSHClient(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess, err := openSession(ctx, installOptions{lab: true, labDir: dir, labReset: true, logFile: dir + "/log"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := node.Query(ctx, sess.Targets.Node, `printf '%s' "$SSH_CLIENT"`)
	if f := strings.Fields(out); err != nil || len(f) != 3 || f[0] != "127.0.0.1" {
		t.Fatalf("SSH_CLIENT over the lab's SSH = %q (%v), want \"127.0.0.1 PORT 22\"", out, err)
	}
	if sess.Targets.OperatorAddr != "" {
		t.Fatalf("OperatorAddr from loopback = %q, want none", sess.Targets.OperatorAddr)
	}
}

// Headless answers may leave the image checksums empty: they are taken from
// where the images are published (read on the node) and said so; an image
// whose release GitHub does not know stops with "input needed" (exit 2).
func TestInstallTakesEmptyChecksumsFromTheRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	t.Parallel()
	raw, err := os.ReadFile(exampleAnswers)
	if err != nil {
		t.Fatal(err)
	}
	blank := regexp.MustCompile(`(?m)^((template_)?image_sha256) = ".*"$`).ReplaceAllString(string(raw), `$1 = ""`)
	dir := t.TempDir()
	answers := filepath.Join(dir, "answers.toml")
	if err := os.WriteFile(answers, []byte(blank), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, out, err := labInstall(t, ctx, dir, true, nil, func(o *installOptions) { o.answers = answers })
	if code != 0 {
		t.Fatalf("exit %d: %v\n%s", code, err, tail(out, 40))
	}
	want := map[string]string{}
	for _, img := range pve.MirrorImages() {
		want[img.URL] = img.SHA256
	}
	cfg := config.Defaults()
	for _, line := range []string{
		"firewall.image_sha256 = " + want[cfg.Firewall.ImageURL] + " (from GitHub release opnsense-firewall-v1.1 of TAPPaaS/TAPPaaS, asset digest)",
		"platform.template_image_sha256 = " + want[cfg.Platform.TemplateImageURL] + " (from GitHub release nixos-template-v1.2 of TAPPaaS/TAPPaaS, asset digest)",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q", line)
		}
	}

	bad := strings.Replace(blank, "opnsense-firewall-v1.1", "opnsense-firewall-v9.9", 1)
	if err := os.WriteFile(answers, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, err = labInstall(t, ctx, t.TempDir(), true, nil, func(o *installOptions) { o.answers = answers })
	if code != 2 || err == nil || !strings.Contains(err.Error(), `GitHub has no release "opnsense-firewall-v9.9"`) {
		t.Fatalf("unknown release: exit %d, %v", code, err)
	}
}

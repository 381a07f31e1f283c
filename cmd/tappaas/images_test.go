package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/lab/pve"
	"github.com/tappaas/tappaas/steps/install"
)

// The wizard's image checksums come from where the images are published:
// the GitHub release's asset digests, read by curl on the node (the lab
// answers for api.github.com), each with its source; nothing is pasted.
func TestDetectTakesChecksumsFromTheRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := &nodeBackend{o: installOptions{lab: true, labDir: dir, labReset: true, logFile: dir + "/log", concurrency: 1},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
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
// sshd sets it): the default of node.admin_network. The lab's SSH server
// sets it like OpenSSH; its dial table reaches it over loopback.
func TestOperatorAddrOverSSH(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess, err := openSession(ctx, installOptions{lab: true, labDir: dir, labReset: true, logFile: dir + "/log"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if got := install.RemoteOperatorAddr(ctx, sess.targets.Node); got != "127.0.0.1" {
		t.Fatalf("RemoteOperatorAddr over the lab's SSH = %q, want 127.0.0.1", got)
	}
}

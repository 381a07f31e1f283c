package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/lab"
	gossh "golang.org/x/crypto/ssh"
)

// TestJoinSecondLabNode installs tappaas1, then joins a second lab node
// (tappaas2) on the same lab site through `tappaas join`.
func TestJoinSecondLabNode(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	site := lab.NewSite()
	dir1 := t.TempDir()
	code, out, err := labInstall(t, ctx, dir1, true, nil)
	if code != 0 {
		t.Fatalf("install tappaas1: %d %v\n%s", code, err, tail(out, 20))
	}
	// tappaas1 keeps running on the site while tappaas2 joins.
	l1, err := lab.Start(ctx, lab.Options{Dir: dir1, Site: site})
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	info := l1.Info()

	dir2 := t.TempDir()
	answers := filepath.Join(dir2, "join.toml")
	b, err := os.ReadFile(exampleAnswers)
	if err != nil {
		t.Fatal(err)
	}
	a := strings.Replace(string(b), `hostname = "tappaas1"`, `hostname = "tappaas2"`, 1)
	a = strings.Replace(a, `management_cidr = "10.0.0.10/24"`, `management_cidr = "10.0.0.11/24"`, 1)
	a = strings.Replace(a, `gateway = "192.168.1.1"`, `gateway = "10.0.0.1"`, 1)
	a += fmt.Sprintf("\n[join]\npeer = %q\npeer_fingerprint = %q\n", info.MgmtAddr, info.PVEFingerprint)
	if err := os.WriteFile(answers, []byte(a), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(info.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ssh.Dial(ctx, ssh.Config{Addr: info.MgmtAddr + ":22", Dial: l1.Dial, KnownHostsFile: filepath.Join(dir2, "peer_known_hosts"),
		AcceptFingerprint: info.SSHFingerprint, Signers: []gossh.Signer{signer}})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	var jout bytes.Buffer
	scan := &argvScan{}
	l1.OnCommandLine(scan.record)
	o := installOptions{peerExec: peer, answers: answers, yes: true, output: "json", lab: true, labDir: dir2, labReset: true,
		labSite: site, labHostname: "tappaas2", concurrency: 4, logFile: dir2 + "/join.log",
		labHook: func(l *lab.Lab) { l.OnCommandLine(scan.record) }}
	pw := func(context.Context) (string, error) { return info.RootPassword, nil }
	code, err = runJoin(ctx, o, pw, &jout, &jout)
	if code != 0 {
		t.Fatalf("join: %d %v\n%s", code, err, tail(jout.String(), 30))
	}
	if strings.Contains(jout.String(), info.RootPassword) {
		t.Fatal("the peer's password reached the output")
	}
	// Nor any command line on either node (it goes to pvecm add on stdin).
	if hits := scan.hits(map[string]string{"the peer's root password": info.RootPassword}); len(hits) > 0 || len(scan.lines) == 0 {
		t.Fatalf("%d command lines recorded; secrets on them: %v", len(scan.lines), hits)
	}
	// The join shows on the first node too.
	st, err := l1.State()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), "tappaas2") {
		t.Fatal("tappaas1 does not list tappaas2 as a member")
	}
	// A second join run changes nothing.
	jout.Reset()
	o.labReset = false
	if code, err = runJoin(ctx, o, pw, &jout, &jout); code != 0 {
		t.Fatalf("second join: %d %v\n%s", code, err, tail(jout.String(), 30))
	}
	for _, e := range events(t, jout.String()) {
		if e.Event == "step_done" && e.Skipped != true {
			t.Errorf("second join applied %s", e.Step)
		}
	}
}

package firewall

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
)

const fwURL = "https://github.com/TAPPaaS/TAPPaaS/releases/download/opnsense-firewall-v1.1/tappaas-firewall.qcow2.zst"

func TestPublishedSum(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("ab", 32)
	release := `{"tag_name":"opnsense-firewall-v1.1","assets":[{"name":"other.txt","digest":"sha256:` + strings.Repeat("cd", 32) + `"},{"name":"tappaas-firewall.qcow2.zst","digest":"sha256:` + sum + `"}]}`
	cases := []struct {
		name    string
		url     string
		reply   func(*exectest.Fake)
		want    string
		noSum   bool // errors.Is(err, ErrNoPublishedSum)
		errText string
	}{
		{"digest", fwURL, func(f *exectest.Fake) {
			f.Reply(`^curl .* https://api.github.com/repos/TAPPaaS/TAPPaaS/releases/tags/opnsense-firewall-v1.1$`, release, 0)
		}, sum, false, ""},
		{"unknown tag", fwURL, func(f *exectest.Fake) {
			f.On(`^curl `, func(_ context.Context, inv *exectest.Invocation) (int, error) {
				inv.Stderr.Write([]byte("curl: (22) The requested URL returned error: 404\n"))
				return 22, nil
			})
		}, "", true, `no release "opnsense-firewall-v1.1"`},
		{"no digest", fwURL, func(f *exectest.Fake) {
			f.Reply(`^curl `, `{"assets":[{"name":"tappaas-firewall.qcow2.zst","digest":null}]}`, 0)
		}, "", true, "no sha256 digest"},
		{"no asset", fwURL, func(f *exectest.Fake) { f.Reply(`^curl `, `{"assets":[]}`, 0) }, "", true, "has no asset tappaas-firewall.qcow2.zst"},
		{"not github", "https://example.org/img.qcow2", func(*exectest.Fake) {}, "", true, "not a GitHub release asset"},
		{"no internet", fwURL, func(f *exectest.Fake) {
			f.On(`^curl `, func(_ context.Context, inv *exectest.Invocation) (int, error) {
				inv.Stderr.Write([]byte("curl: (6) Could not resolve host: api.github.com\n"))
				return 6, nil
			})
		}, "", false, "Could not resolve host"},
		{"garbage", fwURL, func(f *exectest.Fake) { f.Reply(`^curl `, `<html>`, 0) }, "", false, "unexpected answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := exectest.NewFake()
			tc.reply(f)
			p, err := PublishedSum(context.Background(), f, tc.url)
			if tc.want != "" {
				if err != nil || p.SHA256 != tc.want || !strings.Contains(p.Source, "GitHub release opnsense-firewall-v1.1 of TAPPaaS/TAPPaaS") {
					t.Fatalf("got %+v, %v", p, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, got %+v", p)
			}
			if errors.Is(err, ErrNoPublishedSum) != tc.noSum {
				t.Errorf("errors.Is(ErrNoPublishedSum) = %v, want %v: %v", !tc.noSum, tc.noSum, err)
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q lacks %q", err, tc.errText)
			}
		})
	}
}

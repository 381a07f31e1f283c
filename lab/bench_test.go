package lab

import (
	"context"
	"io"
	"net/http"
	"testing"
)

// BenchmarkStart is lab start to ready (every listener accepting).
func BenchmarkStart(b *testing.B) {
	for i := 0; i < b.N; i++ {
		l, err := Start(context.Background(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		l.Close()
		b.StartTimer()
	}
}

// BenchmarkStartResume is start to ready resuming a persisted model.
func BenchmarkStartResume(b *testing.B) {
	dir := b.TempDir()
	l, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	l.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, err := Start(context.Background(), Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		l.Close()
		b.StartTimer()
	}
}

// BenchmarkAPICalls10k is 10,000 sequential loopback API calls (token auth,
// keep-alive, TLS), per b.N iteration.
func BenchmarkAPICalls10k(b *testing.B) {
	l := startLab(b, Options{})
	id, secret := rootToken(b, l, "bench")
	c := httpClient(l)
	req, _ := http.NewRequest("GET", base+"/nodes/tappaas1/qemu", nil)
	req.Header.Set("Authorization", "PVEAPIToken="+id+"="+secret)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 10000; j++ {
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	}
}

// BenchmarkSSHCommands1000 is 1,000 commands on one SSH connection to the node.
func BenchmarkSSHCommands1000(b *testing.B) {
	l := startLab(b, Options{})
	c := nodeSSHB(b, l)
	defer c.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 1000; j++ {
			if _, err := run(c, "qm list"); err != nil {
				b.Fatal(err)
			}
		}
	}
}

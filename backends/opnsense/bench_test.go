package opnsense_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/backends/opnsense"
	"github.com/tappaas/tappaas/backends/opnsense/opnsensetest"
	labopn "github.com/tappaas/tappaas/lab/opnsense"
)

// BenchmarkClientRoundTrip: one pinned, authenticated GET over a kept-alive
// TLS connection to the simulator on loopback.
func BenchmarkClientRoundTrip(b *testing.B) {
	srv := opnsensetest.NewServer(b, labopn.Options{})
	c := srv.Client(b)
	ctx := context.Background()
	if _, err := c.FirmwareStatus(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.FirmwareStatus(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientAddVLAN: a validated write (no reconfigure).
func BenchmarkClientAddVLAN(b *testing.B) {
	srv := opnsensetest.NewServer(b, labopn.Options{})
	c := srv.Client(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: fmt.Sprintf("vtnet%d", i/4094%2), Tag: 1 + i%4094}); err != nil {
			if strings.Contains(err.Error(), "unique") {
				continue
			}
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSearch: decoding a 500-row rule search reply.
func BenchmarkParseSearch(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"rows":[`)
	for i := 0; i < 500; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"uuid":"u%d","enabled":"1","sequence":"%d","action":"pass","interface":"opt1","source_net":"10.2.10.0/24","destination_net":"any","description":"Zone srv -> internet","%%action":"Pass"}`, i, 30000+i)
	}
	sb.WriteString(`],"rowCount":500,"total":500,"current":1}`)
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, err := opnsense.ParseSearch(data)
		if err != nil || len(rows) != 500 {
			b.Fatal(err)
		}
	}
}

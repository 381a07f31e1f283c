package shell

import (
	"context"
	"io"
	"strings"
	"testing"
)

// BenchmarkRunTrue is the interpreter's floor: parse and run `true`.
func BenchmarkRunTrue(b *testing.B) {
	i := New(NewMemFS())
	ctx := context.Background()
	for n := 0; n < b.N; n++ {
		if code := i.Run(ctx, "true", nil, io.Discard, io.Discard, nil); code != 0 {
			b.Fatal(code)
		}
	}
}

// BenchmarkRunWriteFile runs the shape of the product's atomic WriteFile
// (mkdir, cat > tmp, sha256sum -c, chmod, mv) on a 4 KiB payload.
func BenchmarkRunWriteFile(b *testing.B) {
	i := New(NewMemFS())
	ctx := context.Background()
	data := strings.Repeat("x", 4096)
	script := `mkdir -p /etc/x && umask 077 && cat > /etc/x/.f.tmp && printf '%s\n' '` +
		`d8ddd1b9e8e1b8a9fa7d8ac0cd0f17e1b2c68a8b4b7a7de3fbe2d0ac7c6b0c55  /etc/x/.f.tmp' | sha256sum -c --status; ` +
		`chmod 0600 /etc/x/.f.tmp && mv -f /etc/x/.f.tmp /etc/x/f`
	b.SetBytes(int64(len(data)))
	for n := 0; n < b.N; n++ {
		i.Run(ctx, script, strings.NewReader(data), io.Discard, io.Discard, nil)
	}
}

// BenchmarkParse parses a 40-line script with here-documents.
func BenchmarkParse(b *testing.B) {
	var sb strings.Builder
	for k := 0; k < 10; k++ {
		sb.WriteString("if [ -f /etc/x ]; then echo \"a $B\" | grep -q a && echo ok; fi\ncat > /tmp/f <<'EOF'\nline $x\nEOF\nfor i in 1 2 3; do echo $i; done\n")
	}
	src := sb.String()
	b.SetBytes(int64(len(src)))
	for n := 0; n < b.N; n++ {
		if err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

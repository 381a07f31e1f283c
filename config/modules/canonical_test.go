package modules

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Canonical is byte-identical to upstream's own regroup_to_pattern_a on
// every module JSON upstream ships (testdata/canonical, made by
// testdata/upstream/regroup.sh), and idempotent.
func TestCanonicalMatchesUpstream(t *testing.T) {
	t.Parallel()
	s, _, mods := fixtures(t)
	for _, p := range mods {
		want, err := os.ReadFile(filepath.Join("testdata/canonical", p))
		if err != nil {
			t.Fatal(err)
		}
		c, err := loadFixture(t, p).Canonical(s)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := c.Bytes(); !bytes.Equal(got, want) {
			t.Errorf("%s: Canonical:\n%s\nregroup_to_pattern_a:\n%s", p, got, want)
			continue
		}
		again, err := Parse(p, want)
		if err != nil {
			t.Fatal(err)
		}
		if c2, err := again.Canonical(s); err != nil || !bytes.Equal(c2.Bytes(), want) {
			t.Errorf("%s: not idempotent: %v", p, err)
		}
	}
}

func TestCanonicalRefusesWhatJQCannotMerge(t *testing.T) {
	t.Parallel()
	s, _, _ := fixtures(t)
	for _, in := range []string{
		`{"dependsOn":["cluster:vm"],"config":{"cluster:vm":4}}`,
		`{"dependsOn":["cluster:vm"],"cores":2,"config":"x"}`,
	} {
		f, err := Parse("m.json", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Canonical(s); err == nil || !strings.Contains(err.Error(), "m.json") {
			t.Errorf("%s: %v", in, err)
		}
	}
}

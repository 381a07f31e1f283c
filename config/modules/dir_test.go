package modules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestValidateDir(t *testing.T) {
	t.Parallel()
	s, z, _ := fixtures(t)
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(upstreamDir, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	script := &fstest.MapFile{Data: []byte("#!/bin/sh\n"), Mode: 0o755}
	good := fstest.MapFS{
		"litellm.json":                       {Data: read("src/apps/litellm/litellm.json")},
		"install.sh":                         script,
		"update.sh":                          script,
		"services/models/install-service.sh": script,
		"services/models/update-service.sh":  script,
		"services/models/pinhole.json":       {Data: read("src/apps/litellm/services/models/pinhole.json")},
	}
	o := Options{Schema: s, Zones: z}
	if f, r := ValidateDir(good, "src/apps/litellm", "litellm", o); f == nil || len(r.Findings) != 0 {
		t.Fatalf("complete module dir: %v", r.Findings)
	}
	// validate_provided_services (common-install-routines.sh:451-466) and a broken pinhole.
	bad := fstest.MapFS{
		"litellm.json":                       good["litellm.json"],
		"services/models/install-service.sh": script,
		"services/models/pinhole.json":       {Data: []byte(`{"ports":[{"port":0}]}`)},
	}
	_, r := ValidateDir(bad, "src/apps/litellm", "litellm", o)
	var got []string
	for _, f := range r.Findings {
		got = append(got, string(f.Severity)+" "+f.File+" "+f.Path+" "+f.Rule)
	}
	want := []string{
		"warning src/apps/litellm/install.sh  tappaas:structure",
		"warning src/apps/litellm/update.sh  tappaas:structure",
		"error src/apps/litellm/services/models/update-service.sh  tappaas:service",
		"error src/apps/litellm/services/models/pinhole.json .ports[0].port tappaas:minimum",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	delete(bad, "services/models/install-service.sh")
	delete(bad, "services/models/pinhole.json")
	if _, r := ValidateDir(bad, "d", "litellm", o); r.OK() || !strings.Contains(r.Errors()[0].Message, "Module provides 'models' but directory not found") {
		t.Errorf("no service dir: %v", r.Findings)
	}
	if f, r := ValidateDir(fstest.MapFS{}, "d", "litellm", o); f != nil || r.OK() || r.Errors()[0].File != "d/litellm.json" {
		t.Errorf("no module JSON: %v", r.Findings)
	}
}

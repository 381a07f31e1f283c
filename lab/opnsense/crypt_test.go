package opnsense

import (
	"os/exec"
	"strings"
	"testing"
)

func TestCryptSHA512Vectors(t *testing.T) {
	t.Parallel()
	// From the specification ("Unix crypt using SHA-256 and SHA-512").
	for _, v := range []struct{ salt, pw, want string }{
		{"saltstring", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"rounds=10000$saltstringsaltstring", "Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
		{"rounds=5000$toolongsaltstring", "This is just a test", "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
		{"rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
		{"rounds=10$roundstoolow", "the minimum number is still observed", "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
	} {
		if got := CryptSHA512(v.pw, v.salt); got != v.want {
			t.Errorf("salt %q:\n got %s\nwant %s", v.salt, got, v.want)
		}
		if !VerifyCrypt(v.want, v.pw) || VerifyCrypt(v.want, v.pw+"x") {
			t.Errorf("verify %q", v.salt)
		}
	}
	if VerifyCrypt("plain", "plain") || VerifyCrypt("$6$nosep", "x") {
		t.Error("non-crypt strings verified")
	}
}

func TestCryptMatchesOpenSSL(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	for _, pw := range []string{"tappaas-bootstrap-rotate-me", strings.Repeat("x", 80), "ü+/="} {
		out, err := exec.Command("openssl", "passwd", "-6", "-salt", "abcdefgh12345678", pw).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := CryptSHA512(pw, "abcdefgh12345678"), strings.TrimSpace(string(out)); got != want {
			t.Errorf("%q: got %s want %s", pw, got, want)
		}
	}
}

func TestApplyConfigXMLRotatesKeys(t *testing.T) {
	t.Parallel()
	r, sim := startRaw(t, Options{})
	if st, _ := r.get("/api/core/firmware/status"); st != 200 {
		t.Fatal("bootstrap key refused")
	}
	hash := CryptSHA512("n3w-s3cret", "Qx7saltsalt")
	cfg := `<?xml version="1.0"?>
<opnsense><system><user><name>root</name><apikeys>NEWKEY|` + hash + `
</apikeys></user></system></opnsense>`
	n, err := sim.ApplyConfigXML([]byte(cfg))
	if err != nil || n != 1 {
		t.Fatalf("apply: %d %v", n, err)
	}
	if st, _ := r.get("/api/core/firmware/status"); st != 401 {
		t.Fatalf("bootstrap key still works: %d", st)
	}
	r.key, r.sec = "NEWKEY", "n3w-s3cret"
	for i := 0; i < 3; i++ { // second and third hit the verification cache
		if st, body := r.get("/api/core/firmware/status"); st != 200 {
			t.Fatalf("new key: %d %s", st, body)
		}
	}
	r.sec = "wrong"
	if st, _ := r.get("/api/core/firmware/status"); st != 401 {
		t.Fatal("wrong secret accepted after a cached success")
	}
	// Legacy item form.
	legacy := `<opnsense><system><user><apikeys><item><key>K2</key><secret>` + CryptSHA512("s2", "salt") + `</secret></item></apikeys></user></system></opnsense>`
	if n, err := sim.ApplyConfigXML([]byte(legacy)); err != nil || n != 1 || !sim.HasKey("K2", "s2") || sim.HasKey("NEWKEY", "n3w-s3cret") {
		t.Fatalf("legacy: %d %v", n, err)
	}
	for _, bad := range []string{"", "<pfsense/>", "<opnsense><apikeys>K|plaintext</apikeys></opnsense>", "<opnsense><unclosed></opnsense>"} {
		if _, err := sim.ApplyConfigXML([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if !sim.HasKey("K2", "s2") {
		t.Fatal("a rejected config changed the keys")
	}
}

func FuzzParseAPIKeys(f *testing.F) {
	f.Add([]byte(`<opnsense><apikeys>K|$6$s$h</apikeys></opnsense>`))
	f.Add([]byte(`<opnsense><apikeys><item><key>a</key><secret>b</secret></item></apikeys></opnsense>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseAPIKeys(data)
		if err == nil && keys == nil {
			t.Fatal("nil map without error")
		}
	})
}

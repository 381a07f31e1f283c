package shacrypt

import (
	"os/exec"
	"strings"
	"testing"
)

// Vectors from the specification ("Unix crypt using SHA-256 and SHA-512").
var vectors = []struct{ spec, pw, want string }{
	{"saltstring", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"rounds=10000$saltstringsaltstring", "Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	{"rounds=5000$toolongsaltstring", "This is just a test", "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
	{"rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	{"rounds=10$roundstoolow", "the minimum number is still observed", "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
}

func TestVectors(t *testing.T) {
	t.Parallel()
	for _, v := range vectors {
		if got := HashSpec(v.pw, v.spec); got != v.want {
			t.Errorf("spec %q:\n got %s\nwant %s", v.spec, got, v.want)
		}
		if !Verify(v.want, v.pw) || Verify(v.want, v.pw+"x") {
			t.Errorf("verify %q", v.spec)
		}
	}
	if got := Hash("Hello world!", "saltstringsaltstring", 10000); got != vectors[1].want {
		t.Errorf("Hash with rounds: %s", got)
	}
	if Verify("plain", "plain") || Verify("$6$nosep", "x") {
		t.Error("non-crypt strings verified")
	}
}

func TestRandomSalt(t *testing.T) {
	t.Parallel()
	a, b := Hash("pw", "", 0), Hash("pw", "", 0)
	if a == b || !strings.HasPrefix(a, "$6$") || len(strings.Split(a, "$")[2]) != 16 {
		t.Fatalf("random salts: %s %s", a, b)
	}
	if !Verify(a, "pw") || Verify(a, "pW") {
		t.Fatal("a random-salt hash does not verify")
	}
}

func TestMatchesOpenSSL(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	for _, pw := range []string{"tappaas-bootstrap-rotate-me", strings.Repeat("x", 80), "ü+/="} {
		out, err := exec.Command("openssl", "passwd", "-6", "-salt", "abcdefgh12345678", pw).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := Hash(pw, "abcdefgh12345678", 0), strings.TrimSpace(string(out)); got != want {
			t.Errorf("%q: got %s want %s", pw, got, want)
		}
	}
}

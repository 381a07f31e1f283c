package lab

import (
	"testing"
)

// A destroyed VM loses its disk: created again with the same VMID it boots
// a fresh guest with a new SSH host key and none of the old files; the
// firewall also loses its configuration's certificate.
func TestDestroyedVMLosesDiskAndHostKey(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	bootstrapNode(t, l)
	bootFirewall(t, l)
	key1, ok := l.GuestHostKey(110)
	if !ok {
		t.Fatal("no guest after boot")
	}
	fp1 := l.Info().FirewallFingerprint
	if err := l.GuestFS(110).WriteFile("/root/marker", []byte("old disk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sh(t, l, 0, "qm stop 110 && qm destroy 110")
	if _, ok := l.GuestHostKey(110); ok {
		t.Fatal("the destroyed VM still has a guest")
	}
	bootFirewall(t, l)
	key2, ok := l.GuestHostKey(110)
	if !ok {
		t.Fatal("no guest after the second boot")
	}
	if key2 == key1 {
		t.Fatal("the re-created VM has the destroyed VM's host key")
	}
	if _, err := l.GuestFS(110).ReadFile("/root/marker"); err == nil {
		t.Fatal("the re-created VM has the destroyed VM's files")
	}
	if fp2 := l.Info().FirewallFingerprint; fp2 == fp1 || fp2 == "" {
		t.Fatalf("firewall certificate %q after re-creation, was %q", fp2, fp1)
	}
}

package pve

import "testing"

// Skip lets matching calls through before the fault hits; After is carried
// to the caller; a drop after the command is reported as such.
func TestFaultsSkipAfterDrop(t *testing.T) {
	f := NewFaults(Fault{Face: "ssh", Match: "qm create", Skip: 2, After: true}, Fault{DropAt: 3, After: true})
	var hits []bool
	for range 4 {
		h := f.Hit("ssh", "qm create 110")
		hits = append(hits, h != nil && h.After)
	}
	if want := []bool{false, false, true, false}; hits[0] != want[0] || hits[1] != want[1] || hits[2] != want[2] || hits[3] != want[3] {
		t.Errorf("hits %v, want %v", hits, want)
	}
	for k := 1; k <= 4; k++ {
		drop, after := f.Command()
		if drop != (k == 3) || after != (k == 3) {
			t.Errorf("command %d: drop %v after %v", k, drop, after)
		}
	}
	if got := f.Fired(); len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Errorf("fired %v, want [1 1]", got)
	}
}

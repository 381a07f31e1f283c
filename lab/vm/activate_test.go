package vm

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tappaas/tappaas/lab/shell"
)

// TestActivateReplacesCurrentSystemAtomically: like `ln -sfn`, activation
// replaces /run/current-system without a moment where it is missing, so
// activations that overlap (a resumed install's switch while another is
// finishing) both succeed and an observer always finds the link.
func TestActivateReplacesCurrentSystemAtomically(t *testing.T) {
	fsys := shell.NewMemFS()
	for _, d := range []string{"/run", "/etc"} {
		if err := fsys.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := labConfig{name: "tappaas-cicd", hostname: "tappaas-cicd", permitRoot: "no"}
	if err := activate(fsys, cfg, "/nix/store/first"); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 4, 300
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds+1)
	stop := make(chan struct{})
	seen := make(chan error, 1)
	go func() {
		defer close(seen)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := fsys.Lstat("/run/current-system"); err != nil {
				seen <- err
				return
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				if err := activate(fsys, cfg, fmt.Sprintf("/nix/store/gen-%d-%d", w, r)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		t.Errorf("an overlapping activation failed: %v", err)
	}
	if err := <-seen; err != nil {
		t.Errorf("/run/current-system was missing during an activation: %v", err)
	}
	names, err := fsys.ReadDir("/run")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "current-system" {
		t.Errorf("/run holds %v after the activations, want only current-system", names)
	}
}

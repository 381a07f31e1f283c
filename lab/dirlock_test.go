package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// Two labs on one directory: the second is refused while the first runs
// (each would simulate the node on its own copy), and may start once the
// first has stopped.
func TestLabDirServesOneLab(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), Options{Dir: dir})
	if !errors.Is(err, ErrDirInUse) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second lab on %s = %v, want ErrDirInUse naming the directory and the holder", dir, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again := startLab(t, Options{Dir: dir})
	sh(t, again, 0, "pveversion >/dev/null")
	// Another directory is another lab.
	startLab(t, Options{Dir: t.TempDir()})
}

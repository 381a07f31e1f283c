package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/steps"
)

// The crash test re-executes the test binary as a child that runs a
// 24-step plan against a fake target whose every effect is a file created
// atomically and exclusively (temp file + link(2)): an effect created twice
// leaves a "dup" marker, an Apply called on a step whose effects all exist
// leaves a "wasted" marker. The parent SIGKILLs the child at mutation
// boundaries (every state write and every effect creation, before and
// after) and at random points inside Apply, then runs the plan again to
// completion and checks every effect exists exactly once with the right
// content, state.json loads, and a further run applies nothing.

const (
	envCrashDir     = "TAPPAAS_CRASH_DIR"      // the child's working directory
	envCrashKillAt  = "TAPPAAS_CRASH_KILL_AT"  // SIGKILL self at this boundary (1-based)
	envCrashInApply = "TAPPAAS_CRASH_IN_APPLY" // "step:µs": SIGKILL self that long into that step's Apply
	envCrashConc    = "TAPPAAS_CRASH_CONC"     // runner concurrency
	envCrashSlow    = "TAPPAAS_CRASH_SLOW"     // µs of work per effect
	crashSteps      = 24
)

func crashEffects(i int) int { return 1 + i%3 }

func crashNeeds(i int) []int {
	switch {
	case i == 0:
		return nil
	case i%5 == 0:
		return []int{i - 1, i / 2}
	case i%4 == 1:
		return []int{i / 3}
	default:
		return []int{i - 1}
	}
}

func crashID(i int) string { return fmt.Sprintf("s%02d", i) }

func crashFact(i int) steps.Key[int] { return steps.Key[int](crashID(i) + ".id") }

// crashContent is what effect j of step i must hold: it carries the fact of
// the step's first need, so facts must survive crashes too.
func crashContent(i int) string {
	need := 0
	if n := crashNeeds(i); len(n) > 0 {
		need = 1000 + n[0]
	}
	return fmt.Sprintf("step=%d need=%d", i, need)
}

type crashChild struct {
	dir     string
	killAt  int64
	n       atomic.Int64
	slow    time.Duration
	applies atomic.Int64
}

func (c *crashChild) boundary() {
	if k := c.n.Add(1); k == c.killAt {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}

type boundaryFS struct {
	state.FS
	c *crashChild
}

func (b boundaryFS) WriteFileAtomic(name string, data []byte, perm fs.FileMode) error {
	b.c.boundary()
	defer b.c.boundary()
	return b.FS.WriteFileAtomic(name, data, perm)
}
func (b boundaryFS) AppendFile(name string, data []byte, perm fs.FileMode) error {
	b.c.boundary()
	defer b.c.boundary()
	return b.FS.AppendFile(name, data, perm)
}
func (b boundaryFS) CreateExclusive(name string, data []byte, perm fs.FileMode) error {
	b.c.boundary()
	defer b.c.boundary()
	return b.FS.CreateExclusive(name, data, perm)
}
func (b boundaryFS) Remove(name string) error {
	b.c.boundary()
	defer b.c.boundary()
	return b.FS.Remove(name)
}

func (c *crashChild) effect(i, j int) string {
	return filepath.Join(c.dir, "target", fmt.Sprintf("%s.e%d", crashID(i), j))
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// create makes an effect exist atomically and exclusively.
func (c *crashChild) create(i, j int, content string) error {
	c.boundary()
	defer c.boundary()
	p := c.effect(i, j)
	tmp := fmt.Sprintf("%s.tmp-%d", p, os.Getpid())
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			os.WriteFile(filepath.Join(c.dir, "marks", fmt.Sprintf("dup.%s.e%d.%d", crashID(i), j, os.Getpid())), nil, 0o600)
		}
		return err
	}
	return nil
}

func (c *crashChild) step(i int) steps.Step {
	var needs []string
	for _, n := range crashNeeds(i) {
		needs = append(needs, crashID(n))
	}
	return &crashStep{c: c, i: i, needs: needs}
}

type crashStep struct {
	c     *crashChild
	i     int
	needs []string
}

func (s *crashStep) ID() string      { return crashID(s.i) }
func (s *crashStep) Title() string   { return "crash step " + crashID(s.i) }
func (s *crashStep) Needs() []string { return s.needs }

func (s *crashStep) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	for j := range crashEffects(s.i) {
		if !exists(s.c.effect(s.i, j)) {
			return steps.NotDone("effect %d missing", j), nil
		}
	}
	// Check records what it observes, so a skipped step still provides
	// its fact to later steps.
	if err := steps.Set(rt.Facts, crashFact(s.i), 1000+s.i); err != nil {
		return steps.Status{}, err
	}
	return steps.Done("%d effects present", crashEffects(s.i)), nil
}

func (s *crashStep) Apply(ctx context.Context, rt *steps.Runtime) error {
	s.c.applies.Add(1)
	if v := os.Getenv(envCrashInApply); v != "" {
		var at, us int
		fmt.Sscanf(v, "%d:%d", &at, &us)
		if at == s.i {
			time.AfterFunc(time.Duration(us)*time.Microsecond, func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) })
		}
	}
	need := 0
	if n := crashNeeds(s.i); len(n) > 0 {
		v, err := steps.MustGet(rt.Facts, crashFact(n[0]))
		if err != nil {
			return err
		}
		need = v
	}
	content := fmt.Sprintf("step=%d need=%d", s.i, need)
	all := true
	for j := range crashEffects(s.i) {
		if !exists(s.c.effect(s.i, j)) {
			all = false
		}
	}
	if all {
		os.WriteFile(filepath.Join(s.c.dir, "marks", fmt.Sprintf("wasted.%s.%d", crashID(s.i), os.Getpid())), nil, 0o600)
	}
	for j := range crashEffects(s.i) {
		if exists(s.c.effect(s.i, j)) {
			continue
		}
		time.Sleep(s.c.slow)
		if err := s.c.create(s.i, j, content); err != nil {
			return err
		}
	}
	return steps.Set(rt.Facts, crashFact(s.i), 1000+s.i)
}

type crashResult struct {
	Applies    int64    `json:"applies"`
	Boundaries int64    `json:"boundaries"`
	Warnings   []string `json:"warnings"`
}

// TestCrashHelperProcess is the child; it does nothing in a normal run.
func TestCrashHelperProcess(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("helper process of the crash test")
	}
	c := &crashChild{dir: dir}
	c.killAt, _ = strconv.ParseInt(os.Getenv(envCrashKillAt), 10, 64)
	us, _ := strconv.Atoi(os.Getenv(envCrashSlow))
	c.slow = time.Duration(us) * time.Microsecond
	conc, _ := strconv.Atoi(os.Getenv(envCrashConc))
	st, err := state.Open(boundaryFS{state.DirFS(filepath.Join(dir, "state")), c})
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	var ss []steps.Step
	for i := range crashSteps {
		ss = append(ss, c.step(i))
	}
	p, err := steps.NewPlan("crash", ss...)
	if err != nil {
		t.Fatal(err)
	}
	r := &steps.Runner{Store: st, Concurrency: conc, Holder: state.CurrentHolder()}
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatalf("run: %v", err)
	}
	res, _ := json.Marshal(crashResult{Applies: c.applies.Load(), Boundaries: c.n.Load(), Warnings: st.Warnings()})
	if err := os.WriteFile(filepath.Join(dir, "result.json"), res, 0o600); err != nil {
		t.Fatal(err)
	}
}

// crashDir makes a fresh working directory, on tmpfs when there is one
// (SIGKILL does not lose the page cache, so tmpfs proves as much as disk).
func crashDir(t *testing.T) string {
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "tappaas-crash-*")
	if err != nil {
		dir = t.TempDir()
	} else {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	for _, d := range []string{"target", "marks", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type childRun struct {
	killed bool
	res    crashResult
	out    string
}

func runChild(t *testing.T, dir string, env ...string) childRun {
	t.Helper()
	return runChildKill(t, dir, 0, env...)
}

// runChildKill runs the child; after > 0 makes the parent SIGKILL it then.
func runChildKill(t *testing.T, dir string, after time.Duration, env ...string) childRun {
	t.Helper()
	os.Remove(filepath.Join(dir, "result.json"))
	cmd := osexec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), append([]string{envCrashDir + "=" + dir}, env...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if after > 0 {
		timer := time.AfterFunc(after, func() { cmd.Process.Signal(syscall.SIGKILL) })
		defer timer.Stop()
	}
	err := cmd.Wait()
	cr := childRun{out: out.String()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		cr.killed = true
		return cr
	}
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatalf("child left no result: %v\n%s", err, out.String())
	}
	if err := json.Unmarshal(b, &cr.res); err != nil {
		t.Fatal(err)
	}
	return cr
}

// verifyCrashRun checks the target and the store after a completed run.
func verifyCrashRun(t *testing.T, dir, what string) {
	t.Helper()
	marks, _ := os.ReadDir(filepath.Join(dir, "marks"))
	for _, m := range marks {
		t.Errorf("%s: %s", what, m.Name())
	}
	want := map[string]bool{}
	for i := range crashSteps {
		for j := range crashEffects(i) {
			name := fmt.Sprintf("%s.e%d", crashID(i), j)
			want[name] = true
			b, err := os.ReadFile(filepath.Join(dir, "target", name))
			if err != nil {
				t.Errorf("%s: effect %s missing", what, name)
				continue
			}
			if string(b) != crashContent(i) {
				t.Errorf("%s: effect %s holds %q, want %q", what, name, b, crashContent(i))
			}
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "target"))
	for _, e := range ents {
		if !want[e.Name()] && !strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("%s: unexpected effect %s", what, e.Name())
		}
	}
	st, err := state.Open(state.DirFS(filepath.Join(dir, "state")))
	if err != nil {
		t.Fatalf("%s: state.json does not load: %v", what, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "state", state.StateFile))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if _, err := state.Decode(raw); err != nil {
		t.Fatalf("%s: state.json unreadable: %v", what, err)
	}
	for i := range crashSteps {
		if r, ok := st.Step(crashID(i)); !ok || !r.Done() {
			t.Errorf("%s: checkpoint of %s = %+v", what, crashID(i), r)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "state", state.LockFile)); err == nil {
		t.Errorf("%s: lock left behind after a completed run", what)
	}
	if t.Failed() {
		t.FailNow()
	}
}

func crashSeed() uint64 {
	if s, err := strconv.ParseUint(os.Getenv("CRASH_SEED"), 10, 64); err == nil {
		return s
	}
	return 1
}

func TestCrashAtEveryBoundary(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	t.Parallel()
	// A clean run counts the boundaries.
	dir := crashDir(t)
	clean := runChild(t, dir, envCrashConc+"=1")
	verifyCrashRun(t, dir, "clean run")
	n := int(clean.res.Boundaries)
	if clean.res.Applies != crashSteps || n < 4*crashSteps {
		t.Fatalf("clean run: %d applies, %d boundaries", clean.res.Applies, n)
	}
	second := runChild(t, dir, envCrashConc+"=1")
	if second.res.Applies != 0 {
		t.Fatalf("second run of a finished plan applied %d steps", second.res.Applies)
	}
	verifyCrashRun(t, dir, "second run")

	var ks []int
	if os.Getenv("TAPPAAS_CRASH_MATRIX") == "all" {
		for k := 1; k <= n; k++ {
			ks = append(ks, k)
		}
	} else {
		rng := rand.New(rand.NewPCG(crashSeed(), 42))
		ks = []int{1, 2, n}
		for len(ks) < 10 {
			ks = append(ks, 1+rng.IntN(n))
		}
		slices.Sort(ks)
		ks = slices.Compact(ks)
	}
	t.Logf("%d boundaries; killing at %d of them", n, len(ks))
	for _, k := range ks {
		dir := crashDir(t)
		what := fmt.Sprintf("kill at boundary %d/%d", k, n)
		c := runChild(t, dir, envCrashConc+"=1", fmt.Sprintf("%s=%d", envCrashKillAt, k))
		if !c.killed {
			t.Fatalf("%s: the child was not killed:\n%s", what, c.out)
		}
		resume := runChild(t, dir, envCrashConc+"=1")
		verifyCrashRun(t, dir, what)
		if resume.res.Applies > crashSteps {
			t.Fatalf("%s: resume applied %d steps", what, resume.res.Applies)
		}
		again := runChild(t, dir, envCrashConc+"=1")
		if again.res.Applies != 0 {
			t.Fatalf("%s: a run after the resume applied %d steps", what, again.res.Applies)
		}
	}
}

func TestCrashInsideApply(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	t.Parallel()
	trials := 4
	if os.Getenv("TAPPAAS_CRASH_MATRIX") == "all" {
		trials = 40
	}
	rng := rand.New(rand.NewPCG(crashSeed(), 7))
	for trial := range trials {
		dir := crashDir(t)
		what := fmt.Sprintf("trial %d", trial)
		// Kill inside a chosen step's Apply, then (concurrently running)
		// at a random moment, then resume to completion.
		step, us := rng.IntN(crashSteps), 50+rng.IntN(600)
		c := runChild(t, dir, envCrashConc+"=3", envCrashSlow+"=300", fmt.Sprintf("%s=%d:%d", envCrashInApply, step, us))
		if !c.killed {
			t.Fatalf("%s: not killed inside the Apply of %s:\n%s", what, crashID(step), c.out)
		}
		after := time.Duration(5+rng.IntN(60)) * time.Millisecond
		runChildKill(t, dir, after, envCrashConc+"=3", envCrashSlow+"=300")
		runChild(t, dir, envCrashConc+"=3")
		verifyCrashRun(t, dir, what)
		if again := runChild(t, dir, envCrashConc+"=3"); again.res.Applies != 0 {
			t.Fatalf("%s: a run after the resume applied %d steps", what, again.res.Applies)
		}
	}
}

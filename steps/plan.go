package steps

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tappaas/tappaas/backends/state"
)

// ErrInvalidPlan is matched (errors.Is) by every NewPlan error.
var ErrInvalidPlan = errors.New("invalid plan")

// Plan is a validated DAG of steps, in a stable topological order.
type Plan struct {
	name  string
	steps []Step         // topological order
	index map[string]int // ID -> position in steps
	needs [][]int        // per position: positions of the steps it needs
	// expected is how long each step usually takes (by ID).
	expected map[string]time.Duration
}

// Expect records how long steps usually take when they apply (by ID), for
// StepInfo.Expected; unknown IDs are ignored. It returns p.
func (p *Plan) Expect(d map[string]time.Duration) *Plan {
	p.expected = d
	return p
}

// NeedsOf returns the IDs a step needs (nil when it is not a Needer).
func NeedsOf(s Step) []string {
	if n, ok := s.(Needer); ok {
		return n.Needs()
	}
	return nil
}

// TouchesOf returns the resources a step touches (nil when it is not a
// Toucher).
func TouchesOf(s Step) []string {
	if t, ok := s.(Toucher); ok {
		return t.Touches()
	}
	return nil
}

// IsOptional reports whether the operator may skip the step when it fails.
func IsOptional(s Step) bool {
	o, ok := s.(Optionaler)
	return ok && o.Optional()
}

// NewPlan checks the steps and orders them: every ID non-empty and unique,
// every Need names a step of the plan, no cycles. Errors match
// ErrInvalidPlan and name the steps at fault (a cycle is spelled out:
// "a → b → a").
func NewPlan(name string, ss ...Step) (*Plan, error) {
	byID := make(map[string]int, len(ss))
	var errs []error
	for i, s := range ss {
		if s == nil {
			errs = append(errs, fmt.Errorf("%w %q: step #%d is nil", ErrInvalidPlan, name, i+1))
			continue
		}
		id := s.ID()
		if strings.TrimSpace(id) == "" {
			errs = append(errs, fmt.Errorf("%w %q: step #%d (%q) has an empty ID", ErrInvalidPlan, name, i+1, s.Title()))
			continue
		}
		if j, dup := byID[id]; dup {
			errs = append(errs, fmt.Errorf("%w %q: step ID %q is used by steps #%d and #%d", ErrInvalidPlan, name, id, j+1, i+1))
			continue
		}
		byID[id] = i
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	deps := make([][]int, len(ss))
	for i, s := range ss {
		for _, n := range NeedsOf(s) {
			j, ok := byID[n]
			if !ok {
				errs = append(errs, fmt.Errorf("%w %q: step %q needs %q, which is not in the plan", ErrInvalidPlan, name, s.ID(), n))
				continue
			}
			if !slices.Contains(deps[i], j) {
				deps[i] = append(deps[i], j)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cyc := findCycle(ss, deps); cyc != nil {
		return nil, fmt.Errorf("%w %q: steps depend on each other in a cycle: %s", ErrInvalidPlan, name, strings.Join(cyc, " → "))
	}
	order := topoOrder(deps)
	p := &Plan{name: name, steps: make([]Step, len(ss)), index: make(map[string]int, len(ss)), needs: make([][]int, len(ss))}
	pos := make([]int, len(ss)) // declaration index -> topological position
	for k, i := range order {
		pos[i] = k
		p.steps[k] = ss[i]
		p.index[ss[i].ID()] = k
	}
	for k, i := range order {
		for _, j := range deps[i] {
			p.needs[k] = append(p.needs[k], pos[j])
		}
	}
	return p, nil
}

// findCycle returns the IDs of a cycle (first ID repeated at the end), or
// nil.
func findCycle(ss []Step, deps [][]int) []string {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(ss))
	var stack []int
	var found []int
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		for _, j := range deps[i] {
			switch color[j] {
			case grey:
				k := slices.Index(stack, j)
				found = append(slices.Clone(stack[k:]), j)
				return true
			case white:
				if visit(j) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for i := range ss {
		if color[i] == white && visit(i) {
			break
		}
	}
	if found == nil {
		return nil
	}
	// found runs along "needs" edges (a needs b); show it in run order.
	slices.Reverse(found)
	ids := make([]string, len(found))
	for k, i := range found {
		ids[k] = ss[i].ID()
	}
	return ids
}

// topoOrder is Kahn's algorithm picking, among ready steps, the one
// declared first (stable).
func topoOrder(deps [][]int) []int {
	n := len(deps)
	indeg := make([]int, n)
	users := make([][]int, n)
	for i, ds := range deps {
		indeg[i] = len(ds)
		for _, j := range ds {
			users[j] = append(users[j], i)
		}
	}
	h := &intHeap{}
	for i := range n {
		if indeg[i] == 0 {
			h.push(i)
		}
	}
	order := make([]int, 0, n)
	for h.len() > 0 {
		i := h.pop()
		order = append(order, i)
		for _, u := range users[i] {
			indeg[u]--
			if indeg[u] == 0 {
				h.push(u)
			}
		}
	}
	return order
}

// intHeap is a min-heap of ints.
type intHeap struct{ a []int }

func (h *intHeap) len() int { return len(h.a) }
func (h *intHeap) push(x int) {
	h.a = append(h.a, x)
	i := len(h.a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h.a[p] <= h.a[i] {
			break
		}
		h.a[p], h.a[i] = h.a[i], h.a[p]
		i = p
	}
}
func (h *intHeap) pop() int {
	top := h.a[0]
	last := len(h.a) - 1
	h.a[0] = h.a[last]
	h.a = h.a[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.a) && h.a[l] < h.a[m] {
			m = l
		}
		if r < len(h.a) && h.a[r] < h.a[m] {
			m = r
		}
		if m == i {
			break
		}
		h.a[m], h.a[i] = h.a[i], h.a[m]
		i = m
	}
	return top
}

// Name returns the plan's name.
func (p *Plan) Name() string { return p.name }

// Len returns the number of steps.
func (p *Plan) Len() int { return len(p.steps) }

// Steps returns the steps in a topological order, stable: among steps
// that are ready at the same time, the one declared first comes first.
func (p *Plan) Steps() []Step { return slices.Clone(p.steps) }

// Review describes the steps for display, in Steps order. rt feeds
// Describe (nil gives an empty Runtime); each step's Checkpoint is filled
// from st (may be nil).
func (p *Plan) Review(rt *Runtime, st *state.Store) []StepInfo {
	if rt == nil {
		rt = NewRuntime("", nil, nil, nil, nil)
	}
	out := make([]StepInfo, len(p.steps))
	for k, s := range p.steps {
		info := StepInfo{ID: s.ID(), Title: s.Title(), Needs: NeedsOf(s), Optional: IsOptional(s), Expected: p.expected[s.ID()]}
		if d, ok := s.(Describer); ok {
			info.Changes = d.Describe(rt.ForStep(s.ID()))
		}
		if st != nil {
			if r, ok := st.Step(s.ID()); ok {
				info.Checkpoint = r.Status
			}
		}
		out[k] = info
	}
	return out
}

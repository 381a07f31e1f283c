package steps

import (
	"encoding/json"
	"fmt"
	"maps"
	"sync"
)

// Key names a typed fact. Declare keys as package variables next to the step
// that produces them:
//
//	var FirewallVMID = steps.Key[int]("firewall.vmid")
type Key[T any] string

// Facts are typed values learned by steps and persisted in state.json so a
// resumed run knows them. Safe for concurrent use.
type Facts struct {
	mu       sync.Mutex
	m        map[string]json.RawMessage
	onChange func(key string, raw json.RawMessage)
}

// NewFacts returns facts seeded from persisted raw values (may be nil).
func NewFacts(seed map[string]json.RawMessage) *Facts {
	f := &Facts{m: make(map[string]json.RawMessage, len(seed))}
	maps.Copy(f.m, seed)
	return f
}

// OnChange registers fn to be called (outside the lock) after each Set. The
// runner uses it to persist facts as soon as they are learned.
func (f *Facts) OnChange(fn func(key string, raw json.RawMessage)) {
	f.mu.Lock()
	f.onChange = fn
	f.mu.Unlock()
}

// Get returns the fact and whether it is set. A fact that is set but does not
// decode as T is reported as not set.
func Get[T any](f *Facts, k Key[T]) (T, bool) {
	var v T
	f.mu.Lock()
	raw, ok := f.m[string(k)]
	f.mu.Unlock()
	if !ok {
		return v, false
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false
	}
	return v, true
}

// MustGet returns the fact or an error naming the missing key, for steps that
// need a fact an earlier step must have produced.
func MustGet[T any](f *Facts, k Key[T]) (T, error) {
	v, ok := Get(f, k)
	if !ok {
		return v, fmt.Errorf("fact %q is not known yet: the step that learns it has not run", string(k))
	}
	return v, nil
}

// Set stores a fact.
func Set[T any](f *Facts, k Key[T], v T) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("fact %q: %w", string(k), err)
	}
	f.mu.Lock()
	f.m[string(k)] = raw
	fn := f.onChange
	f.mu.Unlock()
	if fn != nil {
		fn(string(k), raw)
	}
	return nil
}

// MemSecrets is an in-memory SecretStore for tests and dry runs.
type MemSecrets struct {
	mu sync.Mutex
	m  map[string]string
}

// NewMemSecrets returns an empty in-memory SecretStore.
func NewMemSecrets() *MemSecrets { return &MemSecrets{m: map[string]string{}} }

// Secret implements SecretStore.
func (s *MemSecrets) Secret(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[name]
	return v, ok
}

// SetSecret implements SecretStore.
func (s *MemSecrets) SetSecret(name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = value
	return nil
}

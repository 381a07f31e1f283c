package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"sync"
)

// Secrets is the store's credential file (secrets.json, mode 0600), kept
// apart from state.json and the journal. It satisfies steps.SecretStore.
// Values never appear in errors or logs.
type Secrets struct {
	s  *Store
	mu sync.Mutex
	m  map[string]string
}

type secretsFile struct {
	Schema  int               `json:"schema"`
	Secrets map[string]string `json:"secrets"`
}

// Secrets returns the store's secret file.
func (s *Store) Secrets() *Secrets { return s.secrets }

// reload reads secrets.json (at Open, and again under the run lock: another
// run may have changed it).
func (c *Secrets) reload() error {
	m := map[string]string{}
	data, err := c.s.fsys.ReadFile(SecretsFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read %s: %w", c.s.where(SecretsFile), err)
	default:
		var f secretsFile
		if err := json.Unmarshal(data, &f); err != nil {
			// Never echo the content: it holds credentials.
			return fmt.Errorf("%s is damaged (not valid JSON); restore it or move it away (the credentials it held must then be reset)", c.s.where(SecretsFile))
		}
		if f.Secrets != nil {
			m = f.Secrets
		}
	}
	c.mu.Lock()
	c.m = m
	c.mu.Unlock()
	return nil
}

// Secret returns the named secret and whether it exists.
func (c *Secrets) Secret(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[name]
	return v, ok
}

// SetSecret stores a secret durably (atomic write, 0600) before returning.
// Like every change to the store it needs the run lock (ErrNotLocked).
func (c *Secrets) SetSecret(name, value string) error {
	if name == "" {
		return errors.New("secret name is empty")
	}
	c.s.mu.Lock()
	err := c.s.mustHold()
	c.s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("secret %q: %w", name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[name]; ok && old == value {
		return nil
	}
	m := maps.Clone(c.m)
	m[name] = value
	data, err := json.Marshal(secretsFile{Schema: 1, Secrets: m})
	if err != nil {
		return fmt.Errorf("secret %q: encode: %w", name, err)
	}
	if err := c.s.fsys.WriteFileAtomic(SecretsFile, data, 0o600); err != nil {
		return fmt.Errorf("secret %q: write %s: %w", name, c.s.where(SecretsFile), err)
	}
	c.m = m
	return nil
}

// Names returns the names of the stored secrets (never their values), for
// the summary screen ("stored in /var/lib/tappaas/secrets.json").
func (c *Secrets) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.m))
	for k := range c.m {
		names = append(names, k)
	}
	return names
}

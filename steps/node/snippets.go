package node

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps"
)

// StorageContent returns the content types of a PVE storage.
func StorageContent(ctx context.Context, e exec.Executor, id string) ([]string, error) {
	out, err := Query(ctx, e, "pvesh get /storage/"+exec.Quote(id)+" --output-format json")
	if err != nil {
		return nil, err
	}
	var st struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("storage %s: unexpected pvesh output: %w", id, err)
	}
	var c []string
	for _, x := range strings.Split(st.Content, ",") {
		if x = strings.TrimSpace(x); x != "" {
			c = append(c, x)
		}
	}
	return c, nil
}

// Snippets enables the "snippets" content type on storage local (cloud-init
// vendor data lives there), keeping the types it has (`pvesm set` replaces
// the list).
type Snippets struct{ Node exec.Executor }

func (s *Snippets) ID() string { return "node.snippets" }

func (s *Snippets) Title() string { return "Snippets on storage local" }

func (s *Snippets) Needs() []string { return []string{"preflight.checks"} }

func (s *Snippets) Touches() []string { return []string{"pve:storage"} }

func (s *Snippets) Describe(*steps.Runtime) []string {
	return []string{"add content type snippets to storage local"}
}

func (s *Snippets) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	c, err := StorageContent(ctx, s.Node, "local")
	if err != nil {
		return steps.Status{}, err
	}
	if slices.Contains(c, "snippets") {
		return steps.Done("local has content %s", strings.Join(c, ",")), nil
	}
	return steps.NotDone("local lacks snippets (has %s)", strings.Join(c, ",")), nil
}

func (s *Snippets) Apply(ctx context.Context, rt *steps.Runtime) error {
	c, err := StorageContent(ctx, s.Node, "local")
	if err != nil {
		return err
	}
	if slices.Contains(c, "snippets") {
		return nil
	}
	c = append(c, "snippets")
	_, err = Run(ctx, rt, s.Node, "pvesm set local --content "+exec.Quote(strings.Join(c, ",")))
	return err
}

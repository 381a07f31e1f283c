package node

import (
	"context"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps"
)

// Files of the subscription-notice hook
// (docs/upstream.md#subscription-notice).
const (
	NagScript = "/usr/local/bin/pve-remove-nag.sh"
	NagHook   = "/etc/apt/apt.conf.d/no-nag-script"
)

const nagScript = `#!/bin/sh
# Installed by tappaas: hide the "No valid subscription" notice of the web UI.
# Re-run by apt (DPkg::Post-Invoke) whenever proxmox-widget-toolkit changes.
WEB_JS=/usr/share/javascript/proxmox-widget-toolkit/proxmoxlib.js
if [ -s "$WEB_JS" ] && ! grep -q NoMoreNagging "$WEB_JS"; then
  sed -i -e "/data\.status/ s/!//" -e "/data\.status/ s/active/NoMoreNagging/" "$WEB_JS"
fi
MOBILE_TPL=/usr/share/pve-yew-mobile-gui/index.html.tpl
MARKER="<!-- MANAGED BLOCK FOR MOBILE NAG -->"
if [ -f "$MOBILE_TPL" ] && ! grep -q "$MARKER" "$MOBILE_TPL"; then
  printf '%s\n<script>window.addEventListener("load",function(){var d=document.querySelector(".pwt-dialog");if(d)d.remove();});</script>\n' "$MARKER" >> "$MOBILE_TPL"
fi
`

const nagHook = "DPkg::Post-Invoke { \"if [ -x " + NagScript + " ]; then " + NagScript + "; fi\"; };\n"

// SubscriptionNotice installs the hook that removes the subscription notice
// and runs it once.
type SubscriptionNotice struct{ Node exec.Executor }

func (s *SubscriptionNotice) ID() string { return "node.subscription-notice" }

func (s *SubscriptionNotice) Title() string { return "Subscription notice" }

func (s *SubscriptionNotice) Needs() []string { return []string{"preflight.checks"} }

// Optional implements steps.Optionaler: cosmetic.
func (s *SubscriptionNotice) Optional() bool { return true }

func (s *SubscriptionNotice) Describe(*steps.Runtime) []string {
	return []string{"install " + NagScript + " and its apt hook " + NagHook}
}

func (s *SubscriptionNotice) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	for path, want := range map[string]string{NagScript: nagScript, NagHook: nagHook} {
		ok, err := FileIs(ctx, s.Node, path, []byte(want))
		if err != nil {
			return steps.Status{}, err
		}
		if !ok {
			return steps.NotDone("%s missing or different", path), nil
		}
	}
	return steps.Done("notice hook installed"), nil
}

func (s *SubscriptionNotice) Apply(ctx context.Context, rt *steps.Runtime) error {
	if _, err := WriteIfChanged(ctx, rt, s.Node, NagScript, []byte(nagScript), 0o755); err != nil {
		return err
	}
	if _, err := WriteIfChanged(ctx, rt, s.Node, NagHook, []byte(nagHook), 0o644); err != nil {
		return err
	}
	// Run it now; a failure only leaves the notice visible.
	if _, err := Run(ctx, rt, s.Node, "/bin/sh "+NagScript); err != nil {
		rt.Printf("the notice hook did not run now (%v); it runs on the next widget-toolkit update", err)
	}
	return nil
}

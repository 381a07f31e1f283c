#!/usr/bin/env bash
# TAPPaaS tappaas-cicd install, part 2 — lab rendition of
# src/foundation/tappaas-cicd/install2.sh (bootstrap.md §1 step 16).
# Usage: install2.sh --branch BRANCH --domain DOMAIN [--email EMAIL]
set -e
BRANCH=stable
DOMAIN=""
EMAIL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --branch) BRANCH="$2"; shift 2 ;;
    --domain) DOMAIN="$2"; shift 2 ;;
    --email) EMAIL="$2"; shift 2 ;;
    *) echo "install2.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
HERE="$HOME/TAPPaaS/src/foundation/tappaas-cicd"
if [ "$(hostname)" != "tappaas-cicd" ]; then
  echo "install2.sh must run on tappaas-cicd (this is $(hostname)); run install1.sh and reboot first" >&2
  exit 1
fi
PRIMARY="${TAPPAAS_PRIMARY_NODE:-tappaas1}.mgmt.internal"
echo "Discovering nodes via $PRIMARY"
NODES=$(ssh -o StrictHostKeyChecking=accept-new -o BatchMode=yes root@"$PRIMARY" pvesh get /cluster/resources --type node --output-format json | jq -r '.[].node')
if [ -z "$NODES" ]; then
  echo "install2.sh: no nodes found via $PRIMARY" >&2
  exit 1
fi
for n in $NODES; do
  ssh-copy-id -o StrictHostKeyChecking=accept-new -i "$HOME/.ssh/id_ed25519.pub" root@"$n".mgmt.internal
  ssh -o StrictHostKeyChecking=accept-new root@"$n".mgmt.internal mkdir -p /root/tappaas
  scp "$HOME/.ssh/id_ed25519.pub" root@"$n".mgmt.internal:/root/tappaas/tappaas-cicd.pub
  scp "$HOME/.ssh/id_ed25519" root@"$n".mgmt.internal:/root/tappaas/tappaas-cicd.key
done
mkdir -p "$HOME/config" "$HOME/bin"
for f in .profile .bashrc; do
  touch "$HOME/$f"
  grep -qF 'export PATH="/home/tappaas/bin:$PATH"' "$HOME/$f" || echo 'export PATH="/home/tappaas/bin:$PATH"' >> "$HOME/$f"
done
"$HERE/scripts/create-configuration.sh" --domain "$DOMAIN" --branch "$BRANCH" --email "$EMAIL" --nodes "$NODES"
if [ ! -f "$HOME/config/zones.json" ]; then
  cp "$HOME/TAPPaaS/src/foundation/firewall/zones.json" "$HOME/config/zones.json"
fi
if [ ! -f "$HOME/config/zones.json.orig" ]; then
  cp "$HOME/TAPPaaS/src/foundation/firewall/zones.json" "$HOME/config/zones.json.orig"
fi
for s in "$HERE"/scripts/*.sh; do
  chmod +x "$s"
  rm -f "$HOME/bin/$(basename "$s")"
  ln -s "$s" "$HOME/bin/$(basename "$s")"
done
cp "$HOME/TAPPaaS/src/foundation/cluster/cluster.json" "$HOME/config/cluster.json"
cp "$HOME/TAPPaaS/src/foundation/templates/templates.json" "$HOME/config/templates.json"
cp "$HOME/TAPPaaS/src/foundation/firewall/firewall.json" "$HOME/config/firewall.json"
cp "$HERE/tappaas-cicd.json" "$HOME/config/tappaas-cicd.json"
# update-module.sh tappaas-cicd (upstream install2.sh:178) runs pre-update.sh,
# which as tappaas, under set -e, reads configuration.json and makes sure of
# the firewall credentials (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/
# pre-update.sh:17-22,192-199): a root-owned file stops it here.
jq -e .tappaas "$HOME/config/configuration.json" >/dev/null
if [ ! -f "$HOME/.opnsense-credentials.txt" ]; then
  printf 'key=\nsecret=\n' > "$HOME/.opnsense-credentials.txt"
fi
chmod 600 "$HOME/.opnsense-credentials.txt"
cd "$HERE"
sudo nixos-rebuild switch --flake .#tappaas-cicd --impure
if ping -c 1 firewall.mgmt.internal >/dev/null 2>&1; then
  ssh root@firewall.mgmt.internal /bin/sh <<'EOF'
pkg info -e os-qemu-guest-agent || pkg install -y os-qemu-guest-agent
sysrc qemu_guest_agent_enable=YES
service qemu-guest-agent start
EOF
else
  echo "firewall.mgmt.internal is not reachable: skipping the firewall steps"
fi
touch "$HOME/config/.tappaas-cicd-installed"
echo "tappaas-cicd installed."

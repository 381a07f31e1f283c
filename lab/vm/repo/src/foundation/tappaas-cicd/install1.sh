#!/usr/bin/env bash
# TAPPaaS tappaas-cicd install, part 1 — lab rendition of
# src/foundation/tappaas-cicd/install1.sh (bootstrap.md §1 step 13).
# Usage: install1.sh [REPO_URL] [BRANCH]
set -e
REPO="${1:-https://github.com/TAPPaaS/TAPPaaS.git}"
BRANCH="${2:-stable}"
cd "$HOME"
if [ -d TAPPaaS/.git ]; then
  echo "Reusing the existing clone in $HOME/TAPPaaS"
else
  git clone "$REPO" TAPPaaS
fi
cd TAPPaaS
git checkout -f "$BRANCH"
git pull --ff-only || true
if [ ! -f /etc/nixos/hardware-configuration.nix ]; then
  echo "Generating /etc/nixos/hardware-configuration.nix"
  sudo nixos-generate-config --show-hardware-config | sudo tee /etc/nixos/hardware-configuration.nix >/dev/null
fi
cd src/foundation/tappaas-cicd
sudo nixos-rebuild switch --flake .#tappaas-cicd --impure
if [ ! -f "$HOME/.ssh/id_ed25519" ]; then
  mkdir -p "$HOME/.ssh"
  chmod 700 "$HOME/.ssh"
  ssh-keygen -t ed25519 -f "$HOME/.ssh/id_ed25519" -N "" -C tappaas-cicd
fi
chmod 600 "$HOME/.ssh/id_ed25519"
PUB=$(cat "$HOME/.ssh/id_ed25519.pub")
touch "$HOME/.ssh/authorized_keys"
grep -qxF "$PUB" "$HOME/.ssh/authorized_keys" || echo "$PUB" >> "$HOME/.ssh/authorized_keys"
chmod 600 "$HOME/.ssh/authorized_keys"
chmod +x install1.sh install2.sh
echo "install1.sh done. Please reboot the VM (sudo reboot), then run install2.sh."

#!/usr/bin/env bash
# Regenerates check_json.golden: the verdict of upstream's own check_json
# (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/common-install-routines.sh:719)
# on every module JSON in this directory, with upstream's zones.json as
# /home/tappaas/config/zones.json and no configuration.json.
# Needs bash, jq and a TAPPaaS checkout:  ./check_json.sh /path/to/TAPPaaS.git
set -euo pipefail
repo="${1:?usage: check_json.sh TAPPAAS_GIT_DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
git -C "$repo" show f54e4fc:src/foundation/tappaas-cicd/scripts/common-install-routines.sh > "$tmp/cir.sh"
cd "$here"
files=$(find src -name '*.json' ! -name '*fields.json' ! -name 'zones.json' ! -name 'pinhole.json' \
  ! -name '*.meta.json' ! -name 'module-catalog.json' | LC_ALL=C sort)
ZONES_FILE="$here/src/foundation/firewall/zones.json" CONFIG_DIR="$tmp/none" bash -c '
  source "$0"
  # check_json reads zones from a fixed path; point it at the copy here.
  eval "$(declare -f check_json | sed "s#\"/home/tappaas/config/zones.json\"#\"\$ZONES_FILE\"#")"
  for f in "$@"; do
    echo "== $f"
    check_json "$f" src/foundation/module-fields.json 2>&1 && echo "rc=0" || echo "rc=1"
  done' "$tmp/cir.sh" $files | sed 's/\x1b\[[0-9;]*m//g' > check_json.golden

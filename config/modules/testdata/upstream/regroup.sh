#!/usr/bin/env bash
# Regenerates ../canonical/: each module JSON here rewritten by upstream's own
# regroup_to_pattern_a, the canonical Pattern A form of installed configs
# (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/convert-json-to-config.sh:69).
# Needs bash, jq and a TAPPaaS checkout:  ./regroup.sh /path/to/TAPPaaS.git
set -euo pipefail
repo="${1:?usage: regroup.sh TAPPAAS_GIT_DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
git -C "$repo" show f54e4fc:src/foundation/tappaas-cicd/scripts/convert-json-to-config.sh > "$tmp/convert.sh"
cd "$here"
export TAPPAAS_SCHEMA_FILE="$here/src/foundation/module-fields.json"
find src -name '*.json' ! -name '*fields.json' ! -name 'zones.json' ! -name 'pinhole.json' \
  ! -name '*.meta.json' ! -name 'module-catalog.json' | LC_ALL=C sort | while read -r f; do
  mkdir -p "../canonical/$(dirname "$f")"
  bash -c 'source "$1"; regroup_to_pattern_a' regroup "$tmp/convert.sh" < "$f" > "../canonical/$f" 2>/dev/null
done

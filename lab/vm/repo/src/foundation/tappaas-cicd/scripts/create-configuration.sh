#!/usr/bin/env bash
# Lab rendition of src/foundation/tappaas-cicd/scripts/create-configuration.sh
# (bootstrap.md §2.1): writes /home/tappaas/config/configuration.json.
set -e
DOMAIN=""
BRANCH=stable
EMAIL=""
NODES=""
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) DOMAIN="$2"; shift 2 ;;
    --branch) BRANCH="$2"; shift 2 ;;
    --email) EMAIL="$2"; shift 2 ;;
    --nodes) NODES="$2"; shift 2 ;;
    *) echo "create-configuration.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$DOMAIN" ] || DOMAIN="CHANGE-domain.tld"
[ -n "$EMAIL" ] || EMAIL="CHANGE-admin@domain.tld"
VERSION=$(git -C /home/tappaas/TAPPaaS describe --tags --abbrev=0 2>/dev/null || echo 0.5)
COUNT=0
ENTRIES=""
for n in $NODES; do
  COUNT=$((COUNT+1))
  IP=$(getent hosts "$n.mgmt.internal" | cut -d' ' -f1)
  [ -n "$IP" ] || IP=unknown
  [ -z "$ENTRIES" ] || ENTRIES="$ENTRIES,"
  ENTRIES="$ENTRIES
    { \"hostname\": \"$n\", \"ip\": \"$IP\" }"
done
mkdir -p /home/tappaas/config
cat > /home/tappaas/config/configuration.json <<EOF
{
  "-comment1": "TAPPaaS configuration. Generated $(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "-comment2": "Edit this file at /home/tappaas/config/configuration.json",
  "tappaas": {
    "version": "$VERSION",
    "domain": "$DOMAIN",
    "email": "$EMAIL",
    "nodeCount": $COUNT,
    "variants": { "": { "domain": "$DOMAIN", "tlsCertRefid": "", "dnsMode": "wildcard", "description": "Default (no variant)" } },
    "repositories": [ { "name": "TAPPaaS", "url": "github.com/TAPPaaS/TAPPaaS", "branch": "$BRANCH", "path": "/home/tappaas/TAPPaaS" } ],
    "updateSchedule": [ "weekly", "Tuesday", 2 ]
  },
  "tappaas-nodes": [$ENTRIES
  ]
}
EOF
echo "Wrote /home/tappaas/config/configuration.json"

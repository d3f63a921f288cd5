#!/usr/bin/env bash
# Installs promptfoo (the reference implementation the differential suite runs side by side with
# Driftlens's assertions) into .cache/promptfoo, outside the project's dependencies: it is a test
# oracle, not something Driftlens uses. Pinned, without optional dependencies (the providers'
# SDKs, ~1.6 GB, which assertions do not need) and without install scripts. Idempotent and cached:
# a second run with the marker in place does nothing. Needs only the npm registry.
#   bash test/differential/setup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PROMPTFOO_VERSION=0.121.20
CACHE="${DRIFTLENS_PROMPTFOO_CACHE:-$PWD/.cache/promptfoo}"
MARKER="$CACHE/.ready-$PROMPTFOO_VERSION"
if [ -f "$MARKER" ] && [ -f "$CACHE/node_modules/promptfoo/package.json" ]; then exit 0; fi
mkdir -p "$CACHE"
cd "$CACHE"
[ -f package.json ] || echo '{ "name": "driftlens-promptfoo-oracle", "private": true }' > package.json
# Run from `npm test`, npm's own npm_* variables would be taken as config by this npm: drop them.
for v in $(compgen -e | grep -i '^npm_'); do unset "$v"; done
echo "differential setup: installing promptfoo $PROMPTFOO_VERSION into $CACHE (2-4 minutes)" >&2
npm install --no-audit --no-fund --no-save --ignore-scripts --omit=optional --loglevel=error "promptfoo@$PROMPTFOO_VERSION" >/dev/null
test -f node_modules/promptfoo/package.json
touch "$MARKER"
echo "differential setup: ready ($CACHE)" >&2

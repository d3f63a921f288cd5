#!/usr/bin/env bash
# Builds llama.cpp's own programs (llama-server, llama-perplexity, llama-quantize, rpc-server) from
# the exact llama.cpp source node-llama-cpp ships (node_modules/node-llama-cpp/llama/gitRelease.bundle,
# a git bundle of the tag in llama.cpp.info.json), so reference tools and test servers run the same
# llama.cpp version as the engine. Cached: a second run with the binaries in place does nothing.
#   bash test/tools/llama-tools.sh          build (or reuse) and print the bin folder
#   bash test/tools/llama-tools.sh --path   print the bin folder only (exit 1 when not built)
#   bash test/tools/llama-tools.sh --like-engine [--path]
#       llama-perplexity and llama-quantize built with the CPU features of the ggml-cpu variant
#       node-llama-cpp's prebuilt binaries load on this machine (e.g. zen4: AVX512, VBMI, VNNI, BF16)
#       instead of -march=native, so the two tools compute the same kernels and a comparison of
#       their logits measures methods, not compilers' instruction choices. Cached apart, under
#       <tag>-engine-<variant>. Falls back to a native build where no variant is reported.
#       Applies test/tools/patches/*.diff (llama-perplexity flushes its log before exiting, so
#       its final statistics are never lost) to the shared source; they touch nothing else.
# Cache: $DRIFTLENS_LLAMA_CACHE (default .cache/llama) / <tag> / bin. About 9 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
CACHE="${DRIFTLENS_LLAMA_CACHE:-$ROOT/.cache/llama}"
LLAMA_DIR="$ROOT/node_modules/node-llama-cpp/llama"
TAG="$(node -e 'process.stdout.write(require(process.argv[1]).tag)' "$LLAMA_DIR/llama.cpp.info.json")"
OUT="$CACHE/$TAG"
TARGETS=(llama-server llama-perplexity llama-quantize rpc-server)
CPU_FLAGS=(-DGGML_NATIVE=ON)
if [ "${1:-}" = "--like-engine" ]; then
  shift
  # The ggml-cpu variant node-llama-cpp loads here (its loader logs the library it picked).
  VARIANT="$(node -e '
    import("node-llama-cpp").then(async ({ getLlama, LlamaLogLevel }) => {
      let v = "";
      const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.debug,
        logger: (_l, m) => { const x = /libggml-cpu-([A-Za-z0-9_.]+)\.(so|dylib|dll)/.exec(m); if (x) v = x[1]; } });
      await llama.dispose(); process.stdout.write(v);
    }).catch(() => {});' 2>/dev/null || true)"
  TARGETS=(llama-perplexity llama-quantize)
  OUT="$CACHE/$TAG-engine-${VARIANT:-native}"
  OWN_PATCHES=("$ROOT"/test/tools/patches/*.diff)
fi
BIN="$OUT/bin"
# A stamp of our own patches (--like-engine): a build made without one of them is rebuilt
# (incrementally). Empty for the plain build, whose .ready is empty.
STAMP=""
if [ -n "${OWN_PATCHES+x}" ]; then STAMP="$(cat "${OWN_PATCHES[@]}" 2>/dev/null | sha256sum | cut -c1-16)"; fi
# The cmake target behind each program name where they differ (this llama.cpp names its RPC
# server target ggml-rpc-server).
cmake_target() { case "$1" in rpc-server) echo ggml-rpc-server ;; *) echo "$1" ;; esac; }

built() {
  local t
  for t in "${TARGETS[@]}"; do [ -x "$BIN/$t" ] || return 1; done
  [ -f "$OUT/.ready" ] && [ "$(cat "$OUT/.ready")" = "$STAMP" ]
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
SRC="$CACHE/$TAG/src"
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

for p in "${OWN_PATCHES[@]:-}"; do
  [ -f "$p" ] || continue
  if (cd "$SRC" && git apply --check "$p" 2>/dev/null); then
    (cd "$SRC" && git apply "$p")
  elif ! (cd "$SRC" && git apply --reverse --check "$p" 2>/dev/null); then
    echo "llama-tools: patch $(basename "$p") does not apply to $TAG" >&2
    exit 1
  fi
done
if [ -n "${VARIANT:-}" ]; then
  # The variant's CPU features, as ggml's own variant list defines them.
  FEATURES="$(sed -n "s/^ *ggml_add_cpu_backend_variant( *$VARIANT  *\([A-Z0-9_ ]*\))/\1/p" "$SRC/ggml/src/CMakeLists.txt" | head -1)"
  [ -n "$FEATURES" ] || { echo "llama-tools: ggml defines no CPU variant '$VARIANT'" >&2; exit 1; }
  CPU_FLAGS=(-DGGML_NATIVE=OFF)
  for f in SSE42 AVX AVX2 BMI2 AVX_VNNI FMA F16C AVX512 AVX512_VBMI AVX512_VNNI AVX512_BF16 AMX_TILE AMX_INT8 AMX_BF16; do
    if [[ " $FEATURES " == *" $f "* ]]; then CPU_FLAGS+=("-DGGML_$f=ON"); else CPU_FLAGS+=("-DGGML_$f=OFF"); fi
  done
  echo "llama-tools: CPU features of node-llama-cpp's $VARIANT variant: $FEATURES" >&2
fi
JOBS="${DRIFTLENS_LLAMA_JOBS:-$(nproc)}"
echo "llama-tools: building ${TARGETS[*]} with $JOBS jobs (about 9 minutes on 2 cores)" >&2
cmake -S "$SRC" -B "$OUT/build" "${CPU_FLAGS[@]}" -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  -DGGML_RPC=ON -DBUILD_SHARED_LIBS=OFF -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log" 2>&1 \
  || { tail -30 "$OUT/cmake.log" >&2; exit 1; }
CMAKE_TARGETS=()
for t in "${TARGETS[@]}"; do CMAKE_TARGETS+=("$(cmake_target "$t")"); done
cmake --build "$OUT/build" -j "$JOBS" --target "${CMAKE_TARGETS[@]}" >"$OUT/build.log" 2>&1 \
  || { tail -30 "$OUT/build.log" >&2; exit 1; }
mkdir -p "$BIN"
for t in "${TARGETS[@]}"; do cp "$OUT/build/bin/$(cmake_target "$t")" "$BIN/$t"; done
printf '%s' "$STAMP" >"$OUT/.ready"
echo "$BIN"

// `npm run package`: builds the bundles (no tests) and packs a linux-x64 VSIX with @vscode/vsce.
// The VSIX holds the bundles, the grammars, and from node_modules only the native modules the
// bundles load at run time (better-sqlite3 with its compiled binary, node-llama-cpp with its
// linux-x64 CPU binaries) and their dependencies; the CUDA, Vulkan and ARM builds of
// node-llama-cpp, llama.cpp's sources, better-sqlite3's sources and build intermediates, source
// maps and test bundles stay out. docs/extension.md lists the contents.
//   npm run package                 → driftlens-<version>-linux-x64.vsix at the repository root
//   npm run package -- --out FILE   → elsewhere
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const args = process.argv.slice(2);
const outIdx = args.indexOf("--out");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const TARGET = "linux-x64";
const out = outIdx >= 0 ? path.resolve(args[outIdx + 1]) : path.join(root, `${pkg.name}-${pkg.version}-${TARGET}.vsix`);
/** Native modules the bundles leave external (esbuild.config.mjs); the VSIX carries these. */
const NATIVE_ROOTS = ["better-sqlite3", "node-llama-cpp"];
/** node-llama-cpp's prebuilt binaries: only the CPU build for the target goes in. */
const KEEP_PREBUILT = `@node-llama-cpp/${TARGET}`;

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: "inherit", cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`package: ${cmd} ${argv.join(" ")} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

run(process.execPath, [path.join(root, "esbuild.config.mjs"), "--no-tests"]);

// The dependency closure of the native modules, from package-lock.json (node's lookup rules).
const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8")).packages;
function resolveDep(from, name) {
  let dir = from;
  for (;;) {
    const p = `${dir ? `${dir}/` : ""}node_modules/${name}`;
    if (lock[p]) return p;
    if (!dir) return null;
    const i = dir.lastIndexOf("/node_modules/");
    dir = i < 0 ? "" : dir.slice(0, i);
  }
}
const closure = new Set();
function visit(p) {
  if (closure.has(p) || !fs.existsSync(path.join(root, p))) return;
  const name = p.slice(p.lastIndexOf("node_modules/") + "node_modules/".length);
  if (name.startsWith("@node-llama-cpp/") && name !== KEEP_PREBUILT) return;
  closure.add(p);
  const e = lock[p] ?? {};
  for (const d of Object.keys({ ...e.dependencies, ...e.optionalDependencies })) {
    const r = resolveDep(p, d);
    if (r) visit(r);
  }
}
for (const n of NATIVE_ROOTS) visit(`node_modules/${n}`);
if (!closure.has(`node_modules/${KEEP_PREBUILT}`)) {
  console.error(`package: node_modules/${KEEP_PREBUILT} is missing; run npm ci on ${TARGET} first`);
  process.exit(1);
}
if (!fs.existsSync(path.join(root, "node_modules/better-sqlite3/build/Release/better_sqlite3.node"))) {
  console.error("package: better-sqlite3 has no compiled binary; run npm rebuild better-sqlite3 first");
  process.exit(1);
}

// vsce's ignore file: a path is packed when no pattern excludes it or some "!" pattern includes
// it (includes always win), so the kept trees are listed precisely, skipping what must stay out.
const SKIP = [
  "node_modules/node-llama-cpp/llama/llama.cpp",
  "node_modules/node-llama-cpp/llama/gitRelease.bundle",
  "node_modules/better-sqlite3/deps",
  "node_modules/better-sqlite3/src",
  "node_modules/better-sqlite3/build",
];
const KEEP_FILES = ["node_modules/better-sqlite3/build/config.gypi", "node_modules/better-sqlite3/build/Release/better_sqlite3.node"];
const includes = [];
function includeTree(rel) {
  if (SKIP.includes(rel)) return;
  const abs = path.join(root, rel);
  if (!SKIP.some((s) => s.startsWith(`${rel}/`))) {
    includes.push(fs.statSync(abs).isDirectory() ? `!${rel}/**` : `!${rel}`);
    return;
  }
  for (const e of fs.readdirSync(abs)) includeTree(`${rel}/${e}`);
}
for (const p of [...closure].sort()) includeTree(p);
const ignore = [
  "**",
  "!package.json",
  "!dist/extension.js",
  "!dist/extension-main.js",
  "!dist/server.js",
  "!dist/server-lsp.js",
  "!dist/server-core.js",
  "!dist/cli.js",
  "!dist/engine-worker.js",
  "!dist/pattern-worker.js",
  "!dist/webviews/*.js",
  "!dist/webviews/*.css",
  "!syntaxes/**",
  ...includes,
  ...KEEP_FILES.map((f) => `!${f}`),
];
const cache = path.join(root, ".cache", "vsix");
fs.mkdirSync(cache, { recursive: true });
const ignoreFile = path.join(cache, "vscodeignore");
fs.writeFileSync(ignoreFile, ignore.join("\n") + "\n");

const vsce = path.join(root, "node_modules", "@vscode", "vsce", "vsce");
run(process.execPath, [
  vsce,
  "package",
  "--target",
  TARGET,
  "--out",
  out,
  "--ignoreFile",
  ignoreFile,
  "--readme-path",
  "extension/marketplace.md",
  "--allow-missing-repository",
  "--skip-license",
]);
const mb = (fs.statSync(out).size / 1024 / 1024).toFixed(1);
console.log(`package: ${path.relative(process.cwd(), out) || out} (${mb} MiB)`);

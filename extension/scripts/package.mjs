// `npm run package`: builds the bundles (no tests) and packs a per-platform VSIX with @vscode/vsce
// (vsce's `--target`, its file name `<name>-<target>-<version>.vsix`), the way extensions with
// native parts ship (rust-analyzer): each VSIX holds only its platform's native binaries.
// A VSIX holds the bundles, the grammars, better-sqlite3's binaries for that platform, one per Node
// ABI (dist/native/<platform>-<arch>/node-<abi>/; built for Node 20, 22 and 24 by natives.mjs, and
// chosen at start by process.versions.modules), and from node_modules only what the bundles load at
// run time: better-sqlite3's JavaScript and node-llama-cpp with the target's CPU binaries, with
// their dependencies. node-llama-cpp's GPU and other platforms' builds, llama.cpp's and SQLite's
// sources, build intermediates, source maps and test bundles stay out. docs/extension.md lists it.
//   npm run package                            → driftlens-linux-x64-<version>.vsix (this machine's target)
//   npm run package -- --target linux-arm64    → another target (see TARGETS)
//   npm run package -- --target all            → every target whose native parts are here
//   npm run package -- --out FILE|DIR          → elsewhere (a folder with --target all)
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ensureNativesLocked } from "./natives.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));

/**
 * vsce targets Driftlens can pack: node-llama-cpp's CPU build for the target (an npm package of
 * prebuilt binaries) and the folder of better-sqlite3 binaries under dist/native/ (Node's
 * `${process.platform}-${process.arch}`). Where no better-sqlite3 binary is here for a target,
 * its VSIX stores with the runtime's node:sqlite (Node 22.13+; VS Code's Electron).
 */
const TARGETS = {
  "linux-x64": { llama: "@node-llama-cpp/linux-x64", native: "linux-x64" },
  "linux-arm64": { llama: "@node-llama-cpp/linux-arm64", native: "linux-arm64" },
  "linux-armhf": { llama: "@node-llama-cpp/linux-armv7l", native: "linux-arm" },
  "darwin-arm64": { llama: "@node-llama-cpp/mac-arm64-metal", native: "darwin-arm64" },
  "darwin-x64": { llama: "@node-llama-cpp/mac-x64", native: "darwin-x64" },
  "win32-x64": { llama: "@node-llama-cpp/win-x64", native: "win32-x64" },
  "win32-arm64": { llama: "@node-llama-cpp/win-arm64", native: "win32-arm64" },
};
const HOST = Object.keys(TARGETS).find((t) => TARGETS[t].native === `${process.platform}-${process.arch}`);
/** Native modules the bundles leave external (esbuild.config.mjs); the VSIX carries these. */
const NATIVE_ROOTS = ["better-sqlite3", "node-llama-cpp"];

function fail(msg) {
  console.error(`package: ${msg}`);
  process.exit(1);
}

function parseArgs(argv) {
  const o = { target: HOST, out: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--target") o.target = argv[++i];
    else if (argv[i] === "--out") o.out = path.resolve(argv[++i] ?? "");
    else fail(`unknown argument '${argv[i]}' (use --target T, --out FILE)`);
  }
  return o;
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: "inherit", cwd: root, ...opts });
  if (r.status !== 0) fail(`${cmd} ${argv.join(" ")} failed (exit ${r.status})`);
}

/** Targets whose node-llama-cpp binaries are installed here (npm installs those its lock allows for this machine). */
function availableTargets() {
  return Object.keys(TARGETS).filter((t) => fs.existsSync(path.join(root, "node_modules", TARGETS[t].llama, "package.json")));
}

/** better-sqlite3 binaries for a target: [[relative path, ABI]]. */
function nativeBinaries(target) {
  const dir = path.join(root, "dist", "native", TARGETS[target].native);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((d) => /^node-\d+$/.test(d) && fs.existsSync(path.join(dir, d, "better_sqlite3.node")))
    .map((d) => [`dist/native/${TARGETS[target].native}/${d}/better_sqlite3.node`, d.slice(5)]);
}

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

function closureFor(target) {
  const keep = TARGETS[target].llama;
  const closure = new Set();
  const visit = (p) => {
    if (closure.has(p) || !fs.existsSync(path.join(root, p))) return;
    const name = p.slice(p.lastIndexOf("node_modules/") + "node_modules/".length);
    if (name.startsWith("@node-llama-cpp/") && name !== keep) return;
    closure.add(p);
    const e = lock[p] ?? {};
    for (const d of Object.keys({ ...e.dependencies, ...e.optionalDependencies })) {
      const r = resolveDep(p, d);
      if (r) visit(r);
    }
  };
  for (const n of NATIVE_ROOTS) visit(`node_modules/${n}`);
  return closure;
}

// vsce's ignore file: a path is packed when no pattern excludes it or some "!" pattern includes
// it (includes always win), so the kept trees are listed precisely, skipping what must stay out.
// better-sqlite3's own build/ (npm's binary for the Node that ran npm) is replaced by dist/native.
const SKIP = [
  "node_modules/node-llama-cpp/llama/llama.cpp",
  "node_modules/node-llama-cpp/llama/gitRelease.bundle",
  "node_modules/better-sqlite3/deps",
  "node_modules/better-sqlite3/src",
  "node_modules/better-sqlite3/build",
];

function ignoreFileFor(target, binaries) {
  const includes = [];
  const includeTree = (rel) => {
    if (SKIP.includes(rel)) return;
    const abs = path.join(root, rel);
    if (!SKIP.some((s) => s.startsWith(`${rel}/`))) {
      includes.push(fs.statSync(abs).isDirectory() ? `!${rel}/**` : `!${rel}`);
      return;
    }
    for (const e of fs.readdirSync(abs)) includeTree(`${rel}/${e}`);
  };
  for (const p of [...closureFor(target)].sort()) includeTree(p);
  const ignore = [
    "**",
    "!package.json",
    "!dist/extension.js",
    "!dist/extension-main.js",
    "!dist/server.js",
    "!dist/server-lsp.js",
    "!dist/server-core.js",
    "!dist/cli.js",
    "!dist/cli-main.js",
    "!dist/engine-worker.js",
    "!dist/pattern-worker.js",
    "!dist/webviews/*.js",
    "!dist/webviews/*.css",
    "!syntaxes/**",
    ...binaries.map(([rel]) => `!${rel}`),
    // The bulk_logits addon (Node-API, every runtime), where it was built for this target.
    ...(fs.existsSync(path.join(root, "dist", "native", TARGETS[target].native, "bulk_logits.node")) ? [`!dist/native/${TARGETS[target].native}/bulk_logits.node`] : []),
    ...includes,
  ];
  const cache = path.join(root, ".cache", "vsix");
  fs.mkdirSync(cache, { recursive: true });
  const file = path.join(cache, `vscodeignore-${target}`);
  fs.writeFileSync(file, ignore.join("\n") + "\n");
  return file;
}

function packTarget(target, out) {
  const binaries = nativeBinaries(target);
  if (binaries.length === 0) {
    console.warn(`package: ${target}: no better-sqlite3 binaries here; its store will use the runtime's built-in node:sqlite (Node 22.13+, VS Code's Electron)`);
  }
  const vsce = path.join(root, "node_modules", "@vscode", "vsce", "vsce");
  run(process.execPath, [vsce, "package", "--target", target, "--out", out, "--ignoreFile", ignoreFileFor(target, binaries), "--readme-path", "extension/marketplace.md", "--allow-missing-repository", "--skip-license"]);
  const mb = (fs.statSync(out).size / 1024 / 1024).toFixed(1);
  console.log(`package: ${path.relative(process.cwd(), out) || out} (${mb} MiB; better-sqlite3 for ABI ${binaries.map(([, abi]) => abi).join(", ") || "none (node:sqlite)"})`);
}

const opts = parseArgs(process.argv.slice(2));
const available = availableTargets();
const targets = opts.target === "all" ? available : [opts.target];
for (const t of targets) {
  if (!TARGETS[t]) fail(`unknown target '${t}'; targets: ${Object.keys(TARGETS).join(", ")}, all`);
  if (!available.includes(t)) fail(`${t}: node-llama-cpp's binaries for it (${TARGETS[t].llama}) are not installed here; targets with their native parts here: ${available.join(", ")}`);
}
if (targets.length === 0) fail("no target has its native parts here");

run(process.execPath, [path.join(root, "esbuild.config.mjs"), "--no-tests"]);
// This machine's binaries: Node 20, 22 and 24 from npm, better-sqlite3 compiled for each (cached).
if (targets.includes(HOST)) ensureNativesLocked();

for (const t of targets) {
  const name = `${pkg.name}-${t}-${pkg.version}.vsix`;
  const out = !opts.out ? path.join(root, name) : targets.length > 1 || (fs.existsSync(opts.out) && fs.statSync(opts.out).isDirectory()) ? path.join(opts.out, name) : opts.out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  packTarget(t, out);
}

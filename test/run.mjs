// The test command (`npm test`): type-check, build every bundle (tests included), then run the
// suites with node's test runner. Suites: unit (engine, pure), lsp (bundled server over stdio),
// hostile (generated hostile inputs: bounds on time, memory and file access), differential
// (assertions side by side with promptfoo's, installed on first use by test/differential/setup.sh),
// e2e (real VS Code in headless Chromium; needs the e2e toolchain that .ci/run installs).
// The full run then runs the runtime-dependent unit and LSP tests again on each other supported Node
// runtime (20, 22, 24: the server, the CLI and the engine worker all run on the runtime the tests run
// on) and once with the node:sqlite store driver forced: the runtime matrix (MATRIX below). Runtimes come from npm
// into .cache/runtimes/ with a better-sqlite3 binary for each (extension/scripts/natives.mjs).
//   npm test                          all suites, then the runtime matrix
//   npm test -- unit lsp              only those suites, on this Node
//   npm test -- unit/store            only test files whose path contains "unit/store"
//   npm test -- --node 24 unit/store  on Node 24 from .cache/runtimes (installed when missing)
//   npm test -- --sqlite node unit    with the node:sqlite driver forced (DRIFTLENS_SQLITE_DRIVER)
//   npm test -- --matrix unit/store   the runtime matrix for those files
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureNativesLocked, MAJORS } from "../extension/scripts/natives.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const argv = process.argv.slice(2);
const filters = [];
let node = null;
let sqlite = null;
let matrixOnly = false;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--node") node = Number(argv[++i]);
  else if (a === "--sqlite") sqlite = argv[++i] ?? "";
  else if (a === "--matrix") matrixOnly = true;
  else filters.push(a);
}
if (node !== null && !MAJORS.includes(node)) {
  console.error(`--node ${node}: the supported runtimes are Node ${MAJORS.join(", ")}`);
  process.exit(2);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// A filtered run skips the whole-project type check and builds only the matching tests, so one
// unfinished file elsewhere does not block it; the full run (CI) checks everything.
const full = filters.length === 0 && node === null && sqlite === null && !matrixOnly;
if (full) run(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json", "--noEmit"]);
run(process.execPath, [path.join(root, "esbuild.config.mjs")], {
  env: { ...process.env, DRIFTLENS_TEST_FILTER: filters.join(",") },
});

function list(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? list(p) : e.name.endsWith(".test.js") ? [p] : [];
  });
}

const suites = ["unit", "lsp", "hostile", "differential", "e2e"];
const files = list(path.join(root, "dist/test"))
  .map((p) => path.relative(path.join(root, "dist/test"), p))
  .filter((rel) => suites.some((s) => rel.startsWith(s + path.sep)))
  .filter((rel) => filters.length === 0 || filters.some((f) => rel.includes(f)))
  .sort((a, b) => suites.indexOf(a.split(path.sep)[0]) - suites.indexOf(b.split(path.sep)[0]) || a.localeCompare(b));

if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ") || "(all)"}`);
  process.exit(1);
}

/** The node binary for a runtime major (this process's own when it is that major). */
function runtimeNode(major) {
  if (major === null || Number(process.versions.node.split(".")[0]) === major) return process.execPath;
  return ensureNativesLocked(["--node", String(major)]).find((r) => r.major === major).node;
}

/** One pass of node's test runner; returns whether it passed, and its failures (test/failures-reporter.mjs). */
function pass(label, nodeBin, passFiles, env) {
  console.log(`\n=== ${label}: ${passFiles.length} test files ===`);
  const t0 = Date.now();
  const failuresFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "driftlens-test-")), "failures.jsonl");
  const r = spawnSync(
    nodeBin,
    [
      "--test",
      "--test-reporter=spec",
      "--test-reporter-destination=stdout",
      `--test-reporter=${path.join(root, "test", "failures-reporter.mjs")}`,
      `--test-reporter-destination=${failuresFile}`,
      ...passFiles.map((f) => path.join("dist/test", f)),
    ],
    { stdio: "inherit", cwd: root, env: { ...process.env, DRIFTLENS_REPO_ROOT: root, ...env } },
  );
  const ok = r.status === 0;
  console.log(`=== ${label}: ${ok ? "passed" : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s ===`);
  const failures = fs.existsSync(failuresFile)
    ? fs.readFileSync(failuresFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
    : [];
  fs.rmSync(path.dirname(failuresFile), { recursive: true, force: true });
  return { label, ok, seconds: (Date.now() - t0) / 1000, failures };
}

// The bulk_logits addon `driftlens kld` reads logits through (cached after the first build; a fresh
// clone's `npm ci && npm test` builds it here, before any test needs it).
ensureNativesLocked(["--bulk-logits"]);

const driverEnv = (name) => (name ? { DRIFTLENS_SQLITE_DRIVER: name } : {});
const passes = [];
if (!matrixOnly) {
  const label = `Node ${node === null ? process.versions.node : node}${sqlite ? `, SQLite driver ${sqlite}` : ""}`;
  passes.push(pass(label, runtimeNode(node), files, driverEnv(sqlite)));
}

// The runtime matrix: the tests of what differs between runtimes, on every other supported runtime,
// and on Node 22 (the Node of VS Code desktop's Electron, whose ABI no binary is built for) with
// node:sqlite forced. What differs: the SQLite driver and the native binary it loads, node-llama-cpp's
// engine in its worker and process, the CLI and the language server run on that Node, fetch (served
// variants), and V8 (the code cache; the collector, which the kld memory bound depends on). The
// pure engine (parsers, assertions, statistics, reports) runs the same on each and runs once, on
// this Node. A `--matrix` run takes the files it names.
const MATRIX = [
  "unit/store/",
  "unit/runtime/",
  "unit/extension/server-runtime",
  "unit/util/code-cache",
  "unit/llm/engine-client",
  "unit/llm/engine-variants",
  "unit/llm/no-dispose",
  "unit/llm/embed",
  "unit/eval/runner",
  "unit/kld/engine-divergence",
  "unit/kld/memory",
  "unit/remote/generate",
  "unit/remote/runner",
  "lsp/server",
  // The launcher reads stdin itself before the protocol library does (stream semantics per runtime).
  "lsp/early-initialize",
  "lsp/diagnostics",
  "lsp/runs",
].map((p) => p.split("/").join(path.sep));
// With node:sqlite forced, what reads and writes the store: the store itself, the runner, runs
// from the language server.
const SQLITE_MATRIX = ["unit/store/", "unit/eval/runner", "lsp/runs"].map((p) => p.split("/").join(path.sep));
if (full || matrixOnly) {
  const suite = (f) => f.startsWith(`unit${path.sep}`) || f.startsWith(`lsp${path.sep}`);
  const pick = (list) => files.filter((f) => suite(f) && (matrixOnly || list.some((m) => f.startsWith(m))));
  const mine = Number(process.versions.node.split(".")[0]);
  const runs = [...MAJORS.filter((m) => m !== mine).map((m) => [m, "", pick(MATRIX)]), [22, "node", pick(SQLITE_MATRIX)]];
  for (const [major, driver, matrixFiles] of runs) {
    if (!matrixFiles.length) continue;
    passes.push(pass(`Node ${major}${driver ? ", SQLite driver node:sqlite forced" : ""} (runtime matrix)`, runtimeNode(major), matrixFiles, driverEnv(driver)));
  }
}

if (passes.length > 1) {
  console.log("\n=== summary ===");
  for (const p of passes) console.log(`${p.ok ? "ok  " : "FAIL"}  ${p.label}  (${p.seconds.toFixed(0)} s)`);
}
// Every failure again, last, where the tail of a CI log shows it: the test, its file, the message.
const failed = passes.flatMap((p) => p.failures.map((f) => ({ ...f, pass: p.label })));
if (failed.length) {
  console.log(`\n=== ${failed.length} failure(s) ===`);
  const clip = (t, n) => (t.length > n ? `${t.slice(0, n)}…` : t);
  for (const f of failed) {
    console.log(`✖ [${f.pass}] ${clip(f.name, 120)}  (${path.relative(root, f.file) || "?"})`);
    console.log(`    ${clip(f.message.replace(/\s+/g, " "), 400)}`);
  }
  // The extension's own log from the end-to-end suite (written by its tests), for a failure there.
  const log = path.join(root, "test-results", "e2e", "extension.log");
  if (failed.some((f) => f.file.includes(`${path.sep}e2e${path.sep}`)) && fs.existsSync(log)) {
    console.log("--- the end of the extension's log (test-results/e2e/extension.log) ---");
    for (const l of fs.readFileSync(log, "utf8").trimEnd().split("\n").slice(-12)) console.log(clip(l, 240));
  }
}
process.exit(passes.every((p) => p.ok) ? 0 : 1);

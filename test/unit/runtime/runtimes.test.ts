// The CLI on each supported Node runtime (20, 22, 24, installed from npm; test/helpers/runtimes.ts):
// it starts with the better-sqlite3 binary built for that runtime's ABI, generates for real through
// node-llama-cpp (an N-API addon, so one binary for every runtime) on the quickstart's tiny model
// with the same outputs everywhere, and a store written on one runtime and driver is reused on the
// others, node:sqlite included: reruns there are fully cached and identical.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { ensureQuickstartModels } from "../../../server/src/modelgen";
import { Store } from "../../../server/src/store/store";
import { DIST, REPO_ROOT, tempDir } from "../../helpers/paths";
import { ensureRuntimes, neutralEnv, type Runtime } from "../../helpers/runtimes";

const CLI = path.join(DIST, "cli.js");
let runtimes: Runtime[] = [];
let models = "";

interface Report {
  runs: { status: string; summary: { cases: number; generated: number; cached: number; passed: number; failed: number }; cases: { id: string; output: string; cached: boolean }[] }[];
}

/** A copy of the quickstart workspace sharing one generated model family. */
function workspace(): string {
  const dir = tempDir("driftlens-runtime-ws-");
  fs.cpSync(path.join(REPO_ROOT, "examples", "quickstart"), dir, { recursive: true, filter: (src) => !/[/\\](models|\.driftlens)([/\\]|$)/.test(src) });
  fs.symlinkSync(models, path.join(dir, "models"));
  return dir;
}

function cli(rt: Runtime, cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(rt.node, [CLI, ...args], { cwd, encoding: "utf8", env: neutralEnv(env), maxBuffer: 64 * 1024 * 1024, timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `driftlens eval` on the capitals set with the Q4_0 variant (59 of 60 pass: the engineered tail flip). */
function evalQ4(rt: Runtime, cwd: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []): Report["runs"][number] {
  const r = cli(rt, cwd, ["eval", "capitals.eval.yaml", "--variant", "tiny/q4_0", "--format", "json", ...extra], env);
  assert.equal(r.code, 1, `Node ${rt.version}: driftlens eval should exit 1 (a failing case), got ${r.code}:\n${r.stderr.slice(-2000)}`);
  const run = (JSON.parse(r.stdout) as Report).runs[0]!;
  assert.equal(run.summary.cases, 60);
  return run;
}

before(() => {
  runtimes = ensureRuntimes();
  models = path.join(tempDir("driftlens-runtime-models-"), "models");
  ensureQuickstartModels(models);
});

test("the CLI starts on Node 20, 22 and 24 with the better-sqlite3 binary built for each runtime's ABI", () => {
  assert.deepEqual(runtimes.map((r) => r.major), [20, 22, 24]);
  for (const rt of runtimes) {
    const r = cli(rt, tempDir(), ["--version"]);
    assert.equal(r.code, 0, r.stderr);
    const [version, node, driver] = r.stdout.trim().split("\n");
    assert.match(version!, /^\d+\.\d+\.\d+$/);
    assert.equal(node, `Node v${rt.version} (ABI ${rt.abi}, linux-x64)`);
    assert.ok(driver!.startsWith("SQLite driver: better-sqlite3 ") && driver!.includes(`binary ${rt.binary}`), driver);
  }
});

test("real generation through node-llama-cpp on Node 20, 22 and 24: the same outputs on each", () => {
  const outputs = new Map<string, string[]>();
  for (const rt of runtimes) {
    const run = evalQ4(rt, workspace());
    assert.equal(run.summary.generated, 60, `Node ${rt.version} generated ${run.summary.generated} of 60 cases`);
    assert.equal(run.summary.passed, 59);
    assert.equal(run.cases.find((c) => c.id === "iceland")?.output.trim(), "Oslo", "the quickstart's engineered Q4_0 tail flip");
    outputs.set(rt.version, run.cases.map((c) => `${c.id}: ${c.output}`));
  }
  const [first, ...rest] = [...outputs.entries()];
  for (const [version, out] of rest) assert.deepEqual(out, first![1], `Node ${version} generated other text than Node ${first![0]}`);
});

test("one store across runtimes and drivers: written on Node 20, reused on 22 and 24 with better-sqlite3 and with node:sqlite", () => {
  const byVersion = (major: number) => runtimes.find((r) => r.major === major)!;
  const ws = workspace();
  const first = evalQ4(byVersion(20), ws);
  assert.equal(first.summary.generated, 60);
  const expected = first.cases.map((c) => [c.id, c.output]);
  for (const [rt, env] of [
    [byVersion(22), { DRIFTLENS_SQLITE_DRIVER: "node" }],
    [byVersion(24), {}],
    [byVersion(24), { DRIFTLENS_SQLITE_DRIVER: "node" }],
    [byVersion(22), {}],
  ] as const) {
    const rerun = evalQ4(rt, ws, env);
    const label = `Node ${rt.version} ${env.DRIFTLENS_SQLITE_DRIVER ? "node:sqlite" : "better-sqlite3"}`;
    assert.equal(rerun.summary.cached, 60, `${label}: ${rerun.summary.cached} of 60 cases came from the store`);
    assert.deepEqual(rerun.cases.map((c) => [c.id, c.output]), expected, `${label} read other outputs from the store`);
  }
  // And new writes from node:sqlite land next to the old ones.
  evalQ4(byVersion(24), ws, { DRIFTLENS_SQLITE_DRIVER: "node" }, ["--no-cache"]);
  const s = Store.open(path.join(ws, ".driftlens", "store.db"));
  try {
    assert.equal(s.integrityCheck(), "ok");
    const runs = s.listRuns();
    assert.ok(runs.length >= 2 && runs.every((r) => r.status === "complete"), runs.map((r) => r.status).join(","));
    for (const r of runs) assert.equal(s.resultCount(r.id), 60);
  } finally {
    s.close();
  }
});

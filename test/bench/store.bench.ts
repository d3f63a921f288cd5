// Store and eval-runner benchmarks:
//   store.ingest_100k_ms       100,000 case results written to a fresh store (goal ≤ 2000 ms)
//   eval.cached_rerun_1000_ms  `driftlens eval` on 1,000 unchanged cases, process start included
//                              (goal ≤ 1500 ms): the cached path must load no model
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { main, median, report, selected } from "./harness";
import { Store, type CaseResultRecord } from "../../server/src/store/store";
import { DIST, TINY_RANDOM_GGUF, tempDir } from "../helpers/paths";

function fakeResult(i: number): CaseResultRecord {
  // A realistic small case: a short output, 8 tokens with top-5 alternatives, two assertions.
  const tokens = Array.from({ length: 8 }, (_, k) => ({
    token: 1000 + k,
    text: ` w${k}`,
    prob: 0.5,
    top: Array.from({ length: 5 }, (_, j) => ({ token: 1000 + k + j, text: ` w${k + j}`, prob: 0.5 / (j + 1) })),
  }));
  return {
    caseId: `case-${i}`,
    ord: i,
    pass: i % 7 !== 0,
    score: i % 7 !== 0 ? 1 : 0,
    output: `The answer to case ${i} is w1 w2 w3 w4 w5 w6 w7.`,
    tokens,
    assertions: [
      { type: "icontains", pass: true, score: 1, message: 'output contains "w1"' },
      { type: "not-contains", pass: i % 7 !== 0, score: i % 7 !== 0 ? 1 : 0, message: "" },
    ],
    tags: [i % 2 ? "odd" : "even"],
    cached: false,
    genKey: null,
    error: null,
    timings: { timeToFirstTokenMs: 3.2, wallMs: 12.5, tokensPerSecond: 640, promptTokens: 40 },
  };
}

async function ingest(): Promise<void> {
  const N = 100_000;
  const results = Array.from({ length: N }, (_, i) => fakeResult(i));
  const times: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const dir = tempDir("driftlens-bench-store-");
    const store = Store.open(path.join(dir, "store.db"));
    const run = store.createRun({
      fingerprint: "bench",
      variant: "tiny/f16",
      promptFile: "p.prompt",
      evalSetFile: "e.eval.yaml",
      promptHash: "p",
      evalSetHash: "e",
      modelFingerprint: "m",
      adapters: [],
      params: {},
      seed: 0,
      engineVersion: "bench",
      caseCount: N,
    });
    const t0 = performance.now();
    // Batches of 1,000 per transaction: what a bulk import does, and what a run does between flushes.
    for (let i = 0; i < N; i += 1000) store.putResults(run.id, results.slice(i, i + 1000));
    times.push(performance.now() - t0);
    if (store.resultCount(run.id) !== N) throw new Error("ingest lost rows");
    store.close();
  }
  report("store.ingest_100k_ms", median(times), "ms", 2000, "lower", `median of 3; 1,000 results per transaction; each with 8 tokens × top-5, 2 assertions; runs: ${times.map((t) => Math.round(t)).join(", ")} ms; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
}

async function cachedRerun(): Promise<void> {
  const cli = path.join(DIST, "cli.js");
  if (!fs.existsSync(cli)) throw new Error("dist/cli.js is missing; run the build");
  const dir = tempDir("driftlens-bench-eval-");
  fs.writeFileSync(
    path.join(dir, "driftlens.yaml"),
    `models:\n  tiny:\n    reference: rnd\n    variants: {rnd: ${JSON.stringify(TINY_RANDOM_GGUF)}}\nengine: {gpu: cpu, threads: 1}\n`,
  );
  fs.writeFileSync(path.join(dir, "q.prompt"), `---\nmodel: tiny/rnd\nconfig: {temperature: 0, maxOutputTokens: 2}\ninput:\n  schema:\n    n: string\ndriftlens.evals: [q.eval.yaml]\n---\n{{role "user"}}Say {{n}}.\n`);
  const cases = Array.from({ length: 1000 }, (_, i) => `  - id: c${i}\n    vars: {n: "number ${i}"}\n    assert: [{type: not-contains, value: "zzzz"}]\n    tags: [${i % 3 === 0 ? "a" : "b"}]\n    why: bench`).join("\n");
  fs.writeFileSync(path.join(dir, "q.eval.yaml"), `prompt: q.prompt\ncases:\n${cases}\n`);
  const runOnce = () => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [cli, "eval", "--format", "json"], { cwd: dir, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`driftlens eval exited ${r.status}: ${r.stderr.slice(-500)}`);
    return { ms, report: JSON.parse(r.stdout) as { runs: { summary: { cached: number; generated: number } }[] } };
  };
  const first = runOnce();
  const times: number[] = [];
  let cached = 0;
  for (let i = 0; i < 3; i++) {
    const r = runOnce();
    times.push(r.ms);
    cached = r.report.runs[0]!.summary.cached;
  }
  if (cached !== 1000) throw new Error(`the rerun reported ${cached} of 1000 cases cached`);
  report(
    "eval.cached_rerun_1000_ms",
    median(times),
    "ms",
    1500,
    "lower",
    `median of 3 reruns, process start included, all 1000 cached; first (generating) run ${Math.round(first.ms)} ms; reruns ${times.map((t) => Math.round(t)).join(", ")} ms; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`,
  );
}

main("store", async () => {
  if (selected("store.ingest_100k_ms")) await ingest();
  if (selected("eval.cached_rerun_1000_ms")) await cachedRerun();
});

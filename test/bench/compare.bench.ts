// Compare/diff benchmarks:
//   compare.kld_cost_ratio   time to compute the teacher-forced divergence of a 32-token output
//                            (score the reference's top-K + score the candidate's probe + the KL
//                            math) ÷ time to generate those 32 tokens; goal ≤ 2
//   diff.warm_nochange_ms    `driftlens diff` (a real process: node dist/cli.js) on a warm store
//                            with nothing changed; goal ≤ 1500
// Both sides of each measurement run in the same process run, on the same model and threads.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { caseDivergence } from "../../server/src/stats/kld";
import { EngineClient } from "../../server/src/llm/client";
import type { EngineSettings, ModelSpec } from "../../server/src/llm/types";
import { writeRandomLlama, type RandomLlamaDims } from "../../server/src/modelgen/random";
import { DIST } from "../helpers/paths";
import { main, median, report, selected } from "./harness";

const TOKENS = 32;
const TOP_K = 20;
const ROUNDS = 7;

/** ~25 M parameters: big enough that generation is compute-bound, small enough to write quickly. */
const DIMS: Omit<RandomLlamaDims, "type"> = { nEmbd: 384, nLayer: 6, nHead: 6, nFf: 1024, vocabSize: 32000, seed: 11 };

function benchModel(type: RandomLlamaDims["type"]): string {
  const dir = path.join(os.tmpdir(), "driftlens-bench-models");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `random-${DIMS.nEmbd}x${DIMS.nLayer}-ff${DIMS.nFf}-v${DIMS.vocabSize}-${type}-s${DIMS.seed}.gguf`);
  if (!fs.existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    writeRandomLlama(tmp, { ...DIMS, type });
    fs.renameSync(tmp, file);
  }
  return file;
}

async function kldCostRatio(): Promise<void> {
  const ref: ModelSpec = { variant: "bench/q8_0", modelPath: benchModel("Q8_0"), adapters: [] };
  const cand: ModelSpec = { variant: "bench/q4_0", modelPath: benchModel("Q4_0"), adapters: [] };
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "driftlens-bench-cache-"));
  const settings: EngineSettings = { gpu: "auto", threads: "auto", contextSize: 512, parallelSequences: 1, memoryBudgetBytes: 8 * 1024 ** 3 };
  const client = await EngineClient.start(settings, { env: { DRIFTLENS_CACHE_DIR: cacheDir } });
  try {
    const genMs: number[] = [];
    const divMs: number[] = [];
    let produced = 0;
    for (let round = 0; round < ROUNDS + 1; round++) {
      // A different prompt each round so neither side profits from the other's prefix.
      const messages = [{ role: "user" as const, text: `Round ${round}: write about the ${["sea", "hills", "city", "river", "forest", "desert", "sky", "road"][round % 8]} in plain words.` }];
      const t0 = performance.now();
      const gen = await client.generate({ id: `g${round}`, model: ref, messages, params: { temperature: 0, maxTokens: TOKENS, stop: [], seed: round }, topLogprobs: 5 });
      const t1 = performance.now();
      const tokens = gen.tokens.map((t) => t.token);
      const refScore = await client.score({ id: `r${round}`, model: ref, messages, tokens, topK: TOP_K });
      const probe = refScore.positions.map((p) => p.top.map((t) => t.token));
      const candScore = await client.score({ id: `c${round}`, model: cand, messages, tokens, topK: 1, probe });
      caseDivergence(`r${round}`, refScore.positions, candScore.positions, tokens, tokens, TOP_K);
      const t2 = performance.now();
      if (round === 0) continue; // warm-up: model loads and thread measurement
      produced = tokens.length;
      genMs.push(t1 - t0);
      divMs.push(t2 - t1);
    }
    const info = await client.info();
    const ratio = median(divMs) / median(genMs);
    report(
      "compare.kld_cost_ratio",
      Number(ratio.toFixed(3)),
      "ratio",
      2,
      "lower",
      `divergence ${median(divMs).toFixed(1)} ms (reference top-${TOP_K} + candidate probe, 2 models) vs generation ${median(genMs).toFixed(1)} ms for ${produced} tokens; medians of ${ROUNDS}; ${(fs.statSync(ref.modelPath).size / 2 ** 20).toFixed(0)} MB Q8_0 ref, Q4_0 candidate; backend ${info.backend}, threads ${info.threads}`,
    );
  } finally {
    await client.dispose();
  }
}

async function diffWarmNoChange(): Promise<void> {
  const cli = path.join(DIST, "cli.js");
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing; build first (npm run bench builds it)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "driftlens-bench-diff-"));
  const g = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "pipe" });
  g("init", "-q", "-b", "main");
  g("config", "user.email", "bench@example.com");
  g("config", "user.name", "bench");
  fs.writeFileSync(path.join(dir, "driftlens.yaml"), `models:\n  bench:\n    reference: q8_0\n    variants: {q8_0: ${JSON.stringify(benchModel("Q8_0"))}}\nstore: .driftlens/store.db\n`);
  fs.writeFileSync(path.join(dir, ".gitignore"), ".driftlens/\n");
  for (let i = 0; i < 5; i++) {
    fs.writeFileSync(path.join(dir, `p${i}.prompt`), `---\nmodel: bench/q8_0\nconfig: {temperature: 0, maxOutputTokens: 4}\ninput:\n  schema:\n    word: string\ndriftlens.evals: [p${i}.eval.yaml]\n---\n{{role "user"}}Say {{word}}.\n`);
    const cases = Array.from({ length: 20 }, (_, j) => `  - {id: c${j}, vars: {word: w${j}}, assert: [{type: contains, value: w}], tags: [s${j % 3}], why: bench}`).join("\n");
    fs.writeFileSync(path.join(dir, `p${i}.eval.yaml`), `prompt: p${i}.prompt\ncases:\n${cases}\n`);
  }
  g("add", "-A");
  g("commit", "-q", "-m", "bench workspace");
  const run = () => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [cli, "diff", "--format", "json"], { cwd: dir, encoding: "utf8" });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`driftlens diff exited ${r.status}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
    return ms;
  };
  run(); // warm: store created, OS caches filled
  const times = Array.from({ length: 7 }, run);
  report("diff.warm_nochange_ms", Math.round(median(times)), "ms", 1500, "lower", `node dist/cli.js diff, 5 prompts × 20 cases committed, nothing changed; median of 7 (min ${Math.round(Math.min(...times))}, max ${Math.round(Math.max(...times))})`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main("compare", async () => {
  if (selected("compare.kld_cost_ratio")) await kldCostRatio();
  if (selected("diff.warm_nochange_ms")) await diffWarmNoChange();
});

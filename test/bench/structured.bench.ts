// Benchmarks of structured output and sampled evals, on the ~62 MB Q8_0 model the engine
// benchmarks generate (32,000-token vocabulary), both sides measured interleaved in one run:
//   eval.grammar_overhead_ratio     tokens/s generating under a JSON grammar ÷ without one, same
//                                   output length (a string the grammar cannot close within
//                                   maxTokens), greedy and at temperature 1.0, without per-token
//                                   alternatives (runEvals records none under a grammar)
//   eval.repeat_throughput_ratio    runEvals: one case drawn 8 times (repeat: 8) ÷ 8 separate cases
//                                   of the same prompt length, temperature 1.0: samples of a case
//                                   share their prompt's evaluation (prefix reuse)
// Ratios use CPU time (worker + this process), as the engine benchmarks do; wall time in the notes.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Workspace } from "../../server/src/artifacts";
import { jsonSchemaToGbnf } from "../../server/src/artifacts/json-grammar";
import { runEvals, type RunnerWorkspace } from "../../server/src/eval/runner";
import { EngineClient } from "../../server/src/llm/client";
import type { EngineSettings, GenerateRequest } from "../../server/src/llm/types";
import { writeRandomLlama, type RandomLlamaDims } from "../../server/src/modelgen/random";
import { Store } from "../../server/src/store/store";
import { main, median, report, selected } from "./harness";

const NAMES = ["eval.grammar_overhead_ratio", "eval.repeat_throughput_ratio"];
/** The engine benchmarks' model (the same file in the OS temp dir). */
const DIMS: RandomLlamaDims = { nEmbd: 512, nLayer: 8, nHead: 8, nFf: 1536, vocabSize: 32000, type: "Q8_0", seed: 7 };
const CONTEXT = 1024;

function benchModel(): string {
  const dir = path.join(os.tmpdir(), "driftlens-bench-models");
  const file = path.join(dir, `random-${DIMS.nEmbd}x${DIMS.nLayer}-ff${DIMS.nFf}-v${DIMS.vocabSize}-${DIMS.type}-s${DIMS.seed}.gguf`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeRandomLlama(tmp, DIMS);
    fs.renameSync(tmp, file);
  }
  return file;
}

const WORDS = "the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part".split(" ");

/** A passage of `n` words that shares no prefix with another index's. */
function passage(index: number, n: number): string {
  const out = [`Passage ${index}:`];
  for (let i = 0; out.length < n; i++) out.push(WORDS[(i * (7 + 2 * index) + index * 13) % WORDS.length]!);
  return out.join(" ");
}

interface Cost {
  wallMs: number;
  cpuMs: number;
  tokens: number;
}
const cpuTps = (c: Cost) => (c.tokens * 1000) / c.cpuMs;
const wallTps = (c: Cost) => (c.tokens * 1000) / c.wallMs;
const pairedRatio = (ours: Cost[], base: Cost[], rate: (c: Cost) => number) => median(ours.map((o, i) => rate(o) / rate(base[i]!)));

main("structured", async () => {
  if (!NAMES.some((n) => selected(n))) return;
  const modelPath = benchModel();
  const settings: EngineSettings = { gpu: "auto", threads: "auto", contextSize: CONTEXT, parallelSequences: 8, memoryBudgetBytes: 8 * 1024 ** 3 };
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "driftlens-bench-cache-"));
  const client = await EngineClient.start(settings, { env: { DRIFTLENS_CACHE_DIR: cacheDir } });
  const spec = { variant: "bench/q8_0", modelPath, adapters: [] };
  const procCpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const measure = async (fn: () => Promise<number>): Promise<Cost> => {
    const w0 = (await client.info()).cpuMs ?? NaN;
    const p0 = procCpu();
    const t0 = performance.now();
    const tokens = await fn();
    const wallMs = performance.now() - t0;
    const p1 = procCpu();
    const w1 = (await client.info()).cpuMs ?? NaN;
    return { wallMs, cpuMs: w1 - w0 + (p1 - p0), tokens };
  };
  try {
    await client.generate({ id: "warm", model: spec, messages: [{ role: "user", text: "warm up" }], params: { temperature: 0, maxTokens: 2, stop: [], seed: 1 }, topLogprobs: 5 });
    const info = await client.info();
    const base = `model ${(fs.statSync(modelPath).size / 1048576).toFixed(0)} MB Q8_0 (32,000-token vocabulary), backend ${info.backend}, threads ${info.threads} (${info.threadsSource})`;

    if (selected("eval.grammar_overhead_ratio")) {
      const TOKENS = 48;
      // A string the grammar cannot close within TOKENS tokens (no token is 21+ characters long),
      // so both sides generate exactly TOKENS tokens.
      const schema = { type: "object", properties: { text: { type: "string", minLength: 1000, maxLength: 1000 } }, required: ["text"], additionalProperties: false };
      const grammar = jsonSchemaToGbnf(schema).gbnf;
      const req = (i: number, structured: boolean, k: number, temperature: number): GenerateRequest => ({
        id: `g${i}`,
        model: spec,
        messages: [{ role: "user", text: `${passage(100 + i, 40)}. Write it as JSON.` }],
        params: { temperature, maxTokens: TOKENS, stop: [], seed: i },
        topLogprobs: k,
        ...(structured ? { structured: { grammar, schema } } : {}),
      });
      const one = (i: number, structured: boolean, k: number, temperature: number) =>
        measure(async () => {
          const r = await client.generate(req(i, structured, k, temperature));
          if (r.tokens.length !== TOKENS) throw new Error(`expected ${TOKENS} tokens, got ${r.tokens.length} (${r.stopReason})`);
          return r.tokens.length;
        });
      const runs = { free: [] as Cost[], json: [] as Cost[], freeFast: [] as Cost[], jsonFast: [] as Cost[], freeHot: [] as Cost[], jsonHot: [] as Cost[] };
      for (let i = 0; i < 7; i++) {
        runs.free.push(await one(i, false, 5, 0));
        runs.json.push(await one(i, true, 5, 0));
        runs.freeFast.push(await one(i, false, 0, 0));
        runs.jsonFast.push(await one(i, true, 0, 0));
        runs.freeHot.push(await one(i, false, 0, 1));
        runs.jsonHot.push(await one(i, true, 0, 1));
      }
      // Headline: greedy and sampled, without per-token alternatives (how runEvals generates under
      // a grammar), the worse of the two; with top-5 alternatives in the notes.
      const greedy = pairedRatio(runs.jsonFast, runs.freeFast, cpuTps);
      const hot = pairedRatio(runs.jsonHot, runs.freeHot, cpuTps);
      report(
        "eval.grammar_overhead_ratio",
        Math.min(greedy, hot),
        "ratio",
        0.8,
        "higher",
        `${base}; ${TOKENS} tokens per output on both sides (a JSON string the grammar cannot close sooner), no per-token alternatives (runEvals records none under a grammar), 7 interleaved pairs, median of paired CPU-time ratios, the worse of greedy ${greedy.toFixed(3)} (wall ${pairedRatio(runs.jsonFast, runs.freeFast, wallTps).toFixed(3)}; ${median(runs.jsonFast.map(cpuTps)).toFixed(1)} vs ${median(runs.freeFast.map(cpuTps)).toFixed(1)} tok/CPU-s) and temperature 1.0 ${hot.toFixed(3)} (wall ${pairedRatio(runs.jsonHot, runs.freeHot, wallTps).toFixed(3)}); asking for top-5 alternatives under the grammar (llama.cpp then checks the whole vocabulary every token): greedy ${pairedRatio(runs.json, runs.free, cpuTps).toFixed(3)}`,
      );
    }

    if (selected("eval.repeat_throughput_ratio")) {
      const N = 8;
      const WORDS_PER_PROMPT = 200;
      const MAX = 16;
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "driftlens-bench-repeat-"));
      fs.writeFileSync(path.join(root, "driftlens.yaml"), `models:\n  bench:\n    variants: {q8_0: ${JSON.stringify(modelPath)}}\nengine: {contextSize: ${CONTEXT}}\n`);
      fs.writeFileSync(path.join(root, "p.prompt"), `---\nmodel: bench/q8_0\nconfig: {temperature: 1.0, maxOutputTokens: ${MAX}}\ninput:\n  schema:\n    text: string\n---\n{{text}}\n`);
      const caseYaml = (id: string, text: string) => `  - id: ${id}\n    vars: {text: ${JSON.stringify(text)}}\n    assert: [{type: regex, value: "."}]\n    why: bench`;
      fs.writeFileSync(path.join(root, "sampled.eval.yaml"), `prompt: p.prompt\nrepeat: ${N}\ncases:\n${caseYaml("one", passage(0, WORDS_PER_PROMPT))}\n`);
      fs.writeFileSync(path.join(root, "separate.eval.yaml"), `prompt: p.prompt\ncases:\n${Array.from({ length: N }, (_, i) => caseYaml(`c${i}`, passage(i + 1, WORDS_PER_PROMPT))).join("\n")}\n`);
      const store = Store.open(path.join(root, "store.db"));
      const ws = new Workspace(root);
      const evalRun = (file: string, seed: number) =>
        measure(async () => {
          // Start from a sequence holding something else, so each run evaluates its prompts.
          await client.generate({ id: "reset", model: spec, messages: [{ role: "user", text: `unrelated ${seed}` }], params: { temperature: 0, maxTokens: 1, stop: [], seed: 1 }, topLogprobs: 0 });
          const r = await runEvals({ workspace: ws as unknown as RunnerWorkspace, store, engine: client, targets: [{ promptFile: path.join(root, "p.prompt"), evalSetFile: path.join(root, file) }], seed, noCache: true });
          const run = r.runs[0]!;
          if (run.status !== "complete") throw new Error(run.error ?? run.status);
          // Random weights end an output early about once in 32,000 tokens: every sample counts MAX tokens.
          return run.cases.reduce((s, c) => s + c.samples.length, 0) * MAX;
        });
      const sampled: Cost[] = [];
      const separate: Cost[] = [];
      for (let i = 0; i < 5; i++) {
        sampled.push(await evalRun("sampled.eval.yaml", i));
        separate.push(await evalRun("separate.eval.yaml", i));
      }
      store.close();
      fs.rmSync(root, { recursive: true, force: true });
      report(
        "eval.repeat_throughput_ratio",
        pairedRatio(sampled, separate, cpuTps),
        "ratio",
        1.5,
        "higher",
        `${base}; runEvals, temperature 1.0, ${MAX} tokens per output: one case × ${N} samples vs ${N} cases with their own ${WORDS_PER_PROMPT}-word prompts (no shared prefix), 5 interleaved pairs, median of paired CPU-time ratios (wall ${pairedRatio(sampled, separate, wallTps).toFixed(3)}); ${median(sampled.map((c) => c.cpuMs)).toFixed(0)} vs ${median(separate.map((c) => c.cpuMs)).toFixed(0)} CPU-ms per run`,
      );
    }
  } finally {
    await client.dispose();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

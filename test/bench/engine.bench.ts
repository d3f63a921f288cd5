// Engine benchmarks. Each compares our EngineClient (worker process, IPC included) with
// a bare node-llama-cpp loop on the same model, prompts, token counts and threads, measured in the
// same run:
//   engine.overhead_ratio               our generate() tokens/s ÷ a bare sequence.evaluate loop
//   eval.throughput_vs_naive_ratio      64-case eval (shared ~200-token prefix, ≥ 50 MB model):
//                                       generateMany ÷ a fresh context + LlamaCompletion per case
//   eval.throughput_vs_reuse_ratio      the same eval ÷ one sequence + LlamaCompletion reused
//   engine.threads_auto_vs_best_ratio   tokens/s at the auto thread count ÷ best of 1..cores
// The model is generated once (writeRandomLlama) and kept in the OS temp dir between runs.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type * as NLC from "node-llama-cpp" with { "resolution-mode": "import" };
import { EngineClient } from "../../server/src/llm/client";
import { measureThroughput } from "../../server/src/llm/threads";
import type { EngineSettings, GenerateRequest, GenerateResult } from "../../server/src/llm/types";
import { writeRandomLlama, type RandomLlamaDims } from "../../server/src/modelgen/random";
import { main, median, report, selected } from "./harness";

const NAMES = ["engine.overhead_ratio", "eval.throughput_vs_naive_ratio", "eval.throughput_vs_reuse_ratio", "engine.threads_auto_vs_best_ratio"];
const CASES = 64;
const MAX_TOKENS = 16;
const CONTEXT = 1024;

/** ~60 M parameters in Q8_0: about 64 MB, the ≥ 50 MB model the issue asks for. */
const DIMS: RandomLlamaDims = { nEmbd: 512, nLayer: 8, nHead: 8, nFf: 1536, vocabSize: 32000, type: "Q8_0", seed: 7 };

function benchModel(): string {
  const dir = path.join(os.tmpdir(), "driftlens-bench-models");
  const file = path.join(dir, `random-${DIMS.nEmbd}x${DIMS.nLayer}-ff${DIMS.nFf}-v${DIMS.vocabSize}-${DIMS.type}-s${DIMS.seed}.gguf`);
  if (!fs.existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    writeRandomLlama(tmp, DIMS);
    fs.renameSync(tmp, file);
  }
  return file;
}

const WORDS = "the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part".split(" ");

/** A shared instruction prefix of about `n` tokens (vocabulary words, one token each). */
function prefixText(n: number): string {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) out.push(WORDS[(i * 7) % WORDS.length]!);
  return out.join(" ");
}

function caseText(prefix: string, i: number): string {
  return `${prefix}\n\nCase ${i}: ${WORDS[i % WORDS.length]} ${WORDS[(i * 5 + 3) % WORDS.length]} ${WORDS[(i * 11 + 1) % WORDS.length]}?`;
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

interface Cost {
  wallMs: number;
  cpuMs: number;
  tokens: number;
}
const cpuTps = (c: Cost) => (c.tokens * 1000) / c.cpuMs;
/** Median over i of rate(ours[i]) / rate(base[i]): runs measured back to back share the load. */
const pairedRatio = (ours: Cost[], base: Cost[], rate: (c: Cost) => number) => median(ours.map((o, i) => rate(o) / rate(base[i]!)));
const wallTps = (c: Cost) => (c.tokens * 1000) / c.wallMs;

main("engine", async () => {
  if (!NAMES.some((n) => selected(n))) return;
  const modelPath = benchModel();
  const sizeMb = fs.statSync(modelPath).size / 1048576;
  const nlc = (await import("node-llama-cpp")) as typeof NLC;
  const llama = await nlc.getLlama({ gpu: "auto", build: "never", logLevel: nlc.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath });
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "driftlens-bench-cache-"));
  const spec = { variant: "bench/q8_0", modelPath, adapters: [] };
  const settings: EngineSettings = { gpu: "auto", threads: "auto", contextSize: CONTEXT, parallelSequences: 8, memoryBudgetBytes: 8 * 1024 ** 3 };

  // Auto threads, measured fresh (empty cache dir) by the engine on this model.
  const client = await EngineClient.start(settings, { env: { DRIFTLENS_CACHE_DIR: cacheDir } });
  const t0 = performance.now();
  await client.generate({ id: "warm", model: spec, messages: [{ role: "user", text: "warm up" }], params: { temperature: 0, maxTokens: 2, stop: [], seed: 1 }, topLogprobs: 5 });
  const firstUseMs = performance.now() - t0;
  const info = await client.info();
  const threads = info.threads;
  const base = `model ${sizeMb.toFixed(0)} MB Q8_0, backend ${info.backend}, threads ${threads} (${info.threadsSource})`;

  try {
    if (selected("engine.threads_auto_vs_best_ratio")) {
      const per: Record<number, number> = {};
      for (let t = 1; t <= os.availableParallelism(); t++) per[t] = await measureThroughput(model, t, 32);
      const best = Math.max(...Object.values(per));
      const auto = per[threads]!;
      report(
        "engine.threads_auto_vs_best_ratio",
        auto / best,
        "ratio",
        0.9,
        "higher",
        `${base}; tokens/s by threads ${JSON.stringify(Object.fromEntries(Object.entries(per).map(([k, v]) => [k, Math.round(v)])))}; first use incl. measurement ${Math.round(firstUseMs)} ms`,
      );
    }

    // Every side is measured in wall time and in CPU time (user + system of every process doing
    // the work: for ours the worker plus this process, which handles the IPC). The build machines
    // are shared, so wall time swings with other jobs; CPU time is the work each side does, which
    // is what orchestration overhead is about. Ratios use CPU time; notes give wall time too.
    const procCpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const workerCpu = async () => (await client.info()).cpuMs ?? NaN;
    const measureOurs = async (fn: () => Promise<number>): Promise<Cost> => {
      const w0 = await workerCpu();
      const p0 = procCpu();
      const t0 = performance.now();
      const tokens = await fn();
      const wallMs = performance.now() - t0;
      const p1 = procCpu();
      const w1 = await workerCpu();
      return { wallMs, cpuMs: w1 - w0 + (p1 - p0), tokens };
    };
    const measureBare = async (fn: () => Promise<number>): Promise<Cost> => {
      const p0 = procCpu();
      const t0 = performance.now();
      const tokens = await fn();
      return { wallMs: performance.now() - t0, cpuMs: procCpu() - p0, tokens };
    };
    const reset = (i: number) =>
      client.generate({ id: "x", model: spec, messages: [{ role: "user", text: `unrelated ${i}` }], params: { temperature: 0, maxTokens: 1, stop: [], seed: 1 }, topLogprobs: 0 });

    if (selected("engine.overhead_ratio")) {
      const prompt = "Once upon a time there was a number of people who would write about the water";
      const N = 64;
      const bare = async (): Promise<Cost> => {
        const ctx = await model.createContext({ contextSize: CONTEXT, sequences: 1, threads });
        try {
          const seq = ctx.getSequence();
          const toks = [model.tokens.bos!, ...model.tokenize(prompt)];
          return await measureBare(async () => {
            let n = 0;
            for await (const _t of seq.evaluate(toks, { temperature: 0 })) if (++n >= N) break;
            return n;
          });
        } finally {
          await ctx.dispose();
        }
      };
      const ours = (k: number) =>
        measureOurs(async () => {
          const r = await client.generate({ id: "o", model: spec, messages: [{ role: "user", text: prompt }], params: { temperature: 0, maxTokens: N, stop: [], seed: 1 }, topLogprobs: k });
          return r.tokens.length;
        });
      const bareRuns: Cost[] = [];
      const ourK0: Cost[] = [];
      const ourK5: Cost[] = [];
      for (let i = 0; i < 9; i++) {
        bareRuns.push(await bare());
        // Our sequence would reuse the prompt from the last run: start each run from another one.
        await reset(i);
        ourK0.push(await ours(0));
        await reset(i);
        ourK5.push(await ours(5));
      }
      // Same work on both sides: greedy tokens, no probabilities. Recording top-5 alternatives
      // costs a full-vocabulary sort per token inside node-llama-cpp; its ratio is in the notes.
      // Paired estimate: each of our runs against the bare run just before it (same load), median.
      const b = median(bareRuns.map(cpuTps));
      report(
        "engine.overhead_ratio",
        pairedRatio(ourK0, bareRuns, cpuTps),
        "ratio",
        0.95,
        "higher",
        `${base}; ${N} greedy tokens, 9 interleaved pairs, median of paired CPU-time ratios; ours through the worker (IPC included) ${median(ourK0.map(cpuTps)).toFixed(1)} tok/CPU-s vs bare sequence.evaluate ${b.toFixed(1)} (medians); by wall time ${median(ourK0.map(wallTps)).toFixed(1)} vs ${median(bareRuns.map(wallTps)).toFixed(1)} tok/s (paired wall ratio ${pairedRatio(ourK0, bareRuns, wallTps).toFixed(3)}); with top-5 probabilities per token ours is ${median(ourK5.map(cpuTps)).toFixed(1)} tok/CPU-s (paired ratio ${pairedRatio(ourK5, bareRuns, cpuTps).toFixed(3)})`,
      );
    }

    if (selected("eval.throughput_vs_naive_ratio") || selected("eval.throughput_vs_reuse_ratio")) {
      const prefix = prefixText(200);
      const prefixTokens = model.tokenize(prefix).length;
      const texts = Array.from({ length: CASES }, (_, i) => caseText(prefix, i));
      const reqsK = (k: number): GenerateRequest[] =>
        texts.map((text, i) => ({
          id: `case-${i}`,
          model: spec,
          messages: [{ role: "user", text }],
          params: { temperature: 0, maxTokens: MAX_TOKENS, stop: [], seed: i },
          topLogprobs: k,
        }));

      const ourRun = async (k = 0) => {
        const reqs = reqsK(k);
        // Start from a sequence holding something else, so the prefix is evaluated in the run.
        await reset(-1);
        return measureOurs(async () => {
          const results: GenerateResult[] = [];
          await client.generateMany(reqs, (r) => {
            if ("failure" in r) throw new Error(r.failure.message);
            results.push(r);
          });
          return sum(results.map((r) => r.tokens.length));
        });
      };

      const naiveRun = () =>
        measureBare(async () => {
          let tokens = 0;
          for (const text of texts) {
            const ctx = await model.createContext({ contextSize: CONTEXT, sequences: 1, threads });
            try {
              const completion = new nlc.LlamaCompletion({ contextSequence: ctx.getSequence() });
              const out = await completion.generateCompletionWithMeta(text, { maxTokens: MAX_TOKENS, temperature: 0 });
              tokens += out.metadata.stopReason === "maxTokens" ? MAX_TOKENS : model.tokenize(out.response).length;
            } finally {
              await ctx.dispose();
            }
          }
          return tokens;
        });

      const reuseRun = async () => {
        const ctx = await model.createContext({ contextSize: CONTEXT, sequences: 1, threads });
        try {
          const completion = new nlc.LlamaCompletion({ contextSequence: ctx.getSequence() });
          return await measureBare(async () => {
            let tokens = 0;
            for (const text of texts) {
              const out = await completion.generateCompletionWithMeta(text, { maxTokens: MAX_TOKENS, temperature: 0 });
              tokens += out.metadata.stopReason === "maxTokens" ? MAX_TOKENS : model.tokenize(out.response).length;
            }
            return tokens;
          });
        } finally {
          await ctx.dispose();
        }
      };

      // Interleaved; best of 3 for ours and the reuse loop (CPU time also swings with contention
      // from other jobs), one naive run (several times slower, so noise matters less there).
      const wantNaive = selected("eval.throughput_vs_naive_ratio");
      const wantReuse = selected("eval.throughput_vs_reuse_ratio");
      const oursRuns: Cost[] = [];
      const reuseRuns: Cost[] = [];
      let naive: Cost | undefined;
      for (let i = 0; i < 3; i++) {
        oursRuns.push(await ourRun());
        if (wantNaive && i === 0) naive = await naiveRun();
        if (wantReuse) reuseRuns.push(await reuseRun());
      }
      const withTop5 = await ourRun(5);
      const cheapest = (cs: Cost[]) => cs.reduce((a, b) => (a.cpuMs <= b.cpuMs ? a : b));
      const ours = cheapest(oursRuns);
      const reuse = reuseRuns.length ? cheapest(reuseRuns) : undefined;
      const fmt = (c: Cost) => `${Math.round(c.cpuMs)} CPU-ms / ${Math.round(c.wallMs)} wall-ms (${cpuTps(c).toFixed(1)} tok/CPU-s)`;
      const common = `${base}; ${CASES} greedy cases, ${prefixTokens}-token shared prefix, ${MAX_TOKENS} tokens each, ratios by CPU time (wall time in brackets); ours best of 3: ${fmt(ours)}, ${fmt(withTop5)} when recording top-5 probabilities per token; ${info.sequences} sequence(s) per context, cases sorted by prompt tokens, sequence kept and only the differing suffix evaluated`;
      if (naive) {
        report(
          "eval.throughput_vs_naive_ratio",
          cpuTps(ours) / cpuTps(naive),
          "ratio",
          3,
          "higher",
          `${common}; naive (fresh context + LlamaCompletion per case): ${fmt(naive)} [wall ratio ${(wallTps(ours) / wallTps(naive)).toFixed(2)}]`,
        );
      }
      if (reuse) {
        // Paired: each of our runs against the reuse run right after it (same load), median of 3.
        report(
          "eval.throughput_vs_reuse_ratio",
          pairedRatio(oursRuns, reuseRuns, cpuTps),
          "ratio",
          0.95,
          "higher",
          `${common}; reuse loop (one sequence + LlamaCompletion reused, prefix evaluated once), best of 3: ${fmt(reuse)}; ratio = median of 3 paired CPU-time ratios (best-vs-best ${(cpuTps(ours) / cpuTps(reuse)).toFixed(3)}, paired wall ${pairedRatio(oursRuns, reuseRuns, wallTps).toFixed(3)})`,
        );
      }
    }
  } finally {
    await client.dispose();
    await model.dispose();
    await llama.dispose();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

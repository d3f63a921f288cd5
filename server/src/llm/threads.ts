// Thread count for llama.cpp. Its default is catastrophic on 2-vCPU machines (measured: 10.5 s for
// 64 tokens of a 1.7 MB model with the default, 0.038 s with 1 thread, 270x), so the engine always
// passes a number: the setting, or for "auto" the fastest of
// 1..cores measured on the model being loaded (a few generated tokens per count). The measurement
// is cached per machine in the user's cache dir, keyed by CPU model, core count, backend and the
// model's size class (a 2 MB model and a 2 GB model do not want the same count).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type * as NLC from "node-llama-cpp" with { "resolution-mode": "import" };

export interface ThreadsChoice {
  threads: number;
  source: "auto-measured" | "auto-cached" | "setting";
  /** Tokens/s per thread count, when measured now. */
  measured?: Record<string, number>;
}

export function cacheDirDefault(): string {
  if (process.env.DRIFTLENS_CACHE_DIR) return process.env.DRIFTLENS_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "driftlens");
}

export function cores(): number {
  return Math.max(1, typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length);
}

/** Size class of a model: powers of 4 MB (…, 4, 16, 64, 256 MB, 1 GB, …). */
export function sizeClass(bytes: number): string {
  const mbs = Math.max(1, bytes / 1048576);
  return `${Math.pow(4, Math.ceil(Math.log(mbs) / Math.log(4)))}MB`;
}

export function threadsCacheKey(backend: string, modelBytes: number): string {
  const cpu = (os.cpus()[0]?.model ?? "unknown-cpu").trim();
  return `${cpu}|${cores()}|${backend}|${sizeClass(modelBytes)}`;
}

function cacheFile(dir: string): string {
  return path.join(dir, "engine-threads.json");
}

interface CacheEntry {
  threads: number;
  measured?: Record<string, number>;
  at?: string;
  /** Set while a measurement is under way: the counts measured so far (a killed run keeps them). */
  partial?: boolean;
}

function readCache(dir: string): Record<string, CacheEntry> {
  try {
    return JSON.parse(fs.readFileSync(cacheFile(dir), "utf8"));
  } catch {
    return {};
  }
}

function writeCache(dir: string, key: string, value: { threads: number; measured?: Record<string, number>; partial?: boolean }): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const all = readCache(dir);
    all[key] = { ...value, at: new Date().toISOString() };
    const tmp = `${cacheFile(dir)}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(all, null, 2));
    fs.renameSync(tmp, cacheFile(dir));
  } catch {
    // A read-only cache dir only costs a re-measurement next time.
  }
}

/**
 * Generation throughput (tokens/s) of `model` at `threads`, best of two short runs after a warm-up.
 * A run slower than `budgetMs` stops early (oversubscribed thread counts can be 100x slower and
 * need not be measured precisely to lose).
 */
export async function measureThroughput(model: NLC.LlamaModel, threads: number, tokens = 16, budgetMs = Infinity): Promise<number> {
  const context = await model.createContext({ contextSize: 256, sequences: 1, threads });
  try {
    const seq = context.getSequence();
    const prompt = model.tokenize("The quick brown fox jumps over the lazy dog. Once upon a time, in a land far away,");
    let best = 0;
    for (let rep = 0; rep < 3; rep++) {
      await seq.clearHistory();
      let n = 0;
      let start = 0;
      for await (const _t of seq.evaluate(prompt, { temperature: 0 })) {
        // The first token includes the prompt; time the generated tokens after it.
        if (n === 0) start = performance.now();
        if (++n > tokens || (n > 1 && performance.now() - start > budgetMs)) break;
      }
      const ms = performance.now() - start;
      if (ms > budgetMs) return ((n - 1) * 1000) / ms;
      if (rep > 0) best = Math.max(best, (tokens * 1000) / Math.max(ms, 1e-3)); // rep 0 warms up
    }
    return best;
  } finally {
    await context.dispose();
  }
}

/** 1, 2, 4, … and the core count: enough to find the knee without measuring every count. */
export function threadCandidates(n: number): number[] {
  const out: number[] = [];
  for (let t = 1; t < n; t *= 2) out.push(t);
  out.push(n);
  return out;
}

/** The thread count without measuring: the setting, or for "auto" the cached measurement (else undefined). */
export function knownThreads(o: { setting: "auto" | number; modelBytes: number; backend: string; cacheDir?: string }): ThreadsChoice | undefined {
  const n = cores();
  if (o.setting !== "auto") return { threads: Math.max(1, Math.min(o.setting, n)), source: "setting" };
  const hit = readCache(o.cacheDir ?? cacheDirDefault())[threadsCacheKey(o.backend, o.modelBytes)];
  if (hit && !hit.partial && Number.isInteger(hit.threads) && hit.threads >= 1 && hit.threads <= n) return { threads: hit.threads, source: "auto-cached" };
  return undefined;
}

export async function resolveThreads(o: {
  setting: "auto" | number;
  model: NLC.LlamaModel;
  modelBytes: number;
  backend: string;
  cacheDir?: string;
  log?: (line: string) => void;
}): Promise<ThreadsChoice> {
  const n = cores();
  const known = knownThreads(o);
  if (known) return known;
  const dir = o.cacheDir ?? cacheDirDefault();
  const key = threadsCacheKey(o.backend, o.modelBytes);
  const hit = readCache(dir)[key];
  // Counts measured by a run that was killed part-way are kept and not measured again.
  const measured: Record<string, number> = hit?.partial && hit.measured ? { ...hit.measured } : {};
  let best = 1;
  for (const t of threadCandidates(n)) {
    let tps = measured[String(t)];
    if (tps === undefined) {
      const bestTps = measured[String(best)];
      tps = await measureThroughput(o.model, t, 16, bestTps ? (3 * 16 * 1000) / bestTps : Infinity);
      measured[String(t)] = Math.round(tps * 10) / 10;
      writeCache(dir, key, { threads: best, measured, partial: true });
    }
    // Prefer fewer threads unless more are clearly faster (≥ 5%): leaves cores for the rest.
    if (tps > (measured[String(best)] ?? 0) * 1.05) best = t;
  }
  o.log?.(`threads auto: measured ${JSON.stringify(measured)} tokens/s → ${best} (cached as ${key})`);
  writeCache(dir, key, { threads: best, measured });
  return { threads: best, source: "auto-measured", measured };
}

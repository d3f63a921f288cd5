// Corpus divergence on the bulk_logits addon: the same run (llm/divergence-run.ts: the same
// chunks, groups, batches and statistics) with the logits of a whole group of positions copied out
// of llama.cpp in one call, instead of node-llama-cpp's one asynchronous call, sorted vocabulary,
// array and Map per position. It also needs neither node-llama-cpp's import nor its `getLlama`
// (which tests its prebuilt binary in a child process on Linux), so a `driftlens kld` starts in
// tens of milliseconds. Same llama.cpp library and CPU kernels as the engine (node-llama-cpp's
// prebuilt CPU binaries), same context shape.
//
// Used by the engine worker for corpus chunks (token sequences, no adapters) when llama.cpp would
// run on the CPU anyway and the thread count is known without measuring; everything else keeps to
// node-llama-cpp (`bulkEligible` says why). DRIFTLENS_BULK_LOGITS=0 turns it off.
import fs from "node:fs";
import { runDivergence, type DivergenceHost, type EvalItem, type HeldModel } from "../divergence-run";
import { EngineError } from "../errors";
import { checkGgufMagic, checkModelFile, contextError, modelLoadError, withLlamaReason } from "../model-file";
import { cores, knownThreads } from "../threads";
import type { CorpusTokens, DivergenceRequest, DivergenceResult, EngineSettings, ModelSpec } from "../types";
import type { BulkLogits, NativeContext, NativeModel } from "./bulk-logits";

/** Device files of GPUs node-llama-cpp's "auto" could pick (CUDA, ROCm, Vulkan/DRM). */
const GPU_DEVICES = ["/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dri"];

/**
 * Whether a request can run on the addon: true, or the reason it cannot (for the log).
 * `backend` is the engine's backend when node-llama-cpp has already started in this process.
 */
export function bulkEligible(settings: EngineSettings, req: DivergenceRequest | null, o: { backend?: string; cacheDir?: string } = {}): true | string {
  if (process.env.DRIFTLENS_BULK_LOGITS === "0") return "DRIFTLENS_BULK_LOGITS=0";
  if (o.backend ? o.backend !== "cpu" : settings.gpu === "auto" ? GPU_DEVICES.some((d) => fs.existsSync(d)) : settings.gpu !== "cpu") {
    return "llama.cpp may run on a GPU here (the addon runs on the CPU only)";
  }
  if (!req) return true;
  if (req.sequences.some((s) => !s.tokens)) return "eval cases need the chat template (node-llama-cpp)";
  const specs = [req.reference, ...req.candidates];
  if (specs.some((s) => s.adapters.length)) return "LoRA adapters";
  for (const s of specs) {
    let bytes: number;
    try {
      bytes = fs.statSync(s.modelPath).size;
    } catch {
      continue; // the run reports the missing file
    }
    if (!knownThreads({ setting: settings.threads, modelBytes: bytes, backend: "cpu", cacheDir: o.cacheDir })) {
      return `engine.threads is "auto" and not measured yet for ${s.modelPath} (node-llama-cpp measures it)`;
    }
  }
  return true;
}

interface LoadedModel {
  model: NativeModel;
  vocab: number;
  bos: number;
  addBos: boolean;
  threads: number;
}

interface HeldContext {
  ctx: NativeContext;
  /** The tokens each sequence holds. */
  tokens: number[][];
  vocab: number;
  inUse: boolean;
  /** Its output rows, reused (grown as needed): the reference and the candidates decode at the same time. */
  out: Float32Array;
}

export class BulkDivergence implements DivergenceHost {
  /**
   * Eight groups per sequence (node-llama-cpp's host: four): a call here costs little, and more,
   * smaller groups shorten the ends of the pipeline where one model waits for the other (stories260K,
   * ctx 128, 1 thread: 2.35-2.48 s a run with eight, 2.67-2.82 s with four, same figures).
   */
  readonly groups = 8;
  private readonly models = new Map<string, LoadedModel>();
  private readonly contexts = new Map<string, HeldContext>();

  constructor(
    private readonly lib: BulkLogits,
    private readonly settings: EngineSettings,
    private readonly opts: { cacheDir?: string; log?: (line: string) => void } = {},
  ) {}

  /** A corpus tokenized as llama-perplexity does (see Engine.corpusTokens): no special tokens added or parsed. */
  corpusTokens(modelPath: string, text: string): CorpusTokens {
    const held = this.models.get(modelPath);
    let model = held?.model;
    if (!model) {
      if (!fs.existsSync(modelPath)) {
        throw new EngineError({ kind: "model-missing", message: `Model file not found: ${modelPath}. Check the path in driftlens.yaml.`, file: modelPath });
      }
      checkGgufMagic(modelPath, modelPath, "model");
      try {
        model = this.lib.addon.loadModel(modelPath, true);
      } catch (err) {
        throw new EngineError({ kind: "model-corrupt", message: `Cannot read the vocabulary of ${modelPath}: ${this.reason(err)}.`, file: modelPath });
      }
    }
    try {
      const info = this.lib.addon.modelInfo(model);
      const tokens = this.lib.addon.tokenize(model, text);
      return { tokens: Array.from(tokens), addBos: info.addBos, bos: info.bos >= 0 ? info.bos : null, vocab: info.vocab };
    } finally {
      if (!held) this.lib.addon.freeModel(model);
    }
  }

  async divergence(req: DivergenceRequest, signal?: AbortSignal): Promise<DivergenceResult> {
    // Models and contexts of earlier requests that this one does not use go first (a corpus run is
    // many requests of the same shape; a ladder moves from one variant to the next).
    const paths = new Set([req.reference, ...req.candidates].map((s) => s.modelPath));
    for (const [key, c] of this.contexts) {
      if (!paths.has(key.slice(0, key.lastIndexOf("@")))) {
        this.lib.addon.freeContext(c.ctx);
        this.contexts.delete(key);
      }
    }
    for (const [file, m] of this.models) {
      if (!paths.has(file)) {
        this.lib.addon.freeModel(m.model);
        this.models.delete(file);
      }
    }
    return runDivergence(this, req, signal);
  }

  dispose(): void {
    for (const c of this.contexts.values()) this.lib.addon.freeContext(c.ctx);
    for (const m of this.models.values()) this.lib.addon.freeModel(m.model);
    this.contexts.clear();
    this.models.clear();
  }

  private reason(err: unknown): string {
    return withLlamaReason(err, this.lib.addon.lastLog().split("\n"));
  }

  private load(spec: ModelSpec): LoadedModel {
    const have = this.models.get(spec.modelPath);
    if (have) return have;
    const size = checkModelFile(spec, this.settings.memoryBudgetBytes);
    let model: NativeModel;
    try {
      model = this.lib.addon.loadModel(spec.modelPath, false);
    } catch (err) {
      throw modelLoadError(spec, this.reason(err));
    }
    const threads = knownThreads({ setting: this.settings.threads, modelBytes: size, backend: "cpu", cacheDir: this.opts.cacheDir })?.threads ?? Math.min(4, cores());
    const info = this.lib.addon.modelInfo(model);
    const m: LoadedModel = { model, ...info, threads };
    this.models.set(spec.modelPath, m);
    this.opts.log?.(`bulk logits: loaded ${spec.modelPath} for ${spec.variant}; threads ${threads}`);
    return m;
  }

  async hold(spec: ModelSpec, contextSize: number, count: number, copy: number): Promise<HeldModel> {
    if (spec.adapters.length) throw new EngineError({ kind: "other", message: `bulk logits take no LoRA adapters (variant ${spec.variant})`, variant: spec.variant });
    const m = this.load(spec);
    const key = `${spec.modelPath}@${contextSize}x${count}#${copy}`;
    let c = this.contexts.get(key);
    if (!c) {
      let ctx: NativeContext;
      try {
        ctx = this.lib.addon.newContext(m.model, { contextSize, sequences: count, batchSize: contextSize * count, threads: m.threads });
      } catch (err) {
        throw contextError(spec, spec.modelPath, this.reason(err), "--ctx");
      }
      c = { ctx, tokens: Array.from({ length: count }, () => []), vocab: m.vocab, inUse: false, out: new Float32Array(0) };
      this.contexts.set(key, c);
    }
    if (c.inUse) throw new EngineError({ kind: "other", message: `bulk logits: the context ${key} is already in use (protocol error)` });
    c.inUse = true;
    const held = c;
    return {
      vocab: m.vocab,
      prompt: () => {
        throw new EngineError({ kind: "other", message: "bulk logits score token sequences only (eval cases go through node-llama-cpp)" });
      },
      release: () => {
        held.inUse = false;
      },
      setPrefixes: (prefixes) => this.setPrefixes(held, spec, prefixes),
      evaluate: (items, onLogits) => this.evaluate(held, spec, items, onLogits),
    };
  }

  private async setPrefixes(c: HeldContext, spec: ModelSpec, prefixes: readonly (readonly number[])[]): Promise<void> {
    const items: EvalItem[] = [];
    prefixes.forEach((prefix, i) => {
      const have = c.tokens[i]!;
      let keep = 0;
      while (keep < have.length && keep < prefix.length && have[keep] === prefix[keep]) keep++;
      if (keep < have.length) {
        this.lib.addon.removeTokens(c.ctx, i, keep);
        have.length = keep;
      }
      if (keep < prefix.length) items.push({ seq: i, tokens: prefix.slice(keep) });
    });
    if (items.length) await this.decode(c, spec, items, false);
  }

  private async evaluate(c: HeldContext, spec: ModelSpec, items: readonly EvalItem[], onLogits: (item: number, j: number, logits: ArrayLike<number>) => void): Promise<void> {
    const out = await this.decode(c, spec, items, true);
    const V = c.vocab;
    let row = 0;
    items.forEach((it, x) => {
      for (let j = 0; j < it.tokens.length; j++, row++) onLogits(x, j, out.subarray(row * V, (row + 1) * V));
    });
  }

  /** One batch: every item's tokens after what its sequence holds; the logits of each token when `logits`. */
  private async decode(c: HeldContext, spec: ModelSpec, items: readonly EvalItem[], logits: boolean): Promise<Float32Array> {
    const n = items.reduce((s, it) => s + it.tokens.length, 0);
    const seq = new Int32Array(n);
    const pos = new Int32Array(n);
    const tok = new Int32Array(n);
    const want = new Uint8Array(n).fill(logits ? 1 : 0);
    let e = 0;
    for (const it of items) {
      const base = c.tokens[it.seq]!.length;
      for (let j = 0; j < it.tokens.length; j++, e++) {
        seq[e] = it.seq;
        pos[e] = base + j;
        tok[e] = it.tokens[j]!;
      }
    }
    const need = logits ? n * c.vocab : 0;
    if (c.out.length < need) c.out = new Float32Array(need);
    const out = c.out;
    try {
      await this.lib.addon.decode(c.ctx, seq, pos, tok, want, out);
    } catch (err) {
      // What the sequences hold is unknown after a failed batch: start them over next time.
      c.tokens.forEach((t, i) => {
        this.lib.addon.removeTokens(c.ctx, i, 0);
        t.length = 0;
      });
      throw new EngineError({ kind: "other", message: `llama.cpp failed to evaluate a batch for variant ${spec.variant} (${spec.modelPath}): ${this.reason(err)}`, variant: spec.variant, file: spec.modelPath });
    }
    for (const it of items) c.tokens[it.seq]!.push(...it.tokens);
    return out;
  }
}

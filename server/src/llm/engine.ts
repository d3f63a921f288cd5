// The in-process engine: the only module that imports node-llama-cpp (ESM-only, so `await import`).
// It runs inside the supervised worker (worker.ts); callers use EngineClient (client.ts).
//
// What it does and why:
// - one model load per GGUF file, shared by every variant and adapter set; one context per adapter
//   set (LoRA is applied per context in llama.cpp), an LRU memory budget over loaded models;
// - threads are never llama.cpp's default (270x slower on 2-vCPU machines): a number
//   from settings, or measured on first use and cached per machine (threads.ts);
// - sequences are kept between requests and each new prompt only evaluates the part that differs
//   from what the sequence already holds (measured 5x on 12 cases sharing an 870-token prefix); batches are ordered so
//   shared prefixes meet;
// - parallel sequences in one context on GPU (the batching lever); one on CPU, where parallel
//   decoding was slower than sequential (one core is already compute-bound);
// - generation drives `controlledEvaluate` one token at a time, which returns the top-k logits and
//   the softmax normaliser for the position: top-k probabilities at a few percent of the cost of
//   the full 32k-entry probability map.
import fs from "node:fs";
import os from "node:os";
import type * as NLC from "node-llama-cpp" with { "resolution-mode": "import" };
import { runDivergence, type HeldModel } from "./divergence-run";
import { nlcHeldModel } from "./divergence-nlc";
import { completionText } from "./completion-text";
import { checkGgufMagic, checkModelFile, contextError, mb, modelLoadError, withLlamaReason } from "./model-file";
import { EngineError, toFailure } from "./errors";
import { resolveThreads, type ThreadsChoice } from "./threads";
import { Utf8Guard } from "./utf8-guard";
import type {
  ChatMessage,
  CorpusTokens,
  DivergenceRequest,
  DivergenceResult,
  EngineFailure,
  EngineInfo,
  EngineSettings,
  GeneratedToken,
  GenerateRequest,
  GenerateResult,
  ModelSpec,
  ScoredPosition,
  ScoreRequest,
  ScoreResult,
  TokenAlternative,
} from "./types";

type Nlc = typeof NLC;

/**
 * Hears what the engine starts next (see the worker protocol's `phase` message). The engine awaits
 * it before starting: the worker's listener resolves once the message is written, so the parent
 * knows what a main thread that then blocks (a looping chat template) was doing.
 */
export type PhaseListener = (phase: "load" | "prepare" | "template" | "case", id?: string) => void | Promise<void>;
type Token = NLC.Token;

export const ENGINE_API_VERSION = "driftlens-engine/1";

export interface EngineOptions {
  log?: (line: string) => void;
  /** Directory for the per-machine threads cache (default: the user's cache dir). */
  cacheDir?: string;
}

interface SeqSlot {
  seq: NLC.LlamaContextSequence;
  busy: boolean;
}

interface ContextEntry {
  key: string;
  context: NLC.LlamaContext;
  slots: SeqSlot[];
  waiters: (() => void)[];
  template: PromptTemplate;
}

interface ModelEntry {
  path: string;
  variant: string;
  model: NLC.LlamaModel;
  bytes: number;
  lastUsed: number;
  inUse: number;
  threads: ThreadsChoice;
  contexts: Map<string, Promise<ContextEntry>>;
  /** Embedding context (for `similar`), created on the first embed request for this model. */
  embedding?: Promise<NLC.LlamaEmbeddingContext>;
}

interface PromptTemplate {
  kind: "chat" | "completion";
  wrapper?: NLC.ChatWrapper;
  /** Text triggers that end generation in chat mode (e.g. "<|im_end|>" typed as text). */
  stopTexts: string[];
}

/** The engine; create with Engine.create, then call from one process only. */
export class Engine {
  private nlc!: Nlc;
  private llama!: NLC.Llama;
  private readonly models = new Map<string, Promise<ModelEntry>>();
  private readonly loaded = new Map<string, ModelEntry>();
  private readonly vocab = new Map<string, Promise<NLC.LlamaModel>>();
  /** Parsed grammars by GBNF text (a prompt's cases share one), least recently used dropped. */
  private readonly grammars = new Map<string, Promise<NLC.LlamaGrammar>>();
  private lastThreads: ThreadsChoice | undefined;
  /** The last llama.cpp error lines: node-llama-cpp's own errors are generic ("Failed to load model"). */
  private nativeErrors: string[] = [];
  private clock = 0;

  private constructor(
    readonly settings: EngineSettings,
    private readonly opts: EngineOptions,
  ) {}

  static async create(settings: EngineSettings, opts: EngineOptions = {}): Promise<Engine> {
    const e = new Engine(settings, opts);
    e.nlc = (await import("node-llama-cpp")) as Nlc;
    const gpu = settings.gpu === "cpu" ? false : settings.gpu;
    try {
      e.llama = await e.nlc.getLlama({
        gpu,
        build: "never",
        logLevel: e.nlc.LlamaLogLevel.error,
        logger: (level, message) => {
          const m = message.trim();
          if (!m) return;
          e.log(`llama.cpp ${level}: ${m}`);
          e.nativeErrors = [...e.nativeErrors.slice(-3), m];
        },
      });
    } catch (err) {
      const msg = firstLine(err);
      const why = /NoBinaryFound/i.test(`${(err as Error)?.name} ${msg}`)
        ? `no prebuilt llama.cpp for ${settings.gpu} works on this machine (no such GPU or driver, or node-llama-cpp's ${settings.gpu} package is missing)`
        : msg;
      throw new EngineError({
        kind: "other",
        message: `Cannot start llama.cpp with engine.gpu "${settings.gpu}": ${why}. Set engine.gpu to "auto" or "cpu" in driftlens.yaml.`,
      });
    }
    // node-llama-cpp falls back to the CPU for some forced backends (e.g. metal off macOS): a forced
    // backend must be the one in use, or the user's setting silently means nothing.
    if (settings.gpu !== "auto" && e.backend !== settings.gpu) {
      await e.llama.dispose().catch(() => {});
      throw new EngineError({
        kind: "other",
        message: `engine.gpu is "${settings.gpu}" but llama.cpp started on ${e.backend} (no ${settings.gpu} support on this machine). Set engine.gpu to "auto" or "${e.backend}" in driftlens.yaml.`,
      });
    }
    return e;
  }

  get backend(): EngineInfo["backend"] {
    const g = this.llama.gpu;
    return g === false ? "cpu" : g;
  }

  /** Sequences per context: the setting on GPU, 1 on CPU (parallel decoding was slower there). */
  get sequences(): number {
    return this.backend === "cpu" ? 1 : Math.max(1, this.settings.parallelSequences);
  }

  get engineVersion(): string {
    return `${ENGINE_API_VERSION} node-llama-cpp/${VERSION_CACHE.v ?? "?"}`;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  async info(): Promise<EngineInfo> {
    if (!VERSION_CACHE.v) VERSION_CACHE.v = await this.nlc.getModuleVersion().catch(() => "unknown");
    const threads = this.settings.threads === "auto" ? this.lastThreads : { threads: this.settings.threads, source: "setting" as const };
    return {
      backend: this.backend,
      threads: threads?.threads ?? 0,
      threadsSource: threads?.source ?? "auto-pending",
      engineVersion: this.engineVersion,
      llamaVersion: VERSION_CACHE.v,
      loadedModels: [...this.loaded.values()].map((m) => ({ variant: m.variant, modelPath: m.path, bytes: m.bytes, threads: m.threads.threads })),
      sequences: this.sequences,
      sequencesReason:
        this.backend === "cpu"
          ? "CPU backend: one sequence (parallel sequences gave no gain and cost throughput on CPU)"
          : `GPU backend (${this.backend}): engine.parallelSequences = ${this.settings.parallelSequences}`,
      cpuMs: cpuMs(),
    };
  }

  // ---------------------------------------------------------------- models, contexts, sequences

  private async loadModel(spec: ModelSpec): Promise<ModelEntry> {
    const key = spec.modelPath;
    let p = this.models.get(key);
    if (!p) {
      p = this.doLoadModel(spec);
      this.models.set(key, p);
      p.catch(() => this.models.delete(key));
    }
    const m = await p;
    m.lastUsed = ++this.clock;
    return m;
  }

  private async doLoadModel(spec: ModelSpec): Promise<ModelEntry> {
    const file = spec.modelPath;
    const size = checkModelFile(spec, this.settings.memoryBudgetBytes);
    await this.evictFor(size);
    let model: NLC.LlamaModel;
    this.nativeErrors = [];
    try {
      model = await this.llama.loadModel({ modelPath: file });
    } catch (err) {
      await logsFlushed();
      throw modelLoadError(spec, this.reason(err));
    }
    let threads: ThreadsChoice;
    try {
      threads = await resolveThreads({
        setting: this.settings.threads,
        model,
        modelBytes: size,
        backend: this.backend,
        cacheDir: this.opts.cacheDir,
        log: (l) => this.log(l),
      });
    } catch (err) {
      await model.dispose().catch(() => {});
      throw err;
    }
    this.lastThreads = threads;
    // Named by its base variant: adapter sets on top of it share this load.
    const entry: ModelEntry = { path: file, variant: spec.variant.split("+")[0]!, model, bytes: size, lastUsed: ++this.clock, inUse: 0, threads, contexts: new Map() };
    this.loaded.set(file, entry);
    this.log(`loaded ${file} (${mb(size)}) for ${spec.variant}; threads ${threads.threads} (${threads.source})`);
    return entry;
  }

  /** Unloads least-recently-used idle models until `incoming` more bytes fit in the budget. */
  private async evictFor(incoming: number): Promise<void> {
    const budget = this.settings.memoryBudgetBytes;
    if (budget <= 0) return;
    const used = () => [...this.loaded.values()].reduce((s, m) => s + m.bytes, 0);
    while (used() + incoming > budget) {
      const idle = [...this.loaded.values()].filter((m) => m.inUse === 0).sort((a, b) => a.lastUsed - b.lastUsed);
      const victim = idle[0];
      if (!victim) break; // everything is in use; llama.cpp reports a real shortage itself
      await this.unload(victim);
    }
  }

  private async unload(m: ModelEntry): Promise<void> {
    this.loaded.delete(m.path);
    this.models.delete(m.path);
    for (const c of m.contexts.values()) await c.then((e) => e.context.dispose()).catch(() => {});
    if (m.embedding) await m.embedding.then((e) => e.dispose()).catch(() => {});
    await m.model.dispose().catch(() => {});
    this.log(`unloaded ${m.path} (LRU)`);
  }

  private async getContext(m: ModelEntry, spec: ModelSpec): Promise<ContextEntry> {
    const key = adapterKey(spec);
    let p = m.contexts.get(key);
    if (!p) {
      p = this.createContext(m, spec, key);
      m.contexts.set(key, p);
      p.catch(() => m.contexts.delete(key));
    }
    return p;
  }

  private async createContext(m: ModelEntry, spec: ModelSpec, key: string, shape?: { contextSize: number; sequences: number }): Promise<ContextEntry> {
    // Divergence contexts decode whole chunks of all their sequences in one batch.
    const batch = shape ? { batchSize: shape.contextSize * shape.sequences } : {};
    for (const a of spec.adapters) {
      if (!fs.existsSync(a.path)) {
        throw new EngineError({
          kind: "model-missing",
          message: `LoRA adapter file not found for variant ${spec.variant}: ${a.path}. Check the adapter's file path.`,
          variant: spec.variant,
          file: a.path,
        });
      }
      checkGgufMagic(a.path, spec.variant, "adapter");
    }
    let context: NLC.LlamaContext;
    this.nativeErrors = [];
    try {
      context = await m.model.createContext({
        contextSize: shape?.contextSize ?? this.settings.contextSize,
        sequences: shape?.sequences ?? this.sequences,
        ...batch,
        threads: m.threads.threads,
        ...(spec.adapters.length ? { lora: { adapters: spec.adapters.map((a) => ({ filePath: a.path, scale: a.scale })) } } : {}),
      });
    } catch (err) {
      await logsFlushed();
      const msg = this.reason(err);
      if (spec.adapters.length) {
        throw new EngineError({
          kind: "adapter-mismatch",
          message: `Cannot apply the LoRA adapter(s) of variant ${spec.variant} (${spec.adapters.map((a) => a.path).join(", ")}) to ${m.path}: ${msg}. The adapter was probably trained for another base model or architecture.`,
          variant: spec.variant,
          file: spec.adapters[0]!.path,
        });
      }
      throw contextError(spec, m.path, msg, "engine.contextSize or engine.parallelSequences");
    }
    const slots: SeqSlot[] = [];
    for (let i = 0; i < (shape?.sequences ?? this.sequences); i++) slots.push({ seq: context.getSequence(), busy: false });
    return { key, context, slots, waiters: [], template: this.resolveTemplate(m.model) };
  }

  /** The thrown error plus llama.cpp's own explanation when it logged one (the useful part). */
  private reason(err: unknown): string {
    return withLlamaReason(err, this.nativeErrors);
  }

  private resolveTemplate(model: NLC.LlamaModel): PromptTemplate {
    const tmpl = (model.fileInfo.metadata as { tokenizer?: { chat_template?: string } }).tokenizer?.chat_template;
    if (!tmpl) return { kind: "completion", stopTexts: [] };
    try {
      const wrapper = this.nlc.resolveChatWrapper(model);
      // End-of-turn markers that are text (or special-token text the vocabulary may lack) stop
      // generation like stop strings; special tokens (EOS, EOT) end it as end-of-generation.
      const probe = wrapper.generateContextState({ chatHistory: [{ type: "user", text: "x" }, { type: "model", response: [] }] });
      const stopTexts: string[] = [];
      for (const trigger of probe.stopGenerationTriggers ?? []) {
        if (trigger.values.some((v) => v instanceof this.nlc.SpecialToken)) continue;
        const text = trigger.values.map((v) => String(v)).join("");
        if (text.trim() && !stopTexts.includes(text)) stopTexts.push(text);
      }
      this.log(`chat template of ${model.filename ?? "model"}: ${wrapper.wrapperName}; text stops ${JSON.stringify(stopTexts)}`);
      return { kind: "chat", wrapper, stopTexts };
    } catch (err) {
      this.log(`chat template of ${model.filename ?? "model"} not usable (${firstLine(err)}); using plain completion`);
      return { kind: "completion", stopTexts: [] };
    }
  }

  private async acquire(ctx: ContextEntry): Promise<SeqSlot> {
    for (;;) {
      const free = ctx.slots.find((s) => !s.busy);
      if (free) {
        free.busy = true;
        return free;
      }
      await new Promise<void>((r) => ctx.waiters.push(r));
    }
  }

  private release(ctx: ContextEntry, slot: SeqSlot): void {
    slot.busy = false;
    ctx.waiters.shift()?.();
  }

  /**
   * Loads (or reuses) the model and context of a spec and runs `fn` with them pinned. `onPhase`
   * hears when loading and context preparation start (the parent bounds each).
   */
  private async withContext<T>(spec: ModelSpec, fn: (m: ModelEntry, ctx: ContextEntry) => Promise<T>, onPhase?: PhaseListener): Promise<T> {
    await onPhase?.("load");
    const m = await this.loadModel(spec);
    m.inUse++;
    try {
      await onPhase?.("prepare");
      const ctx = await this.getContext(m, spec);
      return await fn(m, ctx);
    } finally {
      m.inUse--;
      m.lastUsed = ++this.clock;
    }
  }

  // ---------------------------------------------------------------- prompts

  private promptTokens(model: NLC.LlamaModel, tmpl: PromptTemplate, messages: ChatMessage[]): Token[] {
    if (tmpl.kind === "chat" && tmpl.wrapper) {
      const history: NLC.ChatHistoryItem[] = [];
      for (const m of messages) {
        if (m.role === "system") history.push({ type: "system", text: m.text });
        else if (m.role === "model") history.push({ type: "model", response: [m.text] });
        else history.push({ type: "user", text: m.text });
      }
      history.push({ type: "model", response: [] });
      const state = tmpl.wrapper.generateContextState({ chatHistory: history });
      return state.contextText.tokenize(model.tokenizer);
    }
    const text = completionText(messages);
    const toks = model.tokenize(text);
    const bos = model.tokens.bos;
    return bos != null && model.tokens.shouldPrependBosToken ? [bos, ...toks] : toks;
  }

  /** Makes the sequence hold a prefix of `tokens` and returns what is left to evaluate (≥ 1 token). */
  private async reuse(seq: NLC.LlamaContextSequence, tokens: Token[]): Promise<Token[]> {
    const { firstDifferentIndex } = seq.compareContextTokens(tokens);
    const keep = Math.min(firstDifferentIndex, tokens.length - 1);
    if (keep < seq.nextTokenIndex) {
      if (keep === 0) await seq.clearHistory();
      else await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    }
    return tokens.slice(seq.nextTokenIndex);
  }

  // ---------------------------------------------------------------- grammars

  /** The parsed grammar for a GBNF text (cached); a grammar llama.cpp rejects fails this request. */
  private async grammarFor(req: GenerateRequest): Promise<NLC.LlamaGrammar> {
    const text = req.structured!.grammar;
    let p = this.grammars.get(text);
    if (p) {
      this.grammars.delete(text);
      this.grammars.set(text, p);
    } else {
      this.nativeErrors = [];
      p = this.llama.createGrammar({ grammar: text });
      this.grammars.set(text, p);
      p.catch(() => this.grammars.delete(text));
      if (this.grammars.size > GRAMMAR_CACHE) this.grammars.delete(this.grammars.keys().next().value as string);
    }
    try {
      return await p;
    } catch (err) {
      await logsFlushed();
      throw new EngineError({
        kind: "other",
        message: `llama.cpp rejected the output grammar of case ${req.id} (variant ${req.model.variant}): ${this.reason(err)}. This is a bug in the grammar Driftlens wrote for the prompt's output schema; set driftlens.constrain: false in the prompt to generate without it, and report the schema.`,
        variant: req.model.variant,
        file: req.model.modelPath,
      });
    }
  }

  // ---------------------------------------------------------------- generation

  async generate(req: GenerateRequest, onToken?: (t: GeneratedToken) => void, signal?: AbortSignal, onPhase?: PhaseListener): Promise<GenerateResult> {
    return this.withContext(req.model, async (m, ctx) => {
      await onPhase?.("template", req.id);
      const prompt = this.promptTokens(m.model, ctx.template, req.messages);
      await onPhase?.("case", req.id);
      const slot = await this.acquire(ctx);
      try {
        return await this.generateOn(m, ctx, slot, req, prompt, onToken, signal);
      } finally {
        this.release(ctx, slot);
      }
    }, onPhase);
  }

  /**
   * Runs a batch: grouped by model + adapter set, each group ordered by prompt tokens so shared
   * prefixes are adjacent, then spread over the context's sequences. A failing group (missing
   * file, bad adapter) reports a failure for its requests and the others go on.
   */
  async generateMany(
    reqs: GenerateRequest[],
    onResult: (r: GenerateResult | { id: string; failure: EngineFailure }) => void,
    signal?: AbortSignal,
    onToken?: (id: string, t: GeneratedToken) => void,
    onGroup?: (variant: string, file: string) => void,
    onPhase?: PhaseListener,
  ): Promise<void> {
    const groups = new Map<string, GenerateRequest[]>();
    for (const r of reqs) {
      const k = `${r.model.modelPath}\u0000${adapterKey(r.model)}`;
      const g = groups.get(k);
      if (g) g.push(r);
      else groups.set(k, [r]);
    }
    for (const group of groups.values()) {
      const spec = group[0]!.model;
      if (signal?.aborted) {
        for (const r of group) onResult({ id: r.id, failure: cancelled(r) });
        continue;
      }
      onGroup?.(spec.variant, spec.modelPath);
      try {
        await this.withContext(
          spec,
          async (m, ctx) => {
            // Each prompt goes through the GGUF's chat template: a case's phase starts here, so a
            // template that never ends on one case's messages is that case's failure alone.
            const items: { r: GenerateRequest; prompt: Token[] }[] = [];
            for (const r of group) {
              await onPhase?.("template", r.id);
              try {
                items.push({ r, prompt: this.promptTokens(m.model, ctx.template, r.messages) });
              } catch (err) {
                onResult({ id: r.id, failure: toFailure(err, { variant: r.model.variant, file: r.model.modelPath }) });
              }
            }
            items.sort((a, b) => compareTokens(a.prompt, b.prompt));
            let next = 0;
            const worker = async () => {
              while (next < items.length) {
                const it = items[next++]!;
                if (signal?.aborted) {
                  onResult({ id: it.r.id, failure: cancelled(it.r) });
                  continue;
                }
                const slot = await this.acquire(ctx);
                try {
                  await onPhase?.("case", it.r.id);
                  const res = await this.generateOn(m, ctx, slot, it.r, it.prompt, onToken ? (t) => onToken(it.r.id, t) : undefined, signal);
                  onResult(res);
                } catch (err) {
                  onResult({ id: it.r.id, failure: toFailure(err, { variant: it.r.model.variant, file: it.r.model.modelPath }) });
                } finally {
                  this.release(ctx, slot);
                }
              }
            };
            await Promise.all(ctx.slots.map(() => worker()));
          },
          onPhase,
        );
      } catch (err) {
        const failure = toFailure(err, { variant: spec.variant, file: spec.modelPath });
        for (const r of group) onResult({ id: r.id, failure });
      }
    }
  }

  private async generateOn(
    m: ModelEntry,
    ctx: ContextEntry,
    slot: SeqSlot,
    req: GenerateRequest,
    prompt: Token[],
    onToken: ((t: GeneratedToken) => void) | undefined,
    signal: AbortSignal | undefined,
  ): Promise<GenerateResult> {
    const t0 = performance.now();
    const model = m.model;
    const seq = slot.seq;
    const limit = seq.contextSize;
    if (prompt.length === 0) {
      throw new EngineError({
        kind: "other",
        message: `The prompt of case ${req.id} is empty and ${req.model.modelPath} has no BOS token to start from (variant ${req.model.variant}).`,
        variant: req.model.variant,
        file: req.model.modelPath,
      });
    }
    if (prompt.length >= limit) {
      throw new EngineError({
        kind: "other",
        message: `Prompt of ${prompt.length} tokens does not fit the context of ${limit} tokens (variant ${req.model.variant}, ${req.model.modelPath}). Raise engine.contextSize or shorten the prompt.`,
        variant: req.model.variant,
        file: req.model.modelPath,
      });
    }
    const maxTokens = Math.min(req.params.maxTokens, limit - prompt.length);
    const k = req.topLogprobs;
    const p = req.params;
    const stops = [...p.stop, ...ctx.template.stopTexts].filter((s) => s.length > 0);
    // Under a grammar, llama.cpp masks every token the grammar does not allow before sampling (and
    // ends generation when the grammar is complete: only end-of-generation is allowed then). One
    // evaluation state per request: it records what this output has generated so far.
    const grammarState = req.structured ? new this.nlc.LlamaGrammarEvaluationState({ model, grammar: await this.grammarFor(req) }) : undefined;
    const utf8 = grammarState ? Utf8Guard.for(this.nlc, model) : undefined;
    const gen = nextTokenOptions(p, k, grammarState !== undefined, utf8);

    const out: GeneratedToken[] = [];
    const offsets: number[] = [];
    const ids: Token[] = [];
    let text = "";
    let stopReason: GenerateResult["stopReason"] = "maxTokens";
    let firstAt = 0;

    // Two token sources. Greedy without alternatives takes node-llama-cpp's own generation loop
    // (`evaluate`), the fastest path; anything that needs probabilities (or per-step seeds) drives
    // `controlledEvaluate`, whose sampling sorts the whole vocabulary for each token.
    type Step = { token: Token; next?: NLC.ControlledEvaluateIndexOutput["next"] } | null;
    let step: () => Promise<Step> = async () => null;
    let finish = async () => {};
    if (maxTokens > 0) {
      const rest = await this.reuse(seq, prompt);
      if (k === 0 && p.temperature === 0) {
        const it = seq.evaluate(rest, { temperature: 0, ...(grammarState ? { grammarEvaluationState: grammarState } : {}), ...(utf8 ? { tokenBias: utf8.bias } : {}) })[Symbol.asyncIterator]();
        step = async () => {
          const r = await it.next();
          return r.done ? null : { token: r.value };
        };
        finish = async () => {
          await it.return?.(undefined);
        };
      } else {
        let input: NLC.ControlledEvaluateInputItem[] = rest.map((t, i) => (i === rest.length - 1 ? [t, gen(0)] : t));
        let n = 0;
        const evaluate = grammarState ? controlledWithGrammar(seq, grammarState) : (items: NLC.ControlledEvaluateInputItem[]) => seq.controlledEvaluate(items);
        step = async () => {
          const res = await evaluate(input);
          const next = res[input.length - 1]?.next;
          const token = next?.token;
          if (token == null) throw new Error("llama.cpp returned no token");
          input = [[token, gen(++n)]];
          return { token, next };
        };
      }
    }
    try {
      for (let i = 0; i < maxTokens; i++) {
        if (signal?.aborted) {
          stopReason = "cancelled";
          break;
        }
        const s = await step();
        if (i === 0) firstAt = performance.now();
        if (s === null || model.isEogToken(s.token)) {
          stopReason = "eos";
          break;
        }
        const { token, next } = s;
        utf8?.accept(token);
        let chosenProb = -1;
        let top: TokenAlternative[] = [];
        if (next?.logits) {
          const dist = topFrom(next.logits, next.totalLogitWeight);
          chosenProb = dist.probOf(token) ?? next.confidence ?? 0;
          top = dist.top.slice(0, k).map(([tok, prob]) => ({ token: tok, text: model.detokenize([tok as Token]), prob }));
        }
        ids.push(token);
        const full = model.detokenize(ids);
        const piece = full.slice(text.length);
        offsets.push(text.length);
        text = full;
        const g: GeneratedToken = { token, text: piece, prob: chosenProb, top };
        out.push(g);
        onToken?.(g);
        const hit = firstStop(text, stops, Math.max(0, offsets[offsets.length - 1]! - maxLen(stops)));
        if (hit >= 0) {
          text = text.slice(0, hit);
          while (out.length > 0 && offsets[out.length - 1]! >= hit) {
            out.pop();
            offsets.pop();
          }
          stopReason = "stop";
          break;
        }
      }
    } finally {
      await finish();
    }
    const wallMs = performance.now() - t0;
    const genMs = firstAt ? performance.now() - firstAt : 0;
    return {
      id: req.id,
      text,
      tokens: out,
      promptTokens: prompt.length,
      template: ctx.template.kind,
      stopReason,
      timeToFirstTokenMs: firstAt ? firstAt - t0 : wallMs,
      wallMs,
      tokensPerSecond: out.length > 1 && genMs > 0 ? ((out.length - 1) * 1000) / genMs : out.length ? (out.length * 1000) / wallMs : 0,
    };
  }

  // ---------------------------------------------------------------- teacher forcing

  async score(req: ScoreRequest, signal?: AbortSignal, onPhase?: PhaseListener): Promise<ScoreResult> {
    const t0 = performance.now();
    return this.withContext(req.model, async (m, ctx) => {
      await onPhase?.("template", req.id);
      const prompt = this.promptTokens(m.model, ctx.template, req.messages);
      await onPhase?.("case", req.id);
      const n = req.tokens.length;
      if (n === 0) return { id: req.id, positions: [], wallMs: performance.now() - t0 };
      if (prompt.length === 0) {
        throw new EngineError({
          kind: "other",
          message: `Cannot score ${req.id}: the prompt is empty and ${req.model.modelPath} has no BOS token (variant ${req.model.variant}).`,
          variant: req.model.variant,
          file: req.model.modelPath,
        });
      }
      if (prompt.length + n > ctx.slots[0]!.seq.contextSize) {
        throw new EngineError({
          kind: "other",
          message: `Prompt (${prompt.length}) plus forced tokens (${n}) exceed the context of ${ctx.slots[0]!.seq.contextSize} tokens (variant ${req.model.variant}, ${req.model.modelPath}). Raise engine.contextSize.`,
          variant: req.model.variant,
          file: req.model.modelPath,
        });
      }
      const slot = await this.acquire(ctx);
      try {
        if (signal?.aborted) throw new EngineError(cancelled({ id: req.id, model: req.model }));
        const rest = await this.reuse(slot.seq, prompt);
        const K = Math.max(1, req.topK);
        const forced = req.tokens as Token[];
        const want = (i: number) => ({
          generateNext: {
            logits: { filter: { tokens: [forced[i]!, ...((req.probe?.[i] ?? []) as Token[])], includeTop: K, includeMax: true } },
            totalLogitWeight: true,
          },
        });
        // Position i's distribution comes out of the item before forced token i: the last prompt
        // token for i = 0, forced token i-1 otherwise. The last forced token needs no evaluation.
        const input: NLC.ControlledEvaluateInputItem[] = rest.map((t, j) => (j === rest.length - 1 ? [t, want(0)] : t));
        const base = input.length - 1;
        for (let i = 1; i < n; i++) input.push([forced[i - 1]!, want(i)]);
        const res = await slot.seq.controlledEvaluate(input);
        const positions: ScoredPosition[] = [];
        for (let i = 0; i < n; i++) {
          const next = res[base + i]?.next;
          const dist = topFrom(next?.logits, next?.totalLogitWeight);
          const pos: ScoredPosition = {
            forcedProb: dist.probOf(req.tokens[i]!) ?? 0,
            top: dist.top.slice(0, req.topK).map(([token, prob]) => ({ token, prob })),
          };
          if (req.probe) pos.probe = (req.probe[i] ?? []).map((t) => dist.probOf(t) ?? 0);
          positions.push(pos);
        }
        return { id: req.id, positions, wallMs: performance.now() - t0 };
      } finally {
        this.release(ctx, slot);
      }
    }, onPhase);
  }

  // ---------------------------------------------------------------- full-vocabulary divergence

  /** Candidates against a reference over the whole vocabulary, per position (llm/divergence-run.ts). */
  async divergence(req: DivergenceRequest, signal?: AbortSignal): Promise<DivergenceResult> {
    return runDivergence({ hold: (spec, size, count, copy) => this.holdModel(spec, size, count, copy) }, req, signal);
  }

  /**
   * A pinned model with `count` sequences of its own context of `contextSize` tokens per sequence
   * (the model's threads), kept with the model's other contexts so an unload disposes it.
   */
  private async holdModel(spec: ModelSpec, contextSize: number, count: number, copy: number): Promise<HeldModel> {
    const m = await this.loadModel(spec);
    m.inUse++;
    const slots: SeqSlot[] = [];
    let ctx: ContextEntry | undefined;
    try {
      const key = `divergence@${contextSize}x${count}#${copy}|${adapterKey(spec)}`;
      let p = m.contexts.get(key);
      if (!p) {
        p = this.createContext(m, spec, key, { contextSize, sequences: count });
        m.contexts.set(key, p);
        p.catch(() => m.contexts.delete(key));
      }
      const entry = await p;
      ctx = entry;
      for (let i = 0; i < count; i++) slots.push(await this.acquire(entry));
      let released = false;
      return nlcHeldModel({
        seqs: slots.map((s) => s.seq),
        spec,
        prompt: (messages) => this.promptTokens(m.model, entry.template, messages),
        ...vocabSizeOf(m.model),
        release: () => {
          if (released) return;
          released = true;
          for (const s of slots) this.release(entry, s);
          m.inUse--;
          m.lastUsed = ++this.clock;
        },
      });
    } catch (err) {
      if (ctx) for (const s of slots) this.release(ctx, s);
      m.inUse--;
      throw err;
    }
  }

  /** A corpus tokenized as llama-perplexity does: the model's vocabulary, no special-token parsing; BOS is reported, not added. */
  async corpusTokens(modelPath: string, text: string): Promise<CorpusTokens> {
    await this.countTokens(modelPath, "");
    const model = await this.vocab.get(modelPath)!;
    return { tokens: [...model.tokenize(text)], addBos: model.tokens.shouldPrependBosToken, bos: model.tokens.bos ?? null, vocab: vocabSizeOf(model).vocab ?? null };
  }

  // ---------------------------------------------------------------- embeddings

  /**
   * One embedding vector per text (the model's embedding length), for `similar` assertions. The
   * model comes from the same pool as generation (one load per file, LRU budget) with one
   * embedding context, on the threads the engine chose for it. A text longer than the context is
   * cut to its first tokens (logged); an empty text gives an empty vector (cosine 0 against anything).
   */
  async embed(modelPath: string, texts: string[]): Promise<number[][]> {
    const spec: ModelSpec = { variant: "embedding model", modelPath, adapters: [] };
    const m = await this.loadModel(spec);
    m.inUse++;
    try {
      if (!m.embedding) {
        const created = m.model.createEmbeddingContext({ contextSize: this.settings.contextSize, threads: m.threads.threads });
        m.embedding = created;
        created.catch(() => (m.embedding = undefined));
      }
      let ctx: NLC.LlamaEmbeddingContext;
      try {
        ctx = await m.embedding;
      } catch (err) {
        throw new EngineError({ kind: "other", message: `Cannot create an embedding context for ${modelPath}: ${this.reason(err)}. Use a model llama.cpp can embed with, or lower engine.contextSize.`, file: modelPath });
      }
      const out: number[][] = [];
      const limit = this.settings.contextSize - 4; // room for BOS/EOS the embedding context adds
      for (const text of texts) {
        let input: string | Token[] = text;
        if (ctx.calculateInputLength(text) >= this.settings.contextSize) {
          input = m.model.tokenize(text).slice(0, Math.max(1, limit));
          this.log(`embedding: a ${text.length}-character text is longer than the context (${this.settings.contextSize} tokens); embedded its first ${input.length} tokens`);
        }
        out.push([...(await ctx.getEmbeddingFor(input)).vector]);
      }
      return out;
    } finally {
      m.inUse--;
      m.lastUsed = ++this.clock;
    }
  }

  // ---------------------------------------------------------------- tokens

  /** Counts tokens with the model's own vocabulary (vocab-only load, no weights; cached). */
  async countTokens(modelPath: string, text: string): Promise<number> {
    let p = this.vocab.get(modelPath);
    if (!p) {
      p = (async () => {
        if (!fs.existsSync(modelPath)) {
          throw new EngineError({ kind: "model-missing", message: `Model file not found: ${modelPath}. Check the path in driftlens.yaml.`, file: modelPath });
        }
        checkGgufMagic(modelPath, modelPath, "model");
        try {
          return await this.llama.loadModel({ modelPath, vocabOnly: true });
        } catch (err) {
          throw new EngineError({ kind: "model-corrupt", message: `Cannot read the vocabulary of ${modelPath}: ${firstLine(err)}.`, file: modelPath });
        }
      })();
      this.vocab.set(modelPath, p);
      p.catch(() => this.vocab.delete(modelPath));
    }
    const model = await p;
    return model.tokenize(text).length;
  }

  /** Tokenizes with the model's vocabulary (no special tokens); exposed for tests and benchmarks. */
  async tokenize(modelPath: string, text: string): Promise<number[]> {
    await this.countTokens(modelPath, "");
    return (await this.vocab.get(modelPath)!).tokenize(text);
  }

  async dispose(): Promise<void> {
    for (const m of [...this.loaded.values()]) await this.unload(m);
    for (const v of this.vocab.values()) await v.then((m) => m.dispose()).catch(() => {});
    this.vocab.clear();
    await this.llama?.dispose().catch(() => {});
  }
}

const VERSION_CACHE: { v?: string } = {};
const GRAMMAR_CACHE = 32;

/**
 * `controlledEvaluate` under a grammar. node-llama-cpp 3.22.1 takes a grammar only in `evaluate`,
 * whose sampler cannot return the top-k logits and per-step seeds the engine records; its
 * controlledEvaluate builds the sampler config through the sequence's `_resolveSamplerConfig`,
 * which knows `grammarEvaluationState` but is not given one. For the duration of one call the
 * sequence (held by this request alone) resolves configs with this request's grammar state.
 * The native sampler then masks tokens the grammar rejects and accepts the sampled token into the
 * state. A node-llama-cpp without that method is an error, never silently unconstrained output.
 */
function controlledWithGrammar(seq: NLC.LlamaContextSequence, state: NLC.LlamaGrammarEvaluationState) {
  type Resolve = (o: Record<string, unknown>) => unknown;
  const target = seq as unknown as { _resolveSamplerConfig?: Resolve };
  const original = target._resolveSamplerConfig;
  if (typeof original !== "function") {
    throw new EngineError({ kind: "other", message: `This node-llama-cpp (${VERSION_CACHE.v ?? "unknown version"}) cannot generate under a grammar with top-k probabilities; Driftlens needs node-llama-cpp 3.22.1.` });
  }
  return async (items: NLC.ControlledEvaluateInputItem[]) => {
    target._resolveSamplerConfig = function (this: unknown, o: Record<string, unknown>) {
      return original.call(this, { ...o, grammarEvaluationState: state });
    };
    try {
      return await seq.controlledEvaluate(items);
    } finally {
      delete target._resolveSamplerConfig;
    }
  };
}

/** The vocabulary size a GGUF's metadata states (tokenizer.ggml.tokens), when it states one. */
function vocabSizeOf(model: NLC.LlamaModel): { vocab?: number } {
  const tokens = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: unknown } } }).tokenizer?.ggml?.tokens;
  return Array.isArray(tokens) && tokens.length > 0 ? { vocab: tokens.length } : {};
}

// ---------------------------------------------------------------- helpers

/** Plain-completion rendering of messages when the GGUF has no chat template (shared with served models). */
export { completionText };

function adapterKey(spec: ModelSpec): string {
  return spec.adapters.map((a) => `${a.path}@${a.scale}`).join("+");
}

function compareTokens(a: Token[], b: Token[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/**
 * What `controlledEvaluate` asks for after each token: the sampled token with the top-k logits and
 * the softmax normaliser. Asking for logits makes llama.cpp check every vocabulary token against a
 * grammar before sampling (measured 2-3x slower on a 32,000-token vocabulary); without them it
 * samples first and checks only the sampled token. So a grammar request that wants no
 * alternatives asks only for the token (its probability is then not recorded: -1).
 */
function nextTokenOptions(p: GenerateRequest["params"], k: number, grammar: boolean, utf8: Utf8Guard | undefined) {
  const sampling = (step: number) => ({
    ...(p.temperature > 0 ? { temperature: p.temperature, topK: p.topK, topP: p.topP, seed: mixSeed(p.seed, step) } : { temperature: 0 }),
    ...(utf8 ? { tokenBias: utf8.bias } : {}),
  });
  const tokenOnly = grammar && k === 0;
  return (step: number) => ({
    generateNext: tokenOnly
      ? { token: true, options: sampling(step) }
      : {
          token: true,
          logits: { filter: { tokens: [] as Token[], includeTop: Math.max(1, k), includeMax: true, includeSelected: true } },
          totalLogitWeight: true,
          options: sampling(step),
        },
  });
}

/** A per-step seed: reproducible for a request seed, different at every step. */
function mixSeed(seed: number, step: number): number {
  let h = (seed ^ Math.imul(step + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Probabilities from filtered logits: p = exp(logit - max) / Σ exp(logit - max). */
function topFrom(logits: Map<Token, number> | undefined, total: number | undefined) {
  const entries = logits ? [...logits.entries()] : [];
  let max = -Infinity;
  for (const [, l] of entries) if (l > max) max = l;
  const probs = new Map<number, number>();
  for (const [t, l] of entries) probs.set(t as number, total && total > 0 ? Math.exp(l - max) / total : 0);
  const top = [...probs.entries()].sort((a, b) => b[1] - a[1]);
  return { top, probOf: (t: number) => probs.get(t) };
}

function firstStop(text: string, stops: string[], from: number): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s, from);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

function maxLen(stops: string[]): number {
  return stops.reduce((m, s) => Math.max(m, s.length), 0);
}

function cancelled(r: { id: string; model: ModelSpec }): EngineFailure {
  return { kind: "cancelled", message: `Cancelled before generation (case ${r.id}, variant ${r.model.variant}).`, variant: r.model.variant, file: r.model.modelPath };
}

/** llama.cpp's log lines reach JS after the failing call rejects; give them a moment to arrive. */
function logsFlushed(): Promise<void> {
  return new Promise((r) => setTimeout(r, 50));
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function firstLine(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  return s.split("\n")[0]!.trim();
}

export function availableCores(): number {
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
}

// RoutingEngine: the engine callers hold (runner, compare, diff, CLI, language server). Requests
// for a served variant (ModelSpec.remote) go to its endpoints through an EndpointPool; everything
// else goes to the local engine, which is only started when a local request arrives — so a run
// on served variants alone loads no model and starts no worker, and nothing is sent anywhere
// unless a variant names an endpoint.
import { EngineError } from "../errors";
import type { CorpusTokens, DivergenceRequest, DivergenceResult, EngineFailure, EngineInfo, GeneratedToken, GenerateRequest, GenerateResult, ModelSpec, RemoteModelSpec, ScoreRequest, ScoreResult } from "../types";
import { generateOn, type CallContext } from "./generate";
import { RemoteError } from "./http";
import { identifyRemote, type RemoteIdentity } from "./probe";
import { CancelledError, EndpointPool, type EndpointReport, type PoolEvent } from "./scheduler";
import { corpusSource, KldUnavailableError, scoreCorpusOn, scoreOn, type CorpusChunkScores } from "./score";

/** The local engine's calls the router forwards (EngineClient implements them). */
export interface LocalEngine {
  generateMany(reqs: GenerateRequest[], onResult: (r: GenerateResult | { id: string; failure: EngineFailure }) => void, signal?: AbortSignal, onToken?: (id: string, t: GeneratedToken) => void): Promise<void>;
  score(req: ScoreRequest, signal?: AbortSignal): Promise<ScoreResult>;
  info(): Promise<EngineInfo>;
  embed(modelPath: string, texts: string[]): Promise<number[][]>;
  countTokens(modelPath: string, text: string): Promise<number>;
  dispose(): Promise<void>;
  cancel?(): void;
  /** Full-vocabulary divergence and corpus tokenization (corpus KL, the quant ladder, --full-vocab). */
  divergence?(req: DivergenceRequest, signal?: AbortSignal): Promise<DivergenceResult>;
  corpusTokens?(modelPath: string, text: string): Promise<CorpusTokens>;
}

export interface RoutingEngineOptions {
  log?: (line: string) => void;
  /** Scheduling events (benchmarks measure failover with them). */
  onPoolEvent?: (variant: string, e: PoolEvent) => void;
}

/** What a batch on served variants reports: per endpoint, cases served and failures. */
export interface GenerateManyReport {
  endpoints: EndpointReport[];
}

const specKey = (variant: string, s: RemoteModelSpec) => JSON.stringify([variant, s]);
const SCORE_POOL_IDLE_MS = 60_000;

export class RoutingEngine {
  private local: Promise<LocalEngine> | undefined;
  private readonly scorePools = new Map<string, { pool: Promise<{ pool: EndpointPool; id: RemoteIdentity }>; at: number }>();

  constructor(
    private readonly startLocal: () => Promise<LocalEngine>,
    private readonly opts: RoutingEngineOptions = {},
  ) {}

  /** The local engine, started on first need. */
  localEngine(): Promise<LocalEngine> {
    return (this.local ??= this.startLocal());
  }

  /** Whether the local engine was started (a served-only run starts none). */
  get localStarted(): boolean {
    return this.local !== undefined;
  }

  async generateMany(
    reqs: GenerateRequest[],
    onResult: (r: GenerateResult | { id: string; failure: EngineFailure }) => void,
    signal?: AbortSignal,
    onToken?: (id: string, t: GeneratedToken) => void,
  ): Promise<GenerateManyReport | undefined> {
    const local = reqs.filter((r) => !r.model.remote);
    const groups = new Map<string, GenerateRequest[]>();
    for (const r of reqs) {
      if (!r.model.remote) continue;
      const k = specKey(r.model.variant, r.model.remote);
      const g = groups.get(k);
      if (g) g.push(r);
      else groups.set(k, [r]);
    }
    const endpoints: EndpointReport[] = [];
    await Promise.all([
      local.length ? this.localEngine().then((e) => e.generateMany(local, onResult, signal, onToken)) : undefined,
      ...[...groups.values()].map(async (group) => endpoints.push(...(await this.generateRemote(group, onResult, signal)))),
    ]);
    return groups.size ? { endpoints } : undefined;
  }

  private async generateRemote(group: GenerateRequest[], onResult: (r: GenerateResult | { id: string; failure: EngineFailure }) => void, signal?: AbortSignal): Promise<EndpointReport[]> {
    const { variant, remote } = group[0]!.model;
    const spec = remote!;
    let id: RemoteIdentity;
    try {
      id = await identifyRemote(variant, spec, { fresh: true, ...(signal ? { signal } : {}) });
    } catch (e) {
      const failure: EngineFailure = { kind: signal?.aborted ? "cancelled" : "crashed", message: (e as Error).message, variant };
      for (const r of group) onResult({ id: r.id, failure });
      return spec.endpoints.map((url) => ({ url, cases: 0, failed: true, error: (e as Error).message, retries: 0 }));
    }
    const pool = new EndpointPool(variant, id.live, id.dead, {
      ...(spec.concurrency !== undefined ? { concurrency: spec.concurrency } : {}),
      ...(this.opts.onPoolEvent ? { onEvent: (e: PoolEvent) => this.opts.onPoolEvent!(variant, e) } : {}),
      ...(this.opts.log ? { log: this.opts.log } : {}),
    });
    const jobs = group.map((r) => ({ id: r.id, run: (info: (typeof id.live)[number], sig: AbortSignal) => generateOn({ info, spec, template: id.template, signal: sig }, r) }));
    await pool.runAll(
      jobs,
      (job, out) => {
        if (out.ok) onResult(out.value);
        else onResult({ id: job.id, failure: failureOf(out.error, variant, out.variantLevel) });
      },
      signal,
    );
    return pool.reports();
  }

  async generate(req: GenerateRequest, onToken?: (t: GeneratedToken) => void, signal?: AbortSignal): Promise<GenerateResult> {
    if (!req.model.remote) {
      const local = (await this.localEngine()) as LocalEngine & { generate?: (r: GenerateRequest, t?: (t: GeneratedToken) => void, s?: AbortSignal) => Promise<GenerateResult> };
      if (local.generate) return local.generate(req, onToken, signal);
    }
    let out: GenerateResult | { id: string; failure: EngineFailure } | undefined;
    await this.generateMany([req], (r) => (out = r), signal);
    if (!out) throw new EngineError({ kind: "other", message: `no answer for ${req.id} (variant ${req.model.variant})`, variant: req.model.variant });
    if ("failure" in out) throw new EngineError(out.failure);
    return out;
  }

  /** The pool and identity teacher forcing uses for a served variant, kept while in use. */
  private scorePool(variant: string, spec: RemoteModelSpec, signal?: AbortSignal): Promise<{ pool: EndpointPool; id: RemoteIdentity }> {
    const k = specKey(variant, spec);
    const now = Date.now();
    const hit = this.scorePools.get(k);
    if (hit && now - hit.at < SCORE_POOL_IDLE_MS) {
      hit.at = now;
      return hit.pool;
    }
    const pool = identifyRemote(variant, spec, { fresh: true, ...(signal ? { signal } : {}) }).then((id) => ({
      id,
      pool: new EndpointPool(variant, id.live, id.dead, { ...(spec.concurrency !== undefined ? { concurrency: spec.concurrency } : {}), ...(this.opts.log ? { log: this.opts.log } : {}) }),
    }));
    this.scorePools.set(k, { pool, at: now });
    pool.catch(() => this.scorePools.delete(k));
    return pool;
  }

  /** A served variant's pool, re-identified when every endpoint of the kept one has failed. */
  private async livePool(variant: string, spec: RemoteModelSpec, signal?: AbortSignal): Promise<{ pool: EndpointPool; id: RemoteIdentity }> {
    let entry: { pool: EndpointPool; id: RemoteIdentity };
    try {
      entry = await this.scorePool(variant, spec, signal);
      if (!entry.pool.alive) {
        this.scorePools.delete(specKey(variant, spec));
        entry = await this.scorePool(variant, spec, signal);
      }
    } catch (e) {
      throw new EngineError({ kind: "crashed", message: (e as Error).message, variant });
    }
    return entry;
  }

  /**
   * How corpus KL on a served variant is measured (the server's kind decides): its vocabulary, the
   * alternatives listed per position and where they come from. KldUnavailableError for a server
   * without prompt logprobs.
   */
  async corpusSource(model: ModelSpec, signal?: AbortSignal): Promise<{ nVocab?: number; topK: number; source: string }> {
    const spec = model.remote;
    if (!spec) throw new EngineError({ kind: "other", message: `${model.variant} is not a served variant`, variant: model.variant });
    const { id } = await this.livePool(model.variant, spec, signal);
    const info = id.live[0];
    if (!info) throw new EngineError({ kind: "crashed", message: `${model.variant}: no endpoint answered (${id.dead.map((d) => `${d.url}: ${d.error}`).join("; ")})`, variant: model.variant });
    const s = corpusSource(info);
    if ("unavailable" in s) throw new KldUnavailableError(`${model.variant}: ${s.unavailable}`);
    return { ...(info.nVocab !== undefined ? { nVocab: info.nVocab } : {}), ...s };
  }

  /** A served variant's distributions along a corpus chunk (scoreCorpusOn), on whichever endpoint is free. */
  async scoreCorpus(model: ModelSpec, tokens: readonly number[], from: number, signal?: AbortSignal): Promise<CorpusChunkScores> {
    const spec = model.remote;
    if (!spec) throw new EngineError({ kind: "other", message: `${model.variant} is not a served variant`, variant: model.variant });
    return this.onEndpoint(model.variant, spec, `corpus ${tokens.length}@${from}`, (ctx) => scoreCorpusOn(ctx, tokens, from), signal);
  }

  /**
   * Teacher forcing, locally or on a served variant's endpoints. For a server that gives no prompt
   * logprobs this rejects with KldUnavailableError (compare reports "no KL" and goes on).
   */
  async score(req: ScoreRequest, signal?: AbortSignal): Promise<ScoreResult> {
    const spec = req.model.remote;
    if (!spec) return (await this.localEngine()).score(req, signal);
    return this.onEndpoint(req.model.variant, spec, req.id, (ctx) => scoreOn(ctx, req), signal);
  }

  /** One scoring job on a served variant's pool; KldUnavailableError passes through as it is. */
  private async onEndpoint<T>(variant: string, spec: RemoteModelSpec, id: string, run: (ctx: CallContext) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const entry = await this.livePool(variant, spec, signal);
    let result: { value: T } | undefined;
    let error: Error | undefined;
    await entry.pool.runAll(
      [{ id, run: (info, sig) => run({ info, spec, template: entry.id.template, signal: sig }) }],
      (_job, out) => {
        if (out.ok) result = { value: out.value };
        else error = out.error;
      },
      signal,
    );
    if (result) return result.value;
    if (error instanceof KldUnavailableError) throw error;
    throw new EngineError(failureOf(error ?? new Error("no answer"), variant, !entry.pool.alive));
  }

  /**
   * Full-vocabulary divergence runs on the local engine only: a server reports at most its top-K
   * log-probabilities per position, never the whole vocabulary.
   */
  async divergence(req: DivergenceRequest, signal?: AbortSignal): Promise<DivergenceResult> {
    const served = [req.reference, ...req.candidates].find((m) => m.remote);
    if (served) throw new EngineError({ kind: "other", message: `${served.variant} is a served variant: full-vocabulary KL needs every logit, which a server does not return; compare it without --full-vocab (top-K KL) or use a local GGUF variant`, variant: served.variant });
    const local = await this.localEngine();
    if (!local.divergence) throw new EngineError({ kind: "other", message: "the local engine cannot compute full-vocabulary divergence" });
    return local.divergence(req, signal);
  }

  async corpusTokens(modelPath: string, text: string): Promise<CorpusTokens> {
    const local = await this.localEngine();
    if (!local.corpusTokens) throw new EngineError({ kind: "other", message: "the local engine cannot tokenize a corpus" });
    return local.corpusTokens(modelPath, text);
  }

  async info(): Promise<EngineInfo> {
    return (await this.localEngine()).info();
  }

  async embed(modelPath: string, texts: string[]): Promise<number[][]> {
    return (await this.localEngine()).embed(modelPath, texts);
  }

  async countTokens(modelPath: string, text: string): Promise<number> {
    return (await this.localEngine()).countTokens(modelPath, text);
  }

  cancel(): void {
    void this.local?.then((l) => l.cancel?.()).catch(() => undefined);
  }

  async dispose(): Promise<void> {
    this.scorePools.clear();
    if (this.local) await (await this.local.catch(() => undefined))?.dispose().catch(() => undefined);
  }
}

function failureOf(e: Error, variant: string, variantLevel: boolean): EngineFailure {
  if (e instanceof CancelledError || (e instanceof RemoteError && e.kind === "cancelled")) return { kind: "cancelled", message: `cancelled (variant ${variant})`, variant };
  if (variantLevel) return { kind: "crashed", message: e.message, variant };
  return { kind: "other", message: `variant ${variant}: ${e.message}`, variant };
}

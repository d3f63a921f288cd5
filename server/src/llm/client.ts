// EngineClient: what the rest of Driftlens calls to generate, score and count tokens. It never
// imports node-llama-cpp; it forks the engine worker (dist/engine-worker.js) with the same Node,
// speaks the zod-validated messages of server/src/protocol/engine.ts, and supervises it: when the
// worker dies (native crash, out-of-memory, SIGKILL) every pending request rejects with an
// EngineError of kind "crashed" naming the variant and file in flight, and the next request
// starts a fresh worker.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import {
  corpusTokensSchema,
  divergenceResultSchema,
  embedResultSchema,
  engineInfoSchema,
  fromWorkerSchema,
  generateResultSchema,
  scoreResultSchema,
  type FromWorker,
  type ToWorker,
} from "../protocol/engine";
import { EngineError } from "./errors";
import { adoptPreforked, forkEngineWorker, type WorkerForkOptions } from "./worker-fork";
import type {
  CorpusTokens,
  DivergenceRequest,
  DivergenceResult,
  EngineFailure,
  EngineInfo,
  EngineSettings,
  GeneratedToken,
  GenerateRequest,
  GenerateResult,
  ScoreRequest,
  ScoreResult,
} from "./types";

export { EngineError } from "./errors";

export interface EngineClientOptions {
  log?: (line: string) => void;
  /** Node binary for the worker (default: DRIFTLENS_ENGINE_NODE, else process.execPath, the caller's Node). */
  execPath?: string;
  /** Path of engine-worker.js (default: found beside the bundle; env DRIFTLENS_ENGINE_WORKER). */
  workerPath?: string;
  /** Extra environment for the worker (e.g. DRIFTLENS_CACHE_DIR for the threads cache). */
  env?: NodeJS.ProcessEnv;
  /**
   * Keep the worker's resident memory flat over long full-vocabulary divergence runs (`driftlens
   * kld`): glibc raises its mmap threshold after a large block is freed; then llama-addon's
   * per-position vocabulary-sized vectors (256 KB at 32k tokens, allocated and freed on libuv
   * threads) fill the malloc arenas instead, and resident memory creeps up with the text's length.
   * A fixed threshold (MALLOC_MMAP_THRESHOLD_, ignored by other C libraries) keeps them mmapped.
   * Only for that: every such block then costs an mmap and munmap, which slows generation (under a
   * grammar, whose candidate arrays are vocabulary-sized every token, by about a quarter).
   */
  flatMemory?: boolean;
}

type DistOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type RequestBody = DistOmit<Extract<ToWorker, { rid: number }>, "rid">;

export type ManyResult = GenerateResult | { id: string; failure: EngineFailure };

interface Pending {
  kind: ToWorker["type"];
  resolve: (v: unknown) => void;
  reject: (e: EngineError) => void;
  onToken?: (t: GeneratedToken, id: string) => void;
  onItem?: (r: ManyResult) => void;
  /** Ids of a generateMany not yet answered (reported as crashed if the worker dies). */
  open?: Map<string, { variant: string; file: string }>;
  spec?: { variant: string; file: string };
  busy?: { variant: string; file: string };
  /**
   * What the worker does now for this request (protocol `phase`): the last phase, the case whose
   * prompt is going through the chat template, and the cases being generated (no answer yet).
   */
  phase?: "load" | "prepare" | "template" | "case";
  templating?: string;
  generating?: Set<string>;
  /** Bounds the time until the worker's next sign of progress (a phase or an answer). */
  timer?: NodeJS.Timeout;
  /** Set once the caller aborted: if the worker does not answer soon, it is stopped. */
  cancelling?: boolean;
}

/** Default wall-clock bound per case (engine.caseTimeout). */
export const DEFAULT_CASE_TIMEOUT_MS = 300_000;
/** A model load may take at least this long (multi-gigabyte files on slow disks). */
const MIN_LOAD_TIMEOUT_MS = 600_000;
/** After a cancel, how long a worker may take to stop on its own before it is killed. */
const CANCEL_GRACE_MS = 5_000;

/**
 * Finds dist/engine-worker.js from any bundle: dist/cli.js and dist/server.js sit beside it, test
 * bundles live below dist/test/**, and running from sources finds <repo>/dist. Override with
 * DRIFTLENS_ENGINE_WORKER.
 */
export function resolveWorkerPath(override?: string): string {
  const explicit = override ?? process.env.DRIFTLENS_ENGINE_WORKER;
  if (explicit) {
    if (!fs.existsSync(explicit)) {
      throw new EngineError({ kind: "other", message: `The engine worker ${explicit} does not exist (DRIFTLENS_ENGINE_WORKER or workerPath). Build it with \`npm run build\`.` });
    }
    return explicit;
  }
  let dir = __dirname;
  for (;;) {
    for (const c of [path.join(dir, "engine-worker.js"), path.join(dir, "dist", "engine-worker.js")]) if (fs.existsSync(c)) return c;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new EngineError({
    kind: "other",
    message: `Cannot find the engine worker (engine-worker.js) near ${__dirname}. Build it with \`npm run build\` or set DRIFTLENS_ENGINE_WORKER to its path.`,
  });
}

export class EngineClient {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextRid = 1;
  private disposed = false;
  private stderrTail: string[] = [];
  private readyDone = false;
  /** Times a worker was started (tests and diagnostics). */
  starts = 0;

  private constructor(
    readonly settings: EngineSettings,
    private readonly opts: EngineClientOptions,
  ) {}

  /** Creates a client; the worker process starts on the first request. */
  static async start(settings: EngineSettings, opts: EngineClientOptions = {}): Promise<EngineClient> {
    return new EngineClient(settings, opts);
  }

  /** The worker's process id, when one is running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  private ensureWorker(): Promise<void> {
    if (this.disposed) return Promise.reject(new EngineError({ kind: "other", message: "The engine client was disposed." }));
    if (this.child && this.ready) return this.ready;
    const workerPath = resolveWorkerPath(this.opts.workerPath);
    const forkOpts: WorkerForkOptions = {
      ...(this.opts.execPath ? { execPath: this.opts.execPath } : {}),
      ...(this.opts.flatMemory ? { flatMemory: true } : {}),
      ...(this.opts.env ? { env: this.opts.env } : {}),
    };
    const child = adoptPreforked(workerPath, forkOpts, (l) => this.log(l)) ?? forkEngineWorker(workerPath, forkOpts);
    this.starts++;
    this.child = child;
    this.readyDone = false;
    this.stderrTail = [];
    const onLines = (stream: NodeJS.ReadableStream | null, label: string) => {
      let buf = "";
      stream?.setEncoding("utf8");
      stream?.on("data", (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line.trim()) continue;
          if (label === "stderr") this.stderrTail = [...this.stderrTail.slice(-4), line];
          this.log(`engine ${label}: ${line}`);
        }
      });
    };
    onLines(child.stdout, "stdout");
    onLines(child.stderr, "stderr");
    this.ready = new Promise<void>((resolve, reject) => {
      const onReady = (raw: unknown) => {
        const m = fromWorkerSchema.safeParse(raw);
        if (m.success && m.data.type === "ready") {
          child.off("message", onReady);
          this.readyDone = true;
          this.updateRef();
          resolve();
        }
      };
      child.on("message", onReady);
      child.once("exit", (code, signal) =>
        reject(new EngineError({ kind: "crashed", message: `The engine worker exited during start-up (${signal ?? `exit code ${code}`}). ${this.stderrTail.join(" ")}`.trim() })),
      );
      child.once("error", (err) => reject(new EngineError({ kind: "crashed", message: `Cannot start the engine worker ${workerPath}: ${err.message}` })));
    });
    this.ready.catch(() => {});
    child.on("message", (raw) => this.onMessage(raw));
    child.on("exit", (code, signal) => this.onExit(child, code, signal));
    child.on("error", (err) => this.log(`engine worker error: ${err.message}`));
    this.post({ type: "init", settings: this.settings });
    return this.ready;
  }

  /**
   * An idle worker must not keep the caller's process alive (a CLI that forgets dispose() would
   * hang): the child and its pipes are referenced only while requests are pending.
   */
  private updateRef(): void {
    const child = this.child;
    if (!child) return;
    const busy = this.pending.size > 0 || !this.readyDone;
    const handles = [child, child.channel, child.stdout, child.stderr] as ({ ref?: () => void; unref?: () => void } | null | undefined)[];
    for (const h of handles) {
      if (busy) h?.ref?.();
      else h?.unref?.();
    }
  }

  private post(msg: ToWorker): void {
    this.child?.send(msg, (err) => {
      if (err) this.log(`engine: cannot send ${msg.type} to the worker: ${err.message}`);
    });
  }

  private get caseTimeoutMs(): number {
    return this.settings.caseTimeoutMs ?? DEFAULT_CASE_TIMEOUT_MS;
  }

  /** (Re)starts the timer bounding what request `rid` does now; called on every sign of progress. */
  private arm(rid: number, p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    const loading = !p.phase || p.phase === "load";
    const ms = loading ? Math.max(MIN_LOAD_TIMEOUT_MS, this.caseTimeoutMs) : this.caseTimeoutMs;
    p.timer = setTimeout(() => this.onTimeout(rid, p, ms), ms);
    p.timer.unref?.();
  }

  private onPhase(rid: number, p: Pending, phase: NonNullable<Pending["phase"]>, id: string | undefined): void {
    p.phase = phase;
    p.templating = phase === "template" ? id : undefined;
    if (phase === "case" && id !== undefined) (p.generating ??= new Set()).add(id);
    else if (phase === "load" || phase === "prepare") p.generating?.clear();
    this.arm(rid, p);
  }

  /**
   * A request overran its bound: a case that never ends (a looping chat template, a runaway
   * generation) or a load that hangs. The worker's main thread may be stuck, so it is killed; the
   * cases that overran fail with kind "timeout", and generateMany resends the rest to a fresh worker.
   */
  private onTimeout(rid: number, p: Pending, ms: number): void {
    const child = this.child;
    if (this.pending.get(rid) !== p || !child) return;
    const secs = `${Math.round(ms / 100) / 10} s`;
    const at = p.busy ?? p.spec;
    // The cases in flight, if any: the one in the chat template, else those being generated.
    const culprits = p.templating !== undefined ? [p.templating] : p.phase === "case" ? [...(p.generating ?? [])] : [];
    const what =
      culprits.length > 0
        ? `${p.templating !== undefined ? "rendering the chat template for" : "generating"} case ${culprits.join(", ")}`
        : p.phase === "prepare"
          ? "preparing the context and chat template"
          : "loading the model";
    const where = at ? ` of variant ${at.variant} (${at.file})` : "";
    const message = `${what[0]!.toUpperCase()}${what.slice(1)}${where} did not finish within ${secs} (engine.caseTimeout in driftlens.yaml); the engine was stopped and the run goes on. A chat template that never finishes, or a model far slower than the bound allows, does this.`;
    const failure = (v?: { variant: string; file: string }): EngineFailure => ({ kind: "timeout", message, ...(v ?? at ?? {}) });
    if (p.open && p.onItem) {
      // The cases in flight alone; before any case, every request on the same model file.
      const ids = culprits.length > 0 ? culprits.filter((id) => p.open!.has(id)) : [...p.open].filter(([, v]) => !at || v.file === at.file).map(([id]) => id);
      for (const id of ids) {
        const v = p.open.get(id);
        p.open.delete(id);
        p.onItem({ id, failure: failure(v) });
      }
    }
    this.pending.delete(rid);
    this.log(`engine: ${message}`);
    // Rejected once the worker is gone, so a retry starts a fresh one.
    child.once("exit", () => p.reject(new EngineError(failure())));
    child.kill("SIGKILL");
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.ready = undefined;
    if (this.pending.size === 0) {
      if (!this.disposed && (signal || code)) this.log(`engine worker exited (${signal ?? `exit code ${code}`}) while idle`);
      return;
    }
    const how = signal ? `killed by ${signal}` : `exit code ${code}`;
    const tail = this.stderrTail.length ? ` Last output: ${this.stderrTail.join(" | ")}` : "";
    for (const [rid, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      const at = p.busy ?? p.spec;
      const what = at ? `variant ${at.variant} (${at.file})` : "a request";
      const failure: EngineFailure = this.disposed || p.cancelling
        ? { kind: "cancelled", message: `The engine was stopped while running ${what}.`, variant: at?.variant, file: at?.file }
        : {
            kind: "crashed",
            message: `The engine process crashed (${how}) while running ${what}. It may have run out of memory or hit a native error in llama.cpp; the next request starts a fresh engine.${tail}`,
            variant: at?.variant,
            file: at?.file,
          };
      if (p.open && p.onItem) {
        for (const [id, s] of p.open) p.onItem({ id, failure: { ...failure, variant: s.variant, file: s.file } });
      }
      this.pending.delete(rid);
      p.reject(new EngineError(failure));
    }
  }

  private onMessage(raw: unknown): void {
    const parsed = fromWorkerSchema.safeParse(raw);
    if (!parsed.success) {
      this.log(`engine: ignored an invalid message from the worker: ${parsed.error.message}`);
      return;
    }
    const msg: FromWorker = parsed.data;
    if (msg.type === "log") return this.log(`engine: ${msg.line}`);
    if (msg.type === "ready") return;
    const p = this.pending.get(msg.rid);
    if (!p) return;
    switch (msg.type) {
      case "busy":
        p.busy = { variant: msg.variant, file: msg.file };
        break;
      case "phase":
        this.onPhase(msg.rid, p, msg.phase, msg.id);
        break;
      case "token":
        p.onToken?.(msg.token, msg.id);
        break;
      case "item": {
        const r: ManyResult | undefined = msg.result ?? msg.failure;
        // An answer for a case already failed by its timeout is dropped.
        if (r && (!p.open || p.open.has(r.id))) {
          p.open?.delete(r.id);
          p.generating?.delete(r.id);
          this.arm(msg.rid, p);
          p.onItem?.(r);
        }
        break;
      }
      case "error":
        this.pending.delete(msg.rid);
        if (p.timer) clearTimeout(p.timer);
        this.updateRef();
        p.reject(new EngineError(msg.failure));
        break;
      case "result":
        this.pending.delete(msg.rid);
        if (p.timer) clearTimeout(p.timer);
        this.updateRef();
        p.resolve(msg.value);
        break;
    }
  }

  private async request<T>(msg: RequestBody, p: Omit<Pending, "resolve" | "reject" | "kind">, schema: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
    try {
      await this.ensureWorker();
    } catch (err) {
      // One retry: a worker that dies while starting is usually transient (its bundle being
      // rewritten by a build, a momentary resource limit); a second failure is reported.
      if (!(err instanceof EngineError) || err.kind !== "crashed" || this.disposed) throw err;
      this.log(`engine: ${err.message}; retrying once`);
      await new Promise((r) => setTimeout(r, 250));
      await this.ensureWorker();
    }
    // The worker may have died between start-up and now (onExit ran with nothing pending).
    if (!this.child) await this.ensureWorker();
    const rid = this.nextRid++;
    const onAbort = () => {
      this.post({ type: "cancel", rid });
      // A worker whose main thread is stuck cannot hear the cancel: stop it after a grace period.
      const entry = this.pending.get(rid);
      const child = this.child;
      if (!entry || !child) return;
      entry.cancelling = true;
      setTimeout(() => {
        if (this.pending.get(rid) === entry && this.child === child) child.kill("SIGKILL");
      }, CANCEL_GRACE_MS).unref?.();
    };
    const value = await new Promise<unknown>((resolve, reject) => {
      const entry: Pending = { ...p, kind: msg.type, resolve, reject };
      this.pending.set(rid, entry);
      this.arm(rid, entry);
      this.updateRef();
      this.post({ ...msg, rid } as ToWorker);
      if (signal) {
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      }
    }).finally(() => signal?.removeEventListener("abort", onAbort));
    const ok = schema.safeParse(value);
    if (!ok.success) throw new EngineError({ kind: "other", message: `The engine worker sent an invalid ${msg.type} result: ${ok.error.message}` });
    return ok.data;
  }

  async info(): Promise<EngineInfo> {
    return this.request({ type: "info" }, {}, engineInfoSchema);
  }

  /** One generation; `onToken` streams tokens as they are produced; abort resolves with stopReason "cancelled". */
  async generate(req: GenerateRequest, onToken?: (t: GeneratedToken) => void, signal?: AbortSignal): Promise<GenerateResult> {
    return this.request(
      { type: "generate", req, stream: !!onToken },
      { onToken, spec: { variant: req.model.variant, file: req.model.modelPath } },
      generateResultSchema,
      signal,
    );
  }

  /**
   * A batch, ordered by shared prompt prefix in the worker, reusing sequences (and parallel ones
   * on GPU). Each request is answered once through `onResult`, as a result or a per-request
   * failure (a missing or corrupt model fails only its own requests). If the worker crashes, the
   * unanswered requests are reported with kind "crashed" and the promise rejects. `onToken`
   * streams each request's tokens as they are generated (request ids must be unique).
   */
  async generateMany(
    reqs: GenerateRequest[],
    onResult: (r: ManyResult) => void,
    signal?: AbortSignal,
    onToken?: (id: string, t: GeneratedToken) => void,
  ): Promise<void> {
    let todo = reqs;
    while (todo.length > 0) {
      const open = new Map(todo.map((r) => [r.id, { variant: r.model.variant, file: r.model.modelPath }]));
      try {
        await this.request(
          { type: "generateMany", reqs: todo, stream: !!onToken },
          { onItem: onResult, onToken: onToken ? (t, id) => onToken(id, t) : undefined, open, spec: open.values().next().value },
          z.null(),
          signal,
        );
        return;
      } catch (e) {
        // A timeout failed its own cases (already reported) and stopped the worker; the rest go on.
        if (!(e instanceof EngineError && e.kind === "timeout") || signal?.aborted) throw e;
        todo = todo.filter((r) => open.has(r.id));
      }
    }
  }

  /** Teacher forcing: per forced token, its probability, this model's top-K and the probe ids' probabilities. */
  async score(req: ScoreRequest, signal?: AbortSignal): Promise<ScoreResult> {
    return this.request({ type: "score", req }, { spec: { variant: req.model.variant, file: req.model.modelPath } }, scoreResultSchema, signal);
  }

  /** Full-vocabulary divergence of candidates from a reference on token sequences (one batch); per-position numbers only. */
  async divergence(req: DivergenceRequest, signal?: AbortSignal): Promise<DivergenceResult> {
    return this.request({ type: "divergence", req }, { spec: { variant: req.reference.variant, file: req.reference.modelPath } }, divergenceResultSchema, signal);
  }

  /** `text` tokenized with the model's vocabulary for corpus statistics (BOS reported, not added). */
  async corpusTokens(modelPath: string, text: string): Promise<CorpusTokens> {
    return this.request({ type: "corpusTokens", modelPath, text }, { spec: { variant: modelPath, file: modelPath } }, corpusTokensSchema);
  }

  /** Token count of `text` with the model's own vocabulary (no special tokens added). */
  async countTokens(modelPath: string, text: string): Promise<number> {
    return this.request({ type: "countTokens", modelPath, text }, { spec: { variant: modelPath, file: modelPath } }, z.number());
  }

  /** Embedding vectors of `texts` with the GGUF at `modelPath` (loaded once, shared with generation). */
  async embed(modelPath: string, texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return [];
    return this.request({ type: "embed", modelPath, texts }, { spec: { variant: "embedding model", file: modelPath } }, embedResultSchema);
  }

  /** Cancels every running request (generations end with stopReason "cancelled"). */
  cancel(): void {
    if (this.child) this.post({ type: "cancel" });
  }

  /** Test hook: makes the worker abort as a native crash would. */
  crashForTest(): void {
    if (this.child) this.post({ type: "crash" });
  }

  /** Stops the worker; pending requests reject. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        child.kill("SIGKILL");
      }, 2000);
      child.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      if (child.connected) child.disconnect();
      else child.kill("SIGKILL");
    });
  }
}

// EngineClient: what the rest of Driftlens calls to generate, score and count tokens. It never
// imports node-llama-cpp; it forks the engine worker (dist/engine-worker.js) with the same Node,
// speaks the zod-validated messages of server/src/protocol/engine.ts, and supervises it: when the
// worker dies (native crash, out-of-memory, SIGKILL) every pending request rejects with an
// EngineError of kind "crashed" naming the variant and file in flight, and the next request
// starts a fresh worker.
import { fork, type ChildProcess } from "node:child_process";
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
}

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
    const child = fork(workerPath, [], {
      execPath: this.opts.execPath ?? process.env.DRIFTLENS_ENGINE_NODE ?? process.execPath,
      // --expose-gc: full-vocabulary divergence collects its per-position garbage (llm/divergence-run.ts).
      execArgv: ["--expose-gc"],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      // glibc raises its mmap threshold after a large block is freed; then llama-addon's per-position
      // vocabulary-sized vectors (256 KB at 32k tokens, allocated and freed on libuv threads) fill
      // the malloc arenas instead, and resident memory creeps up with the text's length. A fixed
      // threshold keeps them mmapped and memory flat (ignored by other C libraries).
      env: { MALLOC_MMAP_THRESHOLD_: "131072", ...process.env, ...this.opts.env },
      serialization: "json",
    });
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
      const at = p.busy ?? p.spec;
      const what = at ? `variant ${at.variant} (${at.file})` : "a request";
      const failure: EngineFailure = this.disposed
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
      case "token":
        p.onToken?.(msg.token, msg.id);
        break;
      case "item": {
        const r: ManyResult | undefined = msg.result ?? msg.failure;
        if (r) {
          p.open?.delete(r.id);
          p.onItem?.(r);
        }
        break;
      }
      case "error":
        this.pending.delete(msg.rid);
        this.updateRef();
        p.reject(new EngineError(msg.failure));
        break;
      case "result":
        this.pending.delete(msg.rid);
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
    const onAbort = () => this.post({ type: "cancel", rid });
    const value = await new Promise<unknown>((resolve, reject) => {
      this.pending.set(rid, { ...p, kind: msg.type, resolve, reject });
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
    return this.request({ type: "info" }, {}, engineInfoSchema) as Promise<EngineInfo>;
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
    if (reqs.length === 0) return;
    const open = new Map(reqs.map((r) => [r.id, { variant: r.model.variant, file: r.model.modelPath }]));
    await this.request(
      { type: "generateMany", reqs, stream: !!onToken },
      { onItem: onResult, onToken: onToken ? (t, id) => onToken(id, t) : undefined, open, spec: open.values().next().value },
      z.null(),
      signal,
    );
  }

  /** Teacher forcing: per forced token, its probability, this model's top-K and the probe ids' probabilities. */
  async score(req: ScoreRequest, signal?: AbortSignal): Promise<ScoreResult> {
    return this.request({ type: "score", req }, { spec: { variant: req.model.variant, file: req.model.modelPath } }, scoreResultSchema, signal) as Promise<ScoreResult>;
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

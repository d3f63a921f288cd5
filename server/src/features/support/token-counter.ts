// Prompt token counts with the model's own vocabulary, for the context-length diagnostic (DL210).
// The engine (EngineClient, a supervised worker process) starts lazily on the first
// count, only for a model file that exists. A count never holds up a diagnostics pass: a text
// already counted is answered from the cache; any other text gets an error at once (the Workspace
// then uses its estimate, labelled as one) and is counted after `delayMs` without new uncounted
// texts, i.e. when the user pauses; `onLateCount` listeners then re-diagnose with the exact count.
import fs from "node:fs";
import { EngineClient } from "../../llm/client";
import type { EngineSettings } from "../../llm/types";
import type { Logger } from "./context";

export interface TokenCounterOptions {
  log: Logger;
  /** Engine settings for the worker (threads are explicit: never llama.cpp's default). */
  engineSettings: () => EngineSettings;
  /** Whether counting with the model is enabled (setting `tokenCount: "model"`). */
  enabled: () => boolean;
  /** Quiet time after the last uncounted text before counting (ms); the estimate is used meanwhile. */
  delayMs?: () => number;
}

const MAX_CACHE = 512;

/** A model file's identity for cached counts: path, size and mtime (a changed file is a new key). */
export function modelFileKey(modelPath: string): string | undefined {
  try {
    const st = fs.statSync(modelPath);
    return `${modelPath}\u0000${st.size}\u0000${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** One counted text. */
export interface TokenCount {
  fileKey: string;
  text: string;
  count: number;
}

export class TokenCounter {
  private engine: Promise<EngineClient> | undefined;
  private readonly cache = new Map<string, TokenCount>();
  private readonly inFlight = new Map<string, Promise<number>>();
  /** Model files whose vocabulary failed to load: not retried until the file changes. */
  private readonly broken = new Map<string, string>();
  private lateListeners: ((modelPath: string) => void)[] = [];
  private countedListeners: ((c: TokenCount) => void)[] = [];
  private disposed = false;

  constructor(private readonly opts: TokenCounterOptions) {}

  onLateCount(fn: (modelPath: string) => void): void {
    this.lateListeners.push(fn);
  }

  /** Called with each new count, before the onLateCount listeners of its batch. */
  onCounted(fn: (c: TokenCount) => void): void {
    this.countedListeners.push(fn);
  }

  /** Every count held now (to seed a diagnostics worker that starts later). */
  counts(): TokenCount[] {
    return [...this.cache.values()];
  }

  /** Whether the engine worker was started (tests, status). */
  get started(): boolean {
    return this.engine !== undefined;
  }

  /** The function the artifact Workspace calls (WorkspaceOptions.countTokens). */
  readonly count = async (modelPath: string, text: string): Promise<number> => {
    if (this.disposed || !this.opts.enabled()) throw new Error("token counting with the model is off");
    const fileKey = modelFileKey(modelPath);
    if (!fileKey) throw new Error(`model file not found: ${modelPath}`);
    const why = this.broken.get(fileKey);
    if (why) throw new Error(why);
    const key = `${fileKey}\u0000${text}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit.count;
    // Not counted yet: answer now (the Workspace falls back to its estimate) and count once the
    // user pauses, then tell listeners so the exact count replaces the estimate.
    this.queue(modelPath, text, fileKey, key);
    throw new Error("the model's token count is not ready yet");
  };

  /** Texts waiting to be counted, most recent last (bounded: only recent edits matter). */
  private readonly queued = new Map<string, { modelPath: string; text: string; fileKey: string }>();
  private timer: NodeJS.Timeout | undefined;

  private queue(modelPath: string, text: string, fileKey: string, key: string): void {
    this.queued.delete(key);
    this.queued.set(key, { modelPath, text, fileKey });
    while (this.queued.size > 8) this.queued.delete(this.queued.keys().next().value!);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), this.opts.delayMs?.() ?? 300);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const jobs = [...this.queued];
    this.queued.clear();
    const counted = new Set<string>();
    for (const [key, j] of jobs) {
      if (this.disposed) return;
      let p = this.inFlight.get(key);
      if (!p) {
        p = this.countNow(j.modelPath, j.text, j.fileKey, key);
        this.inFlight.set(key, p);
      }
      try {
        await p;
        counted.add(j.modelPath);
      } catch {
        // logged in countNow; the estimate stays
      } finally {
        this.inFlight.delete(key);
      }
    }
    for (const modelPath of counted) for (const fn of this.lateListeners) fn(modelPath);
  }

  private async countNow(modelPath: string, text: string, fileKey: string, key: string): Promise<number> {
    try {
      const engine = await this.start();
      const n = await engine.countTokens(modelPath, text);
      const c = { fileKey, text, count: n };
      this.cache.set(key, c);
      if (this.cache.size > MAX_CACHE) this.cache.delete(this.cache.keys().next().value!);
      for (const fn of this.countedListeners) fn(c);
      return n;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      // A file the engine cannot read stays unreadable until it changes; a crash is retried.
      const kind = (e as { failure?: { kind?: string } }).failure?.kind;
      if (kind === "model-missing" || kind === "model-corrupt") this.broken.set(fileKey, msg);
      this.opts.log.warn(`token counting with ${modelPath} failed, using the estimate: ${msg}`);
      throw e;
    }
  }

  private start(): Promise<EngineClient> {
    if (!this.engine) {
      this.opts.log.info("starting the engine worker to count prompt tokens with the model's vocabulary");
      this.engine = EngineClient.start(this.opts.engineSettings(), { log: (line) => this.opts.log.info(line) });
    }
    return this.engine;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    const e = this.engine;
    this.engine = undefined;
    if (e) await (await e).dispose();
  }
}

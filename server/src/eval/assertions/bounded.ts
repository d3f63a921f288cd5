// Runs the bounded assertion types (regular expressions, JSON Schemas, the JSON search of
// contains-json) in a worker thread with a time limit. JavaScript's RegExp backtracks, and a
// pattern such as ^(a+)+$ can take longer than the universe on a 40-character output; the
// language server and the CLI must not hang on one. Patterns keep JavaScript semantics (users
// rely on lookbehind, backreferences, \b), so the bound is a time limit, not another engine: the
// worker is terminated when a request runs past it (V8 interrupts a running match at once), the
// assertion fails saying so, and the next request starts a fresh worker. One request at a time,
// so a limit hit affects only its own assertion.
import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { HandlerInput, Verdict } from "./types";

export type BoundedOutcome = { verdict: Verdict } | { error: string } | { timeout: true };

let worker: { w: Worker; ready: Promise<void> } | undefined;
let queue: Promise<unknown> = Promise.resolve();
let nextId = 1;

/** dist/pattern-worker.js, found from any bundle: beside it (dist/*.js) or above it (dist/test/**). */
export function patternWorkerPath(): string {
  const override = process.env.DRIFTLENS_PATTERN_WORKER;
  if (override) return override;
  let dir = __dirname;
  for (;;) {
    for (const c of [path.join(dir, "pattern-worker.js"), path.join(dir, "dist", "pattern-worker.js")]) if (fs.existsSync(c)) return c;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`cannot find the pattern worker (pattern-worker.js) near ${__dirname}; build it with \`npm run build\``);
}

function start(): { w: Worker; ready: Promise<void> } {
  const w = new Worker(patternWorkerPath(), { stdout: true, stderr: true, resourceLimits: { maxOldGenerationSizeMb: 256 } });
  // Never keeps the process alive on its own.
  w.unref();
  const ready = new Promise<void>((resolve, reject) => {
    const onMessage = (m: { ready?: boolean }) => {
      if (m.ready) {
        w.off("message", onMessage);
        resolve();
      }
    };
    w.on("message", onMessage);
    w.once("error", reject);
    w.once("exit", (code) => reject(new Error(`the pattern worker exited (code ${code}) before it was ready`)));
  });
  const entry = { w, ready };
  w.on("exit", () => {
    if (worker === entry) worker = undefined;
  });
  w.on("error", () => {
    if (worker === entry) worker = undefined;
  });
  return entry;
}

/** Evaluates a bounded handler's input in the worker; `timeout` when it ran past `timeoutMs`. */
export function runBounded(input: HandlerInput, timeoutMs: number): Promise<BoundedOutcome> {
  const run = async (): Promise<BoundedOutcome> => {
    let entry: { w: Worker; ready: Promise<void> };
    try {
      entry = worker ??= start();
      // Starting the worker (loading ajv) is not the pattern's time.
      await entry.ready;
    } catch (e) {
      worker = undefined;
      return { error: (e as Error).message };
    }
    const { w } = entry;
    const id = nextId++;
    return new Promise<BoundedOutcome>((resolve) => {
      let settled = false;
      const finish = (r: BoundedOutcome, kill = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        w.off("message", onMessage);
        w.off("exit", onExit);
        if (kill) {
          if (worker === entry) worker = undefined;
          void w.terminate();
        }
        resolve(r);
      };
      const onMessage = (m: { id?: number; verdict?: Verdict; error?: string }) => {
        if (m.id !== id) return;
        finish(m.verdict ? { verdict: m.verdict } : { error: m.error ?? "the pattern worker gave no result" });
      };
      const onExit = (code: number) => finish({ error: `the pattern worker exited (code ${code}); it may have run out of memory on this output` });
      const timer = setTimeout(() => finish({ timeout: true }, true), timeoutMs);
      w.on("message", onMessage);
      w.on("exit", onExit);
      w.postMessage({ id, input });
    });
  };
  const p = queue.then(run, run);
  queue = p;
  return p;
}

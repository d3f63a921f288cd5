// The engine worker (bundled to dist/engine-worker.js): hosts the Engine in a child process so a
// native crash or out-of-memory in llama.cpp cannot take down the language server or the CLI.
// It speaks the zod-validated messages of server/src/protocol/engine.ts over the IPC channel;
// stdout is never used (the parent's stdout may be the LSP channel).
import { Worker } from "node:worker_threads";
import { toWorkerSchema, type FromWorker, type ToWorker } from "../protocol/engine";
import { Engine, type PhaseListener } from "./engine";
import { EngineError, toFailure } from "./errors";
import { BulkDivergence, bulkEligible } from "./native/bulk-divergence";
import { loadBulkLogits } from "./native/bulk-logits";
import type { DivergenceRequest, EngineSettings } from "./types";

// Outgoing messages are typed by FromWorker here and validated by the parent (the trust boundary);
// validating them twice would cost CPU on every token and result.
function send(msg: FromWorker): void {
  process.send?.(msg);
}

let settings: EngineSettings | undefined;
let enginePromise: Promise<Engine> | undefined;
const aborts = new Map<number, AbortController>();

let engineStarted: Engine | undefined;
let bulk: BulkDivergence | undefined;
const bulkSaid = new Set<string>();

/**
 * The bulk_logits host for a corpus request (llm/native/bulk-divergence.ts), when this request
 * can run there; else undefined and node-llama-cpp serves it. Each reason is logged once.
 */
function bulkFor(req: DivergenceRequest | null): BulkDivergence | undefined {
  if (!settings) return undefined;
  const say = (line: string) => {
    if (bulkSaid.has(line)) return;
    bulkSaid.add(line);
    send({ type: "log", line });
  };
  const ok = bulkEligible(settings, req, { ...(engineStarted ? { backend: engineStarted.backend } : {}) });
  if (ok !== true) {
    say(`bulk logits not used: ${ok}`);
    return undefined;
  }
  const lib = loadBulkLogits();
  if (typeof lib === "string") {
    say(`bulk logits not used: ${lib}`);
    return undefined;
  }
  say(`bulk logits: ${lib.binary} on ${lib.library}`);
  bulk ??= new BulkDivergence(lib, settings, { log: (line) => send({ type: "log", line }) });
  return bulk;
}

function engine(): Promise<Engine> {
  if (!settings) throw new EngineError({ kind: "other", message: "Engine worker got a request before its settings (protocol error)." });
  enginePromise ??= Engine.create(settings, { log: (line) => send({ type: "log", line }) });
  enginePromise.then((e) => (engineStarted = e)).catch(() => (enginePromise = undefined));
  return enginePromise;
}

/**
 * The worker must die with its parent and on SIGTERM even while its main thread is stuck (a chat
 * template that never ends runs in JavaScript; a native call may not return).
 *
 * - A watchdog thread (its own event loop, so it runs while the main thread is blocked) checks
 *   every 200 ms that the parent still exists and SIGKILLs this process when it is gone: a parent
 *   killed with SIGKILL never gets to stop its worker, and the IPC 'disconnect' event needs the
 *   main thread.
 * - node-llama-cpp's dependencies install JavaScript SIGTERM/SIGINT/SIGHUP listeners (signal-exit),
 *   which replace the default "terminate" action with a handler the blocked main thread never
 *   runs. The worker has nothing to clean up on a signal, so those listeners are dropped.
 */
function dieWithParent(): void {
  const code = `const { workerData } = require("node:worker_threads");
setInterval(() => {
  let gone = process.ppid !== workerData.ppid;
  if (!gone) try { process.kill(workerData.ppid, 0); } catch (e) { gone = e.code === "ESRCH"; }
  if (gone) process.kill(process.pid, "SIGKILL");
}, 200);`;
  try {
    new Worker(code, { eval: true, workerData: { ppid: process.ppid }, resourceLimits: { maxOldGenerationSizeMb: 16 } }).unref();
  } catch {
    // Without the thread the worker still exits on 'disconnect' whenever its main thread is free.
  }
}

function dropSignalHooks(): void {
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.removeAllListeners(sig);
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case "init":
      settings = msg.settings;
      send({ type: "ready" });
      return;
    case "crash":
      process.abort();
      return;
    case "cancel":
      if (msg.rid === undefined) for (const a of aborts.values()) a.abort();
      else aborts.get(msg.rid)?.abort();
      return;
    default:
      break;
  }
  const rid = msg.rid;
  const ac = new AbortController();
  aborts.set(rid, ac);
  // Resolves once the message is written to the channel: the work that follows may block the
  // main thread (a chat template that never ends), and the parent must know what it was.
  const onPhase: PhaseListener = (phase, id) =>
    new Promise<void>((resolve) => {
      if (!process.send) return resolve();
      process.send({ type: "phase", rid, phase, ...(id !== undefined ? { id } : {}) } satisfies FromWorker, undefined, {}, () => resolve());
    });
  try {
    // Corpus requests that the bulk_logits addon can serve need no node-llama-cpp at all.
    if (msg.type === "divergence" || msg.type === "corpusTokens") {
      const b = bulkFor(msg.type === "divergence" ? msg.req : null);
      if (b && msg.type === "divergence") {
        send({ type: "busy", rid, variant: msg.req.reference.variant, file: msg.req.reference.modelPath });
        send({ type: "result", rid, value: await b.divergence(msg.req, ac.signal) });
        return;
      }
      if (b && msg.type === "corpusTokens") {
        send({ type: "result", rid, value: b.corpusTokens(msg.modelPath, msg.text) });
        return;
      }
    }
    const e = await engine();
    dropSignalHooks();
    switch (msg.type) {
      case "generate": {
        send({ type: "busy", rid, variant: msg.req.model.variant, file: msg.req.model.modelPath });
        const r = await e.generate(msg.req, msg.stream ? (token) => send({ type: "token", rid, id: msg.req.id, token }) : undefined, ac.signal, onPhase);
        send({ type: "result", rid, value: r });
        break;
      }
      case "generateMany": {
        await e.generateMany(
          msg.reqs,
          (r) => {
            if ("failure" in r) send({ type: "item", rid, failure: r });
            else send({ type: "item", rid, result: r });
          },
          ac.signal,
          msg.stream ? (id, token) => send({ type: "token", rid, id, token }) : undefined,
          // Which variant the batch is on, so a crash names it.
          (variant, file) => send({ type: "busy", rid, variant, file }),
          onPhase,
        );
        send({ type: "result", rid, value: null });
        break;
      }
      case "score": {
        send({ type: "busy", rid, variant: msg.req.model.variant, file: msg.req.model.modelPath });
        send({ type: "result", rid, value: await e.score(msg.req, ac.signal, onPhase) });
        break;
      }
      case "divergence":
        send({ type: "busy", rid, variant: msg.req.reference.variant, file: msg.req.reference.modelPath });
        send({ type: "result", rid, value: await e.divergence(msg.req, ac.signal) });
        break;
      case "corpusTokens":
        send({ type: "result", rid, value: await e.corpusTokens(msg.modelPath, msg.text) });
        break;
      case "countTokens":
        send({ type: "result", rid, value: await e.countTokens(msg.modelPath, msg.text) });
        break;
      case "embed":
        send({ type: "busy", rid, variant: "embedding model", file: msg.modelPath });
        send({ type: "result", rid, value: await e.embed(msg.modelPath, msg.texts) });
        break;
      case "info":
        send({ type: "result", rid, value: await e.info() });
        break;
    }
  } catch (err) {
    const ctx =
      msg.type === "generate" || msg.type === "score"
        ? { variant: msg.req.model.variant, file: msg.req.model.modelPath }
        : msg.type === "divergence"
          ? { variant: msg.req.reference.variant, file: msg.req.reference.modelPath }
          : msg.type === "countTokens" || msg.type === "embed" || msg.type === "corpusTokens"
          ? { file: msg.modelPath }
          : undefined;
    send({ type: "error", rid, failure: toFailure(err, ctx) });
  } finally {
    aborts.delete(rid);
  }
}

process.on("message", (raw) => {
  const parsed = toWorkerSchema.safeParse(raw);
  if (!parsed.success) {
    send({ type: "log", line: `engine worker: ignored an invalid message: ${parsed.error.message}` });
    return;
  }
  void handle(parsed.data);
});

// The parent went away: nothing left to serve.
process.on("disconnect", () => process.exit(0));
dieWithParent();
dropSignalHooks();

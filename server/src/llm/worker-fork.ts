// How the engine worker process (dist/engine-worker.js) is forked: one home for its options, used
// by EngineClient and by the CLI's launcher, which forks it before loading the CLI bundle so that
// the worker's start (a Node start, its bundle) overlaps the CLI's own (server/src/cli.ts).
// Small on purpose: the launcher imports it before anything else.
import { fork, type ChildProcess } from "node:child_process";

export interface WorkerForkOptions {
  /** The Node that runs the worker (default: DRIFTLENS_ENGINE_NODE, else this process's). */
  execPath?: string;
  /** Pin glibc's mmap threshold (flat memory over a long corpus run; `driftlens kld`). */
  flatMemory?: boolean;
  /** Extra environment for the worker. */
  env?: NodeJS.ProcessEnv;
}

export function forkEngineWorker(workerPath: string, o: WorkerForkOptions = {}): ChildProcess {
  return fork(workerPath, [], {
    execPath: o.execPath ?? process.env.DRIFTLENS_ENGINE_NODE ?? process.execPath,
    // --expose-gc: full-vocabulary divergence collects its per-position garbage (llm/divergence-nlc.ts).
    // --max-semi-space-size=16: the young generation V8 settles at on Node 20 here (two 16 MB
    // semi-spaces); Node 24's V8 lets it grow to 2 × 32 MB over a long run, so the same corpus
    // run ended 44% larger at 64 chunks than at 4 (32,000-token vocabulary) there and +2% with it.
    execArgv: ["--expose-gc", "--max-semi-space-size=16"],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...(o.flatMemory ? { MALLOC_MMAP_THRESHOLD_: "131072" } : {}), ...process.env, ...o.env },
    serialization: "json",
  });
}

interface Preforked {
  child: ChildProcess;
  workerPath: string;
  key: string;
}

function handles(c: ChildProcess): ({ ref?: () => void; unref?: () => void } | null | undefined)[] {
  return [c, c.channel, c.stdout, c.stderr] as ({ ref?: () => void; unref?: () => void } | null | undefined)[];
}

const PREFORK = Symbol.for("driftlens.engineWorker.prefork");

function keyOf(o: WorkerForkOptions): string {
  return JSON.stringify([o.execPath ?? process.env.DRIFTLENS_ENGINE_NODE ?? process.execPath, Boolean(o.flatMemory), o.env ?? null]);
}

/**
 * Forks a worker now for the first EngineClient with the same options to adopt. It holds nothing
 * open: a CLI that ends without using it exits, and the worker follows (it exits when its parent's
 * channel closes).
 */
export function preforkEngineWorker(workerPath: string, o: WorkerForkOptions = {}): void {
  const g = globalThis as { [PREFORK]?: Preforked };
  if (g[PREFORK]) return;
  const child = forkEngineWorker(workerPath, o);
  // Until adopted: nothing read from its pipes, nothing keeping this process alive.
  for (const h of handles(child)) h?.unref?.();
  child.on("error", () => undefined);
  g[PREFORK] = { child, workerPath, key: keyOf(o) };
}

/**
 * The preforked worker when it matches and is still running (each is adopted once); else
 * undefined. `log` hears whether one was adopted, or why one was not (it is then killed).
 */
export function adoptPreforked(workerPath: string, o: WorkerForkOptions = {}, log?: (line: string) => void): ChildProcess | undefined {
  const g = globalThis as { [PREFORK]?: Preforked };
  const p = g[PREFORK];
  if (!p) return undefined;
  g[PREFORK] = undefined;
  const alive = p.child.exitCode === null && p.child.signalCode === null && p.child.connected;
  if (alive && p.workerPath === workerPath && p.key === keyOf(o)) {
    // Referenced again, as a fresh fork is: the adopter decides from here (EngineClient.updateRef).
    for (const h of handles(p.child)) h?.ref?.();
    log?.(`engine: adopted the worker forked at start (pid ${p.child.pid})`);
    return p.child;
  }
  log?.(`engine: the worker forked at start was not adopted (${!alive ? "it is no longer running" : p.workerPath !== workerPath ? "another worker bundle" : "other fork options"}); forking another`);
  p.child.kill();
  return undefined;
}

// Debounced, cancellable jobs keyed by name (usually a document URI). A new schedule for a key
// replaces the pending one and aborts the running one, so a burst of keystrokes costs one pass and
// a stale pass never publishes over a newer one.

export type Job = (signal: AbortSignal) => Promise<void>;

export interface Scheduler {
  /** Runs `job` after `delayMs` unless the key is scheduled again first; aborts the key's running job. */
  schedule(key: string, delayMs: number, job: Job): void;
  /** Drops the key's pending job and aborts its running one. */
  cancel(key: string): void;
  /** Resolves when nothing is pending or running (tests, shutdown). */
  idle(): Promise<void>;
  dispose(): void;
}

export function createScheduler(onError: (key: string, e: unknown) => void): Scheduler {
  /** Jobs waiting for their delay, by key: how to call each off. */
  const pending = new Map<string, () => void>();
  const running = new Map<string, AbortController>();
  const inFlight = new Set<Promise<void>>();
  let idleWaiters: (() => void)[] = [];

  const checkIdle = () => {
    if (pending.size === 0 && inFlight.size === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  };

  const start = (key: string, job: Job) => {
    pending.delete(key);
    running.get(key)?.abort();
    const ac = new AbortController();
    running.set(key, ac);
    const p = (async () => {
      try {
        await job(ac.signal);
      } catch (e) {
        if (!ac.signal.aborted) onError(key, e);
      } finally {
        if (running.get(key) === ac) running.delete(key);
      }
    })();
    inFlight.add(p);
    void p.finally(() => {
      inFlight.delete(p);
      checkIdle();
    });
  };

  return {
    schedule(key, delayMs, job) {
      pending.get(key)?.();
      running.get(key)?.abort();
      if (delayMs <= 0) {
        // Still asynchronous, so a handler that schedules never runs the job inline; setImmediate,
        // not setTimeout(0), which Node stretches to 1 ms.
        const t = setImmediate(() => start(key, job));
        pending.set(key, () => clearImmediate(t));
      } else {
        const t = setTimeout(() => start(key, job), delayMs);
        pending.set(key, () => clearTimeout(t));
      }
    },
    cancel(key) {
      pending.get(key)?.();
      pending.delete(key);
      running.get(key)?.abort();
      checkIdle();
    },
    idle() {
      if (pending.size === 0 && inFlight.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    dispose() {
      for (const callOff of pending.values()) callOff();
      pending.clear();
      for (const ac of running.values()) ac.abort();
      running.clear();
      checkIdle();
    },
  };
}

/** Yields to the event loop so queued protocol messages (requests, edits) are served between steps. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

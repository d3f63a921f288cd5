// Spreads a served variant's work over its endpoints: each job goes to the live endpoint with the
// fewest requests in flight (relative to its concurrency), up to that concurrency.
//
// Failures: an endpoint that refuses, resets, times out or answers 5xx is the endpoint's fault —
// the job goes back to the front of the queue at once (to run elsewhere), and the endpoint backs
// off (200 ms, 400 ms, …); after MAX_CONSECUTIVE_FAILURES failures in a row it is dropped for the
// run and its other jobs in flight are aborted and requeued. HTTP 429 waits Retry-After (1 s when
// absent) on that endpoint without counting as a failure. A 4xx is the request's fault: that case
// fails alone. The run goes on while any endpoint lives; when none does, the remaining jobs fail
// with every endpoint's reason.
import { RemoteError } from "./http";
import type { EndpointInfo } from "./probe";

/** What a run's report says about each endpoint. */
export interface EndpointReport {
  url: string;
  /** Cases (requests) it answered. */
  cases: number;
  /** Whether it was dropped, never answered, or its last request failed. */
  failed: boolean;
  /** Why; null when it never failed (the last error is kept when it recovered). */
  error: string | null;
  /** Requests of it that failed and went elsewhere. */
  retries: number;
}

/** Scheduling events, for benchmarks (failover time) and logs. */
export type PoolEvent =
  | { type: "dispatch"; job: string; endpoint: string; at: number }
  | { type: "done"; job: string; endpoint: string; at: number }
  | { type: "requeue"; job: string; endpoint: string; at: number; reason: string }
  | { type: "drop"; endpoint: string; at: number; reason: string };

export interface PoolOptions {
  /** Requests in flight per endpoint (default: the endpoint's slots, else 4). */
  concurrency?: number;
  onEvent?: (e: PoolEvent) => void;
  log?: (line: string) => void;
}

export const MAX_CONSECUTIVE_FAILURES = 3;
const BACKOFF_MS = 200;
const DEFAULT_RETRY_AFTER_MS = 1000;
/** A job that failed on this many endpoints in a row fails (a request that crashes servers must not loop). */
const MAX_ATTEMPTS = 6;
const MAX_RATE_LIMITED = 50;

interface EndpointState {
  info: EndpointInfo;
  limit: number;
  inflight: Map<string, AbortController>;
  consecutive: number;
  waitUntil: number;
  dropped: boolean;
  report: EndpointReport;
}

export interface Job<T> {
  id: string;
  run(info: EndpointInfo, signal: AbortSignal): Promise<T>;
}

export type JobOutcome<T> = { ok: true; value: T; endpoint: string } | { ok: false; error: Error; variantLevel: boolean };

export class EndpointPool {
  private readonly eps: EndpointState[];

  constructor(
    readonly variant: string,
    live: EndpointInfo[],
    dead: { url: string; error: string }[],
    private readonly opts: PoolOptions = {},
  ) {
    this.eps = live.map((info) => ({
      info,
      limit: Math.max(1, opts.concurrency ?? info.slots ?? 4),
      inflight: new Map(),
      consecutive: 0,
      waitUntil: 0,
      dropped: false,
      report: { url: info.url, cases: 0, failed: false, error: null, retries: 0 },
    }));
    this.deadReports = dead.map((d) => ({ url: d.url, cases: 0, failed: true, error: d.error, retries: 0 }));
  }

  private readonly deadReports: EndpointReport[];

  /** Per endpoint, in configured order: cases served, dropped or not, why. */
  reports(): EndpointReport[] {
    return [...this.eps.map((e) => ({ ...e.report })), ...this.deadReports.map((d) => ({ ...d }))];
  }

  get alive(): boolean {
    return this.eps.some((e) => !e.dropped);
  }

  /** Total requests the live endpoints may have in flight. */
  get capacity(): number {
    return this.eps.filter((e) => !e.dropped).reduce((a, e) => a + e.limit, 0);
  }

  private emit(e: PoolEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch {
      // an observer's failure is its own
    }
  }

  private allFailedMessage(): string {
    const why = [...this.eps.map((e) => `${e.info.url}: ${e.report.error ?? "dropped"}`), ...this.deadReports.map((d) => `${d.url}: ${d.error}`)];
    return `variant ${this.variant}: every endpoint failed (${why.join("; ")}); start the servers or fix 'endpoints' in driftlens.yaml, then run again to resume`;
  }

  private drop(ep: EndpointState, reason: string): void {
    if (ep.dropped) return;
    ep.dropped = true;
    ep.report.failed = true;
    ep.report.error = reason;
    this.emit({ type: "drop", endpoint: ep.info.url, at: performance.now(), reason });
    this.opts.log?.(`${this.variant}: endpoint ${ep.info.url} dropped for this run: ${reason}`);
    for (const c of ep.inflight.values()) c.abort(new DroppedError());
  }

  /**
   * Runs every job, each once successfully or failed; `onDone` is called as each finishes (in
   * completion order). Resolves when all are done.
   */
  runAll<T>(jobs: Job<T>[], onDone: (job: Job<T>, outcome: JobOutcome<T>) => void, signal?: AbortSignal): Promise<void> {
    const queue = jobs.map((job) => ({ job, attempts: 0, limited: 0 }));
    let open = jobs.length;
    let timer: NodeJS.Timeout | undefined;
    return new Promise<void>((resolve) => {
      if (open === 0) return resolve();
      const done = (job: Job<T>, outcome: JobOutcome<T>) => {
        open--;
        try {
          onDone(job, outcome);
        } catch {
          // the listener's failure is its own
        }
        if (open === 0) {
          if (timer) clearTimeout(timer);
          resolve();
        }
      };
      const onAbort = () => {
        for (const ep of this.eps) for (const c of ep.inflight.values()) c.abort(new CancelledError());
        pump();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const pump = () => {
        if (timer) {
          clearTimeout(timer);
          timer = undefined;
        }
        if (signal?.aborted) {
          while (queue.length) done(queue.shift()!.job, { ok: false, error: new CancelledError(), variantLevel: false });
          return;
        }
        if (!this.alive) {
          while (queue.length) done(queue.shift()!.job, { ok: false, error: new RemoteError("refused", this.allFailedMessage()), variantLevel: true });
          return;
        }
        const now = performance.now();
        while (queue.length) {
          let best: EndpointState | undefined;
          for (const ep of this.eps) {
            if (ep.dropped || ep.waitUntil > now || ep.inflight.size >= ep.limit) continue;
            if (!best || ep.inflight.size / ep.limit < best.inflight.size / best.limit) best = ep;
          }
          if (!best) break;
          start(best, queue.shift()!);
        }
        if (queue.length) {
          const waits = this.eps.filter((e) => !e.dropped && e.waitUntil > now && e.inflight.size < e.limit).map((e) => e.waitUntil);
          if (waits.length) timer = setTimeout(pump, Math.max(1, Math.min(...waits) - now));
        }
      };
      const start = (ep: EndpointState, item: (typeof queue)[number]) => {
        const ctrl = new AbortController();
        const { job } = item;
        ep.inflight.set(job.id, ctrl);
        this.emit({ type: "dispatch", job: job.id, endpoint: ep.info.url, at: performance.now() });
        const sig = signal ? AbortSignal.any([signal, ctrl.signal]) : ctrl.signal;
        job.run(ep.info, sig).then(
          (value) => {
            ep.inflight.delete(job.id);
            this.emit({ type: "done", job: job.id, endpoint: ep.info.url, at: performance.now() });
            ep.consecutive = 0;
            ep.report.failed = false;
            ep.report.cases++;
            done(job, { ok: true, value, endpoint: ep.info.url });
            pump();
          },
          (e: unknown) => {
            ep.inflight.delete(job.id);
            failed(ep, item, e, ctrl.signal.aborted ? (ctrl.signal.reason instanceof DroppedError ? "dropped" : "cancelled") : undefined);
            pump();
          },
        );
      };
      const failed = (ep: EndpointState, item: (typeof queue)[number], e: unknown, reason: "dropped" | "cancelled" | undefined) => {
        if (reason === "dropped") {
          queue.unshift(item);
          this.emit({ type: "requeue", job: item.job.id, endpoint: ep.info.url, at: performance.now(), reason: "endpoint dropped" });
          return;
        }
        if (reason === "cancelled" || signal?.aborted) {
          done(item.job, { ok: false, error: new CancelledError(), variantLevel: false });
          return;
        }
        const err = e instanceof Error ? e : new Error(String(e));
        if (err instanceof RemoteError && err.kind === "rate-limited") {
          ep.waitUntil = Math.max(ep.waitUntil, performance.now() + (err.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS));
          if (++item.limited > MAX_RATE_LIMITED) return done(item.job, { ok: false, error: err, variantLevel: false });
          queue.unshift(item);
          this.emit({ type: "requeue", job: item.job.id, endpoint: ep.info.url, at: performance.now(), reason: err.message });
          return;
        }
        if (err instanceof RemoteError && err.endpointFault) {
          ep.consecutive++;
          ep.report.retries++;
          ep.report.error = err.message;
          item.attempts++;
          ep.report.failed = true;
          if (ep.consecutive >= MAX_CONSECUTIVE_FAILURES || err.kind === "auth") this.drop(ep, err.message);
          else ep.waitUntil = performance.now() + BACKOFF_MS * 2 ** (ep.consecutive - 1);
          if (item.attempts >= MAX_ATTEMPTS) return done(item.job, { ok: false, error: err, variantLevel: false });
          queue.unshift(item);
          this.emit({ type: "requeue", job: item.job.id, endpoint: ep.info.url, at: performance.now(), reason: err.message });
          return;
        }
        // The request's own fault (bad request, context exceeded): this case fails alone.
        ep.consecutive = 0;
        done(item.job, { ok: false, error: err, variantLevel: false });
      };
      pump();
    }).finally(() => {
      if (timer) clearTimeout(timer);
    });
  }
}

class DroppedError extends Error {
  constructor() {
    super("endpoint dropped");
    this.name = "DroppedError";
  }
}

export class CancelledError extends Error {
  constructor() {
    super("cancelled");
    this.name = "CancelledError";
  }
}

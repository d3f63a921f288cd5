// What compareVariants (compare.ts) and diffRefs (diff.ts) both do around runEvals: start the
// engine only when something needs it, pass the caller's run options through, and show per-slice
// statistics as report rows.
import type { SliceDelta } from "../protocol/reports";
import type { SliceStats } from "../stats/stats";
import type { RunEvalsOptions } from "./runner";

/** The engine, started on first use: a comparison served from the store starts none. */
export interface LazyEngine<E> {
  get: () => Promise<E>;
  /** The engine if something started it, else undefined. */
  started: () => Promise<E> | undefined;
}

/** Wraps an engine, or a function starting one, so it starts at most once and only when asked for. */
export function lazyEngine<E>(engine: E | (() => Promise<E>)): LazyEngine<E> {
  let p: Promise<E> | undefined;
  return { get: () => (p ??= typeof engine === "function" ? (engine as () => Promise<E>)() : Promise.resolve(engine)), started: () => p };
}

/** The run options compare and diff take from their caller and hand to runEvals as they are. */
export type PassedRunOptions = Pick<RunEvalsOptions, "seed" | "noCache" | "render" | "signal" | "onProgress" | "trusted" | "memoryBudgetBytes" | "repeat" | "grader">;

/** Those options, each only when the caller set it (so runEvals' defaults apply otherwise). */
export function passedRunOptions(opts: PassedRunOptions): PassedRunOptions {
  return {
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.noCache ? { noCache: true } : {}),
    ...(opts.render ? { render: opts.render } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.trusted !== undefined ? { trusted: opts.trusted } : {}),
    ...(opts.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: opts.memoryBudgetBytes } : {}),
    ...(opts.repeat !== undefined ? { repeat: opts.repeat } : {}),
    ...(opts.grader ? { grader: opts.grader } : {}),
  };
}

/** Per-slice statistics as the report shows them. */
export function sliceRows(slices: SliceStats[]): SliceDelta[] {
  return slices.map((s) => ({
    name: s.name,
    cases: s.cases,
    passRate: s.headPassRate,
    basePassRate: s.basePassRate,
    delta: s.delta,
    ci: s.ci,
    pValue: s.pValue,
    minDetectableDrop: s.minDetectableDrop,
    regressions: s.regressions,
    fixes: s.fixes,
    failsGate: s.failsGate,
    ...(s.samples !== undefined ? { samples: s.samples } : {}),
  }));
}

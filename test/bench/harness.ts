// Helpers for benchmark files (test/bench/*.bench.ts). See test/bench/run.mjs for the contract.

export interface BenchResult {
  name: string;
  value: number | null;
  unit: string;
  /** The goal from the issue, in the same unit; null when there is none. */
  goal: number | null;
  /** Whether value meets goal (direction given by `better`); null when there is no goal. */
  ok: boolean | null;
  notes: string;
}

/**
 * Whether DRIFTLENS_BENCH_ONLY selects this benchmark: empty selects all, a full name selects one,
 * a prefix ending in "." (e.g. "lsp.") selects a group. Call it before any expensive setup.
 */
export function selected(name: string): boolean {
  const only = process.env.DRIFTLENS_BENCH_ONLY ?? "";
  return !only || only === name || (only.endsWith(".") && name.startsWith(only));
}

export function report(
  name: string,
  value: number | null,
  unit: string,
  goal: number | null,
  better: "lower" | "higher",
  notes = "",
): BenchResult {
  const ok = goal === null || value === null ? (value === null ? false : null) : better === "lower" ? value <= goal : value >= goal;
  const r: BenchResult = { name, value, unit, goal, ok, notes };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(r)}\n`);
  return r;
}

/** p-th percentile (0..100) of a list of numbers, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Runs the async benchmark body, reporting a failed result (not a crash) when it throws. */
export function main(group: string, body: () => Promise<void>): void {
  body().catch((e) => {
    report(`${group}.error`, null, "", null, "lower", e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  });
}

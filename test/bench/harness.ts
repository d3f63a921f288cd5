// Helpers for benchmark files (test/bench/*.bench.ts). See test/bench/run.mjs for the contract.
import fs from "node:fs";

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

/** Busy share of all CPUs over `ms`, from /proc/stat (0..1; 0 where there is no /proc). */
export async function cpuBusy(ms: number): Promise<number> {
  const read = () => {
    try {
      const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
      return { idle: f[3]! + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
    } catch {
      return { idle: 0, total: 0 };
    }
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  return b.total === a.total ? 0 : 1 - (b.idle - a.idle) / (b.total - a.total);
}

/**
 * Waits (at most `deadlineMs`) until the machine is quiet, under 25% busy over half a second, so
 * what an earlier benchmark left running (code-server and Chromium shutting down, a model being
 * unloaded) does not land in this one. Returns the last busy share.
 */
export async function settle(deadlineMs = 30_000): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  let busy = await cpuBusy(500);
  while (busy > 0.25 && Date.now() < deadline) busy = await cpuBusy(500);
  return busy;
}

/**
 * Runs the async benchmark body once the machine is quiet (settle), reporting a failed result
 * (not a crash) when it throws.
 */
export function main(group: string, body: () => Promise<void>): void {
  settle()
    .then(body)
    .catch((e) => {
      report(`${group}.error`, null, "", null, "lower", e instanceof Error ? e.message : String(e));
      process.exitCode = 1;
    });
}

// Paired statistics for regression reports: the same cases measured under two versions (two
// variants, or a prompt before and after an edit). Everything here is pure and deterministic —
// the bootstrap uses a seeded PRNG — so the same inputs always give the same report.
import { canDetectDrop } from "../artifacts/power";

import { mulberry32 } from "../util/prng";

export { mulberry32 };

/** FNV-1a of a string, for deriving bootstrap seeds from names (slice, variant) reproducibly. */
export function hashSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const ch of parts.join("\u0000")) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export interface PairedDelta {
  /** mean(head) − mean(base) over the pairs. */
  delta: number;
  /** Percentile bootstrap confidence interval of the delta. */
  ci: [number, number];
}

export interface BootstrapOptions {
  /** Resamples; 2000 keeps the 95% interval's ends stable to about ±0.005. */
  iterations?: number;
  seed?: number;
  /** Confidence level, default 0.95. */
  confidence?: number;
}

/**
 * Paired bootstrap CI for the mean difference head − base. Pairs are resampled together (the
 * same case under both versions), which is what makes a small but consistent change visible.
 * Pass/fail is 1/0; scores are any numbers. Empty input → delta 0, CI [0, 0].
 */
export function pairedBootstrap(base: readonly number[], head: readonly number[], opts: BootstrapOptions = {}): PairedDelta {
  if (base.length !== head.length) throw new Error(`pairedBootstrap: ${base.length} base values but ${head.length} head values; pairs must match`);
  const n = base.length;
  if (n === 0) return { delta: 0, ci: [0, 0] };
  const d = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    d[i] = head[i]! - base[i]!;
    sum += d[i]!;
  }
  const delta = sum / n;
  // All differences equal (e.g. no flips): every resample gives the same mean.
  if (d.every((x) => x === d[0])) return { delta: clean(delta), ci: [clean(delta), clean(delta)] };
  const iterations = opts.iterations ?? 2000;
  const confidence = opts.confidence ?? 0.95;
  const rand = mulberry32(opts.seed ?? 0x5eed);
  const means = new Float64Array(iterations);
  for (let b = 0; b < iterations; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[Math.floor(rand() * n)]!;
    means[b] = s / n;
  }
  means.sort();
  const tail = (1 - confidence) / 2;
  return { delta: clean(delta), ci: [clean(quantileSorted(means, tail)), clean(quantileSorted(means, 1 - tail))] };
}

/** Linear-interpolated quantile (q in 0..1) of an ascending array. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (n === 1) return sorted[0]!;
  const pos = Math.min(1, Math.max(0, q)) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const frac = pos - lo;
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * frac;
}

/**
 * Exact McNemar test: two-sided binomial test of the discordant pairs.
 * b = cases that passed under base and fail under head (regressions), c = the reverse (fixes).
 * Under "no change" each discordant pair is a fair coin: p = min(1, 2·P(X ≤ min(b, c))),
 * X ~ Binomial(b + c, ½). No discordant pairs → 1.
 */
export function mcnemarExact(b: number, c: number): number {
  if (!Number.isInteger(b) || !Number.isInteger(c) || b < 0 || c < 0) throw new Error(`mcnemarExact: counts must be non-negative integers, got b=${b}, c=${c}`);
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  // Log space: 2^-n underflows past n ≈ 1074.
  const ln2n = n * Math.LN2;
  let logC = 0; // log C(n, 0)
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logC - ln2n);
  }
  return clean(Math.min(1, 2 * tail));
}

/**
 * Smallest number of one-directional flips that the two-sided exact McNemar test can call
 * significant at `alpha`: with k regressions and no fixes p = 2·½^k, so the least k with
 * 2·½^k ≤ alpha.
 */
export function minSignificantFlips(alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must be between 0 and 1, got ${alpha}`);
  return Math.max(1, Math.ceil(Math.log2(2 / alpha) - 1e-12));
}

/**
 * The minimum detectable drop in pass rate for a slice of `n` cases at significance `alpha`:
 * the smallest drop that could reach significance at all (every discordant pair a regression),
 * i.e. minSignificantFlips(alpha) / n. A smaller drop can never be significant on this slice,
 * however real. null when the slice is too small to detect any drop. The power arithmetic is
 * the artifacts engine's (server/src/artifacts/power.ts, one-sided), asked at alpha/2 because the
 * p-values reported beside it are two-sided.
 */
export function minDetectableDrop(n: number, alpha: number): number | null {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must be between 0 and 1, got ${alpha}`);
  const k = minSignificantFlips(alpha);
  if (n < k) return null;
  for (let flips = k; flips <= n; flips++) if (canDetectDrop(n, flips / n, alpha / 2)) return clean(flips / n);
  return null;
}

export interface Summary {
  mean: number;
  median: number;
  p99: number;
  max: number;
}

/** mean, median, p99 and max of a list (all 0 for an empty list). */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { mean: 0, median: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    mean: clean(sum / sorted.length),
    median: clean(quantileSorted(sorted, 0.5)),
    p99: clean(quantileSorted(sorted, 0.99)),
    max: clean(sorted[sorted.length - 1]!),
  };
}

export interface PairedPassStats {
  cases: number;
  basePassRate: number;
  headPassRate: number;
  delta: number;
  ci: [number, number];
  pValue: number;
  /** Passed under base, failed under head. */
  regressions: number;
  /** Failed under base, passed under head. */
  fixes: number;
  minDetectableDrop: number | null;
}

/** Pass-rate comparison of paired cases: delta, bootstrap CI, exact McNemar p, detectable drop. */
export function pairedPassStats(
  pairs: readonly { base: boolean; head: boolean }[],
  opts: { alpha: number; seed: number; iterations?: number },
): PairedPassStats {
  const n = pairs.length;
  const base: number[] = pairs.map((p) => (p.base ? 1 : 0));
  const head: number[] = pairs.map((p) => (p.head ? 1 : 0));
  let regressions = 0;
  let fixes = 0;
  for (const p of pairs) {
    if (p.base && !p.head) regressions++;
    else if (!p.base && p.head) fixes++;
  }
  const { delta, ci } = pairedBootstrap(base, head, { seed: opts.seed, iterations: opts.iterations, confidence: 0.95 });
  return {
    cases: n,
    basePassRate: n ? clean(base.reduce((a, b) => a + b, 0) / n) : 0,
    headPassRate: n ? clean(head.reduce((a, b) => a + b, 0) / n) : 0,
    delta,
    ci,
    pValue: clean(mcnemarExact(regressions, fixes)),
    regressions,
    fixes,
    minDetectableDrop: minDetectableDrop(n, opts.alpha),
  };
}

/**
 * Rounds to 12 significant digits so float noise (0.1 + 0.2) never leaks into reports and the same
 * inputs print byte-identical JSON; turns −0 into 0.
 */
export function clean(x: number): number {
  if (!Number.isFinite(x)) return x;
  const r = Number(x.toPrecision(12));
  return r === 0 ? 0 : r;
}

export interface PairedCase {
  id: string;
  tags: readonly string[];
  base: boolean;
  head: boolean;
}

export interface GateSettings {
  maxPassRateDrop: number;
  maxSliceDrop: number;
  alpha: number;
}

export interface SliceStats extends PairedPassStats {
  name: string;
  failsGate: boolean;
}

export interface PairedComparison {
  overall: PairedPassStats;
  /** Worst slice (most negative delta) first; ties by name. */
  slices: SliceStats[];
  passed: boolean;
  reasons: string[];
  warnings: string[];
}

// Tolerance so a drop exactly at the gate's limit (0.1 written as 1/10) passes.
const GATE_EPS = 1e-9;

/**
 * Compares paired cases overall and per slice (case tags) and applies the gate: the overall pass
 * rate may drop at most maxPassRateDrop, each slice at most maxSliceDrop. The gate is on the size
 * of the drop, not its significance — a 3-case tail slice can never be significant, yet losing
 * it is exactly the regression to catch; p-values, CIs and the minimum detectable drop (at
 * alpha) are reported beside it so a reader can judge the evidence. `label` names the subject in
 * reasons and seeds the bootstrap.
 */
export function comparePaired(label: string, cases: readonly PairedCase[], gate: GateSettings): PairedComparison {
  const overall = pairedPassStats(cases, { alpha: gate.alpha, seed: hashSeed(label, "(overall)") });
  const byTag = new Map<string, PairedCase[]>();
  for (const c of cases) {
    for (const t of new Set(c.tags)) {
      let list = byTag.get(t);
      if (!list) byTag.set(t, (list = []));
      list.push(c);
    }
  }
  const slices: SliceStats[] = [...byTag.entries()].map(([name, list]) => {
    const s = pairedPassStats(list, { alpha: gate.alpha, seed: hashSeed(label, name) });
    return { name, ...s, failsGate: -s.delta > gate.maxSliceDrop + GATE_EPS };
  });
  slices.sort((a, b) => a.delta - b.delta || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const reasons: string[] = [];
  if (-overall.delta > gate.maxPassRateDrop + GATE_EPS) {
    reasons.push(
      `${label}: pass rate dropped ${fmtPp(overall.delta)} (${fmtPct(overall.basePassRate)} → ${fmtPct(overall.headPassRate)}, ${overall.regressions} regression(s)); the gate allows ${fmtPct(gate.maxPassRateDrop)}`,
    );
  }
  for (const s of slices) {
    if (s.failsGate) {
      reasons.push(
        `${label}: slice '${s.name}' dropped ${fmtPp(s.delta)} (${fmtPct(s.basePassRate)} → ${fmtPct(s.headPassRate)} on ${s.cases} case(s)); the gate allows ${fmtPct(gate.maxSliceDrop)}`,
      );
    }
  }
  const small = slices.filter((s) => s.minDetectableDrop === null || s.minDetectableDrop > gate.maxSliceDrop + GATE_EPS);
  const warnings: string[] = [];
  if (small.length) {
    warnings.push(
      `${label}: ${small.length === 1 ? "slice" : "slices"} ${small.slice(0, 6).map((s) => `'${s.name}' (${s.cases})`).join(", ")}${small.length > 6 ? ` and ${small.length - 6} more` : ""} ${small.length === 1 ? "has" : "have"} too few cases to detect a drop of ${fmtPct(gate.maxSliceDrop)} at alpha ${gate.alpha} (needs at least ${Math.ceil(minSignificantFlips(gate.alpha) / Math.max(gate.maxSliceDrop, 1e-9))} cases)`,
    );
  }
  return { overall, slices, passed: reasons.length === 0, reasons, warnings };
}

function fmtPct(x: number): string {
  return `${Number((x * 100).toFixed(1))}%`;
}

function fmtPp(x: number): string {
  return `${Number((Math.abs(x) * 100).toFixed(1))} pp`;
}

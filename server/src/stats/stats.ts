// Paired statistics for regression reports: the same cases measured under two versions (two
// variants, or a prompt before and after an edit). Everything here is pure and deterministic —
// the bootstrap uses a seeded PRNG — so the same inputs always give the same report.
import { canDetectDrop } from "./power";

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
 * server/src/stats/power.ts's (one-sided), asked at alpha/2 because the
 * p-values reported beside it are two-sided.
 */
export function minDetectableDrop(n: number, alpha: number, samples = 1): number | null {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must be between 0 and 1, got ${alpha}`);
  const k = minSignificantFlips(alpha);
  if (n < k) return null;
  // With N samples per case the sign-flip test still needs k cases moving the same way, but each
  // can move by a single sample: the smallest such drop is k cases × 1/N, over n cases.
  if (samples > 1) return clean(k / (n * samples));
  for (let flips = k; flips <= n; flips++) if (canDetectDrop(n, flips / n, alpha / 2)) return clean(flips / n);
  return null;
}

// ---------------------------------------------------------------- sampled cases

/**
 * A case's pass fraction moving by at least this much between two versions is a flip: with one
 * sample it is exactly pass ↔ fail; with N it is half the samples (e.g. 8/10 → 3/10).
 */
export const FLIP_THRESHOLD = 0.5;

export interface SignFlipOptions {
  /** Monte Carlo resamples when the exact distribution would be too large to compute (default 20000). */
  resamples?: number;
  seed?: number;
}

/**
 * Paired permutation (sign-flip) test of the mean difference, two-sided: under "no change" each
 * case's two versions are exchangeable, so each per-case difference d_i is as likely to have
 * the opposite sign. p = min(1, 2·min(P(T ≥ t), P(T ≤ t))) for T = Σ ±d_i over all 2^n sign
 * vectors — scipy.stats.permutation_test(permutation_type="samples") with the same two-sided rule.
 * Samples of a case enter only through its difference of pass fractions, so the case is the unit
 * (clustering respected). Exact (a distribution over integer sums on the samples' common
 * denominator) unless that is too large; then seeded Monte Carlo. With one sample per case it
 * equals the exact McNemar test.
 */
export function signFlipTest(diffs: readonly number[], denominators: readonly number[] = [], opts: SignFlipOptions = {}): number {
  // Fractions k/N on a common denominator are integers: the exact distribution is over integer sums.
  const lcm = denominators.reduce((l, d) => (Number.isInteger(d) && d > 0 ? lcmOf(l, d) : l), 1);
  let scale = denominators.length > 0 && lcm <= 100_000 ? lcm : 0;
  if (scale && diffs.some((d) => Math.abs(d * scale - Math.round(d * scale)) > 1e-6)) scale = 0;
  const a: number[] = [];
  let observed = 0;
  for (const d of diffs) {
    if (!Number.isFinite(d)) throw new Error(`signFlipTest: difference ${d} is not a finite number`);
    const v = scale ? Math.round(d * scale) : d;
    if (v !== 0) a.push(Math.abs(v));
    observed += v;
  }
  if (a.length === 0) return 1;
  const total = a.reduce((x, y) => x + y, 0);
  if (scale && total * a.length <= 4e7) {
    // Exact: probability of each sum Σ s_i a_i, offset by `total`.
    let p = new Float64Array(2 * total + 1);
    p[total] = 1;
    let reach = 0;
    for (const x of a) {
      const q = new Float64Array(2 * total + 1);
      for (let s = total - reach; s <= total + reach; s++) {
        const v = p[s]!;
        if (v === 0) continue;
        q[s - x] = q[s - x]! + v / 2;
        q[s + x] = q[s + x]! + v / 2;
      }
      reach += x;
      p = q;
    }
    const t = Math.round(observed);
    let ge = 0;
    let le = 0;
    for (let s = -total; s <= total; s++) {
      const v = p[s + total]!;
      if (s >= t) ge += v;
      if (s <= t) le += v;
    }
    return clean(Math.min(1, 2 * Math.min(ge, le)));
  }
  const rand = mulberry32(opts.seed ?? 0x5eed);
  const n = opts.resamples ?? 20000;
  const tol = Math.abs(observed) * 1e-12;
  let ge = 0;
  let le = 0;
  for (let b = 0; b < n; b++) {
    let sum = 0;
    for (const x of a) sum += rand() < 0.5 ? x : -x;
    if (sum >= observed - tol) ge++;
    if (sum <= observed + tol) le++;
  }
  // The observed sign vector is one of the possible ones: counted once in each tail (Phipson & Smyth).
  return clean(Math.min(1, (2 * Math.min(ge + 1, le + 1)) / (n + 1)));
}

function gcdOf(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function lcmOf(a: number, b: number): number {
  return (a / gcdOf(a, b)) * b;
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
  /** Fewest samples behind any case (present when cases were sampled more than once). */
  samples?: number;
}

/**
 * Pass-rate comparison of paired cases: delta, bootstrap CI, exact McNemar p, detectable drop.
 * Cases with several samples (baseSamples/headSamples > 1) are compared on their pass fractions:
 * the bootstrap resamples cases (each case's samples stay together), the p-value is the exact
 * sign-flip test on per-case fraction differences, a flip is a move of at least FLIP_THRESHOLD,
 * and the detectable drop accounts for the samples.
 */
export function pairedPassStats(
  pairs: readonly PairedOutcome[],
  opts: { alpha: number; seed: number; iterations?: number },
): PairedPassStats {
  if (pairs.some((p) => (p.baseSamples ?? 1) > 1 || (p.headSamples ?? 1) > 1)) return sampledPassStats(pairs, opts);
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

/** One case under two versions: pass/fail, and with several samples their pass fractions. */
export interface PairedOutcome {
  base: boolean;
  head: boolean;
  /** Pass fraction over the case's samples (default: 1 or 0 from `base`). */
  baseFraction?: number;
  headFraction?: number;
  /** Samples behind each fraction (default 1). */
  baseSamples?: number;
  headSamples?: number;
}

const fractionOf = (pass: boolean, f: number | undefined) => (typeof f === "number" && Number.isFinite(f) ? f : pass ? 1 : 0);

function sampledPassStats(pairs: readonly PairedOutcome[], opts: { alpha: number; seed: number; iterations?: number }): PairedPassStats {
  const n = pairs.length;
  const base = pairs.map((p) => fractionOf(p.base, p.baseFraction));
  const head = pairs.map((p) => fractionOf(p.head, p.headFraction));
  const diffs = head.map((h, i) => h - base[i]!);
  const denominators = pairs.flatMap((p) => [p.baseSamples ?? 1, p.headSamples ?? 1]);
  let regressions = 0;
  let fixes = 0;
  for (const d of diffs) {
    if (d <= -FLIP_THRESHOLD + 1e-9) regressions++;
    else if (d >= FLIP_THRESHOLD - 1e-9) fixes++;
  }
  const { delta, ci } = pairedBootstrap(base, head, { seed: opts.seed, iterations: opts.iterations, confidence: 0.95 });
  const samples = Math.min(...pairs.map((p) => Math.min(p.baseSamples ?? 1, p.headSamples ?? 1)));
  return {
    cases: n,
    basePassRate: n ? clean(base.reduce((a, b) => a + b, 0) / n) : 0,
    headPassRate: n ? clean(head.reduce((a, b) => a + b, 0) / n) : 0,
    delta,
    ci,
    pValue: signFlipTest(diffs, denominators, { seed: opts.seed }),
    regressions,
    fixes,
    minDetectableDrop: minDetectableDrop(n, opts.alpha, samples),
    samples,
  };
}

/** Whether two pass fractions of a case differ by a flip (FLIP_THRESHOLD), and which way. */
export function flipOf(base: number, head: number): "regression" | "fix" | null {
  if (head - base <= -FLIP_THRESHOLD + 1e-9) return "regression";
  if (head - base >= FLIP_THRESHOLD - 1e-9) return "fix";
  return null;
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

export interface PairedCase extends PairedOutcome {
  id: string;
  tags: readonly string[];
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
  // Sampled cases (temperature > 0, several samples each) differ by chance: there a drop past the
  // gate's limit fails only when the paired test also calls it significant.
  const sampled = overall.samples !== undefined;
  const significant = (s: PairedPassStats) => !sampled || s.pValue < gate.alpha;
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
    return { name, ...s, failsGate: -s.delta > gate.maxSliceDrop + GATE_EPS && significant(s) };
  });
  slices.sort((a, b) => a.delta - b.delta || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const reasons: string[] = [];
  const warnings: string[] = [];
  const sig = (s: PairedPassStats) => (sampled ? `, p ${fmtP(s.pValue)}` : "");
  if (-overall.delta > gate.maxPassRateDrop + GATE_EPS) {
    const line = `${label}: pass rate dropped ${fmtPp(overall.delta)} (${fmtPct(overall.basePassRate)} → ${fmtPct(overall.headPassRate)}, ${overall.regressions} regression(s)${sig(overall)}); the gate allows ${fmtPct(gate.maxPassRateDrop)}`;
    if (significant(overall)) reasons.push(line);
    else warnings.push(`${line}, but the drop is not significant at alpha ${gate.alpha} over ${overall.samples} samples per case: no significant change`);
  }
  for (const s of slices) {
    if (-s.delta <= gate.maxSliceDrop + GATE_EPS) continue;
    const line = `${label}: slice '${s.name}' dropped ${fmtPp(s.delta)} (${fmtPct(s.basePassRate)} → ${fmtPct(s.headPassRate)} on ${s.cases} case(s)${sig(s)}); the gate allows ${fmtPct(gate.maxSliceDrop)}`;
    if (s.failsGate) reasons.push(line);
    else warnings.push(`${line}, but the drop is not significant at alpha ${gate.alpha}: no significant change`);
  }
  const small = slices.filter((s) => s.minDetectableDrop === null || s.minDetectableDrop > gate.maxSliceDrop + GATE_EPS);
  if (small.length) {
    const k = minSignificantFlips(gate.alpha);
    const need = Math.max(k, Math.ceil(k / (Math.max(gate.maxSliceDrop, 1e-9) * (overall.samples ?? 1)) - 1e-9));
    warnings.push(
      `${label}: ${small.length === 1 ? "slice" : "slices"} ${small.slice(0, 6).map((s) => `'${s.name}' (${s.cases})`).join(", ")}${small.length > 6 ? ` and ${small.length - 6} more` : ""} ${small.length === 1 ? "has" : "have"} too few cases to detect a drop of ${fmtPct(gate.maxSliceDrop)} at alpha ${gate.alpha} (needs at least ${need} cases${sampled ? ` at ${overall.samples} samples each` : ""})`,
    );
  }
  return { overall, slices, passed: reasons.length === 0, reasons, warnings };
}

function fmtP(p: number): string {
  return p < 0.001 ? "< 0.001" : String(Number(p.toFixed(3)));
}

function fmtPct(x: number): string {
  return `${Number((x * 100).toFixed(1))}%`;
}

function fmtPp(x: number): string {
  return `${Number((Math.abs(x) * 100).toFixed(1))} pp`;
}

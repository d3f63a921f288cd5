// How many cases a slice needs before a pass-rate drop can show up as significant.
//
// Driftlens compares variants pairwise (same case, two versions) with an exact one-sided McNemar
// test on the discordant cases. The most favourable outcome of a true drop of `drop` on n cases
// is floor(drop * n) cases flipping pass→fail and none the other way; its exact one-sided p-value
// is 0.5^k. If even that is not below alpha, no drop of that size can be detected on the slice.
// This gives an exact, assumption-free lower bound on the slice size (n ≥ 50 for a 10-point drop
// at alpha 0.05); more cases are needed when flips also go the other way.

/** Exact one-sided McNemar p-value: P(X ≥ b) for X ~ Binomial(b + c, 1/2), b = pass→fail flips. */
export function mcnemarOneSidedP(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  // Sum in log space to stay exact enough for large n.
  let logTerm = -n * Math.LN2; // log C(n,0) + n log 0.5
  const logs: number[] = [];
  for (let k = 0; k <= n; k++) {
    if (k > 0) logTerm += Math.log((n - k + 1) / k);
    if (k >= b) logs.push(logTerm);
  }
  const max = Math.max(...logs);
  return Math.min(1, Math.exp(max) * logs.reduce((s, l) => s + Math.exp(l - max), 0));
}

/** Whether a drop of `drop` (0..1) on n paired cases can reach significance at `alpha`. */
export function canDetectDrop(n: number, drop: number, alpha: number): boolean {
  const k = Math.floor(drop * n + 1e-9);
  return k >= 1 && mcnemarOneSidedP(k, 0) <= alpha;
}

/**
 * Smallest number of cases on which a drop of `drop` can be significant at `alpha` (one-sided).
 * With `samples` (N > 1) draws per case the comparison is the exact sign-flip test on per-case
 * pass fractions, whose most favourable outcome is m cases moving down and none up (p = 0.5^m,
 * as McNemar's with m flips); but a case can now move by a single sample, 1/N. So k cases must
 * move (n ≥ k) and the drop must hold k single samples: floor(drop · n · N) ≥ k.
 */
export function minCasesToDetectDrop(drop: number, alpha: number, samples = 1): number {
  if (!(drop > 0 && drop <= 1) || !(alpha > 0 && alpha < 1)) throw new RangeError(`drop must be in (0, 1] and alpha in (0, 1); got drop ${drop}, alpha ${alpha}`);
  // k flips needed: smallest k with 0.5^k ≤ alpha; n is the smallest with floor(drop n) ≥ k.
  const k = Math.ceil(Math.log2(1 / alpha) - 1e-12);
  if (samples > 1) {
    let n = Math.max(k, Math.ceil(k / (drop * samples) - 1e-9));
    while (Math.floor(drop * n * samples + 1e-9) < k) n++;
    return n;
  }
  let n = Math.max(1, Math.ceil(k / drop - 1e-9));
  while (!canDetectDrop(n, drop, alpha)) n++;
  while (n > 1 && canDetectDrop(n - 1, drop, alpha)) n--;
  return n;
}

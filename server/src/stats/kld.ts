// Teacher-forced divergence between a reference variant and a candidate, per position, per case
// and per slice — llama.cpp's perplexity-tool KLD statistics, on the user's own eval cases.
//
// How it is measured. The reference's greedy output tokens are forced through both models
// (EngineClient.score). At each position the reference gives its top-K distribution p (K = 20 by
// default) and the candidate gives q for the same token ids (the `probe`). KL(p‖q) is computed
// over those K ids plus ONE bucket for all the remaining mass:
//   p_rest = 1 − Σ p(topK),  q_rest = 1 − Σ q(topK)
//   KL = Σ_i p_i·ln(p_i / q_i) + p_rest·ln(p_rest / q_rest)
// with every probability clamped below at EPS (1e-10) so a token the candidate gives ~0 mass costs
// a large but finite amount. Bucketing the tail makes this a lower bound of the full-vocabulary KL
// (the log-sum inequality), exact when top-K holds all the mass; for K = 20 on the models we ship
// the tail holds well under 1% of the mass. The reference against itself is exactly 0 (short
// circuit, no model call).
import { KldAccumulator, type KldStatistics, type PositionValues } from "./kld-stats";
import { clean, summarize, type Summary } from "./stats";

/**
 * One teacher-forced position as the engine scores it (the engine's ScoredPosition has this shape;
 * stated here so statistics import nothing above them).
 */
export interface ScoredPositionLike {
  /** Probability of the forced token at this position. */
  forcedProb: number;
  /** The model's top-K, most likely first. */
  top: readonly { token: number; prob: number }[];
  /** Probabilities of the probe ids, in probe order (absent when no probe was given). */
  probe?: readonly number[];
}

export const DEFAULT_KLD_TOP_K = 20;
export const KLD_EPS = 1e-10;

export interface PositionDivergence {
  kld: number;
  /** The candidate's most likely token equals the reference's. */
  top1Agree: boolean;
  /** q(reference token) − p(reference token): negative when the candidate is less sure. */
  deltaP: number;
  /** −ln q(reference token) and −ln p(reference token) (absent in divergences stored before they were kept). */
  nll?: number;
  nllBase?: number;
}

/** KL(ref‖cand) at one position from the reference's top-K and the candidate's probe of those ids. */
export function positionDivergence(ref: ScoredPositionLike, cand: ScoredPositionLike, topK = DEFAULT_KLD_TOP_K): PositionDivergence {
  const refTop = ref.top.slice(0, topK);
  const probe = cand.probe;
  if (!probe || probe.length < refTop.length) {
    throw new Error(`candidate scored ${probe?.length ?? 0} probe ids at a position where the reference has ${refTop.length}; score the candidate with probe = the reference's top-K ids`);
  }
  let kld = 0;
  let pSum = 0;
  let qSum = 0;
  for (let i = 0; i < refTop.length; i++) {
    const p = refTop[i]!.prob;
    const q = probe[i]!;
    pSum += p;
    qSum += q;
    if (p > 0) kld += p * Math.log(Math.max(p, KLD_EPS) / Math.max(q, KLD_EPS));
  }
  const pRest = Math.max(KLD_EPS, 1 - pSum);
  const qRest = Math.max(KLD_EPS, 1 - qSum);
  kld += pRest * Math.log(pRest / qRest);
  const refTop1 = refTop[0]?.token;
  const candTop1 = cand.top[0]?.token;
  return {
    // Rounding in the probabilities can push a near-zero KL a hair below 0.
    kld: Math.max(0, kld),
    top1Agree: refTop1 !== undefined && refTop1 === candTop1,
    deltaP: cand.forcedProb - ref.forcedProb,
    nll: -Math.log(Math.max(cand.forcedProb, KLD_EPS)),
    nllBase: -Math.log(Math.max(ref.forcedProb, KLD_EPS)),
  };
}

/** First index where two greedy outputs differ; null when identical. */
export function firstDivergence(refTokens: readonly number[], candTokens: readonly number[]): number | null {
  const n = Math.min(refTokens.length, candTokens.length);
  for (let i = 0; i < n; i++) if (refTokens[i] !== candTokens[i]) return i;
  return refTokens.length === candTokens.length ? null : n;
}

export interface CaseDivergence {
  id: string;
  positions: number;
  kld: Summary;
  top1Agreement: number;
  meanDeltaP: number;
  /** First position where the candidate's own greedy output departs from the reference's. */
  firstDivergence: number | null;
  /** Per-position values, kept for slice pooling (not printed in reports). */
  perPosition: PositionDivergence[];
}

/** Divergence of one case. `refTokens`/`candTokens` are the two greedy outputs (token ids). */
export function caseDivergence(
  id: string,
  ref: readonly ScoredPositionLike[],
  cand: readonly ScoredPositionLike[],
  refTokens: readonly number[],
  candTokens: readonly number[],
  topK = DEFAULT_KLD_TOP_K,
): CaseDivergence {
  if (ref.length !== cand.length) throw new Error(`case '${id}': reference scored ${ref.length} positions but the candidate ${cand.length}`);
  const perPosition = ref.map((r, i) => positionDivergence(r, cand[i]!, topK));
  return summarizeCase(id, perPosition, firstDivergence(refTokens, candTokens));
}

/** The reference compared with itself: exactly zero divergence, full agreement, no model call. */
export function identicalCase(id: string, positions: number): CaseDivergence {
  const perPosition = Array.from({ length: positions }, () => ({ kld: 0, top1Agree: true, deltaP: 0, nll: 0, nllBase: 0 }));
  return summarizeCase(id, perPosition, null);
}

/** A case scored over the whole vocabulary by the engine (DivergenceResult values of one candidate). */
export function fullVocabularyCase(id: string, v: PositionValues, nllBase: readonly number[], refTokens: readonly number[], candTokens: readonly number[]): CaseDivergence {
  const perPosition: PositionDivergence[] = v.kld.map((kld, i) => ({ kld, top1Agree: v.sameTop[i]!, deltaP: v.dp[i]!, nll: v.nll[i]!, nllBase: nllBase[i]! }));
  return summarizeCase(id, perPosition, firstDivergence(refTokens, candTokens));
}

/** llama-perplexity's statistics over the positions of some cases (a slice, or the whole eval). */
export function poolStatistics(cases: readonly CaseDivergence[]): KldStatistics {
  const acc = new KldAccumulator();
  for (const c of cases) for (const p of c.perPosition) acc.add(p.kld, p.deltaP, p.nll ?? 0, p.nllBase ?? 0, p.top1Agree);
  return acc.summary();
}

function summarizeCase(id: string, perPosition: PositionDivergence[], first: number | null): CaseDivergence {
  const n = perPosition.length;
  return {
    id,
    positions: n,
    kld: summarize(perPosition.map((p) => p.kld)),
    top1Agreement: n ? clean(perPosition.filter((p) => p.top1Agree).length / n) : 1,
    meanDeltaP: n ? clean(perPosition.reduce((a, p) => a + p.deltaP, 0) / n) : 0,
    firstDivergence: first,
    perPosition,
  };
}

export interface PooledDivergence {
  cases: number;
  positions: number;
  kld: Summary;
  top1Agreement: number;
  meanDeltaP: number;
  /** Cases whose greedy output differs from the reference's somewhere. */
  divergedCases: number;
}

/** Pools every position of the given cases (a slice, or the whole eval) into one summary. */
export function poolDivergence(cases: readonly CaseDivergence[]): PooledDivergence {
  const all = cases.flatMap((c) => c.perPosition);
  const n = all.length;
  return {
    cases: cases.length,
    positions: n,
    kld: summarize(all.map((p) => p.kld)),
    top1Agreement: n ? clean(all.filter((p) => p.top1Agree).length / n) : 1,
    meanDeltaP: n ? clean(all.reduce((a, p) => a + p.deltaP, 0) / n) : 0,
    divergedCases: cases.filter((c) => c.firstDivergence !== null).length,
  };
}

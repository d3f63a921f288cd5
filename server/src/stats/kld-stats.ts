// The quantization statistics llama.cpp's `llama-perplexity --kl-divergence` prints, computed from
// per-position values (llm/position-divergence.ts), with its definitions (tools/perplexity/
// perplexity.cpp, `kl_divergence`):
// - mean ± uncertainty: mean of the values and sqrt((Σx²/n − mean²)/(n − 1)), 0 when n ≤ 10;
// - PPL = exp(mean nll); Cor(ln PPL(Q), ln PPL(base)) from the covariance of the two nll series;
//   ln(PPL(Q)/PPL(base)) = mean nll − mean nllBase, uncertainty sqrt(u_Q² + u_base² − 2·cov);
// - percentiles by linear interpolation at fraction·(n − 1) of the sorted values, the median as
//   the mean of the two middle values when n is even;
// - RMS Δp = sqrt(mean Δp²), uncertainty 0.5/RMS · u(Δp²); same top p = share of positions whose
//   most likely token agrees, uncertainty sqrt(p(1 − p)/(n − 1)).
// Positions are treated as independent, as llama-perplexity does. Rates and Δp are fractions here
// (llama-perplexity prints percent). Memory: running sums plus one float64 per position for the
// KLD and Δp percentiles — nothing per vocabulary entry.

/**
 * Per-position values of one candidate (the engine's DivergenceValues has this shape; stated here
 * so statistics import nothing above them).
 */
export interface PositionValues {
  kld: readonly number[];
  dp: readonly number[];
  nll: readonly number[];
  sameTop: readonly boolean[];
}

export interface KldDistribution {
  mean: number;
  stderr: number;
  max: number;
  p99_9: number;
  p99: number;
  p95: number;
  p90: number;
  median: number;
  p10: number;
  p5: number;
  p1: number;
  p0_1: number;
  min: number;
}

export interface DpDistribution extends KldDistribution {
  p75: number;
  p25: number;
  rms: number;
  rmsStderr: number;
}

export interface PplStatistics {
  /** PPL(Q): the candidate's perplexity of the text. */
  value: number;
  /** PPL(base): the reference's. */
  reference: number;
  /** PPL(Q)/PPL(base) = exp(lnRatio.mean). */
  ratio: number;
  lnRatio: { mean: number; stderr: number };
  /** Cor(ln PPL(Q), ln PPL(base)), −1..1. */
  cor: number;
}

export interface KldStatistics {
  /** Scored positions. */
  tokens: number;
  ppl: PplStatistics;
  kld: KldDistribution;
  dp: DpDistribution;
  sameTop: { rate: number; stderr: number };
}

/** llama-perplexity's mean_and_uncertainty. */
export function meanAndUncertainty(sum: number, sum2: number, count: number): { mean: number; stderr: number } {
  if (count < 1) return { mean: 0, stderr: 0 };
  const mean = sum / count;
  const v = sum2 / count - mean * mean;
  return { mean, stderr: v > 0 && count > 10 ? Math.sqrt(v / (count - 1)) : 0 };
}

/** llama-perplexity's percentile: linear interpolation at fraction·(n − 1) of ascending values. */
export function percentileSorted(sorted: ArrayLike<number>, fraction: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  if (fraction <= 0) return sorted[0]!;
  if (fraction >= 1) return sorted[n - 1]!;
  const p = fraction * (n - 1);
  const i = Math.floor(p);
  const w = p - i;
  return (1 - w) * sorted[i]! + w * sorted[Math.min(i + 1, n - 1)]!;
}

/** Median as llama-perplexity takes it: the middle value, or the mean of the two middle values. */
export function medianSorted(sorted: ArrayLike<number>): number {
  const n = sorted.length;
  if (n === 0) return 0;
  return n % 2 === 0 ? 0.5 * (sorted[n / 2]! + sorted[n / 2 - 1]!) : sorted[(n - 1) / 2]!;
}

/** A float64 list that grows by doubling (one number per scored position). */
class Values {
  private buf = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.length).sort();
  }
}

/** Accumulates per-position values; summary() gives llama-perplexity's statistics. */
export class KldAccumulator {
  private count = 0;
  private sumNll = 0;
  private sumNll2 = 0;
  private sumNllBase = 0;
  private sumNllBase2 = 0;
  private sumNllNllBase = 0;
  private sumKld = 0;
  private sumKld2 = 0;
  private sumDp = 0;
  private sumDp2 = 0;
  private sumDp4 = 0;
  private sameTop = 0;
  private readonly klds = new Values();
  private readonly dps = new Values();

  get tokens(): number {
    return this.count;
  }

  add(kld: number, dp: number, nll: number, nllBase: number, sameTop: boolean): void {
    this.count++;
    this.sumNll += nll;
    this.sumNll2 += nll * nll;
    this.sumNllBase += nllBase;
    this.sumNllBase2 += nllBase * nllBase;
    this.sumNllNllBase += nll * nllBase;
    this.sumKld += kld;
    this.sumKld2 += kld * kld;
    this.sumDp += dp;
    const dp2 = dp * dp;
    this.sumDp2 += dp2;
    this.sumDp4 += dp2 * dp2;
    if (sameTop) this.sameTop++;
    this.klds.push(kld);
    this.dps.push(dp);
  }

  /** Every position of one candidate's values from a divergence result. */
  addValues(v: PositionValues, nllBase: readonly number[]): void {
    if (v.kld.length !== nllBase.length) throw new Error(`${v.kld.length} candidate positions but ${nllBase.length} reference positions`);
    for (let i = 0; i < v.kld.length; i++) this.add(v.kld[i]!, v.dp[i]!, v.nll[i]!, nllBase[i]!, v.sameTop[i]!);
  }

  summary(): KldStatistics {
    const n = this.count;
    const q = meanAndUncertainty(this.sumNll, this.sumNll2, n);
    const b = meanAndUncertainty(this.sumNllBase, this.sumNllBase2, n);
    const cov = n < 10 ? 0 : (this.sumNllNllBase / n - (this.sumNll / n) * (this.sumNllBase / n)) / (n - 1);
    const cor = q.stderr > 0 && b.stderr > 0 ? cov / (q.stderr * b.stderr) : n > 0 ? 1 : 0;
    const lnRatio = q.mean - b.mean;
    const lnVar = q.stderr * q.stderr + b.stderr * b.stderr - 2 * cov;
    const kld = meanAndUncertainty(this.sumKld, this.sumKld2, n);
    const dp = meanAndUncertainty(this.sumDp, this.sumDp2, n);
    const mse = meanAndUncertainty(this.sumDp2, this.sumDp4, n);
    const rms = Math.sqrt(mse.mean);
    const top = n ? this.sameTop / n : 1;
    const ks = this.klds.sorted();
    const ds = this.dps.sorted();
    const tails = (s: Float64Array) => ({
      max: n ? s[n - 1]! : 0,
      p99_9: percentileSorted(s, 0.999),
      p99: percentileSorted(s, 0.99),
      p95: percentileSorted(s, 0.95),
      p90: percentileSorted(s, 0.9),
      median: medianSorted(s),
      p10: percentileSorted(s, 0.1),
      p5: percentileSorted(s, 0.05),
      p1: percentileSorted(s, 0.01),
      p0_1: percentileSorted(s, 0.001),
      min: n ? s[0]! : 0,
    });
    const kt = tails(ks);
    const dt = tails(ds);
    return {
      tokens: n,
      ppl: {
        value: Math.exp(q.mean),
        reference: Math.exp(b.mean),
        ratio: Math.exp(lnRatio),
        lnRatio: { mean: lnRatio, stderr: Math.sqrt(Math.max(0, lnVar)) },
        cor,
      },
      kld: { mean: kld.mean, stderr: kld.stderr, ...kt },
      dp: {
        mean: dp.mean,
        stderr: dp.stderr,
        max: dt.max,
        p99_9: dt.p99_9,
        p99: dt.p99,
        p95: dt.p95,
        p90: dt.p90,
        p75: percentileSorted(ds, 0.75),
        median: dt.median,
        p25: percentileSorted(ds, 0.25),
        p10: dt.p10,
        p5: dt.p5,
        p1: dt.p1,
        p0_1: dt.p0_1,
        min: dt.min,
        rms,
        rmsStderr: rms > 0 ? (0.5 / rms) * mse.stderr : 0,
      },
      sameTop: { rate: top, stderr: n > 1 ? Math.sqrt((top * (1 - top)) / (n - 1)) : 0 },
    };
  }
}

// Per-position divergence of a candidate model's next-token distribution from a reference's, over
// the whole vocabulary, with the definitions llama.cpp's `llama-perplexity --kl-divergence` uses
// (tools/perplexity/perplexity.cpp in the llama.cpp source node-llama-cpp ships):
//   nll      = −ln q(token)               (candidate)      nllBase = −ln p(token)   (reference)
//   kld      = Σ_i p_i · (ln p_i − ln q_i) over the vocabulary
//   dp       = q(token) − p(token)         ("Δp")
//   sameTop  = argmax q == argmax p
// Pure arithmetic on logits (no node-llama-cpp), so the engine worker can run it on logits as they
// come out of llama.cpp and tests can run it on numbers. Memory is fixed when the object is made:
// `slots` reference positions of `vocab` values each, reused position after position, so nothing
// here grows with the length of the text.
//
// Two ways to hold the reference:
// - "exact": reference log-probabilities in float64, the sums in float64.
// - "llama16": what llama-perplexity does. Its base pass stores each position's log-probabilities
//   as 16-bit integers (a scale and an offset per position, values below max−16 clamped), and its
//   KL pass reads them back, skips terms whose stored log-probability is ≤ −16, and computes in
//   float32. Emulated here with Math.fround so the effect of that storage can be measured on the
//   same logits (it is what separates our figures from llama-perplexity's on near-identical models).

export type ReferenceStorage = "exact" | "llama16";

export interface PositionValues {
  kld: number;
  dp: number;
  nll: number;
  nllBase: number;
  sameTop: boolean;
}

/** A candidate known only by its top-K log-probabilities at a position (e.g. a server's prompt logprobs). */
export interface TopKPosition {
  /** Token ids, any order. */
  ids: ArrayLike<number>;
  /** ln q of each id. */
  logprobs: ArrayLike<number>;
  /** ln q of the text's next token (servers report it even outside the top-K). */
  tokenLogprob: number;
}

/** Floor for probabilities in the top-K + rest estimate: a token the candidate gives ~0 costs a large but finite amount. */
export const TOPK_EPS = 1e-10;

const f = Math.fround;
/** llama.cpp's nearest_int: round half to even through the float32 magic-number trick. */
const nearestInt = (x: number) => f(f(x) + 12582912) - 12582912;

export class DivergenceMath {
  readonly vocab: number;
  readonly slots: number;
  readonly storage: ReferenceStorage;
  // exact storage: ln p per slot
  private readonly logp: Float64Array | undefined;
  // llama16 storage: quantized ln p per slot, with its scale and offset
  private readonly q16: Uint16Array | undefined;
  private readonly scale: Float32Array;
  private readonly minLogProb: Float32Array;
  private readonly nllBase: Float64Array;
  private readonly argmaxBase: Int32Array;
  private readonly token: Int32Array;

  constructor(vocab: number, slots: number, storage: ReferenceStorage = "exact") {
    if (!Number.isInteger(vocab) || vocab < 2) throw new Error(`vocabulary size must be an integer ≥ 2, not ${vocab}`);
    if (!Number.isInteger(slots) || slots < 1) throw new Error(`slots must be a positive integer, not ${slots}`);
    this.vocab = vocab;
    this.slots = slots;
    this.storage = storage;
    if (storage === "exact") this.logp = new Float64Array(vocab * slots);
    else this.q16 = new Uint16Array(vocab * slots);
    this.scale = new Float32Array(slots);
    this.minLogProb = new Float32Array(slots);
    this.nllBase = new Float64Array(slots);
    this.argmaxBase = new Int32Array(slots);
    this.token = new Int32Array(slots);
  }

  private check(slot: number, logits: ArrayLike<number>): void {
    if (slot < 0 || slot >= this.slots) throw new Error(`slot ${slot} is outside 0..${this.slots - 1}`);
    if (logits.length < this.vocab) throw new Error(`got ${logits.length} logits for a vocabulary of ${this.vocab}`);
  }

  /** Stores the reference distribution at `slot` from its logits; `token` is the text's next token. */
  setReference(slot: number, logits: ArrayLike<number>, token: number): void {
    this.check(slot, logits);
    if (!(token >= 0 && token < this.vocab)) throw new Error(`token ${token} is outside the vocabulary of ${this.vocab}`);
    this.token[slot] = token;
    if (this.logp) this.setExact(slot, logits, token);
    else this.setLlama16(slot, logits, token);
  }

  private setExact(slot: number, logits: ArrayLike<number>, token: number): void {
    const V = this.vocab;
    let max = logits[0]!;
    let imax = 0;
    for (let i = 1; i < V; i++) {
      if (logits[i]! > max) {
        max = logits[i]!;
        imax = i;
      }
    }
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[i]! - max);
    const lse = max + Math.log(sum);
    const out = this.logp!;
    const base = slot * V;
    for (let i = 0; i < V; i++) out[base + i] = logits[i]! - lse;
    this.nllBase[slot] = lse - logits[token]!;
    this.argmaxBase[slot] = imax;
  }

  /** llama-perplexity's base pass (log_softmax writing uint16), float32 arithmetic emulated. */
  private setLlama16(slot: number, logits: ArrayLike<number>, token: number): void {
    const V = this.vocab;
    let maxLogit = f(logits[0]!);
    let minLogit = maxLogit;
    for (let i = 1; i < V; i++) {
      const l = f(logits[i]!);
      if (l > maxLogit) maxLogit = l;
      if (l < minLogit) minLogit = l;
    }
    minLogit = Math.max(minLogit, f(maxLogit - 16));
    let sumExp = 0;
    for (let i = 0; i < V; i++) sumExp += f(Math.exp(f(f(logits[i]!) - maxLogit)));
    const logSumExp = f(Math.log(sumExp));
    const minLogProb = f(f(minLogit - maxLogit) - logSumExp);
    const scale = f(f(maxLogit - minLogit) / 65535);
    const q = this.q16!;
    const base = slot * V;
    if (scale) {
      const inv = f(1 / scale);
      for (let i = 0; i < V; i++) {
        const l = f(logits[i]!);
        q[base + i] = l > minLogit ? nearestInt(f(inv * f(l - minLogit))) : 0;
      }
    } else q.fill(0, base, base + V);
    this.scale[slot] = scale;
    this.minLogProb[slot] = minLogProb;
    // What the KL pass reads back: the dequantized values, first maximum wins.
    let best = 0;
    let bestV = -Infinity;
    for (let i = 0; i < V; i++) {
      const v = f(f(scale * q[base + i]!) + minLogProb);
      if (i === 0 || v > bestV) {
        bestV = v;
        best = i;
      }
    }
    this.argmaxBase[slot] = best;
    this.nllBase[slot] = -f(f(scale * q[base + token]!) + minLogProb);
  }

  /** −ln p(next token) of the reference at `slot` (as stored). */
  referenceNll(slot: number): number {
    return this.nllBase[slot]!;
  }

  /** The reference's ln p of `id` at `slot` (as stored). */
  referenceLogprob(slot: number, id: number): number {
    if (this.logp) return this.logp[slot * this.vocab + id]!;
    return f(f(this.scale[slot]! * this.q16![slot * this.vocab + id]!) + this.minLogProb[slot]!);
  }

  /** The candidate's full logits at the position stored in `slot`. */
  compare(slot: number, logits: ArrayLike<number>): PositionValues {
    this.check(slot, logits);
    return this.logp ? this.compareExact(slot, logits) : this.compareLlama16(slot, logits);
  }

  private compareExact(slot: number, logits: ArrayLike<number>): PositionValues {
    const V = this.vocab;
    let max = logits[0]!;
    let imax = 0;
    for (let i = 1; i < V; i++) {
      if (logits[i]! > max) {
        max = logits[i]!;
        imax = i;
      }
    }
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[i]! - max);
    const lse = max + Math.log(sum);
    const lp = this.logp!;
    const base = slot * V;
    let kld = 0;
    for (let i = 0; i < V; i++) {
      const a = lp[base + i]!;
      const p = Math.exp(a);
      if (p > 0) kld += p * (a - (logits[i]! - lse));
    }
    const tok = this.token[slot]!;
    const nll = lse - logits[tok]!;
    const nllBase = this.nllBase[slot]!;
    return {
      // Rounding can leave a hair below 0 where the two distributions are equal; KL is never negative.
      kld: kld > 0 ? kld : 0,
      dp: Math.exp(-nll) - Math.exp(-nllBase),
      nll,
      nllBase,
      sameTop: imax === this.argmaxBase[slot],
    };
  }

  /** llama-perplexity's KL pass (log_softmax against the uint16 base), float32 arithmetic emulated. */
  private compareLlama16(slot: number, logits: ArrayLike<number>): PositionValues {
    const V = this.vocab;
    let maxLogit = f(logits[0]!);
    let imax = 0;
    for (let i = 1; i < V; i++) {
      const l = f(logits[i]!);
      if (l > maxLogit) {
        maxLogit = l;
        imax = i;
      }
    }
    let sumExp = 0;
    for (let i = 0; i < V; i++) sumExp += f(Math.exp(f(f(logits[i]!) - maxLogit)));
    const logSumExp = f(Math.log(sumExp));
    const tok = this.token[slot]!;
    const nll = f(f(maxLogit + logSumExp) - f(logits[tok]!));
    const nllBase = this.nllBase[slot]!;
    const top = f(maxLogit + logSumExp);
    const scale = this.scale[slot]!;
    const minLogProb = this.minLogProb[slot]!;
    const q = this.q16!;
    const base = slot * V;
    let kld = 0;
    for (let i = 0; i < V; i++) {
      const plb = f(f(scale * q[base + i]!) + minLogProb);
      if (plb > -16) {
        const pBase = f(Math.exp(plb));
        kld += f(pBase * f(f(plb - f(logits[i]!)) + top));
      }
    }
    const pBase = f(Math.exp(-nllBase));
    const p = f(Math.exp(-nll));
    return { kld, dp: f(p - pBase), nll, nllBase, sameTop: imax === this.argmaxBase[slot] };
  }

  /**
   * A candidate known only by its top-K: KL over those K ids plus one bucket for the rest of the
   * mass (p_rest = 1 − Σp, q_rest = 1 − Σq), a lower bound of the full-vocabulary KL (log-sum
   * inequality), equal to it when the K ids hold all the mass.
   */
  compareTopK(slot: number, cand: TopKPosition): PositionValues {
    if (slot < 0 || slot >= this.slots) throw new Error(`slot ${slot} is outside 0..${this.slots - 1}`);
    const n = cand.ids.length;
    if (cand.logprobs.length !== n) throw new Error(`top-K candidate has ${n} ids but ${cand.logprobs.length} log-probabilities`);
    let kld = 0;
    let pSum = 0;
    let qSum = 0;
    let best = -1;
    let bestLp = -Infinity;
    for (let i = 0; i < n; i++) {
      const id = cand.ids[i]!;
      if (!(id >= 0 && id < this.vocab)) throw new Error(`top-K candidate names token ${id}, outside the vocabulary of ${this.vocab}`);
      const lq = cand.logprobs[i]!;
      const lp = this.referenceLogprob(slot, id);
      const p = Math.exp(lp);
      const q = Math.exp(lq);
      pSum += p;
      qSum += q;
      if (p > 0) kld += p * (Math.max(lp, Math.log(TOPK_EPS)) - Math.max(lq, Math.log(TOPK_EPS)));
      if (lq > bestLp || (lq === bestLp && id < best)) {
        bestLp = lq;
        best = id;
      }
    }
    const pRest = Math.max(TOPK_EPS, 1 - pSum);
    const qRest = Math.max(TOPK_EPS, 1 - qSum);
    kld += pRest * Math.log(pRest / qRest);
    const nllBase = this.nllBase[slot]!;
    const nll = -cand.tokenLogprob;
    return { kld: kld > 0 ? kld : 0, dp: Math.exp(-nll) - Math.exp(-nllBase), nll, nllBase, sameTop: best === this.argmaxBase[slot] };
  }
}

// The arithmetic of corpus KL divergence, against independent formulations written here:
// per-position full-vocabulary KL, Δp, nll and same-top (llm/position-divergence.ts), the emulation
// of llama-perplexity's 16-bit reference storage, the top-K + rest estimate for top-K-only
// candidates, and llama-perplexity's summary statistics (stats/kld-stats.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { corpusChunks, corpusText } from "../../../server/src/eval/corpus-kld";
import { KldAccumulator, medianSorted, percentileSorted } from "../../../server/src/stats/kld-stats";
import { DivergenceMath } from "../../../server/src/llm/position-divergence";
import { mulberry32 } from "../../../server/src/util/prng";

/** Logits a small model might produce: a few strong tokens over a noisy floor, as float32. */
function logits(rand: () => number, vocab: number, spread = 8): Float32Array {
  const out = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) out[i] = (rand() - 0.5) * spread + (rand() < 0.02 ? spread * rand() : 0);
  return out;
}

/** ln softmax the textbook way, in float64. */
function logSoftmax(l: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(l));
  const lse = max + Math.log(Array.from(l).reduce((a, x) => a + Math.exp(x - max), 0));
  return Array.from(l, (x) => x - lse);
}

function argmax(l: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < l.length; i++) if (l[i]! > l[best]!) best = i;
  return best;
}

test("full-vocabulary KL, Δp, nll and same-top equal the textbook definitions", () => {
  const rand = mulberry32(7);
  const V = 300;
  const m = new DivergenceMath(V, 4);
  for (let trial = 0; trial < 20; trial++) {
    const slot = trial % 4;
    const p = logits(rand, V);
    const q = new Float32Array(p.map((x) => x + (rand() - 0.5) * 0.6));
    const tok = Math.floor(rand() * V);
    m.setReference(slot, p, tok);
    const v = m.compare(slot, q);
    const lp = logSoftmax(p);
    const lq = logSoftmax(q);
    const kl = lp.reduce((a, x, i) => a + Math.exp(x) * (x - lq[i]!), 0);
    assert.ok(Math.abs(v.kld - kl) < 1e-12, `kld ${v.kld} vs ${kl}`);
    assert.ok(Math.abs(v.nll + lq[tok]!) < 1e-12);
    assert.ok(Math.abs(v.nllBase + lp[tok]!) < 1e-12);
    assert.ok(Math.abs(v.dp - (Math.exp(lq[tok]!) - Math.exp(lp[tok]!))) < 1e-12);
    assert.equal(v.sameTop, argmax(p) === argmax(q));
  }
  // A distribution against itself: exactly nothing.
  const p = logits(rand, V);
  m.setReference(0, p, 3);
  const same = m.compare(0, p);
  assert.deepEqual([same.kld, same.dp, same.sameTop], [0, 0, true]);
});

test("llama16 emulates llama-perplexity's 16-bit storage: within half a step of the exact log-probabilities", () => {
  const rand = mulberry32(11);
  const V = 512;
  const exact = new DivergenceMath(V, 1, "exact");
  const q16 = new DivergenceMath(V, 1, "llama16");
  let maxKlDiff = 0;
  for (let trial = 0; trial < 10; trial++) {
    const p = logits(rand, V, 24);
    const q = new Float32Array(p.map((x) => x + (rand() - 0.5) * 0.2));
    // The text's next token: one above the storage floor (tokens below max − 16 are stored as the floor).
    const tok = argmax(p);
    exact.setReference(0, p, tok);
    q16.setReference(0, p, tok);
    const lp = logSoftmax(p);
    const max = Math.max(...lp);
    // The step: (max − min) / 65535 with min clamped at max − 16.
    const step = Math.min(16, max - Math.min(...lp)) / 65535;
    for (let i = 0; i < V; i++) {
      if (lp[i]! < max - 16) continue; // stored as the floor
      assert.ok(Math.abs(q16.referenceLogprob(0, i) - lp[i]!) <= step / 2 + 2e-5, `token ${i}: ${q16.referenceLogprob(0, i)} vs ${lp[i]}`);
    }
    const a = exact.compare(0, q);
    const b = q16.compare(0, q);
    assert.ok(Math.abs(a.nllBase - b.nllBase) <= step / 2 + 2e-5);
    maxKlDiff = Math.max(maxKlDiff, Math.abs(a.kld - b.kld));
  }
  // Storage error in KL is of the order of the step, far below what quantization itself causes.
  assert.ok(maxKlDiff < 5e-4, `max |KL exact − KL llama16| = ${maxKlDiff}`);
  assert.ok(maxKlDiff > 0, "the emulation should differ from the exact value somewhere");
});

test("top-K + rest is a lower bound of the full KL, grows with K, and equals it at K = vocabulary", () => {
  const rand = mulberry32(3);
  const V = 200;
  const m = new DivergenceMath(V, 1);
  const p = logits(rand, V);
  const q = new Float32Array(p.map((x) => x + (rand() - 0.5)));
  m.setReference(0, p, 9);
  const full = m.compare(0, q);
  const lq = logSoftmax(q);
  const order = [...lq.keys()].sort((a, b) => lq[b]! - lq[a]!);
  let prev = -1;
  for (const K of [1, 5, 20, 80, 200]) {
    const ids = order.slice(0, K);
    const v = m.compareTopK(0, { ids, logprobs: ids.map((i) => lq[i]!), tokenLogprob: lq[9]! });
    assert.ok(v.kld <= full.kld + 1e-12, `K=${K}: ${v.kld} > full ${full.kld}`);
    assert.ok(v.kld >= prev - 1e-12, `K=${K}: not monotone`);
    prev = v.kld;
    assert.ok(Math.abs(v.nll - full.nll) < 1e-12 && Math.abs(v.dp - full.dp) < 1e-12);
    assert.equal(v.sameTop, full.sameTop);
    if (K === V) assert.ok(Math.abs(v.kld - full.kld) < 1e-9, `K=V: ${v.kld} vs ${full.kld}`);
  }
});

test("DivergenceMath refuses what it cannot score", () => {
  const m = new DivergenceMath(10, 2);
  assert.throws(() => m.setReference(0, new Float32Array(9), 1), /9 logits for a vocabulary of 10/);
  assert.throws(() => m.setReference(0, new Float32Array(10), 10), /outside the vocabulary/);
  assert.throws(() => m.setReference(2, new Float32Array(10), 1), /slot 2/);
  assert.throws(() => m.compareTopK(0, { ids: [1, 2], logprobs: [-1], tokenLogprob: -1 }), /2 ids but 1/);
  assert.throws(() => new DivergenceMath(1, 1), /vocabulary size/);
});

/** Sample standard error of the mean, two-pass. */
function stderr(xs: number[]): number {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const s2 = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
  return Math.sqrt(s2 / n);
}

/** R's type-7 quantile. */
function q7(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  return s[lo]! + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]!) - s[lo]!);
}

test("KldAccumulator gives llama-perplexity's statistics (checked against two-pass formulas)", () => {
  const rand = mulberry32(5);
  const n = 1001;
  const kld: number[] = [];
  const dp: number[] = [];
  const nll: number[] = [];
  const nllBase: number[] = [];
  const same: boolean[] = [];
  const acc = new KldAccumulator();
  for (let i = 0; i < n; i++) {
    const b = 1 + 3 * rand();
    const x = b + (rand() - 0.45) * 0.3;
    const k = rand() ** 3 * 0.05;
    const d = (rand() - 0.55) * 0.2;
    const s = rand() < 0.9;
    kld.push(k);
    dp.push(d);
    nll.push(x);
    nllBase.push(b);
    same.push(s);
    acc.add(k, d, x, b, s);
  }
  const st = acc.summary();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const close = (a: number, b: number, what: string, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
  assert.equal(st.tokens, n);
  close(st.ppl.value, Math.exp(mean(nll)), "PPL(Q)");
  close(st.ppl.reference, Math.exp(mean(nllBase)), "PPL(base)");
  close(st.ppl.lnRatio.mean, mean(nll) - mean(nllBase), "ln ratio");
  close(st.ppl.ratio, Math.exp(mean(nll) - mean(nllBase)), "ratio");
  // ln ratio uncertainty: the standard error of the paired difference.
  close(st.ppl.lnRatio.stderr, stderr(nll.map((x, i) => x - nllBase[i]!)), "ln ratio ±", 1e-6);
  // Pearson correlation of the two nll series.
  const mx = mean(nll);
  const mb = mean(nllBase);
  const cov = nll.reduce((a, x, i) => a + (x - mx) * (nllBase[i]! - mb), 0);
  const cor = cov / Math.sqrt(nll.reduce((a, x) => a + (x - mx) ** 2, 0) * nllBase.reduce((a, x) => a + (x - mb) ** 2, 0));
  close(st.ppl.cor, cor, "cor", 1e-6);
  close(st.kld.mean, mean(kld), "KLD mean");
  close(st.kld.stderr, stderr(kld), "KLD ±", 1e-6);
  for (const [key, p] of [["p99_9", 0.999], ["p99", 0.99], ["p95", 0.95], ["p90", 0.9], ["median", 0.5], ["p10", 0.1], ["p5", 0.05], ["p1", 0.01], ["p0_1", 0.001]] as const) {
    close(st.kld[key], q7(kld, p), `KLD ${key}`);
    close(st.dp[key], q7(dp, p), `Δp ${key}`);
  }
  close(st.dp.p75, q7(dp, 0.75), "Δp p75");
  close(st.dp.p25, q7(dp, 0.25), "Δp p25");
  close(st.kld.max, Math.max(...kld), "KLD max");
  close(st.kld.min, Math.min(...kld), "KLD min");
  close(st.dp.mean, mean(dp), "Δp mean");
  close(st.dp.stderr, stderr(dp), "Δp ±", 1e-6);
  close(st.dp.rms, Math.sqrt(mean(dp.map((x) => x * x))), "RMS Δp");
  // RMS uncertainty by the delta method: d sqrt(m)/dm = 1/(2 sqrt m), times the ± of mean(Δp²).
  close(st.dp.rmsStderr, stderr(dp.map((x) => x * x)) / (2 * st.dp.rms), "RMS Δp ±", 1e-6);
  const rate = same.filter(Boolean).length / n;
  close(st.sameTop.rate, rate, "same top");
  close(st.sameTop.stderr, Math.sqrt((rate * (1 - rate)) / (n - 1)), "same top ±");
});

test("percentiles and median follow llama-perplexity's lambda (interpolation at fraction·(n−1))", () => {
  const s = Float64Array.from([1, 2, 4, 8]);
  assert.equal(percentileSorted(s, 0.5), 3);
  assert.equal(percentileSorted(s, 0.999), 8 - 4 * (1 - 0.999 * 3 + 2));
  assert.equal(percentileSorted(s, 0), 1);
  assert.equal(percentileSorted(s, 1), 8);
  assert.equal(medianSorted(s), 3);
  assert.equal(medianSorted(Float64Array.from([1, 2, 9])), 2);
  // Fewer than 11 values: no uncertainty, as llama-perplexity prints it.
  const acc = new KldAccumulator();
  for (let i = 0; i < 10; i++) acc.add(i * 0.01, 0.01, 1, 1, true);
  assert.equal(acc.summary().kld.stderr, 0);
});

test("chunking follows perplexity.cpp: BOS first in every chunk, whole chunks only, at least 2 × ctx tokens", () => {
  const t = { tokens: Array.from({ length: 25 }, (_, i) => 100 + i), addBos: true, bos: 1, vocab: 200 };
  const plan = corpusChunks(t, 8);
  assert.equal(plan.all.length, 26);
  assert.equal(plan.count, 3);
  assert.deepEqual(plan.chunk(0), [1, 100, 101, 102, 103, 104, 105, 106]);
  // Chunk 1 starts at token 8 of the text with BOS (the text's token there is replaced).
  assert.deepEqual(plan.chunk(1), [1, 108, 109, 110, 111, 112, 113, 114]);
  assert.equal(corpusChunks(t, 8, 2).count, 2);
  assert.throws(() => corpusChunks(t, 14), /26 tokens; at least 2 × ctx = 28/);
  const noBos = corpusChunks({ tokens: [5, 6, 7, 8, 9, 10, 11, 12], addBos: false, bos: 1, vocab: 20 }, 4);
  assert.deepEqual(noBos.chunk(1), [9, 10, 11, 12]);
  assert.equal(corpusText("a\nb\n"), "a\nb");
  assert.equal(corpusText("a\n\n"), "a\n");
});

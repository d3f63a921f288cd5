// Statistics of sampled evals (repeat: N): the sign-flip test against scipy's exact permutation
// test (fixtures written by test/fixtures/stats/make-sampled-fixtures.py), and the gate's
// behaviour over seeded simulations: a change that does nothing is "no significant change" at
// least 95% of the time, an engineered regression is caught.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { comparePaired, flipOf, mcnemarExact, minDetectableDrop, mulberry32, pairedPassStats, signFlipTest, type PairedCase } from "../../../server/src/stats/stats";
import { minCasesToDetectDrop } from "../../../server/src/stats/power";
import { FIXTURES } from "../../helpers/paths";

interface Fixtures {
  signFlip: { baseSamples: number; headSamples: number; base: number[]; head: number[]; p: number }[];
  mcnemar: { b: number; c: number; p: number }[];
}
const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, "stats", "sampled-fixtures.json"), "utf8")) as Fixtures;

test("sign-flip test equals scipy's exact paired permutation test on 80 sets of pass fractions", () => {
  assert.ok(fx.signFlip.length >= 80);
  for (const f of fx.signFlip) {
    const diffs = f.head.map((h, i) => h - f.base[i]!);
    const p = signFlipTest(diffs, [f.baseSamples, f.headSamples]);
    assert.ok(Math.abs(p - f.p) < 1e-9, `${JSON.stringify(f)}: ours ${p}, scipy ${f.p}`);
    // The same through pairedPassStats (what compare and diff call).
    const pairs = f.base.map((b, i) => ({ base: b >= 0.5, head: f.head[i]! >= 0.5, baseFraction: b, headFraction: f.head[i]!, baseSamples: f.baseSamples, headSamples: f.headSamples }));
    if (f.baseSamples > 1 || f.headSamples > 1) assert.ok(Math.abs(pairedPassStats(pairs, { alpha: 0.05, seed: 1 }).pValue - f.p) < 1e-9);
  }
});

test("with one sample per case the sign-flip test is the exact McNemar test (scipy's binomtest)", () => {
  for (const m of fx.mcnemar) {
    assert.ok(Math.abs(mcnemarExact(m.b, m.c) - m.p) < 1e-9, `mcnemar ${m.b},${m.c}: ${mcnemarExact(m.b, m.c)} vs ${m.p}`);
    const diffs = [...Array(m.b).fill(-1), ...Array(m.c).fill(1), 0, 0, 0];
    assert.ok(Math.abs(signFlipTest(diffs, [1]) - m.p) < 1e-9, `sign flip ${m.b},${m.c}`);
  }
});

test("exact and Monte Carlo sign-flip p-values agree where the exact one is too big to enumerate by hand", () => {
  const rand = mulberry32(3);
  for (let t = 0; t < 5; t++) {
    const diffs = Array.from({ length: 200 }, () => (Math.floor(rand() * 21) - 10 + (t - 2)) / 10);
    const exact = signFlipTest(diffs, [10]);
    const mc = signFlipTest(diffs, [], { resamples: 20000, seed: t });
    assert.ok(Math.abs(exact - mc) < 0.01 + 0.05 * exact, `exact ${exact} vs Monte Carlo ${mc}`);
  }
  assert.equal(signFlipTest([0, 0, 0], [10]), 1);
});

test("flips are defined on pass fractions with a threshold of half the samples", () => {
  assert.equal(flipOf(1, 0), "regression");
  assert.equal(flipOf(0, 1), "fix");
  assert.equal(flipOf(0.8, 0.3), "regression");
  assert.equal(flipOf(0.8, 0.4), null);
  assert.equal(flipOf(0.2, 0.7), "fix");
});

test("the minimum detectable drop accounts for the samples per case", () => {
  assert.equal(minDetectableDrop(60, 0.05), 0.1);
  assert.equal(minDetectableDrop(60, 0.05, 10), 0.01);
  assert.equal(minDetectableDrop(6, 0.05, 10), 0.1);
  // The sign-flip test needs six cases moving the same way at alpha 0.05, however many samples.
  assert.equal(minDetectableDrop(5, 0.05, 100), null);
});

test("a slice's size bound (DL309) with N samples per case is where the sign-flip test can first call a 10-point drop", () => {
  // The most favourable outcome of a drop on n cases: floor(drop·n·N) samples lost, spread one per
  // case over as many cases as possible, none gained. Its one-sided p-value is half the two-sided.
  const bestP = (n: number, drop: number, samples: number) => {
    const lost = Math.floor(drop * n * samples + 1e-9);
    const diffs = Array.from({ length: n }, (_, i) => -(Math.floor(lost / n) + (i < lost % n ? 1 : 0)) / samples);
    return signFlipTest(diffs, [samples]) / 2;
  };
  for (const alpha of [0.1, 0.05, 0.01]) {
    for (const drop of [0.1, 0.2]) {
      for (let samples = 1; samples <= 12; samples++) {
        const n = minCasesToDetectDrop(drop, alpha, samples);
        const what = `alpha ${alpha}, drop ${drop}, ${samples} samples: ${n} cases`;
        assert.ok(bestP(n, drop, samples) <= alpha, what);
        assert.ok(n === 1 || bestP(n - 1, drop, samples) > alpha, `${what}, but ${n - 1} suffice`);
      }
    }
  }
  assert.equal(minCasesToDetectDrop(0.1, 0.05), 50);
  assert.equal(minCasesToDetectDrop(0.1, 0.05, 10), 5);
  assert.equal(minCasesToDetectDrop(0.1, 0.05, 2), 25);
});

// ---- seeded simulations ----

const GATE = { maxPassRateDrop: 0.02, maxSliceDrop: 0.1, alpha: 0.05 };

/** n cases in two slices; each case passes a sample with its own probability; N samples per side. */
function simulate(seed: number, opts: { n: number; samples: number; drop: (i: number) => number }): PairedCase[] {
  const rand = mulberry32(seed);
  const draw = (p: number) => {
    let k = 0;
    for (let j = 0; j < opts.samples; j++) if (rand() < p) k++;
    return k / opts.samples;
  };
  const out: PairedCase[] = [];
  for (let i = 0; i < opts.n; i++) {
    const p = 0.15 + 0.8 * rand();
    const b = draw(p);
    const h = draw(Math.max(0, p - opts.drop(i)));
    out.push({ id: `c${i}`, tags: [i % 2 ? "odd" : "even"], base: b >= 0.5, head: h >= 0.5, baseFraction: b, headFraction: h, baseSamples: opts.samples, headSamples: opts.samples });
  }
  return out;
}

test("a change that does nothing is 'no significant change' in at least 95% of 200 seeded simulations (repeat 10)", () => {
  let quiet = 0;
  let naiveFails = 0;
  for (let s = 0; s < 200; s++) {
    const cases = simulate(1000 + s, { n: 40, samples: 10, drop: () => 0 });
    const cmp = comparePaired("sim", cases, GATE);
    if (cmp.passed) quiet++;
    // What a gate on the size of the drop alone would say: sampling noise fails it often.
    if (-cmp.overall.delta > GATE.maxPassRateDrop || cmp.slices.some((x) => -x.delta > GATE.maxSliceDrop)) naiveFails++;
  }
  assert.ok(quiet >= 190, `${quiet}/200 quiet`);
  if (process.env.DRIFTLENS_TEST_VERBOSE) console.log(`do-nothing: ${quiet}/200 no significant change; a size-only gate fails ${naiveFails}/200`);
  assert.ok(naiveFails > 40, `a size-only gate would have failed ${naiveFails}/200 do-nothing changes`);
});

test("an engineered regression (one slice loses 40 points per sample) is caught", () => {
  let caught = 0;
  for (let s = 0; s < 100; s++) {
    const cases = simulate(5000 + s, { n: 40, samples: 10, drop: (i) => (i % 2 ? 0.4 : 0) });
    const cmp = comparePaired("sim", cases, GATE);
    if (!cmp.passed && cmp.slices.find((x) => x.name === "odd")?.failsGate) caught++;
  }
  assert.ok(caught >= 95, `${caught}/100 caught`);
});

test("one-sample cases keep the original gate: a drop past the limit fails without a significance test", () => {
  const cases: PairedCase[] = Array.from({ length: 30 }, (_, i) => ({ id: `c${i}`, tags: i < 3 ? ["tail"] : ["bulk"], base: true, head: i !== 0 }));
  const cmp = comparePaired("v", cases, GATE);
  assert.equal(cmp.overall.samples, undefined);
  assert.ok(cmp.slices.find((s) => s.name === "tail")!.failsGate);
  assert.equal(cmp.passed, false);
});

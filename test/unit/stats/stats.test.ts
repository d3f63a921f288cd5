import assert from "node:assert/strict";
import { test } from "node:test";
import { minCasesToDetectDrop } from "../../../server/src/stats/power";
import {
  comparePaired,
  mcnemarExact,
  minDetectableDrop,
  minSignificantFlips,
  mulberry32,
  pairedBootstrap,
  summarize,
} from "../../../server/src/stats/stats";

test("exact McNemar matches the two-sided binomial on discordant pairs", () => {
  // b=10, c=2: 2·(C(12,0)+C(12,1)+C(12,2))/2^12 = 2·79/4096 = 0.038574…
  assert.ok(Math.abs(mcnemarExact(10, 2) - 0.0385742) < 1e-6, String(mcnemarExact(10, 2)));
  assert.equal(mcnemarExact(2, 10), mcnemarExact(10, 2));
  assert.equal(mcnemarExact(0, 0), 1);
  assert.equal(mcnemarExact(3, 3), 1);
  // b=6, c=0: 2/64
  assert.equal(mcnemarExact(6, 0), 0.03125);
  // b=5, c=0: 2/32 = 0.0625 — not significant at 0.05
  assert.equal(mcnemarExact(5, 0), 0.0625);
  // Large counts stay finite (log-space), and a balanced split is ~1.
  const big = mcnemarExact(2000, 1900);
  assert.ok(big > 0.1 && big < 0.2, String(big));
  assert.ok(mcnemarExact(3000, 0) === 0);
  assert.throws(() => mcnemarExact(-1, 2));
});

test("minimum detectable drop follows from the smallest significant one-sided flip count", () => {
  assert.equal(minSignificantFlips(0.05), 6);
  assert.equal(minSignificantFlips(0.01), 8);
  assert.equal(minDetectableDrop(5, 0.05), null);
  assert.equal(minDetectableDrop(6, 0.05), 1);
  assert.equal(minDetectableDrop(60, 0.05), 0.1);
  assert.equal(minDetectableDrop(120, 0.05), 0.05);
  // The definition: k one-way flips reach p < alpha and k−1 do not.
  // One home for the power arithmetic: agrees with the artifacts engine's helper (one-sided, alpha/2).
  assert.equal(minCasesToDetectDrop(0.1, 0.025), 60);
  assert.ok(minDetectableDrop(59, 0.05)! > 0.1);
  const k = minSignificantFlips(0.05);
  assert.ok(mcnemarExact(k, 0) < 0.05 && mcnemarExact(k - 1, 0) >= 0.05);
});

test("paired bootstrap is deterministic, brackets the delta, and is exact without variation", () => {
  const base = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const head = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const a = pairedBootstrap(base, head, { seed: 7 });
  const b = pairedBootstrap(base, head, { seed: 7 });
  assert.deepEqual(a, b);
  assert.equal(a.delta, -0.2);
  assert.ok(a.ci[0] < -0.2 && a.ci[1] > -0.2 && a.ci[1] <= 0, JSON.stringify(a));
  // 4 of 20 regress: resampled means range over k/20; the 95% interval is about [−0.4, −0.05].
  assert.ok(a.ci[0] >= -0.45 && a.ci[0] <= -0.35, JSON.stringify(a));
  assert.ok(a.ci[1] >= -0.1 && a.ci[1] <= -0.05, JSON.stringify(a));
  const c = pairedBootstrap(base, head, { seed: 8 });
  assert.notDeepEqual(c.ci, [NaN, NaN]);
  assert.deepEqual(pairedBootstrap(base, base), { delta: 0, ci: [0, 0] });
  assert.deepEqual(pairedBootstrap([], []), { delta: 0, ci: [0, 0] });
  assert.throws(() => pairedBootstrap([1], [1, 0]));
  // Scores (not just 0/1): a uniform +0.25 shift has a zero-width interval.
  assert.deepEqual(pairedBootstrap([0.5, 0.25, 0], [0.75, 0.5, 0.25]), { delta: 0.25, ci: [0.25, 0.25] });
});

test("mulberry32 is reproducible and roughly uniform", () => {
  const r1 = mulberry32(42);
  const r2 = mulberry32(42);
  const xs = Array.from({ length: 10000 }, () => r1());
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => r2()));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test("summarize gives mean, median, p99 and max", () => {
  const v = Array.from({ length: 101 }, (_, i) => i);
  assert.deepEqual(summarize(v), { mean: 50, median: 50, p99: 99, max: 100 });
  assert.deepEqual(summarize([]), { mean: 0, median: 0, p99: 0, max: 0 });
  assert.deepEqual(summarize([3]), { mean: 3, median: 3, p99: 3, max: 3 });
});

test("comparePaired: a lost tail slice fails the gate while the overall drop is within it", () => {
  const cases = [
    ...Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, tags: ["main"], base: true, head: true })),
    { id: "t1", tags: ["tail"], base: true, head: false },
    { id: "t2", tags: ["tail"], base: true, head: true },
    { id: "t3", tags: ["tail"], base: true, head: true },
  ];
  const gate = { maxPassRateDrop: 0.02, maxSliceDrop: 0.1, alpha: 0.05 };
  const r = comparePaired("tiny/q4_0", cases, gate);
  assert.equal(r.overall.regressions, 1);
  assert.ok(-r.overall.delta <= 0.02, String(r.overall.delta));
  assert.equal(r.slices[0]!.name, "tail", "worst slice first");
  assert.equal(r.slices[0]!.failsGate, true);
  assert.equal(r.slices[1]!.failsGate, false);
  assert.equal(r.passed, false);
  assert.equal(r.reasons.length, 1);
  assert.match(r.reasons[0]!, /tiny\/q4_0: slice 'tail' dropped 33\.3 pp/);
  assert.ok(r.warnings.some((w) => w.includes("'tail' (3)")));
  // Same inputs, same numbers.
  assert.deepEqual(comparePaired("tiny/q4_0", cases, gate), r);
  // Nothing flipped: passes with p = 1.
  const same = comparePaired("x", cases.map((c) => ({ ...c, head: c.base })), gate);
  assert.equal(same.passed, true);
  assert.equal(same.overall.pValue, 1);
  // A drop exactly at the limit passes (10 cases, 1 regression in a 10-case slice = 0.1).
  const edge = Array.from({ length: 10 }, (_, i) => ({ id: `e${i}`, tags: ["s"], base: true, head: i !== 0 }));
  assert.equal(comparePaired("e", edge, { ...gate, maxPassRateDrop: 0.1 }).passed, true);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import type { ScoredPosition } from "../../../server/src/llm/types";
import { caseDivergence, firstDivergence, identicalCase, KLD_EPS, poolDivergence, positionDivergence } from "../../../server/src/stats/kld";

function ref(top: [number, number][], forcedProb = top[0]![1]): ScoredPosition {
  return { forcedProb, top: top.map(([token, prob]) => ({ token, prob })) };
}
function cand(probe: number[], top1: number, forcedProb: number): ScoredPosition {
  return { forcedProb, top: [{ token: top1, prob: Math.max(...probe) }], probe };
}

test("KL over the reference's top-K plus one bucket for the rest", () => {
  // p = (0.5, 0.3) + rest 0.2; q = (0.4, 0.4) + rest 0.2.
  const d = positionDivergence(ref([[1, 0.5], [2, 0.3]]), cand([0.4, 0.4], 2, 0.4), 20);
  const expected = 0.5 * Math.log(0.5 / 0.4) + 0.3 * Math.log(0.3 / 0.4) + 0.2 * Math.log(0.2 / 0.2);
  assert.ok(Math.abs(d.kld - expected) < 1e-12, `${d.kld} vs ${expected}`);
  assert.equal(d.top1Agree, false);
  assert.ok(Math.abs(d.deltaP - (0.4 - 0.5)) < 1e-12);
  // The same distribution: zero, agreeing.
  const same = positionDivergence(ref([[1, 0.5], [2, 0.3]]), cand([0.5, 0.3], 1, 0.5));
  assert.equal(same.kld, 0);
  assert.equal(same.top1Agree, true);
  // K limits the ids used: with K=1, mass of token 2 moves into the rest bucket.
  const k1 = positionDivergence(ref([[1, 0.5], [2, 0.3]]), cand([0.4, 0.4], 2, 0.4), 1);
  const e1 = 0.5 * Math.log(0.5 / 0.4) + 0.5 * Math.log(0.5 / 0.6);
  assert.ok(Math.abs(k1.kld - e1) < 1e-12);
  // A token the candidate gives no mass: clamped to EPS, large but finite.
  const zero = positionDivergence(ref([[1, 0.9]]), cand([0], 5, 0));
  assert.ok(Number.isFinite(zero.kld) && zero.kld > 0.9 * Math.log(0.9 / KLD_EPS) - 1);
  assert.throws(() => positionDivergence(ref([[1, 0.5]]), { forcedProb: 0.5, top: [] }), /probe/);
});

test("first divergence of greedy outputs", () => {
  assert.equal(firstDivergence([1, 2, 3], [1, 2, 3]), null);
  assert.equal(firstDivergence([1, 2, 3], [1, 9, 3]), 1);
  assert.equal(firstDivergence([1, 2, 3], [1, 2]), 2);
  assert.equal(firstDivergence([], []), null);
});

test("per case and pooled statistics; the reference against itself is exactly zero", () => {
  const r = [ref([[1, 0.5], [2, 0.3]]), ref([[3, 0.9], [4, 0.05]])];
  const c = [cand([0.4, 0.4], 2, 0.4), cand([0.9, 0.05], 3, 0.9)];
  const cd = caseDivergence("a", r, c, [1, 3], [2, 3]);
  assert.equal(cd.positions, 2);
  assert.equal(cd.top1Agreement, 0.5);
  assert.equal(cd.firstDivergence, 0);
  assert.ok(cd.kld.max > 0 && cd.kld.mean === cd.kld.max / 2);
  const self = identicalCase("a", 2);
  assert.deepEqual(self.kld, { mean: 0, median: 0, p99: 0, max: 0 });
  assert.equal(self.top1Agreement, 1);
  assert.equal(self.firstDivergence, null);
  const pooled = poolDivergence([cd, self]);
  assert.equal(pooled.positions, 4);
  assert.equal(pooled.cases, 2);
  assert.equal(pooled.divergedCases, 1);
  assert.equal(pooled.top1Agreement, 0.75);
  assert.throws(() => caseDivergence("b", r, c.slice(0, 1), [], []), /positions/);
});

import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { compareCommand, openContext } from "../../../server/src/cli/compare";
import { COMPARE_TIMING_FIELDS, compareVariants, type CompareEngine, type CompareWorkspace } from "../../../server/src/eval/compare";
import type { CompareReport } from "../../../server/src/eval/report";
import { CompareReportSchema } from "../../../server/src/protocol/reports";
import { Store } from "../../../server/src/store/store";
import { quickstartCopy, runCommand } from "./quickstart";

const stripTiming = (r: CompareReport) => JSON.stringify(r, (k, v) => ((COMPARE_TIMING_FIELDS as readonly string[]).includes(k) ? undefined : v));

test("compare on the quickstart: F16/Q8_0 within the gate, Q4_0 fails only its tail slice, KLD ordered, adapter vs its base; reruns are identical", async () => {
  const dir = quickstartCopy();
  const first = await runCommand(compareCommand, ["--family", "tiny", "--format", "json"], dir);
  assert.equal(first.code, 1, `a variant fails the gate, so exit 1; stderr: ${first.err}`);
  const r = JSON.parse(first.out) as CompareReport;
  // The wire contract (what the extension parses a driftlens/run comparison with) takes the report as printed, every field kept.
  const wire = CompareReportSchema.safeParse(JSON.parse(first.out));
  assert.ok(wire.success, `CompareReportSchema rejects the report: ${wire.error?.issues[0]?.path.join(".")}: ${wire.error?.issues[0]?.message}`);
  assert.deepEqual(wire.data, r);
  const v = (id: string) => {
    const x = r.variants.find((y) => y.variant === id);
    assert.ok(x, `${id} in ${r.variants.map((y) => y.variant).join(", ")}`);
    return x;
  };
  assert.equal(r.reference, "tiny/f32");

  // The reference against itself: exactly zero divergence, full agreement.
  const ref = v("tiny/f32");
  assert.equal(ref.isReference, true);
  assert.deepEqual(ref.kld, { mean: 0, median: 0, p99: 0, max: 0 });
  assert.equal(ref.top1Agreement, 1);
  assert.equal(ref.delta, 0);

  const f16 = v("tiny/f16");
  const q8 = v("tiny/q8_0");
  const q4 = v("tiny/q4_0");
  for (const x of [f16, q8]) {
    assert.equal(x.gate.passed, true, `${x.variant}: ${x.gate.reasons.join("; ")}`);
    assert.equal(x.comparedTo, "tiny/f32");
  }
  assert.equal(f16.quant, "F16");
  assert.equal(q4.quant, "Q4_0");
  // Median passes, tail fails: overall within maxPassRateDrop, the tail slice over maxSliceDrop.
  assert.ok(-q4.delta <= r.gate.maxPassRateDrop, `Q4_0 overall drop ${q4.delta}`);
  assert.equal(q4.gate.passed, false);
  assert.equal(q4.slices[0]!.name, "tail", "worst slice first");
  assert.equal(q4.slices[0]!.failsGate, true);
  assert.deepEqual(q4.slices.filter((s) => s.failsGate).map((s) => s.name), ["tail"]);
  assert.equal(q4.gate.reasons.length, 1);
  assert.match(q4.gate.reasons[0]!, /slice 'tail'/);
  assert.ok(q4.flips.length >= 1 && q4.flips.every((f) => f.tags.includes("tail") && f.from === "pass" && f.to === "fail"));
  for (const s of q4.slices) assert.ok(s.ci[0] <= s.delta && s.delta <= s.ci[1] && s.pValue > 0 && s.pValue <= 1);
  // Teacher-forced KL divergence orders the encodings by precision.
  assert.ok(f16.kld.mean > 0, "F16 differs from F32 a little");
  assert.ok(f16.kld.mean < q8.kld.mean, `F16 ${f16.kld.mean} < Q8_0 ${q8.kld.mean}`);
  assert.ok(q8.kld.mean < q4.kld.mean, `Q8_0 ${q8.kld.mean} < Q4_0 ${q4.kld.mean}`);
  assert.ok(q4.kld.max >= q4.kld.p99 && q4.kld.p99 >= q4.kld.median);
  assert.ok(q4.top1Agreement < 1 && q4.top1Agreement > 0.5);
  const flippedKld = q4.kldCases.find((c) => c.id === q4.flips[0]!.id);
  assert.ok(flippedKld && flippedKld.firstDivergence === 0, "the flipped case's greedy output departs at its first token");
  for (const x of r.variants) {
    assert.ok(x.fileBytes && x.fileBytes > 0);
    assert.ok(x.tokensPerSecond && x.tokensPerSecond > 0);
  }

  // The adapter variant is compared against its base, not the family reference by accident.
  const adapter = r.variants.find((x) => x.variant.includes("+"));
  assert.ok(adapter, "the quickstart's adapter variant is compared");
  assert.equal(adapter.comparedTo, adapter.variant.split("+")[0]);
  assert.ok(adapter.flips.length > 0 && adapter.kld.mean > q4.kld.mean, "the adapter changes answers in its own slice");

  // Recorded in the store with their fingerprints, so the extension can show the same numbers.
  const store = Store.open(path.join(dir, ".driftlens", "store.db"));
  try {
    for (const x of r.variants) {
      assert.ok(x.runFingerprints.length > 0);
      for (const fp of x.runFingerprints) {
        const runs = store.listRuns({ fingerprint: fp, status: "complete" });
        assert.ok(runs.length >= 1, `${x.variant}: a complete run with fingerprint ${fp}`);
        assert.equal(runs[0]!.variant, x.variant);
      }
    }
  } finally {
    store.close();
  }

  // The same command again: identical JSON apart from timing fields (from the cache this time).
  const second = await runCommand(compareCommand, ["--family", "tiny", "--format", "json"], dir);
  assert.equal(second.code, 1);
  assert.equal(stripTiming(JSON.parse(second.out) as CompareReport), stripTiming(r));

  // An explicit candidate list with another reference; markdown starts with the verdict.
  const md = await runCommand(compareCommand, ["--variant", "tiny/q8_0", "--reference", "tiny/f16", "--format", "markdown"], dir);
  assert.equal(md.code, 0, md.err);
  assert.match(md.out.split("\n")[0]!, /^### ✅ Driftlens compare: every variant is within the gate \(reference <code>tiny\/f16<\/code>\)/);
});

test("compare keeps each case's divergence and each model's memory in the store: reopening a comparison starts no engine", async () => {
  const dir = quickstartCopy();
  const first = await runCommand(compareCommand, ["--variant", "tiny/q4_0", "--evals", "capitals.eval.yaml", "--format", "json"], dir);
  assert.equal(first.code, 1, first.err);
  const r1 = JSON.parse(first.out) as CompareReport;
  const q4 = r1.variants.find((v) => v.variant === "tiny/q4_0")!;
  assert.ok(q4.kld.mean > 0 && q4.memoryBytes && q4.memoryBytes > 0);

  const ctx = await openContext(dir, { out: () => undefined, err: () => undefined, isTTY: false, cwd: dir });
  try {
    let started = 0;
    const r2 = await compareVariants({
      workspace: ctx.ws as unknown as CompareWorkspace,
      store: ctx.store,
      engine: async () => {
        started++;
        return (await ctx.engine()) as unknown as CompareEngine;
      },
      targets: [{ promptFile: path.join(dir, "capital.prompt"), evalSetFile: path.join(dir, "capitals.eval.yaml") }],
      variants: ["tiny/q4_0"],
      gate: ctx.config.gate,
      root: dir,
    });
    assert.equal(started, 0, "generations and divergences all came from the store");
    assert.equal(stripTiming(r2), stripTiming(r1));
    assert.equal(r2.variants.find((v) => v.variant === "tiny/q4_0")!.memoryBytes, q4.memoryBytes, "memory as the engine last reported it for this model file");
  } finally {
    await ctx.dispose();
  }
});

test("compare usage errors exit 2 with a clear message", async () => {
  const dir = quickstartCopy();
  const bad = await runCommand(compareCommand, ["--family", "nope"], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /no model family 'nope' in driftlens.yaml \(known: tiny\)/);
  const badVariant = await runCommand(compareCommand, ["--variant", "tiny/q2_k"], dir);
  assert.equal(badVariant.code, 2);
  assert.match(badVariant.err, /q2_k/);
  const badK = await runCommand(compareCommand, ["--top-k", "0"], dir);
  assert.equal(badK.code, 2);
  assert.match(badK.err, /--top-k/);
});

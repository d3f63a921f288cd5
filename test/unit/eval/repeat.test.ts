// Sampled evals (repeat: N) through runEvals on llama-2-tiny-random at temperature 1.0: each case
// draws N samples with seeds from the run seed, the case and the sample index; the same seed gives
// the same samples and verdicts (also when generated again), sample 0 is what an unsampled run
// generates, and the JSON report carries every sample and the pass fraction.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { Workspace } from "../../../server/src/artifacts";
import { formatJson } from "../../../server/src/eval/format";
import { runEvals, type EvalRunReport, type RunEvalsOptions } from "../../../server/src/eval/runner";
import { Store } from "../../../server/src/store/store";
import { engineFactory, makeWorkspace } from "./helpers";

const N = 10;

describe("repeat: N on the tiny model at temperature 1.0", () => {
  const w = makeWorkspace("driftlens-repeat-");
  fs.writeFileSync(w.prompt, fs.readFileSync(w.prompt, "utf8").replace("temperature: 0.8", "temperature: 1.0"));
  fs.writeFileSync(
    w.evalSet,
    [
      "prompt: capital.prompt",
      `repeat: ${N}`,
      "grader: tiny/rnd",
      "cases:",
      ...["France", "Japan", "Peru", "Kenya"].map(
        (c) => `  - id: ${c.toLowerCase()}\n    vars: {country: ${c}}\n    assert:\n      - {type: not-icontains, value: "e"}\n      - {type: llm-rubric, value: "Names a city"}\n    tags: [all]\n    why: sampled`,
      ),
      "",
    ].join("\n"),
  );
  const store = Store.open(w.store);
  const engines = engineFactory();
  after(async () => {
    await engines.dispose();
    store.close();
  });
  const run = async (over: Partial<RunEvalsOptions> = {}): Promise<EvalRunReport> => {
    const r = await runEvals({ workspace: new Workspace(w.root), store, engine: engines.engine, targets: [{ promptFile: w.prompt, evalSetFile: w.evalSet }], seed: 5, ...over });
    assert.equal(r.errors.length, 0, JSON.stringify(r.errors));
    return r.runs[0]!;
  };
  const samplesOf = (r: EvalRunReport) => r.cases.map((c) => ({ id: c.id, samples: c.samples }));

  test("N samples per case; the same seed gives identical samples and verdicts, cached or generated again", async () => {
    const a = await run();
    assert.equal(a.status, "complete", a.error);
    // The summary counts cases (generated + cached + resumed = cases), each with its N samples.
    assert.equal(a.summary.generated, 4);
    assert.deepEqual(a.params.repeat, N);
    for (const c of a.cases) {
      assert.equal(c.samples.length, N);
      assert.equal(c.samples[0]!.output, c.output);
      assert.equal(c.passFraction, c.samples.filter((s) => s.pass).length / N);
      assert.equal(c.pass, c.passFraction >= 0.5);
      assert.ok(new Set(c.samples.map((s) => s.output)).size > 1, `${c.id}: samples at temperature 1.0 differ`);
    }
    assert.equal(a.summary.passRate, a.cases.reduce((s, c) => s + c.passFraction, 0) / a.cases.length);
    const again = await run({ noCache: true });
    assert.equal(again.summary.generated, 4);
    assert.deepEqual(samplesOf(again), samplesOf(a));
    const cached = await run();
    assert.equal(cached.summary.cached, 4);
    assert.ok(cached.cases.every((c) => c.source === "cached" && c.samples.length === N));
    assert.deepEqual(samplesOf(cached), samplesOf(a));
    // Verdicts of the grader are part of each sample's pass and score.
    assert.ok(a.cases.every((c) => c.assertions.some((x) => x.type === "llm-rubric" && /\d+\/10 samples pass/.test(x.message))));
    const other = await run({ seed: 6 });
    assert.notDeepEqual(samplesOf(other), samplesOf(a));
  });

  test("sample 0 is the unsampled run's generation: --repeat 1 is served from the samples' cache", async () => {
    const sampled = await run();
    const once = await run({ repeat: 1 });
    assert.equal(once.summary.cached, 4);
    assert.equal(once.summary.generated, 0);
    for (const c of once.cases) {
      assert.equal(c.samples.length, 1);
      assert.equal(c.output, sampled.cases.find((x) => x.id === c.id)!.samples[0]!.output);
    }
    assert.equal(once.params.repeat, undefined);
  });

  test("an interrupted sampled run resumes: finished cases stay, finished samples come from the cache", async () => {
    const ac = new AbortController();
    const partial = await run({
      seed: 77,
      signal: ac.signal,
      onCaseResult: () => ac.abort(),
    });
    assert.notEqual(partial.status, "complete");
    const done = partial.cases.length;
    assert.ok(done >= 1 && done < 4, `${done} cases finished`);
    const resumed = await run({ seed: 77 });
    assert.equal(resumed.status, "complete");
    assert.equal(resumed.resumed, true);
    const { generated, cached, resumed: taken } = resumed.summary;
    assert.equal(generated + cached + taken, 4, `${generated} generated + ${cached} cached + ${taken} resumed`);
    assert.equal(taken, done, "the finished cases are taken over from the interrupted run");
    assert.equal(resumed.cases.length, 4);
  });

  test("the JSON report gives each case its samples [{output, pass, score}] and passFraction", async () => {
    const r = await run();
    const json = JSON.parse(formatJson({ runs: [r], errors: [] })) as { runs: { cases: { samples: { output: string; pass: boolean; score: number }[]; passFraction: number }[] }[] };
    const c = json.runs[0]!.cases[0]!;
    assert.equal(c.samples.length, N);
    for (const s of c.samples) {
      assert.equal(typeof s.output, "string");
      assert.equal(typeof s.pass, "boolean");
      assert.equal(typeof s.score, "number");
    }
    assert.equal(typeof c.passFraction, "number");
    assert.ok(path.isAbsolute(w.root));
  });
});

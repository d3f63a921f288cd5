// Model-graded assertions (llm-rubric, model-graded-closedqa, factuality, g-eval) judged by tiny
// local variants through runEvals and the real engine: every verdict parses (it is generated
// under a grammar, even by a model with random weights), verdicts are cached like generations,
// and changing the rubric or the grader regenerates exactly the verdicts that depend on it.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { Workspace } from "../../../server/src/artifacts";
import { compareVariants, type CompareEngine, type CompareWorkspace } from "../../../server/src/eval/compare";
import { compareText } from "../../../server/src/eval/report/compare-report";
import { runEvals, type EvalRunReport, type RunEvalsOptions, type RunnerEngine } from "../../../server/src/eval/runner";
import { Store } from "../../../server/src/store/store";
import { TINY_RANDOM_GGUF } from "../../helpers/paths";
import { quickstartCopy } from "../compare/quickstart";
import { engineFactory, TEST_ENGINE_SETTINGS } from "./helpers";

const CASES = [
  ["france", "France", "Paris"],
  ["japan", "Japan", "Tokyo"],
  ["peru", "Peru", "Lima"],
  ["kenya", "Kenya", "Nairobi"],
];

function evalSet(grader: string, rubricFor: (id: string) => string): string {
  const lines = ["prompt: capital.prompt", `grader: ${grader}`, "cases:"];
  for (const [id, country, capital] of CASES) {
    lines.push(
      `  - id: ${id}`,
      `    vars: {country: ${country}}`,
      "    assert:",
      `      - {type: llm-rubric, value: "${rubricFor(id!)}"}`,
      `      - {type: model-graded-closedqa, value: "names ${capital}"}`,
      `      - {type: factuality, value: "The capital of {{country}} is ${capital}."}`,
      '      - {type: g-eval, value: "The answer is a correct capital city.", threshold: 0}',
      "    why: graded",
    );
  }
  return lines.join("\n") + "\n";
}

const GRADED = ["llm-rubric", "model-graded-closedqa", "factuality", "g-eval"];

describe("model-graded assertions with tiny local graders", () => {
  const dir = quickstartCopy("driftlens-graders-");
  // A judge family beside the quickstart's: the real converter-made model with random weights.
  const yaml = fs.readFileSync(path.join(dir, "driftlens.yaml"), "utf8");
  fs.writeFileSync(path.join(dir, "driftlens.yaml"), yaml.replace("models:\n", `models:\n  judge:\n    variants:\n      rnd: ${JSON.stringify(TINY_RANDOM_GGUF)}\n`));
  const file = path.join(dir, "graded.eval.yaml");
  fs.writeFileSync(file, evalSet("judge/rnd", () => "Names a city"));
  const store = Store.open(path.join(dir, ".driftlens", "store.db"));
  // The quickstart's small vocabulary spells the judge prompt in many tokens: a bigger context.
  const engines = engineFactory({ ...TEST_ENGINE_SETTINGS, contextSize: 2048 });
  after(async () => {
    await engines.dispose();
    store.close();
  });
  // Counts what reaches the engine: outputs under test and verdicts (ids "grader:…").
  const seen = { outputs: 0, verdicts: 0 };
  const counting = async (): Promise<RunnerEngine> => {
    const inner = await engines.engine();
    return {
      info: () => inner.info(),
      generateMany: (reqs, onResult, signal) => {
        for (const r of reqs) r.id.startsWith("grader:") ? seen.verdicts++ : seen.outputs++;
        return inner.generateMany(reqs, onResult, signal);
      },
    };
  };
  const run = async (over: Partial<RunEvalsOptions> = {}): Promise<EvalRunReport> => {
    seen.outputs = 0;
    seen.verdicts = 0;
    const ws = new Workspace(dir);
    const r = await runEvals({ workspace: ws, store, engine: counting, targets: [{ promptFile: path.join(dir, "capital.prompt"), evalSetFile: file }], variants: ["tiny/f32"], ...over });
    assert.equal(r.errors.length, 0, JSON.stringify(r.errors));
    assert.equal(r.runs[0]!.status, "complete", r.runs[0]!.error);
    return r.runs[0]!;
  };
  const verdicts = (r: EvalRunReport) => r.cases.flatMap((c) => c.assertions.filter((a) => GRADED.includes(a.type)).map((a) => `${c.id}/${a.type}: ${a.pass} ${a.score} ${a.message}`));

  test("a grader with random weights always gives a parseable verdict, reported as the assertion's reason", async () => {
    const r = await run();
    assert.equal(seen.outputs, CASES.length);
    // 4 cases × (rubric, closedqa, factuality, g-eval score) + one g-eval steps request shared by all.
    assert.equal(seen.verdicts, CASES.length * 4 + 1);
    const all = r.cases.flatMap((c) => c.assertions.filter((a) => GRADED.includes(a.type)));
    assert.equal(all.length, CASES.length * 4);
    for (const a of all) {
      assert.match(a.message, /\[grader judge\/rnd\]$/, `a judge's reason, not an error: ${a.type}: ${a.message}`);
      assert.ok(a.score >= 0 && a.score <= 1, `${a.type}: score ${a.score}`);
    }
    for (const a of all.filter((x) => x.type === "factuality")) assert.match(a.message, /^[A-E] \((subset|superset|agree|disagree|differButFactual)\): /);
    for (const a of all.filter((x) => x.type === "g-eval")) assert.match(a.message, /^\d+\/10 \(threshold 0\): /);
  });

  test("verdicts are cached: the rerun asks no grader and gives the same verdicts", async () => {
    const first = await run();
    const startsBefore = engines.clients.length;
    const second = await run();
    assert.equal(seen.verdicts, 0);
    assert.equal(seen.outputs, 0);
    assert.equal(engines.clients.length, startsBefore, "a rerun with every verdict cached starts no engine");
    assert.deepEqual(verdicts(second), verdicts(first));
  });

  test("changing one rubric regenerates that verdict only; changing the grader regenerates every verdict and no output", async () => {
    const before = await run();
    fs.writeFileSync(file, evalSet("judge/rnd", (id) => (id === "peru" ? "Names a city in South America" : "Names a city")));
    const edited = await run();
    assert.equal(seen.outputs, 0);
    assert.equal(seen.verdicts, 1);
    assert.notEqual(edited.fingerprint, before.fingerprint);
    const changed = verdicts(edited).filter((v, i) => v !== verdicts(before)[i]);
    assert.ok(changed.every((v) => v.startsWith("peru/llm-rubric")), JSON.stringify(changed));

    fs.writeFileSync(file, evalSet("tiny/f16", (id) => (id === "peru" ? "Names a city in South America" : "Names a city")));
    const regraded = await run();
    assert.equal(seen.outputs, 0, "the outputs under test come from the cache");
    assert.equal(seen.verdicts, CASES.length * 4 + 1);
    assert.notEqual(regraded.fingerprint, edited.fingerprint);
    for (const v of verdicts(regraded)) assert.match(v, /\[grader tiny\/f16\]$/);

    // --grader overrides the eval set's grader, and is part of the fingerprint too.
    const overridden = await run({ grader: "judge/rnd" });
    assert.equal(seen.verdicts, 0, "judge/rnd's verdicts on these outputs are cached from before");
    for (const v of verdicts(overridden)) assert.match(v, /\[grader judge\/rnd\]$/);
    assert.notEqual(overridden.fingerprint, regraded.fingerprint);
  });

  test("compare --cross-grader: every model-graded verdict again by another grader, with their agreement", async () => {
    fs.writeFileSync(file, evalSet("judge/rnd", () => "Names a city"));
    const ws = new Workspace(dir);
    const report = await compareVariants({
      workspace: ws as unknown as CompareWorkspace,
      store,
      engine: engines.engine as unknown as () => Promise<CompareEngine>,
      targets: [{ promptFile: path.join(dir, "capital.prompt"), evalSetFile: file }],
      variants: ["tiny/f16"],
      gate: { maxPassRateDrop: 0.02, maxSliceDrop: 0.1, alpha: 0.05 },
      crossGrader: "tiny/f16",
    });
    const g = report.graderAgreement!;
    assert.ok(g, "the report carries the agreement");
    assert.equal(g.grader, "judge/rnd");
    assert.equal(g.other, "tiny/f16");
    // Two runs (tiny/f16 and its reference tiny/f32) × 4 cases × 4 model-graded assertions.
    assert.equal(g.verdicts, 2 * CASES.length * 4);
    assert.deepEqual(Object.keys(g.byType).sort(), [...GRADED].sort());
    assert.ok(g.agreement >= 0 && g.agreement <= 1);
    const disagreeing = Math.round((1 - g.agreement) * g.verdicts);
    assert.equal(g.disagreements.length, Math.min(50, disagreeing));
    for (const d of g.disagreements) {
      assert.notEqual(d.pass, d.otherPass);
      assert.match(d.otherReason, /\[grader tiny\/f16\]$/);
    }
    assert.match(compareText(report), /Graders: judge\/rnd vs tiny\/f16: 32 verdicts, agreement \d+(\.\d)?%/);
  });

  test("without any grader the assertion fails saying how to set one", async () => {
    fs.writeFileSync(file, evalSet("judge/rnd", () => "x").replace("grader: judge/rnd\n", ""));
    const r = await run();
    const a = r.cases[0]!.assertions.find((x) => x.type === "llm-rubric")!;
    assert.equal(a.pass, false);
    assert.match(a.message, /needs a grader and none is set: add `grader: family\/variant`/);
    fs.writeFileSync(file, evalSet("judge/rnd", () => "Names a city"));
  });
});

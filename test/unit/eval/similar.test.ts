// `similar` end to end: driftlens.yaml's embedding.model → the runner embeds through the real engine
// worker (real node-llama-cpp on the tiny GGUF). Identical text scores cosine 1 and passes, on a
// cached generation too; without the key the assertion fails saying how to configure it; a
// missing embedding model fails the assertion (not the run) naming the file.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { Workspace } from "../../../server/src/artifacts";
import { runEvals, type EvalReport } from "../../../server/src/eval/runner";
import { Store } from "../../../server/src/store/store";
import { TINY_RANDOM_GGUF } from "../../helpers/paths";
import { engineFactory, makeWorkspace } from "./helpers";


describe("similar with a configured embedding model", () => {
  const w = makeWorkspace("driftlens-similar-");
  const store = Store.open(w.store);
  const engines = engineFactory();
  const engine = engines.engine;
  after(async () => {
    await engines.dispose();
    store.close();
  });
  const yamlFile = path.join(w.root, "driftlens.yaml");
  const baseYaml = fs.readFileSync(yamlFile, "utf8");
  const setEmbedding = (model: string | undefined) => fs.writeFileSync(yamlFile, model === undefined ? baseYaml : `${baseYaml}embedding:\n  model: ${JSON.stringify(model)}\n`);
  const evalFile = path.join(w.root, "similar.eval.yaml");
  const writeEval = (value: string) =>
    fs.writeFileSync(evalFile, `prompt: capital.prompt\ncases:\n  - id: france\n    vars: {country: France}\n    assert:\n      - {type: similar, value: ${JSON.stringify(value)}, threshold: 0.99}\n`);
  // A fresh Workspace per run: it reads driftlens.yaml as it is now.
  const run = (): Promise<EvalReport> =>
    runEvals({ workspace: new Workspace(w.root), store, engine, targets: [{ promptFile: w.prompt, evalSetFile: evalFile }], seed: 3, memoryBudgetBytes: w.memoryBudgetBytes });

  test("identical text passes with cosine 1 (on the cached generation); without embedding.model the message says how to set it", async () => {
    // First run, no embedding model: the clear message.
    setEmbedding(undefined);
    writeEval("Paris");
    const first = await run();
    const r1 = first.runs[0]!;
    assert.equal(r1.status, "complete", r1.error);
    const c1 = r1.cases[0]!;
    assert.equal(c1.pass, false);
    const a1 = c1.assertions[0]!;
    assert.equal(a1.pass, false);
    assert.match(a1.message, /needs an embedding model and none is configured/);
    assert.match(a1.message, /embedding: \{model:/);
    const output = c1.output;
    assert.ok(output.length > 0);

    // Configure the model (a path relative to driftlens.yaml) and expect the output itself.
    setEmbedding(path.relative(w.root, TINY_RANDOM_GGUF));
    writeEval(output);
    const second = await run();
    const r2 = second.runs[0]!;
    assert.equal(r2.status, "complete", r2.error);
    const c2 = r2.cases[0]!;
    assert.equal(c2.cached, true, "the generation cache is unaffected by the embedding model");
    assert.equal(c2.output, output);
    const a2 = c2.assertions[0]!;
    assert.doesNotMatch(a2.message, /no(ne is)? configured/);
    assert.match(a2.message, /^cosine similarity 1\.000 vs threshold 0\.99$/);
    assert.ok(Math.abs(a2.score - 1) < 1e-6, `score ${a2.score}`);
    assert.equal(a2.pass, true);
    assert.equal(c2.pass, true);

    // A different text: a similarity score below 1 (and the same score when run again: deterministic).
    writeEval("Bananas are yellow and grow in bunches.");
    const third = await run();
    const a3 = third.runs[0]!.cases[0]!.assertions[0]!;
    assert.match(a3.message, /^cosine similarity \d\.\d{3} vs threshold 0\.99$/);
    assert.ok(a3.score >= 0 && a3.score < 1 - 1e-6, `score ${a3.score}`);
    const again = (await run()).runs[0]!.cases[0]!.assertions[0]!;
    assert.equal(again.score, a3.score);
  });

  test("a missing embedding model fails the similar assertion naming the file, not the run", async () => {
    setEmbedding("models/no-such-embedder.gguf");
    writeEval("Paris");
    const r = (await run()).runs[0]!;
    assert.equal(r.status, "complete", r.error);
    const a = r.cases[0]!.assertions[0]!;
    assert.equal(a.pass, false);
    assert.match(a.message, /no-such-embedder\.gguf does not exist/);
    // And the config diagnostic says so too (DL109).
    const diags = await new Workspace(w.root).diagnose(yamlFile);
    const d = diags.find((x) => x.code === "DL109");
    assert.ok(d, JSON.stringify(diags));
    assert.match(d.message, /no-such-embedder\.gguf/);
    assert.equal(d.range.start.line, baseYaml.split("\n").length); // the `model:` line
    // A family/variant works as the model too, and an unknown one is reported.
    setEmbedding("tiny/rnd");
    assert.equal((await new Workspace(w.root).diagnose(yamlFile)).filter((x) => x.code === "DL109").length, 0);
    assert.equal(new Workspace(w.root).embeddingModel(), TINY_RANDOM_GGUF);
    setEmbedding("tiny/nope");
    assert.match((await new Workspace(w.root).diagnose(yamlFile)).find((x) => x.code === "DL109")?.message ?? "", /no variant 'nope'/);
  });
});

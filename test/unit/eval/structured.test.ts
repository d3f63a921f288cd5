// Structured output end to end: a JSON prompt with a schema, run through runEvals on real GGUF
// files by the real engine worker. On llama-2-tiny-random (random weights: only the grammar can
// make its output JSON) and on the quickstart family, every case's output parses and validates
// against the schema; the `driftlens.constrain: false` opt-out, generating the same prompt as
// free text, does not. The grammar is part of the generation key and the run fingerprint.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import Ajv from "ajv";
import { Workspace } from "../../../server/src/artifacts";
import { runEvals, type RunEvalsOptions } from "../../../server/src/eval/runner";
import { Store } from "../../../server/src/store/store";
import { REPO_ROOT, TINY_RANDOM_GGUF, tempDir } from "../../helpers/paths";
import { quickstartCopy } from "../compare/quickstart";
import { engineFactory } from "./helpers";
import { STRUCTURED_SCHEMA, structuredPrompt } from "../../helpers/structured-schema";

const SCHEMA = STRUCTURED_SCHEMA;
const COUNTRIES = ["France", "Japan", "Peru", "Kenya", "Chile", "Norway", "Fiji", "Egypt", "Italy", "Ghana", "Nepal", "Cuba", "Spain", "Iran", "Mali", "Oman", "Laos", "Chad", "Togo", "Peru2"];

const promptText = (opts: { constrain?: boolean; schema?: object } = {}): string => structuredPrompt("tiny/rnd", opts);

function evalSetText(prompt: string): string {
  return [`prompt: ${prompt}`, "cases:", ...COUNTRIES.map((c, i) => `  - id: c${i}\n    vars: {country: ${c}}\n    assert: [{type: is-json}]\n    why: w`), ""].join("\n");
}

const ajv = new Ajv({ strict: false });

describe("structured output through runEvals", () => {
  const root = tempDir("driftlens-structured-");
  fs.writeFileSync(path.join(root, "driftlens.yaml"), `models:\n  tiny:\n    variants: {rnd: ${JSON.stringify(TINY_RANDOM_GGUF)}}\nengine: {gpu: cpu, threads: 1, contextSize: 512, parallelSequences: 1}\n`);
  fs.writeFileSync(path.join(root, "person.prompt"), promptText({}));
  fs.writeFileSync(path.join(root, "person.eval.yaml"), evalSetText("person.prompt"));
  fs.writeFileSync(path.join(root, "free.prompt"), promptText({ constrain: false }));
  fs.writeFileSync(path.join(root, "free.eval.yaml"), evalSetText("free.prompt"));
  const store = Store.open(path.join(root, ".driftlens", "store.db"));
  const engines = engineFactory();
  after(async () => {
    await engines.dispose();
    store.close();
  });
  const run = (ws: Workspace, prompt: string, evalSet: string, over: Partial<RunEvalsOptions> = {}) =>
    runEvals({ workspace: ws, store, engine: engines.engine, targets: [{ promptFile: path.join(root, prompt), evalSetFile: path.join(root, evalSet) }], seed: 7, ...over });

  test("llama-2-tiny-random: every case is valid JSON matching the schema; the unconstrained opt-out is not", async () => {
    const ws = new Workspace(root);
    const validate = ajv.compile(SCHEMA);
    const r = (await run(ws, "person.prompt", "person.eval.yaml")).runs[0]!;
    assert.equal(r.status, "complete", r.error);
    assert.equal(r.cases.length, COUNTRIES.length);
    for (const c of r.cases) {
      const v = JSON.parse(c.output) as unknown;
      assert.ok(validate(v), `${c.id}: ${c.output} ${ajv.errorsText(validate.errors)}`);
      const check = c.assertions.find((a) => a.type === "structured-output");
      assert.ok(check?.pass, `${c.id}: ${JSON.stringify(c.assertions)}`);
      assert.ok(c.pass, `${c.id}`);
    }
    assert.deepEqual(r.params.structured, { format: "json", constrained: true, grammar: (r.params.structured as { grammar: string }).grammar });

    const free = (await run(ws, "free.prompt", "free.eval.yaml")).runs[0]!;
    assert.equal(free.status, "complete", free.error);
    const valid = free.cases.filter((c) => {
      try {
        return validate(JSON.parse(c.output));
      } catch {
        return false;
      }
    }).length;
    // Random weights write JSON by chance essentially never.
    assert.ok(valid < COUNTRIES.length / 4, `${valid}/${COUNTRIES.length} unconstrained outputs were valid`);
    assert.ok(free.cases.every((c) => c.assertions.some((a) => a.type === "structured-output")));
    const failedCheck = free.cases.filter((c) => !c.assertions.find((a) => a.type === "structured-output")!.pass);
    assert.equal(failedCheck.length, COUNTRIES.length - valid);
    assert.match(failedCheck[0]!.assertions.find((a) => a.type === "structured-output")!.message, /not valid JSON \(generated without a grammar: driftlens\.constrain is false\)/);
    console.log(`structured output on llama-2-tiny-random: constrained ${r.cases.length}/${r.cases.length} valid; unconstrained ${valid}/${free.cases.length} valid`);
  });

  test("the grammar is part of the generation key and the run fingerprint: a schema change regenerates, a rerun does not", async () => {
    const ws = new Workspace(root);
    const first = (await run(ws, "person.prompt", "person.eval.yaml")).runs[0]!;
    assert.equal(first.summary.cached, COUNTRIES.length);
    // A tighter name: another grammar, so nothing is served from the cache.
    const tighter = { ...SCHEMA, properties: { ...SCHEMA.properties, name: { type: "string", maxLength: 5 } } };
    fs.writeFileSync(path.join(root, "person.prompt"), promptText({ schema: tighter }));
    const ws2 = new Workspace(root);
    const second = (await run(ws2, "person.prompt", "person.eval.yaml")).runs[0]!;
    assert.notEqual(second.fingerprint, first.fingerprint);
    assert.equal(second.summary.generated, COUNTRIES.length);
    for (const c of second.cases) assert.ok((JSON.parse(c.output) as { name: string }).name.length <= 5, c.output);
    fs.writeFileSync(path.join(root, "person.prompt"), promptText({}));
  });
});

describe("structured output on the quickstart family", () => {
  const dir = quickstartCopy("driftlens-structured-qs-");
  const store = Store.open(path.join(dir, ".driftlens", "store.db"));
  const engines = engineFactory();
  after(async () => {
    await engines.dispose();
    store.close();
  });

  test("capital-json.prompt: valid, schema-conforming JSON on every case of every variant; free text fails the check", async () => {
    const ws = new Workspace(dir);
    const target = { promptFile: path.join(dir, "capital-json.prompt"), evalSetFile: path.join(dir, "capitals-json.eval.yaml") };
    const schema = ws.prompt(target.promptFile).output!.jsonSchema!;
    const validate = ajv.compile(schema);
    const report = await runEvals({ workspace: ws, store, engine: engines.engine, targets: [target], variants: ["tiny/f32", "tiny/f16", "tiny/q8_0", "tiny/q4_0"] });
    assert.equal(report.runs.length, 4);
    for (const r of report.runs) {
      assert.equal(r.status, "complete", r.error);
      for (const c of r.cases) assert.ok(validate(JSON.parse(c.output)), `${r.variant} ${c.id}: ${c.output}`);
      // The words come from the model: the capital opens every answer.
      assert.ok(r.summary.passRate >= 0.9, `${r.variant}: ${r.summary.passRate}`);
    }
    // The same prompt opted out: the model's free answer ("Paris") is not JSON.
    ws.setOverlay(target.promptFile, fs.readFileSync(target.promptFile, "utf8").replace("driftlens.evals:", "driftlens.constrain: false\ndriftlens.evals:"));
    const free = (await runEvals({ workspace: ws, store, engine: engines.engine, targets: [target], variants: ["tiny/f32"] })).runs[0]!;
    assert.equal(free.status, "complete", free.error);
    assert.equal(free.summary.passed, 0);
    assert.ok(free.cases.every((c) => !c.assertions.find((a) => a.type === "structured-output")!.pass));
    assert.ok(fs.existsSync(path.join(REPO_ROOT, "examples", "quickstart", "capital-json.prompt")));
  });
});

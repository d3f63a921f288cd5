// Structured output and model-graded assertions on SERVED variants, over a real llama-server
// (llama-2-tiny-random: random weights, so only the constraint can make its output JSON; one
// thread, loopback). A JSON prompt with a schema gives schema-valid JSON on every case, and the
// `driftlens.constrain: false` opt-out does not; a served grader gives a parseable verdict on
// every case, a rerun is fully cached, and a new `revision` of one grader re-judges exactly its
// verdicts. Nothing here starts the local engine.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Ajv from "ajv";
import { Workspace } from "../../../server/src/artifacts";
import { setFingerprintCache } from "../../../server/src/artifacts/fingerprint";
import { formatText } from "../../../server/src/eval/format";
import { runEvals, type EvalRunReport, type RunEvalsOptions, type RunnerEngine, type RunnerWorkspace } from "../../../server/src/eval/runner";
import { EngineClient } from "../../../server/src/llm/client";
import { RoutingEngine } from "../../../server/src/llm/remote/router";
import { responseFormat, structuredFields, structuredWarning } from "../../../server/src/llm/remote/structured";
import { Store } from "../../../server/src/store/store";
import { startLlamaServer, type LlamaServer } from "../../helpers/llama-server";
import { startMockServer, type MockServer } from "../../helpers/mock-server";
import { SHARED, TINY_RANDOM_GGUF, tempDir } from "../../helpers/paths";
import { TEST_ENGINE_SETTINGS } from "../eval/helpers";
import { STRUCTURED_SCHEMA, structuredPrompt } from "../../helpers/structured-schema";

const STORIES = path.join(SHARED, "models", "stories260K.gguf");

const SCHEMA = STRUCTURED_SCHEMA;
const COUNTRIES = ["France", "Japan", "Peru", "Kenya", "Chile", "Norway", "Fiji", "Egypt", "Italy", "Ghana", "Nepal", "Cuba", "Spain", "Iran", "Mali", "Oman"];
const ajv = new Ajv({ strict: false });

let server: LlamaServer;
let stories: LlamaServer;
/** MOCK: Ollama's envelope (owned_by "library", no /props) in front of a real llama-server on stories260K. */
let ollama: MockServer;
let root: string;

function yaml(url: string, revisionA: string): string {
  return [
    "models:",
    "  tiny:",
    `    variants: {served: {endpoints: [${url}]}, served-chat: {endpoints: [${url}], template: chat}}`,
    "  story:",
    "    variants:",
    `      local: ${JSON.stringify(STORIES)}`,
    `      llama: {endpoints: [${stories.url}]}`,
    `      ollama: {endpoints: [${ollama.url}]}`,
    `      ollama-text: {endpoints: [${ollama.url}], template: completion}`,
    "  judge:",
    "    variants:",
    `      a: {endpoints: [${url}], revision: "${revisionA}"}`,
    `      b: {endpoints: [${url}], revision: "1"}`,
    "store: .driftlens/store.db",
    "",
  ].join("\n");
}

const personPrompt = (opts: { constrain?: boolean; schema?: object } = {}): string => structuredPrompt("tiny/served", opts);

const personEvalSet = (prompt: string) => [`prompt: ${prompt}`, "cases:", ...COUNTRIES.map((c, i) => `  - id: c${i}\n    vars: {country: ${c}}\n    assert: [{type: is-json}]`), ""].join("\n");

/** For the mock Ollama: a schema llama.cpp's own converter (behind response_format) enforces in full. */
const STORY_SCHEMA = { type: "object", properties: { name: { type: "string", maxLength: 12 }, age: { type: "integer", minimum: 0, maximum: 120 }, member: { type: "boolean" } }, required: ["name", "age", "member"], additionalProperties: false };
const storyPrompt = [
  "---",
  `config: {temperature: 1.0, maxOutputTokens: 120}`,
  "input:",
  "  schema:",
  "    country: string",
  "output:",
  "  format: json",
  `  schema: ${JSON.stringify(STORY_SCHEMA)}`,
  "---",
  '{{role "user"}}Once upon a time in {{country}} there was',
  "",
].join("\n");

const GRADED_CASES = COUNTRIES.slice(0, 5);
const gradedEvalSet = () =>
  [
    "prompt: capital.prompt",
    "cases:",
    ...GRADED_CASES.map((c, i) =>
      [
        `  - id: g${i}`,
        `    vars: {country: ${c}}`,
        "    assert:",
        "      - {type: llm-rubric, value: Names a city, grader: judge/a}",
        "      - {type: model-graded-closedqa, value: names a capital city, grader: judge/b}",
      ].join("\n"),
    ),
    "",
  ].join("\n");

before(async () => {
  [server, stories] = await Promise.all([startLlamaServer({ model: TINY_RANDOM_GGUF, contextSize: 1024 }), startLlamaServer({ model: STORIES })]);
  ollama = await startMockServer({ upstream: stories, personality: "ollama" });
  root = fs.realpathSync(tempDir("driftlens-served-structured-"));
  fs.writeFileSync(path.join(root, "driftlens.yaml"), yaml(server.url, "1"));
  fs.writeFileSync(path.join(root, "person.prompt"), personPrompt({}));
  fs.writeFileSync(path.join(root, "person.eval.yaml"), personEvalSet("person.prompt"));
  fs.writeFileSync(path.join(root, "free.prompt"), personPrompt({ constrain: false }));
  fs.writeFileSync(path.join(root, "free.eval.yaml"), personEvalSet("free.prompt"));
  fs.writeFileSync(path.join(root, "capital.prompt"), "---\nmodel: tiny/served\nconfig: {temperature: 0, maxOutputTokens: 12}\ninput:\n  schema:\n    country: string\n---\nThe capital of {{country}} is\n");
  fs.writeFileSync(path.join(root, "graded.eval.yaml"), gradedEvalSet());
  fs.writeFileSync(path.join(root, "unconstrained.eval.yaml"), "prompt: capital.prompt\ncases:\n  - id: u0\n    vars: {country: France}\n    assert: [{type: llm-rubric, value: Names a city, grader: story/ollama-text}]\n");
  fs.writeFileSync(path.join(root, "story.prompt"), storyPrompt);
  fs.writeFileSync(path.join(root, "greedy.prompt"), storyPrompt.replace("temperature: 1.0", "temperature: 0"));
  fs.writeFileSync(path.join(root, "greedy.eval.yaml"), personEvalSet("greedy.prompt"));
  fs.writeFileSync(path.join(root, "story.eval.yaml"), personEvalSet("story.prompt"));
});

after(async () => {
  await ollama?.close();
  await Promise.all([server?.stop(), stories?.stop()]);
});

/** What reached the engine in the last run: per variant, requests (outputs under test and verdicts). */
let seen = new Map<string, number>();

async function run(prompt: string, evalSet: string, over: Partial<RunEvalsOptions> = {}, allowLocal = false): Promise<EvalRunReport> {
  seen = new Map();
  const store = Store.open(path.join(root, ".driftlens", "store.db"));
  setFingerprintCache(store.fingerprintCache());
  let router: RoutingEngine | undefined;
  const engine = async (): Promise<RunnerEngine> => {
    router ??= new RoutingEngine(() => (allowLocal ? EngineClient.start(TEST_ENGINE_SETTINGS) : Promise.reject(new Error("a served-only run must not start the local engine"))));
    const r = router;
    return {
      info: () => r.info(),
      generateMany: (reqs, onResult, signal) => {
        for (const q of reqs) seen.set(q.model.variant, (seen.get(q.model.variant) ?? 0) + 1);
        return r.generateMany(reqs, onResult, signal);
      },
    };
  };
  try {
    const report = await runEvals({ workspace: new Workspace(root) as unknown as RunnerWorkspace, store, engine, targets: [{ promptFile: path.join(root, prompt), evalSetFile: path.join(root, evalSet) }], seed: 7, ...over });
    assert.equal(report.errors.length, 0, JSON.stringify(report.errors));
    assert.equal(report.runs.length, 1);
    if (!allowLocal) assert.equal(router?.localStarted ?? false, false, "served variants only: no local engine");
    return report.runs[0]!;
  } finally {
    await router?.dispose();
    store.close();
  }
}

const validCount = (r: EvalRunReport, schema: object) => {
  const validate = ajv.compile(schema);
  return r.cases.filter((c) => {
    try {
      return validate(JSON.parse(c.output));
    } catch {
      return false;
    }
  }).length;
};

describe("structured output on a served variant (llama-server, random weights)", () => {
  test("every case is schema-valid JSON; the unconstrained opt-out is not; a rerun is cached", async () => {
    const r = await run("person.prompt", "person.eval.yaml");
    assert.equal(r.status, "complete", r.error);
    assert.equal(r.backend, "remote llama-server");
    assert.equal(r.cases.length, COUNTRIES.length);
    const validate = ajv.compile(SCHEMA);
    for (const c of r.cases) {
      const v = JSON.parse(c.output) as unknown;
      assert.ok(validate(v), `${c.id}: ${c.output} ${ajv.errorsText(validate.errors)}`);
      assert.ok(c.assertions.find((a) => a.type === "structured-output")?.pass, `${c.id}: ${JSON.stringify(c.assertions)}`);
      assert.ok(c.pass, c.id);
    }
    // llama-server takes the grammar itself: nothing to warn about.
    assert.equal(r.warnings, undefined);
    assert.doesNotMatch(formatText({ runs: [r], errors: [] }, root), /warning:/);

    const free = await run("free.prompt", "free.eval.yaml");
    assert.equal(free.status, "complete", free.error);
    const valid = validCount(free, SCHEMA);
    assert.ok(valid < COUNTRIES.length / 4, `${valid}/${COUNTRIES.length} unconstrained outputs were valid`);
    assert.equal(free.cases.filter((c) => !c.assertions.find((a) => a.type === "structured-output")!.pass).length, COUNTRIES.length - valid);
    console.log(`served structured output on llama-2-tiny-random: constrained ${r.cases.length}/${r.cases.length} valid; unconstrained ${valid}/${free.cases.length} valid`);

    const again = await run("person.prompt", "person.eval.yaml");
    assert.equal(again.summary.cached, COUNTRIES.length);
    assert.equal(seen.size, 0, "a fully cached rerun sends nothing");
    assert.deepEqual(
      again.cases.map((c) => c.output),
      r.cases.map((c) => c.output),
    );
  });

  test("on llama-server's chat completions route the grammar constrains too (up to the server's lenient UTF-8)", async () => {
    const r = await run("person.prompt", "person.eval.yaml", { variants: ["tiny/served-chat"] });
    assert.equal(r.status, "complete", r.error);
    assert.equal(r.warnings, undefined);
    // Every output is JSON. llama-server's grammar decodes token bytes leniently (an ill-formed
    // UTF-8 sequence written byte token by byte token passes as one character; the local engine
    // bans such tokens, a server cannot be asked to), so a random-weights model can still break a
    // string's maxLength with bytes a strict decoder turns into U+FFFD: those fail validation,
    // and they are the only failures.
    const validate = ajv.compile(SCHEMA);
    let valid = 0;
    for (const c of r.cases) {
      const v = JSON.parse(c.output) as unknown;
      if (validate(v)) valid++;
      else assert.match(c.output, /\uFFFD/, `${c.id}: ${c.output} ${ajv.errorsText(validate.errors)}`);
    }
    console.log(`served structured output on llama-server's chat route: ${valid}/${r.cases.length} schema-valid, every one JSON`);
    assert.ok(valid >= COUNTRIES.length - 2, `${valid}/${COUNTRIES.length}`);
  });

  test("greedy under the same grammar, llama-server and the local engine give the same JSON on the same GGUF", async () => {
    const local = await run("greedy.prompt", "greedy.eval.yaml", { variants: ["story/local"] }, true);
    const served = await run("greedy.prompt", "greedy.eval.yaml", { variants: ["story/llama"] });
    assert.equal(local.status, "complete", local.error);
    assert.equal(served.status, "complete", served.error);
    assert.equal(validCount(local, STORY_SCHEMA), COUNTRIES.length);
    console.log(`greedy JSON, local = served on stories260K, e.g. ${local.cases[0]!.output} / ${local.cases[1]!.output}`);
    assert.deepEqual(
      served.cases.map((c) => [c.id, c.output]),
      local.cases.map((c) => [c.id, c.output]),
    );
  });

  test("the structured spec is part of a served variant's generation key: a schema change regenerates under the new schema", async () => {
    const first = await run("person.prompt", "person.eval.yaml");
    assert.equal(first.summary.cached, COUNTRIES.length);
    const tighter = { ...SCHEMA, properties: { ...SCHEMA.properties, name: { type: "string", maxLength: 3 } } };
    fs.writeFileSync(path.join(root, "person.prompt"), personPrompt({ schema: tighter }));
    try {
      const second = await run("person.prompt", "person.eval.yaml");
      assert.equal(second.summary.generated, COUNTRIES.length);
      assert.equal(validCount(second, tighter), COUNTRIES.length);
    } finally {
      fs.writeFileSync(path.join(root, "person.prompt"), personPrompt({}));
    }
  });

  test("an Ollama-style server (MOCK envelope, real llama-server) gets response_format on chat; on plain-text completions the run warns and goes on", async () => {
    const chat = await run("story.prompt", "story.eval.yaml", { variants: ["story/ollama"] });
    assert.equal(chat.status, "complete", chat.error);
    assert.equal(chat.backend, "remote ollama");
    assert.equal(validCount(chat, STORY_SCHEMA), COUNTRIES.length, chat.cases.map((c) => c.output).join("\n"));
    assert.equal(chat.warnings, undefined);

    const text = await run("story.prompt", "story.eval.yaml", { variants: ["story/ollama-text"] });
    assert.equal(text.status, "complete", text.error);
    assert.equal(text.warnings?.length, 1);
    assert.match(text.warnings![0]!, /^variant story\/ollama-text: Ollama cannot constrain plain-text completions to JSON/);
    assert.match(formatText({ runs: [text], errors: [] }, root), /\n {4}warning: variant story\/ollama-text: Ollama cannot constrain/);
    const valid = validCount(text, STORY_SCHEMA);
    assert.ok(valid < COUNTRIES.length / 4, `${valid}/${COUNTRIES.length} unconstrained outputs were valid`);
    // Said again on a fully cached rerun: the report describes the run, not this call's requests.
    const again = await run("story.prompt", "story.eval.yaml", { variants: ["story/ollama-text"] });
    assert.equal(again.summary.cached, COUNTRIES.length);
    assert.deepEqual(again.warnings, text.warnings);
  });

  test("how each server kind is asked, and where a kind cannot constrain the run says so", () => {
    const s = { grammar: 'root ::= "{}"', schema: SCHEMA };
    assert.deepEqual(structuredFields("llama-server", "completion", s), { grammar: s.grammar });
    assert.deepEqual(structuredFields("llama-server", "chat", s), { grammar: s.grammar });
    assert.deepEqual(structuredFields("vllm", "completion", s), { response_format: { type: "json_schema", json_schema: { name: "output", schema: SCHEMA, strict: false } } });
    assert.deepEqual(structuredFields("openai", "chat", { ...s, schema: null }), { response_format: { type: "json_object" } });
    assert.deepEqual(structuredFields("ollama", "completion", s), {});
    assert.deepEqual(structuredFields("openai", "chat", undefined), {});
    // OpenAI's strict mode takes closed, fully required objects only.
    const strict = { type: "object", properties: { a: { type: "string" }, b: { type: "array", items: { type: "object", properties: { c: { type: "integer" } }, required: ["c"], additionalProperties: false } } }, required: ["a", "b"], additionalProperties: false };
    assert.equal((responseFormat({ grammar: "", schema: strict }).json_schema as { strict: boolean }).strict, true);
    const open = { ...strict, properties: { ...strict.properties, b: { type: "array", items: { type: "object", properties: { c: { type: "integer" } } } } } };
    assert.equal((responseFormat({ grammar: "", schema: open }).json_schema as { strict: boolean }).strict, false);
    assert.equal(structuredWarning("t/v", "llama-server", "completion", s), undefined);
    assert.equal(structuredWarning("t/v", "vllm", "completion", s), undefined);
    assert.equal(structuredWarning("t/v", "openai", "chat", { grammar: "", schema: strict }), undefined);
    assert.match(structuredWarning("t/v", "ollama", "completion", s)!, /^variant t\/v: Ollama cannot constrain plain-text completions to JSON.*free text/);
    assert.match(structuredWarning("t/v", "openai", "chat", s)!, /without strict mode/);
  });
});

describe("model-graded assertions judged by served variants", () => {
  test("a served grader whose server cannot constrain answers free text: a verdict that does not parse says why", async () => {
    const r = await run("capital.prompt", "unconstrained.eval.yaml");
    const c = r.cases[0]!;
    const why = c.error ?? c.assertions.find((a) => a.type === "llm-rubric")?.message ?? "";
    console.log(`unconstrained served grader: ${why.slice(0, 300)}`);
    assert.match(why, /grader story\/ollama-text .*not the JSON object asked for: .*\(its server \(ollama, plain-text completions\) cannot constrain the verdict to JSON/);
  });

  const verdicts = (r: EvalRunReport, type: string) => r.cases.map((c) => c.assertions.find((a) => a.type === type)!);

  test("every verdict parses; a rerun is fully cached; a new revision of one grader re-judges exactly its verdicts", async () => {
    // The editor and `check` take a served variant as a grader.
    const diags = await new Workspace(root).diagnose(path.join(root, "graded.eval.yaml"));
    assert.deepEqual(diags.filter((d) => d.severity === "error" || /^DL32/.test(d.code ?? "")), []);
    const first = await run("capital.prompt", "graded.eval.yaml");
    assert.equal(first.status, "complete", first.error);
    const n = GRADED_CASES.length;
    // llm-rubric's judge sees the output and the rubric only: equal outputs share one verdict.
    const outputs = new Set(first.cases.map((c) => c.output)).size;
    assert.deepEqual(Object.fromEntries(seen), { "tiny/served": n, "judge/a": outputs, "judge/b": n });
    for (const [type, grader] of [
      ["llm-rubric", "judge/a"],
      ["model-graded-closedqa", "judge/b"],
    ] as const) {
      for (const a of verdicts(first, type)) {
        // A judge's reason, not a parse failure or an engine error.
        assert.match(a.message, new RegExp(`\\[grader ${grader}\\]$`), `${type}: ${a.message}`);
        assert.ok(a.score >= 0 && a.score <= 1, `${type}: score ${a.score}`);
      }
    }

    const rerun = await run("capital.prompt", "graded.eval.yaml");
    assert.equal(seen.size, 0, `a rerun asks no grader and generates nothing: ${JSON.stringify(Object.fromEntries(seen))}`);
    assert.equal(rerun.summary.cached, n);
    assert.deepEqual(rerun.cases.map((c) => c.assertions), first.cases.map((c) => c.assertions));

    fs.writeFileSync(path.join(root, "driftlens.yaml"), yaml(server.url, "2"));
    try {
      const revised = await run("capital.prompt", "graded.eval.yaml");
      assert.deepEqual(Object.fromEntries(seen), { "judge/a": outputs }, "judge/a's verdicts only: the outputs and judge/b's verdicts come from the cache");
      assert.notEqual(revised.fingerprint, first.fingerprint, "the grader's served identity is part of the run fingerprint");
      assert.deepEqual(verdicts(revised, "model-graded-closedqa"), verdicts(first, "model-graded-closedqa"));
      for (const a of verdicts(revised, "llm-rubric")) assert.match(a.message, /\[grader judge\/a\]$/);
    } finally {
      fs.writeFileSync(path.join(root, "driftlens.yaml"), yaml(server.url, "1"));
    }
  });
});

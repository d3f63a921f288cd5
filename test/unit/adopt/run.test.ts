// Adopted files run on a quickstart variant through driftlens.yaml's `providers:` map, with the
// real engine on the generated tiny model family: a promptfoo config, a GitHub .prompt.yml and a
// Prompty file with an eval set naming it. `driftlens import` of each gives native files whose
// cases have the same ids and the same results (the same messages: the generation cache answers
// every imported case). An unmapped provider is an exit 2 naming it and the map entry to add;
// --variant overrides the map.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { evalCommand } from "../../../server/src/cli/eval";
import { importCommand } from "../../../server/src/cli/import";
import { FIXTURES } from "../../helpers/paths";
import { quickstartCopy, runCommand } from "../compare/quickstart";

interface Report {
  runs: { variant: string; promptFile: string; evalSetFile: string; status: string; error?: string; cases: { id: string; pass: boolean; output: string; cached: boolean; assertions: { type: string; pass: boolean }[] }[] }[];
  errors: { message: string }[];
}

const PROVIDERS = `providers:\n  "openai:gpt-4o-mini": tiny/f32\n  "openai/gpt-4o-mini": tiny/f32\n  "gpt-4o-mini": tiny/f32\n`;

const PROMPTFOO = `description: Capitals on the quickstart model
prompts:
  - "What is the capital of {{country}}?"
  - id: file://chat.json
    label: chat
providers:
  - id: openai:gpt-4o-mini
    config: {temperature: 0, max_tokens: 8}
defaultTest:
  assert:
    - type: not-icontains
      value: "capital"
tests:
  - vars: {country: France}
    assert:
      - {type: icontains, value: paris}
  - description: iceland
    vars: {country: Iceland}
    assert:
      - {type: icontains, value: reykjavik}
      - {type: llm-rubric, value: names the capital}
  - file://more.csv
`;

function workspace(): string {
  const dir = quickstartCopy("driftlens-adopt-run-");
  fs.appendFileSync(path.join(dir, "driftlens.yaml"), PROVIDERS);
  fs.writeFileSync(path.join(dir, "promptfooconfig.yaml"), PROMPTFOO);
  fs.writeFileSync(path.join(dir, "chat.json"), JSON.stringify([{ role: "user", content: "What is the capital of {{ country }}?" }]));
  fs.writeFileSync(path.join(dir, "more.csv"), "country,__expected\nItaly,icontains: rome\nJapan,contains: Tokyo\nMalta,icontains: valletta\n");
  fs.mkdirSync(path.join(dir, "gh"));
  fs.copyFileSync(path.join(FIXTURES, "adopt", "ghprompt", "capitals.prompt.yml"), path.join(dir, "gh", "capitals.prompt.yml"));
  fs.mkdirSync(path.join(dir, "py"));
  for (const f of ["capital.prompty", "capital.eval.yaml"]) fs.copyFileSync(path.join(FIXTURES, "adopt", "prompty", f), path.join(dir, "py", f));
  return dir;
}

async function evalJson(dir: string, args: string[]): Promise<{ code: number; report: Report; err: string }> {
  const r = await runCommand(evalCommand, [...args, "--format", "json"], dir);
  return { code: r.code, report: JSON.parse(r.out || '{"runs":[],"errors":[]}') as Report, err: r.err };
}

/** Case results keyed by case id (one run per prompt: the prompt's file name without the folder). */
function results(report: Report): Map<string, { pass: boolean; output: string; assertions: string }> {
  const out = new Map<string, { pass: boolean; output: string; assertions: string }>();
  for (const run of report.runs) {
    const prompt = run.promptFile.includes("#") ? run.promptFile.slice(run.promptFile.indexOf("#") + 1) : path.basename(run.promptFile).replace(/\.(prompt|prompty|prompt\.yml)$/, "");
    for (const c of run.cases) out.set(`${run.variant} ${prompt} ${c.id}`, { pass: c.pass, output: c.output, assertions: c.assertions.map((a) => `${a.type}:${a.pass}`).join(",") });
  }
  return out;
}

test("promptfoo, .prompt.yml and .prompty files run on a quickstart variant through providers:, and their imports give the same cases and results", { timeout: 600_000 }, async () => {
  const dir = workspace();
  // promptfoo: two prompts × five tests on tiny/f32.
  const pf = await evalJson(dir, ["promptfooconfig.yaml"]);
  assert.deepEqual(pf.report.errors, []);
  assert.equal(pf.report.runs.length, 2);
  assert.ok(pf.report.runs.every((r) => r.status === "complete" && r.variant === "tiny/f32"), JSON.stringify(pf.report.runs.map((r) => [r.status, r.error])));
  const pfIds = pf.report.runs[0]!.cases.map((c) => c.id);
  assert.deepEqual(pfIds, ["country=France", "iceland", "country=Italy", "country=Japan", "country=Malta"]);
  const france = pf.report.runs[0]!.cases[0]!;
  assert.equal(france.output.trim(), "Paris");
  assert.deepEqual(
    france.assertions.map((a) => a.type),
    ["not-icontains", "icontains"],
  );
  // .prompt.yml and .prompty (its eval set).
  const gh = await evalJson(dir, ["gh/capitals.prompt.yml"]);
  assert.equal(gh.report.runs[0]?.status, "complete", gh.err);
  assert.deepEqual(
    gh.report.runs[0]!.cases.map((c) => c.id),
    ["capital=Paris country=France", "capital=Reykjavik country=Iceland", "capital=Tokyo country=Japan"],
  );
  assert.ok(gh.report.runs[0]!.cases.every((c) => c.pass), JSON.stringify(gh.report.runs[0]!.cases.map((c) => [c.id, c.output])));
  const py = await evalJson(dir, ["py/capital.prompty"]);
  assert.equal(py.report.runs[0]?.status, "complete", py.err);
  assert.deepEqual(
    py.report.runs[0]!.cases.map((c) => [c.id, c.pass]),
    [
      ["france", true],
      ["iceland", true],
      ["japan", true],
    ],
  );
  // Imports: same ids, same verdicts, same outputs; every imported case is a cache hit (same messages and parameters).
  for (const [file, out] of [
    ["promptfooconfig.yaml", "imported-pf"],
    ["gh/capitals.prompt.yml", "imported-gh"],
    ["py/capital.prompty", "imported-py"],
  ] as const) {
    const imp = await runCommand(importCommand, [file, "--out", out], dir);
    assert.equal(imp.code, 0, imp.err);
    const prompts = fs.readdirSync(path.join(dir, out)).filter((f) => f.endsWith(".prompt")).map((f) => path.join(out, f));
    const native = await evalJson(dir, prompts);
    assert.deepEqual(native.report.errors, []);
    const before = results(file.endsWith(".yaml") ? pf.report : file.endsWith(".yml") ? gh.report : py.report);
    const after = results(native.report);
    // Prompt names: promptfoo "prompt 1"/"chat" → prompt-1.prompt/chat.prompt; the others keep their file name.
    const norm = (k: string) => k.replace(/ prompt 1 /, " prompt-1 ");
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].map(norm).sort(), `${file}: the same cases`);
    for (const [k, v] of before) assert.deepEqual(after.get(norm(k)), v, `${file} ${k}`);
    assert.ok(native.report.runs.every((r) => r.cases.every((c) => c.cached)), `${file}: imported cases render to the same messages (cache hits)`);
  }
});

test("an unmapped provider fails the eval with exit 2 naming it and the providers: entry to add; --variant runs it", { timeout: 300_000 }, async () => {
  const dir = workspace();
  fs.writeFileSync(path.join(dir, "promptfooconfig.yaml"), PROMPTFOO.replace("openai:gpt-4o-mini", "openai:gpt-5"));
  const r = await evalJson(dir, ["promptfooconfig.yaml"]);
  assert.equal(r.code, 2);
  const msg = r.report.runs.map((x) => x.error ?? "").join("\n");
  assert.match(msg, /provider 'openai:gpt-5' is not mapped to a local variant: add providers: \{"openai:gpt-5": family\/variant\} to driftlens\.yaml, or pass --variant/);
  const v = await evalJson(dir, ["promptfooconfig.yaml", "--variant", "tiny/q4_0"]);
  assert.ok(v.code === 0 || v.code === 1, v.err);
  assert.ok(v.report.runs.every((x) => x.variant === "tiny/q4_0" && x.status === "complete"));
  // Q4_0 loses Reykjavik (the quickstart's engineered tail regression) where F32 keeps it.
  assert.equal(v.report.runs[0]!.cases.find((c) => c.id === "iceland")!.pass, false);
});

test("a promptfoo config's transforms and python/javascript assertions run on the model's output with --trust, and fail saying why without it", { timeout: 300_000 }, async () => {
  const dir = workspace();
  fs.writeFileSync(
    path.join(dir, "promptfooconfig.yaml"),
    `prompts: ["What is the capital of {{country}}?"]
providers:
  - id: openai:gpt-4o-mini
    config: {temperature: 0, max_tokens: 8}
tests:
  - vars: {country: France}
    options: {transform: "output.trim().toUpperCase()"}
    assert:
      - {type: equals, value: PARIS}
      - {type: python, value: "output == 'PARIS' and context['vars']['country'] == 'France'"}
      - {type: javascript, value: "output === 'paris'", transform: "output.toLowerCase()"}
`,
  );
  const trusted = await evalJson(dir, ["promptfooconfig.yaml", "--trust"]);
  assert.equal(trusted.code, 0, trusted.err);
  const c = trusted.report.runs[0]!.cases[0]!;
  assert.equal(c.output.trim(), "Paris", "the output as generated; the transform applies to what the assertions see");
  assert.deepEqual(
    c.assertions.map((a) => `${a.type}:${a.pass}`),
    ["equals:true", "python:true", "javascript:true"],
  );
  const untrusted = await evalJson(dir, ["promptfooconfig.yaml"]);
  assert.equal(untrusted.code, 1);
  const u = untrusted.report.runs[0]!.cases[0]! as unknown as { pass: boolean; assertions: { message?: string }[] };
  assert.equal(u.pass, false);
  assert.match(JSON.stringify(u.assertions), /runs only in a trusted workspace; trust the workspace \(or pass --trust to the CLI\)/);
});

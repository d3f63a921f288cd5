// Adopted files in the bundled language server over stdio, on a copy of the quickstart: a promptfoo
// config, a GitHub .prompt.yml and a Prompty file get diagnostics as they are typed (and when a
// test CSV they read changes on disk), appear in the Test Explorer tree with their cases, run
// through driftlens/run on their providers' variants with case results streamed at their lines,
// and have CodeLens data (last runs) afterwards.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import type { CaseResult, LastRunLens, RunResult, TestTree } from "../../server/src/protocol/runs";
import { ensureQuickstartModels } from "../../server/src/modelgen";
import { FIXTURES, REPO_ROOT, tempDir } from "../helpers/paths";
import { fileUri, LspClient } from "./client";

let dir = "";
let client: LspClient;
const results: CaseResult[] = [];

const CONFIG = `prompts:\n  - "What is the capital of {{country}}?"\nproviders:\n  - id: openai:gpt-4o-mini\n    config: {temperature: 0, max_tokens: 8}\ntests:\n  - vars: {country: France}\n    assert:\n      - {type: icontains, value: paris}\n  - file://tests.csv\n`;

before(async () => {
  dir = tempDir("driftlens-lsp-adopted-");
  fs.cpSync(path.join(REPO_ROOT, "examples", "quickstart"), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}models`) && !src.includes(".driftlens") });
  ensureQuickstartModels(path.join(dir, "models"));
  fs.appendFileSync(path.join(dir, "driftlens.yaml"), `providers:\n  "openai:gpt-4o-mini": tiny/f32\n  "openai/gpt-4o-mini": tiny/f32\n  "gpt-4o-mini": tiny/f32\n`);
  fs.writeFileSync(path.join(dir, "promptfooconfig.yaml"), CONFIG);
  fs.writeFileSync(path.join(dir, "tests.csv"), "country,__expected\nIceland,icontains: reykjavik\nJapan,icontains: tokyo\n");
  fs.copyFileSync(path.join(FIXTURES, "adopt", "ghprompt", "capitals.prompt.yml"), path.join(dir, "capitals.prompt.yml"));
  for (const f of ["capital.prompty", "capital.eval.yaml"]) fs.copyFileSync(path.join(FIXTURES, "adopt", "prompty", f), path.join(dir, f === "capital.eval.yaml" ? "capital-prompty.eval.yaml" : f));
  client = await LspClient.start({ folders: [dir], env: { DRIFTLENS_TRUSTED: "1" }, settings: { diagnosticsDebounceMs: 0 } });
  client.conn.onNotification("driftlens/caseResult", (p: CaseResult) => void results.push(p));
});

after(async () => {
  await client?.stop();
});

test("diagnostics arrive as a promptfoo config, a .prompt.yml and a .prompty are edited, at the exact place", async () => {
  const uri = await client.open(path.join(dir, "promptfooconfig.yaml"));
  assert.deepEqual(await client.waitForDiagnostics(uri, { timeoutMs: 30000 }), []);
  // A misspelt assertion type on line 9 (0-based 8).
  const v = await client.edit(uri, { start: { line: 8, character: 15 }, end: { line: 8, character: 24 } }, "icontainz");
  const d = await client.waitForDiagnostics(uri, { minVersion: v, fresh: true, timeoutMs: 30000 });
  assert.deepEqual(
    d.map((x) => [x.code, x.range.start.line, x.range.start.character, x.range.end.character]),
    [["DL506", 8, 15, 24]],
  );
  const gh = await client.open(path.join(dir, "capitals.prompt.yml"));
  assert.deepEqual(await client.waitForDiagnostics(gh, { timeoutMs: 30000 }), []);
  // `  - role: user` on line 8 (0-based 7) becomes an unknown role.
  const gv = await client.edit(gh, { start: { line: 7, character: 10 }, end: { line: 7, character: 14 } }, "bot");
  const gd = await client.waitForDiagnostics(gh, { minVersion: gv, fresh: true, timeoutMs: 30000 });
  assert.deepEqual(
    gd.map((x) => x.code),
    ["DL603"],
  );
  const py = await client.open(path.join(dir, "capital.prompty"));
  assert.deepEqual(await client.waitForDiagnostics(py, { timeoutMs: 30000 }), []);
  const lines = fs.readFileSync(path.join(dir, "capital.prompty"), "utf8").split("\n");
  const body = lines.findIndex((l) => l.startsWith("What is the capital"));
  const pv = await client.edit(py, { start: { line: body, character: 0 }, end: { line: body, character: 0 } }, "{% if %}");
  const pd = await client.waitForDiagnostics(py, { minVersion: pv, fresh: true, timeoutMs: 30000 });
  assert.deepEqual(
    pd.map((x) => [x.code, x.range.start.line]),
    [["DL703", body]],
  );
  await client.close(uri);
  await client.close(gh);
  await client.close(py);
});

test("a test CSV changed on disk re-checks the promptfoo config that reads it", async () => {
  const uri = fileUri(path.join(dir, "promptfooconfig.yaml"));
  const csv = path.join(dir, "tests.csv");
  const changed = async (text: string, until: (codes: string[]) => boolean): Promise<string[]> => {
    fs.writeFileSync(csv, text);
    await client.filesChanged([{ file: csv, type: "changed" }]);
    const deadline = Date.now() + 30000;
    let codes: string[] = [];
    while (Date.now() < deadline) {
      codes = (client.published.get(uri)?.diagnostics ?? []).map((x) => String(x.code));
      if (until(codes)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return codes;
  };
  const good = fs.readFileSync(csv, "utf8");
  try {
    // A threshold column with a non-number: promptfoo refuses the file.
    assert.deepEqual(await changed("country,__expected,__config:__expected:threshold\nIceland,icontains: reykjavik,x\n", (c) => c.includes("DL504")), ["DL504"]);
  } finally {
    assert.deepEqual(await changed(good, (c) => c.length === 0), []);
  }
});

test("the Test Explorer tree lists the promptfoo config and the .prompt.yml with their cases and lines", async () => {
  const tree = await client.request<TestTree>("driftlens/testTree", {});
  const pf = tree.evalSets.find((s) => s.file.endsWith("promptfooconfig.yaml"));
  assert.ok(pf, tree.evalSets.map((s) => s.file).join(", "));
  assert.equal(pf.promptFile, null);
  assert.deepEqual(
    pf.cases.map((c) => [c.id, c.line]),
    [
      ["country=France", 6],
      ["country=Iceland", 9],
      ["country=Japan", 9],
    ],
  );
  const gh = tree.evalSets.find((s) => s.file.endsWith("capitals.prompt.yml"))!;
  assert.equal(gh.promptFile, gh.file);
  assert.equal(gh.cases.length, 3);
});

test("driftlens/run runs a promptfoo config on its provider's variant, streams case results at their lines, and CodeLens data follows", async () => {
  results.length = 0;
  const file = path.join(dir, "promptfooconfig.yaml");
  const r = await client.request<RunResult>("driftlens/run", { runId: "pf1", file });
  assert.equal(r.status, "completed", r.message);
  assert.deepEqual(
    r.summaries.map((s) => [s.variant, s.cases, s.passed]),
    [["tiny/f32", 3, 3]],
  );
  const mine = results.filter((x) => x.runId === "pf1");
  assert.deepEqual(mine.map((x) => [x.caseId, x.line, x.pass]).sort(), [
    ["country=France", 6, true],
    ["country=Iceland", 9, true],
    ["country=Japan", 9, true],
  ]);
  const lenses = await client.request<{ lenses: LastRunLens[] }>("driftlens/lastRuns", { file, baseRef: "HEAD" });
  assert.deepEqual(
    lenses.lenses.map((l) => [l.promptFile, l.variant, l.passed, l.cases, l.stale]),
    [[`${file}#prompt 1`, "tiny/f32", 3, 3, false]],
  );
  // The Prompty file runs with the eval set that names it.
  const p = await client.request<RunResult>("driftlens/run", { runId: "py1", file: path.join(dir, "capital.prompty"), variants: ["tiny/q4_0"] });
  assert.equal(p.status, "completed", p.message);
  assert.deepEqual(
    p.summaries.map((s) => [s.variant, s.cases]),
    [["tiny/q4_0", 3]],
  );
});

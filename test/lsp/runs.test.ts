// The run/compare/delta methods of the bundled language server (server/src/features/runs.ts) over
// stdio, on a copy of the quickstart workspace with its generated model family: the test tree,
// a run streaming case results, cancellation, CodeLens data with a delta vs HEAD after an edit,
// the behavioural fingerprint, history, deltas (DiffReport) and the restricted-workspace refusal.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import type { CaseResult, EngineStatus, Fingerprint, RunResult, TestTree } from "../../server/src/protocol/runs";
import { ensureQuickstartModels } from "../../server/src/modelgen";
import { describeDriver, resolveDriver } from "../../server/src/store/driver";
import { REPO_ROOT, tempDir } from "../helpers/paths";
import { LspClient } from "./client";

let dir = "";
let client: LspClient;
const results: CaseResult[] = [];

function git(...args: string[]): void {
  execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: dir, stdio: "ignore" });
}

before(async () => {
  dir = tempDir("driftlens-runs-");
  fs.cpSync(path.join(REPO_ROOT, "examples", "quickstart"), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}models`) && !src.includes(".driftlens") });
  ensureQuickstartModels(path.join(dir, "models"));
  fs.writeFileSync(path.join(dir, ".gitignore"), "models/\n.driftlens/\n");
  git("init", "-q");
  git("add", ".");
  git("commit", "-q", "-m", "base");
  client = await LspClient.start({ folders: [dir], trusted: true, settings: { driftlens: {} } });
  client.conn.onNotification("driftlens/caseResult", (p: CaseResult) => void results.push(p));
});

after(async () => {
  await client?.stop();
});

test("the test tree lists eval sets with their cases (line of each), variants and references", async () => {
  const tree = await client.request<TestTree>("driftlens/testTree", {});
  const capitals = tree.evalSets.find((s) => s.file.endsWith("capitals.eval.yaml"));
  assert.ok(capitals, `capitals.eval.yaml missing from ${tree.evalSets.map((s) => s.file).join(", ")}`);
  assert.equal(capitals.promptFile, path.join(dir, "capital.prompt"));
  assert.equal(capitals.cases.length, 60);
  const iceland = capitals.cases.find((c) => c.id === "iceland")!;
  assert.deepEqual(iceland.tags, ["tail"]);
  const text = fs.readFileSync(capitals.file, "utf8").split("\n");
  assert.match(text[iceland.line]!, /iceland/);
  assert.ok(tree.variants.includes("tiny/q4_0") && tree.variants.includes("tiny/f32"), tree.variants.join(","));
  assert.deepEqual(tree.references, ["tiny/f32"]);
});

test("a run streams one case result per case and variant, and returns the summaries", async () => {
  results.length = 0;
  const r = await client.request<RunResult>("driftlens/run", { runId: "r1", file: path.join(dir, "capital.prompt"), variants: ["tiny/f32", "tiny/q4_0"], caseIds: ["iceland", "malta", "france"] });
  assert.equal(r.status, "completed", r.message);
  const mine = results.filter((x) => x.runId === "r1");
  assert.equal(mine.length, 6);
  const ice32 = mine.find((x) => x.caseId === "iceland" && x.variant === "tiny/f32")!;
  const ice4 = mine.find((x) => x.caseId === "iceland" && x.variant === "tiny/q4_0")!;
  assert.equal(ice32.pass, true, ice32.output);
  // The quickstart family's engineered tail flip: Q4_0 answers Oslo for Iceland.
  assert.equal(ice4.pass, false, ice4.output);
  assert.equal(ice4.assertions[0]?.type, "icontains");
  assert.equal(ice4.assertions[0]?.expected, "Reykjavik");
  assert.ok(ice32.tokens && ice32.tokens.length > 0 && ice32.tokens.every((t) => t.prob >= 0 && t.prob <= 1));
  assert.equal(typeof ice32.line, "number");
  assert.deepEqual(r.summaries.map((s) => `${s.variant}:${s.passed}/${s.cases}`).sort(), ["tiny/f32:3/3", "tiny/q4_0:2/3"]);
});

test("the server's log names the SQLite driver it opened the store with (the one this runtime chooses)", () => {
  const expected = describeDriver(resolveDriver());
  assert.ok(client.logs.some((l) => l.includes(`opened; SQLite driver: ${expected}`)), `no "SQLite driver: ${expected}" in the log:\n${client.logs.filter((l) => /store|SQLite/.test(l)).join("\n")}`);
});

test("driftlens/cancelRun stops a run in flight", async () => {
  results.length = 0;
  const pending = client.request<RunResult>("driftlens/run", { runId: "r2", file: path.join(dir, "capital.prompt"), variants: ["tiny/f32", "tiny/f16", "tiny/q8_0", "tiny/q4_0"], noCache: true });
  await client.waitForNotification("driftlens/runProgress", (p: { runId: string; done: number }) => p.runId === "r2" && p.done >= 1, 60_000);
  const c = await client.request<{ cancelled: number }>("driftlens/cancelRun", { runId: "r2" });
  assert.equal(c.cancelled, 1);
  const r = await pending;
  assert.equal(r.status, "cancelled");
  assert.ok(results.filter((x) => x.runId === "r2").length < 240, "every case ran although the run was cancelled");
  const status = await client.request<EngineStatus>("driftlens/status", {});
  assert.equal(status.run, null);
  assert.equal(status.trusted, true);
  assert.equal(status.backend, "cpu");
});

test("last runs carry the delta vs HEAD once the edited prompt has run", async () => {
  const prompt = path.join(dir, "capital.prompt");
  const before = await client.request<Fingerprint>("driftlens/fingerprint", { file: prompt });
  assert.match(before.hash ?? "", /^[0-9a-f]{64}$/, before.problem);
  assert.equal(before.model?.variant, "tiny/f32");
  // Base version: the whole eval set on q4_0.
  const base = await client.request<RunResult>("driftlens/run", { runId: "r3", file: prompt, variants: ["tiny/q4_0"] });
  assert.equal(base.status, "completed", base.message);
  let lenses = (await client.request<{ lenses: { variant: string; passed: number; cases: number; delta: unknown; stale: boolean }[] }>("driftlens/lastRuns", { file: prompt, baseRef: "HEAD" })).lenses;
  const q4 = lenses.find((l) => l.variant === "tiny/q4_0")!;
  assert.equal(q4.cases, 60);
  assert.equal(q4.delta, null);
  assert.equal(q4.stale, false);
  // Edit the prompt on disk (a different question wording), run again.
  fs.writeFileSync(prompt, fs.readFileSync(prompt, "utf8").replace("What is the capital of {{country}}?", "Name the capital city of {{country}}."));
  const after = await client.request<Fingerprint>("driftlens/fingerprint", { file: prompt });
  assert.notEqual(after.hash, before.hash);
  lenses = (await client.request<{ lenses: typeof lenses }>("driftlens/lastRuns", { file: prompt })).lenses;
  assert.equal(lenses.find((l) => l.variant === "tiny/q4_0")?.stale, true);
  const head = await client.request<RunResult>("driftlens/run", { runId: "r4", file: prompt, variants: ["tiny/q4_0"] });
  assert.equal(head.status, "completed", head.message);
  const l2 = (await client.request<{ lenses: { variant: string; passed: number; delta: { baseRef: string; passedDelta: number; flips: { caseId: string }[] } | null }[] }>("driftlens/lastRuns", { file: prompt, baseRef: "HEAD" })).lenses.find(
    (l) => l.variant === "tiny/q4_0",
  )!;
  assert.ok(l2.delta, "no delta vs HEAD");
  assert.equal(l2.delta.baseRef, "HEAD");
  assert.equal(l2.delta.passedDelta, l2.passed - q4.passed);
  const history = await client.request<{ runs: { id: string; variant: string; complete: boolean }[] }>("driftlens/history", { file: prompt, limit: 10 });
  assert.ok(history.runs.length >= 3);
  assert.ok(history.runs.some((h) => h.complete && h.variant === "tiny/q4_0"));
});

test("deltas answer a DiffReport for the prompt against a git ref", async () => {
  const prompt = path.join(dir, "capital.prompt");
  const r = await client.request<{ status: string; message?: string; report?: { base: { ref: string }; prompts: { file: string; status: string; cases: number }[] } }>("driftlens/deltas", {
    runId: "d1",
    file: prompt,
    baseRef: "HEAD",
    variants: ["tiny/q4_0"],
  });
  assert.equal(r.status, "completed", r.message);
  assert.equal(r.report?.base.ref, "HEAD");
  const p = r.report!.prompts.find((x) => x.file === "capital.prompt");
  assert.ok(p, JSON.stringify(r.report!.prompts.map((x) => x.file)));
  assert.equal(p.status, "modified");
  assert.equal(p.cases, 60);
});

test("a restricted workspace refuses runs but keeps diagnostics", async () => {
  // A client that says nothing about trust (no initializationOptions.trusted, no DRIFTLENS_TRUSTED)
  // gets an untrusted server: it must not generate, whatever else it asks.
  const untrusted = await LspClient.start({ folders: [dir], exactEnv: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "DRIFTLENS_TRUSTED")), settings: { driftlens: {} } });
  try {
    const r = await untrusted.request<RunResult>("driftlens/run", { runId: "u1", file: path.join(dir, "capital.prompt") });
    assert.equal(r.status, "refused");
    assert.match(r.message ?? "", /restricted workspace/);
    const d = await untrusted.request<{ status: string }>("driftlens/deltas", { runId: "u2", file: path.join(dir, "capital.prompt"), baseRef: "HEAD" });
    assert.equal(d.status, "refused");
    const status = await untrusted.request<EngineStatus>("driftlens/status", {});
    assert.equal(status.trusted, false);
    assert.equal(status.backend, null);
    const bad = path.join(dir, "bad.prompt");
    fs.writeFileSync(bad, "---\nmodel: tiny/f32\ninput:\n  schema:\n    country: string\n---\n{{role \"user\"}}Capital of {{contry}}?\n");
    const uri = await untrusted.open(bad);
    const diags = await untrusted.waitForDiagnostics(uri, { pred: (ds) => ds.some((x) => /contry/.test(x.message)) });
    assert.ok(diags.length > 0);
  } finally {
    await untrusted.stop();
  }
});

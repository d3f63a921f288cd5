// Served variants in the language server (bundled, over stdio): diagnostics that ask the endpoints,
// hover with what the server reports, completion of served variants and their keys, a run on a
// real llama-server — and in a restricted workspace, nothing sent anywhere (a recording listener
// stands where the server would be and must receive no request).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import type { CaseResult, RunResult } from "../../server/src/protocol/runs";
import { freePort, startLlamaServer, type LlamaServer } from "../helpers/llama-server";
import { startRecorder } from "../helpers/mock-server";
import { SHARED, tempDir } from "../helpers/paths";
import { LspClient } from "./client";

const STORIES = path.join(SHARED, "models", "stories260K.gguf");
let server: LlamaServer;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
let deadUrl = "";

before(async () => {
  server = await startLlamaServer({ model: STORIES });
  recorder = await startRecorder();
  deadUrl = `http://127.0.0.1:${await freePort()}/v1`;
});

after(async () => {
  await recorder?.close();
  await server?.stop();
});

function workspace(endpoint: string): { dir: string; config: string; prompt: string } {
  const dir = tempDir("driftlens-lsp-remote-");
  const config = path.join(dir, "driftlens.yaml");
  fs.writeFileSync(
    config,
    [
      "models:",
      "  story:",
      "    reference: served",
      "    variants:",
      "      served:",
      `        endpoints: [${endpoint}]`,
      "        concurrency: 1",
      "      dead:",
      `        endpoints: [${deadUrl}]`,
      "engine: {gpu: cpu, threads: 1, contextSize: 512, parallelSequences: 1}",
      "",
    ].join("\n"),
  );
  const prompt = path.join(dir, "story.prompt");
  fs.writeFileSync(prompt, "---\nmodel: story/served\nconfig:\n  temperature: 0\n  maxOutputTokens: 12\ninput:\n  schema:\n    opening: string\n---\n{{opening}}\n");
  fs.writeFileSync(
    path.join(dir, "story.eval.yaml"),
    "prompt: story.prompt\ncases:\n  - id: once\n    vars: {opening: Once upon a time}\n    assert: [{type: contains, value: there}]\n  - id: lily\n    vars: {opening: Lily and Tom}\n    assert: [{type: contains, value: zzz}]\n",
  );
  return { dir, config, prompt };
}

const md = (h: Awaited<ReturnType<LspClient["hover"]>>) => (h && typeof h.contents === "object" && "value" in h.contents ? h.contents.value : "");

test("trusted: diagnostics ask the endpoints, hover shows what the server reports, completion offers served variants, a run generates on the server", async () => {
  const w = workspace(server.url);
  const client = await LspClient.start({ folders: [w.dir], env: { DRIFTLENS_TRUSTED: "1" }, settings: { driftlens: {} } });
  try {
    const uri = await client.open(w.config);
    const dl122 = await client.waitForCode(uri, "DL122");
    assert.match(dl122.message, /variant 'story\/dead': .*refused the connection/);
    assert.equal(dl122.range.start.line, 8, "at the dead endpoint's URL");
    assert.ok(!client.published.get(uri)!.diagnostics.some((d) => d.message.includes("story/served")));

    const hover = md(await client.hover(uri, { line: 4, character: 8 }));
    assert.match(hover, /served model/);
    assert.match(hover, /\| server \| llama-server \|/);
    assert.match(hover, /\| context length \| 512 \|/);
    assert.match(hover, /\| slots \| 1 \|/);
    assert.match(hover, /\| build \| b\d+-[0-9a-f]+ \|/);
    assert.match(hover, /plain text, as the local engine builds it/);

    const keys = await client.completion(uri, { line: 6, character: 9 });
    for (const k of ["endpoints", "model", "apiKeyEnv", "concurrency", "revision", "template"]) assert.ok(keys.some((i) => i.label === k), `key ${k}`);

    const puri = await client.open(w.prompt);
    const items = await client.completion(puri, { line: 1, character: 7 });
    const served = items.find((i) => i.label === "story/served");
    assert.ok(served, JSON.stringify(items.map((i) => i.label)));
    assert.match(served.detail ?? "", /served/);

    const results: CaseResult[] = [];
    client.conn.onNotification("driftlens/caseResult", (p: CaseResult) => void results.push(p));
    const r = await client.request<RunResult>("driftlens/run", { runId: "served-1", file: w.prompt, variants: ["story/served"] });
    assert.equal(r.status, "completed", r.message);
    const once = results.find((x) => x.caseId === "once")!;
    assert.match(once.output, /^, there was/);
    assert.equal(once.pass, true);
  } finally {
    await client.stop();
  }
});

test("restricted workspace: diagnostics, hover and runs send nothing anywhere; the same workspace trusted does ask", async () => {
  const w = workspace(recorder.url);
  fs.appendFileSync(w.config, "colour: blue\n");
  const untrusted = await LspClient.start({ folders: [w.dir], env: { DRIFTLENS_TRUSTED: "0" }, settings: { driftlens: {} } });
  try {
    const uri = await untrusted.open(w.config);
    const diags = await untrusted.waitForDiagnostics(uri, { pred: (ds) => ds.some((d) => d.code === "DL102") });
    assert.ok(!diags.some((d) => d.code === "DL122" || d.code === "DL123"), "no endpoint asked, so no answer to report");
    const hover = md(await untrusted.hover(uri, { line: 4, character: 8 }));
    assert.match(hover, /not asked in a restricted workspace/);
    const r = await untrusted.request<RunResult>("driftlens/run", { runId: "u1", file: w.prompt, variants: ["story/served"] });
    assert.equal(r.status, "refused");
    const puri = await untrusted.open(w.prompt);
    await untrusted.waitForDiagnostics(puri);
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(recorder.requests.length, 0, `nothing reached the endpoint: ${recorder.requests.join(", ")}`);
  } finally {
    await untrusted.stop();
  }
  const trusted = await LspClient.start({ folders: [w.dir], env: { DRIFTLENS_TRUSTED: "1" }, settings: { driftlens: {} } });
  try {
    const uri = await trusted.open(w.config);
    await trusted.waitForCode(uri, "DL122");
    assert.ok(recorder.requests.includes("GET /v1/models"), `the trusted server asks: ${recorder.requests.join(", ")}`);
  } finally {
    await trusted.stop();
  }
});

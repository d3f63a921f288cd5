// The bundled server starts over stdio, answers initialize with the capabilities of every feature,
// and keeps serving after bad input.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DIST, tempDir } from "../helpers/paths";
import { fileUri, LspClient, positionOf } from "./client";
import { buildWorkspace, CAPITAL_PROMPT } from "./fixtures";

describe("language server process", () => {
  let client: LspClient;
  let dir: string;
  before(async () => {
    dir = tempDir("driftlens-lsp-server-");
    client = await LspClient.start({ folders: [dir], settings: { diagnosticsDebounceMs: 0, scanOnStartup: false } });
  });
  after(async () => {
    await client?.stop();
  });

  it("answers initialize with the features' capabilities", () => {
    const caps = client.initializeResult.capabilities;
    assert.deepEqual(caps.textDocumentSync, { openClose: true, change: 2, save: false }, "incremental document sync");
    assert.ok(caps.completionProvider?.triggerCharacters?.includes("{"), "completion inside {{");
    assert.equal(caps.hoverProvider, true);
    assert.equal(caps.definitionProvider, true);
    assert.ok(caps.documentSymbolProvider, "document symbols");
    assert.equal(client.initializeResult.serverInfo?.name, "driftlens");
  });

  it("serves requests at once after initialized (the core loads inside that notification)", async () => {
    // A fresh server: the very first request after `initialized` must find its handler.
    const c = await LspClient.start({ folders: [dir], settings: { scanOnStartup: false } });
    try {
      const file = path.join(dir, "first.prompt");
      fs.writeFileSync(file, CAPITAL_PROMPT);
      await c.open(file);
      const items = await c.completion(fileUri(file), positionOf(CAPITAL_PROMPT, "{{country", 0, 2));
      assert.ok(items.some((i) => i.label === "country"), JSON.stringify(items.map((i) => i.label)));
      assert.ok(c.logs.some((l) => /initialize answered \d+ ms after the process started \(listening from \d+ ms\); (answered by the launcher, protocol library loaded by \d+ ms; )?core loaded \d+ ms later/.test(l)), c.logs.join("\n"));
    } finally {
      await c.stop();
    }
  });

  it("says so and exits when its core bundle is missing", async () => {
    const lonely = tempDir("driftlens-lsp-nocore-");
    for (const f of ["server.js", "server-lsp.js"]) fs.copyFileSync(path.join(DIST, f), path.join(lonely, f));
    const c = await LspClient.start({ serverPath: path.join(lonely, "server.js"), folders: [dir], settings: { scanOnStartup: false } });
    const deadline = Date.now() + 10_000;
    while (c.alive && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(c.alive, false, "the server exits so the client can report it");
    assert.ok(c.logs.some((l) => l.includes("could not load its language server core") && l.includes("server-core.js") && l.includes("Reinstall")), c.logs.join("\n"));
  });

  it("computes diagnostics on a worker thread, not the request thread", async () => {
    const deadline = Date.now() + 5000;
    while (!client.logs.some((l) => l.includes("diagnostics run on")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(client.logs.some((l) => l.includes("diagnostics run on the diagnostics worker thread")), client.logs.join("\n"));
  });

  it("keeps serving after an unknown request and a garbage document", async () => {
    await assert.rejects(client.request("driftlens/noSuchMethod", {}));
    const bad = path.join(dir, "bad.eval.yaml");
    fs.writeFileSync(bad, "\u0000\u0000: [ {{{ \n\t- :");
    await client.open(bad);
    await client.waitForDiagnostics(fileUri(bad));
    assert.ok(client.alive, "server still running");
  });
});

describe("workspaces", () => {
  it("without workspace folders, a file gets the workspace of its folder (with its driftlens.yaml)", async () => {
    const ws = buildWorkspace({ withCases: false });
    const client = await LspClient.start({ settings: { diagnosticsDebounceMs: 0, scanOnStartup: false, tokenCount: "estimate" } });
    try {
      const uri = await client.open(path.join(ws.root, "capital.prompt"));
      const h = await client.hover(uri, positionOf(CAPITAL_PROMPT, "tiny/f16", 0, 2));
      assert.match((h?.contents as { value: string }).value, /\| architecture \| llama \|/);
      const diags = await client.waitForDiagnostics(uri);
      assert.ok(!diags.some((d) => d.code === "DL207"), "tiny/f16 resolves through the folder's driftlens.yaml");
    } finally {
      await client.stop();
    }
  });

  it("scans a workspace folder added later and forgets one removed", async () => {
    const a = buildWorkspace({ withCases: false });
    const b = tempDir("driftlens-lsp-added-");
    fs.writeFileSync(path.join(b, "added.eval.yaml"), "cases:\n  - id: same\n    why: x\n  - id: same\n    why: y\n");
    const client = await LspClient.start({ folders: [a.root], settings: { scanOnStartup: true, tokenCount: "estimate" } });
    try {
      const uri = fileUri(path.join(b, "added.eval.yaml"));
      await client.changeFolders([b]);
      await client.waitForCode(uri, "DL302", 30000);
      await client.changeFolders([], [b]);
      await client.waitForDiagnostics(uri, { pred: (ds) => ds.length === 0, fresh: true });
    } finally {
      await client.stop();
    }
  });

  it("gives each workspace folder its own driftlens.yaml", async () => {
    const a = buildWorkspace({ withCases: false });
    const b = tempDir("driftlens-lsp-other-");
    fs.writeFileSync(path.join(b, "driftlens.yaml"), "models:\n  other:\n    variants: {v1: missing.gguf}\n");
    fs.writeFileSync(path.join(b, "x.prompt"), "---\nmodel: tiny/f16\n---\nHello\n");
    const client = await LspClient.start({ folders: [a.root, b], settings: { diagnosticsDebounceMs: 0, scanOnStartup: false, tokenCount: "estimate" } });
    try {
      const inA = await client.waitForDiagnostics(await client.open(path.join(a.root, "capital.prompt")));
      assert.ok(!inA.some((d) => d.code === "DL207"));
      const inB = await client.waitForDiagnostics(await client.open(path.join(b, "x.prompt")), { pred: (ds) => ds.some((d) => d.code === "DL207") });
      assert.ok(inB.some((d) => d.code === "DL207"), "tiny is not a family in the second folder's driftlens.yaml");
    } finally {
      await client.stop();
    }
  });
});

describe("diagnostics worker failure", () => {
  it("restarts a worker that died mid-pass, re-sends the open buffers, and publishes", async () => {
    const ws = buildWorkspace({ withCases: false });
    const client = await LspClient.start({
      folders: [ws.root],
      settings: { diagnosticsDebounceMs: 0, scanOnStartup: false, tokenCount: "estimate" },
      env: { DRIFTLENS_TEST_WORKER_EXIT_ON: "doomed" },
    });
    try {
      // An unsaved buffer (not on disk): only the re-sent overlay lets the new worker see it.
      const file = path.join(ws.root, "doomed.prompt");
      const uri = await client.open(file, CAPITAL_PROMPT.replace("{{country}}", "{{city}}"));
      const diags = await client.waitForDiagnostics(uri, { pred: (ds) => ds.some((d) => d.code === "DL203"), timeoutMs: 30000 });
      assert.ok(diags.some((d) => d.code === "DL203"));
      assert.ok(client.logs.some((l) => /diagnostics worker exited \(code 70\); restarting it/.test(l)), client.logs.join("\n"));
      assert.ok(client.alive);
    } finally {
      await client.stop();
    }
  });
});

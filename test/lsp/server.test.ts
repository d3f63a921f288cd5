// The bundled server starts over stdio, answers initialize with the capabilities of every feature,
// and keeps serving after bad input.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { tempDir } from "../helpers/paths";
import { fileUri, LspClient } from "./client";

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
    assert.ok(caps.textDocumentSync, "document sync");
    assert.equal(client.initializeResult.serverInfo?.name, "driftlens");
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

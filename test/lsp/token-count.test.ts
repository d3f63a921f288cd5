// The context-length diagnostic (DL210) counts tokens with the model's own vocabulary: the server
// starts the engine worker lazily, answers first with the estimate, then replaces it with the
// real count once the vocabulary is loaded.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Diagnostic } from "vscode-languageserver-protocol/node";
import { LspClient, rangeOf } from "./client";
import { buildWorkspace, diagnosticCases, type TestWorkspace } from "./fixtures";

const text = (d: Diagnostic) => (typeof d.message === "string" ? d.message : d.message.value);

describe("DL210 with the model's vocabulary", () => {
  let ws: TestWorkspace;
  let client: LspClient;
  before(async () => {
    ws = buildWorkspace();
    client = await LspClient.start({ folders: [ws.root], settings: { diagnosticsDebounceMs: 0, scanOnStartup: false, tokenCount: "model", engineThreads: 1 } });
  });
  after(async () => {
    await client?.stop();
  });

  it("replaces the estimate with the count from the GGUF's tokenizer", async () => {
    const c = diagnosticCases().find((x) => x.code === "DL210")!;
    const uri = await client.open(path.join(ws.root, c.file));
    const diags = await client
      .waitForDiagnostics(uri, {
        pred: (ds) => ds.some((d) => d.code === "DL210" && /vocabulary/.test(text(d))),
        timeoutMs: 90000,
      })
      .catch((e: Error) => {
        // The server's log says why the engine did not count (shown only on failure).
        throw new Error(`${e.message}\nserver log:\n${client.logs.join("\n")}\n${client.stderr}`);
      });
    const d = diags.find((x) => x.code === "DL210")!;
    assert.match(text(d), /(\d+) tokens \(counted with tiny\/small's vocabulary\)/);
    assert.equal(d.severity, 1, "a real count is an error, not an estimate's warning");
    assert.deepEqual(d.range, rangeOf(c.text, "tiny/small"));
    const counted = Number(/(\d+) tokens \(counted/.exec(text(d))![1]);
    const estimated = Math.ceil(c.text.length / 3.5);
    assert.ok(counted > 64 && counted !== estimated, `real count ${counted} (estimate would be about ${estimated})`);
  });

  it("checks no context length for a prompt whose variant does not resolve", async () => {
    const uri = await client.open(path.join(ws.root, "p-model.prompt"));
    const diags = await client.waitForDiagnostics(uri);
    assert.ok(diags.some((d) => d.code === "DL207"));
    assert.ok(!diags.some((d) => d.code === "DL210"));
  });
});

// Every diagnostic the issue lists, through the real bundled server over stdio: open a file that
// triggers it, assert the code and the exact range. Plus cross-file re-checks, the background
// scan of files that are not open, and stale-pass cancellation.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Diagnostic } from "vscode-languageserver-protocol/node";
import { fileUri, LspClient, rangeOf } from "./client";
import { buildWorkspace, CAPITAL_PROMPT, configCases, diagnosticCases, type DiagnosticCase, type TestWorkspace } from "./fixtures";

export function msg(d: Diagnostic): string {
  return typeof d.message === "string" ? d.message : d.message.value;
}

function expectCase(c: DiagnosticCase, diags: Diagnostic[]): void {
  const found = diags.filter((d) => d.code === c.code);
  assert.ok(found.length > 0, `${c.file}: expected ${c.code}, got ${JSON.stringify(diags.map((d) => [d.code, d.message]))}`);
  const d = found[0]!;
  assert.equal(d.source, "driftlens");
  assert.ok(msg(d).length > 10, `${c.code} has a message`);
  if (c.covers !== undefined) assert.deepEqual(d.range, rangeOf(c.text, c.covers, c.nth ?? 0), `${c.file}: ${c.code} range`);
  if (c.at) {
    const ok = (Array.isArray(c.at) ? c.at : [c.at]).some((p) => p.line === d.range.start.line && p.character === d.range.start.character);
    assert.ok(ok, `${c.file}: ${c.code} starts at ${JSON.stringify(d.range.start)}, expected ${JSON.stringify(c.at)}`);
  }
}

describe("diagnostics over LSP", () => {
  let ws: TestWorkspace;
  let client: LspClient;
  before(async () => {
    ws = buildWorkspace();
    client = await LspClient.start({
      folders: [ws.root, ...Object.values(ws.configRoots)],
      settings: { diagnosticsDebounceMs: 0, dependentsDebounceMs: 0, scanOnStartup: false, tokenCount: "estimate" },
    });
  });
  after(async () => {
    await client?.stop();
  });

  for (const c of diagnosticCases()) {
    it(`${c.code}: ${c.file}`, async () => {
      const uri = await client.open(path.join(ws.root, c.file));
      expectCase(c, await client.waitForDiagnostics(uri, { pred: (ds) => ds.some((d) => d.code === c.code) }));
    });
  }

  for (const c of configCases()) {
    it(`${c.code}: ${c.dir}/driftlens.yaml (its own workspace folder)`, async () => {
      const uri = await client.open(path.join(ws.configRoots[c.dir]!, "driftlens.yaml"));
      expectCase(c, await client.waitForDiagnostics(uri, { pred: (ds) => ds.some((d) => d.code === c.code) }));
    });
  }

  it("the clean prompt has no errors or warnings", async () => {
    const uri = await client.open(path.join(ws.root, "capital.prompt"));
    const diags = await client.waitForDiagnostics(uri);
    assert.deepEqual(
      diags.filter((d) => d.severity === 1 || d.severity === 2).map((d) => d.code),
      [],
    );
  });

  it("changing a prompt's input schema re-checks its open eval set", async () => {
    const evalUri = await client.open(path.join(ws.root, "capitals.eval.yaml"));
    const before = await client.waitForDiagnostics(evalUri);
    assert.ok(!before.some((d) => d.code === "DL306"), "no unknown-variable warning before the edit");
    const promptUri = fileUri(path.join(ws.root, "capital.prompt"));
    if (!client.version(promptUri)) await client.open(path.join(ws.root, "capital.prompt"));
    // Rename the input `country` to `nation`: the case's `country` var is now unknown.
    await client.change(promptUri, CAPITAL_PROMPT.replace("    country: string", "    nation: string").replace(/\{\{country\}\}/g, "{{nation}}").replace("{country: France}", "{nation: France}"));
    const d = await client.waitForCode(evalUri, "DL306");
    assert.match(msg(d), /country/);
    // And back: the warning goes away.
    await client.change(promptUri, CAPITAL_PROMPT);
    await client.waitForDiagnostics(evalUri, { pred: (ds) => !ds.some((x) => x.code === "DL306"), fresh: true, minVersion: 0 });
  });

  it("edits that rename and restore an input in quick succession leave the eval set right", async () => {
    const evalUri = fileUri(path.join(ws.root, "capitals.eval.yaml"));
    const promptUri = fileUri(path.join(ws.root, "capital.prompt"));
    const renamed = CAPITAL_PROMPT.replace("    country: string", "    nation: string").replace(/\{\{country\}\}/g, "{{nation}}").replace("{country: France}", "{nation: France}");
    for (let i = 0; i < 5; i++) {
      await client.change(promptUri, renamed);
      await client.change(promptUri, CAPITAL_PROMPT);
    }
    await client.change(promptUri, renamed);
    await client.waitForCode(evalUri, "DL306");
    await client.change(promptUri, CAPITAL_PROMPT);
    await client.waitForDiagnostics(evalUri, { pred: (ds) => !ds.some((x) => x.code === "DL306"), fresh: true, minVersion: 0 });
  });

  it("a burst of edits publishes the last version, not a stale one", async () => {
    const uri = await client.open(path.join(ws.root, "p-undeclared.prompt"), undefined);
    await client.waitForDiagnostics(uri);
    const base = client.text(uri)!;
    let last = 0;
    for (let i = 0; i < 10; i++) last = await client.change(uri, base.replace("{{city}}", `{{city${i}}}`));
    const diags = await client.waitForDiagnostics(uri, { minVersion: last, pred: (ds) => ds.some((d) => d.code === "DL203") });
    assert.equal(client.published.get(uri)!.version, last);
    assert.match(msg(diags.find((d) => d.code === "DL203")!), /city9/);
  });

  it("closing a document re-diagnoses it from disk", async () => {
    const uri = await client.open(path.join(ws.root, "p-helper.prompt"));
    await client.waitForCode(uri, "DL205");
    await client.change(uri, client.text(uri)!.replace("shout country", "country"));
    await client.waitForDiagnostics(uri, { pred: (ds) => !ds.some((d) => d.code === "DL205") });
    await client.close(uri);
    // On disk the unknown helper is still there.
    await client.waitForDiagnostics(uri, { pred: (ds) => ds.some((d) => d.code === "DL205"), fresh: true, minVersion: 0 });
  });
});

describe("files changed on disk", () => {
  it("re-diagnoses a closed file when the watcher reports it created, changed or deleted", async () => {
    const ws = buildWorkspace({ withCases: false });
    const client = await LspClient.start({ folders: [ws.root], settings: { scanOnStartup: false, diagnosticsDebounceMs: 0, dependentsDebounceMs: 0, tokenCount: "estimate" } });
    try {
      const file = path.join(ws.root, "later.eval.yaml");
      const uri = fileUri(file);
      fs.writeFileSync(file, "prompt: capital.prompt\ncases:\n  - id: a\n    vars: {country: France}\n");
      await client.filesChanged([{ file, type: "created" }]);
      await client.waitForCode(uri, "DL308");
      fs.writeFileSync(file, "prompt: capital.prompt\ncases:\n  - id: a\n    vars: {country: France}\n    why: now it says why\n");
      await client.filesChanged([{ file, type: "changed" }]);
      await client.waitForDiagnostics(uri, { pred: (ds) => !ds.some((d) => d.code === "DL308"), fresh: true });
      fs.rmSync(file);
      await client.filesChanged([{ file, type: "deleted" }]);
      await client.waitForDiagnostics(uri, { pred: (ds) => ds.length === 0, fresh: true });
    } finally {
      await client.stop();
    }
  });
});

describe("background scan at startup", () => {
  it("publishes diagnostics for files that are not open", async () => {
    const ws = buildWorkspace();
    const client = await LspClient.start({ folders: [ws.root], settings: { scanOnStartup: true, tokenCount: "estimate" } });
    try {
      const c = diagnosticCases().find((x) => x.code === "DL302")!;
      const uri = fileUri(path.join(ws.root, c.file));
      expectCase(c, await client.waitForDiagnostics(uri, { pred: (ds) => ds.some((d) => d.code === "DL302"), timeoutMs: 30000 }));
      const settled = await client.waitForNotification<{ reason: string; uris: string[] }>("driftlens/diagnosticsSettled", (p) => p.reason === "startup-scan");
      assert.ok(settled.uris.length >= diagnosticCases().length, `scan covered ${settled.uris.length} files`);
    } finally {
      await client.stop();
    }
  });
});

describe("the editor's gate settings", () => {
  it("size slices (DL309) for driftlens.gate.maxSliceDrop over driftlens.yaml's gate, in the diagnostics worker too", async () => {
    const ws = buildWorkspace({ withCases: false });
    const file = path.join(ws.root, "slice.eval.yaml");
    const cases = Array.from({ length: 20 }, (_, i) => `  - id: c${i}\n    vars: {country: France}\n    why: w\n    tags: [eu]\n`).join("");
    fs.writeFileSync(file, `prompt: capital.prompt\ncases:\n${cases}`);
    const base = { scanOnStartup: false, diagnosticsDebounceMs: 0, tokenCount: "estimate" };
    const dl309 = async (settings: Record<string, unknown>) => {
      const client = await LspClient.start({ folders: [ws.root], settings });
      try {
        const uri = await client.open(file);
        const ds = await client.waitForDiagnostics(uri, { pred: () => true });
        return ds.filter((d) => d.code === "DL309").map((d) => d.message);
      } finally {
        await client.stop();
      }
    };
    // driftlens.yaml's default gate: 20 cases cannot show a 10-point drop.
    assert.match((await dl309(base))[0] ?? "", /10-point pass-rate drop/);
    // The setting allows 30-point slice drops: 17 cases suffice.
    assert.deepEqual(await dl309({ ...base, gate: { maxSliceDrop: 0.3 } }), []);
  });
});

// A large eval set is diagnosed off the request thread: while its first (slow) diagnosis runs,
// hover on another file is answered at once instead of waiting behind it.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { LspClient, positionOf } from "./client";
import { buildWorkspace, CAPITALS_EVAL, write, type TestWorkspace } from "./fixtures";

function bigEvalSet(n: number): string {
  const out = ["prompt: capital.prompt", "cases:"];
  for (let i = 0; i < n; i++) out.push(`  - id: c${i}`, `    vars: {country: "Country ${i}"}`, "    assert:", `      - {type: icontains, value: "x${i}"}`, `    tags: [s${i % 10}]`, `    why: "case ${i}"`);
  return out.join("\n") + "\n";
}

describe("responsiveness", () => {
  let ws: TestWorkspace;
  let client: LspClient;
  before(async () => {
    ws = buildWorkspace({ withCases: false });
    write(ws.root, { "big.eval.yaml": bigEvalSet(3000) });
    client = await LspClient.start({ folders: [ws.root], settings: { diagnosticsDebounceMs: 0, scanOnStartup: false, tokenCount: "estimate" } });
  });
  after(async () => {
    await client?.stop();
  });

  it("answers hover while a 3,000-case eval set is being diagnosed", async () => {
    const evalUri = await client.open(path.join(ws.root, "capitals.eval.yaml"));
    await client.waitForDiagnostics(evalUri);
    const bigUri = await client.open(path.join(ws.root, "big.eval.yaml"));
    const bigDone = client.waitForDiagnostics(bigUri, { timeoutMs: 120000 }).then(() => performance.now());
    // Give the server a moment to start the big diagnosis, then ask for a hover elsewhere.
    await new Promise((r) => setTimeout(r, 50));
    const hover = await client.hover(evalUri, positionOf(CAPITALS_EVAL, "icontains", 0, 2));
    const hoverAt = performance.now();
    assert.ok(hover, "hover answered");
    const doneAt = await bigDone;
    assert.ok(hoverAt < doneAt, "the hover was answered before the big eval set's diagnostics were published");
    // The outline of the big file comes from the worker's parse.
    const syms = await client.documentSymbols(bigUri);
    assert.equal(syms.filter((s) => /^c\d+$/.test(s.name)).length, 3000);
  });
});

// Model paths that hang or blow up a reader: a FIFO, /dev/zero, a GGUF whose metadata claims a
// 200-million-element array (it once crashed `check` out of memory and killed the language
// server on hover) and a 48-million-element one (10 s and 772 MB in `check`). Each is diagnosed at
// once, by `check`, `eval` and the language server, within 1 GB, and hover keeps answering.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { LspClient, positionOf } from "../lsp/client";
import { hugeArrayGguf, mb, mkfifo, ONE_GB, runCli, watchTree, workspace, yamlEvalSet } from "./harness";

const VARIANTS = { fifo: "models/pipe.gguf", zero: "/dev/zero", huge: "models/huge.gguf", big: "models/big.gguf" };

function hostileWorkspace(): string {
  const config = ["models:", "  tiny:", "    variants:", ...Object.entries(VARIANTS).map(([k, v]) => `      ${k}: ${v}`), "engine: {gpu: cpu, threads: 1, contextSize: 512}", ""].join("\n");
  const dir = workspace({ "capitals.eval.yaml": yamlEvalSet(3) }, config);
  fs.mkdirSync(path.join(dir, "models"), { recursive: true });
  mkfifo(path.join(dir, VARIANTS.fifo));
  hugeArrayGguf(path.join(dir, VARIANTS.huge), 200_000_000);
  hugeArrayGguf(path.join(dir, VARIANTS.big), 48_000_000);
  return dir;
}

describe("hostile model files", () => {
  test("check diagnoses a FIFO, /dev/zero and huge metadata arrays at once, within 1 GB", async () => {
    const dir = hostileWorkspace();
    const r = await runCli(dir, ["check", "driftlens.yaml", "--format", "json"], { timeoutMs: 60_000 });
    assert.equal(r.timedOut, false, "check hung");
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.wallMs < 15_000, `check took ${r.wallMs.toFixed(0)} ms`);
    assert.ok(r.peakRss < ONE_GB / 2, `check peaked at ${mb(r.peakRss)}`);
    const diags = JSON.parse(r.stdout) as { message: string; code: string }[];
    const about = (v: string) => diags.find((d) => d.code === "DL107" && d.message.includes(`'tiny/${v}'`))?.message ?? "";
    assert.match(about("fifo"), /named pipe \(FIFO\), not a regular file/);
    assert.match(about("zero"), /character device, not a regular file/);
    assert.match(about("huge"), /200,000,000 elements, more than the 1,048,576/);
    assert.match(about("big"), /48,000,000 elements, more than the 1,048,576/);
  });

  test("eval fails each such variant by name, at once, and runs nothing else into a hang", async () => {
    const dir = hostileWorkspace();
    for (const v of Object.keys(VARIANTS)) {
      const r = await runCli(dir, ["eval", "capitals.eval.yaml", "--variant", `tiny/${v}`, "--format", "json"], { timeoutMs: 60_000 });
      assert.equal(r.timedOut, false, `eval on tiny/${v} hung`);
      assert.equal(r.code, 2, `${v}: ${r.stderr}`);
      assert.ok(r.peakRss < ONE_GB / 2, `eval on tiny/${v} peaked at ${mb(r.peakRss)}`);
      const run = (JSON.parse(r.stdout) as { runs: { status: string; error: string }[] }).runs[0]!;
      assert.equal(run.status, "failed");
      assert.match(run.error, new RegExp(`tiny/${v}`));
      assert.match(run.error, /not a regular file|elements, more than/);
    }
  });

  describe("language server", () => {
    let dir: string;
    let client: LspClient;
    before(async () => {
      dir = hostileWorkspace();
      client = await LspClient.start({ folders: [dir], settings: { diagnosticsDebounceMs: 0, scanOnStartup: true, tokenCount: "estimate" } });
    });
    after(async () => {
      await client?.stop();
    });

    test("diagnoses the variants at once, answers hover on each within 2 s, stays under 1 GB", async () => {
      const watch = watchTree(client.pid);
      const file = path.join(dir, "driftlens.yaml");
      const text = fs.readFileSync(file, "utf8");
      const uri = await client.open(file);
      const t0 = performance.now();
      const diags = await client.waitForDiagnostics(uri, { pred: (ds) => ds.filter((d) => d.code === "DL107").length >= 4, timeoutMs: 30_000 });
      assert.ok(performance.now() - t0 < 15_000, "diagnostics took too long");
      assert.equal(diags.filter((d) => d.code === "DL107").length, 4, JSON.stringify(diags.map((d) => d.message)));
      for (const v of Object.keys(VARIANTS)) {
        const h0 = performance.now();
        const hover = await client.hover(uri, positionOf(text, `${v}:`, 0, 1));
        const ms = performance.now() - h0;
        assert.ok(ms < 2000, `hover on ${v} took ${ms.toFixed(0)} ms`);
        const md = JSON.stringify(hover?.contents ?? "");
        assert.match(md, /not a regular file|elements, more than|cannot read/, `hover on ${v}: ${md}`);
      }
      const { peakRss } = watch.stop();
      assert.ok(peakRss < ONE_GB, `the server peaked at ${mb(peakRss)}`);
    });
  });
});

// Sampled evals in real VS Code: Compare Models on a prompt whose eval set draws 3 samples per case
// at temperature 1.0 shows each case's pass fraction, its samples collapsed behind it, and every
// sample's output when expanded (as text).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { openFile, openVsCode, quickstartWorkspace, runCommand, until, webviewFrame, type Session } from "./harness";

let s: Session;

before(async () => {
  const ws = quickstartWorkspace();
  fs.writeFileSync(
    path.join(ws, "sampled.prompt"),
    ["---", "model: tiny/f32", "config: {temperature: 1.0, maxOutputTokens: 4}", "input:", "  schema:", "    country: string", "driftlens.evals: [sampled.eval.yaml]", "---", '{{role "user"}}What is the capital of {{country}}?', ""].join("\n"),
  );
  fs.writeFileSync(
    path.join(ws, "sampled.eval.yaml"),
    ["prompt: sampled.prompt", "repeat: 3", "cases:", ...["France", "Japan", "Peru"].map((c) => `  - id: ${c.toLowerCase()}\n    vars: {country: ${c}}\n    assert: [{type: regex, value: "."}]\n    why: sampled`), ""].join("\n"),
  );
  s = await openVsCode(ws, { settings: { "driftlens.run.defaultVariants": ["tiny/f32", "tiny/q4_0"] } });
});

after(async () => {
  await s?.close();
});

test("Compare models shows each sampled case's pass fraction and, expanded, its samples", async () => {
  await openFile(s.page, "sampled.prompt");
  // Compare Models is in the Command Palette once the extension is active (`driftlens.active`), and
  // an open palette does not take in commands that appear later: wait for activation first.
  await until("the Driftlens status item (the extension is active)", async () => (await s.page.$$eval(".statusbar-item", (els) => els.map((e) => e.textContent ?? ""))).some((t) => /Driftlens/.test(t)), 90_000);
  await runCommand(s.page, "Driftlens: Compare Models");
  const frame = await webviewFrame(s.page, ".grid-head .vname", 60_000);
  await (await frame.waitForSelector("button:text-is('Run')", { timeout: 30_000 })).click();
  const summaries = await until("sample summaries in the grid", async () => {
    const t = await frame.$$eval(".cell details.samples summary", (els) => els.map((e) => e.textContent ?? ""));
    return t.length >= 3 ? t : undefined;
  }, 180_000);
  for (const t of summaries) assert.match(t, /^\d\/3 samples pass \(\d+(\.\d)?%\)$/);
  // Cells stream in while the run goes on and each result repaints the grid (an element taken
  // before the last repaint is detached): inspect the grid once the run has finished.
  await until("the run to finish", async () => (await frame.$$eval("button", (b) => b.map((x) => x.textContent))).includes("Run"), 180_000);
  assert.equal((await frame.$$(".cell details.samples")).length, 6, "3 cases x 2 variants, each with its samples");
  // Collapsed: the sample rows exist but are hidden until the summary is clicked.
  // (Queried afresh each time, not held: a repaint keeps the expanded state, not the elements.)
  assert.equal(await frame.$eval("details.samples", (d) => (d as HTMLDetailsElement).open), false);
  await frame.click("details.samples summary");
  const shown = await until("three visible samples", async () => {
    const rows = await frame.$eval("details.samples", (d) => Array.from(d.querySelectorAll(".sample")).filter((e) => (e as HTMLElement).offsetParent !== null).map((e) => e.textContent ?? ""));
    return rows.length === 3 ? rows : undefined;
  }, 10_000);
  for (const [i, r] of shown.entries()) assert.match(r, new RegExp(`^#${i} (PASS|FAIL)`));
});

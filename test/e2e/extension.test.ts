// The extension in real VS Code (code-server + headless Chromium): the user journeys of the README on
// the quickstart workspace and its generated model family. Screenshots of the three journeys
// (editing with diagnostics, compare webview, eval deltas on a diff) go to docs/images/.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, afterEach, before, test } from "node:test";
import { REPO_ROOT } from "../helpers/paths";
import { Store } from "../../server/src/store/store";
import { NODE24, openFile, openVsCode, quickstartWorkspace, runCommand, screenshot, until, webviewFrame, type Session } from "./harness";

let s: Session;
const dialogs: string[] = [];

before(async () => {
  s = await openVsCode(quickstartWorkspace());
  s.page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
});

// The last screen of every test, for diagnosing failures (test-results/ is not committed).
let shot = 0;
afterEach(async (t) => {
  const dir = path.join(REPO_ROOT, "test-results", "e2e");
  fs.mkdirSync(dir, { recursive: true });
  await s?.page.screenshot({ path: path.join(dir, `${String(++shot).padStart(2, "0")}-${t.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}.png`) }).catch(() => undefined);
  // The extension's log so far (test/run.mjs prints its end after a failure).
  if (s) fs.writeFileSync(path.join(dir, "extension.log"), s.extensionLog());
});

after(async () => {
  await s?.close();
});

const texts = (sel: string) => s.page.$$eval(sel, (els) => els.map((e) => (e.textContent ?? "").replace(/\s+/g, " ").trim()));

test("the extension activates: Dotprompt language and the status bar item", async () => {
  await openFile(s.page, "capital.prompt");
  await until("the Dotprompt language mode", async () => (await texts(".statusbar-item")).includes("Dotprompt"), 30_000);
  await until("the Driftlens status item with the CPU backend or a fingerprint", async () => (await texts(".statusbar-item")).some((t) => /Driftlens/.test(t)), 60_000);
});

test("an undeclared variable in a prompt appears in the Problems panel with our code", async () => {
  await openFile(s.page, "capital.prompt");
  await s.page.keyboard.press("Control+End");
  await s.page.keyboard.type(" Answer in {{langauge}}.");
  try {
    await s.page.keyboard.press("Control+Shift+M");
    const problems = await until("DL203 for langauge in the Problems panel", async () => {
      const t = (await texts(".markers-panel")).join(" ");
      return /langauge/.test(t) && /DL203/.test(t) ? t : undefined;
    }, 90_000);
    assert.match(problems, /capital\.prompt/);
    await screenshot(s.page, "editing-diagnostics.png");
  } finally {
    // Reverted even when the check above failed: an edit left unsaved would be saved by the next
    // test's run and fail every test after it.
    // (A failing revert must not hide why the test failed; the wait below reports it.)
    await openFile(s.page, "capital.prompt").catch(() => undefined);
    await runCommand(s.page, "File: Revert File").catch(() => undefined);
  }
  await until("the diagnostic to clear after the revert", async () => !/langauge/.test((await texts(".markers-panel")).join(" ")), 30_000);
});

test("running the evals saves the prompt's unsaved edit first and puts the result in its CodeLens", async () => {
  const file = path.join(s.workspace, "capital.prompt");
  const original = fs.readFileSync(file, "utf8");
  await openFile(s.page, "capital.prompt");
  assert.equal(await s.page.evaluate(() => !!document.querySelector(".tab.active.dirty")), false, "capital.prompt was left with unsaved edits");
  // An unsaved edit (a Handlebars comment: the rendered prompt, so the results, stay the same).
  await s.page.keyboard.press("Control+End");
  await s.page.keyboard.type("{{!-- reviewed --}}");
  await until("the editor to show unsaved changes", async () => s.page.evaluate(() => !!document.querySelector(".tab.active.dirty")), 10_000);
  await runCommand(s.page, "Driftlens: Run Evals for This Prompt");
  // The variant picker preselects driftlens.run.defaultVariants (tiny/f32, tiny/q4_0).
  await until("the variant picker", async () => (await texts(".quick-input-list .monaco-list-row")).some((t) => t.includes("tiny/q4_0")), 30_000);
  await s.page.keyboard.press("Enter");
  const lens = await until("a CodeLens with the run result", async () => (await texts(".codelens-decoration")).find((t) => /tiny\/q4_0 capitals\.eval\.yaml: \d+\/60/.test(t)), 180_000);
  const [, passed] = /tiny\/q4_0 capitals\.eval\.yaml: (\d+)\/60/.exec(lens)!;
  assert.ok(Number(passed) > 0 && Number(passed) < 60, `q4_0 should fail its engineered tail case: ${lens}`);
  assert.ok((await texts(".codelens-decoration")).some((t) => /tiny\/f32 capitals\.eval\.yaml: 60\/60/.test(t)));
  // Runs read files on disk: the edit was saved before the run started.
  assert.match(fs.readFileSync(file, "utf8"), /\{\{!-- reviewed --\}\}/);
  assert.equal(await s.page.evaluate(() => !!document.querySelector(".tab.active.dirty")), false);
  // Back to the committed text for the tests after this one (the editor reloads it from disk).
  fs.writeFileSync(file, original);
  await until("the editor to reload the committed prompt", async () => !(await s.page.evaluate(() => document.body.innerText.includes("reviewed --"))), 30_000);
});

test("with no node on PATH the language server runs on code-server's own Node 24, its store on the binary built for that ABI", async () => {
  // The harness gives code-server a PATH without node; the run above opened the store.
  const driver = await until("the server's SQLite driver line in the log", () => /SQLite driver: .*/.exec(s.extensionLog())?.[0], 30_000);
  const log = s.extensionLog();
  assert.ok(log.includes(`starting the language server with the editor's own runtime ${fs.realpathSync(NODE24)} (Node v24.`), log.split("\n").filter((l) => /starting the language server/.test(l)).join("\n"));
  assert.match(driver, /SQLite driver: better-sqlite3 [\d.]+ \(SQLite [\d.]+\) on Node v24\.\d+\.\d+ \(ABI 137\), binary \S*\/dist\/native\/linux-x64\/node-137\/better_sqlite3\.node/);
});

test("the Test Explorer runs a case and shows its failure", async () => {
  await openFile(s.page, "capitals.eval.yaml");
  const file = path.join(s.workspace, "capitals.eval.yaml");
  const line = fs.readFileSync(file, "utf8").split("\n").findIndex((l) => /id: iceland/.test(l)) + 1;
  await s.page.keyboard.press("Control+G");
  await s.page.keyboard.type(String(line));
  await s.page.keyboard.press("Enter");
  await runCommand(s.page, "Test: Run Test at Cursor");
  await runCommand(s.page, "Testing: Focus on Test Explorer View");
  // Default profile: tiny/f32 passes iceland, tiny/q4_0 answers Oslo — the case fails, and the
  // failure (actual vs expected) shows at the case in the eval file.
  await until("the failure of iceland at its line", async () => s.page.evaluate(() => document.body.innerText.includes("Oslo != icontains: Reykjavik")), 120_000);
  const header = await until("the Test Explorer's result count", async () => (await texts(".test-explorer-header, .result-summary")).find((t) => /\d+\/\d+/.test(t)), 30_000).catch(() => "");
  // Only the case at the cursor ran.
  if (header) assert.match(header, /0\/1/);
  const set = await s.page.$$eval(".test-explorer .monaco-list-row", (els) => els.map((e) => e.getAttribute("aria-label") ?? ""));
  assert.ok(set.some((r) => /^capitals\.eval\.yaml \(Failed\)/.test(r)), set.join("; "));
  await runCommand(s.page, "View: Toggle Panel Visibility");
  await runCommand(s.page, "View: Close Panel").catch(() => undefined);
});

test("Compare models shows two variants' outputs; HTML in model output renders as inert text", async () => {
  await openFile(s.page, "capital.prompt");
  await runCommand(s.page, "View: Close Primary Side Bar").catch(() => undefined);
  await runCommand(s.page, "Driftlens: Compare Models");
  const frame = await webviewFrame(s.page, ".grid-head .vname", 60_000);
  await (await frame.waitForSelector("button:text-is('Run')", { timeout: 30_000 })).click();
  // A row with an output in both columns (cells stream in one variant at a time).
  const first = await until("outputs of tiny/f32 and tiny/q4_0 in one row of the grid", async () => {
    const heads = await frame.$$eval(".grid-head .vname", (els) => els.map((e) => e.textContent ?? ""));
    if (!heads.some((h) => h.startsWith("tiny/f32")) || !heads.some((h) => h.startsWith("tiny/q4_0"))) return undefined;
    return frame.$$eval(".row", (rows) => rows.map((r) => Array.from(r.querySelectorAll(".cell .output")).map((o) => o.textContent ?? "")).find((cells) => cells.length >= 2 && cells.every((c) => c.trim().length > 0)));
  }, 180_000);
  assert.ok(first.length >= 2);
  await until("the run to finish", async () => (await frame.$$eval("button", (b) => b.map((x) => x.textContent))).includes("Run"), 120_000);
  await screenshot(s.page, "compare-webview.png");

  // Poison the stored generation of one case, so the next (cached) run returns markup as output.
  const store = Store.open(path.join(s.workspace, ".driftlens", "store.db"));
  const PAYLOAD = "Oslo <img src=x onerror=alert(1)>";
  try {
    const run = store.listRuns({ variant: "tiny/q4_0", status: "complete" }).find((r) => r.evalSetFile.endsWith("capitals.eval.yaml"))!;
    const res = store.results(run.id).find((r) => r.caseId === "iceland")!;
    const gen = store.getGeneration(res.genKey!)!;
    store.putGeneration({ ...gen, text: PAYLOAD });
  } finally {
    store.close();
  }
  await (await frame.waitForSelector("button:text-is('Run')")).click();
  await until("the markup shown as text in the iceland row", async () => (await frame.$$eval(".row .cell .output", (els) => els.map((e) => e.textContent ?? ""))).some((t) => t.includes("<img src=x onerror=alert(1)>")), 120_000);
  assert.equal((await frame.$$("img")).length, 0, "an <img> element was created from model output");
  assert.deepEqual(dialogs, [], "a script from model output ran");
});

test("the quant ladder: comparing the whole family draws size against pass rate and KLD, Q8_0 recommended", async () => {
  await openFile(s.page, "capital.prompt");
  await runCommand(s.page, "Driftlens: Compare Models");
  const frame = await webviewFrame(s.page, ".variants label", 60_000);
  // Every variant of the family, not only the default two.
  for (const v of ["tiny/f16", "tiny/q8_0"]) {
    const box = await frame.waitForSelector(`.variants label:has-text("${v}") input`, { timeout: 30_000 });
    if (!(await box.isChecked())) await box.check();
  }
  await (await frame.waitForSelector("button:text-is('Run')", { timeout: 30_000 })).click();
  // The previous run's ladder (two variants) goes when this run starts; wait for all four.
  await until("the quant ladder of all four variants", async () => (await frame.$$(".ladder-chart g.rung")).length === 4 || undefined, 300_000);
  const rungs = await frame.$$eval(".ladder-chart g.rung", (gs) => gs.map((g) => ({ variant: g.getAttribute("data-variant"), ringed: g.querySelector("circle.ring") !== null, points: g.querySelectorAll("circle.point").length })));
  assert.deepEqual(rungs.map((r) => r.variant).sort(), ["tiny/f16", "tiny/f32", "tiny/q4_0", "tiny/q8_0"]);
  assert.deepEqual(rungs.filter((r) => r.ringed).map((r) => r.variant), ["tiny/q8_0"]);
  // A pass-rate point and a KLD point per variant; Q4_0's are drawn as failing.
  assert.ok(rungs.every((r) => r.points === 2), JSON.stringify(rungs));
  assert.ok((await frame.$$(".ladder-chart g.rung[data-variant='tiny/q4_0'] circle.point.bad")).length > 0);
  assert.ok((await frame.$$(".ladder-chart line.max-kld")).length === 1, "gate.maxKld drawn");
  assert.match(await frame.$eval(".ladder-summary", (e) => e.textContent ?? ""), /tiny\/q8_0 is the smallest variant that passes the gate/);
  // The axis labels ("pass rate", "corpus KLD") lie wholly inside the chart: none cut at its left edge.
  const labels = await frame.$$eval(".ladder-chart .axis-label", (ts) => ts.map((t) => ({ text: t.textContent, x: (t as SVGGraphicsElement).getBBox().x })));
  assert.ok(labels.length === 2 && labels.every((l) => l.x >= 0), JSON.stringify(labels));
  await screenshot(s.page, "quant-ladder.png");
});

test("eval deltas vs HEAD on a changed prompt: the delta view and the diff editor", async () => {
  const prompt = path.join(s.workspace, "capital.prompt");
  fs.writeFileSync(prompt, fs.readFileSync(prompt, "utf8").replace("What is the capital of {{country}}?", "What is the main city of {{country}}?"));
  await openFile(s.page, "capital.prompt");
  await until("the editor to show the edit from disk", async () => (await texts(".editor-instance .view-lines")).some((t) => t.includes("main city")), 20_000);
  await runCommand(s.page, "Driftlens: Show Eval Deltas vs HEAD");
  const frame = await webviewFrame(s.page, ".verdict", 240_000);
  const verdict = await frame.$eval(".verdict", (e) => e.textContent ?? "");
  assert.match(verdict, /^Gate: (PASS|FAIL)$/);
  assert.ok((await frame.$$("table.slices tr")).length > 1, "no slice rows");
  assert.ok((await frame.$$(".ci .bar")).length > 0, "no confidence-interval bars");
  await openFile(s.page, "capital.prompt");
  await runCommand(s.page, "View: Close Primary Side Bar").catch(() => undefined);
  await runCommand(s.page, "Git: Open Changes");
  await until("the diff editor", async () => (await s.page.$$(".monaco-diff-editor")).length > 0, 30_000);
  const lens = await until("the delta vs HEAD in the diff editor", async () => (await texts(".monaco-diff-editor .codelens-decoration")).find((t) => /vs HEAD/.test(t)), 60_000);
  // "main city" makes about a third of the cases answer with the country's language.
  assert.match(lens, /\d+\/60 · −\d+ vs HEAD/);
  assert.ok((await frame.$$(".flip")).length > 0, "no flipped cases listed");
  await screenshot(s.page, "eval-deltas-diff.png");
});

// promptfoo's own CLI (installed into a test cache by test/tools/promptfoo.sh) and Driftlens side
// by side on the promptfoo fixture configs: promptfoo runs each with its `echo` provider, which
// returns exactly the prompt it was sent, so its results give, for every prompt × test, the text
// promptfoo sends and its verdict on every assertion. Driftlens must render the same text from its
// own reading of the config (prompts, tests from CSV/YAML globs, defaultTest, scenarios, var
// expansion, file vars, $ref) and reach the same verdict on every assertion it runs (transforms,
// javascript and python assertions included).
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { RENDER_VAR, renderPromptfooString } from "../../../server/src/artifacts/adopt/promptfoo-render";
import { canonicalJson } from "../../../server/src/artifacts/adopt/types";
import { Workspace } from "../../../server/src/artifacts/workspace";
import { evaluateAssertions } from "../../../server/src/eval/assertions";
import { runTransform } from "../../../server/src/eval/assertions/javascript";
import { FIXTURES, REPO_ROOT, tempDir } from "../../helpers/paths";

const run = promisify(execFile);
const FIXTURE_DIR = path.join(FIXTURES, "adopt", "promptfoo");

interface PfRow {
  promptIdx: number;
  latencyMs?: number;
  testIdx: number;
  response?: { output?: string };
  testCase: { vars?: Record<string, unknown>; description?: string };
  gradingResult?: { componentResults?: { pass: boolean; reason?: string }[] };
}

/** Runs promptfoo's CLI on a copy of a fixture with the echo provider; returns its result rows. */
async function promptfooRows(node: string, entry: string, fixture: string): Promise<PfRow[]> {
  const dir = tempDir("driftlens-pf-");
  fs.cpSync(path.join(FIXTURE_DIR, fixture), dir, { recursive: true });
  const home = tempDir("driftlens-pf-home-");
  const env = { ...process.env, HOME: home, PROMPTFOO_DISABLE_TELEMETRY: "1", PROMPTFOO_DISABLE_UPDATE: "1", PROMPTFOO_CACHE_ENABLED: "false", PROMPTFOO_DISABLE_SHARING: "1", NO_COLOR: "1" };
  try {
    await run(node, [entry, "eval", "-c", "promptfooconfig.yaml", "--providers", "echo", "--grader", "echo", "-o", "out.json", "--no-cache", "--no-progress-bar", "--no-table"], { cwd: dir, env, timeout: 240_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    // Exit 100 means some test failed in promptfoo: expected (echo is no model); out.json holds the rows.
    if (!fs.existsSync(path.join(dir, "out.json"))) throw e;
  }
  return (JSON.parse(fs.readFileSync(path.join(dir, "out.json"), "utf8")) as { results: { results: PfRow[] } }).results.results;
}

test("promptfoo's own CLI and Driftlens render every prompt × test identically and agree on every assertion", { timeout: 900_000 }, async () => {
  const [node, entry] = execFileSync("bash", [path.join(REPO_ROOT, "test/tools/promptfoo.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 900_000 }).trim().split(" ") as [string, string];
  const fixtures = fs.readdirSync(FIXTURE_DIR).filter((f) => fs.existsSync(path.join(FIXTURE_DIR, f, "promptfooconfig.yaml")));
  assert.ok(fixtures.length >= 4, "several promptfoo fixtures");
  const all = await Promise.all(fixtures.map(async (f) => ({ f, rows: await promptfooRows(node, entry, f) })));
  let compared = 0;
  let assertions = 0;
  const problems: string[] = [];
  for (const { f, rows } of all) {
    const dir = path.join(FIXTURE_DIR, f);
    const suite = new Workspace(dir).adopted(path.join(dir, "promptfooconfig.yaml"));
    assert.deepEqual(suite.diagnostics.filter((d) => d.severity === "error"), [], `${f}: no errors`);
    // promptfoo's prompt index → the template (Driftlens splits a prompt per provider settings).
    const raws = [...new Set(suite.prompts.map((p) => (p.template as { raw: string }).raw))];
    const byVars = new Map(
      suite.cases.map((c) => {
        const v = { ...c.vars };
        delete v[RENDER_VAR];
        return [canonicalJson(v), c];
      }),
    );
    assert.equal(rows.length, raws.length * suite.cases.length, `${f}: promptfoo ran prompts × tests = ${raws.length} × ${suite.cases.length}`);
    for (const r of rows) {
      const raw = raws[r.promptIdx];
      const c = byVars.get(canonicalJson(r.testCase.vars ?? {}));
      const p = suite.prompts.find((x) => (x.template as { raw: string }).raw === raw);
      if (!raw || !c || !p) {
        problems.push(`${f}: promptfoo row prompt ${r.promptIdx} vars ${JSON.stringify(r.testCase.vars)} has no Driftlens case`);
        continue;
      }
      const theirs = r.response?.output ?? "";
      const mine = renderPromptfooString(raw, c.vars, { env: (p.template as { env: Record<string, unknown> }).env });
      compared++;
      // A test's transform is applied to what promptfoo records: apply it to the render to compare.
      let seen: unknown = mine;
      if (c.transform !== undefined) {
        const t = await runTransform(c.transform, mine, { vars: c.vars });
        seen = "error" in t ? `transform failed: ${t.error}` : t.value;
      }
      if (canonicalJson(seen) !== canonicalJson(theirs)) problems.push(`${f} prompt ${r.promptIdx} case ${c.id}: Driftlens renders ${JSON.stringify(seen)}, promptfoo sends ${JSON.stringify(theirs)}`);
      // The assertions run on the output before the test's transform (Driftlens applies it), which is the render.
      const ev = await evaluateAssertions(c.assert, c.transform !== undefined ? mine : theirs, { vars: c.vars, trusted: true, assertionTransforms: true, ...(c.transform !== undefined ? { transform: c.transform } : {}), ...(r.latencyMs !== undefined ? { latencyMs: r.latencyMs } : {}) });
      const comps = r.gradingResult?.componentResults ?? [];
      ev.assertions.forEach((a, i) => {
        assertions++;
        const t = comps[c.assertSource![i]!];
        if (!t || t.pass !== a.pass) problems.push(`${f} prompt ${r.promptIdx} case ${c.id} ${a.type}: Driftlens ${a.pass} (${a.message}), promptfoo ${t?.pass} (${t?.reason})`);
      });
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(compared >= 20 && assertions >= 40, `compared ${compared} renders and ${assertions} assertion verdicts`);
});

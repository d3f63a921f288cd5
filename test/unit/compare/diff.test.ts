import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { Workspace } from "../../../server/src/artifacts";
import { openContext } from "../../../server/src/cli/compare";
import { diffCommand } from "../../../server/src/cli/diff";
import type { CliIO } from "../../../server/src/cli/common";
import type { DiffReport } from "../../../server/src/eval/report";
import { DiffReportSchema, EvalReportSchema } from "../../../server/src/protocol/reports";
import { runEvals, type RunnerWorkspace } from "../../../server/src/eval/runner";
import { tempDir } from "../../helpers/paths";
import { quickstartCopy, runCommand } from "./quickstart";

function gitRepo(): { dir: string; git: (...args: string[]) => string } {
  const dir = quickstartCopy("driftlens-diff-");
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: "pipe" });
  fs.writeFileSync(path.join(dir, ".gitignore"), "models/\n.driftlens/\n");
  git("init", "-q", "-b", "main");
  git("config", "user.email", "test@example.com");
  git("config", "user.name", "test");
  git("add", "-A");
  git("commit", "-q", "-m", "quickstart");
  return { dir, git };
}

const io = (cwd: string): CliIO => ({ out: () => undefined, err: () => undefined, isTTY: false, cwd });

/** Pass/fail per case of capital.prompt, evaluated directly on a plain workspace (the oracle). */
async function passMap(dir: string): Promise<Map<string, boolean>> {
  const ctx = await openContext(dir, io(dir), new Workspace(dir));
  try {
    const r = await runEvals({
      workspace: ctx.ws as unknown as RunnerWorkspace,
      store: ctx.store,
      engine: ctx.engine,
      targets: [{ promptFile: path.join(dir, "capital.prompt"), evalSetFile: path.join(dir, "capitals.eval.yaml") }],
    });
    assert.equal(r.runs.length, 1);
    // The report's wire contract keeps every field of the report as JSON carries it.
    const sent = JSON.parse(JSON.stringify(r)) as unknown;
    const wire = EvalReportSchema.safeParse(sent);
    assert.ok(wire.success, `EvalReportSchema rejects the report: ${wire.error?.issues[0]?.path.join(".")}: ${wire.error?.issues[0]?.message}`);
    assert.deepEqual(wire.data, sent);
    return new Map(r.runs[0]!.cases.map((c) => [c.id, c.pass]));
  } finally {
    await ctx.dispose();
  }
}

test("diff in a git repository: a breaking edit reports exactly its flips and exits 1; a harmless edit exits 0", async () => {
  const { dir, git } = gitRepo();
  const clean = await runCommand(diffCommand, ["--format", "json"], dir);
  assert.equal(clean.code, 0, clean.err);
  assert.deepEqual((JSON.parse(clean.out) as DiffReport).prompts, []);

  const before = await passMap(dir);
  const file = path.join(dir, "capital.prompt");
  const original = fs.readFileSync(file, "utf8");
  fs.writeFileSync(file, original.replace("What is the capital of", "What is the main city of"));
  const after = await passMap(dir);
  const expected = [...before].filter(([id, pass]) => pass !== after.get(id)).map(([id]) => id).sort();
  assert.ok(expected.length > 0, "the edit breaks some cases");

  const broken = await runCommand(diffCommand, ["--format", "json"], dir);
  assert.equal(broken.code, 1, broken.err);
  const r = JSON.parse(broken.out) as DiffReport;
  // The wire contract (what the extension parses driftlens/deltas with) takes the report as printed, every field kept.
  const wire = DiffReportSchema.safeParse(JSON.parse(broken.out));
  assert.ok(wire.success, `DiffReportSchema rejects the report: ${wire.error?.issues[0]?.path.join(".")}: ${wire.error?.issues[0]?.message}`);
  assert.deepEqual(wire.data, r);
  assert.equal(r.base.ref, "HEAD");
  assert.equal(r.base.commit, git("rev-parse", "HEAD").trim());
  assert.equal(r.head.commit, null);
  assert.equal(r.prompts.length, 1);
  const p = r.prompts[0]!;
  assert.equal(p.file, "capital.prompt");
  assert.equal(p.status, "modified");
  assert.equal(p.variant, "tiny/f32");
  assert.notEqual(p.baseHash, p.headHash);
  assert.deepEqual(p.flips.map((f) => f.id).sort(), expected, "exactly the cases the edit flipped");
  for (const f of p.flips) {
    assert.equal(f.from, before.get(f.id) ? "pass" : "fail");
    assert.notEqual(f.baseOutput, f.headOutput);
    assert.equal(f.outputDiff.filter((x) => x.op !== "+").map((x) => x.text).join(""), f.baseOutput);
    assert.equal(f.outputDiff.filter((x) => x.op !== "-").map((x) => x.text).join(""), f.headOutput);
  }
  assert.equal(p.evalSetChanged, false);
  assert.ok(p.delta! < 0 && p.ci![0] <= p.delta! && p.delta! <= p.ci![1]);
  assert.ok(p.pValue! < 0.05);
  assert.equal(r.gate.passed, false);
  assert.ok(r.gate.reasons.some((x) => x.includes("capital.prompt")));
  assert.ok(p.slices.length > 0 && p.slices[0]!.delta <= p.slices[p.slices.length - 1]!.delta, "worst slice first");

  // The same diff again: identical JSON (diff has no timing fields).
  const again = await runCommand(diffCommand, ["--format", "json"], dir);
  assert.equal(again.out, broken.out);

  // JUnit: one test case per eval case (plus the gate), failures for the regressions.
  const junit = await runCommand(diffCommand, ["--format", "junit"], dir);
  assert.equal(junit.code, 1);
  assert.equal((junit.out.match(/<testcase /g) ?? []).length, before.size + 1);
  assert.equal((junit.out.match(/type="regression"/g) ?? []).length, p.flips.filter((f) => f.to === "fail").length);

  // Markdown for the PR comment; --out writes the file and prints the text summary.
  const mdFile = path.join(dir, "report.md");
  const md = await runCommand(diffCommand, ["--format", "markdown", "--out", mdFile], dir);
  assert.equal(md.code, 1);
  assert.match(fs.readFileSync(mdFile, "utf8").split("\n")[0]!, /^❌ \*\*Driftlens: the regression gate fails\*\*/);
  assert.match(md.out, /capital\.prompt on tiny\/f32/);
  fs.rmSync(mdFile);

  // A harmless edit (front matter description only): same outputs, exit 0.
  fs.writeFileSync(file, original.replace(/^description: .*$/m, "description: Asks for a capital city (reworded)."));
  const harmless = await runCommand(diffCommand, ["--format", "json"], dir);
  assert.equal(harmless.code, 0, harmless.err);
  const h = JSON.parse(harmless.out) as DiffReport;
  assert.equal(h.prompts.length, 1);
  assert.deepEqual(h.prompts[0]!.flips, []);
  assert.equal(h.prompts[0]!.delta, 0);
  assert.equal(h.gate.passed, true);

  // Committed, then compared between two commits with --base/--head; renames are followed.
  fs.writeFileSync(file, original.replace("What is the capital of", "What is the main city of"));
  git("mv", "capital.prompt", "city.prompt");
  const evalFile = path.join(dir, "capitals.eval.yaml");
  fs.writeFileSync(evalFile, fs.readFileSync(evalFile, "utf8").replace("prompt: capital.prompt", "prompt: city.prompt"));
  git("add", "-A");
  git("commit", "-q", "-m", "rename and reword");
  const renamed = await runCommand(diffCommand, ["--base", "HEAD~1", "--head", "HEAD", "--format", "json"], dir);
  assert.equal(renamed.code, 1, renamed.err);
  const rr = JSON.parse(renamed.out) as DiffReport;
  assert.equal(rr.prompts.length, 1);
  assert.equal(rr.prompts[0]!.file, "city.prompt");
  assert.equal(rr.prompts[0]!.baseFile, "capital.prompt");
  assert.equal(rr.prompts[0]!.status, "renamed");
  assert.deepEqual(rr.prompts[0]!.flips.map((f) => f.id).sort(), expected);
});

test("diff: changing only the eval set reports evalSetChanged with added and removed cases", async () => {
  const { dir } = gitRepo();
  const evalFile = path.join(dir, "capitals.eval.yaml");
  let text = fs.readFileSync(evalFile, "utf8");
  const start = text.indexOf("  - id: malta");
  const end = text.indexOf("  - id: ", start + 5);
  text = text.slice(0, start) + text.slice(end);
  text += `  - id: france-again\n    vars: {country: France}\n    assert:\n      - {type: icontains, value: Paris}\n    tags: [europe]\n    why: "Added in this change"\n`;
  fs.writeFileSync(evalFile, text);
  const res = await runCommand(diffCommand, ["--format", "json"], dir);
  assert.equal(res.code, 0, res.err);
  const r = JSON.parse(res.out) as DiffReport;
  assert.equal(r.prompts.length, 1);
  const p = r.prompts[0]!;
  assert.equal(p.file, "capital.prompt");
  assert.equal(p.status, "evals-changed");
  assert.equal(p.baseHash, p.headHash, "the prompt itself did not change");
  assert.equal(p.evalSetChanged, true);
  assert.deepEqual(p.added, ["france-again"]);
  assert.deepEqual(p.removed, ["malta"]);
  assert.equal(p.cases, 59, "compared on the common cases");
  assert.deepEqual(p.flips, []);
  const text2 = await runCommand(diffCommand, [], dir);
  assert.match(text2.out, /eval set changed: 1 added \(france-again\), 1 removed \(malta\)/);
});

test("diff: a missing revision or a folder outside git exits 2 with a clear message", async () => {
  const { dir } = gitRepo();
  const missing = await runCommand(diffCommand, ["--base", "no-such-branch"], dir);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /git revision 'no-such-branch' does not exist/);
  const missingHead = await runCommand(diffCommand, ["--head", "v9.9.9"], dir);
  assert.equal(missingHead.code, 2);
  assert.match(missingHead.err, /git revision 'v9\.9\.9' does not exist/);
  const usage = await runCommand(diffCommand, ["--format", "pdf"], dir);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--format/);
  const outside = fs.realpathSync(tempDir("driftlens-nogit-"));
  const notGit = await runCommand(diffCommand, [], outside);
  assert.equal(notGit.code, 2);
  assert.match(notGit.err, /not inside a git repository/);
});

test("diff: a changed partial compares the prompts that use it", async () => {
  const { dir, git } = gitRepo();
  const file = path.join(dir, "capital.prompt");
  const original = fs.readFileSync(file, "utf8");
  fs.writeFileSync(path.join(dir, "_question.prompt"), "What is the capital of {{country}}?");
  fs.writeFileSync(file, original.replace("What is the capital of {{country}}?", "{{>question}}"));
  git("add", "-A");
  git("commit", "-q", "-m", "question as a partial");
  const before = await passMap(dir);
  fs.writeFileSync(path.join(dir, "_question.prompt"), "What is the main city of {{country}}?");
  const after = await passMap(dir);
  const expected = [...before].filter(([id, pass]) => pass !== after.get(id)).map(([id]) => id).sort();
  assert.ok(expected.length > 0);
  const res = await runCommand(diffCommand, ["--format", "json"], dir);
  assert.equal(res.code, 1, res.err);
  const r = JSON.parse(res.out) as DiffReport;
  assert.deepEqual(r.prompts.map((p) => p.file), ["capital.prompt"], "only the prompt that uses the partial");
  assert.equal(r.prompts[0]!.baseHash, r.prompts[0]!.headHash, "the prompt file itself is unchanged");
  assert.deepEqual(r.prompts[0]!.flips.map((f) => f.id).sort(), expected);
});

test("diff: driftlens.yaml and adapter-config changes compare exactly the prompts whose models or adapters they change", async () => {
  const { dir, git } = gitRepo();
  const config = path.join(dir, "driftlens.yaml");
  const configText = fs.readFileSync(config, "utf8");
  const diffJson = async () => {
    const res = await runCommand(diffCommand, ["--format", "json"], dir);
    return { code: res.code, err: res.err, report: res.out ? (JSON.parse(res.out) as DiffReport) : undefined };
  };

  // Only the gate changed: no prompt runs on anything else.
  fs.writeFileSync(config, configText.replace("alpha: 0.05", "alpha: 0.10"));
  const gateOnly = await diffJson();
  assert.equal(gateOnly.code, 0, gateOnly.err);
  assert.deepEqual(gateOnly.report!.prompts, []);

  // tiny/f32 now names the q4_0 file: every prompt on tiny/f32 (with or without an adapter) is
  // compared, and capital.prompt's flips are exactly what running it on q4_0 weights flips.
  const before = await passMap(dir);
  fs.writeFileSync(config, configText.replace("f32: models/tiny-f32.gguf", "f32: models/tiny-q4_0.gguf"));
  const after = await passMap(dir);
  const expected = [...before].filter(([id, pass]) => pass !== after.get(id)).map(([id]) => id).sort();
  assert.ok(expected.length > 0, "q4_0 weights flip some capitals");
  const swapped = await diffJson();
  assert.equal(swapped.code, 1, swapped.err);
  const r = swapped.report!;
  assert.deepEqual([...new Set(r.prompts.map((p) => p.file))].sort(), ["capital-json.prompt", "capital.prompt", "endonym.prompt", "language.prompt"]);
  for (const p of r.prompts) {
    assert.equal(p.status, "config-changed");
    assert.equal(p.baseHash, p.headHash, "the prompt itself did not change");
  }
  const capital = r.prompts.find((p) => p.file === "capital.prompt")!;
  assert.deepEqual(capital.flips.map((f) => f.id).sort(), expected);
  assert.equal(r.gate.passed, false);

  // The adapter's scale goes to 0: only the prompt that runs with the adapter is compared, and it
  // loses what the adapter taught.
  fs.writeFileSync(config, configText);
  const adapter = path.join(dir, "endonyms.adapter.yaml");
  fs.writeFileSync(adapter, fs.readFileSync(adapter, "utf8").replace(/^scale: 1\.0$/m, "scale: 0.0"));
  const scaled = await diffJson();
  assert.ok(scaled.report, scaled.err);
  assert.deepEqual(scaled.report.prompts.map((p) => [p.file, p.status]), [["endonym.prompt", "config-changed"]]);
  assert.ok(scaled.report.prompts[0]!.delta! < 0, "without the adapter the endonyms are lost");
  assert.equal(git("status", "--short", "--", "capital.prompt", "endonym.prompt"), "", "no prompt was touched");
});

// `driftlens diff` on adopted files: a promptfoo config whose test CSV changed is a changed eval set
// (its prompts compared on the common cases, the added and removed case ids listed); an edited
// prompt in the config is a modified prompt; a changed .prompt.yml and a changed .prompty are
// compared like .prompt files; a providers: change in driftlens.yaml is a config change of the
// adopted prompts it moves.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { diffCommand } from "../../../server/src/cli/diff";
import type { DiffReport } from "../../../server/src/eval/report";
import { FIXTURES } from "../../helpers/paths";
import { quickstartCopy, runCommand } from "../compare/quickstart";

function repo(): { dir: string; git: (...args: string[]) => string } {
  const dir = quickstartCopy("driftlens-adopt-diff-");
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: "pipe" });
  fs.appendFileSync(path.join(dir, "driftlens.yaml"), `providers:\n  "openai:gpt-4o-mini": tiny/f32\n  "openai/gpt-4o-mini": tiny/f32\n  "gpt-4o-mini": tiny/f32\n`);
  fs.writeFileSync(
    path.join(dir, "promptfooconfig.yaml"),
    `prompts:\n  - "What is the capital of {{country}}?"\nproviders:\n  - id: openai:gpt-4o-mini\n    config: {temperature: 0, max_tokens: 8}\ntests: file://tests.csv\n`,
  );
  fs.writeFileSync(path.join(dir, "tests.csv"), "country,__expected\nFrance,icontains: paris\nIceland,icontains: reykjavik\nJapan,icontains: tokyo\n");
  fs.copyFileSync(path.join(FIXTURES, "adopt", "ghprompt", "capitals.prompt.yml"), path.join(dir, "capitals.prompt.yml"));
  for (const f of ["capital.prompty", "capital.eval.yaml"]) fs.copyFileSync(path.join(FIXTURES, "adopt", "prompty", f), path.join(dir, f === "capital.eval.yaml" ? "capital-prompty.eval.yaml" : f));
  fs.writeFileSync(path.join(dir, "capital-prompty.eval.yaml"), fs.readFileSync(path.join(dir, "capital-prompty.eval.yaml"), "utf8"));
  fs.writeFileSync(path.join(dir, ".gitignore"), "models/\n.driftlens/\n");
  git("init", "-q", "-b", "main");
  git("config", "user.email", "t@example.com");
  git("config", "user.name", "t");
  git("add", "-A");
  git("commit", "-q", "-m", "base");
  return { dir, git };
}

async function diff(dir: string, args: string[] = []): Promise<{ code: number; report: DiffReport; err: string }> {
  const r = await runCommand(diffCommand, ["--format", "json", ...args], dir);
  return { code: r.code, report: JSON.parse(r.out || "{}") as DiffReport, err: r.err };
}

test("a changed test CSV makes its promptfoo config a changed eval set; nothing else is compared", { timeout: 600_000 }, async () => {
  const { dir } = repo();
  assert.deepEqual((await diff(dir)).report.prompts, []);
  fs.writeFileSync(path.join(dir, "tests.csv"), "country,__expected\nFrance,icontains: paris\nIceland,icontains: oslo\nItaly,icontains: rome\n");
  const r = await diff(dir);
  assert.equal(r.code, 1, r.err);
  assert.equal(r.report.prompts.length, 1, JSON.stringify(r.report.prompts.map((p) => p.file)));
  const p = r.report.prompts[0]!;
  assert.equal(p.file, "promptfooconfig.yaml#prompt 1");
  assert.equal(p.status, "evals-changed");
  assert.equal(p.evalSet, "promptfooconfig.yaml");
  assert.equal(p.evalSetChanged, true);
  assert.deepEqual(p.added, ["country=Italy"]);
  assert.deepEqual(p.removed, ["country=Japan"]);
  // The common cases: France passes on both sides; Iceland's expectation moved from Reykjavik to Oslo.
  assert.deepEqual(
    p.flips.map((f) => [f.id, f.from, f.to]),
    [["country=Iceland", "pass", "fail"]],
  );
});

test("an edited prompt in the config, an edited .prompt.yml and .prompty are modified prompts; a providers: change moves them", { timeout: 600_000 }, async () => {
  const { dir, git } = repo();
  const cfg = path.join(dir, "promptfooconfig.yaml");
  fs.writeFileSync(cfg, fs.readFileSync(cfg, "utf8").replace("What is the capital of", "What is the main city of"));
  const gh = path.join(dir, "capitals.prompt.yml");
  fs.writeFileSync(gh, fs.readFileSync(gh, "utf8").replace("What is the capital of", "What is the main city of"));
  const py = path.join(dir, "capital.prompty");
  fs.writeFileSync(py, fs.readFileSync(py, "utf8").replace("What is the capital of", "What is the main city of"));
  const r = await diff(dir);
  assert.deepEqual(
    r.report.prompts.map((p) => [p.file, p.status, p.evalSet]).sort(),
    [
      ["capital.prompty", "modified", "capital-prompty.eval.yaml"],
      ["capitals.prompt.yml", "modified", "capitals.prompt.yml"],
      ["promptfooconfig.yaml#prompt 1", "modified", "promptfooconfig.yaml"],
    ],
  );
  for (const p of r.report.prompts) assert.notEqual(p.baseHash, p.headHash, p.file);
  git("checkout", "-q", "--", ".");
  // driftlens.yaml maps the providers to another variant: every adopted prompt now runs on it.
  const dl = path.join(dir, "driftlens.yaml");
  fs.writeFileSync(dl, fs.readFileSync(dl, "utf8").replace(/: tiny\/f32\n/g, ": tiny/q4_0\n"));
  const c = await diff(dir);
  assert.deepEqual(
    c.report.prompts.filter((p) => p.status === "config-changed").map((p) => [p.file, p.variant]).sort(),
    [
      ["capital.prompty", "tiny/f32 → tiny/q4_0"],
      ["capitals.prompt.yml", "tiny/f32 → tiny/q4_0"],
      ["promptfooconfig.yaml#prompt 1", "tiny/f32 → tiny/q4_0"],
    ],
  );
});

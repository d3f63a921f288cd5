// `driftlens eval --repeat N --grader V` through the bundled CLI: bad values are usage errors
// (exit 2) with a reason, samples reach the JSON report, and a greedy prompt drawn several times
// gets a warning (its samples would all be the same).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { DIST } from "../../helpers/paths";
import { makeWorkspace } from "./helpers";

const CLI = path.join(DIST, "cli.js");
const evalCli = (cwd: string, args: string[]) => spawnSync(process.execPath, [CLI, "eval", ...args], { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });

test("eval --repeat and --grader: usage errors, samples in the JSON report, the greedy warning", () => {
  const w = makeWorkspace("driftlens-cli-sampling-");
  for (const bad of ["0", "1001", "2.5"]) {
    const r = evalCli(w.root, ["--repeat", bad]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--repeat must be a whole number from 1 to 1000/);
  }
  const g = evalCli(w.root, ["--grader", "tiny/nope"]);
  assert.equal(g.status, 2, g.stderr);
  assert.match(g.stderr, /--grader tiny\/nope: /);

  const r = evalCli(w.root, ["--repeat", "3", "--format", "json", "--seed", "4"]);
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  const report = JSON.parse(r.stdout) as { runs: { params: { repeat?: number }; cases: { samples: unknown[]; passFraction: number }[] }[] };
  assert.equal(report.runs[0]!.params.repeat, 3);
  for (const c of report.runs[0]!.cases) assert.equal(c.samples.length, 3);
  assert.doesNotMatch(r.stderr, /decodes greedily/);

  fs.writeFileSync(w.prompt, fs.readFileSync(w.prompt, "utf8").replace("temperature: 0.8", "temperature: 0"));
  const greedy = evalCli(w.root, ["--repeat", "2", "--format", "json"]);
  assert.match(greedy.stderr, /warning: capital\.prompt decodes greedily \(temperature 0\): its 2 samples per case will all be the same output/);
});

// `driftlens eval` as a user runs it: the bundled CLI (dist/cli.js) in a temporary workspace with
// the real engine worker. Exit codes and formats, a cached rerun that cannot start an engine,
// SIGKILL at random points (the store stays consistent and the rerun resumes), and several
// processes writing one store at once.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { Store } from "../../../server/src/store/store";
import { DIST } from "../../helpers/paths";
import { makeWorkspace } from "./helpers";

const CLI = path.join(DIST, "cli.js");

interface Out {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Out {
  const r = spawnSync(process.execPath, [CLI, "eval", ...args], { cwd, encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cliAsync(cwd: string, args: string[]): { child: ReturnType<typeof spawn>; done: Promise<Out> } {
  const child = spawn(process.execPath, [CLI, "eval", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Out>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

interface JsonReport {
  runs: { id: string | null; status: string; resumed: boolean; error?: string; summary: { cases: number; generated: number; cached: number; passed: number; failed: number }; cases: { id: string; output: string; cached: boolean }[] }[];
  errors: unknown[];
}

/** A workspace whose eval set has `n` cases (enough generation time to kill a run in the middle). */
function bigWorkspace(n: number) {
  const w = makeWorkspace("driftlens-cli-");
  const cases = Array.from({ length: n }, (_, i) => `  - id: c${i}\n    vars: {country: "Country ${i}"}\n    assert: [{type: not-contains, value: "zzzz"}]\n    tags: [${i % 2 ? "odd" : "even"}]\n    why: load`).join("\n");
  fs.writeFileSync(w.evalSet, `prompt: capital.prompt\ncases:\n${cases}\n`);
  return w;
}

/** Store invariants after any interruption: integrity, and no complete run missing a case. */
function checkStore(file: string): { incomplete: { id: string; stored: number }[] } {
  const s = Store.open(file);
  try {
    assert.equal(s.integrityCheck(), "ok");
    const incomplete: { id: string; stored: number }[] = [];
    for (const r of s.listRuns()) {
      const n = s.resultCount(r.id);
      if (r.status === "complete") assert.equal(n, r.caseCount, `run ${r.id} is complete with ${n} of ${r.caseCount} results`);
      else incomplete.push({ id: r.id, stored: n });
    }
    return { incomplete };
  } finally {
    s.close();
  }
}

describe("driftlens eval (CLI)", () => {
  test("exit codes, formats, and an unchanged rerun that is all cached without an engine", () => {
    const w = makeWorkspace("driftlens-cli-");
    const first = cli(w.root, ["--format", "json", "--seed", "3"]);
    assert.ok(first.code === 0 || first.code === 1, first.stderr);
    const r1 = JSON.parse(first.stdout) as JsonReport;
    assert.equal(r1.runs.length, 1);
    assert.equal(r1.runs[0]!.status, "complete");
    assert.equal(r1.runs[0]!.summary.generated, 6);
    assert.equal(first.code, r1.runs[0]!.summary.failed > 0 ? 1 : 0);
    // Rerun with an engine worker that cannot exist: if anything tried to start the engine (and
    // so load a model), it would fail. Every case must come from the cache.
    const second = cli(w.root, ["--format", "json", "--seed", "3"], { DRIFTLENS_ENGINE_WORKER: path.join(w.root, "no-such-worker.js") });
    assert.equal(second.code, first.code, second.stderr);
    const r2 = JSON.parse(second.stdout) as JsonReport;
    assert.equal(r2.runs[0]!.summary.cached, 6);
    assert.equal(r2.runs[0]!.summary.generated, 0);
    assert.deepEqual(
      r2.runs[0]!.cases.map((c) => c.output),
      r1.runs[0]!.cases.map((c) => c.output),
    );

    const junit = cli(w.root, ["--format", "junit", "--seed", "3", "--out", "out/report.xml"]);
    assert.equal(junit.code, first.code);
    const xml = fs.readFileSync(path.join(w.root, "out", "report.xml"), "utf8");
    assert.match(xml, /^<\?xml/);
    assert.equal((xml.match(/<testcase /g) ?? []).length, 6);
    assert.match(junit.stdout, /6 (generated|cached)|0 generated, 6 cached/);
    const md = cli(w.root, ["--format", "markdown", "--seed", "3", "capitals.eval.yaml"]);
    assert.match(md.stdout, /^## Driftlens eval/);
    assert.match(md.stdout, /\| <code>tiny\/rnd<\/code> \|/);

    // Usage and model errors exit 2 with a one-line reason.
    const bad = cli(w.root, ["--format", "yaml"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format' must be one of/);
    const missingFile = cli(w.root, ["nope.prompt"]);
    assert.equal(missingFile.code, 2);
    assert.match(missingFile.stderr, /nope.prompt: no such file/);
    const missingModel = cli(w.root, ["--variant", "tiny/missing", "--seed", "3"]);
    assert.equal(missingModel.code, 2);
    assert.ok(missingModel.stdout.includes(w.files.missing), missingModel.stdout);
    assert.doesNotMatch(missingModel.stderr + missingModel.stdout, /\n\s+at /, "no stack trace");
  });

  test("a store that is not a Driftlens store is refused with exit 2 and left untouched", () => {
    const w = makeWorkspace("driftlens-cli-");
    fs.mkdirSync(path.dirname(w.store), { recursive: true });
    fs.writeFileSync(w.store, "not a database ".repeat(100));
    const r = cli(w.root, []);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not a Driftlens store/);
    assert.equal(fs.readFileSync(w.store, "utf8"), "not a database ".repeat(100));
  });

  test("artifact versions record the git commit when the file is as committed, and none once edited", () => {
    const w = makeWorkspace("driftlens-cli-");
    const g = (...args: string[]) => spawnSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: w.root, encoding: "utf8" });
    g("init", "-q");
    g("add", "capital.prompt", "capitals.eval.yaml");
    g("commit", "-q", "-m", "evals");
    const head = g("rev-parse", "HEAD").stdout.trim();
    assert.match(head, /^[0-9a-f]{40}$/);
    // A missing model fails before any engine starts; the versions are recorded first.
    assert.equal(cli(w.root, ["--variant", "tiny/missing"]).code, 2);
    fs.appendFileSync(w.evalSet, "\n# edited\n");
    assert.equal(cli(w.root, ["--variant", "tiny/missing"]).code, 2);
    const s = Store.open(w.store);
    try {
      assert.deepEqual(
        s.artifactVersions(w.prompt).map((v) => v.gitCommit),
        [head],
      );
      assert.deepEqual(
        s.artifactVersions(w.evalSet).map((v) => v.gitCommit).sort(),
        [head, null].sort(),
      );
    } finally {
      s.close();
    }
  });

  test("SIGKILL at random points: store consistent, never complete with missing cases, rerun generates only the missing", async () => {
    const N = 40;
    const w = bigWorkspace(N);
    // How long a full run takes here, to spread the kill points over it.
    const t0 = performance.now();
    const full = cli(w.root, ["--format", "json", "--seed", "1000"]);
    const fullMs = performance.now() - t0;
    assert.ok(full.code === 0 || full.code === 1, full.stderr);
    let resumedSome = false;
    for (let i = 0; i < 5; i++) {
      const seed = String(2000 + i);
      const killAt = 150 + Math.random() * fullMs;
      const { child, done } = cliAsync(w.root, ["--format", "json", "--seed", seed]);
      // Odd iterations kill at a random time (possibly before the run exists); even ones once a
      // random number of results is stored (watched through a reader on the same WAL store).
      const target = 1 + Math.floor(Math.random() * (N - 2));
      const timer = i % 2 ? setTimeout(() => child.kill("SIGKILL"), killAt) : undefined;
      const watcher = i % 2 ? undefined : Store.open(w.store);
      const poll = watcher
        ? setInterval(() => {
            const n = (watcher.db.prepare("SELECT count(*) AS n FROM results JOIN runs ON runs.id = results.run_id WHERE runs.status = 'running'").get() as { n: number }).n;
            if (n >= target) child.kill("SIGKILL");
          }, 3)
        : undefined;
      const out = await done;
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
      const { incomplete } = checkStore(w.store);
      const completedBeforeKill = (() => {
        const s = Store.open(w.store);
        try {
          return s.listRuns({ status: "complete" }).some((r) => r.seed === Number(seed));
        } finally {
          s.close();
        }
      })();
      const stored = incomplete.reduce((n, r) => n + r.stored, 0);
      assert.ok(incomplete.length <= 1, `at most the killed run is unfinished (${incomplete.length})`);
      if (out.code === 0 || out.code === 1) continue; // finished before the kill
      // The engine worker may outlive its parent for a moment; the rerun must not wait for it.
      const rerun = cli(w.root, ["--format", "json", "--seed", seed]);
      assert.ok(rerun.code === 0 || rerun.code === 1, `rerun after a kill at ${Math.round(killAt)} ms: ${rerun.stderr}`);
      const r = (JSON.parse(rerun.stdout) as JsonReport).runs[0]!;
      assert.equal(r.status, "complete");
      assert.equal(r.cases.length, N);
      if (incomplete.length === 1) {
        assert.equal(r.id, incomplete[0]!.id, "the killed run is resumed");
        assert.equal(r.resumed, true);
        if (stored > 0) resumedSome = true;
      }
      // A run killed after it was marked complete (while printing) leaves every case in the cache.
      const expected = completedBeforeKill ? 0 : N - stored;
      assert.equal(r.summary.generated, expected, `kill at ${Math.round(killAt)} ms: ${stored} stored, complete before kill: ${completedBeforeKill}, ${r.summary.generated} generated`);
      assert.equal(r.summary.cached, completedBeforeKill ? N : 0);
      assert.equal(checkStore(w.store).incomplete.length, 0);
    }
    // Not asserted per iteration (a kill can land before the first result), but reported.
    if (!resumedSome) console.log("note: no kill landed after the first stored result in this run");
  });

  test("three processes writing one store at once all complete and nothing is lost", async () => {
    const N = 16;
    const w = bigWorkspace(N);
    const procs = [cliAsync(w.root, ["--format", "json", "--seed", "1"]), cliAsync(w.root, ["--format", "json", "--seed", "1"]), cliAsync(w.root, ["--format", "json", "--seed", "2"])];
    const outs = await Promise.all(procs.map((p) => p.done));
    const ids = new Set<string>();
    for (const o of outs) {
      assert.ok(o.code === 0 || o.code === 1, o.stderr);
      let report: JsonReport;
      try {
        report = JSON.parse(o.stdout) as JsonReport;
      } catch {
        assert.fail(`exit ${o.code}, stdout ${o.stdout.length} chars: ${o.stdout.slice(0, 200)} | stderr: ${o.stderr}`);
      }
      const r = report.runs[0]!;
      assert.equal(r.status, "complete");
      assert.equal(r.cases.length, N);
      ids.add(r.id!);
    }
    assert.equal(ids.size, 3, "each process recorded its own run");
    const s = Store.open(w.store);
    try {
      assert.equal(s.integrityCheck(), "ok");
      for (const id of ids) {
        assert.equal(s.getRun(id)?.status, "complete");
        assert.equal(s.resultCount(id), N);
      }
      // The same seed gives the same outputs whichever process generated them.
      const [a, b] = [...ids].slice(0, 2).map((id) => s.results(id).map((r) => r.output));
      const seeds = [...ids].map((id) => s.getRun(id)!.seed);
      if (seeds[0] === seeds[1]) assert.deepEqual(a, b);
    } finally {
      s.close();
    }
  });
});

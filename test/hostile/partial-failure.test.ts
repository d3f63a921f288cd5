// Partial failure stays partial: one bad variant made `compare` exit 2 with no report for the good
// ones; a read-only store or a full disk gave "internal error" with no path (and a full disk
// skipped the remaining runs); a corrupt store was blamed on the prompt file; one tracked file
// with a line break in its name made `diff` exit 2; `demo --out DIR` wrote its store into the
// bundled quickstart.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { Workspace } from "../../server/src/artifacts";
import { runEvals, type RunnerWorkspace } from "../../server/src/eval/runner";
import { Store } from "../../server/src/store/store";
import { REPO_ROOT, tempDir, TINY_RANDOM_GGUF } from "../helpers/paths";
import { engineFactory } from "../unit/eval/helpers";
import { CLI, runCli, waitFor, workspace } from "./harness";

const CASES = `prompt: capital.prompt\ncases:\n${["France", "Peru", "Chile"].map((c, i) => `  - {id: c${i}, vars: {country: ${c}}, assert: [{type: not-contains, value: zzzz}], tags: [t], why: w}`).join("\n")}\n`;

function twoVariants(): string {
  const dir = workspace(
    { "capitals.eval.yaml": CASES },
    `models:\n  tiny:\n    reference: rnd\n    variants:\n      rnd: ${JSON.stringify(TINY_RANDOM_GGUF)}\n      copy: models/copy.gguf\n      missing: models/missing.gguf\nengine: {gpu: cpu, threads: 1, contextSize: 512}\n`,
  );
  fs.mkdirSync(path.join(dir, "models"));
  fs.copyFileSync(TINY_RANDOM_GGUF, path.join(dir, "models", "copy.gguf"));
  return dir;
}

describe("partial failure", () => {
  test("compare reports the good variants and names the bad one", async () => {
    const dir = twoVariants();
    const r = await runCli(dir, ["compare", "--variant", "tiny/copy", "--variant", "tiny/missing", "--format", "json"], { timeoutMs: 180_000 });
    assert.equal(r.code, 2, r.stderr);
    const report = JSON.parse(r.stdout) as { variants: { variant: string; cases: number }[]; failures: { variant: string; error: string }[] };
    assert.deepEqual(report.variants.map((v) => v.variant).sort(), ["tiny/copy", "tiny/rnd"]);
    assert.equal(report.variants.find((v) => v.variant === "tiny/copy")!.cases, 3);
    assert.equal(report.failures.length, 1);
    assert.equal(report.failures[0]!.variant, "tiny/missing");
    assert.match(report.failures[0]!.error, /models\/missing\.gguf does not exist/);
    const text = await runCli(dir, ["compare", "--variant", "tiny/copy", "--variant", "tiny/missing"], { timeoutMs: 180_000 });
    assert.match(text.stdout, /tiny\/missing could not be compared: .*does not exist/);
    assert.match(text.stdout, /tiny\/copy {2}\(/);
  });

  test("a read-only store names its file and the cause; every target is reported, none throws", async () => {
    const dir = twoVariants();
    const file = path.join(dir, "store.db");
    Store.open(file).close();
    const ro = Store.open(file, { readonly: true });
    try {
      const report = await runEvals({
        workspace: new Workspace(dir) as unknown as RunnerWorkspace,
        store: ro,
        engine: engineFactory().engine,
        targets: [{ promptFile: path.join(dir, "capital.prompt"), evalSetFile: path.join(dir, "capitals.eval.yaml") }],
        variants: ["tiny/rnd"],
      });
      assert.equal(report.errors.length, 1);
      assert.match(report.errors[0]!.message, new RegExp(`the store ${file.replace(/[/.]/g, "\\$&")} is read-only`));
      assert.match(report.errors[0]!.message, /make it and its folder writable/);
    } finally {
      ro.close();
    }
  });

  test("a full disk fails each target and run by name and skips none", async () => {
    const dir = twoVariants();
    // Large enough that recording the eval sets needs new pages (small rows fit in free space).
    const padding = `# ${"x".repeat(64 * 1024)}\n`;
    fs.writeFileSync(path.join(dir, "capitals.eval.yaml"), padding + CASES);
    fs.writeFileSync(path.join(dir, "more.eval.yaml"), padding + CASES.replace(/c(\d)/g, "m$1"));
    const file = path.join(dir, "store.db");
    const store = Store.open(file);
    const factory = engineFactory();
    try {
      const ws = new Workspace(dir) as unknown as RunnerWorkspace;
      const targets = ["capitals.eval.yaml", "more.eval.yaml"].map((e) => ({ promptFile: path.join(dir, "capital.prompt"), evalSetFile: path.join(dir, e) }));
      // No room for one more page: nothing new can be written (SQLITE_FULL), from the first write on.
      const pages = store.db.pragma("page_count", { simple: true }) as number;
      store.db.pragma(`max_page_count = ${pages}`);
      const report = await runEvals({ workspace: ws, store, engine: factory.engine, targets, variants: ["tiny/rnd", "tiny/copy"] });
      assert.equal(report.errors.length, 2, "both targets were tried and reported");
      for (const e of report.errors) assert.match(e.message, new RegExp(`the store ${file.replace(/[/.]/g, "\\$&")} could not be written: the disk is full .*free space`));
      // Room for the artifacts again, but not for results: each run fails by name, none is skipped.
      store.db.pragma("max_page_count = 1073741823");
      await runEvals({ workspace: ws, store, engine: factory.engine, targets, variants: ["tiny/rnd"], caseIds: [] });
      store.db.exec("VACUUM");
      store.db.pragma(`max_page_count = ${store.db.pragma("page_count", { simple: true }) as number}`);
      const runs = await runEvals({ workspace: ws, store, engine: factory.engine, targets, variants: ["tiny/rnd", "tiny/copy"], noCache: true, seed: 7 });
      assert.equal(runs.runs.length, 4, "every target × variant was tried");
      const failed = runs.runs.filter((r) => r.status !== "complete");
      assert.ok(failed.length > 0, "the disk filled up");
      for (const run of failed) {
        assert.match(run.error ?? "", /could not be written: the disk is full/);
        assert.ok((run.error ?? "").includes(file), run.error);
      }
    } finally {
      store.close();
      await factory.dispose();
    }
  });

  test("a corrupt store is named as the problem, not the prompt", async () => {
    const dir = twoVariants();
    const first = await runCli(dir, ["eval", "--variant", "tiny/rnd"], { timeoutMs: 120_000 });
    assert.ok(first.code === 0 || first.code === 1, first.stderr);
    const file = path.join(dir, ".driftlens", "store.db");
    // Checkpoint the WAL into the file, then overwrite its pages after the header and schema.
    const s = Store.open(file);
    s.db.pragma("wal_checkpoint(TRUNCATE)");
    s.close();
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.alloc(size - 8192, 0xa5), 0, size - 8192, 8192);
    fs.closeSync(fd);
    const r = await runCli(dir, ["eval", "--variant", "tiny/rnd", "--no-cache"], { timeoutMs: 120_000 });
    assert.equal(r.code, 2);
    const out = r.stdout + r.stderr;
    assert.match(out, new RegExp(`the store ${file.replace(/[/.]/g, "\\$&")} is (corrupt|not a Driftlens store)`));
    assert.doesNotMatch(out, /cannot read .*capital\.prompt/);
    assert.doesNotMatch(out, /internal error/);
  });

  test("one tracked file with a line break in its name does not stop diff", async () => {
    const dir = twoVariants();
    const git = (...args: string[]) => spawnSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: dir, encoding: "utf8" });
    const odd = "odd\nname.prompt";
    fs.writeFileSync(path.join(dir, odd), "Hello.\n");
    git("init", "-q");
    git("add", "-A");
    assert.equal(git("commit", "-q", "-m", "init").status, 0);
    fs.writeFileSync(path.join(dir, odd), "Hello again.\n");
    const r = await runCli(dir, ["diff", "--format", "json"], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { gate: { passed: boolean } };
    assert.equal(report.gate.passed, true);
  });

  test("demo --out DIR writes its store under DIR, not into the quickstart workspace", async () => {
    const ws = tempDir("driftlens-demo-ws-");
    fs.cpSync(path.join(REPO_ROOT, "examples", "quickstart"), ws, { recursive: true, filter: (src) => !/[/\\](models|\.driftlens|demo-report)$/.test(src) });
    const out = path.join(tempDir("driftlens-demo-out-"), "report");
    const child = spawn(process.execPath, [CLI, "demo", "--workspace", ws, "--out", out], { stdio: "ignore" });
    const exited = new Promise((r) => child.once("exit", r));
    // The store is opened before the evals start; stop the demo once it is there.
    const opened = await waitFor(() => fs.existsSync(path.join(out, "store.db")), 120_000);
    child.kill("SIGKILL");
    await exited;
    assert.ok(opened, "the demo's store is under --out");
    assert.equal(fs.existsSync(path.join(ws, ".driftlens")), false, "the workspace got a store");
  });
});

// runEvals on the real tiny GGUF through the real engine worker, with the real Workspace and a real
// SQLite store: determinism, the generation cache (no engine start when everything is cached),
// resume after an interruption, per-variant failures that leave the other variants complete.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { Workspace } from "../../../server/src/artifacts";
import { runEvals, type EvalReport, type RunEvalsOptions } from "../../../server/src/eval/runner";
import { Store } from "../../../server/src/store/store";
import { engineFactory, makeWorkspace } from "./helpers";


describe("runEvals on the tiny model", () => {
  const w = makeWorkspace();
  const ws = new Workspace(w.root);
  const store = Store.open(w.store);
  const engines = engineFactory();
  const engine = engines.engine;
  after(async () => {
    await engines.dispose();
    store.close();
  });
  const run = (over: Partial<RunEvalsOptions> = {}): Promise<EvalReport> =>
    runEvals({ workspace: ws, store, engine, targets: [{ promptFile: w.prompt, evalSetFile: w.evalSet }], seed: 11, memoryBudgetBytes: w.memoryBudgetBytes, ...over });

  test("same seed twice gives byte-identical outputs; the unchanged rerun is all cached and starts no engine", async () => {
    const first = await run();
    assert.equal(first.errors.length, 0);
    assert.equal(first.runs.length, 1);
    const r1 = first.runs[0]!;
    assert.equal(r1.status, "complete", r1.error);
    assert.equal(r1.variant, "tiny/rnd"); // the prompt's model
    assert.equal(r1.summary.cases, 6);
    assert.equal(r1.summary.generated, 6);
    assert.equal(r1.summary.cached, 0);
    assert.equal(r1.modelFingerprint, "81f226c62d28ed4a1a9b9fa080fcd9f0cc40e0f9d5680036583ff98fbcd035cb");
    assert.equal(r1.backend, "cpu");
    assert.equal(r1.threads, 1);
    assert.ok(r1.cases.every((c) => c.tokens.length > 0 && c.tokens[0]!.top.length > 0 && !c.cached));
    assert.equal(store.getRun(r1.id!)?.status, "complete");
    // The version computed without starting the engine is the one the engine reports.
    assert.equal(r1.engineVersion, (await engines.clients[0]!.info()).engineVersion);

    const startsBefore = engines.clients.length;
    const second = await run();
    const r2 = second.runs[0]!;
    assert.equal(engines.clients.length, startsBefore, "a fully cached run must not start the engine");
    assert.equal(r2.status, "complete");
    assert.notEqual(r2.id, r1.id);
    assert.equal(r2.fingerprint, r1.fingerprint);
    assert.equal(r2.summary.cached, 6);
    assert.equal(r2.summary.generated, 0);
    assert.ok(r2.cases.every((c) => c.cached));
    assert.equal(r2.backend, "cpu"); // known from the cached generations
    assert.equal(JSON.stringify(r2.cases.map((c) => [c.id, c.output, c.tokens])), JSON.stringify(r1.cases.map((c) => [c.id, c.output, c.tokens])));

    // Generating again (no cache) with the same seed reproduces every byte.
    const third = await run({ noCache: true });
    const r3 = third.runs[0]!;
    assert.equal(r3.summary.generated, 6);
    assert.deepEqual(
      r3.cases.map((c) => c.output),
      r1.cases.map((c) => c.output),
    );
    assert.deepEqual(
      r3.cases.map((c) => c.tokens.map((t) => t.token)),
      r1.cases.map((c) => c.tokens.map((t) => t.token)),
    );
    // A different seed is a different run and (with temperature > 0) different samples.
    const other = await run({ seed: 12 });
    const r4 = other.runs[0]!;
    assert.notEqual(r4.fingerprint, r1.fingerprint);
    assert.equal(r4.summary.generated, 6);
    assert.notDeepEqual(
      r4.cases.map((c) => c.output),
      r1.cases.map((c) => c.output),
    );
  });

  test("results per case and per slice, in the issue's JSON shape", async () => {
    const r = (await run()).runs[0]!;
    for (const k of ["id", "fingerprint", "variant", "promptHash", "evalSetHash", "modelFingerprint", "adapters", "params", "backend", "threads", "summary", "slices", "cases"]) {
      assert.ok(k in r, `run has ${k}`);
    }
    for (const k of ["cases", "passed", "failed", "errors", "passRate", "generated", "cached", "tokensPerSecond", "wallMs"]) assert.ok(k in r.summary, `summary has ${k}`);
    const c = r.cases.find((x) => x.id === "peru")!;
    for (const k of ["id", "pass", "score", "output", "tokens", "cached", "assertions"]) assert.ok(k in c, `case has ${k}`);
    assert.deepEqual(
      c.assertions.map((a) => a.type),
      ["not-icontains", "word-count"],
    );
    assert.equal(r.summary.passed + r.summary.failed, 6);
    assert.equal(r.summary.passRate, r.summary.passed / 6);
    // Tags are slices; the named slice gathers europe + asia.
    assert.equal(r.slices.americas?.cases, 2);
    assert.equal(r.slices.europe?.cases, 2);
    assert.equal(r.slices["europe-and-asia"]?.cases, 3);
    const europePassed = r.cases.filter((x) => ["france", "norway"].includes(x.id) && x.pass).length;
    assert.equal(r.slices.europe?.passed, europePassed);
  });

  test("an interrupted run is never complete, and the rerun resumes it generating only what is missing", async () => {
    const ac = new AbortController();
    let seen = 0;
    const partial = await run({
      seed: 99,
      signal: ac.signal,
      onCaseResult: () => {
        if (++seen === 2) ac.abort();
      },
    });
    const p = partial.runs[0]!;
    assert.notEqual(p.status, "complete");
    assert.ok(p.cases.length >= 2 && p.cases.length < 6, `stored ${p.cases.length}`);
    const stored = store.getRun(p.id!)!;
    assert.notEqual(stored.status, "complete");
    assert.equal(store.resultCount(p.id!), p.cases.length);

    const resumed = (await run({ seed: 99 })).runs[0]!;
    assert.equal(resumed.id, p.id);
    assert.equal(resumed.resumed, true);
    assert.equal(resumed.status, "complete");
    assert.equal(resumed.summary.generated, 6 - p.cases.length);
    // Every case is accounted for, and each says where its result came from.
    assert.equal(resumed.summary.resumed, p.cases.length);
    assert.equal(resumed.summary.cached, 0);
    assert.equal(resumed.summary.generated + resumed.summary.cached + resumed.summary.resumed, resumed.summary.cases);
    const before = new Set(p.cases.map((c) => c.id));
    for (const c of resumed.cases) assert.equal(c.source, before.has(c.id) ? "resumed" : "generated", c.id);
    assert.equal(resumed.cases.length, 6);
    assert.equal(store.getRun(p.id!)?.status, "complete");
  });

  test("memoized renders follow edits: a changed partial re-renders; a reformatted eval set still hits the cache", async () => {
    const w2 = makeWorkspace();
    fs.writeFileSync(path.join(w2.root, "_greet.prompt"), "Hello.");
    fs.writeFileSync(w2.prompt, fs.readFileSync(w2.prompt, "utf8").replace('{{role "user"}}', '{{role "user"}}{{> greet}} '));
    const ws2 = new Workspace(w2.root);
    const go = (over: Partial<RunEvalsOptions> = {}) =>
      runEvals({ workspace: ws2, store, engine, targets: [{ promptFile: w2.prompt, evalSetFile: w2.evalSet }], seed: 3, ...over });
    const a = (await go()).runs[0]!;
    assert.equal(a.summary.generated, 6);
    assert.equal((await go()).runs[0]!.summary.cached, 6);
    // The partial changes: every rendered prompt changes, so nothing may come from the cache.
    fs.writeFileSync(path.join(w2.root, "_greet.prompt"), "Good evening.");
    const ws3 = new Workspace(w2.root);
    const b = (await runEvals({ workspace: ws3, store, engine, targets: [{ promptFile: w2.prompt, evalSetFile: w2.evalSet }], seed: 3 })).runs[0]!;
    assert.equal(b.summary.generated, 6);
    assert.equal(b.promptHash, a.promptHash); // the prompt file itself did not change
    // Reformatting the eval set (new version, same cases) changes no rendered prompt: all cached.
    fs.appendFileSync(w2.evalSet, "\n# a comment\n");
    const ws4 = new Workspace(w2.root);
    const c = (await runEvals({ workspace: ws4, store, engine, targets: [{ promptFile: w2.prompt, evalSetFile: w2.evalSet }], seed: 3 })).runs[0]!;
    assert.notEqual(c.evalSetHash, b.evalSetHash);
    assert.equal(c.summary.cached, 6);
  });

  test("an engine crash mid-run fails the run with a clear error; the next run resumes it on a fresh engine", async () => {
    let seen = 0;
    const crashed = (
      await run({
        seed: 4242,
        onCaseResult: () => {
          if (++seen === 2) engines.clients[engines.clients.length - 1]!.crashForTest();
        },
      })
    ).runs[0]!;
    assert.equal(crashed.status, "failed");
    assert.match(crashed.error ?? "", /crash/i);
    assert.ok(crashed.error?.includes("tiny/rnd"), crashed.error);
    assert.ok(crashed.cases.length >= 2 && crashed.cases.length < 6, `stored ${crashed.cases.length}`);
    assert.equal(store.getRun(crashed.id!)?.status, "failed");
    const again = (await run({ seed: 4242 })).runs[0]!;
    assert.equal(again.id, crashed.id);
    assert.equal(again.status, "complete");
    assert.equal(again.summary.generated, 6 - crashed.cases.length);
  });

  test("a missing, truncated, over-budget or wrong-architecture variant fails alone, naming variant and file", async () => {
    const report = await run({ variants: ["tiny/rnd", "tiny/missing", "tiny/corrupt", "tiny/big", "tiny/rnd+wrong"], noCache: true, seed: 5 });
    const by = new Map(report.runs.map((r) => [r.variant.replace(/@.*$/, ""), r]));
    const good = by.get("tiny/rnd")!;
    assert.equal(good.status, "complete", good.error);
    assert.equal(good.summary.generated, 6);
    const expect: [string, string, RegExp][] = [
      ["tiny/missing", w.files.missing, /does not exist/],
      ["tiny/corrupt", w.files.corrupt, /truncated|corrupt|not a readable GGUF/],
      ["tiny/big", w.files.big, /memory budget/],
      ["tiny/rnd+wrong", w.files.wrongAdapter, /architecture 'gpt2'/],
    ];
    for (const [variant, file, why] of expect) {
      const r = by.get(variant);
      assert.ok(r, `a report entry for ${variant}: ${[...by.keys()].join(", ")}`);
      assert.equal(r.status, "failed", variant);
      assert.ok(r.error?.includes(variant), `${variant}: error names the variant: ${r.error}`);
      assert.ok(r.error?.includes(file), `${variant}: error names the file: ${r.error}`);
      assert.match(r.error!, why);
      assert.equal(r.summary.passed, 0);
      if (r.id) assert.notEqual(store.getRun(r.id)?.status, "complete");
    }
  });
});

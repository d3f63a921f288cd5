// Catastrophic patterns: a regex assertion or a JSON Schema `pattern` that backtracks
// exponentially must finish in seconds (failing the assertion, saying the pattern ran out of
// time), in the evaluator, in `driftlens eval` and in a run started from the editor, where the
// language server keeps answering hover within 2 s while the run executes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { evaluateAssertions, type Assertion } from "../../server/src/eval/assertions";
import type { RunResult, CaseResult } from "../../server/src/protocol/runs";
import { DIST, tempDir } from "../helpers/paths";
import { LspClient, positionOf } from "../lsp/client";
import { makeWorkspace } from "../unit/eval/helpers";

/** The pattern and output: ^(([\w\s])+)+$ on 1,200 word characters and spaces, then a mismatch. */
const REGEX = "^(([\\w\\s])+)+$";
const LONG_OUTPUT = "ab ".repeat(400) + "!";

const SCHEMA_CASES: [Assertion, string][] = (() => {
  const s36 = JSON.stringify("a".repeat(33) + "!"); // 36 characters with the quotes
  return [
    [{ type: "is-json", value: { type: "string", pattern: "^(a+)+$" } }, s36],
    [{ type: "json-schema", value: "type: string\npattern: ^(a+)+$" }, s36],
    [{ type: "is-json", value: { type: "object", patternProperties: { "^(a+)+$": { type: "number" } } } }, `{${s36}: "x"}`],
    [{ type: "contains-json", value: { type: "object", properties: { k: { pattern: "^(a+)+$" } } } }, `here: {"k": ${s36}}`],
  ];
})();

// The evaluations run in a child process (this bundle, started with DRIFTLENS_PATTERN_PROBE), so
// that a pattern that never finishes fails the test at its time limit instead of hanging it.
const PROBE = process.env.DRIFTLENS_PATTERN_PROBE;
if (PROBE) {
  void (async () => {
    const list: [Assertion, string][] = PROBE === "regex" ? [[{ type: "regex", value: REGEX }, LONG_OUTPUT], [{ type: "not-regex", value: REGEX }, LONG_OUTPUT], [{ type: "regex", value: "^ab" }, LONG_OUTPUT]] : SCHEMA_CASES;
    for (const [a, output] of list) {
      const t0 = performance.now();
      const ev = await evaluateAssertions([a], output, { trusted: true });
      fs.appendFileSync(process.env.DRIFTLENS_PATTERN_PROBE_OUT!, JSON.stringify({ type: a.type, ms: performance.now() - t0, ev }) + "\n");
    }
    process.exit(0);
  })();
}

interface Probe {
  type: string;
  ms: number;
  ev: Awaited<ReturnType<typeof evaluateAssertions>>;
}

function probe(kind: "regex" | "schema"): Probe[] {
  const out = path.join(tempDir("driftlens-patterns-probe-"), "results.jsonl");
  const env: NodeJS.ProcessEnv = { ...process.env, DRIFTLENS_PATTERN_PROBE: kind, DRIFTLENS_PATTERN_PROBE_OUT: out };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [__filename], { env, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.signal, null, `the evaluations did not finish within 60 s (${r.signal}); stderr: ${r.stderr.slice(-1000)}`);
  return fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Probe);
}

const hostile = PROBE ? describe.skip : describe;

hostile("catastrophic patterns in the evaluator", () => {
  test("a catastrophic regex on a 1,200-character output fails within seconds, saying it ran out of time", () => {
    assert.equal(LONG_OUTPUT.length, 1201);
    const [regex, notRegex, next] = probe("regex");
    for (const { type, ms, ev } of [regex!, notRegex!]) {
      assert.ok(ms < 10_000, `${type} took ${Math.round(ms)} ms`);
      const r = ev.assertions[0]!;
      assert.equal(r.pass, false, `${type} does not pass on a pattern it could not finish`);
      assert.match(r.message, /ran out of time: matching the regular expression took over 1000 ms/);
      assert.equal(ev.error, r.message, "the case is an error");
    }
    // The worker was stopped and replaced: the next pattern is evaluated normally.
    assert.equal(next!.ev.pass, true);
  });

  test("a catastrophic JSON Schema pattern on 36 characters fails within seconds (is-json, json-schema, patternProperties, contains-json)", () => {
    assert.equal(JSON.stringify("a".repeat(33) + "!").length, 36);
    const results = probe("schema");
    assert.equal(results.length, SCHEMA_CASES.length);
    for (const { type, ms, ev } of results) {
      assert.ok(ms < 10_000, `${type} took ${Math.round(ms)} ms`);
      assert.equal(ev.pass, false);
      assert.match(ev.assertions[0]!.message, /ran out of time: (validating the output against the JSON Schema|searching the output for JSON objects) took over 1000 ms/, type);
    }
  });
});

/** A workspace on the real tiny model whose eval set holds a pattern that is catastrophic on any output of 30+ characters. */
function catastrophicWorkspace(cases: number) {
  const w = makeWorkspace("driftlens-patterns-");
  fs.writeFileSync(w.prompt, `---\nmodel: tiny/rnd\nconfig: {temperature: 0, maxOutputTokens: 32}\ninput:\n  schema:\n    country: string\n---\n{{role "user"}}What is the capital of {{country}}?\n`);
  const items = Array.from({ length: cases }, (_, i) =>
    [`  - id: c${i}`, `    vars: {country: "Country number ${i}"}`, "    assert:", '      - {type: regex, value: "^([\\\\s\\\\S]+)+\\\\x00$"}', "      - {type: not-contains, value: zzzz}", "    why: hostile pattern"].join("\n"),
  );
  fs.writeFileSync(w.evalSet, `prompt: capital.prompt\ncases:\n${items.join("\n")}\n`);
  return w;
}

hostile("catastrophic patterns in runs", () => {
  test("driftlens eval with a catastrophic regex finishes, each case an error saying the pattern ran out of time", { timeout: 180_000 }, () => {
    const w = catastrophicWorkspace(3);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [path.join(DIST, "cli.js"), "eval", "--format", "json", "--variant", "tiny/rnd"], { cwd: w.root, encoding: "utf8", timeout: 170_000 });
    const ms = performance.now() - t0;
    assert.notEqual(r.signal, "SIGTERM", `eval did not finish: ${r.stderr.slice(-2000)}`);
    const report = JSON.parse(r.stdout) as { runs: { cases: { id: string; pass: boolean; output: string; error?: string; assertions: { type: string; message: string }[] }[] }[] };
    const cases = report.runs[0]!.cases;
    assert.equal(cases.length, 3);
    for (const c of cases) {
      assert.ok(c.output.length >= 30, `output long enough to be catastrophic: ${JSON.stringify(c.output)}`);
      assert.equal(c.pass, false);
      assert.match(c.error ?? "", /ran out of time/);
      assert.match(c.assertions[0]!.message, /ran out of time/);
    }
    assert.ok(ms < 120_000, `eval took ${Math.round(ms)} ms`);
  });

  describe("the language server while a run evaluates catastrophic patterns", () => {
    let client: LspClient;
    let w: ReturnType<typeof catastrophicWorkspace>;
    before(async () => {
      w = catastrophicWorkspace(4);
      client = await LspClient.start({ folders: [w.root], env: { DRIFTLENS_TRUSTED: "1" }, settings: { driftlens: {} } });
    });
    after(async () => {
      await client?.stop();
    });

    test("answers hover within 2 s throughout, and the run completes with the cases failing on the time limit", { timeout: 180_000 }, async () => {
      const text = fs.readFileSync(w.evalSet, "utf8");
      const uri = await client.open(w.evalSet);
      await client.waitForDiagnostics(uri, { timeoutMs: 60_000 });
      // A first run of a workspace reads the model's GGUF header on the server's main thread (about
      // a second for this model's 32,000-token vocabulary on a loaded 2-core machine; the reader is
      // not this test's subject): a harmless run first, so what is measured is the pattern run.
      const warm = path.join(path.dirname(w.evalSet), "warm.eval.yaml");
      fs.writeFileSync(warm, 'prompt: capital.prompt\ncases:\n  - id: w\n    vars: {country: France}\n    assert: [{type: not-contains, value: zzzz}]\n    why: warm-up\n');
      const warmed = await client.request<RunResult>("driftlens/run", { runId: "warm", file: warm, variants: ["tiny/rnd"] });
      assert.equal(warmed.status, "completed", warmed.message);
      const results: CaseResult[] = [];
      client.conn.onNotification("driftlens/caseResult", (p: CaseResult) => void results.push(p));
      let done = false;
      const run = client.request<RunResult>("driftlens/run", { runId: "hostile", file: w.evalSet, variants: ["tiny/rnd"], noCache: true }).finally(() => (done = true));
      // A failed probe ends the test while the run is pending; its rejection at shutdown is expected.
      run.catch(() => undefined);
      // Hover over the assertion type from the start of the run (model load, generation, evaluation) to its end.
      const latencies: number[] = [];
      while (!done) {
        const t0 = performance.now();
        const hover = await Promise.race([client.hover(uri, positionOf(text, "type: regex", 0, 7)), new Promise<"late">((r) => setTimeout(() => r("late"), 2000))]);
        const ms = performance.now() - t0;
        assert.notEqual(hover, "late", `hover took over 2 s while the run executed (${latencies.length} answered before)`);
        assert.ok(hover !== "late" && hover && JSON.stringify(hover.contents).includes("regular expression"), JSON.stringify(hover));
        latencies.push(ms);
        await new Promise((r) => setTimeout(r, 200));
      }
      const r = await run;
      assert.equal(r.status, "completed", r.message);
      assert.ok(latencies.length >= 3, `hover was probed ${latencies.length} times during the run`);
      const mine = results.filter((x) => x.runId === "hostile");
      assert.equal(mine.length, 4);
      for (const c of mine) {
        assert.equal(c.pass, false);
        assert.match(JSON.stringify(c), /ran out of time/);
      }
    });
  });
});

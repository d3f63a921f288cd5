// Every report format escapes what Driftlens did not write. Each string of an eval, compare and
// diff report (ids, tags, outputs, messages, paths, variant names) is replaced by text that tries
// to be markup in markdown and HTML, breaks out of XML, and drives a terminal (ANSI escapes, a
// bidi override); no format lets any of it through raw, and the CLI's terminal output neither.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatReport } from "../../server/src/eval/format";
import { renderCompare, renderDiff, type CompareReport, type DiffReport } from "../../server/src/eval/report";
import type { EvalReport } from "../../server/src/eval/runner";
import { hasTerminalControls, terminalSafe } from "../../server/src/util/terminal";
import { runCli, workspace } from "./harness";

const EVIL = "ev\u001b[31mil\u001b]8;;https://x.example\u0007<img src=x onerror=alert(1)></details><script>alert(2)</script>|`*_[x](y)\u202e\r\n]]>&amp;\u0000\u009b2J";

/** Replaces every string in `v` (keys kept) with EVIL plus its own value, so each is told apart. */
function poison<T>(v: T): T {
  if (typeof v === "string") return `${EVIL}${v}` as T;
  if (Array.isArray(v)) return v.map(poison) as T;
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // Enumerations the renderers switch on stay valid; everything else is poisoned.
      out[k] = ["status", "from", "to", "op", "source", "base", "head"].includes(k) && typeof x === "string" ? x : poison(x);
    }
    return out as T;
  }
  return v;
}

const slice = { name: "s", cases: 3, passRate: 0.5, basePassRate: 1, delta: -0.5, ci: [-0.9, 0.1] as [number, number], pValue: 0.2, minDetectableDrop: 0.4, regressions: 1, fixes: 0, failsGate: true };
const timings = { timeToFirstTokenMs: 1, wallMs: 2, tokensPerSecond: 3, promptTokens: 4 };

const evalReport = (): EvalReport =>
  poison({
    runs: [
      {
        id: "r1",
        fingerprint: "f",
        variant: "tiny/rnd",
        promptFile: "/w/capital.prompt",
        evalSetFile: "/w/capitals.eval.yaml",
        status: "complete" as const,
        promptHash: "h",
        evalSetHash: "h",
        modelFingerprint: "m",
        modelPath: "/w/m.gguf",
        adapters: [],
        params: {},
        seed: 0,
        engineVersion: "e",
        backend: "cpu",
        threads: 1,
        resumed: true,
        summary: { cases: 2, passed: 0, failed: 2, errors: 1, passRate: 0, generated: 1, cached: 0, resumed: 1, tokensPerSecond: 1, wallMs: 1 },
        slices: { tag: { cases: 2, passed: 0, passRate: 0 } },
        cases: [
          { id: "c1", pass: false, score: 0, output: "out", tokens: [], cached: false, source: "generated" as const, assertions: [{ type: "contains", pass: false, score: 0, message: "msg" }], tags: ["tag"], timings },
          { id: "c2", pass: false, score: 0, output: "out2", tokens: [], cached: true, source: "resumed" as const, assertions: [], tags: ["tag"], error: "engine failed", timings },
        ],
      },
      { ...({} as object), id: null, fingerprint: null, variant: "tiny/bad", promptFile: "/w/p.prompt", evalSetFile: "/w/e.eval.yaml", status: "failed" as const, error: "variant failed", promptHash: "h", evalSetHash: "h", modelFingerprint: null, modelPath: null, adapters: [], params: {}, seed: 0, engineVersion: "e", backend: null, threads: null, resumed: false, summary: { cases: 1, passed: 0, failed: 1, errors: 1, passRate: 0, generated: 0, cached: 0, resumed: 0, tokensPerSecond: 0, wallMs: 0 }, slices: {}, cases: [] },
    ],
    errors: [{ promptFile: "/w/p.prompt", evalSetFile: "/w/e.eval.yaml", message: "unreadable" }],
  } as EvalReport);

const compareReport = (): CompareReport =>
  poison({
    reference: "tiny/f32",
    evalSets: ["capitals.eval.yaml"],
    topK: 20,
    gate: { maxPassRateDrop: 0.02, maxSliceDrop: 0.1, alpha: 0.05, passed: false, reasons: ["dropped"] },
    variants: [
      {
        variant: "tiny/q4_0",
        quant: "Q4_0",
        isReference: false,
        comparedTo: "tiny/f32",
        fileBytes: 10,
        cases: 3,
        passRate: 0.5,
        referencePassRate: 1,
        delta: -0.5,
        ci: [-0.9, 0.1],
        pValue: 0.2,
        slices: [slice],
        kld: { mean: 0.1, median: 0.1, p99: 0.2, max: 0.3, n: 3 },
        top1Agreement: 0.9,
        meanDeltaP: 0.01,
        divergedCases: 1,
        kldSlices: [{ name: "s", mean: 0.1, median: 0.1, p99: 0.2, max: 0.3, n: 3, positions: 5, top1Agreement: 0.9 }],
        kldCases: [{ id: "c1", evalSet: "e", positions: 5, mean: 0.1, median: 0.1, p99: 0.2, max: 0.3, top1Agreement: 0.9, meanDeltaP: 0.01, firstDivergence: 2 }],
        flips: [{ id: "c1", from: "pass", to: "fail", tags: ["s"], evalSet: "e" }],
        gate: { passed: false, reasons: ["slice dropped"], warnings: ["small slice"] },
        tokensPerSecond: 10,
        timeToFirstTokenMs: 5,
        memoryBytes: 100,
        runFingerprints: ["f"],
      },
    ],
    failures: [{ variant: "tiny/missing", error: "model file missing" }],
  } as unknown as CompareReport);

const diffReport = (): DiffReport =>
  poison({
    base: { ref: "HEAD", commit: "0123456789abcdef" },
    head: { ref: "working tree", commit: null },
    prompts: [
      {
        file: "capital.prompt",
        baseFile: "old.prompt",
        status: "renamed",
        variant: "tiny/rnd",
        evalSet: "capitals.eval.yaml",
        baseEvalSet: "capitals.eval.yaml",
        baseHash: "a",
        headHash: "b",
        basePassRate: 1,
        headPassRate: 0.5,
        delta: -0.5,
        ci: [-0.9, 0.1],
        pValue: 0.2,
        cases: 2,
        slices: [slice],
        flips: [{ id: "c1", from: "pass", to: "fail", tags: ["s"], baseOutput: "Paris", headOutput: "Lyon", outputDiff: [{ op: "-", text: "Paris" }, { op: "+", text: "Lyon" }, { op: "=", text: " is" }] }],
        evalSetChanged: true,
        added: ["c3"],
        removed: ["c0"],
        caseResults: [{ id: "c1", tags: ["s"], base: "pass", head: "fail", headOutput: "Lyon", headMessage: "expected Paris" }],
        gate: { passed: false, reasons: ["regressed"], warnings: ["small"] },
      },
    ],
    gate: { passed: false, reasons: ["regressed"], warnings: ["skipped a file"], maxPassRateDrop: 0.02, maxSliceDrop: 0.1, alpha: 0.05 },
  } as unknown as DiffReport);

/**
 * What no format may contain raw: in text (for terminals) a control character; in markup formats
 * (markdown, HTML, JUnit XML) a tag, an attribute break-out or an end of CDATA; JSON is data and
 * must round-trip.
 */
function assertSafe(format: string, out: string, report?: unknown): void {
  if (format.endsWith("text")) assert.ok(!hasTerminalControls(out), `${format}: terminal control characters`);
  else if (format.endsWith("json")) assert.deepEqual(JSON.parse(out), JSON.parse(JSON.stringify(report)));
  else {
    assert.ok(!out.includes("<img"), `${format}: raw <img`);
    assert.ok(!out.includes("<script"), `${format}: raw <script`);
    assert.ok(!out.includes("onerror=alert(1)>"), `${format}: markup`);
    if (format.endsWith("junit")) {
      assert.ok(!out.includes("]]>"), `${format}: CDATA end`);
      // eslint-disable-next-line no-control-regex
      assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(out), `${format}: characters XML cannot hold`);
    }
  }
}

describe("reports escape what Driftlens did not write", () => {
  test("eval reports: text, JSON, JUnit, markdown", () => {
    const r = evalReport();
    for (const f of ["text", "json", "junit", "markdown"] as const) {
      const out = formatReport(r, f, "/w");
      assertSafe(f, out, r);
      if (f === "markdown") assert.equal((out.match(/<\/details>/g) ?? []).length, 1, "only the </details> Driftlens wrote");
    }
  });

  test("compare and diff reports: text, JSON, JUnit, markdown, HTML", () => {
    for (const [name, render, report] of [
      ["compare", renderCompare, compareReport()],
      ["diff", renderDiff, diffReport()],
    ] as const) {
      for (const f of ["text", "json", "junit", "markdown", "html"] as const) {
        const out = (render as (r: unknown, f: string) => string)(report, f);
        assertSafe(`${name} ${f}`, out, report);
        if (f === "markdown") assert.ok(!/<\/details><img/.test(out), `${name}: a closing tag from the workspace`);
      }
    }
  });

  test("terminal output of the CLI carries no raw control characters from workspace text", async () => {
    // A case id and a tag with ANSI escapes, reported by check and render in a terminal.
    const dir = workspace({
      "e.eval.yaml": `prompt: capital.prompt\ncases:\n  - id: "\\e[2J\\e]0;pwned\\a\\u202eid"\n    vars: {country: "\\e[31mFrance"}\n    assert: [{type: "\\e[5mnope"}]\n    why: w\n`,
    });
    const check = await runCli(dir, ["check", "e.eval.yaml"]);
    assert.ok(check.stdout.includes("nope"), check.stdout);
    assert.ok(!hasTerminalControls(check.stdout.replace(/\n/g, "")), JSON.stringify(check.stdout));
    assert.ok(check.stdout.includes("␛[5mnope"), "the escape is shown, made visible");
    const render = await runCli(dir, ["render", "capital.prompt", "--input", JSON.stringify({ country: "\u001b[31mFrance\u202e" })]);
    assert.ok(!hasTerminalControls(render.stdout.replace(/\n/g, "")), JSON.stringify(render.stdout));
    assert.equal(terminalSafe("a\u001b[31mb\u202ec\td\n"), "a␛[31mb\\u202ec\td\n");
  });
});

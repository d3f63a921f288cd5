import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { renderCompare, renderDiff, type CompareReport, type DiffReport } from "../../../server/src/eval/report";
import { FIXTURES } from "../../helpers/paths";

const diff = JSON.parse(fs.readFileSync(path.join(FIXTURES, "compare", "diff-report.json"), "utf8")) as DiffReport;
const compare = JSON.parse(fs.readFileSync(path.join(FIXTURES, "compare", "compare-report.json"), "utf8")) as CompareReport;

test("diff markdown: verdict line and summary table first, details folded, model output escaped", () => {
  const md = renderDiff(diff, "markdown");
  const lines = md.split("\n");
  assert.match(lines[0]!, /^❌ \*\*Driftlens: the regression gate fails\*\* — 1 prompt\(s\) compared, 1 case\(s\) regressed/);
  assert.match(lines[2]!, /^\| Prompt \| Variant/);
  assert.ok(md.indexOf("<details>") > md.indexOf("| capital.prompt"), "details after the summary table");
  assert.ok(!md.includes("<script>"), "model output must not become markup");
  assert.ok(md.includes("&lt;script&gt;alert(1)&lt;/script&gt; Lyon"));
  assert.ok(md.includes("<del>Paris &lt;b&gt;is&lt;/b&gt; | the capital</del>"));
  assert.match(md, /Added: <code>spain<\/code>\. Removed: <code>italy<\/code>\./);
  const passing = renderDiff({ ...diff, gate: { ...diff.gate, passed: true, reasons: [] } }, "markdown");
  assert.match(passing.split("\n")[0]!, /^✅/);
});

test("diff junit: one testcase per eval case per prompt, failures only for regressions", () => {
  const xml = renderDiff(diff, "junit");
  assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>/);
  const cases = xml.match(/<testcase /g) ?? [];
  assert.equal(cases.length, diff.prompts[0]!.caseResults.length + 1, "each case plus the gate");
  const failures = xml.match(/<failure /g) ?? [];
  assert.equal(failures.length, 2, "france regressed, and the gate");
  assert.match(xml, /<testcase classname="capital\.prompt \[tiny\/f16\]" name="france"><failure message="regressed/);
  assert.ok(!xml.includes("<script>"));
  assert.match(xml, /<testsuites name="driftlens diff" tests="4" failures="2"/);
});

test("diff text and json", () => {
  const t = renderDiff(diff, "text");
  assert.match(t, /france: pass → fail \[europe\]/);
  assert.match(t, /diff: \[-Paris <b>is<\/b> \| the capital-\]\{\+<script>alert\(1\)<\/script> Lyon\+\}/);
  assert.match(t, /eval set changed: 1 added \(spain\), 1 removed \(italy\)/);
  assert.deepEqual(JSON.parse(renderDiff(diff, "json")), diff);
});

test("compare html is self-contained and escaped; markdown and text list worst slice and flips", () => {
  const html = renderCompare(compare, "html");
  assert.ok(html.startsWith("<!doctype html>"));
  assert.ok(!/<script|src=|href=|@import|url\(/i.test(html), "no scripts, no external resources");
  assert.ok(html.includes("c1&lt;script&gt;"));
  assert.ok(html.includes("tail&lt;i&gt;"));
  const md = renderCompare(compare, "markdown");
  assert.match(md.split("\n")[0]!, /^### ❌ Driftlens compare/);
  assert.match(md, /\| tiny\/q4\\_0 \| Q4\\_0 \| .* \| tail&lt;i&gt; −33\.3 pp \|/);
  assert.ok(!md.includes("<script>") && !md.includes("<i>"));
  const text = renderCompare(compare, "text");
  assert.match(text, /tiny\/q4_0 {2}\(Q4_0, 390\.6 KiB\) {2}vs tiny\/f32: FAIL/);
  assert.match(text, /c1<script>: pass → fail/);
  const xml = renderCompare(compare, "junit");
  assert.match(xml, /<testsuites name="driftlens compare" tests="2" failures="2"/);
});

test("diff markdown stays within a pull-request comment's size", () => {
  const flip = diff.prompts[0]!.flips[0]!;
  const big = structuredClone(diff);
  const many = Array.from({ length: 400 }, (_, i) => ({ ...flip, id: `case-${i}`, baseOutput: "x".repeat(900), headOutput: "y".repeat(900) }));
  big.prompts = Array.from({ length: 6 }, (_, k) => ({ ...structuredClone(diff.prompts[0]!), file: `p${k}.prompt`, flips: many }));
  const md = renderDiff(big, "markdown");
  assert.ok(md.length <= 60_000, String(md.length));
  assert.match(md.split("\n")[0]!, /^❌/);
  assert.ok(md.includes("→ p5.prompt (eval set changed) |"), "every prompt stays in the summary table");
  assert.match(md, /…and 375 more flipped case\(s\)/);
});

// Renders an EvalReport as text (terminal), JSON (docs/assertions.md gives the shape), JUnit XML
// (CI test reporters) or Markdown (a PR comment). Pure functions of the report. Everything the
// report holds that Driftlens did not write (ids, tags, outputs, messages, paths) is escaped for
// the target: control characters made visible in text, XML-escaped in JUnit, HTML-escaped in Markdown.
import path from "node:path";
import { terminalSafe } from "../util/terminal";
import { escapeXml, mdCell, mdCode } from "./report/format";
import type { CaseSource, EvalReport, EvalRunReport } from "./runner";

export type EvalFormat = "text" | "json" | "junit" | "markdown";

function rel(root: string | undefined, file: string): string {
  if (!root) return file;
  const r = path.relative(root, file);
  return r && !r.startsWith("..") && !path.isAbsolute(r) ? r : file;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function oneLine(s: string, n = 80): string {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > n ? t.slice(0, n - 1) + "…" : t;
}

/** " (7/10 samples pass)" for a case drawn several times, "" otherwise. */
function sampled(c: { samples?: { pass: boolean }[] }): string {
  const n = c.samples?.length ?? 1;
  return n > 1 ? ` (${c.samples!.filter((x) => x.pass).length}/${n} samples pass)` : "";
}

function ms(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(1)}s` : `${Math.round(x)}ms`;
}

/** Slices worst first (the tail is where quantization slips). */
function sortedSlices(r: EvalRunReport): [string, { cases: number; passed: number; passRate: number }][] {
  return Object.entries(r.slices).sort((a, b) => a[1].passRate - b[1].passRate || a[0].localeCompare(b[0]));
}

/** How a run's cases were answered, e.g. "4 generated, 2 cached, 1 resumed". */
function sources(s: EvalRunReport["summary"]): string {
  return `${s.generated} generated, ${s.cached} cached${s.resumed ? `, ${s.resumed} resumed` : ""}`;
}

/** A case's origin as a short tag for lists of cases (generated ones need none). */
function sourceTag(source: CaseSource | undefined): string {
  return source && source !== "generated" ? ` [${source}]` : "";
}

export function formatText(report: EvalReport, root?: string): string {
  return terminalSafe(formatTextRaw(report, root));
}

function formatTextRaw(report: EvalReport, root?: string): string {
  const lines: string[] = [];
  for (const e of report.errors) lines.push(`error: ${rel(root, e.promptFile)} × ${rel(root, e.evalSetFile)}: ${e.message}`);
  for (const r of report.runs) {
    const s = r.summary;
    const mark = r.status !== "complete" ? "!" : s.failed === 0 ? "✔" : "✘";
    const head = `${mark} ${r.variant}  ${rel(root, r.promptFile)} × ${rel(root, r.evalSetFile)}`;
    if (r.status !== "complete") {
      lines.push(`${head}  ${r.status.toUpperCase()}: ${r.error ?? "unknown error"}`);
      if (r.cases.length) lines.push(`    ${r.cases.length} of ${s.cases} cases have results stored; run the same command again to resume`);
      continue;
    }
    const speed = s.generated > 0 ? `  ${s.tokensPerSecond.toFixed(1)} tok/s` : "";
    lines.push(`${head}  ${s.passed}/${s.cases} passed (${pct(s.passRate)})  ${sources(s)}${speed}  ${ms(s.wallMs)}${r.resumed ? "  (resumed an interrupted run)" : ""}`);
    const slices = sortedSlices(r);
    if (slices.length) lines.push(`    slices: ${slices.map(([n, v]) => `${n} ${v.passed}/${v.cases}`).join(", ")}`);
    for (const w of r.warnings ?? []) lines.push(`    warning: ${oneLine(w, 400)}`);
    if (r.endpoints?.length) lines.push(`    endpoints: ${r.endpoints.map((e) => `${e.url} ${e.cases} case${e.cases === 1 ? "" : "s"}${e.failed ? ` (failed: ${oneLine(e.error ?? "unknown error", 100)})` : ""}`).join(", ")}`);
    for (const c of r.cases) {
      if (c.pass) continue;
      const why = c.error ?? c.assertions.filter((a) => !a.pass).map((a) => `${a.type}: ${a.message}`).join("; ");
      lines.push(`    ✘ ${c.id}${sampled(c)}${sourceTag(c.source)}: ${oneLine(why, 120)}`);
      if (!c.error) lines.push(`      output: ${JSON.stringify(oneLine(c.output, 100))}`);
    }
  }
  const runs = report.runs;
  const cases = runs.reduce((n, r) => n + r.summary.cases, 0);
  const passed = runs.reduce((n, r) => n + r.summary.passed, 0);
  const failedRuns = runs.filter((r) => r.status !== "complete").length;
  lines.push(
    `${runs.length} run${runs.length === 1 ? "" : "s"}, ${passed}/${cases} cases passed${failedRuns ? `, ${failedRuns} run${failedRuns === 1 ? "" : "s"} failed` : ""}${report.errors.length ? `, ${report.errors.length} error${report.errors.length === 1 ? "" : "s"}` : ""}`,
  );
  return lines.join("\n") + "\n";
}

export function formatJson(report: EvalReport): string {
  return JSON.stringify(report, null, 2) + "\n";
}

/** XML text or attribute; characters XML 1.0 cannot hold are dropped (model output may hold anything). */
const xml = escapeXml;

export function formatJunit(report: EvalReport, root?: string): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const tests = report.runs.reduce((n, r) => n + r.summary.cases, 0) + report.errors.length;
  const failures = report.runs.reduce((n, r) => n + r.cases.filter((c) => !c.pass && !c.error).length, 0);
  const errors = report.runs.reduce((n, r) => n + (r.summary.cases - r.cases.length) + r.cases.filter((c) => c.error).length, 0) + report.errors.length;
  out.push(`<testsuites name="driftlens eval" tests="${tests}" failures="${failures}" errors="${errors}">`);
  for (const e of report.errors) {
    out.push(`  <testsuite name="${xml(`${rel(root, e.promptFile)} × ${rel(root, e.evalSetFile)}`)}" tests="1" failures="0" errors="1">`);
    out.push(`    <testcase name="configuration" classname="${xml(rel(root, e.evalSetFile))}"><error message="${xml(e.message)}"/></testcase>`);
    out.push("  </testsuite>");
  }
  for (const r of report.runs) {
    const name = `${r.variant} ${rel(root, r.promptFile)} × ${rel(root, r.evalSetFile)}`;
    const classname = `${rel(root, r.evalSetFile)}.${r.variant}`;
    const missing = r.summary.cases - r.cases.length;
    const f = r.cases.filter((c) => !c.pass && !c.error).length;
    const e = r.cases.filter((c) => c.error).length + missing;
    out.push(`  <testsuite name="${xml(name)}" tests="${r.summary.cases}" failures="${f}" errors="${e}" time="${(r.summary.wallMs / 1000).toFixed(3)}">`);
    const s = r.summary;
    out.push(`    <properties><property name="generated" value="${s.generated}"/><property name="cached" value="${s.cached}"/><property name="resumed" value="${s.resumed}"/></properties>`);
    for (const c of r.cases) {
      const t = (c.timings.wallMs / 1000).toFixed(3);
      out.push(`    <testcase name="${xml(c.id)}" classname="${xml(classname)}" time="${t}">`);
      out.push(`      <properties><property name="source" value="${xml(c.source)}"/></properties>`);
      if (c.error) out.push(`      <error message="${xml(c.error)}"/>`);
      else if (!c.pass) {
        const why = c.assertions.filter((a) => !a.pass).map((a) => `${a.type}: ${a.message}`).join("; ");
        out.push(`      <failure message="${xml(oneLine(`${sampled(c).trim()} ${why}`.trim(), 300))}">${xml(`output: ${c.output}\n${why}`)}</failure>`);
      }
      out.push(`      <system-out>${xml(c.output)}</system-out>`);
      out.push("    </testcase>");
    }
    if (missing > 0) out.push(`    <testcase name="(run)" classname="${xml(classname)}"><error message="${xml(r.error ?? `${missing} cases have no result`)}"/></testcase>`);
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return out.join("\n") + "\n";
}

/** Untrusted text in a Markdown table cell or heading: HTML-escaped, Markdown syntax escaped. */
const md = mdCell;

export function formatMarkdown(report: EvalReport, root?: string): string {
  const out: string[] = ["## Driftlens eval", ""];
  for (const e of report.errors) out.push(`> **Error** ${mdCode(rel(root, e.evalSetFile))}: ${md(e.message)}`, "");
  if (report.runs.length) {
    out.push("| Variant | Prompt × eval set | Passed | Pass rate | Generated | Cached | Resumed | Status |", "|---|---|---:|---:|---:|---:|---:|---|");
    for (const r of report.runs) {
      const s = r.summary;
      out.push(
        `| ${mdCode(r.variant)} | ${mdCode(rel(root, r.promptFile))} × ${mdCode(rel(root, r.evalSetFile))} | ${s.passed}/${s.cases} | ${pct(s.passRate)} | ${s.generated} | ${s.cached} | ${s.resumed} | ${r.status === "complete" ? (s.failed ? "❌ failing" : "✅ pass") : `⚠️ ${md(r.error ?? r.status)}`} |`,
      );
    }
    out.push("");
  }
  for (const r of report.runs) {
    const failing = r.cases.filter((c) => !c.pass);
    const slices = sortedSlices(r);
    if (!failing.length && !slices.length) continue;
    out.push(`### ${mdCode(r.variant)} — ${mdCode(rel(root, r.evalSetFile))}`, "");
    if (slices.length) {
      out.push("| Slice | Passed | Pass rate |", "|---|---:|---:|");
      for (const [n, v] of slices) out.push(`| ${md(n)} | ${v.passed}/${v.cases} | ${pct(v.passRate)} |`);
      out.push("");
    }
    if (failing.length) {
      out.push("<details><summary>" + `${failing.length} failing case${failing.length === 1 ? "" : "s"}` + "</summary>", "", "| Case | Source | Why | Output |", "|---|---|---|---|");
      for (const c of failing) {
        const why = c.error ?? c.assertions.filter((a) => !a.pass).map((a) => `${a.type}: ${a.message}`).join("; ");
        out.push(`| ${mdCode(c.id)}${sampled(c)} | ${c.source} | ${md(oneLine(why, 200))} | ${mdCode(oneLine(c.output, 120))} |`);
      }
      out.push("", "</details>", "");
    }
  }
  return out.join("\n") + "\n";
}

export function formatReport(report: EvalReport, format: EvalFormat, root?: string): string {
  switch (format) {
    case "json":
      return formatJson(report);
    case "junit":
      return formatJunit(report, root);
    case "markdown":
      return formatMarkdown(report, root);
    default:
      return formatText(report, root);
  }
}

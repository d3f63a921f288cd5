// Renderers for `driftlens diff`: text (terminal), markdown (a pull-request comment: verdict and
// summary table first, details folded), junit (one test case per eval case per prompt; failures
// are regressions), html (self-contained). Model output is always escaped.
import { clip, ciText, escapeHtml, escapeXml, mdCell, mdCode, pct, pp, pval, flipText } from "./format";
import type { DiffPrompt, DiffReport, WordDiffPart } from "./types";

/** Flipped cases shown per prompt in markdown, and the comment's size limit (GitHub: 65,536). */
const MAX_MD_FLIPS = 25;
const MAX_MD_CHARS = 60_000;

function headLabel(r: DiffReport): string {
  return r.head.commit ? `${r.head.ref} (${r.head.commit.slice(0, 8)})` : r.head.ref;
}

function promptTitle(p: DiffPrompt): string {
  const name = p.baseFile && p.baseFile !== p.file ? `${p.baseFile} → ${p.file}` : p.file;
  return `${name} on ${p.variant} (${p.evalSet})`;
}

function verdictWord(p: DiffPrompt): string {
  return p.gate.passed ? "pass" : "FAIL";
}

export function diffText(r: DiffReport): string {
  const lines: string[] = [];
  lines.push(`driftlens diff ${r.base.ref} (${r.base.commit.slice(0, 8)}) → ${headLabel(r)}`);
  if (r.prompts.length === 0) lines.push("No prompt, eval set, or model or adapter a prompt runs on changed.");
  for (const p of r.prompts) {
    lines.push("");
    lines.push(`${promptTitle(p)} [${p.status}]: ${verdictWord(p)}`);
    if (p.basePassRate !== null && p.headPassRate !== null) {
      lines.push(
        `  pass rate ${pct(p.basePassRate)} → ${pct(p.headPassRate)} on ${p.cases} common case(s)  Δ ${pp(p.delta)}  95% CI ${ciText(p.ci)}  McNemar p ${pval(p.pValue)}`,
      );
    } else if (p.headPassRate !== null) {
      lines.push(`  new: pass rate ${pct(p.headPassRate)} on ${p.caseResults.length} case(s)`);
    } else {
      lines.push(`  removed at head`);
    }
    if (p.evalSetChanged) {
      lines.push(`  eval set changed: ${p.added.length} added${p.added.length ? ` (${p.added.join(", ")})` : ""}, ${p.removed.length} removed${p.removed.length ? ` (${p.removed.join(", ")})` : ""}; compared on the common cases`);
    }
    for (const s of p.slices) {
      if (s.delta === 0 && s.regressions === 0 && s.fixes === 0) continue;
      lines.push(`  slice ${s.name}: ${pct(s.basePassRate)} → ${pct(s.passRate)} (${s.cases} cases)  Δ ${pp(s.delta)}  p ${pval(s.pValue)}${s.failsGate ? "  ✗ over the slice limit" : ""}`);
    }
    for (const f of p.flips) {
      lines.push(`  ${f.id}: ${flipText(f)}${f.tags.length ? ` [${f.tags.join(", ")}]` : ""}`);
      lines.push(`    base: ${JSON.stringify(clip(f.baseOutput, 200))}`);
      lines.push(`    head: ${JSON.stringify(clip(f.headOutput, 200))}`);
      lines.push(`    diff: ${wordDiffText(f.outputDiff)}`);
    }
    for (const reason of p.gate.reasons) lines.push(`  ✗ ${reason}`);
    for (const w of p.gate.warnings) lines.push(`  ! ${w}`);
  }
  lines.push("");
  lines.push(`Gate (max drop ${pct(r.gate.maxPassRateDrop)}, max slice drop ${pct(r.gate.maxSliceDrop)}, alpha ${r.gate.alpha}): ${r.gate.passed ? "pass" : "FAIL"}`);
  for (const reason of r.gate.reasons) lines.push(`  - ${reason}`);
  return lines.join("\n") + "\n";
}

/** [-removed-]{+added+} as in `git diff --word-diff`. */
export function wordDiffText(parts: readonly WordDiffPart[]): string {
  return parts.map((p) => (p.op === "=" ? p.text : p.op === "-" ? `[-${p.text}-]` : `{+${p.text}+}`)).join("");
}

function wordDiffHtml(parts: readonly WordDiffPart[]): string {
  return parts.map((p) => (p.op === "=" ? escapeHtml(p.text) : p.op === "-" ? `<del>${escapeHtml(p.text)}</del>` : `<ins>${escapeHtml(p.text)}</ins>`)).join("");
}

export function diffMarkdown(r: DiffReport): string {
  const out: string[] = [];
  const flips = r.prompts.reduce((a, p) => a + p.flips.filter((f) => f.to === "fail").length, 0);
  const verdict = r.gate.passed
    ? `✅ **Driftlens: the regression gate passes**`
    : `❌ **Driftlens: the regression gate fails**`;
  out.push(`${verdict} — ${r.prompts.length} prompt(s) compared, ${flips} case(s) regressed (${mdCode(r.base.ref)} → ${mdCode(headLabel(r))})`);
  out.push("");
  if (r.prompts.length) {
    out.push("| Prompt | Variant | Eval set | Base | Head | Δ | 95% CI | p | Flips | Gate |");
    out.push("|---|---|---|---:|---:|---:|---|---:|---:|---|");
    for (const p of r.prompts) {
      const name = p.baseFile && p.baseFile !== p.file ? `${mdCell(p.baseFile)} → ${mdCell(p.file)}` : mdCell(p.file);
      const fl = `${p.flips.filter((f) => f.to === "fail").length}↓ ${p.flips.filter((f) => f.to === "pass").length}↑`;
      out.push(
        `| ${name}${p.evalSetChanged ? " (eval set changed)" : ""}${p.status === "config-changed" ? " (models or adapters changed)" : ""} | ${mdCell(p.variant)} | ${mdCell(p.evalSet)} | ${pct(p.basePassRate)} | ${pct(p.headPassRate)} | ${pp(p.delta)} | ${ciText(p.ci)} | ${pval(p.pValue)} | ${fl} | ${verdictWord(p)} |`,
      );
    }
  } else {
    out.push("No prompt, eval set, or model or adapter a prompt runs on changed.");
  }
  if (r.gate.reasons.length) {
    out.push("");
    for (const reason of r.gate.reasons) out.push(`- ${mdCell(reason)}`);
  }
  out.push("");
  out.push(`<sub>Gate: max pass-rate drop ${pct(r.gate.maxPassRateDrop)}, max slice drop ${pct(r.gate.maxSliceDrop)}, alpha ${r.gate.alpha}. CIs are paired bootstrap; p is exact McNemar.</sub>`);
  for (const p of r.prompts) {
    out.push("");
    out.push(`<details><summary>${escapeHtml(promptTitle(p))}: ${verdictWord(p)}, ${p.flips.length} flip(s)</summary>`);
    out.push("");
    if (p.evalSetChanged) {
      out.push(`The eval set changed: compared on ${p.cases} common case(s). Added: ${p.added.length ? p.added.map((x) => `${mdCode(x)}`).join(", ") : "none"}. Removed: ${p.removed.length ? p.removed.map((x) => `${mdCode(x)}`).join(", ") : "none"}.`);
      out.push("");
    }
    if (p.slices.length) {
      out.push("| Slice | Cases | Base | Head | Δ | 95% CI | p | Min detectable drop |");
      out.push("|---|---:|---:|---:|---:|---|---:|---:|");
      for (const s of p.slices) {
        out.push(
          `| ${mdCell(s.name)}${s.failsGate ? " ❌" : ""} | ${s.cases} | ${pct(s.basePassRate)} | ${pct(s.passRate)} | ${pp(s.delta)} | ${ciText(s.ci)} | ${pval(s.pValue)} | ${s.minDetectableDrop === null ? "too few cases" : pct(s.minDetectableDrop, 0)} |`,
        );
      }
      out.push("");
    }
    // Regressions first, then fixes; capped so the comment stays under GitHub's 65,536 characters.
    const shown = [...p.flips.filter((f) => f.to === "fail"), ...p.flips.filter((f) => f.to === "pass")].slice(0, MAX_MD_FLIPS);
    for (const f of shown) {
      out.push(`**${mdCode(f.id)}** ${flipText(f)}${f.tags.length ? ` (${f.tags.map(mdCell).join(", ")})` : ""}`);
      out.push("");
      out.push(`<table><tr><th>base</th><th>head</th></tr><tr><td><pre>${escapeHtml(clip(f.baseOutput, 1000))}</pre></td><td><pre>${escapeHtml(clip(f.headOutput, 1000))}</pre></td></tr></table>`);
      out.push("");
      out.push(`Word diff: ${wordDiffHtml(f.outputDiff)}`);
      out.push("");
    }
    if (p.flips.length > shown.length) out.push(`…and ${p.flips.length - shown.length} more flipped case(s); the JSON and JUnit reports list them all.`, "");
    for (const w of p.gate.warnings) out.push(`- ⚠️ ${mdCell(w)}`);
    out.push("</details>");
  }
  let text = out.join("\n") + "\n";
  if (text.length > MAX_MD_CHARS) {
    // Keep the verdict and summary; cut the details at a block boundary and close the tags.
    const cut = text.lastIndexOf("\n<details>", MAX_MD_CHARS - 200);
    text = text.slice(0, cut > 0 ? cut : MAX_MD_CHARS - 200) + "\n\n…details cut to fit a pull-request comment; see the JSON or JUnit report for everything.\n";
  }
  return text;
}

export function diffJunit(r: DiffReport): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  for (const p of r.prompts) {
    const cases: string[] = [];
    let f = 0;
    const cls = `${p.file} [${p.variant}]`;
    for (const c of p.caseResults) {
      const regressed = c.base === "pass" && c.head === "fail";
      let body: string;
      if (regressed) {
        f++;
        const flip = p.flips.find((x) => x.id === c.id);
        const detail = flip ? `base output: ${flip.baseOutput}\nhead output: ${flip.headOutput}\nword diff: ${wordDiffText(flip.outputDiff)}` : "";
        body = `<failure message="${escapeXml(`regressed: passed at ${r.base.ref}, fails at ${r.head.ref}${c.headMessage ? ` (${c.headMessage})` : ""}`)}" type="regression">${escapeXml(detail)}</failure>`;
      } else {
        const state = c.base === null ? "added at head" : c.head === null ? "removed at head" : `${c.base} → ${c.head}`;
        body = `<system-out>${escapeXml(state)}</system-out>`;
      }
      cases.push(`    <testcase classname="${escapeXml(cls)}" name="${escapeXml(c.id)}">${body}</testcase>`);
    }
    // Gate reasons that are not a single case (an overall or slice drop) get their own case.
    const gateCase = p.gate.reasons.length
      ? `<failure message="${escapeXml(p.gate.reasons[0]!)}" type="gate">${escapeXml(p.gate.reasons.join("\n"))}</failure>`
      : `<system-out>${escapeXml(`pass rate ${pct(p.basePassRate)} → ${pct(p.headPassRate)}`)}</system-out>`;
    cases.push(`    <testcase classname="${escapeXml(cls)}" name="(regression gate)">${gateCase}</testcase>`);
    if (p.gate.reasons.length) f++;
    tests += cases.length;
    failures += f;
    suites.push(`  <testsuite name="${escapeXml(`${p.file} on ${p.variant} (${p.evalSet})`)}" tests="${cases.length}" failures="${f}" errors="0">\n${cases.join("\n")}\n  </testsuite>`);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="driftlens diff" tests="${tests}" failures="${failures}" errors="0">\n${suites.join("\n")}\n</testsuites>\n`;
}

export function diffHtml(r: DiffReport): string {
  const e = escapeHtml;
  const h: string[] = [];
  h.push(`<!doctype html><html lang="en"><head><meta charset="utf-8">`);
  h.push(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
  h.push(`<title>Driftlens diff</title><style>body{font:14px/1.45 system-ui,sans-serif;margin:24px}table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top}del{background:#ffebe9}ins{background:#dafbe1;text-decoration:none}.fail{color:#cf222e;font-weight:600}.pass{color:#1a7f37;font-weight:600}pre{white-space:pre-wrap;margin:0}</style></head><body>`);
  h.push(`<h1>Driftlens diff: <span class="${r.gate.passed ? "pass" : "fail"}">${r.gate.passed ? "gate passes" : "gate fails"}</span></h1>`);
  h.push(`<p>${e(r.base.ref)} → ${e(headLabel(r))}</p>`);
  if (r.gate.reasons.length) h.push(`<ul>${r.gate.reasons.map((x) => `<li class="fail">${e(x)}</li>`).join("")}</ul>`);
  for (const p of r.prompts) {
    h.push(`<h2>${e(promptTitle(p))} — <span class="${p.gate.passed ? "pass" : "fail"}">${verdictWord(p)}</span></h2>`);
    h.push(`<p>Pass rate ${pct(p.basePassRate)} → ${pct(p.headPassRate)}, Δ ${pp(p.delta)}, 95% CI ${ciText(p.ci)}, p ${pval(p.pValue)}${p.evalSetChanged ? `; eval set changed (added ${e(p.added.join(", ") || "none")}; removed ${e(p.removed.join(", ") || "none")})` : ""}${p.status === "config-changed" ? "; the prompt did not change, its models or adapters did (driftlens.yaml or an adapter config)" : ""}</p>`);
    if (p.flips.length) {
      h.push(`<table><tr><th>Case</th><th>Base</th><th>Head</th><th>Word diff</th></tr>`);
      for (const f of p.flips) {
        h.push(`<tr><td>${e(f.id)}<br>${flipText(f)}</td><td><pre>${e(f.baseOutput)}</pre></td><td><pre>${e(f.headOutput)}</pre></td><td><pre>${wordDiffHtml(f.outputDiff)}</pre></td></tr>`);
      }
      h.push(`</table>`);
    }
  }
  h.push(`</body></html>\n`);
  return h.join("\n");
}

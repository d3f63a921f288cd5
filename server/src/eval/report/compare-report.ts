// Renderers for `driftlens compare`: text (terminal), markdown (PR comment), html (self-contained
// file: inline CSS, no scripts, every workspace/model string escaped), junit (CI test view).
import { bytes, ciText, clip, escapeHtml, escapeXml, mdCell, mdCode, nats, num, pct, pp, pval, flipText } from "./format";
import { ladderHtml, ladderMarkdown, ladderText } from "./ladder-report";
import type { CompareReport, CompareVariant, SliceDelta } from "./types";

/** How the report's KL divergence was measured, in words. */
function kldMethod(r: CompareReport): string {
  return r.kldMethod === "full-vocabulary" ? "KLD over the whole vocabulary" : `KLD over top-${r.topK} + rest`;
}

/** llama-perplexity's headline statistics on the eval outputs, one line. */
function statsLine(v: CompareVariant): string {
  const s = v.kldStats;
  if (!s) return "";
  return `KLD ${nats(s.kld.mean)} ± ${nats(s.kld.stderr)} (p99 ${nats(s.kld.p99)}, max ${nats(s.kld.max)}); Δp ${(s.dp.mean * 100).toFixed(3)}% ± ${(s.dp.stderr * 100).toFixed(3)}%, RMS Δp ${(s.dp.rms * 100).toFixed(3)}%; same top p ${pct(s.sameTop.rate, 2)} ± ${pct(s.sameTop.stderr, 2)}; PPL ratio ${s.ppl.ratio.toFixed(4)} over ${s.tokens} positions`;
}

function verdict(v: CompareVariant): string {
  if (v.isReference) return "reference";
  return v.gate.passed ? "pass" : "FAIL";
}

function mdd(s: SliceDelta): string {
  return s.minDetectableDrop === null ? "none (too few cases)" : pct(s.minDetectableDrop, 0);
}

export function compareText(r: CompareReport): string {
  const lines: string[] = [];
  lines.push(`Reference: ${r.reference}   eval sets: ${r.evalSets.join(", ") || "(none)"}   ${kldMethod(r)}`);
  lines.push(
    `Gate (max drop ${pct(r.gate.maxPassRateDrop)}, max slice drop ${pct(r.gate.maxSliceDrop)}, alpha ${r.gate.alpha}): ${r.gate.passed ? "pass" : "FAIL"}`,
  );
  for (const reason of r.gate.reasons) lines.push(`  - ${reason}`);
  for (const v of r.variants) {
    lines.push("");
    lines.push(`${v.variant}  (${v.quant ?? "?"}, ${bytes(v.fileBytes)})  vs ${v.comparedTo}: ${verdict(v)}`);
    lines.push(
      `  pass rate ${pct(v.passRate)} (reference ${pct(v.referencePassRate)}, ${v.cases} cases)  Δ ${pp(v.delta)}  95% CI ${ciText(v.ci)}  p ${pval(v.pValue)}`,
    );
    if (v.slices.length) {
      lines.push("  slices, worst first:");
      const w = Math.max(5, ...v.slices.map((s) => s.name.length));
      for (const s of v.slices) {
        lines.push(
          `    ${s.name.padEnd(w)}  ${String(s.cases).padStart(4)} cases  ${pct(s.passRate).padStart(6)} (ref ${pct(s.basePassRate)})  Δ ${pp(s.delta)}  CI ${ciText(s.ci)}  p ${pval(s.pValue)}  min detectable drop ${mdd(s)}`,
        );
      }
    }
    if (v.kldUnavailable) lines.push(`  ${v.kldUnavailable}; outputs diverged ${v.divergedCases}/${v.cases}`);
    else
      lines.push(
        `  KLD mean ${nats(v.kld.mean)}  median ${nats(v.kld.median)}  p99 ${nats(v.kld.p99)}  max ${nats(v.kld.max)}  top-1 agreement ${pct(v.top1Agreement)}  mean Δp ${num(v.meanDeltaP, 4)}  outputs diverged ${v.divergedCases}/${v.cases}`,
      );
    if (v.kldSource) lines.push(`  KL from ${v.kldSource}${v.kldTopK !== undefined && v.kldTopK !== r.topK ? ` (reference top-${v.kldTopK}, not ${r.topK})` : ""}`);
    if (!v.isReference && v.kldStats) lines.push(`  ${statsLine(v)}`);
    if (!v.isReference && v.kldSlices.length) {
      const w = Math.max(5, ...v.kldSlices.map((s) => s.name.length));
      lines.push("  KLD by slice (mean ± uncertainty, highest first):");
      for (const s of v.kldSlices) lines.push(`    ${s.name.padEnd(w)}  ${nats(s.mean)} ± ${nats(s.stderr ?? 0)}  p99 ${nats(s.p99)}  max ${nats(s.max)}  top-1 ${pct(s.top1Agreement)}  ${s.positions} positions`);
    }
    const worst = v.kldCases.filter((c) => c.mean > 0).slice(0, 3);
    for (const c of worst) {
      lines.push(`    ${c.id}: KLD mean ${nats(c.mean)} max ${nats(c.max)}, top-1 ${pct(c.top1Agreement)}, first divergence ${c.firstDivergence ?? "none"}`);
    }
    if (v.flips.length) {
      lines.push(`  flips (${v.flips.length}):`);
      for (const f of v.flips) lines.push(`    ${f.id}: ${flipText(f)}${f.tags.length ? `  [${f.tags.join(", ")}]` : ""}`);
    }
    lines.push(
      `  speed ${num(v.tokensPerSecond)} tok/s  time to first token ${num(v.timeToFirstTokenMs, 0)} ms  memory ${bytes(v.memoryBytes)}`,
    );
    for (const reason of v.gate.reasons) lines.push(`  ✗ ${reason}`);
    for (const w of v.gate.warnings) lines.push(`  ! ${w}`);
  }
  if (r.graderAgreement) lines.push("", ...agreementLines(r.graderAgreement));
  if (r.ladder) lines.push("", ...ladderText(r.ladder));
  return lines.join("\n") + "\n";
}

/** `--cross-grader`: the two graders' agreement, per assertion type, and where they part. */
function agreementLines(g: NonNullable<CompareReport["graderAgreement"]>): string[] {
  const out = [
    `Graders: ${g.grader} vs ${g.other}: ${g.verdicts} verdicts, agreement ${pct(g.agreement)}, Cohen's kappa ${g.kappa === null ? "n/a" : num(g.kappa, 2)}, mean |Δscore| ${num(g.meanScoreDelta, 2)}`,
  ];
  for (const [t, v] of Object.entries(g.byType)) out.push(`  ${t}: ${v.verdicts} verdicts, agreement ${pct(v.agreement)}`);
  for (const d of g.disagreements.slice(0, 10)) out.push(`  ${d.variant} ${d.id}${d.sample ? ` sample ${d.sample}` : ""} ${d.type}: ${d.pass ? "pass" : "fail"} vs ${d.otherPass ? "pass" : "fail"} — ${clip(d.otherReason, 120)}`);
  return out;
}

export function compareMarkdown(r: CompareReport): string {
  const out: string[] = [];
  out.push(`### ${r.gate.passed ? "✅" : "❌"} Driftlens compare: ${r.gate.passed ? "every variant is within the gate" : "the gate fails"} (reference ${mdCode(r.reference)})`);
  out.push("");
  out.push("| Variant | Quant | Size | Pass rate | Δ | 95% CI | p | Worst slice | KLD mean | Top-1 | tok/s | Gate |");
  out.push("|---|---|---:|---:|---:|---|---:|---|---:|---:|---:|---|");
  for (const v of r.variants) {
    const w = v.slices[0];
    out.push(
      `| ${mdCell(v.variant)} | ${mdCell(v.quant ?? "?")} | ${bytes(v.fileBytes)} | ${pct(v.passRate)} | ${v.isReference ? "–" : pp(v.delta)} | ${v.isReference ? "–" : ciText(v.ci)} | ${v.isReference ? "–" : pval(v.pValue)} | ${w && !v.isReference ? `${mdCell(w.name)} ${pp(w.delta)}` : "–"} | ${v.kldUnavailable ? "no KL" : nats(v.kld.mean)} | ${v.kldUnavailable ? "–" : pct(v.top1Agreement)} | ${num(v.tokensPerSecond)} | ${verdict(v)} |`,
    );
  }
  if (r.gate.reasons.length) {
    out.push("");
    for (const reason of r.gate.reasons) out.push(`- ${mdCell(reason)}`);
  }
  if (r.graderAgreement) {
    out.push("");
    for (const l of agreementLines(r.graderAgreement)) out.push(l.startsWith("  ") ? `  - ${mdCell(l.trim())}` : `- ${mdCell(l)}`);
  }
  for (const v of r.variants) {
    if (v.isReference) continue;
    out.push("");
    out.push(`<details><summary>${escapeHtml(v.variant)} vs ${escapeHtml(v.comparedTo)}: ${verdict(v)}, ${v.flips.length} flip(s)</summary>`);
    out.push("");
    out.push("| Slice | Cases | Pass rate | Reference | Δ | 95% CI | p | Min detectable drop |");
    out.push("|---|---:|---:|---:|---:|---|---:|---:|");
    for (const s of v.slices) {
      out.push(`| ${mdCell(s.name)} | ${s.cases} | ${pct(s.passRate)} | ${pct(s.basePassRate)} | ${pp(s.delta)} | ${ciText(s.ci)} | ${pval(s.pValue)} | ${mdd(s)} |`);
    }
    out.push("");
    if (v.kldUnavailable) out.push(`${mdCell(v.kldUnavailable)}; outputs diverged in ${v.divergedCases}/${v.cases} cases.`);
    else out.push(`KLD (nats, ${mdCell(kldMethod(r))}) mean ${nats(v.kld.mean)}, median ${nats(v.kld.median)}, p99 ${nats(v.kld.p99)}, max ${nats(v.kld.max)}; top-1 agreement ${pct(v.top1Agreement)}; mean Δp ${num(v.meanDeltaP, 4)}; outputs diverged in ${v.divergedCases}/${v.cases} cases.`);
    if (v.kldSource) out.push(`KL from ${mdCell(v.kldSource)}${v.kldTopK !== undefined && v.kldTopK !== r.topK ? ` (reference top-${v.kldTopK}, not ${r.topK})` : ""}.`);
    if (v.kldStats) out.push("", mdCell(statsLine(v)));
    if (v.kldSlices.length) {
      out.push("");
      out.push("| Slice | KLD mean ± | median | p99 | max | Top-1 | RMS Δp |");
      out.push("|---|---:|---:|---:|---:|---:|---:|");
      for (const s of v.kldSlices) out.push(`| ${mdCell(s.name)} | ${nats(s.mean)} ± ${nats(s.stderr ?? 0)} | ${nats(s.median)} | ${nats(s.p99)} | ${nats(s.max)} | ${pct(s.top1Agreement)} | ${s.stats ? pct(s.stats.dp.rms, 3) : "–"} |`);
    }
    if (v.flips.length) {
      out.push("");
      out.push("Flips:");
      // Capped so a PR comment stays well under GitHub's size limit; JSON lists every flip.
      for (const f of v.flips.slice(0, 100)) out.push(`- ${mdCode(f.id)} ${flipText(f)}${f.tags.length ? ` (${f.tags.map(mdCell).join(", ")})` : ""}`);
      if (v.flips.length > 100) out.push(`- …and ${v.flips.length - 100} more (see the JSON report)`);
    }
    for (const w of v.gate.warnings) out.push(`- ⚠️ ${mdCell(w)}`);
    out.push("");
    out.push("</details>");
  }
  if (r.ladder) out.push("", ...ladderMarkdown(r.ladder));
  return out.join("\n") + "\n";
}

const CSS = `body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.fail{color:#cf222e;font-weight:600}.pass{color:#1a7f37;font-weight:600}.muted{color:#57606a}
.bar{display:inline-block;height:10px;background:#0969da;vertical-align:middle;margin-right:6px}
.bar.neg{background:#cf222e}ul{margin:4px 0}`;

function bar(delta: number): string {
  const w = Math.min(120, Math.round(Math.abs(delta) * 120));
  return `<span class="bar${delta < 0 ? " neg" : ""}" style="width:${w}px"></span>`;
}

export function compareHtml(r: CompareReport): string {
  const e = escapeHtml;
  const h: string[] = [];
  h.push(`<!doctype html><html lang="en"><head><meta charset="utf-8">`);
  h.push(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
  h.push(`<title>Driftlens compare — ${e(r.reference)}</title><style>${CSS}</style></head><body>`);
  h.push(`<h1>Driftlens compare: <span class="${r.gate.passed ? "pass" : "fail"}">${r.gate.passed ? "within the gate" : "gate fails"}</span></h1>`);
  h.push(`<p class="muted">Reference ${e(r.reference)} · eval sets ${e(r.evalSets.join(", "))} · ${r.kldMethod === "full-vocabulary" ? "KL divergence over the whole vocabulary" : `KL divergence over the reference's top-${r.topK} tokens plus one bucket for the rest`} · gate: max drop ${pct(r.gate.maxPassRateDrop)}, max slice drop ${pct(r.gate.maxSliceDrop)}, alpha ${r.gate.alpha}</p>`);
  if (r.gate.reasons.length) h.push(`<ul>${r.gate.reasons.map((x) => `<li class="fail">${e(x)}</li>`).join("")}</ul>`);
  h.push(`<table><thead><tr><th>Variant</th><th>Quant</th><th>Size</th><th>Pass rate</th><th>Δ</th><th>95% CI</th><th>p</th><th>KLD mean</th><th>KLD p99</th><th>Top-1</th><th>tok/s</th><th>TTFT ms</th><th>Memory</th><th>Gate</th></tr></thead><tbody>`);
  for (const v of r.variants) {
    h.push(
      `<tr><td>${e(v.variant)}</td><td>${e(v.quant ?? "?")}</td><td class="n">${bytes(v.fileBytes)}</td><td class="n">${pct(v.passRate)}</td><td class="n">${v.isReference ? "–" : pp(v.delta)}</td><td>${v.isReference ? "–" : ciText(v.ci)}</td><td class="n">${v.isReference ? "–" : pval(v.pValue)}</td>${v.kldUnavailable ? `<td class="muted" colspan="3" title="${e(v.kldUnavailable)}">no KL</td>` : `<td class="n">${nats(v.kld.mean)}</td><td class="n">${nats(v.kld.p99)}</td><td class="n">${pct(v.top1Agreement)}</td>`}<td class="n">${num(v.tokensPerSecond)}</td><td class="n">${num(v.timeToFirstTokenMs, 0)}</td><td class="n">${bytes(v.memoryBytes)}</td><td class="${v.isReference ? "muted" : v.gate.passed ? "pass" : "fail"}">${verdict(v)}</td></tr>`,
    );
  }
  h.push(`</tbody></table>`);
  for (const v of r.variants) {
    if (v.isReference) continue;
    h.push(`<h2>${e(v.variant)} vs ${e(v.comparedTo)} — <span class="${v.gate.passed ? "pass" : "fail"}">${verdict(v)}</span></h2>`);
    if (v.gate.reasons.length || v.gate.warnings.length) {
      h.push(`<ul>${v.gate.reasons.map((x) => `<li class="fail">${e(x)}</li>`).join("")}${v.gate.warnings.map((x) => `<li class="muted">${e(x)}</li>`).join("")}</ul>`);
    }
    if (v.kldUnavailable) h.push(`<p class="muted">${e(v.kldUnavailable)}</p>`);
    if (v.kldSource) h.push(`<p class="muted">KL from ${e(v.kldSource)}${v.kldTopK !== undefined && v.kldTopK !== r.topK ? ` (reference top-${v.kldTopK}, not ${r.topK})` : ""}</p>`);
    h.push(`<table><thead><tr><th>Slice (worst first)</th><th>Cases</th><th>Pass rate</th><th>Reference</th><th>Δ</th><th>95% CI</th><th>p</th><th>Min detectable drop</th><th>KLD mean ±</th><th>KLD max</th></tr></thead><tbody>`);
    for (const s of v.slices) {
      const k = v.kldSlices.find((x) => x.name === s.name);
      h.push(
        `<tr><td>${e(s.name)}</td><td class="n">${s.cases}</td><td class="n">${pct(s.passRate)}</td><td class="n">${pct(s.basePassRate)}</td><td class="n">${bar(s.delta)}${pp(s.delta)}</td><td>${ciText(s.ci)}</td><td class="n">${pval(s.pValue)}</td><td class="n">${e(mdd(s))}</td><td class="n">${nats(k?.mean)}${k ? ` ± ${nats(k.stderr ?? 0)}` : ""}</td><td class="n">${nats(k?.max)}</td></tr>`,
      );
    }
    h.push(`</tbody></table>`);
    if (v.kldStats) h.push(`<p class="muted">${e(statsLine(v))}</p>`);
    if (v.flips.length) {
      h.push(`<p>Flips:</p><ul>${v.flips.map((f) => `<li><code>${e(f.id)}</code> ${f.from} → <span class="${f.to === "pass" ? "pass" : "fail"}">${f.to}</span> <span class="muted">${e(f.tags.join(", "))}</span></li>`).join("")}</ul>`);
    }
    const worst = v.kldCases.slice(0, 10);
    if (worst.length) {
      h.push(`<table><thead><tr><th>Case (highest KLD first)</th><th>Positions</th><th>KLD mean</th><th>median</th><th>p99</th><th>max</th><th>Top-1</th><th>Δp</th><th>First divergence</th></tr></thead><tbody>`);
      for (const c of worst) {
        h.push(
          `<tr><td>${e(c.id)}</td><td class="n">${c.positions}</td><td class="n">${nats(c.mean)}</td><td class="n">${nats(c.median)}</td><td class="n">${nats(c.p99)}</td><td class="n">${nats(c.max)}</td><td class="n">${pct(c.top1Agreement)}</td><td class="n">${num(c.meanDeltaP, 4)}</td><td class="n">${c.firstDivergence ?? "–"}</td></tr>`,
        );
      }
      h.push(`</tbody></table>`);
    }
  }
  if (r.ladder) h.push(ladderHtml(r.ladder));
  h.push(`</body></html>\n`);
  return h.join("\n");
}

export function compareJunit(r: CompareReport): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  for (const v of r.variants) {
    if (v.isReference) continue;
    const cases: string[] = [];
    const overallFail = -v.delta > r.gate.maxPassRateDrop ? [`${v.variant}: pass rate dropped ${pp(v.delta)} (gate allows ${pct(r.gate.maxPassRateDrop)})`] : [];
    cases.push(testcase(v.variant, "overall pass rate", overallFail, `pass rate ${pct(v.passRate)} vs ${pct(v.referencePassRate)} (Δ ${pp(v.delta)}, p ${pval(v.pValue)})`));
    for (const s of v.slices) {
      const reasons = s.failsGate ? [`${v.variant}: slice '${s.name}' dropped ${pp(s.delta)} (gate allows ${pct(r.gate.maxSliceDrop)})`] : [];
      cases.push(testcase(v.variant, `slice ${s.name}`, reasons, `pass rate ${pct(s.passRate)} vs ${pct(s.basePassRate)} (Δ ${pp(s.delta)}, ${s.cases} cases)`));
    }
    const f = cases.filter((c) => c.includes("<failure")).length;
    tests += cases.length;
    failures += f;
    suites.push(`  <testsuite name="${escapeXml(`${v.variant} vs ${v.comparedTo}`)}" tests="${cases.length}" failures="${f}" errors="0">\n${cases.join("\n")}\n  </testsuite>`);
  }
  // A variant that could not be compared is an error of its own suite, not a silent absence.
  const errors = r.failures ?? [];
  for (const f of errors) {
    suites.push(`  <testsuite name="${escapeXml(f.variant)}" tests="1" failures="0" errors="1">\n    <testcase classname="${escapeXml(f.variant)}" name="comparison"><error message="${escapeXml(f.error)}"/></testcase>\n  </testsuite>`);
    tests++;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="driftlens compare" tests="${tests}" failures="${failures}" errors="${errors.length}">\n${suites.join("\n")}\n</testsuites>\n`;
}

function testcase(classname: string, name: string, failures: string[], out: string): string {
  const body = failures.length
    ? `<failure message="${escapeXml(failures[0]!)}">${escapeXml(failures.join("\n"))}</failure>`
    : `<system-out>${escapeXml(out)}</system-out>`;
  return `    <testcase classname="${escapeXml(classname)}" name="${escapeXml(name)}">${body}</testcase>`;
}

// The `driftlens demo` report: one self-contained HTML page (no network, no scripts, no external
// fonts; charts are inline SVG; every piece of model output and workspace text is escaped) and a
// markdown summary. Plain data in, strings out.
import path from "node:path";
import type { CompareReport, CompareVariant } from "../eval/report/types";

export interface DemoVariantRuns {
  variant: string;
  quant: string | null;
  fileBytes: number | null;
  /** Per eval set: pass rate overall and per slice, and each case's output. */
  evalSets: {
    evalSet: string;
    prompt: string;
    cases: number;
    passed: number;
    passRate: number;
    slices: Record<string, { cases: number; passed: number; passRate: number }>;
    outputs: Record<string, { output: string; pass: boolean }>;
    error?: string;
  }[];
}

export interface DemoPromptEdit {
  prompt: string;
  variant: string;
  before: string;
  after: string;
  basePassRate: number;
  editedPassRate: number;
  flips: { id: string; from: "pass" | "fail"; to: "pass" | "fail"; before: string; after: string }[];
}

/** The JSON prompt generated under its grammar and as free text (`driftlens.constrain: false`). */
export interface DemoStructured {
  prompt: string;
  evalSet: string;
  variant: string;
  constrained: { cases: number; validJson: number; passed: number; passRate: number; examples: { id: string; output: string; pass: boolean }[] };
  free: DemoStructured["constrained"];
}

export interface DemoData {
  generatedAt: string;
  workspace: string;
  modelsGenerated: boolean;
  generatorVersion: string;
  backend: string | null;
  threads: number | null;
  variants: DemoVariantRuns[];
  quantization: CompareReport;
  adapter: CompareReport;
  promptEdit?: DemoPromptEdit;
  structured?: DemoStructured;
  steps: { name: string; ms: number }[];
  totalMs: number;
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** Escapes text for HTML content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Markdown-safe inline text: escapes characters markdown or HTML would interpret. */
export function mdText(s: unknown): string {
  return String(s)
    .replace(/[\\`*_{}[\]()#+!|<>~]/g, (c) => `\\${c}`)
    .replace(/\r?\n/g, " ");
}

const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : `${(x * 100).toFixed(1)}%`);
const pp = (x: number) => `${x > 0 ? "+" : x < 0 ? "−" : "±"}${Math.abs(x * 100).toFixed(1)} pp`;
const sci = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x === 0 ? "0" : x >= 0.01 ? x.toFixed(4) : x.toExponential(2));
const bytes = (n: number | null) => (n === null ? "–" : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function sliceNames(v: DemoVariantRuns[], evalSet: string): string[] {
  const names = new Set<string>();
  for (const r of v) for (const e of r.evalSets) if (e.evalSet === evalSet) for (const s of Object.keys(e.slices)) names.add(s);
  return [...names].sort();
}

function evalSetsOf(v: DemoVariantRuns[]): { evalSet: string; prompt: string }[] {
  const out: { evalSet: string; prompt: string }[] = [];
  for (const r of v) for (const e of r.evalSets) if (!out.some((x) => x.evalSet === e.evalSet)) out.push({ evalSet: e.evalSet, prompt: e.prompt });
  return out;
}

/** Cell colour from red (0) through amber to green (1). */
function heat(rate: number): string {
  const hue = Math.round(rate * 120);
  return `hsl(${hue} 70% 88%)`;
}

/** Grouped bar chart: for each slice, one bar per variant (pass rate 0..1). */
function sliceChart(variants: DemoVariantRuns[], evalSet: string): string {
  const slices = ["(all)", ...sliceNames(variants, evalSet)];
  const palette = ["#4e79a7", "#59a14f", "#edc948", "#e15759", "#b07aa1", "#76b7b2", "#f28e2b"];
  const barW = 12;
  const gap = 14;
  const groupW = variants.length * barW + gap;
  const h = 160;
  const left = 36;
  const width = left + slices.length * groupW + 10;
  const bars: string[] = [];
  slices.forEach((s, i) => {
    variants.forEach((v, j) => {
      const e = v.evalSets.find((x) => x.evalSet === evalSet);
      const rate = !e ? 0 : s === "(all)" ? e.passRate : (e.slices[s]?.passRate ?? NaN);
      if (!Number.isFinite(rate)) return;
      const bh = Math.max(1, rate * (h - 20));
      const x = left + i * groupW + j * barW;
      bars.push(
        `<rect x="${x}" y="${h - bh}" width="${barW - 2}" height="${bh}" fill="${palette[j % palette.length]}"><title>${esc(v.variant)} · ${esc(s)}: ${pct(rate)}</title></rect>`,
      );
    });
    bars.push(`<text x="${left + i * groupW + (variants.length * barW) / 2}" y="${h + 14}" font-size="10" text-anchor="middle">${esc(s)}</text>`);
  });
  const axis = [0, 0.5, 1]
    .map((t) => `<text x="${left - 4}" y="${h - t * (h - 20) + 3}" font-size="9" text-anchor="end">${t * 100}%</text><line x1="${left}" x2="${width}" y1="${h - t * (h - 20)}" y2="${h - t * (h - 20)}" stroke="#ddd"/>`)
    .join("");
  const legend = variants
    .map((v, j) => `<rect x="${left + j * 150}" y="${h + 24}" width="10" height="10" fill="${palette[j % palette.length]}"/><text x="${left + j * 150 + 14}" y="${h + 33}" font-size="10">${esc(v.variant)}</text>`)
    .join("");
  return `<svg role="img" aria-label="pass rate per slice, ${esc(evalSet)}" width="${Math.max(width, left + variants.length * 150)}" height="${h + 44}" xmlns="http://www.w3.org/2000/svg">${axis}${bars.join("")}${legend}</svg>`;
}

/** Horizontal bars of mean KL divergence on a log scale. */
function kldChart(report: CompareReport): string {
  const rows = report.variants.filter((v) => !v.isReference);
  const vals = rows.map((v) => v.kld.mean ?? 0);
  const positive = vals.filter((x) => x > 0);
  if (positive.length === 0) return "";
  const lo = Math.floor(Math.log10(Math.min(...positive)));
  const hi = Math.ceil(Math.log10(Math.max(...positive)));
  const span = Math.max(1, hi - lo);
  const left = 170;
  const w = 360;
  const rowH = 22;
  const bars = rows
    .map((v, i) => {
      const x = v.kld.mean ?? 0;
      const len = x > 0 ? ((Math.log10(x) - lo) / span) * w : 0;
      return `<text x="${left - 6}" y="${i * rowH + 15}" font-size="11" text-anchor="end">${esc(v.variant)}</text><rect x="${left}" y="${i * rowH + 4}" width="${Math.max(1, len)}" height="14" fill="${v.gate.passed ? "#59a14f" : "#e15759"}"><title>${esc(v.variant)}: mean KLD ${sci(x)}</title></rect><text x="${left + Math.max(1, len) + 4}" y="${i * rowH + 15}" font-size="10">${sci(x)}</text>`;
    })
    .join("");
  const ticks = Array.from({ length: span + 1 }, (_, k) => {
    const x = left + (k / span) * w;
    return `<line x1="${x}" x2="${x}" y1="0" y2="${rows.length * rowH}" stroke="#eee"/><text x="${x}" y="${rows.length * rowH + 12}" font-size="9" text-anchor="middle">1e${lo + k}</text>`;
  }).join("");
  return `<svg role="img" aria-label="mean KL divergence from the reference" width="${left + w + 80}" height="${rows.length * rowH + 18}" xmlns="http://www.w3.org/2000/svg">${ticks}${bars}</svg>`;
}

function outputOf(data: DemoData, variant: string, id: string, evalSet: string): string | undefined {
  const v = data.variants.find((x) => x.variant === variant || x.variant.replace(/@1$/, "") === variant.replace(/@1$/, ""));
  // compare names eval sets absolutely or relative to the workspace; the runs here are relative.
  const rel = path.isAbsolute(evalSet) ? path.relative(data.workspace, evalSet) : evalSet;
  const e = v?.evalSets.find((x) => x.evalSet === rel);
  return e?.outputs[id]?.output;
}

function compareSection(data: DemoData, report: CompareReport, title: string, intro: string): string {
  const rows = report.variants
    .map(
      (v) => `<tr class="${v.isReference ? "ref" : v.gate.passed ? "ok" : "bad"}"><td>${esc(v.variant)}</td><td>${esc(v.quant ?? "–")}</td><td>${bytes(v.fileBytes)}</td><td>${pct(v.passRate)}</td><td>${v.isReference ? "reference" : `${pp(v.delta)} <small>[${pp(v.ci[0])}, ${pp(v.ci[1])}]</small>`}</td><td>${v.isReference ? "" : sci(v.pValue)}</td><td>${sci(v.kld.mean)}</td><td>${sci(v.kld.p99)}</td><td>${sci(v.kld.max)}</td><td>${pct(v.top1Agreement)}</td><td>${v.flips.length}</td><td>${v.isReference ? "–" : v.gate.passed ? "✓ within gate" : "✗ fails gate"}</td></tr>`,
    )
    .join("");
  const details = report.variants
    .filter((v) => !v.isReference)
    .map((v) => variantDetails(data, v))
    .join("");
  return `<section><h2>${esc(title)}</h2><p>${intro}</p>
<table><thead><tr><th>variant</th><th>quant</th><th>file</th><th>pass rate</th><th>Δ vs ${esc(report.reference)} [95% CI]</th><th>p</th><th>KLD mean</th><th>p99</th><th>max</th><th>top-1</th><th>flips</th><th>gate</th></tr></thead><tbody>${rows}</tbody></table>
<h3>Mean teacher-forced KL divergence from ${esc(report.reference)} (log scale)</h3>${kldChart(report)}
${details}</section>`;
}

function variantDetails(data: DemoData, v: CompareVariant): string {
  const slices = v.slices
    .map(
      (s) => `<tr class="${s.failsGate ? "bad" : ""}"><td>${esc(s.name)}</td><td>${s.cases}</td><td>${pct(s.basePassRate)}</td><td>${pct(s.passRate)}</td><td>${pp(s.delta)}</td><td>${sci(s.pValue)}</td><td>${s.minDetectableDrop === null ? "too few cases" : pct(s.minDetectableDrop)}</td><td>${s.failsGate ? "✗" : ""}</td></tr>`,
    )
    .join("");
  const flips = v.flips
    .map((f) => {
      const before = outputOf(data, v.comparedTo, f.id, f.evalSet);
      const after = outputOf(data, v.variant, f.id, f.evalSet);
      return `<tr class="${f.to === "fail" ? "bad" : "ok"}"><td>${esc(f.id)}</td><td>${esc(f.tags.join(", "))}</td><td>${esc(f.from)} → ${esc(f.to)}</td><td><code>${esc(before ?? "?")}</code></td><td><code>${esc(after ?? "?")}</code></td></tr>`;
    })
    .join("");
  const reasons = [...v.gate.reasons.map((r) => `<li class="bad">${esc(r)}</li>`), ...v.gate.warnings.map((w) => `<li class="warn">${esc(w)}</li>`)].join("");
  const top = v.kldCases
    .slice(0, 5)
    .map((c) => `<tr><td>${esc(c.id)}</td><td>${sci(c.mean)}</td><td>${sci(c.max)}</td><td>${pct(c.top1Agreement)}</td><td>${c.firstDivergence ?? "–"}</td></tr>`)
    .join("");
  return `<details ${v.gate.passed ? "" : "open"}><summary><b>${esc(v.variant)}</b> vs ${esc(v.comparedTo)}: ${v.gate.passed ? "within the gate" : "fails the gate"} · ${v.flips.length} flip(s)</summary>
${reasons ? `<ul>${reasons}</ul>` : ""}
<h4>Slices, worst first</h4><table><thead><tr><th>slice</th><th>cases</th><th>${esc(v.comparedTo)}</th><th>${esc(v.variant)}</th><th>Δ</th><th>p</th><th>min detectable drop</th><th>gate</th></tr></thead><tbody>${slices}</tbody></table>
${flips ? `<h4>Flipped cases</h4><table><thead><tr><th>case</th><th>tags</th><th>outcome</th><th>${esc(v.comparedTo)} output</th><th>${esc(v.variant)} output</th></tr></thead><tbody>${flips}</tbody></table>` : ""}
${top ? `<h4>Highest divergence cases</h4><table><thead><tr><th>case</th><th>KLD mean</th><th>max</th><th>top-1</th><th>first divergence</th></tr></thead><tbody>${top}</tbody></table>` : ""}
</details>`;
}

function passRateSection(data: DemoData): string {
  return evalSetsOf(data.variants)
    .map(({ evalSet, prompt }) => {
      const slices = ["(all)", ...sliceNames(data.variants, evalSet)];
      const head = data.variants.map((v) => `<th>${esc(v.variant)}</th>`).join("");
      const body = slices
        .map((s) => {
          const cells = data.variants
            .map((v) => {
              const e = v.evalSets.find((x) => x.evalSet === evalSet);
              if (!e) return "<td>–</td>";
              if (e.error) return `<td class="bad" title="${esc(e.error)}">error</td>`;
              const r = s === "(all)" ? { passRate: e.passRate, cases: e.cases, passed: e.passed } : e.slices[s];
              if (!r) return "<td>–</td>";
              return `<td style="background:${heat(r.passRate)}">${pct(r.passRate)} <small>${r.passed}/${r.cases}</small></td>`;
            })
            .join("");
          return `<tr><td>${esc(s)}</td>${cells}</tr>`;
        })
        .join("");
      return `<h3>${esc(evalSet)} <small>(prompt ${esc(prompt)})</small></h3>${sliceChart(data.variants, evalSet)}<table><thead><tr><th>slice</th>${head}</tr></thead><tbody>${body}</tbody></table>`;
    })
    .join("");
}

function promptEditSection(e: DemoPromptEdit | undefined): string {
  if (!e) return "";
  const flips = e.flips
    .map((f) => `<tr class="${f.to === "fail" ? "bad" : "ok"}"><td>${esc(f.id)}</td><td>${esc(f.from)} → ${esc(f.to)}</td><td><code>${esc(f.before)}</code></td><td><code>${esc(f.after)}</code></td></tr>`)
    .join("");
  return `<section><h2>What a prompt edit does</h2>
<p>The same eval set on <b>${esc(e.variant)}</b> with one word of <code>${esc(e.prompt)}</code> changed (in memory; the file is untouched):</p>
<pre>- ${esc(e.before)}\n+ ${esc(e.after)}</pre>
<p>Pass rate ${pct(e.basePassRate)} → <b>${pct(e.editedPassRate)}</b>; ${e.flips.length} case(s) flipped. The model routes the answer by the keyword, so without it the country's language often wins. <code>driftlens diff</code> reports this on a real git change.</p>
${flips ? `<details><summary>Flipped cases</summary><table><thead><tr><th>case</th><th>outcome</th><th>before</th><th>after</th></tr></thead><tbody>${flips}</tbody></table></details>` : ""}</section>`;
}

function structuredSection(s: DemoStructured | undefined): string {
  if (!s) return "";
  const row = (label: string, r: DemoStructured["constrained"]) =>
    `<tr><td>${esc(label)}</td><td>${r.validJson}/${r.cases}</td><td>${pct(r.passRate)} <small>${r.passed}/${r.cases}</small></td><td>${r.examples.map((e) => `<code>${esc(e.output)}</code>`).join("<br>")}</td></tr>`;
  return `<section><h2>Structured output</h2>
<p><code>${esc(s.prompt)}</code> declares <code>output: {format: json, schema}</code>. Driftlens writes a grammar from the schema and <b>${esc(s.variant)}</b> generates under it: the model, which has never seen a brace, supplies the words and the grammar the JSON. Every output is then parsed and validated against the schema. The same prompt with <code>driftlens.constrain: false</code> is generated as free text for comparison (in memory; the file is untouched).</p>
<table><thead><tr><th>generation</th><th>valid JSON (schema)</th><th>cases passed (${esc(s.evalSet)})</th><th>first outputs</th></tr></thead><tbody>${row("under the grammar", s.constrained)}${row("free text (driftlens.constrain: false)", s.free)}</tbody></table></section>`;
}

export function renderDemoHtml(data: DemoData): string {
  const q4 = data.quantization.variants.find((v) => v.quant === "Q4_0");
  const tail = q4?.slices.find((s) => s.failsGate);
  const headline = q4
    ? `Q4_0: overall pass rate ${pct(q4.passRate)} (${pp(q4.delta)} vs ${esc(data.quantization.reference)}) — ${tail ? `but slice <b>${esc(tail.name)}</b> drops ${pp(tail.delta)} and fails the gate` : "no slice fails the gate"}.`
    : "";
  const steps = data.steps.map((s) => `${esc(s.name)} ${secs(s.ms)}`).join(" · ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Driftlens demo report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:13px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f5f5f5}tr.bad td:first-child{border-left:4px solid #e15759}tr.ok td:first-child{border-left:4px solid #59a14f}tr.ref td{color:#555}
li.bad{color:#b00020}li.warn{color:#8a6d00}code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;background:#f6f6f6;padding:0 3px}
details{margin:.8rem 0;padding:.4rem .8rem;border:1px solid #e5e5e5;border-radius:6px}summary{cursor:pointer}
.headline{font-size:16px;padding:.6rem .9rem;background:#fff6e5;border-left:4px solid #f28e2b}small{color:#666}
</style></head><body>
<h1>Driftlens demo</h1>
<p><small>${esc(data.generatedAt)} · workspace ${esc(data.workspace)} · models ${data.modelsGenerated ? "generated" : "reused"} (generator ${esc(data.generatorVersion)}) · backend ${esc(data.backend ?? "?")}, ${esc(data.threads ?? "?")} thread(s) · ${steps} · total ${secs(data.totalMs)}</small></p>
<p class="headline">${headline}</p>
<p>The quickstart family is one tiny llama model written as F32, F16, Q8_0 and Q4_0 GGUF files plus a LoRA adapter, each loaded by llama.cpp. Every eval case ran on every variant; compare then pairs each variant with its reference case by case and forces the reference's output tokens through it to measure KL divergence.</p>
<section><h2>Pass rate per slice, every variant</h2>${passRateSection(data)}</section>
${compareSection(data, data.quantization, "Quantization: each variant against " + data.quantization.reference, "Median cases survive quantization; the tail is where it shows. A single pass rate hides that, so the gate checks every slice.")}
${compareSection(data, data.adapter, "Adapter: against its base", "An adapter is compared with the base model it was trained on. This one fixes its own slice and, on the capitals eval set, trades English names for local ones — which the gate flags.")}
${promptEditSection(data.promptEdit)}
${structuredSection(data.structured)}
</body></html>
`;
}

export function renderDemoMarkdown(data: DemoData): string {
  const lines: string[] = ["# Driftlens demo", ""];
  lines.push(`Workspace \`${data.workspace.replace(/`/g, "'")}\`, backend ${mdText(data.backend ?? "?")}, ${data.threads ?? "?"} thread(s), ${secs(data.totalMs)} in all.`, "");
  lines.push("## Pass rate per slice", "");
  for (const { evalSet } of evalSetsOf(data.variants)) {
    const slices = ["(all)", ...sliceNames(data.variants, evalSet)];
    lines.push(`### ${mdText(evalSet)}`, "", `| slice | ${data.variants.map((v) => mdText(v.variant)).join(" | ")} |`, `|---|${data.variants.map(() => "---:").join("|")}|`);
    for (const s of slices) {
      const cells = data.variants.map((v) => {
        const e = v.evalSets.find((x) => x.evalSet === evalSet);
        if (!e) return "–";
        if (e.error) return "error";
        const r = s === "(all)" ? e : e.slices[s];
        return r ? pct(r.passRate) : "–";
      });
      lines.push(`| ${mdText(s)} | ${cells.join(" | ")} |`);
    }
    lines.push("");
  }
  for (const [title, report] of [
    ["Quantization", data.quantization],
    ["Adapter", data.adapter],
  ] as const) {
    lines.push(`## ${title} (vs ${mdText(report.reference)})`, "", "| variant | pass rate | Δ | KLD mean | top-1 | flips | gate |", "|---|---:|---:|---:|---:|---:|---|");
    for (const v of report.variants) {
      lines.push(
        `| ${mdText(v.variant)} | ${pct(v.passRate)} | ${v.isReference ? "ref" : pp(v.delta)} | ${sci(v.kld.mean)} | ${pct(v.top1Agreement)} | ${v.flips.length} | ${v.isReference ? "–" : v.gate.passed ? "✓" : "✗"} |`,
      );
    }
    lines.push("");
    for (const v of report.variants) for (const r of v.gate.reasons) lines.push(`- ✗ ${mdText(r)}`);
    for (const v of report.variants) {
      if (v.flips.length === 0 || v.isReference) continue;
      lines.push("", `<details><summary>${esc(v.variant)}: ${v.flips.length} flip(s)</summary>`, "");
      for (const f of v.flips) lines.push(`- ${mdText(f.id)} (${mdText(f.tags.join(", "))}): ${f.from} → ${f.to}`);
      lines.push("", "</details>");
    }
    lines.push("");
  }
  if (data.structured) {
    const s = data.structured;
    lines.push("## Structured output", "", `${mdText(s.prompt)} on ${mdText(s.variant)}: valid JSON matching the schema in ${s.constrained.validJson}/${s.constrained.cases} cases under the grammar, ${s.free.validJson}/${s.free.cases} as free text; cases passed ${pct(s.constrained.passRate)} vs ${pct(s.free.passRate)}.`, "");
  }
  if (data.promptEdit) {
    const e = data.promptEdit;
    lines.push("## A prompt edit", "", `\`${e.before.replace(/`/g, "'")}\` → \`${e.after.replace(/`/g, "'")}\` on ${mdText(e.variant)}: pass rate ${pct(e.basePassRate)} → ${pct(e.editedPassRate)} (${e.flips.length} flips).`, "");
  }
  return lines.join("\n") + "\n";
}

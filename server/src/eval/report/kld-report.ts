// Renderers for `driftlens kld` (and the statistics block compare shows): llama-perplexity's three
// sections — perplexity, KL divergence, token probability — as a table with one column per
// variant. Text for the terminal, Markdown for PR comments; variant names are escaped.
import type { CorpusKldReport, CorpusVariantStats } from "../corpus-kld";
import type { KldStatistics } from "../../stats/kld-stats";
import { mdCell, pct } from "./format";

/** A KL divergence or ln-ratio value: 6 decimals like llama-perplexity, scientific when tiny. */
export function kl6(x: number): string {
  if (!Number.isFinite(x)) return "–";
  if (x === 0) return "0";
  return Math.abs(x) < 1e-4 ? x.toExponential(3) : x.toFixed(6);
}

/** A fraction as percent with 3 decimals (llama-perplexity's Δp and same-top-p format). */
const pc3 = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(3)}%` : "–");
const pm = (a: string, b: string) => `${a} ± ${b}`;
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

type Row = [label: string, value: (s: KldStatistics) => string];

export const KLD_ROWS: { section: string; rows: Row[] }[] = [
  {
    section: "Perplexity",
    rows: [
      ["PPL(Q)", (s) => s.ppl.value.toFixed(6)],
      ["PPL(ref)", (s) => s.ppl.reference.toFixed(6)],
      ["PPL(Q)/PPL(ref)", (s) => s.ppl.ratio.toFixed(6)],
      ["ln(PPL(Q)/PPL(ref))", (s) => pm(kl6(s.ppl.lnRatio.mean), kl6(s.ppl.lnRatio.stderr))],
      ["Cor(ln PPL(Q), ln PPL(ref))", (s) => pct(s.ppl.cor, 2)],
    ],
  },
  {
    section: "KL divergence",
    rows: [
      ["Mean KLD", (s) => pm(kl6(s.kld.mean), kl6(s.kld.stderr))],
      ["Maximum", (s) => kl6(s.kld.max)],
      ["99.9%", (s) => kl6(s.kld.p99_9)],
      ["99.0%", (s) => kl6(s.kld.p99)],
      ["95.0%", (s) => kl6(s.kld.p95)],
      ["90.0%", (s) => kl6(s.kld.p90)],
      ["Median", (s) => kl6(s.kld.median)],
      ["10.0%", (s) => kl6(s.kld.p10)],
      ["5.0%", (s) => kl6(s.kld.p5)],
      ["1.0%", (s) => kl6(s.kld.p1)],
      ["0.1%", (s) => kl6(s.kld.p0_1)],
      ["Minimum", (s) => kl6(s.kld.min)],
    ],
  },
  {
    section: "Token probability",
    rows: [
      ["Mean Δp", (s) => pm(pc3(s.dp.mean), pc3(s.dp.stderr))],
      ["Maximum Δp", (s) => pc3(s.dp.max)],
      ["99.9% Δp", (s) => pc3(s.dp.p99_9)],
      ["99.0% Δp", (s) => pc3(s.dp.p99)],
      ["95.0% Δp", (s) => pc3(s.dp.p95)],
      ["90.0% Δp", (s) => pc3(s.dp.p90)],
      ["75.0% Δp", (s) => pc3(s.dp.p75)],
      ["Median Δp", (s) => pc3(s.dp.median)],
      ["25.0% Δp", (s) => pc3(s.dp.p25)],
      ["10.0% Δp", (s) => pc3(s.dp.p10)],
      ["5.0% Δp", (s) => pc3(s.dp.p5)],
      ["1.0% Δp", (s) => pc3(s.dp.p1)],
      ["0.1% Δp", (s) => pc3(s.dp.p0_1)],
      ["Minimum Δp", (s) => pc3(s.dp.min)],
      ["RMS Δp", (s) => pm(pc3(s.dp.rms), pc3(s.dp.rmsStderr))],
      ["Same top p", (s) => pm(pc3(s.sameTop.rate), pc3(s.sameTop.stderr))],
    ],
  },
];

function methodNote(v: CorpusVariantStats, vocab: number): string | undefined {
  if (v.method !== "top-K") return undefined;
  const from = v.source ? ` from ${v.source}` : "";
  if (v.topK !== undefined && v.topK >= vocab && vocab > 0) return `${v.variant}: the whole vocabulary${from} (log-probabilities as the server rounds them)`;
  return `${v.variant}: top-${v.topK} log-probabilities only${from} (KL over those ids + the rest of the mass, a lower bound)`;
}

function header(r: CorpusKldReport): string {
  const storage = r.storage === "llama16" ? "; reference stored as 16-bit values (llama-perplexity's storage, emulated)" : "";
  return `Reference ${r.reference}: ${r.chunks} chunk${r.chunks === 1 ? "" : "s"} of ${r.ctx} tokens, ${r.tokens} scored tokens (second half of each chunk) of ${r.textTokens}; vocabulary ${r.vocab}${storage}`;
}

/** Rows × variants as aligned text columns. */
export function statsTable(columns: { name: string; stats: KldStatistics }[], indent = ""): string[] {
  const lines: string[] = [];
  const labelW = Math.max(...KLD_ROWS.flatMap((s) => s.rows.map(([l]) => l.length)), 10);
  const cells = KLD_ROWS.map((s) => s.rows.map(([, f]) => columns.map((c) => f(c.stats))));
  const widths = columns.map((c, i) => Math.max(c.name.length, ...cells.flatMap((sec) => sec.map((row) => row[i]!.length))));
  lines.push(`${indent}${"".padEnd(labelW)}  ${columns.map((c, i) => c.name.padStart(widths[i]!)).join("  ")}`);
  KLD_ROWS.forEach((s, si) => {
    lines.push(`${indent}${s.section}`);
    s.rows.forEach(([label], ri) => lines.push(`${indent}${label.padEnd(labelW)}  ${cells[si]![ri]!.map((c, i) => c.padStart(widths[i]!)).join("  ")}`));
  });
  return lines;
}

export function kldText(r: CorpusKldReport): string {
  const lines = [header(r), ""];
  lines.push(...statsTable(r.variants.map((v) => ({ name: v.variant, stats: v }))));
  const notes = r.variants.map((v) => methodNote(v, r.vocab)).filter((x): x is string => !!x);
  if (notes.length) lines.push("", ...notes.map((n) => `Note: ${n}`));
  lines.push("", `Peak memory: engine ${mib(r.memory.enginePeakRssBytes)}, driftlens ${mib(r.memory.peakRssBytes)} (no logits file; nothing per vocabulary entry is kept across positions)`);
  return lines.join("\n") + "\n";
}

export function kldMarkdown(r: CorpusKldReport): string {
  const out = [`### Driftlens kld: corpus KL divergence from ${mdCell(r.reference)}`, "", mdCell(header(r)), ""];
  out.push(`| Statistic | ${r.variants.map((v) => mdCell(v.variant)).join(" | ")} |`);
  out.push(`|---|${r.variants.map(() => "---:").join("|")}|`);
  for (const s of KLD_ROWS) {
    out.push(`| **${s.section}** | ${r.variants.map(() => "").join(" | ")} |`);
    for (const [label, f] of s.rows) out.push(`| ${mdCell(label)} | ${r.variants.map((v) => f(v)).join(" | ")} |`);
  }
  const notes = r.variants.map((v) => methodNote(v, r.vocab)).filter((x): x is string => !!x);
  if (notes.length) out.push("", ...notes.map((n) => `> ${mdCell(n)}`));
  return out.join("\n") + "\n";
}

/** The JSON of `driftlens kld`: tokens = scored tokens; rates and Δp as fractions. */
export function kldJson(r: CorpusKldReport): string {
  return (
    JSON.stringify(
      {
        tokens: r.tokens,
        chunks: r.chunks,
        ctx: r.ctx,
        reference: r.reference,
        textTokens: r.textTokens,
        vocab: r.vocab,
        storage: r.storage,
        memory: r.memory,
        variants: r.variants.map((v) => ({
          variant: v.variant,
          method: v.method,
          ...(v.topK !== undefined ? { topK: v.topK } : {}),
          ...(v.source !== undefined ? { source: v.source } : {}),
          ppl: v.ppl,
          kld: v.kld,
          dp: v.dp,
          sameTop: v.sameTop,
        })),
      },
      null,
      2,
    ) + "\n"
  );
}

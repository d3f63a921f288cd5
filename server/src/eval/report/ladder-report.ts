// Renderers for the quant ladder section of `driftlens compare --ladder`: text, Markdown and HTML
// (the webview draws it as a chart). Variant names and gate reasons are escaped.
import { bytes, escapeHtml, mdCell, nats, pct, pp } from "./format";
import type { Ladder, LadderRung } from "./ladder-types";

function corpusCell(r: LadderRung): string {
  if (!r.corpusKld) return "–";
  return `${nats(r.corpusKld.mean)} ± ${nats(r.corpusKld.stderr)}`;
}

function header(l: Ladder): string {
  const corpus = l.corpus ? `corpus ${l.corpus.text} (${l.corpus.chunks} chunks of ${l.corpus.ctx} tokens, ${l.corpus.tokens} scored)` : "no corpus (set `corpus:` for the family in driftlens.yaml)";
  const max = l.maxKld === null ? "no gate.maxKld" : `gate.maxKld ${l.maxKld} on the ${l.kldSource === "corpus" ? "corpus" : "eval outputs'"} mean KLD`;
  return `Quant ladder of ${l.family} (reference ${l.reference}; ${corpus}; ${max})`;
}

export function ladderText(l: Ladder): string[] {
  const lines = [header(l)];
  const w = Math.max(7, ...l.rungs.map((r) => r.variant.length));
  lines.push(`  ${"variant".padEnd(w)}  ${"size".padStart(9)}  ${"pass".padStart(6)}  ${"Δ".padStart(9)}  gate  ${"eval KLD".padStart(9)}  ${"corpus KLD".padStart(19)}  verdict`);
  for (const r of l.rungs) {
    lines.push(
      `${r.recommended ? "→" : " "} ${r.variant.padEnd(w)}  ${bytes(r.fileBytes).padStart(9)}  ${pct(r.passRate).padStart(6)}  ${(r.isReference ? "ref" : pp(r.delta)).padStart(9)}  ${(r.gatePassed ? "pass" : "FAIL").padEnd(4)}  ${nats(r.evalKld).padStart(9)}  ${corpusCell(r).padStart(19)}  ${r.verdict}`,
    );
  }
  lines.push(`  ${l.summary}`);
  return lines;
}

export function ladderMarkdown(l: Ladder): string[] {
  const out = [`#### ${mdCell(header(l))}`, ""];
  out.push("| | Variant | Size | Pass rate | Δ | Gate | Eval KLD | Corpus KLD | Same top (corpus) | Verdict |");
  out.push("|---|---|---:|---:|---:|---|---:|---:|---:|---|");
  for (const r of l.rungs) {
    out.push(
      `| ${r.recommended ? "➜" : ""} | ${mdCell(r.variant)} | ${bytes(r.fileBytes)} | ${pct(r.passRate)} | ${r.isReference ? "ref" : pp(r.delta)} | ${r.gatePassed ? "pass" : "FAIL"} | ${nats(r.evalKld)} | ${corpusCell(r)} | ${r.corpusKld ? pct(r.corpusKld.sameTop, 2) : "–"} | ${mdCell(r.verdict)} |`,
    );
  }
  out.push("", `**${mdCell(l.summary)}**`);
  return out;
}

export function ladderHtml(l: Ladder): string {
  const e = escapeHtml;
  const h = [`<h2>${e(header(l))}</h2>`, `<table><thead><tr><th></th><th>Variant</th><th>Size</th><th>Pass rate</th><th>Δ</th><th>Gate</th><th>Eval KLD</th><th>Corpus KLD</th><th>Verdict</th></tr></thead><tbody>`];
  for (const r of l.rungs) {
    h.push(
      `<tr><td>${r.recommended ? "➜" : ""}</td><td>${e(r.variant)}</td><td class="n">${bytes(r.fileBytes)}</td><td class="n">${pct(r.passRate)}</td><td class="n">${r.isReference ? "ref" : pp(r.delta)}</td><td class="${r.gatePassed ? "pass" : "fail"}">${r.gatePassed ? "pass" : "FAIL"}</td><td class="n">${nats(r.evalKld)}</td><td class="n">${e(corpusCell(r))}</td><td>${e(r.verdict)}</td></tr>`,
    );
  }
  h.push(`</tbody></table>`, `<p><strong>${e(l.summary)}</strong></p>`);
  return h.join("\n");
}

// Hover and completion text for the driftlens.yaml keys of corpus KL divergence: a family's
// `corpus:` (the text `driftlens kld` and the quant ladder score) and `gate.maxKld`.
import fs from "node:fs";
import path from "node:path";
import type { DriftlensConfig } from "../../artifacts/config";
import { corpusProblem } from "../../artifacts/corpus";

export const KLD_KEY_DOCS: Record<string, string> = {
  corpus:
    "A text for corpus KL divergence from the family's reference, scored as `llama-perplexity --kl-divergence` does (chunks of `ctx` tokens, BOS first, second half scored): `compare --family F --ladder` shows it per variant and `driftlens kld` prints all of llama-perplexity's statistics. A file path (relative to driftlens.yaml), or `{text, ctx, chunks}`.",
  text: "The corpus text file, relative to driftlens.yaml (UTF-8).",
  ctx: "Tokens per chunk (default 512, llama-perplexity's `-c`). The text needs at least 2 × ctx tokens.",
  chunks: "At most this many chunks (default: every whole chunk of the text).",
  maxKld: "Largest allowed mean KL divergence (nats) from the reference: on the family's `corpus` when it has one, else on the eval outputs. The quant ladder recommends the smallest variant that passes the gate and stays within it; `driftlens kld` exits 1 above it.",
};

const CHARS_PER_TOKEN = 3.5;

/** Hover for `models.<family>.corpus` (or one of its keys). */
export function corpusHoverMarkdown(cfg: DriftlensConfig, family: string): string | undefined {
  const c = cfg.models[family]?.corpus;
  if (!c) return undefined;
  const lines = [`**corpus of ${family}** — ${KLD_KEY_DOCS.corpus}`, ""];
  const problem = corpusProblem(c);
  if (problem) {
    lines.push(`⚠ ${problem}`);
    return lines.join("\n");
  }
  const size = fs.statSync(c.path).size;
  const ctx = c.ctx ?? 512;
  const estTokens = Math.round(size / CHARS_PER_TOKEN);
  const chunks = Math.floor(estTokens / ctx);
  lines.push(
    `\`${path.basename(c.path)}\`: ${size} bytes, about ${estTokens} tokens (estimate); chunks of ${ctx} tokens → about ${c.chunks ? Math.min(c.chunks, chunks) : chunks} chunk(s), ${Math.floor(ctx / 2) - 1} scored tokens each.`,
  );
  if (estTokens < 2 * ctx) lines.push("", `⚠ The text looks shorter than 2 × ctx = ${2 * ctx} tokens; scoring needs at least that many.`);
  return lines.join("\n");
}

export function maxKldHoverMarkdown(cfg: DriftlensConfig): string {
  const v = cfg.gate.maxKld;
  return `**gate.maxKld**${v !== undefined ? ` = ${v}` : ""} — ${KLD_KEY_DOCS.maxKld}`;
}

// GGUF facts for hover, read with the bounded header reader (gguf/reader.ts) and cached by path, size and
// mtime (a 32,000-token vocabulary takes a few milliseconds to read; hover asks often).
import fs from "node:fs";
import path from "node:path";
import { ggufFacts, readGgufHeader, type GgufFacts } from "../../gguf/reader";

export type GgufInfo = { ok: true; facts: GgufFacts; bytes: number; file: string } | { ok: false; error: string; file: string };

const cache = new Map<string, { key: string; info: GgufInfo }>();
const MAX_ENTRIES = 64;

export function ggufInfo(file: string): GgufInfo {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return { ok: false, error: `file not found: ${file}`, file };
  }
  if (!st.isFile()) return { ok: false, error: `not a file: ${file}`, file };
  const key = `${st.size}:${st.mtimeMs}`;
  const hit = cache.get(file);
  if (hit && hit.key === key) return hit.info;
  let info: GgufInfo;
  try {
    info = { ok: true, facts: ggufFacts(readGgufHeader(file)), bytes: st.size, file };
  } catch (e) {
    info = { ok: false, error: e instanceof Error ? e.message : String(e), file };
  }
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(file, { key, info });
  return info;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 1 : 2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** A markdown table of the facts users ask about a model or adapter file. */
export function ggufMarkdown(info: GgufInfo, title: string, relTo?: string): string {
  const shown = relTo ? path.relative(relTo, info.file) || info.file : info.file;
  if (!info.ok) return `**${title}**\n\n\`${shown}\`: cannot read the GGUF header: ${info.error}`;
  const f = info.facts;
  const rows: [string, string][] = [];
  if (f.name) rows.push(["name", f.name]);
  rows.push(["architecture", f.architecture ?? "unknown"]);
  rows.push(["quantization", f.quant ?? "unknown"]);
  rows.push(["parameters", `${formatCount(f.parameterCount)} (${f.parameterCount.toLocaleString("en-US")})`]);
  if (f.contextLength !== undefined) rows.push(["context length", f.contextLength.toLocaleString("en-US")]);
  if (f.embeddingLength !== undefined) rows.push(["embedding length", String(f.embeddingLength)]);
  if (f.blockCount !== undefined) rows.push(["blocks", String(f.blockCount)]);
  if (f.headCount !== undefined) rows.push(["attention heads", String(f.headCount)]);
  if (f.tokenizerModel !== undefined || f.vocabSize !== undefined)
    rows.push(["tokenizer", `${f.tokenizerModel ?? "unknown"}${f.vocabSize !== undefined ? `, ${f.vocabSize.toLocaleString("en-US")} tokens` : ""}`]);
  rows.push(["chat template", f.hasChatTemplate ? "yes" : "no (prompts are sent as plain text)"]);
  if (f.isLora) rows.push(["LoRA adapter", `yes${f.loraAlpha !== undefined ? `, alpha ${f.loraAlpha}` : ""}`]);
  rows.push(["file", `\`${shown}\` (${formatBytes(info.bytes)})`]);
  const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
  return `**${title}**\n\n| | |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${esc(v)} |`).join("\n")}`;
}

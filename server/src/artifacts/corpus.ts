// Checks of a model family's `corpus:` in driftlens.yaml (the text for corpus KL divergence): the
// file exists, is a regular file, and is text. Reads at most the first 64 KiB to decide.
import fs from "node:fs";
import type { CorpusConfig } from "./config";
import type { Diagnostic, Range } from "./types";

const SNIFF_BYTES = 64 * 1024;

/** Why `corpus` cannot be used, or undefined when it can. */
export function corpusProblem(c: CorpusConfig): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(c.path);
  } catch {
    return `corpus text ${c.declared} does not exist (looked at ${c.path})`;
  }
  if (!st.isFile()) return `corpus text ${c.declared} is not a regular file`;
  if (st.size === 0) return `corpus text ${c.declared} is empty`;
  const buf = Buffer.alloc(Math.min(SNIFF_BYTES, st.size));
  let fd: number | undefined;
  try {
    fd = fs.openSync(c.path, "r");
    fs.readSync(fd, buf, 0, buf.length, 0);
  } catch (e) {
    return `corpus text ${c.declared} cannot be read: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (buf.includes(0)) return `corpus text ${c.declared} looks binary (it contains NUL bytes); give a UTF-8 text file`;
  return undefined;
}

export function corpusDiagnostics(family: string, c: CorpusConfig | undefined, file: string, fallback: Range): Diagnostic[] {
  if (!c) return [];
  const problem = corpusProblem(c);
  return problem ? [{ file, range: c.range ?? fallback, severity: "error", code: "DL110", message: `family '${family}': ${problem}` }] : [];
}

export class CorpusTextError extends Error {}

/**
 * Reads a corpus text: a regular UTF-8 file of bounded size, refused when it looks binary (a
 * workspace file can be hostile). `shown` names the file in messages.
 */
export function readCorpusText(file: string, shown: string, maxBytes = 256 * 1024 * 1024): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new CorpusTextError(`${shown}: no such file`);
  }
  if (!st.isFile()) throw new CorpusTextError(`${shown}: not a regular file`);
  if (st.size > maxBytes) throw new CorpusTextError(`${shown}: ${st.size} bytes is more than the ${maxBytes}-byte limit for a corpus text; use a shorter text`);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(fs.readFileSync(file));
  if (text.includes("\u0000")) throw new CorpusTextError(`${shown}: looks binary (it contains NUL bytes); give a UTF-8 text file`);
  return text;
}

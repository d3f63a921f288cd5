// Reading a corpus text for `driftlens kld` and the quant ladder: a regular UTF-8 file of bounded
// size, refused when it looks binary (a workspace file can be hostile).
import fs from "node:fs";
import { CliError } from "./common";

/** Reads the corpus text: a regular UTF-8 file of bounded size (a workspace file can be hostile). */
export function readCorpusText(file: string, shown: string, maxBytes = 256 * 1024 * 1024): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new CliError(`${shown}: no such file`);
  }
  if (!st.isFile()) throw new CliError(`${shown}: not a regular file`);
  if (st.size > maxBytes) throw new CliError(`${shown}: ${st.size} bytes is more than the ${maxBytes}-byte limit for a corpus text; use a shorter text or --chunks`);
  const buf = fs.readFileSync(file);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(buf);
  if (text.includes("\u0000")) throw new CliError(`${shown}: looks binary (contains NUL bytes); give a UTF-8 text file`);
  return text;
}

// Plain data shared by the LSP-free engine. Shapes mirror LSP (0-based lines and characters,
// UTF-16 code units) so adapters in server/src/features convert without arithmetic.

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export type Severity = "error" | "warning" | "information" | "hint";

/** One finding about one file. `code` is stable and documented in README.md (DL#### codes). */
export interface Diagnostic {
  file: string;
  range: Range;
  severity: Severity;
  code: string;
  message: string;
}

/**
 * The artifact kinds Driftlens understands, plus "unknown" for everything else. `promptfoo`,
 * `ghprompt` and `prompty` are other tools' files Driftlens runs as they are (adopt/).
 */
export type ArtifactKind = "config" | "prompt" | "evalset" | "adapter" | "promptfoo" | "ghprompt" | "prompty" | "unknown";

/** Which artifact kind a path is, by name alone. */
export function artifactKind(file: string): ArtifactKind {
  const base = file.replace(/\\/g, "/").split("/").pop() ?? "";
  if (base === "driftlens.yaml" || base === "driftlens.yml") return "config";
  if (base.endsWith(".prompt")) return "prompt";
  if (/\.eval\.(ya?ml|jsonl)$/.test(base)) return "evalset";
  if (/\.adapter\.ya?ml$/.test(base)) return "adapter";
  if (/^promptfooconfig\.(ya?ml|json)$/.test(base)) return "promptfoo";
  if (/\.prompt\.ya?ml$/.test(base)) return "ghprompt";
  if (base.endsWith(".prompty")) return "prompty";
  return "unknown";
}

export const ZERO_RANGE: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

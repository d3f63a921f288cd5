// Adopted formats: which files they are, parsing them (cached by their text and the text of every
// file they reference), and their diagnostics that need driftlens.yaml (providers → variants).
import path from "node:path";
import type { DriftlensConfig } from "../config";
import { ASSERTION_TYPES } from "../assertions";
import type { Diagnostic } from "../types";
import { isGhPromptFile, parseGhPrompt } from "./gh-prompt";
import { isPromptfooConfig, parsePromptfoo } from "./promptfoo";
import { isPromptyFile, parsePrompty } from "./prompty";
import { mappedVariant } from "./providers";
import type { SourceReader } from "./source";
import type { AdoptedKind, AdoptedSuite } from "./types";

export type { AdoptedKind, AdoptedSuite, AdoptedPrompt, AdoptedCase } from "./types";

export function adoptedKind(file: string): AdoptedKind | undefined {
  if (isPromptfooConfig(file)) return "promptfoo";
  if (isGhPromptFile(file)) return "ghprompt";
  if (isPromptyFile(file)) return "prompty";
  return undefined;
}

/** Whether Driftlens's assertion engine runs a promptfoo assertion type (`not-` forms too). */
export function engineKnows(type: string): boolean {
  const base = type.startsWith("not-") ? type.slice(4) : type;
  return (ASSERTION_TYPES as readonly string[]).includes(base);
}

export function parseAdopted(kind: AdoptedKind, text: string, file: string, reader: SourceReader): AdoptedSuite {
  if (kind === "promptfoo") return parsePromptfoo(text, file, reader, { engineKnows });
  if (kind === "ghprompt") return parseGhPrompt(text, file, reader);
  return parsePrompty(text, file, reader);
}

interface Entry {
  text: string;
  suite: AdoptedSuite;
  /** Referenced files and the text each had (null: missing). */
  refs: [string, string | null][];
  globs: boolean;
  at: number;
}

const GLOB_TTL_MS = 1500;

/** Parsed adopted files of one workspace, re-parsed when the file or anything it read changes. */
export class AdoptCache {
  private map = new Map<string, Entry>();
  constructor(private readonly reader: SourceReader) {}

  get(file: string, text: string): AdoptedSuite {
    const kind = adoptedKind(file)!;
    const hit = this.map.get(file);
    const now = Date.now();
    if (hit && hit.text === text && !(hit.globs && now - hit.at > GLOB_TTL_MS) && hit.refs.every(([f, t]) => (this.reader.read(f) ?? null) === t)) return hit.suite;
    const suite = parseAdopted(kind, text, file, this.reader);
    const refs: [string, string | null][] = [];
    let globs = false;
    for (const [f, t] of suite.reads ?? []) {
      if (f.startsWith("glob:")) globs = true;
      else if (f !== file && !(t ?? "").startsWith("base64:")) refs.push([f, t]);
    }
    this.map.set(file, { text, suite, refs, globs, at: now });
    if (this.map.size > 256) this.map.delete(this.map.keys().next().value as string);
    return suite;
  }

  /** Adopted files (cached so far) that read `file`. */
  readers(file: string): string[] {
    return [...this.map.entries()].filter(([, e]) => e.refs.some(([f]) => f === file)).map(([f]) => f);
  }
}

/** Diagnostics that need driftlens.yaml: providers with no variant (each source tool's own name for a model). */
export function providerDiagnostics(suite: AdoptedSuite, config: DriftlensConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  const root = config.root;
  for (const p of suite.prompts) {
    for (const pr of p.providers) {
      const k = `${pr.id}\u0000${JSON.stringify(pr.range)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      if (mappedVariant(config.providers, pr.id, pr.label) === undefined) {
        out.push({
          file: pr.file,
          range: pr.range,
          severity: "warning",
          code: "DL800",
          message: `'${pr.id}' is not mapped to a local variant; add it to ${path.relative(root, path.join(root, "driftlens.yaml"))} under providers: (e.g. ${JSON.stringify(pr.id)}: tiny/f16), or run with --variant`,
        });
      }
    }
  }
  return out;
}

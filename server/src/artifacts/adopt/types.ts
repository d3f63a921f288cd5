// The shape every adopted format (promptfoo config, GitHub `.prompt.yml`, Prompty) is turned into:
// prompts (each with its own renderer, the source tool's semantics) and cases (prompts × tests
// for promptfoo, testData for `.prompt.yml`), plus diagnostics with exact ranges. The runner sees
// these through adopt/view.ts as ordinary prompts and eval sets.
import { createHash } from "node:crypto";
import type { Assertion } from "../assertions";
import type { Diagnostic, Range } from "../types";

export type AdoptedKind = "promptfoo" | "ghprompt" | "prompty";

/** A rendered chat message in Dotprompt's shape (what the runner reads). */
export interface AdoptedMessage {
  role: "system" | "user" | "model";
  content: { text: string }[];
}

export interface AdoptedRender {
  messages: AdoptedMessage[];
  /** Sampling config in Dotprompt/Genkit names (temperature, maxOutputTokens, topP, topK, stopSequences). */
  config?: Record<string, unknown>;
}

/** A provider (promptfoo provider id, `.prompt.yml` model, Prompty model id) and where it is written. */
export interface ProviderRef {
  id: string;
  /** promptfoo's provider label (the map may name it instead of the id). */
  label?: string;
  range: Range;
  /** The source file the range is in. */
  file: string;
}

export interface AdoptedPrompt {
  /** What the runner calls the prompt's file: the file itself, or `config#key` for promptfoo. */
  id: string;
  /** The file it comes from (diagnostics, CodeLens). */
  file: string;
  /** Short name shown in reports: the promptfoo label, the file name. */
  label: string;
  range: Range;
  /** Canonical text of everything that decides how it renders (its artifact version). */
  identity: string;
  /** Sampling config in Dotprompt names. */
  config: Record<string, unknown>;
  /** Providers it runs on, in order (their variants come from driftlens.yaml's `providers:`). */
  providers: ProviderRef[];
  /** JSON Schema of the output when the source asks for JSON output (`responseFormat`, Prompty outputs). */
  outputSchema?: unknown;
  /** Variables the template reads (for missing-variable diagnostics and import). */
  variables: string[];
  render(vars: Record<string, unknown>): Promise<AdoptedRender>;
  /** The template as written, for `driftlens import`. */
  template: AdoptedTemplate;
}

/** A prompt's template in its own tool's syntax, for translating it to Dotprompt. */
export type AdoptedTemplate =
  | { kind: "promptfoo"; raw: string; env: Record<string, unknown> }
  | { kind: "ghprompt"; messages: { role: AdoptedMessage["role"]; content: string }[] }
  | { kind: "prompty"; body: string; format: string; fill: Record<string, unknown> };

export interface AdoptedCase {
  id: string;
  vars: Record<string, unknown>;
  assert: Assertion[];
  tags: string[];
  threshold?: number;
  description?: string;
  /** promptfoo: the test's output transform (JavaScript), run before its assertions in trusted workspaces. */
  transform?: string;
  /** Where the case is written (in the eval-set file: the config, or the test file's reference). */
  range: Range;
  /** What the source had that Driftlens does not run (model-graded assertions, …), for import. */
  dropped: string[];
  /** For each kept assertion, its index among the source's assertions (promptfoo: defaultTest's first). */
  assertSource?: number[];
}

export interface AdoptedSuite {
  kind: AdoptedKind;
  file: string;
  prompts: AdoptedPrompt[];
  /** Cases (empty for Prompty: its eval sets are native ones that name the .prompty). */
  cases: AdoptedCase[];
  diagnostics: Diagnostic[];
  /** Everything read to build the suite (the file and its references), for hashes and memo keys. */
  identity: string;
  /** Files (absolute) the suite read besides its own; a change to any of them changes the suite. */
  references: string[];
  /** Every file read with the text it had (null: missing); `glob:` entries are listings. */
  reads?: [string, string | null][];
  /** Things the source uses that Driftlens does not carry (for import's header comment). */
  notCarried: string[];
  /** The input schema of a Prompty file (for eval sets that name it). */
  inputSchema?: { properties: Record<string, unknown>; required: string[]; defaults: Record<string, unknown>; open: boolean };
}

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** JSON with sorted keys: equal data gives equal text. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, (x as Record<string, unknown>)[k]])) : x));
}

/**
 * A readable, stable case id from a case's variables: `topic=bananas n=3`, cut to 60 characters
 * with a short hash when longer. The same variables give the same id wherever the case moves,
 * so results stay paired across reorderings and edits of other cases.
 */
export function varsCaseId(vars: Record<string, unknown>): string {
  const parts = Object.keys(vars)
    .sort()
    .map((k) => {
      const v = vars[k];
      const s = typeof v === "string" ? v : JSON.stringify(v);
      return `${k}=${(s ?? "").replace(/\s+/g, " ").trim()}`;
    });
  const full = parts.join(" ") || "(no vars)";
  if (full.length <= 60) return full;
  return `${full.slice(0, 50).trimEnd()}… ${sha256(canonicalJson(vars)).slice(0, 8)}`;
}

/** Makes ids unique in order: the second `x` becomes `x #2`. */
export function uniqueIds<T extends { id: string }>(items: T[]): T[] {
  const seen = new Map<string, number>();
  for (const it of items) {
    const n = (seen.get(it.id) ?? 0) + 1;
    seen.set(it.id, n);
    if (n > 1) it.id = `${it.id} #${n}`;
  }
  return items;
}

/** Sampling parameters from a provider's config (OpenAI/Anthropic/Ollama names) in Dotprompt names. */
export function samplingConfig(c: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!c) return out;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
  const t = num(c.temperature);
  if (t !== undefined) out.temperature = t;
  const max = num(c.max_tokens) ?? num(c.max_completion_tokens) ?? num(c.maxTokens) ?? num(c.max_new_tokens) ?? num(c.num_predict) ?? num(c.maxOutputTokens) ?? num(c.max_output_tokens);
  if (max !== undefined) out.maxOutputTokens = max;
  const topP = num(c.top_p) ?? num(c.topP);
  if (topP !== undefined) out.topP = topP;
  const topK = num(c.top_k) ?? num(c.topK);
  if (topK !== undefined) out.topK = topK;
  const stop = c.stop ?? c.stop_sequences ?? c.stopSequences;
  if (typeof stop === "string") out.stopSequences = [stop];
  else if (Array.isArray(stop)) out.stopSequences = stop.map(String);
  return out;
}

/** A text user message, the shape every plain-string prompt becomes. */
export function userText(text: string): AdoptedMessage {
  return { role: "user", content: [{ text }] };
}

/** Chat roles of OpenAI-style messages mapped to Dotprompt's (assistant → model). */
export function dotpromptRole(role: string): AdoptedMessage["role"] | undefined {
  const r = role.toLowerCase();
  if (r === "system" || r === "developer") return "system";
  if (r === "user") return "user";
  if (r === "assistant" || r === "model") return "model";
  return undefined;
}

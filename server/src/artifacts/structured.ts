// Structured output of a prompt: `output: {format: json, schema}` generates under a grammar written
// from the schema (json-grammar.ts); `format: json` without a schema under a generic JSON grammar;
// front matter `driftlens.constrain: false` generates free text (the output is still validated).
// What the prompt checks in the editor (DL220–DL222) and what the runner sends with each request
// come from here, so both agree on the grammar.
import { sha256Text } from "./hash";
import { jsonSchemaToGbnf, JSON_GRAMMAR_VERSION, type JsonGrammar } from "./json-grammar";
import type { JSONSchema } from "./picoschema";
import type { Diagnostic, Range } from "./types";
import { locate, type YamlSource } from "./yaml-source";

export interface StructuredOutputSpec {
  format: "json";
  /** The JSON Schema outputs are validated against (null: any JSON). */
  schema: JSONSchema | null;
  /** False when the prompt opted out (`driftlens.constrain: false`): free text, still validated. */
  constrained: boolean;
  grammar: JsonGrammar;
  /** Identifies the grammar (converter version + text): part of generation keys and run fingerprints. */
  key: string;
}

/** The parts of a prompt structured output depends on (PromptDoc has them). */
export interface StructuredPromptLike {
  output?: { format?: string; schema?: unknown; jsonSchema?: JSONSchema };
  constrain?: boolean;
}

const memo = new Map<string, JsonGrammar>();

function grammarFor(schema: JSONSchema | null): JsonGrammar {
  const k = JSON.stringify(schema);
  let g = memo.get(k);
  if (!g) {
    g = jsonSchemaToGbnf(schema);
    memo.set(k, g);
    if (memo.size > 64) memo.delete(memo.keys().next().value as string);
  }
  return g;
}

/** A JSON prompt's structured output; undefined for text prompts (or a schema that did not compile). */
export function structuredOutputOf(prompt: StructuredPromptLike): StructuredOutputSpec | undefined {
  const out = prompt.output;
  if (!out || out.format !== "json") return undefined;
  if (out.schema !== undefined && !out.jsonSchema) return undefined; // invalid schema: DL208 already says so
  const schema = out.jsonSchema ?? null;
  let grammar = grammarFor(schema);
  // A schema no grammar can generate falls back to any JSON (DL221 says so); validation still applies.
  if (grammar.problems.some((p) => p.kind === "unsupported")) grammar = grammarFor(null);
  return { format: "json", schema, constrained: prompt.constrain !== false, grammar, key: sha256Text(`${JSON_GRAMMAR_VERSION}\u0000${grammar.gbnf}`) };
}

/**
 * Editor checks of a JSON prompt's output: schema keywords the grammar cannot enforce (DL220,
 * warning), schemas no grammar can generate (DL221, error), and a maxOutputTokens that can cut the
 * longest output the schema allows (DL222, information).
 */
export function structuredDiagnostics(prompt: StructuredPromptLike & { config?: Record<string, unknown> }, src: YamlSource, file: string): Diagnostic[] {
  const spec = structuredOutputOf(prompt);
  if (!spec) return [];
  const out: Diagnostic[] = [];
  const schemaRange = (path: (string | number)[]): Range => {
    // Paths are in the compiled JSON Schema: exact for a JSON Schema source, the `schema` key for Picoschema.
    const raw = prompt.output?.schema as Record<string, unknown> | undefined;
    const isJsonSchema = raw && typeof raw === "object" && (typeof raw.type === "string" || typeof raw.properties === "object" || "$ref" in raw || "anyOf" in raw);
    const l = locate(src, ["output", "schema", ...(isJsonSchema ? path : [])]);
    return l.found ? (l.key ?? l.value) : (locate(src, ["output", "schema"]).key ?? l.value);
  };
  const own = grammarFor(spec.schema);
  if (spec.constrained) {
    for (const p of own.problems) {
      if (p.kind === "unenforced") out.push({ file, range: schemaRange(p.path), severity: "warning", code: "DL220", message: `output schema: ${p.message}` });
      else out.push({ file, range: schemaRange(p.path), severity: "error", code: "DL221", message: `output schema cannot be generated under a grammar: ${p.message}; fix the schema (outputs would be generated as any JSON and fail validation)` });
    }
  }
  const maxOut = typeof prompt.config?.maxOutputTokens === "number" ? prompt.config.maxOutputTokens : typeof prompt.config?.maxTokens === "number" ? prompt.config.maxTokens : 64;
  if (spec.constrained && Number.isFinite(spec.grammar.maxBytes) && spec.grammar.maxBytes > maxOut) {
    const l = locate(src, ["config", "maxOutputTokens"]);
    out.push({
      file,
      range: l.found ? l.value : (locate(src, ["output"]).key ?? l.value),
      severity: "information",
      code: "DL222",
      message: `the longest JSON the output schema allows is ${spec.grammar.maxBytes} bytes; with maxOutputTokens ${maxOut}, a model that writes a byte per token can be cut off before the JSON closes (the case then fails validation). Raise maxOutputTokens or lower the schema's maxLength/maxItems (free strings are bounded to 128 characters, arrays to 16 items)`,
    });
  }
  return out;
}

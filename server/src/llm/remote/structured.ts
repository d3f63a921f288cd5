// Structured output on served variants: how each server kind is asked to constrain generation.
//
// - llama-server takes our GBNF as `grammar` on every route (/completion, /v1/completions,
//   /v1/chat/completions): the same grammar the local engine generates under, so a served and a
//   local variant of the same GGUF are constrained alike. (Its `response_format: json_schema`
//   goes through llama.cpp's own schema converter instead, which differs from ours in string
//   bounds and integer rules.)
// - vLLM takes OpenAI's `response_format` on chat and completions (its guided decoding).
// - Ollama (0.5 and later) and other OpenAI-compatible servers take `response_format` on chat
//   completions only; on plain-text completions they offer nothing, so the output is free text
//   (still validated against the schema) and the run says so.
// `response_format` is `{type: "json_schema", json_schema: {name, schema, strict}}` with a schema,
// `{type: "json_object"}` without. `strict` is set only for schemas OpenAI's strict mode accepts
// (every object closed, every property required): strict mode rejects any other schema outright.
import { createHash } from "node:crypto";
import type { ServerKind, StructuredOutput } from "../types";

export type StructuredMode = "grammar" | "response_format" | "none";

/** How a request to this kind of server, on this route, carries a structured-output request. */
export function structuredMode(kind: ServerKind, template: "chat" | "completion"): StructuredMode {
  if (kind === "llama-server") return "grammar";
  if (kind === "vllm") return "response_format";
  return template === "chat" ? "response_format" : "none";
}

/** Whether OpenAI's strict structured-output mode accepts this schema: every object closed and fully required. */
export function strictEligible(schema: unknown): boolean {
  if (Array.isArray(schema)) return schema.every(strictEligible);
  if (!schema || typeof schema !== "object") return true;
  const s = schema as Record<string, unknown>;
  const props = s.properties;
  if (props && typeof props === "object") {
    if (s.additionalProperties !== false) return false;
    const req = Array.isArray(s.required) ? s.required : [];
    if (!Object.keys(props).every((k) => req.includes(k))) return false;
  } else if (s.type === "object" && s.additionalProperties !== false) return false;
  return Object.entries(s).every(([k, v]) => k === "enum" || k === "const" || k === "default" || k === "examples" || strictEligible(v));
}

/** The OpenAI `response_format` for a structured request. */
export function responseFormat(s: StructuredOutput): Record<string, unknown> {
  if (!s.schema) return { type: "json_object" };
  return { type: "json_schema", json_schema: { name: "output", schema: s.schema, strict: strictEligible(s.schema) } };
}

/** The request-body fields that ask the server to constrain generation (empty when it cannot). */
export function structuredFields(kind: ServerKind, template: "chat" | "completion", s: StructuredOutput | undefined): Record<string, unknown> {
  if (!s) return {};
  const mode = structuredMode(kind, template);
  if (mode === "grammar") return { grammar: s.grammar };
  if (mode === "response_format") return { response_format: responseFormat(s) };
  return {};
}

const KIND_NAME: Record<ServerKind, string> = { "llama-server": "llama-server", vllm: "vLLM", ollama: "Ollama", openai: "this OpenAI-compatible server" };

/**
 * What a run on this server should be told about its structured output (undefined when the server
 * constrains it as the local engine would): unconstrained on plain-text completions, or a schema
 * sent without strict mode, which a server may treat as a hint.
 */
export function structuredWarning(variant: string, kind: ServerKind, template: "chat" | "completion", s: StructuredOutput): string | undefined {
  const mode = structuredMode(kind, template);
  if (mode === "none") {
    return `variant ${variant}: ${KIND_NAME[kind]} cannot constrain plain-text completions to JSON, so this prompt's output is generated as free text (and still validated against the schema); serve a model with a chat template (or set 'template: chat' on the variant) to send the schema as response_format`;
  }
  if (mode === "response_format" && kind !== "vllm" && s.schema && !strictEligible(s.schema)) {
    return `variant ${variant}: the output schema is sent to ${KIND_NAME[kind]} without strict mode (it has optional properties or open objects, which strict mode rejects), so the server may not enforce it; outputs are still validated against the schema`;
  }
  return undefined;
}

/**
 * The structured part of a served variant's generation key: the grammar's key and the schema
 * (a server given `response_format` constrains by the schema, which can differ where the grammar
 * does not), versioned apart from the local key so that no served generation made before served
 * variants honoured structured output is taken for a constrained one.
 */
export function servedStructuredKey(grammarKey: string, schema: Record<string, unknown> | null): string {
  return createHash("sha256").update(JSON.stringify(["served-structured/1", grammarKey, schema])).digest("hex");
}

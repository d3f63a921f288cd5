// The JSON Schema the structured-output tests generate under (local and served variants alike):
// every kind of constraint the grammar must honour (string maxLength, integer and number ranges,
// enum items, maxItems, a nullable type, required and closed objects), and the token budget that
// lets the longest conforming value finish.
import { jsonSchemaToGbnf } from "../../server/src/artifacts/json-grammar";

export const STRUCTURED_SCHEMA = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 12 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    score: { type: "number", minimum: 0, maximum: 1 },
    tags: { type: "array", items: { enum: ["red", "green", "blue"] }, maxItems: 3 },
    member: { type: "boolean" },
    note: { type: ["string", "null"], maxLength: 8 },
  },
  required: ["name", "age", "score", "member"],
  additionalProperties: false,
};

/** Enough tokens for the longest value the schema allows (one token per byte at worst). */
export const STRUCTURED_MAX_TOKENS = jsonSchemaToGbnf(STRUCTURED_SCHEMA).maxBytes;

/**
 * A JSON prompt under that schema (or `schema`), at temperature 1.0 so that only the constraint
 * keeps a weak model's output valid; `constrain: false` adds the opt-out.
 */
export function structuredPrompt(model: string, opts: { constrain?: boolean; schema?: object } = {}): string {
  return [
    "---",
    `model: ${model}`,
    `config: {temperature: 1.0, maxOutputTokens: ${STRUCTURED_MAX_TOKENS}}`,
    "input:",
    "  schema:",
    "    country: string",
    "output:",
    "  format: json",
    `  schema: ${JSON.stringify(opts.schema ?? STRUCTURED_SCHEMA)}`,
    ...(opts.constrain === false ? ["driftlens.constrain: false"] : []),
    "---",
    '{{role "user"}}Describe a person from {{country}} as JSON.',
    "",
  ].join("\n");
}

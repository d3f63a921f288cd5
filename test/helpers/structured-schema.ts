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

// Short reference text for hover and completion: Dotprompt helpers, Handlebars built-ins, and
// eval assertion types (promptfoo names and semantics, docs/assertions.md).
import { ASSERTION_DOCS } from "../../artifacts/assertions";

export const HELPER_DOCS: Record<string, { signature: string; doc: string; block?: boolean }> = {
  role: { signature: '{{role "system" | "user" | "model"}}', doc: "Starts a new message with this role; text after it belongs to that message." },
  json: { signature: "{{json value [indent=2]}}", doc: "Writes a value as JSON." },
  history: { signature: "{{history}}", doc: "Inserts the conversation history passed as `messages` in the render data." },
  section: { signature: '{{section "name"}}', doc: "Marks where a named section of the prompt goes (e.g. where `docs` or history are placed)." },
  media: { signature: "{{media url=URL [contentType=TYPE]}}", doc: "Inserts a media part (image, audio, …) into the current message." },
  ifEquals: { signature: "{{#ifEquals a b}}…{{else}}…{{/ifEquals}}", doc: "Renders the block when the two values are equal.", block: true },
  unlessEquals: { signature: "{{#unlessEquals a b}}…{{/unlessEquals}}", doc: "Renders the block when the two values differ.", block: true },
  if: { signature: "{{#if value}}…{{else}}…{{/if}}", doc: "Handlebars: renders the block when the value is truthy.", block: true },
  unless: { signature: "{{#unless value}}…{{/unless}}", doc: "Handlebars: renders the block when the value is falsy.", block: true },
  each: { signature: "{{#each list as |item i|}}…{{/each}}", doc: "Handlebars: renders the block once per item; inside, `this` is the item.", block: true },
  with: { signature: "{{#with value}}…{{/with}}", doc: "Handlebars: renders the block with `this` set to the value.", block: true },
  log: { signature: "{{log value}}", doc: "Handlebars: logs the value at render time; renders nothing." },
  lookup: { signature: "{{lookup object key}}", doc: "Handlebars: looks up a property by a dynamic key." },
};

export function assertionDoc(type: string): string | undefined {
  const negated = type.startsWith("not-");
  const base = negated ? type.slice(4) : type;
  const d = (ASSERTION_DOCS as Record<string, string>)[base];
  if (!d) return undefined;
  return negated ? `Inverse of \`${base}\`: passes when this does not hold. ${d}` : d;
}

/** Front matter keys of a .prompt file (Dotprompt keys plus the Driftlens extension keys). */
export const PROMPT_FRONT_MATTER_KEYS: Record<string, string> = {
  model: "Model variant to run, `family/variant` from driftlens.yaml (e.g. `tiny/q4_0`, `tiny/f16+formal@0.5`).",
  config: "Generation config: `temperature`, `maxOutputTokens`, `topK`, `topP`, `stopSequences`.",
  input: "Input variables: `schema` (Picoschema or JSON Schema) and `default` values.",
  output: "Output: `format` (text or json) and `schema`.",
  "driftlens.evals": "Eval sets (paths relative to this prompt) that cover it.",
  "driftlens.variant": "The variant Driftlens runs by default for this prompt.",
  "driftlens.sample": "Sample input used for checks such as the context-length check (falls back to `input.default`).",
  name: "Dotprompt: the prompt's name.",
  variant: "Dotprompt: the prompt variant name.",
  version: "Dotprompt: the prompt's version.",
  description: "Dotprompt: what the prompt is for.",
  tools: "Dotprompt: tool names the prompt may call.",
};

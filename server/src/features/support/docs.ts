// Short reference text for hover and completion: Dotprompt helpers, Handlebars built-ins, and
// eval assertion types (promptfoo names and semantics, docs/assertions.md).

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

export const ASSERTION_DOCS: Record<string, string> = {
  equals: "Output equals `value` exactly; when `value` is an object or list, the output must be JSON deep-equal to it.",
  contains: "Output contains the string `value` (case-sensitive).",
  icontains: "Output contains the string `value`, ignoring case.",
  "contains-any": "Output contains at least one of the strings in `value` (a list).",
  "contains-all": "Output contains every string in `value` (a list).",
  "icontains-any": "Like contains-any, ignoring case.",
  "icontains-all": "Like contains-all, ignoring case.",
  "starts-with": "Output starts with the string `value`.",
  regex: "Output matches the JavaScript regular expression `value`.",
  "is-json": "Output is valid JSON; with a `value` schema, it must also match that JSON Schema.",
  "contains-json": "Output contains a JSON value somewhere; with a `value` schema, one must match it.",
  "json-schema": "Output parses as JSON and matches the JSON Schema in `value`.",
  levenshtein: "Edit distance between the output and `value` is at most `threshold` (default 5).",
  "word-count": "Output's word count equals `value`, or lies within `{min, max}`.",
  latency: "Generation took at most `threshold` milliseconds (threshold required).",
  similar: "Cosine similarity of embeddings of the output and `value` (or the best of a list) is at least `threshold` (default 0.75); needs an embedding model in driftlens.yaml.",
  javascript: "A JavaScript expression over `output` (and `context`) returning a boolean or a score; runs only in a trusted workspace, sandboxed with a timeout.",
  "llm-rubric": "A judge model (`grader:` family/variant) decides whether the rubric in `value` holds for the output; the verdict `{reason, pass, score}` is generated under a grammar, cached, and its reason shown as the message.",
  "model-graded-closedqa": "A judge model (`grader:`) decides whether the output, as an answer to the rendered prompt, meets the criterion in `value`.",
  factuality: "A judge model (`grader:`) compares the output with the reference answer in `value` (subset / superset / same / disagree / differ but factual); only disagree fails by default.",
  "g-eval": "A judge model (`grader:`) writes evaluation steps for the criteria in `value` and scores the output 0–10; passes when score/10 ≥ `threshold` (default 0.7).",
};

export function assertionDoc(type: string): string | undefined {
  const negated = type.startsWith("not-");
  const base = negated ? type.slice(4) : type;
  const d = ASSERTION_DOCS[base];
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
  "driftlens.constrain": "`false`: a JSON prompt (`output.format: json`) generates free text instead of under the grammar written from its schema; outputs are still parsed and validated.",
  name: "Dotprompt: the prompt's name.",
  variant: "Dotprompt: the prompt variant name.",
  version: "Dotprompt: the prompt's version.",
  description: "Dotprompt: what the prompt is for.",
  tools: "Dotprompt: tool names the prompt may call.",
};

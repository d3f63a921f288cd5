// Every diagnostic code Driftlens emits, in one table: stable ids (never reused), default
// severity, what it means and how to fix it. docs/diagnostics.md is kept in step by a test.
import type { Severity } from "./types";

export interface CodeInfo {
  severity: Severity;
  title: string;
  fix: string;
}

export const CODES = {
  // driftlens.yaml
  DL100: { severity: "error", title: "driftlens.yaml is not valid YAML", fix: "Fix the YAML syntax at the marked place." },
  DL101: { severity: "error", title: "driftlens.yaml value has the wrong type or is out of range", fix: "Use the type the message names; see docs/formats.md." },
  DL102: { severity: "warning", title: "Unknown key in driftlens.yaml", fix: "Remove the key or correct its spelling; Driftlens ignores it." },
  DL103: { severity: "error", title: "Variant model file does not exist", fix: "Correct the path (relative to driftlens.yaml) or generate/download the GGUF file." },
  DL104: { severity: "warning", title: "Scan folder holds no GGUF file", fix: "Put .gguf files in the folder or point `scan` at the folder that has them." },
  DL105: { severity: "error", title: "Scan folder does not exist", fix: "Correct the `scan` path (relative to driftlens.yaml; `~` is your home folder)." },
  DL106: { severity: "error", title: "Reference variant is not a variant of the family", fix: "Set `reference` to one of the family's variant names." },
  DL107: { severity: "error", title: "Model file is not a readable GGUF", fix: "Point the variant at a valid GGUF file (the message says what is wrong with this one)." },
  DL108: { severity: "warning", title: "Two GGUF files in a scan folder have the same quant type", fix: "Keep one file per quant type in a scanned folder, or list the variants explicitly." },
  DL109: { severity: "error", title: "Embedding model not found", fix: "Set `embedding.model` to an existing GGUF file (relative to driftlens.yaml) or to a `family/variant` defined under `models`." },
  DL110: { severity: "error", title: "Corpus text of a model family is missing or not a text file", fix: "Point `corpus` (or `corpus.text`) at an existing UTF-8 text file, relative to driftlens.yaml." },
  // served variants (endpoints: in driftlens.yaml); DL122-DL124 need an answer from the server
  DL120: { severity: "error", title: "Served variant endpoint is not a usable URL", fix: "Give each server's base URL once, e.g. `http://gpu1:8000/v1` (http or https, no credentials, query or fragment)." },
  DL121: { severity: "warning", title: "Plain http to a server on another machine", fix: "Use `https://` (or an SSH tunnel to a loopback address): prompts, outputs and the API key would cross the network unencrypted." },
  DL122: { severity: "warning", title: "Endpoint does not answer", fix: "Start the server or correct the URL; runs skip an endpoint that does not answer and fail when none does." },
  DL123: { severity: "warning", title: "Endpoint does not serve the configured model", fix: "Set `model:` to a name the server lists at /v1/models, and point every endpoint of a variant at the same model." },
  DL124: { severity: "error", title: "Adapter not available on the served model's server", fix: "Load the adapter on the server (llama-server `--lora`, vLLM `--lora-modules name=path`) under the adapter's name, or run the adapter on a local GGUF variant." },
  DL125: { severity: "error", title: "API key written into driftlens.yaml", fix: "Remove it (and rotate it: the file is shared), put it in an environment variable and set `apiKeyEnv` to that variable's name." },
  DL140: { severity: "error", title: "Model not found in its store", fix: "Download or pull the model (the message gives the command), correct the name, or point `modelStores` (or the store's environment variable) at the folder that has it." },
  DL141: { severity: "error", title: "Broken or unusable entry in a model store", fix: "Download or pull the model again (the message names the file and the command); Driftlens only reads stores and never repairs them." },
  DL142: { severity: "error", title: "Model store reference is not valid", fix: "Write `ollama:name[:tag]`, `hf:org/name[@revision][/file.gguf]` or `lmstudio:publisher/model[/file.gguf]`; when a repo or folder holds several GGUF files, name one with `file:`." },
  // .prompt
  DL200: { severity: "error", title: "Prompt front matter is not valid YAML", fix: "Fix the YAML between the `---` lines." },
  DL201: { severity: "error", title: "Prompt front matter key has the wrong type", fix: "Use the shape docs/formats.md gives for the key." },
  DL202: { severity: "error", title: "Handlebars syntax error in the prompt body", fix: "Close or correct the `{{ }}` expression at the marked place." },
  DL203: { severity: "error", title: "Variable used but not declared in the input schema", fix: "Declare it under `input.schema` or correct the name." },
  DL204: { severity: "warning", title: "Declared input never used in the template", fix: "Use the input in the body or remove it from `input.schema`." },
  DL205: { severity: "error", title: "Unknown Handlebars helper", fix: "Use a Dotprompt helper (role, json, history, section, media, ifEquals, unlessEquals) or a built-in (if, unless, each, with, log, lookup)." },
  DL206: { severity: "error", title: "Partial not found", fix: "Create `_name.prompt` beside the prompt or in a folder listed under `prompts.partials` in driftlens.yaml." },
  DL207: { severity: "error", title: "Unknown model family or variant", fix: "Use a `family/variant` defined in driftlens.yaml (see its `models`)." },
  DL208: { severity: "error", title: "Invalid output schema", fix: "Correct the Picoschema or JSON Schema under `output.schema`." },
  DL209: { severity: "error", title: "Invalid input schema", fix: "Correct the Picoschema or JSON Schema under `input.schema`." },
  DL210: { severity: "error", title: "Rendered prompt exceeds the variant's context length", fix: "Shorten the prompt or its sample input, lower `maxOutputTokens`, or raise `engine.contextSize`." },
  DL211: { severity: "warning", title: "Eval set listed in `driftlens.evals` does not exist", fix: "Correct the path (relative to the prompt) or create the eval set." },
  DL212: { severity: "warning", title: "Prompt could not be rendered with its sample input", fix: "Fix the template or its `input.default` so it renders; the message says what failed." },
  // eval sets
  DL300: { severity: "error", title: "Eval set is not valid YAML/JSON", fix: "Fix the syntax at the marked place (JSONL: one JSON object per line)." },
  DL301: { severity: "error", title: "Eval set value has the wrong type", fix: "Use the shape docs/formats.md gives for eval sets." },
  DL302: { severity: "error", title: "Duplicate case id", fix: "Give every case a unique `id`: results are stored and compared by id." },
  DL303: { severity: "error", title: "Unknown assertion type", fix: "Use a promptfoo assertion name Driftlens supports (equals, contains, icontains, regex, is-json, …, with `not-` variants)." },
  DL304: { severity: "error", title: "Invalid regular expression", fix: "Correct the pattern (JavaScript RegExp syntax)." },
  DL305: { severity: "error", title: "Case is missing a required input variable", fix: "Add the variable under `vars` or make it optional (`name?:`) in the prompt's input schema." },
  DL306: { severity: "warning", title: "Case sets a variable the prompt does not declare", fix: "Remove it or declare it in the prompt's `input.schema`." },
  DL307: { severity: "error", title: "Case variable has the wrong type for the prompt's input schema", fix: "Give the value the type the prompt's input schema declares." },
  DL308: { severity: "warning", title: "Case has no `why`", fix: "Say why the case exists (`why: ...`), so the next person knows what breaks if it fails." },
  DL309: { severity: "information", title: "Slice too small to detect a 10-point pass-rate drop", fix: "Add cases to the slice (the message gives the number needed at the gate's alpha)." },
  DL310: { severity: "error", title: "Eval set prompt missing", fix: "Set `prompt:` to an existing .prompt file (relative to the eval set), or list this eval set in a prompt's `driftlens.evals`." },
  DL311: { severity: "warning", title: "Unknown key in eval set", fix: "Remove the key or correct its spelling; Driftlens ignores it." },
  DL312: { severity: "error", title: "Assertion value missing or of the wrong kind", fix: "Give the assertion the `value` its type needs (e.g. a string for contains, a number threshold for levenshtein)." },
  DL330: { severity: "error", title: "Assertion value template cannot be rendered", fix: "Define the variable the message names in the case's vars, or use only the template syntax docs/assertions.md lists (variables, lookups, literals, operators, if, raw and the listed filters)." },
  DL331: { severity: "error", title: "Invalid JSON Schema in an assertion", fix: "Correct the schema (draft-07 by default; set `$schema` for 2019-09 or 2020-12 keywords); the message names the keyword or place." },
  DL332: { severity: "warning", title: "Assertion value probably does not mean what it says", fix: "The value is valid and behaves as in promptfoo, but likely not as intended (the message says why); rewrite it as the message suggests." },
  DL333: { severity: "error", title: "Assertion uses a promptfoo feature Driftlens does not support", fix: "Write the value inline (no file:// or package: references) and remove `transform`; docs/assertions.md lists the differences from promptfoo." },
  // adapters
  DL400: { severity: "error", title: "Adapter config is not valid YAML", fix: "Fix the YAML syntax at the marked place." },
  DL401: { severity: "error", title: "Adapter config value has the wrong type", fix: "Use the shape docs/formats.md gives for adapter configs." },
  DL402: { severity: "error", title: "Adapter GGUF file does not exist", fix: "Correct `file` (relative to the adapter config) or produce the adapter file." },
  DL403: { severity: "error", title: "Adapter file is not a LoRA GGUF", fix: "Point `file` at a LoRA adapter GGUF (general.type = adapter, adapter.type = lora)." },
  DL404: { severity: "error", title: "Adapter architecture differs from the base model", fix: "Use the base model the adapter was trained for, or an adapter trained for this base." },
  DL405: { severity: "error", title: "LoRA tensor shape does not fit the base tensor", fix: "The adapter was trained on a model with other dimensions; use its real base model." },
  DL406: { severity: "warning", title: "Base model fingerprint differs from the recorded one", fix: "The adapter now sits on a base it was not trained on: re-run its evals, then record the new sha256." },
  DL407: { severity: "warning", title: "Training dataset differs from the recorded one", fix: "Restore the dataset the adapter was trained on, or retrain and record the new sha256." },
  DL408: { severity: "information", title: "Training provenance incomplete", fix: "Record dataset, datasetSha256, recipe and commit under `training`, so the adapter can be reproduced." },
  DL409: { severity: "warning", title: "Composed adapters write the same tensors", fix: "Check that stacking them is intended; their deltas add up on the listed tensors." },
  DL410: { severity: "error", title: "Adapter base model not found", fix: "Set `base.model` to a `family/variant` from driftlens.yaml or to an existing GGUF path." },
  DL411: { severity: "error", title: "Composed adapter config not found", fix: "Correct the `compose[].adapter` path (relative to this file)." },
  DL412: { severity: "warning", title: "Unknown key in adapter config", fix: "Remove the key or correct its spelling; Driftlens ignores it." },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof CODES;

// GitHub Models prompt files (`*.prompt.yml`, `*.prompt.yaml`) with gh-models' semantics
// (pkg/prompt/prompt.go, cmd/eval/eval.go): messages templated by plain `{{name}}` replacement
// with each testData item (no spaces inside the braces, non-strings in Go's %v form, unknown
// names left as written), the model's response trimmed of surrounding whitespace, and string
// evaluators checked as gh-models checks them: `equals` exactly, `contains`, `startsWith` and
// `endsWith` ignoring case, with `{{name}}` replaced in their values too. Evaluators that call a
// hosted model (`llm:`, `uses: github/…`) are reported and not run.
import path from "node:path";
import type { Assertion } from "../assertions";
import type { Diagnostic, Range } from "../types";
import type { PathKey } from "../yaml-source";
import { unknownKeyDiagnostics } from "../zod-diagnostics";
import { parseConfigYaml } from "./promptfoo-yaml";
import { ReadLog, type SourceReader } from "./source";
import { canonicalJson, uniqueIds, varsCaseId, type AdoptedCase, type AdoptedMessage, type AdoptedSuite } from "./types";

export const GH_PROMPT_RE = /\.prompt\.ya?ml$/;

export function isGhPromptFile(file: string): boolean {
  return GH_PROMPT_RE.test(file);
}

const TOP_KEYS = ["name", "description", "model", "modelParameters", "responseFormat", "jsonSchema", "messages", "testData", "evaluators"];
const PARAM_KEYS = ["maxTokens", "temperature", "topP"];
const STRING_KEYS = ["equals", "contains", "startsWith", "endsWith"] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Go's fmt %v for the YAML values gh-models decodes (yaml.v3 into interface{}). */
export function goValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    // %v of a float64 is %g: shortest representation, exponent for large/small magnitudes.
    const abs = Math.abs(v);
    if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) return v.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
    return String(v);
  }
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(goValue).join(" ")}]`;
  if (typeof v === "object") {
    const keys = Object.keys(v as object).sort();
    return `map[${keys.map((k) => `${k}:${goValue((v as Record<string, unknown>)[k])}`).join(" ")}]`;
  }
  return String(v);
}

/** gh-models' TemplateString: `{{key}}` replaced by each data key's value, in no defined order. */
export function templateString(template: string, data: Record<string, unknown>): string {
  let out = template;
  for (const [k, v] of Object.entries(data)) out = out.split(`{{${k}}}`).join(goValue(v));
  return out;
}

/** Names a template uses in gh-models' syntax (`{{name}}`, no spaces). */
export function templateNames(template: string): string[] {
  const names = new Set<string>();
  for (const m of template.matchAll(/\{\{([^{}\s]+)\}\}/g)) names.add(m[1]!);
  return [...names];
}

/** A literal made case-insensitive for any regex engine: each letter as [xX]. */
function caseless(s: string): string {
  let out = "";
  for (const ch of s) {
    const lo = ch.toLowerCase();
    const up = ch.toUpperCase();
    const esc = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    out += lo !== up && lo.length === 1 && up.length === 1 ? `[${esc(lo)}${esc(up)}]` : esc(ch);
  }
  return out;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/** Go's unicode.IsSpace (what strings.TrimSpace trims), as a regex class; JS's \s differs at U+0085 and U+FEFF. */
const WS = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const NON_WS = "[^\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const isGoSpace = (c: string) => new RegExp(`^${WS}$`).test(c);
const NEVER = "(?!)";

/**
 * A gh-models string evaluator as a `regex` assertion with gh-models' exact meaning: the response
 * is trimmed first (Go's strings.TrimSpace), `equals` compares exactly, the others compare
 * lower-cased text (Go's strings.ToLower on both sides). A value with leading or trailing
 * whitespace is matched against the trimmed response as gh-models does (an `equals` of " x"
 * never passes).
 */
export function stringEvaluatorAssertion(kind: (typeof STRING_KEYS)[number], value: string, name: string): Assertion {
  const lead = value.length > 0 && isGoSpace(value[0]!);
  const trail = value.length > 0 && isGoSpace(value[value.length - 1]!);
  let pattern: string;
  if (kind === "equals") pattern = lead || trail ? NEVER : `^${WS}*${escapeRe(value)}${WS}*$`;
  else if (kind === "startsWith") pattern = lead ? NEVER : `^${WS}*${caseless(value)}${trail ? `[\\s\\S]*${NON_WS}` : ""}`;
  else if (kind === "endsWith") pattern = trail ? NEVER : `${lead ? `${NON_WS}[\\s\\S]*` : ""}${caseless(value)}${WS}*$`;
  else if (!lead && !trail) return { type: "icontains", value, metric: name };
  else pattern = `${lead ? `${NON_WS}[\\s\\S]*` : ""}${caseless(value)}${trail ? `[\\s\\S]*${NON_WS}` : ""}`;
  return { type: "regex", value: pattern, metric: name };
}

interface GhEvaluator {
  name: string;
  kind?: (typeof STRING_KEYS)[number];
  value?: string;
  hosted?: string;
  range: Range;
}

/** Driftlens sampling config from a .prompt.yml's modelParameters; a value of the wrong type is reported at its key. */
function samplingOf(mp: Record<string, unknown>, problem: (key: string, message: string) => void): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (mp.maxTokens !== undefined) {
    if (typeof mp.maxTokens === "number" && Number.isInteger(mp.maxTokens)) config.maxOutputTokens = mp.maxTokens;
    else problem("maxTokens", "maxTokens must be an integer");
  }
  for (const [k, to] of [["temperature", "temperature"], ["topP", "topP"]] as const) {
    if (mp[k] === undefined) continue;
    if (typeof mp[k] === "number") config[to] = mp[k];
    else problem(k, `${k} must be a number`);
  }
  return config;
}

export function parseGhPrompt(text: string, file: string, reader: SourceReader): AdoptedSuite {
  const log = new ReadLog(reader);
  log.files.set(file, text);
  // testData items are parsed one by one and kept by their text (as promptfoo's inline tests).
  const cfg = parseConfigYaml(text, file, "DL600", "testData");
  const src = { ...cfg.src, value: cfg.value };
  const diagnostics: Diagnostic[] = [...cfg.diagnostics];
  const notCarried = new Set<string>();
  const suite: AdoptedSuite = { kind: "ghprompt", file, prompts: [], cases: [], diagnostics, identity: log.identity(), references: [], notCarried: [] };
  const report = (range: Range, code: string, severity: Diagnostic["severity"], message: string) => diagnostics.push({ file, range, severity, code, message });
  const at = (p: PathKey[], prefer: "key" | "value" = "value") => cfg.rangeOf(p, prefer);
  if (src.value === undefined) return suite;
  if (!isObject(src.value)) {
    report(at([]), "DL601", "error", "a .prompt.yml file must be a mapping (name, model, messages, testData, evaluators)");
    return suite;
  }
  const doc = src.value;
  diagnostics.push(...unknownKeyDiagnostics(src, [], TOP_KEYS, file, "DL602", "the .prompt.yml file"));
  const str = (k: string) => (typeof doc[k] === "string" ? (doc[k] as string) : undefined);
  for (const k of ["name", "description", "model", "responseFormat"]) {
    if (doc[k] !== undefined && doc[k] !== null && typeof doc[k] !== "string") report(at([k]), "DL601", "error", `'${k}' must be a string`);
  }
  // Model parameters.
  const config: Record<string, unknown> = {};
  if (doc.modelParameters !== undefined && doc.modelParameters !== null) {
    if (!isObject(doc.modelParameters)) report(at(["modelParameters"]), "DL601", "error", "modelParameters must be a mapping (maxTokens, temperature, topP)");
    else {
      diagnostics.push(...unknownKeyDiagnostics(src, ["modelParameters"], PARAM_KEYS, file, "DL602", "modelParameters"));
      Object.assign(config, samplingOf(doc.modelParameters, (k, message) => report(at(["modelParameters", k]), "DL601", "error", message)));
    }
  }
  // Response format and JSON schema (a JSON string, or a mapping in the older layout).
  let outputSchema: unknown;
  const rf = str("responseFormat");
  if (rf !== undefined && !["text", "json_object", "json_schema", "guidance"].includes(rf)) {
    report(at(["responseFormat"]), "DL607", "error", `invalid responseFormat '${rf}': gh-models accepts text, json_object, json_schema or guidance`);
  }
  if (doc.jsonSchema !== undefined && doc.jsonSchema !== null) {
    let js: unknown = doc.jsonSchema;
    if (typeof js === "string") {
      try {
        js = JSON.parse(js);
      } catch (e) {
        report(at(["jsonSchema"]), "DL607", "error", `jsonSchema is not valid JSON: ${(e as Error).message}`);
        js = undefined;
      }
    }
    if (js !== undefined) {
      if (!isObject(js)) report(at(["jsonSchema"]), "DL607", "error", "jsonSchema must be a JSON object ({name, schema, strict})");
      else outputSchema = isObject(js.schema) ? js.schema : js;
      if (isObject(js) && typeof doc.jsonSchema === "string" && rf === "json_schema" && (js.name === undefined || js.schema === undefined)) {
        report(at(["jsonSchema"]), "DL607", "error", `jsonSchema must contain ${js.name === undefined ? "'name'" : ""}${js.name === undefined && js.schema === undefined ? " and " : ""}${js.schema === undefined ? "'schema'" : ""}`);
      }
    }
  }
  if (rf === "json_schema" && (doc.jsonSchema === undefined || doc.jsonSchema === null)) report(at(["responseFormat"]), "DL607", "error", "jsonSchema is required when responseFormat is 'json_schema'");
  // Messages.
  const messages: { role: AdoptedMessage["role"]; content: string }[] = [];
  if (!Array.isArray(doc.messages)) {
    report(doc.messages === undefined ? at([], "key") : at(["messages"]), "DL601", "error", doc.messages === undefined ? "missing 'messages' (the conversation to send)" : "messages must be a list of {role, content}");
  } else {
    doc.messages.forEach((m, i) => {
      if (!isObject(m)) {
        report(at(["messages", i]), "DL601", "error", `messages[${i}] must be a mapping {role, content}`);
        return;
      }
      const role = typeof m.role === "string" ? m.role.toLowerCase() : "";
      const mapped = role === "system" ? "system" : role === "user" ? "user" : role === "assistant" ? "model" : undefined;
      if (!mapped) {
        report(at(["messages", i, "role"]), "DL603", "error", `unknown message role '${String(m.role ?? "")}': gh-models accepts system, user and assistant`);
        return;
      }
      if (m.content !== undefined && typeof m.content !== "string") report(at(["messages", i, "content"]), "DL601", "error", `messages[${i}].content must be a string`);
      messages.push({ role: mapped, content: typeof m.content === "string" ? m.content : "" });
    });
  }
  const messageNames = new Set(messages.flatMap((m) => templateNames(m.content)));
  // Evaluators.
  const evaluators: GhEvaluator[] = [];
  if (doc.evaluators !== undefined && doc.evaluators !== null) {
    if (!Array.isArray(doc.evaluators)) report(at(["evaluators"]), "DL601", "error", "evaluators must be a list");
    else
      doc.evaluators.forEach((e, i) => {
        const r = at(["evaluators", i]);
        if (!isObject(e)) {
          report(r, "DL604", "error", `evaluators[${i}] must be a mapping {name, string | llm | uses}`);
          return;
        }
        diagnostics.push(...unknownKeyDiagnostics(src, ["evaluators", i], ["name", "string", "llm", "uses"], file, "DL602", `evaluator '${String(e.name ?? i)}'`));
        const name = typeof e.name === "string" ? e.name : `evaluator ${i + 1}`;
        if (isObject(e.string)) {
          diagnostics.push(...unknownKeyDiagnostics(src, ["evaluators", i, "string"], STRING_KEYS, file, "DL604", `string evaluator '${name}'`));
          const kind = STRING_KEYS.find((k) => typeof (e.string as Record<string, unknown>)[k] === "string" && (e.string as Record<string, string>)[k] !== "");
          if (!kind) report(at(["evaluators", i, "string"]), "DL604", "error", `string evaluator '${name}' has no criterion: give one of ${STRING_KEYS.join(", ")} (gh-models fails on it)`);
          else evaluators.push({ name, kind, value: (e.string as Record<string, string>)[kind]!, range: at(["evaluators", i, "string", kind]) });
        } else if (isObject(e.llm)) {
          report(at(["evaluators", i, "llm"], "key"), "DL605", "warning", `evaluator '${name}' asks a hosted model (${String(e.llm.modelId ?? "llm")}) to grade; Driftlens does not run it, the cases run without it`);
          notCarried.add(`evaluator '${name}' (llm)`);
        } else if (typeof e.uses === "string") {
          report(at(["evaluators", i, "uses"]), "DL605", "warning", `evaluator '${name}' uses ${e.uses}, a hosted GitHub Models evaluator; Driftlens does not run it, the cases run without it`);
          notCarried.add(`evaluator '${name}' (uses: ${e.uses})`);
        } else report(r, "DL604", "error", `evaluator '${name}' has no evaluation method: give string, llm or uses`);
      });
  }
  // Test data → cases.
  const cases: AdoptedCase[] = [];
  if (doc.testData !== undefined && doc.testData !== null) {
    if (!Array.isArray(doc.testData)) report(at(["testData"]), "DL601", "error", "testData must be a list of mappings of variables");
    else
      doc.testData.forEach((t, i) => {
        const range = at(["testData", i]);
        if (!isObject(t)) {
          report(range, "DL601", "error", `testData[${i}] must be a mapping of variable names to values`);
          return;
        }
        const missing = [...messageNames].filter((n) => !(n in t));
        if (missing.length) report(range, "DL606", "warning", `testData[${i}] has no ${missing.map((n) => `'${n}'`).join(", ")}, which the messages use; gh-models sends ${missing.length === 1 ? "it" : "them"} as written (${missing.map((n) => `{{${n}}}`).join(", ")})`);
        const assert = evaluators.filter((e) => e.kind).map((e) => stringEvaluatorAssertion(e.kind!, templateString(e.value!, t), e.name));
        for (const e of evaluators) {
          const miss = templateNames(e.value ?? "").filter((n) => !(n in t));
          if (miss.length) report(range, "DL606", "warning", `testData[${i}] has no ${miss.map((n) => `'${n}'`).join(", ")}, which evaluator '${e.name}' uses`);
        }
        cases.push({ id: varsCaseId(t), vars: t, assert, tags: [], range, dropped: [] });
      });
  }
  suite.cases = uniqueIds(cases);
  const model = str("model");
  const modelRange = at(["model"]);
  const label = str("name") ?? path.basename(file);
  suite.prompts.push({
    id: file,
    file,
    label,
    range: doc.model !== undefined ? modelRange : at([], "key"),
    identity: canonicalJson({ kind: "ghprompt/1", messages, config, outputSchema: outputSchema ?? null }),
    config,
    providers: model ? [{ id: model, range: modelRange, file }] : [],
    ...(outputSchema !== undefined ? { outputSchema } : {}),
    variables: [...messageNames],
    render: async (vars) => ({ messages: messages.map((m) => ({ role: m.role, content: [{ text: templateString(m.content, vars) }] })), config }),
    template: { kind: "ghprompt", messages },
  });
  suite.notCarried = [...notCarried];
  suite.reads = [...log.files.entries()];
  return suite;
}

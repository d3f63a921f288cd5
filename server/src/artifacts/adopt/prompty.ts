// Prompty files (`.prompty`) rendered as Prompty renders them (microsoft/prompty runtime: its
// front matter regex, `sample` / `inputs` hoisted under the caller's inputs, the template body
// rendered by its format — jinja2 through nunjucks as Prompty's JavaScript runtime does, mustache
// through mustache.js — then split into messages on role lines `system:` / `user:` /
// `assistant:` (an optional `#`, case-insensitive, each on its own line; text before the first
// role line is a system message; contents trimmed). Both the 1.x layout (model.configuration /
// model.parameters, top-level sample) and the 2.x one (model.id / connection / options, inputs
// with samples and defaults) are read. Eval sets name a .prompty file in `prompt:`.
import path from "node:path";
import Mustache from "mustache";
import type { Diagnostic, Range } from "../types";
import { OffsetMapper, parseYaml, rangeFor, type PathKey } from "../yaml-source";
import { unknownKeyDiagnostics } from "../zod-diagnostics";
import { checkTemplate, environment, renderTemplate } from "./nunjucks";
import { ReadLog, type SourceReader } from "./source";
import { canonicalJson, samplingConfig, type AdoptedMessage, type AdoptedSuite, type ProviderRef } from "./types";

export function isPromptyFile(file: string): boolean {
  return file.endsWith(".prompty");
}

/** Prompty's front matter regex (runtime/prompty/prompty/utils.py). */
const FRONT_MATTER = /^\s*(?:---|\+\+\+)([\s\S]*?)(?:---|\+\+\+)\s*([\s\S]+)$/dm;
const ROLES = ["assistant", "function", "system", "user"];
const ROLE_LINE = new RegExp(`^\\s*#?\\s*(${ROLES.join("|")})\\s*:\\s*\\n`, "gim");
const TOP_KEYS = ["id", "version", "name", "description", "metadata", "authors", "tags", "base", "model", "sample", "inputs", "outputs", "tools", "template"];

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Prompty's chat parser: role lines split the rendered text into messages. */
export function parsePromptyChat(rendered: string): AdoptedMessage[] {
  const chunks: string[] = [];
  let last = 0;
  ROLE_LINE.lastIndex = 0;
  for (let m = ROLE_LINE.exec(rendered); m; m = ROLE_LINE.exec(rendered)) {
    chunks.push(rendered.slice(last, m.index), m[1]!);
    last = m.index + m[0].length;
  }
  chunks.push(rendered.slice(last));
  const items = chunks.filter((c) => c.trim().length > 0);
  if (items.length === 0) throw new Error("the prompt renders to no text");
  if (!ROLES.includes(items[0]!.trim().toLowerCase())) items.unshift("system");
  if (ROLES.includes(items[items.length - 1]!.trim().toLowerCase())) items.pop();
  if (items.length % 2 !== 0) throw new Error("invalid prompt format: two role lines follow each other with no content between them");
  const out: AdoptedMessage[] = [];
  for (let i = 0; i < items.length; i += 2) {
    const role = items[i]!.trim().toLowerCase();
    const content = items[i + 1]!.trim();
    if (/!\[[^\]]*\]\([^)]*\)/.test(content)) throw new Error(`the ${role} message holds an image (![…](…)); a local text model cannot take images`);
    if (role === "function") throw new Error("'function' messages are not sent to local models");
    out.push({ role: role === "assistant" ? "model" : (role as "system" | "user"), content: [{ text: content }] });
  }
  return out;
}

interface InputDecl {
  name: string;
  type?: string;
  default?: unknown;
  sample?: unknown;
  required?: boolean;
}

function readInputs(raw: unknown): InputDecl[] {
  const out: InputDecl[] = [];
  const one = (name: string, v: unknown) => {
    if (isObject(v) && ("type" in v || "default" in v || "sample" in v || "description" in v)) {
      out.push({ name, ...(typeof v.type === "string" ? { type: v.type } : {}), ...("default" in v ? { default: v.default } : {}), ...("sample" in v ? { sample: v.sample } : {}), ...(typeof v.required === "boolean" ? { required: v.required } : {}) });
    } else out.push({ name, sample: v });
  };
  if (Array.isArray(raw)) for (const x of raw) if (isObject(x) && typeof x.name === "string") one(x.name, x);
  if (isObject(raw)) for (const [k, v] of Object.entries(raw)) one(k, v);
  return out;
}

const JSON_TYPES: Record<string, string> = { string: "string", number: "number", integer: "integer", boolean: "boolean", array: "array", object: "object", list: "array", dict: "object" };

/** The model a Prompty file names: model.id, else its connection's deployment or model name. */
function promptyProvider(model: Record<string, unknown>, at: (p: PathKey[]) => Range, file: string): ProviderRef | undefined {
  const connection = isObject(model.connection) ? model.connection : isObject(model.configuration) ? model.configuration : {};
  const connKey = isObject(model.connection) ? "connection" : "configuration";
  const idCandidates: [unknown, PathKey[]][] = [
    [model.id, ["model", "id"]],
    [connection.azure_deployment, ["model", connKey, "azure_deployment"]],
    [connection.name, ["model", connKey, "name"]],
    [connection.model, ["model", connKey, "model"]],
    [connection.deployment, ["model", connKey, "deployment"]],
  ];
  for (const [v, p] of idCandidates) {
    if (typeof v === "string" && v.trim() && !v.startsWith("${")) return { id: v.trim(), range: at(p), file };
  }
  return undefined;
}

/** The top-level names a mustache template reads; a template that does not parse is reported (with its offset when known). */
function mustacheVariables(body: string, problem: (message: string, offset?: number) => void): string[] {
  try {
    const tokens = Mustache.parse(body) as unknown[];
    const names = new Set<string>();
    const walk = (ts: unknown[]) => {
      for (const tk of ts as [string, string, number, number, unknown[]?][]) {
        if (["name", "&", "#", "^"].includes(tk[0]) && tk[1] !== ".") names.add(tk[1].split(".")[0]!);
        if (Array.isArray(tk[4])) walk(tk[4]);
      }
    };
    walk(tokens);
    return [...names];
  } catch (e) {
    const pos = /at (\d+)/.exec((e as Error).message);
    problem((e as Error).message, pos ? Number(pos[1]) : undefined);
    return [];
  }
}

export function parsePrompty(text: string, file: string, reader: SourceReader): AdoptedSuite {
  const log = new ReadLog(reader);
  log.files.set(file, text);
  const diagnostics: Diagnostic[] = [];
  const notCarried = new Set<string>();
  const suite: AdoptedSuite = { kind: "prompty", file, prompts: [], cases: [], diagnostics, identity: "", references: [], notCarried: [] };
  const full = new OffsetMapper(text);
  const report = (range: Range, code: string, severity: Diagnostic["severity"], message: string) => diagnostics.push({ file, range, severity, code, message });
  const m = FRONT_MATTER.exec(text);
  const fmText = m ? m[1]! : "";
  const fmStart = m?.indices?.[1]?.[0] ?? 0;
  const body = m ? m[2]! : text;
  const bodyStart = m?.indices?.[2]?.[0] ?? 0;
  const fmLine = full.position(fmStart).line;
  // The front matter text starts right after `---` (usually a newline): parse it as its own document.
  const src = parseYaml(fmText, file, "DL700", fmLine);
  const fmShift = full.position(fmStart).character;
  if (fmShift) for (const d of src.diagnostics) if (d.range.start.line === fmLine) d.range.start.character += fmShift;
  diagnostics.push(...src.diagnostics);
  const at = (p: PathKey[], prefer: "key" | "value" = "value") => rangeFor(src, p, prefer);
  const fm: Record<string, unknown> = isObject(src.value) ? src.value : {};
  if (m && src.value !== undefined && src.value !== null && !isObject(src.value)) report(at([]), "DL701", "error", "the front matter must be a mapping (name, model, inputs, sample, template, …)");
  if (m) diagnostics.push(...unknownKeyDiagnostics(src, [], TOP_KEYS, file, "DL702", "Prompty front matter"));
  // Model: the provider id, the sampling options.
  const model = isObject(fm.model) ? fm.model : {};
  const provider = promptyProvider(model, at, file);
  const options = isObject(model.options) ? model.options : isObject(model.parameters) ? model.parameters : {};
  const config = samplingConfig(options);
  if (typeof model.api === "string" && model.api !== "chat" && model.api !== "completion") {
    report(at(["model", "api"]), "DL707", "warning", `model.api '${model.api}' is not a chat completion; Driftlens runs the prompt as chat`);
  }
  // Template format.
  const t = fm.template;
  const format = typeof t === "string" ? t : isObject(t) ? String(t.format ?? t.type ?? "jinja2") : "jinja2";
  if (!["jinja2", "mustache"].includes(format)) report(at(["template"]), "DL704", "error", `template format '${format}' is not one Prompty renders (jinja2, mustache)`);
  // Sample (1.x) and inputs (2.x, and 1.x declarations).
  let sample: Record<string, unknown> = {};
  if (typeof fm.sample === "string") {
    const ref = /^\$\{file:(.+)\}$/.exec(fm.sample.trim());
    const r = log.read(path.resolve(path.dirname(file), ref ? ref[1]! : fm.sample));
    if (!r.ok) report(at(["sample"]), "DL706", "error", `sample: ${r.error}`);
    else {
      const parsed = parseYaml(r.text, r.file, "DL706");
      if (isObject(parsed.value)) sample = parsed.value;
      else report(at(["sample"]), "DL706", "error", `sample file ${path.basename(r.file)} must hold a JSON object of input values`);
    }
  } else if (isObject(fm.sample)) sample = fm.sample;
  const inputs = readInputs(fm.inputs);
  const defaults: Record<string, unknown> = {};
  for (const i of inputs) {
    if (i.sample !== undefined) defaults[i.name] ??= i.sample;
    if (i.default !== undefined) defaults[i.name] = i.default;
  }
  // What fills a variable the caller does not give: Prompty hoists `sample` under the inputs (1.x); 2.x inputs carry defaults.
  const fill: Record<string, unknown> = { ...defaults, ...sample };
  // Template checks.
  const bodyLine = full.position(bodyStart).line;
  let variables: string[] = [];
  if (format === "jinja2") {
    const c = checkTemplate(body);
    if (!c.ok && c.problem) {
      const line = bodyLine + (c.problem.line ?? 0);
      const ch = (c.problem.line ?? 0) === 0 ? full.position(bodyStart).character + (c.problem.character ?? 0) : c.problem.character ?? 0;
      report({ start: { line, character: ch }, end: { line, character: ch + 1 } }, "DL703", "error", `jinja2: ${c.problem.message}`);
    } else if (c.blocked.length) report({ start: full.position(bodyStart), end: full.position(bodyStart) }, "DL703", "error", `the template reaches ${c.blocked.join(", ")}, which Driftlens refuses to render (no code runs from templates)`);
    else if (c.usesFiles) report({ start: full.position(bodyStart), end: full.position(bodyStart) }, "DL707", "warning", "the template includes or extends other templates; Driftlens renders the file on its own");
    variables = c.variables;
  } else if (format === "mustache") {
    variables = mustacheVariables(body, (problem, offset) => {
      const r = offset !== undefined ? full.range(bodyStart + offset, bodyStart + offset + 1) : { start: full.position(bodyStart), end: full.position(bodyStart) };
      report(r, "DL703", "error", `mustache: ${problem}`);
    });
  }
  const declared = new Set([...inputs.map((i) => i.name), ...Object.keys(sample)]);
  if (declared.size > 0) {
    for (const v of variables) {
      if (!declared.has(v)) {
        const idx = body.search(new RegExp(`\\{\\{[^}]*\\b${v.replace(/[$]/g, "\\$&")}\\b`));
        const r = idx >= 0 ? full.range(bodyStart + idx, bodyStart + idx + 2) : { start: full.position(bodyStart), end: full.position(bodyStart) };
        report(r, "DL705", "warning", `the template uses '${v}', which neither inputs nor sample declares; Prompty renders it empty unless the caller gives it`);
      }
    }
  }
  // The role layout, on the template text (role lines are rarely generated by the template).
  try {
    parsePromptyChat(body.replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, "x"));
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.includes("image")) {
      report({ start: full.position(bodyStart), end: full.position(bodyStart) }, "DL707", "warning", `${msg}; cases that render it fail`);
      notCarried.add("images in messages");
    } else if (!msg.includes("no text")) report({ start: full.position(bodyStart), end: full.position(bodyStart) }, "DL704", "error", msg);
  }
  if (fm.tools !== undefined) {
    report(at(["tools"], "key"), "DL707", "warning", "tools are not offered to local models; Driftlens sends the messages only");
    notCarried.add("tools");
  }
  if (fm.base !== undefined) {
    report(at(["base"], "key"), "DL707", "warning", "base prompty inheritance is not followed; Driftlens renders this file on its own");
    notCarried.add("base");
  }
  // JSON output (2.x outputs, 1.x model.response: json).
  let outputSchema: unknown;
  if (isObject(fm.outputs) || Array.isArray(fm.outputs)) {
    const props: Record<string, unknown> = {};
    for (const o of readInputs(fm.outputs)) props[o.name] = o.type && JSON_TYPES[o.type] ? { type: JSON_TYPES[o.type] } : {};
    outputSchema = { type: "object", properties: props, required: Object.keys(props) };
  }
  const properties: Record<string, unknown> = {};
  for (const i of inputs) properties[i.name] = i.type && JSON_TYPES[i.type] ? { type: JSON_TYPES[i.type] } : {};
  for (const k of Object.keys(sample)) properties[k] ??= {};
  suite.inputSchema = {
    properties,
    required: inputs.filter((i) => i.required === true && !(i.name in fill)).map((i) => i.name),
    defaults: fill,
    open: declared.size === 0,
  };
  const identity = canonicalJson({ kind: "prompty/1", body, format, config, fill });
  suite.prompts.push({
    id: file,
    file,
    label: typeof fm.name === "string" ? fm.name : path.basename(file),
    range: provider?.range ?? { start: full.position(0), end: full.position(0) },
    identity,
    config,
    providers: provider ? [provider] : [],
    ...(outputSchema !== undefined ? { outputSchema } : {}),
    variables,
    render: async (vars) => {
      const data = { ...fill, ...vars };
      const rendered = format === "mustache" ? Mustache.render(body, data) : renderTemplate(environment(), body, data);
      return { messages: parsePromptyChat(rendered), config };
    },
    template: { kind: "prompty", body, format, fill },
  });
  suite.identity = log.identity();
  suite.reads = [...log.files.entries()];
  suite.references = [...log.files.keys()].filter((f) => f !== file && !f.startsWith("glob:"));
  suite.notCarried = [...notCarried];
  return suite;
}

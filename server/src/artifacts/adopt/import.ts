// `driftlens import`: an adopted file (promptfoo config, `.prompt.yml`, `.prompty`) written as
// native Driftlens artifacts — one Dotprompt `.prompt` per prompt and an eval set with the same
// case ids — so that every case renders to exactly the messages the source tool sends.
//
// Templates are translated where the translation is exact: a variable (`{{ name }}`,
// `{{ user.name }}`) becomes the same Handlebars variable. What Handlebars cannot say (nunjucks
// filters and expressions, `{% if %}` / `{% for %}` blocks, gh-models' literal `{{missing}}`) becomes
// a computed variable whose value is written into each case, rendered by the source tool's own
// engine; a template that cannot be cut that way (`{% set %}`, macros) becomes one computed
// variable per message. Every case of every prompt is then rendered both ways and compared; a
// prompt whose translation does not reproduce the source exactly falls back to per-message
// computed variables. What could not be carried is listed (stderr, and a comment at the top of
// every file written).
import path from "node:path";
import YAML from "yaml";
import type { Workspace } from "../workspace";
import { parsePrompt } from "../prompt";
import { renderPrompt } from "../render";
import { mappedVariant } from "./providers";
import { renderData, renderFragment, RENDER_VAR } from "./promptfoo-render";
import { environment, renderTemplate } from "./nunjucks";
import { goValue } from "./gh-prompt";
import type { AdoptedCase, AdoptedMessage, AdoptedPrompt, AdoptedSuite } from "./types";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const lexer = require("nunjucks/src/lexer") as { lex(src: string): { nextToken(): { type: string; value: string } | null; index: number } };

export interface ImportedFile {
  path: string;
  text: string;
}

export interface ImportResult {
  files: ImportedFile[];
  /** What the source has that the written files do not carry (each also in the files' header). */
  notCarried: string[];
  /** Cases × prompts checked to render identically. */
  verified: number;
  /** Prompts that needed the per-message fallback (their templates are not translated). */
  fallbacks: string[];
}

export class ImportError extends Error {}

/** A Dotprompt message template plus the computed variables it reads. */
interface Translation {
  messages: { role: AdoptedMessage["role"]; template: string }[];
  /** name → how to compute its value for a case. */
  derived: Map<string, (vars: Record<string, unknown>) => string>;
}

const PATH_RE = /^\s*([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s*$/;

function slug(s: string, fallback = "prompt"): string {
  const t = s
    .replace(/\.[A-Za-z0-9]+$/, "")
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .toLowerCase()
    .slice(0, 48);
  return t || fallback;
}

/** Handlebars-safe literal text (Dotprompt compiles with noEscape; only mustaches need escaping). */
function hbsText(s: string): string {
  return s.replace(/\{\{/g, "\\{{");
}

/**
 * Appends literal text after `out`. A `}` right after a mustache would read as `}}}` (Handlebars'
 * triple close, a parse error): that mustache closes with `~}}` instead, which strips only
 * whitespace after it, and none follows.
 */
function appendText(out: string, text: string, afterMustache: boolean): string {
  if (afterMustache && text.startsWith("}")) out = `${out.slice(0, -2)}~}}`;
  return out + text;
}

class Names {
  private used = new Set<string>();
  private bySource = new Map<string, string>();
  constructor(taken: Iterable<string>) {
    for (const t of taken) this.used.add(t);
  }
  /** A variable name for a computed value, the same one for the same source text. */
  name(source: string, hint: string): string {
    const hit = this.bySource.get(source);
    if (hit) return hit;
    let base = hint
      .replace(/[^A-Za-z0-9_]+/g, "_")
      .replace(/^_+|_+$/g, "")
      .slice(0, 40);
    if (!/^[A-Za-z_]/.test(base)) base = `v_${base}`;
    let n = base;
    for (let i = 2; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    this.bySource.set(source, n);
    return n;
  }
}

interface Segment {
  kind: "data" | "var" | "tag" | "comment";
  text: string;
  inner: string;
  trimBefore: boolean;
  trimAfter: boolean;
  tag?: string;
}

/** A nunjucks template cut into data, `{{ }}`, `{% %}` and `{# #}` segments (nunjucks' own lexer). */
function segments(src: string): Segment[] | undefined {
  let t;
  try {
    t = lexer.lex(src);
  } catch {
    return undefined;
  }
  const out: Segment[] = [];
  let start = 0;
  let open: { kind: "var" | "tag"; start: number; trimBefore: boolean; tag?: string } | undefined;
  for (let tok = t.nextToken(); tok; tok = t.nextToken()) {
    const end = t.index;
    if (!open) {
      if (tok.type === "data") out.push({ kind: "data", text: src.slice(start, end), inner: tok.value, trimBefore: false, trimAfter: false });
      else if (tok.type === "comment") out.push({ kind: "comment", text: tok.value, inner: "", trimBefore: tok.value.startsWith("{#-"), trimAfter: tok.value.endsWith("-#}") });
      else if (tok.type === "variable-start" || tok.type === "block-start") open = { kind: tok.type === "variable-start" ? "var" : "tag", start, trimBefore: tok.value.endsWith("-") };
      else return undefined;
    } else {
      if (open.kind === "tag" && open.tag === undefined && tok.type === "symbol") open.tag = tok.value;
      if (tok.type === "variable-end" || tok.type === "block-end") {
        const text = src.slice(open.start, end);
        const inner = text.replace(/^\{[{%]-?/, "").replace(/-?[}%]\}$/, "");
        out.push({ kind: open.kind, text, inner, trimBefore: open.trimBefore, trimAfter: tok.value.startsWith("-"), ...(open.tag ? { tag: open.tag } : {}) });
        open = undefined;
      }
    }
    start = end;
  }
  if (open) return undefined;
  // Whitespace control is static: apply it to the neighbouring text now.
  for (let i = 0; i < out.length; i++) {
    const s = out[i]!;
    if (s.kind === "data") continue;
    if (s.trimBefore && out[i - 1]?.kind === "data") out[i - 1]!.inner = out[i - 1]!.inner.replace(/\s+$/, "");
    if (s.trimAfter && out[i + 1]?.kind === "data") out[i + 1]!.inner = out[i + 1]!.inner.replace(/^\s+/, "");
  }
  return out;
}

const BLOCK_ENDS: Record<string, string> = { if: "endif", for: "endfor", asyncEach: "endeach", asyncAll: "endall" };
const WHOLE = new Set(["set", "macro", "call", "filter", "raw", "verbatim", "block", "extends", "include", "import", "from"]);

/**
 * Translates a nunjucks template to Handlebars; untranslatable parts become computed variables
 * (rendered with `render(fragment, vars)`). Undefined when the template needs the whole-message
 * fallback.
 */
function translateNunjucks(src: string, plain: (name: string) => boolean, names: Names, render: (fragment: string, vars: Record<string, unknown>) => string): { template: string; derived: Translation["derived"] } | undefined {
  const segs = segments(src);
  if (!segs) return undefined;
  const derived: Translation["derived"] = new Map();
  let out = "";
  let afterMustache = false;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (s.kind === "data") {
      out = appendText(out, hbsText(s.inner), afterMustache);
      afterMustache = false;
      continue;
    }
    if (s.kind === "comment") continue;
    afterMustache = true;
    if (s.kind === "var") {
      const m = PATH_RE.exec(s.inner);
      if (m && plain(m[1]!.split(".")[0]!)) out += `{{${m[1]}}}`;
      else {
        const source = `{{${s.inner}}}`;
        // A variable whose rendered value is not its value as written (loaded from a file, a
        // template itself) is computed too: `policy_rendered`.
        const n = names.name(source, m ? `${m[1]}_rendered` : s.inner.replace(/\|/g, " ").trim());
        derived.set(n, (vars) => render(source, vars));
        out += `{{${n}}}`;
      }
    } else {
      const tag = s.tag ?? "";
      if (WHOLE.has(tag)) return undefined;
      const endTag = BLOCK_ENDS[tag];
      if (!endTag) return undefined;
      // The whole block, nested blocks included, becomes one computed variable.
      let depth = 0;
      let j = i;
      for (; j < segs.length; j++) {
        const t = segs[j]!;
        if (t.kind !== "tag") continue;
        if (t.tag === tag) depth++;
        else if (t.tag === endTag) depth--;
        if (depth === 0) break;
      }
      if (j >= segs.length) return undefined;
      const source = segs
        .slice(i, j + 1)
        .map((x, k) => (k === 0 ? x.text.replace(/^\{%-/, "{%") : k === j - i ? x.text.replace(/-%\}$/, "%}") : x.text))
        .join("");
      const n = names.name(source, `${tag}_block`);
      derived.set(n, (vars) => render(source, vars));
      out += `{{${n}}}`;
      i = j;
    }
  }
  return { template: out, derived };
}

/** gh-models `{{name}}` templates: a name every case gives as a plain value stays a variable. */
function translateGh(content: string, cases: AdoptedCase[], names: Names): { template: string; derived: Translation["derived"] } {
  const derived: Translation["derived"] = new Map();
  let out = "";
  let last = 0;
  const simple = (v: unknown) => typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isInteger(v) && Math.abs(v) < 1e21);
  for (const m of content.matchAll(/\{\{([^{}\s]+)\}\}/g)) {
    out = appendText(out, hbsText(content.slice(last, m.index)), last > 0);
    last = m.index! + m[0].length;
    const key = m[1]!;
    if (/^[A-Za-z_]\w*$/.test(key) && cases.length > 0 && cases.every((c) => key in c.vars && simple(c.vars[key]))) out += `{{${key}}}`;
    else {
      const n = names.name(m[0], key);
      derived.set(n, (vars) => (key in vars ? goValue(vars[key]) : m[0]));
      out += `{{${n}}}`;
    }
  }
  out = appendText(out, hbsText(content.slice(last)), last > 0);
  return { template: out, derived };
}

/** The messages a prompt renders to, one computed variable each (the exact fallback). */
async function wholeMessages(p: AdoptedPrompt, cases: AdoptedCase[], names: Names): Promise<Translation | undefined> {
  const rendered = await Promise.all(cases.map((c) => p.render(c.vars).catch(() => undefined)));
  const first = rendered.find((r) => r !== undefined);
  if (!first) return undefined;
  const roles = first.messages.map((m) => m.role).join(",");
  if (rendered.some((r) => r !== undefined && r.messages.map((m) => m.role).join(",") !== roles)) return undefined;
  const derived: Translation["derived"] = new Map();
  const messages = first.messages.map((m, i) => {
    const n = names.name(`${p.id}\u0000message ${i}`, `${slug(p.label)}_message_${i + 1}`);
    derived.set(n, (vars) => {
      const idx = cases.findIndex((c) => c.vars === vars);
      return rendered[idx]?.messages[i]?.content.map((x) => x.text).join("") ?? "";
    });
    return { role: m.role, template: `{{${n}}}` };
  });
  return { messages, derived };
}

/** Splits a Prompty body into role sections (static role lines), each trimmed like Prompty trims contents. */
function promptySections(body: string): { role: AdoptedMessage["role"]; text: string }[] | undefined {
  const re = /^\s*#?\s*(assistant|function|system|user)\s*:\s*\n/gim;
  const parts: { role: string; start: number; end: number }[] = [];
  let prev: { role: string; start: number } = { role: "system", start: 0 };
  for (let m = re.exec(body); m; m = re.exec(body)) {
    parts.push({ ...prev, end: m.index });
    prev = { role: m[1]!.toLowerCase(), start: m.index + m[0].length };
  }
  parts.push({ ...prev, end: body.length });
  const out: { role: AdoptedMessage["role"]; text: string }[] = [];
  for (const p of parts) {
    const text = body.slice(p.start, p.end).trim();
    if (!text) continue;
    if (p.role === "function") return undefined;
    out.push({ role: p.role === "assistant" ? "model" : (p.role as "system" | "user"), text });
  }
  return out;
}

async function translate(p: AdoptedPrompt, cases: AdoptedCase[], names: Names): Promise<Translation | undefined> {
  const t = p.template;
  const allPlain = (name: string, vars: (c: AdoptedCase) => Record<string, unknown>) => cases.every((c) => !/\{\{|\{%|\{#/.test(String(vars(c)[name] ?? "")));
  if (t.kind === "ghprompt") {
    const derived: Translation["derived"] = new Map();
    const messages = t.messages.map((m) => {
      const tr = translateGh(m.content, cases, names);
      for (const [k, v] of tr.derived) derived.set(k, v);
      return { role: m.role, template: tr.template };
    });
    return { messages, derived };
  }
  if (t.kind === "prompty") {
    if (t.format !== "jinja2") return undefined;
    const sections = promptySections(t.body);
    if (!sections) return undefined;
    const env = environment();
    const derived: Translation["derived"] = new Map();
    const messages: Translation["messages"] = [];
    for (const s of sections) {
      const tr = translateNunjucks(s.text, () => true, names, (frag, vars) => renderTemplate(env, frag, { ...t.fill, ...vars }));
      if (!tr) return undefined;
      for (const [k, v] of tr.derived) derived.set(k, v);
      messages.push({ role: s.role, template: tr.template });
    }
    return { messages, derived };
  }
  // promptfoo: a JSON list of messages (each content a template), or one user message. A test's
  // prefix/suffix (rendered with the prompt) become computed variables around it.
  const affixed = cases.some((c) => renderData(c.vars).prefix !== undefined || renderData(c.vars).suffix !== undefined);
  let parsed: unknown;
  try {
    parsed = JSON.parse(t.raw);
  } catch {
    parsed = undefined;
  }
  const derived: Translation["derived"] = new Map();
  if (parsed !== undefined) {
    if (!Array.isArray(parsed) || affixed) return undefined;
    const messages: Translation["messages"] = [];
    for (const m of parsed) {
      if (!m || typeof m !== "object" || typeof (m as { content?: unknown }).content !== "string") return undefined;
      const role = String((m as { role?: unknown }).role ?? "").toLowerCase();
      const r = role === "system" || role === "developer" ? "system" : role === "user" ? "user" : role === "assistant" ? "model" : undefined;
      if (!r) return undefined;
      const tr = translateNunjucks((m as { content: string }).content, (name) => cases.every((c) => renderData(c.vars).vars[name] === c.vars[name]), names, (frag, vars) => renderFragment(frag, vars, { env: t.env }, true));
      if (!tr) return undefined;
      for (const [k, v] of tr.derived) derived.set(k, v);
      messages.push({ role: r, template: tr.template });
    }
    return { messages, derived };
  }
  // A variable stays a variable only when what the prompt renders with is the value as written.
  const plainPf = (name: string) => cases.every((c) => renderData(c.vars).vars[name] === c.vars[name]) && allPlain(name, (c) => c.vars);
  const tr = translateNunjucks(t.raw, plainPf, names, (frag, vars) => renderFragment(frag, vars, { env: t.env }, false));
  if (!tr) return undefined;
  if (!affixed) return { messages: [{ role: "user", template: tr.template }], derived: tr.derived };
  const pre = names.name(`${p.id}\u0000prefix`, "prompt_prefix");
  const suf = names.name(`${p.id}\u0000suffix`, "prompt_suffix");
  tr.derived.set(pre, (vars) => renderFragment(renderData(vars).prefix ?? "", vars, { env: t.env }, false));
  tr.derived.set(suf, (vars) => renderFragment(renderData(vars).suffix ?? "", vars, { env: t.env }, false));
  return { messages: [{ role: "user", template: `{{${pre}}}${tr.template}{{${suf}}}` }], derived: tr.derived };
}

function picoType(values: unknown[]): string {
  if (values.every((v) => typeof v === "string")) return "string";
  if (values.every((v) => typeof v === "number")) return "number";
  if (values.every((v) => typeof v === "boolean")) return "boolean";
  return "any";
}

function header(source: string, notCarried: string[]): string {
  const lines = [`Imported from ${source} by driftlens import; case ids are kept.`];
  if (notCarried.length) {
    lines.push("Not carried over (Driftlens does not run these; see the README's section on this format):");
    for (const n of notCarried) lines.push(`  - ${n}`);
  }
  return lines.map((l) => `# ${l}`.trimEnd()).join("\n") + "\n";
}

const dump = (v: unknown) => YAML.stringify(v, { lineWidth: 0, aliasDuplicateObjects: false });

/** Renders a written Dotprompt with a case's input and compares it with the source's messages. */
async function same(promptText: string, file: string, input: Record<string, unknown>, want: AdoptedMessage[]): Promise<boolean> {
  const doc = parsePrompt(promptText, file);
  let got;
  try {
    got = await renderPrompt(doc, { input });
  } catch {
    return false;
  }
  const norm = (ms: { role: string; content: unknown[] }[]) => ms.map((m) => [m.role, m.content.map((c) => (c as { text?: string }).text ?? "").join("")]);
  return JSON.stringify(norm(got.messages as never)) === JSON.stringify(norm(want as never));
}

export interface ImportOptions {
  /** Folder the files are written to (default: `imported/` beside the source). */
  outDir: string;
}

export async function importAdopted(ws: Workspace, file: string, opts: ImportOptions): Promise<ImportResult> {
  const abs = path.resolve(ws.root, file);
  const suite: AdoptedSuite = ws.adopted(abs);
  const errors = suite.diagnostics.filter((d) => d.severity === "error");
  if (errors.length) throw new ImportError(`${path.relative(ws.root, abs) || abs} has errors; fix them first (driftlens check): line ${errors[0]!.range.start.line + 1}: ${errors[0]!.message}`);
  if (suite.prompts.length === 0) throw new ImportError(`${path.basename(abs)} has no prompt Driftlens can run`);
  const notCarried = [...suite.notCarried];
  const fallbacks: string[] = [];
  const sourceName = path.basename(abs);
  const rel = (to: string) => path.relative(opts.outDir, to).split(path.sep).join("/") || path.basename(to);
  // Cases: the file's own (promptfoo, .prompt.yml), or the eval sets that name a .prompty.
  const evalSets: { file?: string; name: string; cases: AdoptedCase[] }[] = [];
  if (suite.kind === "prompty") {
    for (const e of ws.evalSetsFor(abs)) {
      const doc = ws.evalSet(e);
      evalSets.push({ file: e, name: path.basename(e).replace(/\.eval\.(ya?ml|jsonl)$/, ""), cases: doc.cases.map((c) => ({ id: c.id, vars: c.vars, assert: [...doc.defaultAssert, ...c.assert], tags: c.tags, ...(c.threshold !== undefined ? { threshold: c.threshold } : {}), ...(c.why ? { description: c.why } : {}), range: c.range, dropped: [] })) });
    }
    if (evalSets.length === 0) notCarried.push(`no eval set names ${sourceName}, so no cases were written`);
  } else evalSets.push({ name: slug(suite.kind === "ghprompt" ? sourceName.replace(/\.prompt\.ya?ml$/, "") : "promptfoo", "suite"), cases: suite.cases });
  const allCases = evalSets.flatMap((e) => e.cases);
  const names = new Names(allCases.flatMap((c) => Object.keys(c.vars)));
  const config = ws.config().config;
  const promptFiles = new Map<string, string>();
  const usedNames = new Set<string>();
  for (const p of suite.prompts) {
    let n = suite.kind === "promptfoo" ? slug(p.label) : slug(sourceName.replace(/\.prompt\.ya?ml$/, ""));
    for (let i = 2; usedNames.has(n); i++) n = `${n}-${i}`;
    usedNames.add(n);
    promptFiles.set(p.id, path.join(opts.outDir, `${n}.prompt`));
  }
  const evalFiles = evalSets.map((e) => path.join(opts.outDir, `${e.name}.eval.yaml`));
  // Translate each prompt, verify every case, fall back per prompt when needed.
  const translations = new Map<string, Translation>();
  let verified = 0;
  const providers = config.providers;
  /** The Dotprompt file of a prompt: front matter (model, config, inputs, eval sets) and role sections. */
  const promptText = (p: AdoptedPrompt, tr: Translation): string => {
    const variant = p.providers.map((pr) => mappedVariant(providers, pr.id, pr.label)).find((v) => v !== undefined);
    const used = new Set<string>();
    for (const m of tr.messages) for (const x of m.template.matchAll(/(?<!\\)\{\{([A-Za-z_][\w]*)/g)) if (x[1] !== "role") used.add(x[1]!);
    const schema: Record<string, string> = {};
    for (const u of used) {
      const values = allCases.map((c) => (tr.derived.has(u) ? "" : c.vars[u])).filter((v) => v !== undefined);
      const optional = !tr.derived.has(u) && allCases.some((c) => !(u in c.vars));
      schema[`${u}${optional ? "?" : ""}`] = values.length ? picoType(values) : "any";
    }
    schema["(*)"] = "any";
    const fm: Record<string, unknown> = {
      description: `${p.label} (imported from ${sourceName})`,
      ...(variant ? { model: variant } : {}),
      ...(Object.keys(p.config).length ? { config: p.config } : {}),
      input: { schema, ...(p.template.kind === "prompty" && Object.keys(p.template.fill).length ? { default: p.template.fill } : {}) },
      ...(p.outputSchema !== undefined ? { output: { format: "json", schema: p.outputSchema } } : {}),
      "driftlens.evals": evalFiles.map(rel),
    };
    let body = tr.messages.map((m) => `{{role "${m.role}"}}${m.template}`).join("");
    // Dotprompt trims the template; a comment after trailing line breaks keeps them (Handlebars drops the comment's own line).
    if (/\n$/.test(body)) body += "{{!-- keeps the trailing line break --}}";
    return `---\n${header(sourceName, notCarried)}${dump(fm)}---\n${body}\n`;
  };
  for (const p of suite.prompts) {
    const out = promptFiles.get(p.id)!;
    const build = (tr: Translation): string => promptText(p, tr);
    const inputFor = (tr: Translation, c: AdoptedCase) => {
      const input = { ...c.vars };
      delete input[RENDER_VAR];
      for (const [k, f] of tr.derived) input[k] = f(c.vars);
      return input;
    };
    const check = async (tr: Translation): Promise<boolean> => {
      const text = build(tr);
      for (const c of allCases) {
        let want: AdoptedMessage[];
        try {
          want = (await p.render(c.vars)).messages;
        } catch {
          continue; // the source cannot render it either: the case fails the same way on both sides
        }
        if (!(await same(text, out, inputFor(tr, c), want))) return false;
      }
      return true;
    };
    let tr = await translate(p, allCases, names);
    if (!tr || !(await check(tr))) {
      tr = await wholeMessages(p, allCases, names);
      fallbacks.push(p.label);
      if (!tr || !(await check(tr))) throw new ImportError(`prompt '${p.label}' renders to different message roles in different cases; Driftlens cannot write it as one Dotprompt`);
      notCarried.push(`prompt '${p.label}': its template could not be written in Dotprompt exactly, so each case carries its rendered messages as variables`);
    }
    verified += allCases.length;
    translations.set(p.id, tr);
  }
  const extraProviders = suite.prompts.flatMap((p) => p.providers.slice(1).map((pr) => pr.id));
  if (extraProviders.length) notCarried.push(`providers after the first (${[...new Set(extraProviders)].join(", ")}): a .prompt has one model; run the others with --variant`);
  const unmapped = suite.prompts.flatMap((p) => p.providers.slice(0, 1)).filter((pr) => mappedVariant(providers, pr.id, pr.label) === undefined).map((pr) => pr.id);
  if (unmapped.length) notCarried.push(`model ${[...new Set(unmapped)].join(", ")}: not mapped under providers: in driftlens.yaml, so no model: was written (pass --variant)`);
  // Output transforms: a native eval set has none, so a case keeps only the assertions that do not
  // depend on one (its results may then differ from the source's; the header says so).
  const transformed = (c: AdoptedCase) => c.transform !== undefined;
  for (const e of evalSets) {
    for (const c of e.cases) {
      if (transformed(c)) notCarried.push(`case '${c.id}': options.transform (a native eval set has no output transform), and so its assertions`);
      else for (const a of c.assert) if ("transform" in a) notCarried.push(`case '${c.id}': the transform of its '${String(a.type)}' assertion, and so that assertion`);
    }
  }

  // Write.
  const files: ImportedFile[] = [];
  for (const p of suite.prompts) files.push({ path: promptFiles.get(p.id)!, text: promptText(p, translations.get(p.id)!) });
  evalSets.forEach((e, i) => {
    const derived = new Map<string, (vars: Record<string, unknown>) => string>();
    for (const tr of translations.values()) for (const [k, f] of tr.derived) derived.set(k, f);
    const assertOf = (c: AdoptedCase) => (transformed(c) ? [] : c.assert.filter((a) => !("transform" in a)));
    const cases = e.cases.map((c) => {
      const vars: Record<string, unknown> = { ...c.vars };
      delete vars[RENDER_VAR];
      for (const [k, f] of derived) vars[k] = f(c.vars);
      return {
        id: c.id,
        vars,
        ...(assertOf(c).length ? { assert: assertOf(c) } : {}),
        ...(c.tags.length ? { tags: c.tags } : {}),
        ...(c.threshold !== undefined ? { threshold: c.threshold } : {}),
        why: c.description ?? `imported from ${sourceName}`,
      };
    });
    const doc = {
      ...(suite.prompts.length === 1 ? { prompt: rel(promptFiles.get(suite.prompts[0]!.id)!) } : {}),
      description: `Cases of ${e.file ? path.basename(e.file) : sourceName}, imported by driftlens import`,
      cases,
    };
    files.push({ path: evalFiles[i]!, text: header(e.file ? path.basename(e.file) : sourceName, notCarried) + dump(doc) });
  });
  return { files, notCarried, verified, fallbacks };
}

// Templates in assertion values. promptfoo renders every string value (and every string in a list
// value) with Nunjucks and the case's vars before the assertion sees it, so `{{city}}`,
// `{{user.name}}` and `{{ name | upper }}` work there. Driftlens renders with Nunjucks too (the
// same library, so what renders renders identically), but a workspace file is untrusted and
// Nunjucks templates can call functions: a template is parsed first and only a safe subset is
// rendered (variables, lookups, literals, operators, `{% if %}`, `{% raw %}`, comments and the
// filters below). Everything else is a configuration error that says what is supported.
// A variable the case does not define is an error too (promptfoo renders it as empty text,
// which silently changes what the assertion tests).
import nunjucks from "nunjucks";

/** Filters a value template may use: Nunjucks built-ins that are pure and bounded, and promptfoo's `load`. */
export const TEMPLATE_FILTERS = [
  "abs",
  "capitalize",
  "d",
  "default",
  "dump",
  "e",
  "escape",
  "first",
  "float",
  "int",
  "join",
  "last",
  "length",
  "list",
  "load",
  "lower",
  "nl2br",
  "replace",
  "reverse",
  "round",
  "safe",
  "sort",
  "string",
  "striptags",
  "sum",
  "title",
  "trim",
  "truncate",
  "upper",
  "urlencode",
  "wordcount",
] as const;

const FILTERS = new Set<string>(TEMPLATE_FILTERS);

/** Node types of the safe subset (Nunjucks's parser names). */
const ALLOWED_NODES = new Set([
  "Root",
  "NodeList",
  "Output",
  "TemplateData",
  "Symbol",
  "LookupVal",
  "Literal",
  "Group",
  "Array",
  "Dict",
  "Pair",
  "Filter",
  "KeywordArgs",
  "If",
  "InlineIf",
  "Compare",
  "CompareOperand",
  "And",
  "Or",
  "Not",
  "In",
  "Add",
  "Sub",
  "Mul",
  "Div",
  "FloorDiv",
  "Mod",
  "Pow",
  "Neg",
  "Pos",
  "Concat",
]);

/** What each disallowed construct is called in messages. */
const NODE_NAMES: Record<string, string> = {
  FunCall: "function calls",
  For: "{% for %} loops",
  AsyncEach: "{% asyncEach %} loops",
  AsyncAll: "{% asyncAll %} loops",
  Set: "{% set %}",
  Macro: "macros",
  Caller: "{% call %}",
  Import: "{% import %}",
  FromImport: "{% from … import %}",
  Include: "{% include %}",
  Extends: "{% extends %}",
  Block: "{% block %}",
  Super: "super()",
  Capture: "{% set %} blocks",
  Switch: "{% switch %}",
  Is: "tests (`is …`)",
  FilterAsync: "async filters",
  CallExtension: "extension tags",
  CallExtensionAsync: "extension tags",
  IfAsync: "{% ifAsync %}",
};

export const TEMPLATE_SUPPORT =
  "supported: {{var}}, {{a.b}}, {{a[0]}}, literals, operators, {% if %}, {% raw %}, {# comments #} and the filters " + TEMPLATE_FILTERS.join(", ");

/** Whether a string holds template syntax at all (most values do not, and skip the parser). */
export function hasTemplate(s: string): boolean {
  return s.includes("{{") || s.includes("{%") || s.includes("{#");
}

interface NjNode {
  typename: string;
  fields?: string[];
  value?: unknown;
  lineno?: number;
  colno?: number;
  [k: string]: unknown;
}

interface Checked {
  /** Why the template cannot be rendered (syntax or unsupported construct); undefined when fine. */
  error?: string;
  template?: nunjucks.Template;
}

// One environment: no globals (range, cycler, joiner stay out of reach), no autoescape (promptfoo
// renders with autoescape off), throwOnUndefined so a missing variable is found, not rendered empty.
let env: nunjucks.Environment | undefined;
function environment(): nunjucks.Environment {
  if (env) return env;
  env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true });
  (env as unknown as { globals: Record<string, unknown> }).globals = Object.create(null) as Record<string, unknown>;
  env.addFilter("load", (s: unknown) => JSON.parse(String(s)) as unknown);
  return env;
}

const cache = new Map<string, Checked>();

function where(n: NjNode): string {
  return typeof n.lineno === "number" ? ` (line ${n.lineno + 1}, column ${(n.colno ?? 0) + 1})` : "";
}

/** The first construct outside the safe subset, named ("function calls (line 1, column 4)"); undefined when there is none. */
function unsupported(node: NjNode): string | undefined {
  if (!node || typeof node !== "object" || typeof node.typename !== "string") return undefined;
  const t = node.typename;
  if (!ALLOWED_NODES.has(t)) return `${NODE_NAMES[t] ?? t}${where(node)}`;
  if (t === "Literal" && node.value instanceof RegExp) return `a regular expression literal (r/…/)${where(node)}`;
  if (t === "Filter") {
    const name = String((node.name as NjNode | undefined)?.value ?? "");
    if (!FILTERS.has(name)) return `the filter '${name}'${where(node)}`;
    if (name === "replace") {
      const first = ((node.args as NjNode | undefined)?.children as NjNode[] | undefined)?.[1];
      if (!first || first.typename !== "Literal" || typeof first.value !== "string" || first.value === "") {
        return `'replace' without a non-empty quoted string as the text to replace${where(node)}`;
      }
    }
    // The filter's name is a Symbol node that is not a variable: check only its arguments.
    return unsupported(node.args as NjNode);
  }
  if (t === "LookupVal") {
    const key = node.val as NjNode | undefined;
    if (key?.typename === "Literal" && (key.value === "constructor" || key.value === "__proto__" || key.value === "prototype")) {
      return `a lookup of '${String(key.value)}'${where(node)}`;
    }
  }
  if (t === "Pair") return unsupported(node.value as NjNode);
  for (const f of node.fields ?? []) {
    const child = node[f];
    if (Array.isArray(child)) {
      for (const c of child) {
        const e = unsupported(c as NjNode);
        if (e) return e;
      }
    } else if (child && typeof child === "object") {
      const e = unsupported(child as NjNode);
      if (e) return e;
    }
  }
  return undefined;
}

function firstLine(s: string): string {
  return s.replace(/^\(unknown path\)\s*/, "").replace(/\s*\n\s*/g, ": ").trim();
}

function check(src: string): Checked {
  let c = cache.get(src);
  if (c) return c;
  try {
    const root = (nunjucks as unknown as { parser: { parse(src: string, ext: unknown[], opts: object): unknown } }).parser.parse(src, [], {}) as NjNode;
    const why = unsupported(root);
    c = why ? { error: `uses ${why}, which Driftlens does not render in assertion values (${TEMPLATE_SUPPORT})` } : { template: new nunjucks.Template(src, environment(), undefined, true) };
  } catch (e) {
    c = { error: `is not a valid template: ${firstLine((e as Error).message)} (to match the text literally, wrap it in {% raw %}…{% endraw %})` };
  }
  if (cache.size > 500) cache.clear();
  cache.set(src, c);
  return c;
}

/** Checks a value's template syntax without vars (for values shared by many cases). */
export function templateSyntaxError(src: string): string | undefined {
  return hasTemplate(src) ? check(src).error : undefined;
}

/** The variables a template names at its top level (for messages). */
function symbolsOf(src: string): string[] {
  const out = new Set<string>();
  for (const m of src.matchAll(/\{\{-?\s*([A-Za-z_$][\w$]*)/g)) out.add(m[1]!);
  return [...out];
}

export type RenderResult = { ok: true; text: string } | { ok: false; error: string };

/** Renders one string with the case's vars; errors say what to fix. */
export function renderTemplate(src: string, vars: Record<string, unknown>): RenderResult {
  if (!hasTemplate(src)) return { ok: true, text: src };
  const c = check(src);
  if (c.error || !c.template) return { ok: false, error: c.error ?? "is not a valid template" };
  // Object.prototype's names would otherwise resolve to functions instead of counting as missing.
  for (const name of symbolsOf(src)) {
    if (!Object.hasOwn(vars, name) && name in Object.prototype) return { ok: false, error: missingMessage(name, vars) };
  }
  try {
    return { ok: true, text: c.template.render(vars) };
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/attempted to output null or undefined value/.test(msg)) {
      const missing = symbolsOf(src).filter((n) => !Object.hasOwn(vars, n) || vars[n] === null || vars[n] === undefined);
      return { ok: false, error: missing.length ? missingMessage(missing[0]!, vars) : `outputs a value the case's vars do not define ${firstLine(msg).replace(/: attempted to output null or undefined value$/, "")}; add it to the case's vars, or use the default filter ({{ x | default('') }}) for empty text` };
    }
    return { ok: false, error: `could not be rendered: ${firstLine(msg)}` };
  }
}

function missingMessage(name: string, vars: Record<string, unknown>): string {
  const known = Object.keys(vars);
  if (Object.hasOwn(vars, name)) return `uses {{${name}}}, which is null in the case's vars; give it a value, or write {{ ${name} | default('') }} for empty text`;
  const env = name === "env" ? " (environment variables are not available to eval sets)" : "";
  return `uses {{${name}}}, which the case's vars do not define${env}${known.length ? ` (they define ${known.slice(0, 8).join(", ")}${known.length > 8 ? ", …" : ""})` : ""}; add it to the case's vars, or write {{ ${name} | default('') }} for empty text`;
}

// Nunjucks, the template engine promptfoo renders prompts, vars and assertion values with (and
// Prompty's JavaScript runtime renders jinja2 templates with), used as the library itself so the
// output is theirs. Two things are added because templates come from the workspace:
// - No code escapes the template: nunjucks compiles templates to JavaScript and lets them look
//   up any property, so `{{ "".constructor.constructor("…")() }}` would run code. Member and
//   context lookups of the names that lead to the Function constructor are refused, functions'
//   own properties are not reachable, and calling a Function constructor throws.
// - No file access and bounded work: the environment has no loader (`{% include %}` fails with a
//   message), and `range()` is capped.
import nunjucks from "nunjucks";
// Nunjucks' compiled templates call these through the module object, so patching that object
// (the real CommonJS exports, not an ES namespace copy) covers every template.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtime = require("nunjucks/src/runtime") as Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parser = require("nunjucks/src/parser") as { parse(src: string): unknown };

const BLOCKED = new Set(["constructor", "__proto__", "prototype", "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__", "getPrototypeOf", "getOwnPropertyDescriptor", "getOwnPropertyDescriptors", "defineProperty", "defineProperties", "setPrototypeOf", "caller", "callee", "arguments"]);
const FUNCTION_CTORS = new Set<unknown>([Function, Object.getPrototypeOf(async () => undefined).constructor, Object.getPrototypeOf(function* () {}).constructor, Object.getPrototypeOf(async function* () {}).constructor, eval]);
const MAX_RANGE = 100_000;

let hardened = false;
function harden(): void {
  if (hardened) return;
  hardened = true;
  const rt = runtime;
  const memberLookup = rt.memberLookup as (obj: unknown, val: unknown) => unknown;
  rt.memberLookup = (obj: unknown, val: unknown) => {
    if (typeof val === "string" && BLOCKED.has(val)) return undefined;
    if (typeof obj === "function") return undefined;
    const v = memberLookup(obj, val);
    return FUNCTION_CTORS.has(v) ? undefined : v;
  };
  const contextOrFrameLookup = rt.contextOrFrameLookup as (context: unknown, frame: unknown, name: string) => unknown;
  rt.contextOrFrameLookup = (context: unknown, frame: unknown, name: string) => {
    if (BLOCKED.has(name)) return undefined;
    const v = contextOrFrameLookup(context, frame, name);
    return FUNCTION_CTORS.has(v) ? undefined : v;
  };
  const callWrap = rt.callWrap as (obj: unknown, name: string, context: unknown, args: unknown[]) => unknown;
  rt.callWrap = (obj: unknown, name: string, context: unknown, args: unknown[]) => {
    if (FUNCTION_CTORS.has(obj) || obj === Function.prototype.call || obj === Function.prototype.apply || obj === Function.prototype.bind) throw new Error(`calling '${name}' is not allowed in Driftlens templates`);
    return callWrap(obj, name, context, args);
  };
}

export interface NunjucksOptions {
  /** The `env` global (promptfoo: the config's `env:`; process.env is never exposed). */
  env?: Record<string, unknown>;
  /** Extra filters (promptfoo's `load`). */
  filters?: Record<string, (...args: never[]) => unknown>;
  throwOnUndefined?: boolean;
}

/** A fresh environment: no loaders, no autoescape (promptfoo's and Prompty's settings). */
export function environment(opts: NunjucksOptions = {}): nunjucks.Environment {
  harden();
  const env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: opts.throwOnUndefined ?? false });
  env.addGlobal("env", { ...(opts.env ?? {}) });
  const range = (start: number, stop?: number, step = 1): number[] => {
    let a = start;
    let b = stop;
    if (b === undefined) {
      b = a;
      a = 0;
    }
    if (!step || !Number.isFinite(step)) return [];
    const n = Math.max(0, Math.ceil((b - a) / step));
    if (n > MAX_RANGE) throw new Error(`range() of ${n} items is more than Driftlens renders (${MAX_RANGE})`);
    return Array.from({ length: n }, (_, i) => a + i * step);
  };
  env.addGlobal("range", range);
  for (const [name, fn] of Object.entries(opts.filters ?? {})) env.addFilter(name, fn as (...args: unknown[]) => unknown);
  return env;
}

export interface TemplateProblem {
  message: string;
  /** 0-based line and character in the template, when nunjucks says where. */
  line?: number;
  character?: number;
}

export interface TemplateCheck {
  ok: boolean;
  problem?: TemplateProblem;
  /** Root variable names the template reads (not set, loop or macro names; not `env`/`loop`). */
  variables: string[];
  /** Whether it uses `{% include %}`, `{% import %}` or `{% extends %}` (no loader here). */
  usesFiles: boolean;
  /** Names it reaches that Driftlens refuses (constructor, …). */
  blocked: string[];
}

interface NjNode {
  typename: string;
  value?: unknown;
  fields?: string[];
  children?: NjNode[];
  lineno?: number;
  colno?: number;
  [k: string]: unknown;
}

const cache = new Map<string, TemplateCheck>();

/** Parses a template (without rendering it) and lists what it reads. Never throws. */
export function checkTemplate(text: string): TemplateCheck {
  const hit = cache.get(text);
  if (hit) return hit;
  let res: TemplateCheck;
  try {
    const ast = parser.parse(text) as NjNode;
    const variables = new Set<string>();
    const blocked = new Set<string>();
    let usesFiles = false;
    const walk = (n: unknown, bound: ReadonlySet<string>) => {
      if (!n || typeof n !== "object") return;
      const node = n as NjNode;
      switch (node.typename) {
        case "Symbol": {
          const name = String(node.value);
          if (BLOCKED.has(name)) blocked.add(name);
          else if (!bound.has(name) && name !== "loop" && name !== "env" && name !== "range" && name !== "cycler" && name !== "joiner") variables.add(name);
          return;
        }
        case "LookupVal": {
          walk(node.target, bound);
          const v = node.val as NjNode | undefined;
          if (v?.typename === "Literal" && typeof v.value === "string" && BLOCKED.has(v.value)) blocked.add(v.value);
          else walk(v, bound);
          return;
        }
        case "For":
        case "AsyncEach":
        case "AsyncAll": {
          walk(node.arr, bound);
          const inner = new Set(bound);
          const name = node.name as NjNode;
          const collect = (x: NjNode | undefined) => {
            if (!x) return;
            if (x.typename === "Symbol") inner.add(String(x.value));
            for (const c of x.children ?? []) collect(c);
          };
          collect(name);
          walk(node.body, inner);
          walk(node.else_, bound);
          return;
        }
        case "Set": {
          for (const t of (node.targets as NjNode[]) ?? []) if (t.typename === "Symbol") (bound as Set<string>).add(String(t.value));
          walk(node.value, bound);
          walk(node.body, bound);
          return;
        }
        case "Macro":
        case "Caller": {
          const inner = new Set(bound);
          const args = node.args as NjNode | undefined;
          for (const a of args?.children ?? []) {
            if (a.typename === "Symbol") inner.add(String(a.value));
            else if (a.typename === "KeywordArgs") for (const p of a.children ?? []) inner.add(String((p.key as NjNode | undefined)?.value ?? ""));
          }
          if (node.typename === "Macro" && node.name) (bound as Set<string>).add(String((node.name as NjNode).value));
          walk(node.body, inner);
          return;
        }
        case "Include":
        case "Import":
        case "FromImport":
        case "Extends":
          usesFiles = true;
          return;
        case "FunCall": {
          walk(node.name, bound);
          walk(node.args, bound);
          return;
        }
        case "Filter": {
          // The filter's name is not a variable; its arguments are.
          walk(node.args, bound);
          return;
        }
        default:
          break;
      }
      for (const f of node.fields ?? []) {
        const c = node[f];
        if (Array.isArray(c)) for (const x of c) walk(x, bound);
        else walk(c, bound);
      }
      if (Array.isArray(node.children) && !(node.fields ?? []).includes("children")) for (const x of node.children) walk(x, bound);
    };
    walk(ast, new Set<string>());
    res = { ok: true, variables: [...variables], usesFiles, blocked: [...blocked] };
  } catch (e) {
    const err = e as { lineno?: number; colno?: number; message?: string };
    const msg = String(err.message ?? e).replace(/^\(unknown path\)\s*(\[Line \d+, Column \d+\])?\s*/, "").trim();
    res = {
      ok: false,
      problem: { message: msg, ...(typeof err.lineno === "number" ? { line: err.lineno - 1, character: Math.max(0, (err.colno ?? 1) - 1) } : {}) },
      variables: [],
      usesFiles: false,
      blocked: [],
    };
  }
  if (cache.size > 2000) cache.clear();
  cache.set(text, res);
  return res;
}

/** Renders with nunjucks; errors say what went wrong without nunjucks' internal paths. */
export function renderTemplate(env: nunjucks.Environment, template: string, vars: Record<string, unknown>): string {
  try {
    return env.renderString(template, vars);
  } catch (e) {
    const msg = String((e as Error).message ?? e)
      .replace(/\(unknown path\)\s*/g, "")
      .replace(/\n\s*/g, " ")
      .trim();
    throw new Error(`template: ${msg}`);
  }
}

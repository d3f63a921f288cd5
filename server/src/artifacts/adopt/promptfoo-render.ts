// Rendering a promptfoo prompt the way promptfoo does (src/evaluatorHelpers.ts renderPrompt, then
// the OpenAI-style providers' parseChatPrompt): vars lose one trailing newline, `{{var}}` references
// between vars are resolved (five rounds), a prompt that is JSON has each of its strings rendered,
// any other prompt is rendered whole with nunjucks after the vars themselves are; the result is
// sent as chat messages when it is a JSON (or `- role:` YAML) list of messages, else as one user
// message. `file://` vars are loaded before rendering (adopt/promptfoo-tests.ts), so rendering
// here is a pure function of the prompt and the vars.
import YAML from "yaml";
import { checkTemplate, environment, renderTemplate } from "./nunjucks";
import { dotpromptRole, type AdoptedMessage, type AdoptedRender } from "./types";

export interface PromptfooRenderContext {
  /** The config's `env:` (the `env` global); process.env is not exposed. */
  env: Record<string, unknown>;
}

/**
 * Reserved var of an adopted promptfoo case: what the prompt renders with — the test's vars after
 * promptfoo's in-render steps (`file://` values loaded, one trailing newline off, `{{name}}`
 * references resolved) — and the test's `options.prefix`/`suffix`. The case's other vars are the
 * test's vars as written, which is what promptfoo's assertions see.
 */
export const RENDER_VAR = "__promptfoo";

export interface RenderData {
  vars: Record<string, unknown>;
  prefix?: string;
  suffix?: string;
}

/** The vars a case renders with (its RENDER_VAR), or plain vars put through promptfoo's steps. */
export function renderData(vars: Record<string, unknown>): RenderData {
  const r = vars[RENDER_VAR] as RenderData | undefined;
  if (r && typeof r === "object" && r.vars) return r;
  const v = { ...vars };
  delete v[RENDER_VAR];
  return { vars: preprocessVars(v) };
}

/**
 * What promptfoo's renderPrompt does to a test's vars before rendering, in place (so assertions see
 * the same values): one trailing newline off every string, then `{{name}}` references between vars
 * resolved (five rounds). Adopted cases hold vars after this step; rendering does not repeat it.
 */
export function preprocessVars(vars: Record<string, unknown>): Record<string, unknown> {
  const out = { ...vars };
  for (const k of Object.keys(out)) if (typeof out[k] === "string") out[k] = (out[k] as string).replace(/\n$/, "");
  resolveVariables(out);
  return out;
}

function resolveVariables(vars: Record<string, unknown>): void {
  const re = /\{\{\s*(\w+)\s*\}\}/;
  let iterations = 0;
  let resolved: boolean;
  do {
    resolved = true;
    for (const key of Object.keys(vars)) {
      const value = vars[key];
      if (typeof value !== "string") continue;
      const m = re.exec(value);
      if (m && vars[m[1]!] !== undefined) {
        vars[key] = value.replace(m[0], String(vars[m[1]!]));
        resolved = false;
      }
    }
    iterations++;
  } while (!resolved && iterations < 5);
}

function autoWrapRaw(prompt: string): string {
  const partial = /({%[^%]*$|{{[^}]*$|{#[^#]*$)/m.test(prompt);
  const wrapped = /{%\s*raw\s*%}/.test(prompt) && /{%\s*endraw\s*%}/.test(prompt);
  return partial && !wrapped ? `{% raw %}${prompt}{% endraw %}` : prompt;
}

function referencesUndefined(template: string, vars: Record<string, unknown>): boolean {
  // promptfoo's extractVariablesFromTemplate: a regex over {{ x }} and {% if/for x %}.
  const re = /\{\{[\s]*([^{}\s|]+)[\s]*(?:\|[^}]+)?\}\}|\{%[\s]*(?:if|for)[\s]+([^{}\s]+)[\s]*.*?%\}/g;
  const t = template.replace(/\{#[\s\S]*?#\}/g, "");
  const names = new Set<string>();
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) if (m[1] || m[2]) names.add((m[1] || m[2])!);
  const loops = /\{%[\s]*for[\s]+(\w+)[\s]+in[\s]+(\w+)[\s]*%\}/g;
  while ((m = loops.exec(t)) !== null) {
    names.delete(m[1]!);
    names.add(m[2]!);
  }
  return [...names].some((n) => {
    const root = /^([A-Za-z_]\w*)/.exec(n)?.[1];
    return Boolean(root && root !== "env" && vars[root] === undefined);
  });
}

function renderInObject(obj: unknown, vars: Record<string, unknown>, render: (s: string) => string): unknown {
  if (typeof obj === "string") return render(obj);
  if (Array.isArray(obj)) return obj.map((x) => renderInObject(x, vars, render));
  if (obj && typeof obj === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(obj)) out[k] = renderInObject((obj as Record<string, unknown>)[k], vars, render);
    return out;
  }
  return obj;
}

/** The prompt text promptfoo sends to the provider (before chat parsing). */
export function renderPromptfooString(raw: string, varsIn: Record<string, unknown>, ctx: PromptfooRenderContext): string {
  const env = environment({ env: ctx.env, filters: { load: (s: never) => JSON.parse(String(s)) } });
  const data = renderData(varsIn);
  const vars = data.vars;
  const base = `${data.prefix ?? ""}${raw}${data.suffix ?? ""}`;
  const render = (s: string) => renderTemplate(env, s, vars);
  let parsed: unknown;
  let isJson = false;
  try {
    parsed = JSON.parse(base);
    isJson = true;
  } catch {
    isJson = false;
  }
  if (isJson) return JSON.stringify(renderInObject(parsed, vars, render), null, 2);
  const rendered: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(vars)) {
    rendered[k] = typeof v !== "string" || referencesUndefined(v, vars) ? v : renderTemplate(env, autoWrapRaw(v), vars);
  }
  return renderTemplate(env, autoWrapRaw(base), rendered);
}

function looksLikeJson(s: string): boolean {
  return (s.startsWith("{") && s.endsWith("}")) || (s.startsWith("[") && s.endsWith("]"));
}

/** One message's content as text; image and other non-text parts are refused with a reason. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => {
        if (typeof p === "string") return p;
        if (p && typeof p === "object" && (p as { type?: unknown }).type === "text") return String((p as { text?: unknown }).text ?? "");
        throw new Error(`a message part of type '${String((p as { type?: unknown })?.type)}' (images, audio, files) cannot be sent to a local text model`);
      })
      .join("");
  }
  if (content === null || content === undefined) return "";
  return JSON.stringify(content);
}

/** promptfoo's parseChatPrompt as the OpenAI-style chat providers apply it, in Dotprompt's message shape. */
export function chatMessages(rendered: string): AdoptedMessage[] {
  const trimmed = rendered.trim();
  let parsed: unknown;
  if (trimmed.startsWith("- role:")) {
    try {
      parsed = YAML.parse(rendered);
    } catch (e) {
      throw new Error(`the rendered prompt starts like a YAML list of messages but is not valid YAML: ${(e as Error).message}`);
    }
  } else {
    try {
      parsed = JSON.parse(rendered);
    } catch (e) {
      if (looksLikeJson(trimmed)) throw new Error(`the rendered prompt looks like JSON chat messages but is not valid JSON: ${(e as Error).message}`);
      return [{ role: "user", content: [{ text: rendered }] }];
    }
  }
  if (!Array.isArray(parsed)) return [{ role: "user", content: [{ text: rendered }] }];
  return parsed.map((m, i) => {
    const role = m && typeof m === "object" ? String((m as { role?: unknown }).role ?? "") : "";
    const r = dotpromptRole(role);
    if (!r) throw new Error(`message ${i + 1} has role '${role}'; Driftlens sends system, user and assistant messages`);
    return { role: r, content: [{ text: contentText((m as { content?: unknown }).content) }] };
  });
}

/**
 * A piece of a promptfoo template rendered alone, as it renders inside the whole prompt: in a JSON
 * prompt against the vars, otherwise against the vars rendered first (for `driftlens import`).
 */
export function renderFragment(fragment: string, varsIn: Record<string, unknown>, ctx: PromptfooRenderContext, jsonMode: boolean): string {
  const env = environment({ env: ctx.env, filters: { load: (s: never) => JSON.parse(String(s)) } });
  const v = renderData(varsIn).vars;
  if (jsonMode) return renderTemplate(env, fragment, v);
  const rendered: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) rendered[k] = typeof x !== "string" || referencesUndefined(x, v) ? x : renderTemplate(env, autoWrapRaw(x), v);
  return renderTemplate(env, autoWrapRaw(fragment), rendered);
}

export function renderPromptfoo(raw: string, vars: Record<string, unknown>, ctx: PromptfooRenderContext, config: Record<string, unknown>): AdoptedRender {
  const text = renderPromptfooString(raw, vars, ctx);
  return { messages: chatMessages(text), config };
}

/** Root variables a promptfoo prompt reads (nunjucks AST; JSON prompts: each string). */
export function promptfooVariables(raw: string): { variables: string[]; problem?: { message: string; line?: number; character?: number } } {
  let strings: string[] = [raw];
  try {
    const parsed = JSON.parse(raw);
    strings = [];
    const walk = (v: unknown) => {
      if (typeof v === "string") strings.push(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") Object.values(v).forEach(walk);
    };
    walk(parsed);
  } catch {
    strings = [autoWrapRaw(raw)];
  }
  const vars = new Set<string>();
  for (const s of strings) {
    const c = checkTemplate(s);
    if (!c.ok) return { variables: [...vars], ...(c.problem ? { problem: c.problem } : {}) };
    if (c.blocked.length) return { variables: [...vars], problem: { message: `the template reaches ${c.blocked.join(", ")}, which Driftlens refuses to render (no code runs from templates)` } };
    for (const v of c.variables) vars.add(v);
  }
  return { variables: [...vars] };
}

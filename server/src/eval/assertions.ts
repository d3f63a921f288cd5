// Eval assertions with promptfoo's names and semantics (docs/assertions.md): each returns
// {pass, score, message}; a `not-` prefix inverts any of them; a case passes when every weighted
// assertion passes, or, when the case sets `threshold`, when the weighted mean score reaches it.
// Custom `javascript` assertions run only when the caller says the workspace is trusted, in a
// worker thread under node:vm with a timeout, never on the caller's event loop.
import Ajv, { type ValidateFunction } from "ajv";
import { distance as levenshteinDistance } from "fastest-levenshtein";
import { Worker } from "node:worker_threads";
import YAML from "yaml";
import { ASSERTION_TYPES } from "../artifacts/evalset";
import { GraderConfigError, gradeModelGraded, type Judge } from "./graders/grade";
import { isModelGraded } from "./graders/prompts";

/** One assertion as written in an eval set (promptfoo's shape). */
export interface Assertion {
  type: string;
  value?: unknown;
  threshold?: number;
  weight?: number;
  [key: string]: unknown;
}

export interface AssertionContext {
  /** The case's vars: `{{name}}` in string values is replaced by them, as promptfoo does. */
  vars?: Record<string, unknown>;
  /** Wall time of the generation, ms (for `latency`). */
  latencyMs?: number;
  /** Whether `javascript` assertions may run (the workspace is trusted). Default false. */
  trusted?: boolean;
  /** Timeout per `javascript` assertion, ms (default 1000). */
  jsTimeoutMs?: number;
  /** Embeds texts with the configured embedding model (for `similar`); absent when none is configured. */
  embed?: (texts: string[]) => Promise<number[][]>;
  /** The case's `threshold`: pass when the weighted score reaches it instead of all-must-pass. */
  threshold?: number;
  /** Extra data handed to `javascript` assertions as `context` (case id, tags, …). */
  extra?: Record<string, unknown>;
  /** Asks the grader variant (model-graded assertions); absent: they fail saying a judge is needed. */
  judge?: Judge;
  /** The rendered prompt the output answers (what model-graded assertions show the judge). */
  prompt?: string;
}

export interface AssertionResult {
  type: string;
  pass: boolean;
  /** 0..1. */
  score: number;
  /** Why it failed (or what was measured); empty when there is nothing to say. */
  message: string;
  weight: number;
}

export interface CaseEvaluation {
  pass: boolean;
  /** Weighted mean of the scores (1 when there are no weighted assertions). */
  score: number;
  assertions: AssertionResult[];
}

/** Every base type (each also has a `not-` form): one list, shared with the eval-set parser. */
export { ASSERTION_TYPES };

export function isKnownAssertionType(type: string): boolean {
  const base = type.startsWith("not-") ? type.slice(4) : type;
  return (ASSERTION_TYPES as readonly string[]).includes(base);
}

interface Raw {
  pass: boolean;
  score?: number;
  message: string;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const schemaCache = new Map<string, ValidateFunction>();

function short(s: string, n = 60): string {
  const one = JSON.stringify(s.length > n ? s.slice(0, n) + "…" : s);
  return one;
}

/** promptfoo renders `{{var}}` in assertion values with the case's vars. */
function renderVars(v: unknown, vars: Record<string, unknown> | undefined): unknown {
  if (!vars) return v;
  if (typeof v === "string") {
    return v.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (m, name: string) => {
      let cur: unknown = vars;
      for (const part of name.split(".")) {
        if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur as object, part)) return m;
        cur = (cur as Record<string, unknown>)[part];
      }
      return typeof cur === "string" ? cur : JSON.stringify(cur);
    });
  }
  if (Array.isArray(v)) return v.map((x) => renderVars(x, vars));
  return v;
}

/** contains-any/all take a list, or a comma-separated string (promptfoo). */
function asList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => String(x));
  if (typeof v === "string") return v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (v === undefined || v === null) return [];
  return [String(v)];
}

function needValue(a: Assertion): void {
  if (a.value === undefined || a.value === null) throw new AssertionConfigError(`'${a.type}' needs a value`);
}

class AssertionConfigError extends Error {}

function compileSchema(schema: unknown): ValidateFunction {
  let s = schema;
  if (typeof s === "string") {
    try {
      s = YAML.parse(s);
    } catch (e) {
      throw new AssertionConfigError(`the JSON Schema is not valid YAML/JSON: ${(e as Error).message}`);
    }
  }
  if (s === null || typeof s !== "object") throw new AssertionConfigError("the JSON Schema must be an object");
  const key = JSON.stringify(s);
  let v = schemaCache.get(key);
  if (!v) {
    try {
      v = ajv.compile(s as object);
    } catch (e) {
      throw new AssertionConfigError(`the JSON Schema is invalid: ${(e as Error).message}`);
    }
    schemaCache.set(key, v);
  }
  return v;
}

function schemaErrors(v: ValidateFunction): string {
  return ajv.errorsText(v.errors, { dataVar: "output" });
}

/**
 * Finds the JSON values embedded in text, in order: every balanced {...} or [...] span that
 * parses (strings and escapes respected), the way promptfoo's contains-json looks for them.
 */
export function extractJsonValues(text: string): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== "{" && c !== "[") {
      i++;
      continue;
    }
    const end = matchBracket(text, i);
    if (end > i) {
      try {
        out.push(JSON.parse(text.slice(i, end + 1)));
        i = end + 1;
        continue;
      } catch {
        // not JSON: try from the next opening bracket
      }
    }
    i++;
  }
  return out;
}

function matchBracket(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  for (let j = start; j < text.length; j++) {
    const ch = text[j]!;
    if (inString) {
      if (ch === "\\") j++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === "{") stack.push("}");
    else if (ch === "[") stack.push("]");
    else if (ch === "}" || ch === "]") {
      if (stack.pop() !== ch) return -1;
      if (stack.length === 0) return j;
    }
  }
  return -1;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b as object, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** Evaluates one non-javascript assertion (base type, before `not-` inversion). */
async function evaluateBase(base: string, a: Assertion, value: unknown, output: string, ctx: AssertionContext): Promise<Raw> {
  switch (base) {
    case "equals": {
      needValue(a);
      if (typeof value === "object") {
        let parsed: unknown;
        try {
          parsed = JSON.parse(output);
        } catch {
          return { pass: false, message: `expected JSON equal to ${JSON.stringify(value)}, output is not JSON` };
        }
        const ok = deepEqual(parsed, value);
        return { pass: ok, message: ok ? "" : `expected JSON ${JSON.stringify(value)}, got ${short(output)}` };
      }
      const ok = output === String(value);
      return { pass: ok, message: ok ? `output equals ${short(String(value))}` : `expected ${short(String(value))}, got ${short(output)}` };
    }
    case "contains":
    case "icontains": {
      needValue(a);
      const ci = base === "icontains";
      const ok = ci ? output.toLowerCase().includes(String(value).toLowerCase()) : output.includes(String(value));
      return { pass: ok, message: ok ? `output contains ${short(String(value))}` : `output does not contain ${short(String(value))}` };
    }
    case "contains-any":
    case "icontains-any":
    case "contains-all":
    case "icontains-all": {
      needValue(a);
      const ci = base.startsWith("i");
      const list = asList(value);
      const hay = ci ? output.toLowerCase() : output;
      const found = list.filter((v) => hay.includes(ci ? v.toLowerCase() : v));
      if (base.endsWith("-any")) {
        const ok = found.length > 0;
        return { pass: ok, message: ok ? `output contains ${short(found[0]!)}` : `output contains none of ${JSON.stringify(list)}` };
      }
      const missing = list.filter((v) => !found.includes(v));
      const ok = missing.length === 0;
      return { pass: ok, message: ok ? `output contains all of ${JSON.stringify(list)}` : `output is missing ${JSON.stringify(missing)}` };
    }
    case "starts-with": {
      needValue(a);
      const ok = output.startsWith(String(value));
      return { pass: ok, message: ok ? `output starts with ${short(String(value))}` : `output does not start with ${short(String(value))}` };
    }
    case "regex": {
      needValue(a);
      let re: RegExp;
      try {
        re = new RegExp(String(value));
      } catch (e) {
        throw new AssertionConfigError(`invalid regular expression ${JSON.stringify(String(value))}: ${(e as Error).message}`);
      }
      const ok = re.test(output);
      return { pass: ok, message: ok ? `output matches /${re.source}/` : `output does not match /${re.source}/` };
    }
    case "is-json":
    case "json-schema": {
      if (base === "json-schema") needValue(a);
      const validate = value !== undefined && value !== null ? compileSchema(value) : undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(output);
      } catch (e) {
        return { pass: false, message: `output is not valid JSON: ${(e as Error).message}` };
      }
      if (validate && !validate(parsed)) return { pass: false, message: `JSON does not match the schema: ${schemaErrors(validate)}` };
      return { pass: true, message: validate ? "output is JSON matching the schema" : "output is valid JSON" };
    }
    case "contains-json": {
      const validate = value !== undefined && value !== null ? compileSchema(value) : undefined;
      const found = extractJsonValues(output);
      if (found.length === 0) return { pass: false, message: "output contains no JSON" };
      if (!validate) return { pass: true, message: "output contains JSON" };
      let lastErr = "";
      for (const v of found) {
        if (validate(v)) return { pass: true, message: "output contains JSON matching the schema" };
        lastErr = schemaErrors(validate);
      }
      return { pass: false, message: `no JSON in the output matches the schema: ${lastErr}` };
    }
    case "levenshtein": {
      needValue(a);
      const max = a.threshold ?? 5;
      const d = levenshteinDistance(output, String(value));
      const ok = d <= max;
      return { pass: ok, message: `edit distance ${d} ${ok ? "≤" : ">"} ${max}` };
    }
    case "word-count": {
      needValue(a);
      const words = output.trim().split(/\s+/).filter((w) => w.length > 0).length;
      if (typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value))) {
        const want = Number(value);
        const ok = words === want;
        return { pass: ok, message: `${words} words, expected exactly ${want}` };
      }
      if (typeof value === "object" && value !== null) {
        const { min, max } = value as { min?: number; max?: number };
        if (min === undefined && max === undefined) throw new AssertionConfigError("'word-count' needs a number or {min, max}");
        const ok = (min === undefined || words >= min) && (max === undefined || words <= max);
        return { pass: ok, message: `${words} words, expected ${min ?? 0}..${max ?? "∞"}` };
      }
      throw new AssertionConfigError("'word-count' needs a number or {min, max}");
    }
    case "latency": {
      if (a.threshold === undefined) throw new AssertionConfigError("'latency' needs a threshold (milliseconds)");
      if (ctx.latencyMs === undefined) return { pass: false, message: "no latency was measured for this output" };
      const ok = ctx.latencyMs <= a.threshold;
      return { pass: ok, message: `latency ${Math.round(ctx.latencyMs)} ms ${ok ? "≤" : ">"} ${a.threshold} ms` };
    }
    case "similar": {
      needValue(a);
      if (!ctx.embed) {
        throw new AssertionConfigError("'similar' needs an embedding model and none is configured: add `embedding: {model: <GGUF path relative to driftlens.yaml, or family/variant>}` to driftlens.yaml (see docs/assertions.md), or use levenshtein, icontains-any or a javascript assertion instead");
      }
      const threshold = a.threshold ?? 0.75;
      const expected = Array.isArray(value) ? value.map(String) : [String(value)];
      const vecs = await ctx.embed([output, ...expected]);
      const out = vecs[0];
      if (!out || vecs.length !== expected.length + 1) throw new Error("the embedding model returned no vectors");
      let best = -1;
      for (let i = 1; i < vecs.length; i++) best = Math.max(best, cosine(out, vecs[i]!));
      return { pass: best >= threshold, score: Math.max(0, best), message: `cosine similarity ${best.toFixed(3)} vs threshold ${threshold}` };
    }
    default:
      if (isModelGraded(base)) {
        try {
          return await gradeModelGraded(base, a, value, output, ctx.prompt ?? "", ctx.judge);
        } catch (e) {
          throw e instanceof GraderConfigError ? new AssertionConfigError(e.message) : e;
        }
      }
      throw new AssertionConfigError(`unknown assertion type '${a.type}'; known: ${ASSERTION_TYPES.join(", ")} (each also as not-…)`);
  }
}

interface JsJob {
  index: number;
  code: string;
  threshold?: number;
}

// The worker's source: for each request, runs its jobs under node:vm with a timeout and posts
// plain results back. One worker serves every request (starting one costs tens of ms).
const JS_WORKER = `
const { parentPort } = require("node:worker_threads");
const vm = require("node:vm");
parentPort.on("message", async (req) => {
  const out = [];
  for (const job of req.jobs) {
    try {
      // promptfoo: a single expression is its value; anything else is a function body.
      const compile = (body) => vm.runInNewContext("(function(output, context) {\\n" + body + "\\n})", {}, { timeout: req.timeoutMs });
      let fn;
      if (/\\n|\\breturn\\b/.test(job.code)) fn = compile(job.code);
      else {
        try { fn = compile("return (" + job.code + ");"); } catch { fn = compile(job.code); }
      }
      let r = vm.runInNewContext("f(output, context)", { f: fn, output: req.output, context: req.context }, { timeout: req.timeoutMs });
      if (r && typeof r.then === "function") {
        r = await Promise.race([r, new Promise((_, rej) => setTimeout(() => rej(new Error("timed out after " + req.timeoutMs + " ms")), req.timeoutMs))]);
      }
      let pass, score, reason = "";
      if (typeof r === "boolean") { pass = r; score = r ? 1 : 0; }
      else if (typeof r === "number") { score = r; pass = job.threshold !== undefined ? r >= job.threshold : r > 0; }
      else if (r && typeof r === "object" && "pass" in r) { pass = Boolean(r.pass); score = typeof r.score === "number" ? r.score : (pass ? 1 : 0); reason = r.reason ? String(r.reason) : ""; }
      else throw new Error("returned " + (r === undefined ? "undefined" : typeof r) + "; return a boolean, a number or {pass, score, reason}");
      out.push({ index: job.index, pass, score, message: reason });
    } catch (e) {
      out.push({ index: job.index, error: e && e.message ? e.message : String(e) });
    }
  }
  parentPort.postMessage({ id: req.id, out });
});
`;

type JsOutcome = { index: number; pass: boolean; score: number; message: string } | { index: number; error: string };

let jsWorker: Worker | undefined;
let jsQueue: Promise<unknown> = Promise.resolve();
let jsNextId = 1;

function getJsWorker(): Worker {
  if (jsWorker) return jsWorker;
  const w = new Worker(JS_WORKER, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 64 }, stdout: true, stderr: true });
  // Never keeps the process alive on its own.
  w.unref();
  w.on("exit", () => {
    if (jsWorker === w) jsWorker = undefined;
  });
  w.on("error", () => {
    if (jsWorker === w) jsWorker = undefined;
  });
  jsWorker = w;
  return w;
}

/** One request at a time, so a runaway assertion that must be killed affects only its own case. */
function runJavascript(jobs: JsJob[], output: string, context: Record<string, unknown>, timeoutMs: number): Promise<JsOutcome[]> {
  const run = () =>
    new Promise<JsOutcome[]>((resolve) => {
      const worker = getJsWorker();
      const id = jsNextId++;
      let settled = false;
      const finish = (r: JsOutcome[], kill = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (kill) {
          if (jsWorker === worker) jsWorker = undefined;
          void worker.terminate();
        }
        resolve(r);
      };
      const onMessage = (m: { id: number; out: JsOutcome[] }) => {
        if (m.id === id) finish(m.out);
      };
      const onError = (e: Error) => finish(jobs.map((j) => ({ index: j.index, error: e.message })), true);
      const onExit = () => finish(jobs.map((j) => ({ index: j.index, error: "the assertion worker exited" })));
      // A job that blocks outside vm's timeout (e.g. a never-settling promise chain) still ends here.
      const timer = setTimeout(() => finish(jobs.map((j) => ({ index: j.index, error: `timed out after ${timeoutMs} ms` })), true), timeoutMs * jobs.length + 2000);
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage({ id, jobs, output, context: JSON.parse(JSON.stringify(context)), timeoutMs });
    });
  const p = jsQueue.then(run, run);
  jsQueue = p;
  return p;
}

/**
 * Evaluates a case's assertions against one output. Never throws for a bad assertion: a
 * misconfigured one fails with a message saying what to fix.
 */
export async function evaluateAssertions(assertions: readonly Assertion[], output: string, ctx: AssertionContext = {}): Promise<CaseEvaluation> {
  const results: (AssertionResult | undefined)[] = new Array(assertions.length);
  const jsJobs: JsJob[] = [];
  for (let i = 0; i < assertions.length; i++) {
    const a = assertions[i]!;
    const type = String(a.type ?? "");
    const inverse = type.startsWith("not-");
    const base = inverse ? type.slice(4) : type;
    const weight = typeof a.weight === "number" && a.weight >= 0 ? a.weight : 1;
    if (base === "javascript") {
      if (!ctx.trusted) {
        results[i] = { type, pass: false, score: 0, weight, message: "javascript assertions run only in a trusted workspace; trust the workspace (or pass --trust to the CLI) to run it" };
        continue;
      }
      if (typeof a.value !== "string" || !a.value.trim()) {
        results[i] = { type, pass: false, score: 0, weight, message: "'javascript' needs its code as a string value" };
        continue;
      }
      jsJobs.push({ index: i, code: a.value, threshold: a.threshold });
      continue;
    }
    try {
      const raw = await evaluateBase(base, a, renderVars(a.value, ctx.vars), output, ctx);
      let pass = raw.pass;
      let score = raw.score ?? (raw.pass ? 1 : 0);
      if (inverse) {
        pass = !pass;
        // not-similar keeps a graded score (1 − similarity); every other not- form is 0 or 1.
        score = base === "similar" ? 1 - score : pass ? 1 : 0;
      }
      results[i] = { type, pass, score, weight, message: inverse && !pass ? `expected not: ${raw.message}` : raw.message };
    } catch (e) {
      const msg = e instanceof AssertionConfigError ? e.message : `'${type}' could not be evaluated: ${(e as Error).message}`;
      results[i] = { type, pass: false, score: 0, weight, message: msg };
    }
  }
  if (jsJobs.length) {
    const outcomes = await runJavascript(jsJobs, output, { vars: ctx.vars ?? {}, latencyMs: ctx.latencyMs, ...(ctx.extra ?? {}) }, ctx.jsTimeoutMs ?? 1000);
    for (const o of outcomes) {
      const a = assertions[o.index]!;
      const type = String(a.type);
      const inverse = type.startsWith("not-");
      const weight = typeof a.weight === "number" && a.weight >= 0 ? a.weight : 1;
      if ("error" in o) {
        results[o.index] = { type, pass: false, score: 0, weight, message: `javascript assertion failed: ${o.error}` };
      } else {
        const pass = inverse ? !o.pass : o.pass;
        const score = inverse ? (pass ? 1 : 0) : Math.max(0, Math.min(1, o.score));
        results[o.index] = { type, pass, score, weight, message: o.message };
      }
    }
  }
  const list = results.map((r, i) => r ?? { type: String(assertions[i]!.type), pass: false, score: 0, weight: 1, message: "not evaluated" });
  return combine(list, ctx.threshold);
}

/**
 * promptfoo's aggregation: score = Σ score·weight / Σ weight. With a case threshold the case passes
 * when score ≥ threshold; without one every assertion of weight > 0 must pass. Weight-0
 * assertions are reported but count toward neither.
 */
export function combine(assertions: AssertionResult[], threshold?: number): CaseEvaluation {
  let total = 0;
  let weights = 0;
  let allPass = true;
  for (const a of assertions) {
    if (a.weight <= 0) continue;
    total += a.score * a.weight;
    weights += a.weight;
    if (!a.pass) allPass = false;
  }
  const score = weights > 0 ? total / weights : 1;
  const pass = threshold !== undefined ? score >= threshold : allPass;
  return { pass, score, assertions };
}

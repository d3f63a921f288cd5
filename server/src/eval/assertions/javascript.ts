// javascript (promptfoo's src/assertions/javascript.ts): the value, with trailing whitespace
// removed, is a function body when it has several lines and an expression otherwise (trailing
// semicolons dropped; a leading const/let/var statement keeps its statements and returns the
// last expression). The result must be a boolean, a number (passes above 0, or at `threshold`;
// the number is the score) or a grading result {pass: boolean, score: number, reason: string};
// anything else fails, as in promptfoo. Differences, by design (docs/assertions.md): the code runs
// only in a trusted workspace, in a worker thread under node:vm with a timeout and no `process`
// or `require`, and `context` holds Driftlens's fields.
import { Worker } from "node:worker_threads";
import { type AssertionContext, type Handler, type HandlerInput, type Verdict } from "./types";

/** Whether the character at `i` is escaped by an odd run of backslashes. */
function escapedAt(code: string, i: number): boolean {
  let n = 0;
  for (let j = i - 1; j >= 0 && code[j] === "\\"; j--) n++;
  return n % 2 === 1;
}

/** The last `;` outside string and template literals (-1 when none). */
function lastStatementSemicolon(code: string): number {
  let single = false;
  let double = false;
  let template = false;
  let last = -1;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (!escapedAt(code, i)) {
      if (c === "'" && !double && !template) single = !single;
      else if (c === '"' && !single && !template) double = !double;
      else if (c === "`" && !single && !double) template = !template;
    }
    if (c === ";" && !single && !double && !template) last = i;
  }
  return last;
}

/** A one-line assertion as a function body that returns its value. */
export function functionBody(code: string): string {
  const trimmed = code.trimEnd();
  if (trimmed.includes("\n")) return trimmed;
  const line = trimmed.trim().replace(/;+\s*$/, "");
  if (/^(const|let|var)\s/.test(line)) {
    const at = lastStatementSemicolon(line);
    if (at !== -1) {
      const expression = line.slice(at + 1).trim();
      if (expression) return `${line.slice(0, at + 1)} return ${expression}`;
    }
    return line;
  }
  return `return ${line}`;
}

// The worker's source: runs one body under node:vm with a timeout and posts a plain result back.
// One worker serves every request (starting one costs tens of ms).
const JS_WORKER = `
const { parentPort } = require("node:worker_threads");
const vm = require("node:vm");
function isGradingResult(r) {
  const optional = (v, t) => v === undefined || typeof v === t;
  return typeof r === "object" && r !== null && typeof r.pass === "boolean" && typeof r.score === "number" && typeof r.reason === "string" &&
    optional(r.namedScores, "object") && optional(r.namedScoreWeights, "object") && optional(r.tokensUsed, "object") &&
    (r.componentResults === undefined || Array.isArray(r.componentResults)) && (r.assertion === undefined || r.assertion === null || typeof r.assertion === "object") &&
    optional(r.comment, "string");
}
function describe(r) {
  let s;
  try { s = JSON.stringify(r); } catch { s = String(r); }
  return "Got type " + typeof r + ": " + (s === undefined ? String(r) : s.length > 200 ? s.slice(0, 200) + "…" : s);
}
parentPort.on("message", async (req) => {
  try {
    const fn = vm.runInNewContext("(function(output, context) {\\n" + req.body + "\\n})", {}, { timeout: req.timeoutMs });
    let r = vm.runInNewContext("f(output, context)", { f: fn, output: req.output, context: req.context }, { timeout: req.timeoutMs });
    if (r && typeof r.then === "function") {
      r = await Promise.race([r, new Promise((_, rej) => setTimeout(() => rej(new Error("timed out after " + req.timeoutMs + " ms")), req.timeoutMs))]);
    }
    if (typeof r === "boolean" || typeof r === "number") parentPort.postMessage({ id: req.id, value: r });
    else if (isGradingResult(r)) parentPort.postMessage({ id: req.id, value: { pass: r.pass, score: r.score, reason: r.reason } });
    else parentPort.postMessage({ id: req.id, error: "the code must return a boolean, a number or {pass: boolean, score: number, reason: string}. " + describe(r) });
  } catch (e) {
    parentPort.postMessage({ id: req.id, error: e && e.message ? e.message : String(e) });
  }
});
`;

type JsValue = boolean | number | { pass: boolean; score: number; reason: string };
type JsOutcome = { value: JsValue } | { error: string };

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

/** One request at a time, so a runaway assertion that must be killed affects only itself. */
function runInWorker(body: string, output: string, context: Record<string, unknown>, timeoutMs: number): Promise<JsOutcome> {
  const run = () =>
    new Promise<JsOutcome>((resolve) => {
      const worker = getJsWorker();
      const id = jsNextId++;
      let settled = false;
      const finish = (r: JsOutcome, kill = false) => {
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
      const onMessage = (m: { id: number } & JsOutcome) => {
        if (m.id === id) finish("error" in m ? { error: m.error } : { value: m.value });
      };
      const onError = (e: Error) => finish({ error: e.message }, true);
      const onExit = () => finish({ error: "the assertion worker exited" });
      // Code that blocks outside vm's timeout (e.g. a never-settling promise chain) still ends here.
      const timer = setTimeout(() => finish({ error: `timed out after ${timeoutMs} ms` }, true), timeoutMs + 2000);
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage({ id, body, output, context: JSON.parse(JSON.stringify(context)) as unknown, timeoutMs });
    });
  const p = jsQueue.then(run, run);
  jsQueue = p;
  return p;
}

/** promptfoo's normalization of a custom function's result, `not-` applied. */
function normalize(r: JsValue, inverse: boolean, threshold: number | undefined): Verdict {
  if (typeof r === "boolean") {
    const pass = r !== inverse;
    return { pass, score: pass ? 1 : 0, message: pass ? "" : `the code returned ${r}` };
  }
  if (typeof r === "number") {
    const raw = threshold === undefined ? r > 0 : r >= threshold;
    const pass = raw !== inverse;
    return { pass, score: r, message: pass ? "" : `the code returned ${r}${threshold === undefined ? "" : ` (threshold ${threshold})`}` };
  }
  const pass = r.pass !== inverse;
  return { pass, score: r.score, message: pass === r.pass ? r.reason : pass ? "" : `the code returned pass: ${r.pass}` };
}

async function javascript(input: HandlerInput, ctx: AssertionContext): Promise<Verdict> {
  if (!ctx.trusted) {
    return { pass: false, score: 0, message: "javascript assertions run only in a trusted workspace; trust the workspace (or pass --trust to the CLI) to run it" };
  }
  const context = { vars: ctx.vars ?? {}, latencyMs: ctx.latencyMs, ...(ctx.extra ?? {}) };
  const r = await runInWorker(functionBody(String(input.value)), input.output, context, ctx.jsTimeoutMs ?? 1000);
  if ("error" in r) return { pass: false, score: 0, message: `javascript assertion failed: ${r.error}` };
  return normalize(r.value, input.inverse, input.assertion.threshold);
}

export const javascriptHandler: Handler = { kind: "context", evaluate: javascript };

// Eval assertions with promptfoo's names and semantics (docs/assertions.md). Each assertion is
// first checked and its value rendered by prepareAssertion, the function `driftlens check` uses,
// so an assertion check calls an error is refused here with the same message (and the case is an
// error, as in promptfoo when an assertion throws). Then its type's handler (./table.ts) gives the
// verdict; `not-` is applied by the handler, as promptfoo's handlers do. A case passes when every
// assertion of weight > 0 passes, or, with a case `threshold`, when the weighted mean score
// reaches it.
import { ASSERTION_TYPES, isAssertionType, prepareAssertion, type Assertion, type AssertionType } from "../../artifacts/assertions";
import { runBounded } from "./bounded";
import { runTransform } from "./javascript";
import { HANDLERS } from "./table";
import { AssertionRuntimeError, type AssertionContext, type Handler, type HandlerInput, type Verdict } from "./types";

export { ASSERTION_TYPES, type Assertion, type AssertionType };
export { HANDLERS } from "./table";
export { extractJsonObjects } from "./json";
export { functionBody } from "./javascript";
export type { AssertionContext, Handler, HandlerInput, Verdict } from "./types";

export interface AssertionResult {
  type: string;
  pass: boolean;
  /** promptfoo's score: 0..1 for most types; a javascript assertion's number as returned. */
  score: number;
  /** Why it failed (or what was measured); empty when there is nothing to say. */
  message: string;
  weight: number;
  /** Set when the assertion could not be evaluated (a configuration error, a time limit, a missing model). */
  error?: true;
}

export interface CaseEvaluation {
  pass: boolean;
  /** Weighted mean of the scores. */
  score: number;
  assertions: AssertionResult[];
  /** The first assertion that could not be evaluated, by its message: the case is an error. */
  error?: string;
}

export function isKnownAssertionType(type: string): boolean {
  return isAssertionType(type.startsWith("not-") ? type.slice(4) : type);
}

const DEFAULT_PATTERN_TIMEOUT_MS = 1000;

async function run(handler: Handler, input: HandlerInput, ctx: AssertionContext): Promise<Verdict> {
  if (handler.kind === "inline") return handler.evaluate(input);
  if (handler.kind === "context") return handler.evaluate(input, ctx);
  const limit = ctx.patternTimeoutMs ?? DEFAULT_PATTERN_TIMEOUT_MS;
  const r = await runBounded(input, limit);
  if ("verdict" in r) return r.verdict;
  if ("error" in r) throw new AssertionRuntimeError(r.error);
  throw new AssertionRuntimeError(
    `'${input.assertion.type}' ran out of time: ${handler.activity} took over ${limit} ms and was stopped. A pattern with nested repetition, such as (a+)+ or ([\\w\\s]+)+, can take exponential time on some outputs; simplify the pattern`,
  );
}

/** The text assertions read of an output a transform made (promptfoo's coerceString). */
function outputText(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
}

/** Runs a promptfoo output transform (trusted workspaces only, in the javascript sandbox). */
async function applyTransform(code: unknown, output: unknown, ctx: AssertionContext, label: string): Promise<{ value: unknown } | { error: string }> {
  if (typeof code !== "string" || code.trim() === "") return { error: `${label} must be JavaScript code (a string)` };
  if (!ctx.trusted) return { error: `${label} is JavaScript, which runs only in a trusted workspace; trust the workspace (or pass --trust to the CLI) to run it` };
  const r = await runTransform(code, output, { vars: ctx.vars ?? {}, latencyMs: ctx.latencyMs, ...(ctx.extra ?? {}) }, ctx.jsTimeoutMs ?? 1000);
  return "error" in r ? { error: `${label} failed: ${r.error}` } : r;
}

/** Evaluates one assertion. Never throws: what cannot be evaluated is an error result with a message. */
export async function evaluateAssertion(raw: Assertion, output: string, ctx: AssertionContext = {}): Promise<AssertionResult> {
  const transform = ctx.assertionTransforms && raw !== null && typeof raw === "object" && "transform" in raw ? (raw as { transform?: unknown }).transform : undefined;
  if (transform !== undefined) {
    // promptfoo runs an assertion's transform on the output (a test's transform already applied) first.
    const { transform: _t, ...rest } = raw as Assertion & { transform?: unknown };
    const written = typeof rest.type === "string" ? rest.type : "";
    const t = await applyTransform(transform, ctx.outputValue !== undefined ? ctx.outputValue : output, ctx, `the transform of '${written}'`);
    if ("error" in t) return { type: written, pass: false, score: 0, weight: typeof rest.weight === "number" && rest.weight >= 0 ? rest.weight : 1, message: t.error, error: true };
    return evaluateAssertion(rest as Assertion, outputText(t.value), { ...ctx, assertionTransforms: false, outputValue: typeof t.value === "string" ? undefined : t.value });
  }
  const p = prepareAssertion(raw, ctx.vars ?? {});
  const type = p.written || String((raw as { type?: unknown } | null)?.type ?? "");
  if (p.error || !p.type) return { type, pass: false, score: 0, weight: p.weight, message: p.error ?? "not evaluated", error: true };
  const input: HandlerInput = { assertion: p.assertion, type: p.type, inverse: p.inverse, value: p.value, output };
  try {
    const v = await run(HANDLERS[p.type], input, ctx);
    return { type, pass: v.pass, score: v.score, weight: p.weight, message: v.message };
  } catch (e) {
    const message = e instanceof AssertionRuntimeError ? e.message : `'${type}' could not be evaluated: ${(e as Error).message}`;
    return { type, pass: false, score: 0, weight: p.weight, message, error: true };
  }
}

/** Evaluates a case's assertions against one output (after the case's transform, when it has one). Never throws. */
export async function evaluateAssertions(assertions: readonly Assertion[], output: string, ctx: AssertionContext = {}): Promise<CaseEvaluation> {
  let text = output;
  let c = ctx;
  if (ctx.transform !== undefined) {
    const t = await applyTransform(ctx.transform, output, ctx, "the test's transform");
    if ("error" in t) return combine([{ type: "transform", pass: false, score: 0, weight: 1, message: t.error, error: true }], ctx.threshold);
    text = outputText(t.value);
    c = { ...ctx, transform: undefined, outputValue: typeof t.value === "string" ? undefined : t.value };
  }
  const results: AssertionResult[] = [];
  for (const a of assertions) results.push(await evaluateAssertion(a, text, c));
  return combine(results, ctx.threshold);
}

/**
 * promptfoo's aggregation: score = Σ score·weight / Σ weight (0 when no assertion has weight, 1
 * with no assertions at all). With a case threshold the case passes when score ≥ threshold;
 * without one every assertion of weight > 0 must pass. Weight-0 assertions are reported with
 * their own result but count toward neither. An assertion that could not be evaluated makes the
 * case an error (it fails, whatever the threshold).
 */
export function combine(assertions: AssertionResult[], threshold?: number): CaseEvaluation {
  if (assertions.length === 0) return { pass: true, score: 1, assertions };
  let total = 0;
  let weights = 0;
  let allPass = true;
  for (const a of assertions) {
    if (a.weight <= 0) continue;
    total += a.score * a.weight;
    weights += a.weight;
    if (!a.pass) allPass = false;
  }
  const score = weights > 0 ? total / weights : 0;
  const failed = assertions.find((a) => a.error);
  const pass = failed ? false : typeof threshold === "number" && !Number.isNaN(threshold) ? score >= threshold : allPass;
  return { pass, score, assertions, ...(failed ? { error: failed.message } : {}) };
}

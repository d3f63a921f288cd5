// Eval assertions with promptfoo's names and semantics (docs/assertions.md). Each assertion is
// first checked and its value rendered by prepareAssertion, the function `driftlens check` uses,
// so an assertion check calls an error is refused here with the same message (and the case is an
// error, as in promptfoo when an assertion throws). Then its type's handler (./table.ts) gives the
// verdict; `not-` is applied by the handler, as promptfoo's handlers do. A case passes when every
// assertion of weight > 0 passes, or, with a case `threshold`, when the weighted mean score
// reaches it.
import { ASSERTION_TYPES, isAssertionType, prepareAssertion, type Assertion, type AssertionType } from "../../artifacts/assertions";
import { runBounded } from "./bounded";
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

/** Evaluates one assertion. Never throws: what cannot be evaluated is an error result with a message. */
export async function evaluateAssertion(raw: Assertion, output: string, ctx: AssertionContext = {}): Promise<AssertionResult> {
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

/** Evaluates a case's assertions against one output. Never throws. */
export async function evaluateAssertions(assertions: readonly Assertion[], output: string, ctx: AssertionContext = {}): Promise<CaseEvaluation> {
  const results: AssertionResult[] = [];
  for (const a of assertions) results.push(await evaluateAssertion(a, output, ctx));
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

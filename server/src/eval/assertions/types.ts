// The evaluator's side of the assertion table: what a handler receives and returns, and the
// context a run supplies (vars, latency, trust, embeddings; model graders plug in here too).
import type { Assertion, AssertionType } from "../../artifacts/assertions";

export interface AssertionContext {
  /** The case's vars: templates in values are rendered with them, as promptfoo does. */
  vars?: Record<string, unknown>;
  /** Wall time of the generation, ms (for `latency`). */
  latencyMs?: number;
  /** Whether `javascript` assertions may run (the workspace is trusted). Default false. */
  trusted?: boolean;
  /** Timeout per `javascript` assertion, ms (default 1000). */
  jsTimeoutMs?: number;
  /** Time limit for matching a pattern or validating a schema, ms (default 1000). */
  patternTimeoutMs?: number;
  /** Embeds texts with the configured embedding model (for `similar`); absent when none is configured. */
  embed?: (texts: string[]) => Promise<number[][]>;
  /** The case's `threshold`: pass when the weighted score reaches it instead of all-must-pass. */
  threshold?: number;
  /** Extra data handed to `javascript` assertions as `context` (case id, tags, …). */
  extra?: Record<string, unknown>;
}

/** What a handler evaluates: the assertion, its base type and `not-`, its checked and rendered value, the output. */
export interface HandlerInput {
  assertion: Assertion;
  type: AssertionType;
  inverse: boolean;
  value: unknown;
  output: string;
}

/**
 * A handler's verdict, `not-` already applied (promptfoo's handlers apply it themselves, and not
 * always as a plain negation: see contains-json or similar). `score` is promptfoo's score.
 */
export interface Verdict {
  pass: boolean;
  score: number;
  message: string;
}

/**
 * How a type is evaluated. `inline`: cheap and linear in the output, run where it is called.
 * `bounded`: may take time super-linear in the output (regular expressions, JSON Schemas with
 * patterns, the JSON search of contains-json): run in the pattern worker under a time limit, and
 * must be pure (its input crosses to the worker by structured clone). `context`: needs what the
 * run supplies (latency, embeddings, the JavaScript sandbox, a grader) and may be async.
 */
export type Handler =
  | { kind: "inline"; evaluate(input: HandlerInput): Verdict }
  | { kind: "bounded"; evaluate(input: HandlerInput): Verdict; activity: string }
  | { kind: "context"; evaluate(input: HandlerInput, ctx: AssertionContext): Verdict | Promise<Verdict> };

/** The output cannot be judged (a missing measurement or model, a time limit): the case is an error. */
export class AssertionRuntimeError extends Error {}

/** promptfoo's pass/fail phrasing: "expected output to [not ]…". */
export function expected(inverse: boolean, what: string): string {
  return `expected output to ${inverse ? "not " : ""}${what}`;
}

/** A short, quoted view of a string for messages. */
export function quote(s: string, n = 80): string {
  return JSON.stringify(s.length > n ? s.slice(0, n) + "…" : s);
}

/** A pass/fail verdict from whether the base condition holds: score 1 or 0, a message when it fails. */
export function verdict(holds: boolean, inverse: boolean, phrase: string, detail = ""): Verdict {
  const pass = holds !== inverse;
  return { pass, score: pass ? 1 : 0, message: pass ? "" : `${expected(inverse, phrase)}${detail ? `; ${detail}` : ""}` };
}

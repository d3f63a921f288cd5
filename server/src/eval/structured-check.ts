// The check every output of a JSON prompt gets: parsed as JSON and validated against the prompt's
// output schema (Genkit does the same after generation). Reported beside the case's own
// assertions as `structured-output`, so a case whose output is not valid JSON fails with the
// reason — constrained or not (`driftlens.constrain: false` is measured by exactly this check).
// The validation is the `is-json` assertion's (with the schema as its value), so a schema's
// `pattern` is evaluated under the same time bound as any assertion's.
import type { StructuredOutputSpec } from "../artifacts/structured";
import { evaluateAssertions, type AssertionResult } from "./assertions";

export const STRUCTURED_CHECK_TYPE = "structured-output";

/** Parses and validates one output of a JSON prompt. `stopReason` explains a cut-off output. */
export async function checkStructuredOutput(output: string, spec: StructuredOutputSpec, stopReason?: string): Promise<AssertionResult> {
  const ev = await evaluateAssertions([{ type: "is-json", ...(spec.schema ? { value: spec.schema } : {}) }], output);
  const a = ev.assertions[0];
  const pass = a?.pass === true;
  if (pass) return { type: STRUCTURED_CHECK_TYPE, pass: true, score: 1, weight: 1, message: spec.schema ? "output is JSON matching the prompt's output schema" : "output is valid JSON" };
  let parses = true;
  try {
    JSON.parse(output);
  } catch {
    parses = false;
  }
  const free = spec.constrained ? "" : " (generated without a grammar: driftlens.constrain is false)";
  const cut = !parses && stopReason === "maxTokens" ? "; generation stopped at maxOutputTokens before the JSON was complete: raise config.maxOutputTokens or bound the schema tighter" : "";
  const what = parses ? "output JSON does not match the prompt's output schema" : "output is not valid JSON";
  // The assertion's own words without the part this message already says.
  const detail = (a?.message ?? "not evaluated").replace(/^(output is not valid JSON|(output )?JSON does not match the schema)\s*:\s*/i, "");
  return { type: STRUCTURED_CHECK_TYPE, pass: false, score: 0, weight: 1, message: `${what}${free}: ${detail}${cut}` };
}

// The check every output of a JSON prompt gets: parsed as JSON and validated against the prompt's
// output schema (Genkit does the same after generation). Reported beside the case's own
// assertions as `structured-output`, so a case whose output is not valid JSON fails with the
// reason — constrained or not (`driftlens.constrain: false` is measured by exactly this check).
import Ajv, { type ValidateFunction } from "ajv";
import type { StructuredOutputSpec } from "../artifacts/structured";
import type { AssertionResult } from "./assertions";

export const STRUCTURED_CHECK_TYPE = "structured-output";

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<string, ValidateFunction | string>();

function validatorFor(schema: Record<string, unknown>): ValidateFunction | string {
  const key = JSON.stringify(schema);
  let v = validators.get(key);
  if (v === undefined) {
    try {
      v = ajv.compile(schema);
    } catch (e) {
      v = `the prompt's output schema is not a valid JSON Schema: ${(e as Error).message}`;
    }
    validators.set(key, v);
    if (validators.size > 128) validators.delete(validators.keys().next().value as string);
  }
  return v;
}

/** Parses and validates one output of a JSON prompt. `stopReason` explains a cut-off output. */
export function checkStructuredOutput(output: string, spec: StructuredOutputSpec, stopReason?: string): AssertionResult {
  const fail = (message: string): AssertionResult => ({ type: STRUCTURED_CHECK_TYPE, pass: false, score: 0, weight: 1, message });
  let value: unknown;
  try {
    value = JSON.parse(output);
  } catch (e) {
    const cut = stopReason === "maxTokens" ? "; generation stopped at maxOutputTokens before the JSON was complete: raise config.maxOutputTokens or bound the schema tighter" : "";
    const free = spec.constrained ? "" : " (generated without a grammar: driftlens.constrain is false)";
    return fail(`output is not valid JSON${free}: ${(e as Error).message}${cut}`);
  }
  if (spec.schema) {
    const v = validatorFor(spec.schema);
    if (typeof v === "string") return fail(v);
    if (!v(value)) return fail(`output JSON does not match the prompt's output schema: ${ajv.errorsText(v.errors, { dataVar: "output" })}`);
    return { type: STRUCTURED_CHECK_TYPE, pass: true, score: 1, weight: 1, message: "output is JSON matching the prompt's output schema" };
  }
  return { type: STRUCTURED_CHECK_TYPE, pass: true, score: 1, weight: 1, message: "output is valid JSON" };
}

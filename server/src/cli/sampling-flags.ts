// The flags eval, compare and diff share for sampled evals and model-graded assertions.
import { REPEAT_MAX } from "../artifacts/schemas";
import { CliError } from "./common";

export const SAMPLING_FLAGS = {
  repeat: { type: "number" },
  grader: { type: "string" },
} as const;

export const SAMPLING_USAGE = `  --repeat N       samples per case (1-${REPEAT_MAX}) for cases without their own repeat;
                   each sample's seed derives from the run seed, the case and the sample
  --grader V       judge every model-graded assertion with variant V (overrides the
                   graders in the eval sets and driftlens.yaml)`;

/** --repeat as a whole number in range, or undefined. */
export function repeatFlag(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > REPEAT_MAX) throw new CliError(`--repeat must be a whole number from 1 to ${REPEAT_MAX}, not ${String(v)}`);
  return v;
}

/** --grader (or --cross-grader) checked against driftlens.yaml, so a typo is a usage error, not a failing assertion per case. */
export async function graderFlag(v: unknown, flag: string, resolve: (ref: string) => unknown): Promise<string | undefined> {
  if (v === undefined) return undefined;
  const ref = String(v).trim();
  try {
    await resolve(ref);
  } catch (e) {
    throw new CliError(`${flag} ${ref}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return ref;
}

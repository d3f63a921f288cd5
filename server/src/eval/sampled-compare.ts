// How compare and diff pair one case's results under two versions when cases may have been drawn
// several times (`repeat: N`): the statistics see pass fractions and sample counts (the case is
// the unit; its samples stay together), and a flip is a move of the pass fraction by at least
// FLIP_THRESHOLD — with one sample, exactly pass ↔ fail.
import type { EvalCaseReport } from "./runner";
import { flipOf, type PairedOutcome } from "../stats/stats";

type CaseLike = Pick<EvalCaseReport, "pass" | "passFraction" | "samples">;

const samplesOf = (c: CaseLike) => Math.max(1, c.samples?.length ?? 1);
const fractionOf = (c: CaseLike) => (typeof c.passFraction === "number" ? c.passFraction : c.pass ? 1 : 0);

export function pairedOutcome(base: CaseLike, head: CaseLike): PairedOutcome {
  const sampled = samplesOf(base) > 1 || samplesOf(head) > 1;
  return {
    base: base.pass,
    head: head.pass,
    ...(sampled ? { baseFraction: fractionOf(base), headFraction: fractionOf(head), baseSamples: samplesOf(base), headSamples: samplesOf(head) } : {}),
  };
}

/** The flip between two results of a case, or null; `from`/`to` say which way it went. */
export function caseFlip(base: CaseLike, head: CaseLike): { from: "pass" | "fail"; to: "pass" | "fail"; baseFraction?: number; headFraction?: number } | null {
  if (samplesOf(base) <= 1 && samplesOf(head) <= 1) return base.pass === head.pass ? null : { from: base.pass ? "pass" : "fail", to: head.pass ? "pass" : "fail" };
  const f = flipOf(fractionOf(base), fractionOf(head));
  if (!f) return null;
  return { from: f === "regression" ? "pass" : "fail", to: f === "regression" ? "fail" : "pass", baseFraction: fractionOf(base), headFraction: fractionOf(head) };
}

// Sampled evals (`repeat: N`): a case drawn N times at the prompt's temperature. Sample i's seed
// derives from the run seed, the case id and i (sample 0's is the case seed of an unsampled run,
// so `repeat: 1` changes nothing and its cache entries stay valid); every sample is its own
// generation, cached under its own key, and the N requests of a case share their prompt, so the
// engine evaluates that prompt once and each further sample only generates (prefix reuse).
// The case's record keeps sample 0's output and tokens, the pass fraction decides its pass.
import { sha256, type AssertionRecord, type CaseResultRecord, type SampleRecord } from "../store/store";

/** Most samples per case (the eval-set schema's bound too). */
export { REPEAT_MAX } from "../artifacts/schemas";

/** A case passes when at least this fraction of its samples pass (a majority; one sample: that sample). */
export const CASE_PASS_FRACTION = 0.5;

/** Seed of sample i of a case: i = 0 is the unsampled case seed. */
export function sampleSeed(runSeed: number, caseId: string, i: number): number {
  const h = i === 0 ? sha256(`${runSeed}\u0000${caseId}`) : sha256(`${runSeed}\u0000${caseId}\u0000sample\u0000${i}`);
  return parseInt(h.slice(0, 8), 16) >>> 1;
}

const SEP = "\u0000#";

/** Engine request id of sample i (sample 0 keeps the case id, as an unsampled run sends it). */
export function sampleRequestId(caseId: string, i: number): string {
  return i === 0 ? caseId : `${caseId}${SEP}${i}`;
}

export function parseSampleRequestId(id: string): { caseId: string; i: number } {
  const at = id.lastIndexOf(SEP);
  if (at < 0) return { caseId: id, i: 0 };
  const i = Number(id.slice(at + SEP.length));
  return Number.isInteger(i) && i > 0 ? { caseId: id.slice(0, at), i } : { caseId: id, i: 0 };
}

/** Samples of a case: the case's own `repeat`, else the run's (--repeat), else the eval set's, else 1. */
export function repeatFor(caseRepeat: number | undefined, runRepeat: number | undefined, evalSetRepeat: number | undefined): number {
  for (const r of [caseRepeat, runRepeat, evalSetRepeat]) if (typeof r === "number" && Number.isInteger(r) && r >= 1) return r;
  return 1;
}

/** Pass fraction of a stored case (1 or 0 for a case drawn once). */
export function passFractionOf(r: Pick<CaseResultRecord, "pass" | "samples">): number {
  if (!r.samples || r.samples.length <= 1) return r.pass ? 1 : 0;
  return r.samples.filter((s) => s.pass).length / r.samples.length;
}

/**
 * One case record from its samples' records (in sample order). Pass: at least CASE_PASS_FRACTION
 * of the samples pass; score: the mean; each assertion: passing when it passed in a majority,
 * its message saying in how many.
 */
export function combineSamples(records: CaseResultRecord[], seeds: number[]): CaseResultRecord {
  const first = records[0]!;
  if (records.length === 1) return first;
  const n = records.length;
  const passes = records.filter((r) => r.pass).length;
  const assertions: AssertionRecord[] = first.assertions.map((a, k) => {
    const all = records.map((r) => r.assertions[k]).filter((x): x is AssertionRecord => x !== undefined);
    const ok = all.filter((x) => x.pass).length;
    const firstFail = all.find((x) => !x.pass);
    return {
      type: a.type,
      pass: ok / all.length >= CASE_PASS_FRACTION,
      score: all.reduce((s, x) => s + x.score, 0) / all.length,
      message: `${ok}/${all.length} samples pass${firstFail?.message ? `; first failure: ${firstFail.message}` : ""}`,
      ...(a.weight !== undefined ? { weight: a.weight } : {}),
    };
  });
  const samples: SampleRecord[] = records.map((r, i) => ({
    output: r.output,
    pass: r.pass,
    score: r.score,
    genKey: r.genKey,
    seed: seeds[i]!,
    assertions: r.assertions,
    ...(r.error !== null ? { error: r.error } : {}),
  }));
  return {
    ...first,
    pass: passes / n >= CASE_PASS_FRACTION,
    score: records.reduce((s, r) => s + r.score, 0) / n,
    assertions,
    cached: records.every((r) => r.cached),
    error: records.find((r) => r.error !== null)?.error ?? null,
    samples,
  };
}

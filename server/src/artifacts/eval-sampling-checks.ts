// Eval-set checks for sampled evals and model-graded assertions, which need the prompt and
// driftlens.yaml beside the eval set: `repeat` > 1 on a greedy prompt (every sample would be the
// same; DL320), a grader that is not a variant (DL321), a model-graded assertion with no grader
// anywhere (DL322); and slices too small to detect the gate's slice drop (`gate.maxSliceDrop`, 10
// points by default) with the samples they get (DL309).
import type { EvalSetDoc } from "./evalset";
import { minCasesToDetectDrop } from "../stats/power";
import type { PromptDoc } from "./prompt";
import type { Diagnostic } from "./types";

const MODEL_GRADED = new Set(["llm-rubric", "model-graded-closedqa", "factuality", "g-eval"]);

export interface SamplingCheckContext {
  /** The prompt the eval set covers, when known. */
  prompt?: Pick<PromptDoc, "file" | "config">;
  /** driftlens.yaml's `grader`, when set. */
  configGrader?: string;
  /** Why a variant ref does not resolve; undefined when it does. */
  variantProblem(ref: string): string | undefined;
}

/** The prompt's temperature (0 when unset: greedy); undefined when the prompt is not known. */
const temperatureOf = (prompt: SamplingCheckContext["prompt"]) => (prompt ? (typeof prompt.config.temperature === "number" ? prompt.config.temperature : 0) : undefined);

/**
 * DL309: slices too small for a drop of the gate's `maxSliceDrop` to ever be significant at its `alpha`. The
 * samples a slice's cases get count (the fewest of any of its cases: the bound must hold for all),
 * except on a greedy prompt, whose samples are all the same output.
 */
export function sliceSizeDiagnostics(doc: EvalSetDoc, gate: { maxSliceDrop: number; alpha: number }, prompt?: SamplingCheckContext["prompt"]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { alpha, maxSliceDrop } = gate;
  // A gate that tolerates no slice drop at all fails on any drop: no slice size is too small for it.
  if (!(maxSliceDrop > 0)) return out;
  const points = `${+(maxSliceDrop * 100).toFixed(1)}-point`;
  const greedy = temperatureOf(prompt) === 0;
  const byId = new Map(doc.cases.map((c) => [c.id, c]));
  for (const s of doc.slices) {
    const fewest = greedy ? 1 : Math.min(...s.caseIds.map((id) => byId.get(id)?.repeat ?? doc.repeat ?? 1));
    const n = Number.isFinite(fewest) ? fewest : 1;
    const needed = minCasesToDetectDrop(maxSliceDrop, alpha, n);
    if (s.caseIds.length >= needed) continue;
    const test = n > 1 ? `with ${n} samples per case (one-sided exact sign-flip test on pass fractions)` : "(one-sided exact McNemar)";
    out.push({
      file: doc.file,
      range: s.range,
      severity: "information",
      code: "DL309",
      message: `slice '${s.name}' has ${s.caseIds.length} case${s.caseIds.length === 1 ? "" : "s"}: too few to detect a ${points} pass-rate drop (the gate's maxSliceDrop) at alpha ${alpha} ${test}; it needs at least ${needed}`,
    });
  }
  return out;
}

export function evalSamplingDiagnostics(doc: EvalSetDoc, ctx: SamplingCheckContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const file = doc.file;
  const temperature = temperatureOf(ctx.prompt);
  if (temperature === 0) {
    const greedy = (n: number) => `the prompt's temperature is 0 (greedy decoding), so all ${n} samples would be the same output: set config.temperature above 0 in the prompt, or drop repeat`;
    if (doc.repeat !== undefined && doc.repeat > 1) out.push({ file, range: doc.casesRange, severity: "warning", code: "DL320", message: `repeat: ${doc.repeat} — ${greedy(doc.repeat)}` });
    for (const c of doc.cases) {
      if (c.repeat !== undefined && c.repeat > 1) out.push({ file, range: c.idRange, severity: "warning", code: "DL320", message: `case '${c.id}': repeat: ${c.repeat} — ${greedy(c.repeat)}` });
    }
  }
  if (doc.grader) {
    const p = ctx.variantProblem(doc.grader.ref);
    if (p) out.push({ file, range: doc.grader.range, severity: "error", code: "DL321", message: `grader '${doc.grader.ref}': ${p}` });
  }
  const check = (a: { type: string; grader?: unknown }, where: string, range: Diagnostic["range"]) => {
    const base = a.type.startsWith("not-") ? a.type.slice(4) : a.type;
    if (!MODEL_GRADED.has(base)) return;
    if (typeof a.grader === "string") {
      const p = ctx.variantProblem(a.grader);
      if (p) out.push({ file, range, severity: "error", code: "DL321", message: `${where}: grader '${a.grader}': ${p}` });
      return;
    }
    if (!doc.grader && !ctx.configGrader) {
      out.push({ file, range, severity: "warning", code: "DL322", message: `${where}: '${a.type}' needs a judge model and none is set: add grader: family/variant to the assertion, to the eval set, or to driftlens.yaml (or pass --grader)` });
    }
  };
  for (const a of doc.defaultAssert) check(a, "defaultAssert", doc.casesRange);
  for (const c of doc.cases) for (const a of c.assert) check(a, `case '${c.id}'`, c.idRange);
  return out;
}

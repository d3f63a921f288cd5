// A judge drifts too (a new grader model, a quantized grader): `compare --cross-grader V` grades
// every model-graded assertion of the compared runs again with V and reports how often the two
// graders agree. Both sides go through the judge (the configured grader's verdicts come from the
// cache the runs filled), so this costs only V's verdicts.
import type { EvalRunReport, RunnerCase } from "../runner";
import { gradeModelGraded, type Judge } from "./grade";
import { isModelGraded } from "./prompts";

export interface GraderDisagreement {
  variant: string;
  evalSet: string;
  id: string;
  /** Sample index (0 for a case drawn once). */
  sample: number;
  type: string;
  pass: boolean;
  otherPass: boolean;
  reason: string;
  otherReason: string;
}

export interface GraderAgreement {
  /** The grader the other is compared with: the configured one(s). */
  grader: string;
  other: string;
  /** Verdict pairs compared (assertion × case × sample × variant). */
  verdicts: number;
  /** Share of pairs where both graders give the same pass/fail. */
  agreement: number;
  /** Cohen's kappa of pass/fail (agreement beyond chance); null when one grader never varies. */
  kappa: number | null;
  /** Mean |score − other score|. */
  meanScoreDelta: number;
  byType: Record<string, { verdicts: number; agreement: number }>;
  /** Where they disagree (first 50). */
  disagreements: GraderDisagreement[];
}

/** promptfoo-style `{{var}}` in assertion values, filled from the case's vars (as assertions do). */
function fillVars(v: unknown, vars: Record<string, unknown>): unknown {
  if (typeof v === "string") {
    return v.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (m, name: string) => {
      let cur: unknown = vars;
      for (const part of name.split(".")) {
        if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur as object, part)) return m;
        cur = (cur as Record<string, unknown>)[part];
      }
      return typeof cur === "string" ? cur : JSON.stringify(cur);
    });
  }
  return Array.isArray(v) ? v.map((x) => fillVars(x, vars)) : v;
}

export interface AgreementOptions {
  runs: readonly EvalRunReport[];
  /** The eval set's cases and default assertions. */
  evalSet(file: string): Promise<{ cases: readonly RunnerCase[]; defaultAssert: readonly { type: string; [k: string]: unknown }[] }>;
  /** The rendered prompt of a case (what the judge sees as the task). */
  promptText(run: EvalRunReport, caseId: string): Promise<string>;
  /** The configured grading of an eval set's assertions (its `grader`, driftlens.yaml's), and the other grader's. */
  configured(evalSetFile: string): Judge;
  other: Judge;
  otherRef: string;
}

export async function graderAgreement(opts: AgreementOptions): Promise<GraderAgreement> {
  let n = 0;
  let same = 0;
  let aPass = 0;
  let bPass = 0;
  let delta = 0;
  const byType: Record<string, { verdicts: number; same: number }> = {};
  const disagreements: GraderDisagreement[] = [];
  const graders = new Set<string>();
  for (const run of opts.runs) {
    const es = await opts.evalSet(run.evalSetFile);
    const byId = new Map(es.cases.map((c) => [String(c.id), c]));
    for (const c of run.cases) {
      const def = byId.get(c.id);
      if (!def || c.error) continue;
      const assertions = [...es.defaultAssert, ...(def.assert ?? [])].filter((a) => isModelGraded(a.type.startsWith("not-") ? a.type.slice(4) : a.type));
      if (!assertions.length) continue;
      const prompt = await opts.promptText(run, c.id);
      for (let s = 0; s < c.samples.length; s++) {
        const output = c.samples[s]!.output;
        for (const a of assertions) {
          const inverse = a.type.startsWith("not-");
          const base = (inverse ? a.type.slice(4) : a.type) as Parameters<typeof gradeModelGraded>[0];
          const value = fillVars(a.value, def.vars ?? {});
          const grade = async (judge: Judge) => {
            try {
              const g = await gradeModelGraded(base, a as { grader?: unknown; threshold?: number; options?: unknown }, value, output, prompt, judge);
              return { ...g, pass: inverse ? !g.pass : g.pass };
            } catch (e) {
              return { pass: false, score: 0, message: `no verdict: ${(e as Error).message}` };
            }
          };
          const x = await grade(opts.configured(run.evalSetFile));
          const y = await grade(opts.other);
          const who = /\[grader ([^\]]+)\]$/.exec(x.message)?.[1];
          if (who) graders.add(who);
          n++;
          if (x.pass) aPass++;
          if (y.pass) bPass++;
          delta += Math.abs(x.score - y.score);
          const t = (byType[a.type] ??= { verdicts: 0, same: 0 });
          t.verdicts++;
          if (x.pass === y.pass) {
            same++;
            t.same++;
          } else if (disagreements.length < 50) {
            disagreements.push({ variant: run.variant, evalSet: run.evalSetFile, id: c.id, sample: s, type: a.type, pass: x.pass, otherPass: y.pass, reason: x.message, otherReason: y.message });
          }
        }
      }
    }
  }
  const po = n ? same / n : 1;
  const p1 = n ? aPass / n : 0;
  const q1 = n ? bPass / n : 0;
  const pe = p1 * q1 + (1 - p1) * (1 - q1);
  return {
    grader: [...graders].sort().join(", ") || "(configured)",
    other: opts.otherRef,
    verdicts: n,
    agreement: po,
    kappa: n && pe < 1 ? (po - pe) / (1 - pe) : null,
    meanScoreDelta: n ? delta / n : 0,
    byType: Object.fromEntries(Object.entries(byType).map(([k, v]) => [k, { verdicts: v.verdicts, agreement: v.verdicts ? v.same / v.verdicts : 1 }])),
    disagreements,
  };
}

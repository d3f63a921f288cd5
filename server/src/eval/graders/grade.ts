// Model-graded assertions: build the judge's prompt, ask the judge (a variant from driftlens.yaml,
// through whatever `ctx.judge` the runner provides: cached generation on the same engine
// interface as every other generation), parse the verdict and turn it into an assertion result
// whose message is the judge's reason.
import { FACTUALITY_VERDICT, GEVAL_STEPS, GEVAL_VERDICT, PASS_SCORE_VERDICT, closedQaMessages, factualityMessages, gevalScoreMessages, gevalStepsMessages, rubricMessages, type JudgeInputs, type ModelGradedType, type VerdictShape } from "./prompts";
import type { ChatMessage } from "../../llm/types";

/** One question to a judge. */
export interface JudgeRequest {
  /** The assertion's own `grader:` (a family/variant), if it has one. */
  grader?: string;
  messages: ChatMessage[];
  shape: VerdictShape;
  /** For messages: which assertion asks. */
  purpose: string;
}

/** The judge's raw answer, with the variant that gave it. */
export interface JudgeAnswer {
  text: string;
  grader: string;
  /** Set when the grader answered without a constraint (a served grader whose server cannot take one): why. */
  unconstrained?: string;
}

/** Asks a judge; provided by the runner (resolves the grader, caches, calls the engine). */
export type Judge = (req: JudgeRequest) => Promise<JudgeAnswer>;

export interface GradeResult {
  pass: boolean;
  score: number;
  message: string;
}

/** An assertion configuration the user must fix (reported as the assertion's message, not thrown further). */
export class GraderConfigError extends Error {}

function parseVerdict(a: JudgeAnswer, purpose: string): Record<string, unknown> {
  try {
    const v = JSON.parse(a.text) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Error(`the verdict of grader ${a.grader} for ${purpose} is not the JSON object asked for: ${JSON.stringify(a.text.slice(0, 200))}${a.unconstrained ? ` (${a.unconstrained})` : ""}`);
}

const reasonOf = (v: Record<string, unknown>, a: JudgeAnswer) => `${typeof v.reason === "string" && v.reason.trim() ? v.reason.trim() : "(no reason given)"} [grader ${a.grader}]`;

const FACTUALITY_KEYS = { A: "subset", B: "superset", C: "agree", D: "disagree", E: "differButFactual" } as const;
const FACTUALITY_DEFAULTS: Record<string, number> = { subset: 1, superset: 1, agree: 1, disagree: 0, differButFactual: 1 };

/** The value of a model-graded assertion as text (g-eval also takes a list of criteria). */
function valueText(type: ModelGradedType, value: unknown): string {
  if (typeof value === "string" && value.trim()) return value;
  if (type === "g-eval" && Array.isArray(value) && value.length && value.every((x) => typeof x === "string")) return value.join("\n");
  throw new GraderConfigError(`'${type}' needs ${type === "llm-rubric" ? "the rubric" : type === "factuality" ? "the reference answer" : "the criteria"} as a string 'value'`);
}

/**
 * Grades one output. `assertion` is the assertion as written (for `grader`, `threshold` and
 * factuality's `options.factuality` scores); `value` has the case's vars filled in.
 */
export async function gradeModelGraded(
  type: ModelGradedType,
  assertion: { grader?: unknown; threshold?: number; options?: unknown },
  value: unknown,
  output: string,
  prompt: string,
  judge: Judge | undefined,
): Promise<GradeResult> {
  if (!judge) throw new GraderConfigError(`'${type}' needs a judge model, and this run has none (model-graded assertions run through the eval runner, which asks the grader variant)`);
  if (assertion.grader !== undefined && (typeof assertion.grader !== "string" || !assertion.grader.trim())) throw new GraderConfigError(`'${type}': 'grader' must be a family/variant from driftlens.yaml, e.g. tiny/q8_0`);
  const grader = typeof assertion.grader === "string" ? assertion.grader.trim() : undefined;
  const inputs: JudgeInputs = { output, prompt, value: valueText(type, value) };
  const ask = (messages: ChatMessage[], shape: VerdictShape, purpose: string) => judge({ ...(grader ? { grader } : {}), messages, shape, purpose });
  const threshold = typeof assertion.threshold === "number" ? assertion.threshold : undefined;
  switch (type) {
    case "llm-rubric": {
      const a = await ask(rubricMessages(inputs), PASS_SCORE_VERDICT, type);
      const v = parseVerdict(a, type);
      const verdictPass = v.pass !== false;
      const score = typeof v.score === "number" && Number.isFinite(v.score) ? Math.max(0, Math.min(1, v.score)) : verdictPass ? 1 : 0;
      // promptfoo: the judge's pass, and with a threshold the score must reach it too.
      const pass = verdictPass && (threshold === undefined || score >= threshold);
      return { pass, score, message: reasonOf(v, a) };
    }
    case "model-graded-closedqa": {
      // promptfoo scores closedqa 1 or 0 by the judge's yes/no.
      const a = await ask(closedQaMessages(inputs), PASS_SCORE_VERDICT, type);
      const v = parseVerdict(a, type);
      const pass = v.pass === true;
      return { pass, score: pass ? 1 : 0, message: reasonOf(v, a) };
    }
    case "factuality": {
      const a = await ask(factualityMessages(inputs), FACTUALITY_VERDICT, type);
      const v = parseVerdict(a, type);
      const cat = typeof v.category === "string" ? v.category.trim().toUpperCase() : "";
      if (!(cat in FACTUALITY_KEYS)) throw new Error(`grader ${a.grader} answered category ${JSON.stringify(v.category)}, not one of A–E`);
      const overrides = ((assertion.options as { factuality?: Record<string, unknown> } | undefined)?.factuality ?? {}) as Record<string, unknown>;
      const key = FACTUALITY_KEYS[cat as keyof typeof FACTUALITY_KEYS];
      const score = typeof overrides[key] === "number" ? (overrides[key] as number) : FACTUALITY_DEFAULTS[key]!;
      return { pass: score > 0, score: Math.max(0, Math.min(1, score)), message: `${cat} (${key}): ${reasonOf(v, a)}` };
    }
    case "g-eval": {
      // promptfoo: each criterion of a list is judged on its own (steps, then score); the scores average.
      const criteria = Array.isArray(value) ? (value as string[]) : [inputs.value];
      const min = threshold ?? 0.7;
      const parts: { score: number; message: string }[] = [];
      for (const criterion of criteria) {
        const stepsAnswer = await ask(gevalStepsMessages(criterion), GEVAL_STEPS, "g-eval (steps)");
        const sv = parseVerdict(stepsAnswer, "g-eval (steps)");
        const steps = Array.isArray(sv.steps) ? sv.steps.filter((s): s is string => typeof s === "string") : [];
        const a = await ask(gevalScoreMessages({ ...inputs, value: criterion }, steps), GEVAL_VERDICT, type);
        const v = parseVerdict(a, type);
        const raw = typeof v.score === "number" && Number.isFinite(v.score) ? v.score : 0;
        parts.push({ score: Math.max(0, Math.min(1, raw / 10)), message: `${raw}/10 (threshold ${min}): ${reasonOf(v, a)}` });
      }
      const score = parts.reduce((s, x) => s + x.score, 0) / parts.length;
      const message = parts.length === 1 ? parts[0]!.message : `mean ${Number((score * 10).toFixed(2))}/10 over ${parts.length} criteria: ${parts.map((x, i) => `${i + 1}. ${x.message}`).join("; ")}`;
      return { pass: score >= min, score, message };
    }
  }
}

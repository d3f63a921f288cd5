// llm-rubric, model-graded-closedqa, factuality and g-eval (promptfoo's names and meanings): a
// judge variant answers under a grammar (server/src/eval/graders/), through the run's `judge`.
// `not-` flips the verdict. A case whose output cannot be judged (no grader configured, the
// grader failed) is an error, not a failure.
import { GraderConfigError, gradeModelGraded } from "../graders/grade";
import type { ModelGradedType } from "../graders/prompts";
import { AssertionRuntimeError, type Handler, type HandlerInput, type Verdict } from "./types";

async function grade(input: HandlerInput, ctx: { judge?: Parameters<typeof gradeModelGraded>[5]; prompt?: string }): Promise<Verdict> {
  try {
    const g = await gradeModelGraded(input.type as ModelGradedType, input.assertion as { grader?: unknown; threshold?: number; options?: unknown }, input.value, input.output, ctx.prompt ?? "", ctx.judge);
    return input.inverse ? { pass: !g.pass, score: 1 - g.score, message: g.message } : g;
  } catch (e) {
    throw e instanceof GraderConfigError ? new AssertionRuntimeError(e.message) : e;
  }
}

const handler: Handler = { kind: "context", evaluate: (input, ctx) => grade(input, ctx) };

export const modelGradedHandlers = {
  "llm-rubric": handler,
  "model-graded-closedqa": handler,
  factuality: handler,
  "g-eval": handler,
} satisfies Record<string, Handler>;

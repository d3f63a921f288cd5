// The judge prompts and verdict grammars of the model-graded assertions. Names and meanings are
// promptfoo's (llm-rubric, model-graded-closedqa, factuality, g-eval; see docs/assertions.md for
// the wording Driftlens uses and how it differs): the prompts say the same things in our own
// words, and every verdict is generated under a grammar, so even a tiny local judge answers in
// the shape the parser expects. Pure: building a prompt starts nothing.
import { jsonSchemaToGbnf } from "../../artifacts/json-grammar";
import type { ChatMessage } from "../../llm/types";

export const MODEL_GRADED_TYPES = ["llm-rubric", "model-graded-closedqa", "factuality", "g-eval"] as const;
export type ModelGradedType = (typeof MODEL_GRADED_TYPES)[number];

export function isModelGraded(base: string): base is ModelGradedType {
  return (MODEL_GRADED_TYPES as readonly string[]).includes(base);
}

/** Longest reason a verdict may carry (characters of printable ASCII: one byte, one token at worst). */
export const REASON_MAX = 120;

/**
 * A judge's answer shape: a JSON Schema (for remote judges' `response_format`) and the grammar a
 * local judge generates under. Reasons are printable ASCII without escapes, so the longest
 * verdict is short in bytes and a judge's maxTokens can always hold it.
 */
export interface VerdictShape {
  schema: Record<string, unknown>;
  grammar: string;
  /** Longest verdict in bytes: the judge's maxTokens. */
  maxBytes: number;
}

const ASCII_REASON = `"\\"" [ !#-[\\]-~]{0,${REASON_MAX}} "\\""`;

function shape(schema: Record<string, unknown>, reasonKey = "reason"): VerdictShape {
  // The converter writes the structure; the reason string is swapped for the ASCII-only rule.
  const g = jsonSchemaToGbnf(schema);
  const lines = g.gbnf.split("\n").map((l) => (l.startsWith(`root-${reasonKey} ::=`) ? `root-${reasonKey} ::= ${ASCII_REASON}` : l));
  const reasonBytesJson = REASON_MAX * 6 + 2;
  const reasonBytesAscii = REASON_MAX + 2;
  return { schema, grammar: lines.join("\n"), maxBytes: g.maxBytes - reasonBytesJson + reasonBytesAscii };
}

const reason = { type: "string", maxLength: REASON_MAX };

/** {reason, pass, score}: llm-rubric and model-graded-closedqa. The reason comes first so the judge writes it before deciding. */
export const PASS_SCORE_VERDICT = shape({
  type: "object",
  properties: { reason, pass: { type: "boolean" }, score: { type: "number", minimum: 0, maximum: 1 } },
  required: ["reason", "pass", "score"],
  additionalProperties: false,
});

/** {reason, category}: factuality's five categories (A–E). */
export const FACTUALITY_VERDICT = shape({
  type: "object",
  properties: { reason, category: { enum: ["A", "B", "C", "D", "E"] } },
  required: ["reason", "category"],
  additionalProperties: false,
});

/** {reason, score}: g-eval's 0–10 score (reported divided by 10). */
export const GEVAL_VERDICT = shape({
  type: "object",
  properties: { reason, score: { type: "integer", minimum: 0, maximum: 10 } },
  required: ["reason", "score"],
  additionalProperties: false,
});

/** g-eval's first step: up to five evaluation steps derived from the criteria. */
export const GEVAL_STEPS = (() => {
  const schema = { type: "object", properties: { steps: { type: "array", items: { type: "string", maxLength: REASON_MAX }, minItems: 1, maxItems: 5 } }, required: ["steps"], additionalProperties: false };
  const g = jsonSchemaToGbnf(schema);
  const lines = g.gbnf.split("\n").map((l) => (l.startsWith("root-steps-item ::=") ? `root-steps-item ::= ${ASCII_REASON}` : l));
  return { schema, grammar: lines.join("\n"), maxBytes: 2 + 10 + 5 * (REASON_MAX + 3) } satisfies VerdictShape;
})();

/** What a judge sees about the case. */
export interface JudgeInputs {
  /** The output under test. */
  output: string;
  /** The rendered prompt the output answers (user and system messages, joined). */
  prompt: string;
  /** The assertion's value with the case's vars filled in: rubric, criterion, reference answer or g-eval criteria. */
  value: string;
}

const sys = (text: string): ChatMessage => ({ role: "system", text });
const user = (text: string): ChatMessage => ({ role: "user", text });

/** llm-rubric: does the rubric's statement hold for the output? */
export function rubricMessages(i: JudgeInputs): ChatMessage[] {
  return [
    sys(
      [
        "You grade an output against a rubric written by the test author. The output passes when what the rubric states is true of it.",
        'Answer with one JSON object: {"reason": a short explanation, "pass": true or false, "score": a number from 0.0 (the rubric does not hold at all) to 1.0 (it fully holds)}.',
        "",
        'Example. Output: "Good morning, how can I help?" Rubric: "Greets the user" -> {"reason":"it opens with a greeting","pass":true,"score":1.0}',
        'Example. Output: "Arr, hoist the sails!" Rubric: "Avoids pirate speech" -> {"reason":"arr is pirate speech","pass":false,"score":0.0}',
      ].join("\n"),
    ),
    user(`<Output>\n${i.output}\n</Output>\n<Rubric>\n${i.value}\n</Rubric>`),
  ];
}

/** model-graded-closedqa: does the submission to the task meet the criterion (yes or no)? */
export function closedQaMessages(i: JudgeInputs): ChatMessage[] {
  return [
    sys(
      [
        "You judge whether a submitted answer to a task meets one criterion.",
        "[Task]",
        i.prompt,
        "[Submission]",
        i.output,
        "[Criterion]",
        i.value,
        "Reason about the criterion step by step before concluding, then answer with one JSON object:",
        '{"reason": your reasoning in short, "pass": true if the submission meets the criterion and false if not, "score": 1.0 if it does, 0.0 if not}.',
      ].join("\n"),
    ),
  ];
}

/** factuality: how does the submission's factual content relate to the expert answer? */
export function factualityMessages(i: JudgeInputs): ChatMessage[] {
  return [
    sys(
      [
        "You compare the factual content of a submitted answer with an expert answer to the same question, ignoring style, grammar and punctuation.",
        "[Question]",
        i.prompt,
        "[Expert answer]",
        i.value,
        "[Submission]",
        i.output,
        "Pick the one category that applies:",
        "A: the submission is a subset of the expert answer and fully consistent with it.",
        "B: the submission is a superset of the expert answer and fully consistent with it.",
        "C: the submission has all the same details as the expert answer.",
        "D: the submission and the expert answer disagree.",
        "E: they differ, but the differences do not matter for factuality.",
        'Answer with one JSON object: {"reason": why, in short, "category": "A", "B", "C", "D" or "E"}.',
      ].join("\n"),
    ),
  ];
}

/** g-eval, step 1: evaluation steps for the criteria (shared by every case with the same criteria). */
export function gevalStepsMessages(criteria: string): ChatMessage[] {
  return [
    sys(
      [
        "You write the evaluation steps a grader follows to score a text against criteria.",
        "[Criteria]",
        criteria,
        'Answer with one JSON object: {"steps": [one to five short, concrete steps, in order]}.',
      ].join("\n"),
    ),
  ];
}

/** g-eval, step 2: score the output from 0 to 10 following the steps. */
export function gevalScoreMessages(i: JudgeInputs, steps: string[]): ChatMessage[] {
  return [
    sys(
      [
        "You score an output against criteria by following the evaluation steps, from 0 (fails the criteria entirely) to 10 (meets them fully).",
        "[Criteria]",
        i.value,
        "[Evaluation steps]",
        ...steps.map((s, n) => `${n + 1}. ${s}`),
        "[Input]",
        i.prompt,
        "[Output]",
        i.output,
        'Answer with one JSON object: {"reason": a short justification, "score": an integer from 0 to 10}.',
      ].join("\n"),
    ),
  ];
}

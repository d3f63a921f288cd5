// How a judge's answer becomes an assertion result (promptfoo's meanings), with the judge's
// answers given directly: the verdict grammars accept exactly the answer shapes the parser reads,
// factuality's categories and per-assertion scores, g-eval's 0–10 scale and threshold, llm-rubric's
// threshold, inversion. The judges themselves run on real models in graders.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluateAssertions } from "../../../server/src/eval/assertions";
import { gradeModelGraded, type Judge, type JudgeRequest } from "../../../server/src/eval/graders/grade";
import { FACTUALITY_VERDICT, GEVAL_STEPS, GEVAL_VERDICT, PASS_SCORE_VERDICT, REASON_MAX } from "../../../server/src/eval/graders/prompts";
import { matches, parseGbnf } from "../structured/gbnf-match";

/** A judge that answers from a table by the shape asked for, and records what it was asked. */
function judge(answers: { verdict?: string; factuality?: string; steps?: string; geval?: string }, asked: JudgeRequest[] = []): Judge {
  return async (req) => {
    asked.push(req);
    const text = req.shape === FACTUALITY_VERDICT ? answers.factuality : req.shape === GEVAL_STEPS ? answers.steps : req.shape === GEVAL_VERDICT ? answers.geval : answers.verdict;
    return { text: text ?? "{}", grader: req.grader ?? "test/judge" };
  };
}

test("verdict grammars accept the shapes the parser reads, bounded, reasons in printable ASCII", () => {
  const pass = parseGbnf(PASS_SCORE_VERDICT.grammar);
  assert.ok(matches(pass, '{"reason":"names Paris","pass":true,"score":1}'));
  assert.ok(matches(pass, '{"reason":"","pass":false,"score":0.25}'));
  assert.ok(!matches(pass, '{"pass":true,"score":1,"reason":"order"}'));
  assert.ok(!matches(pass, '{"reason":"é","pass":true,"score":1}'), "reasons are ASCII");
  assert.ok(!matches(pass, '{"reason":"x","pass":true,"score":1.5}'));
  const longest = `{"reason":"${"x".repeat(REASON_MAX)}","pass":false,"score":0.${"9".repeat(15)}}`;
  assert.ok(matches(pass, longest));
  assert.ok(Buffer.byteLength(longest) <= PASS_SCORE_VERDICT.maxBytes, `${Buffer.byteLength(longest)} > ${PASS_SCORE_VERDICT.maxBytes}`);
  assert.ok(!matches(pass, `{"reason":"${"x".repeat(REASON_MAX + 1)}","pass":false,"score":0}`));
  const fact = parseGbnf(FACTUALITY_VERDICT.grammar);
  assert.ok(matches(fact, '{"reason":"same facts","category":"C"}'));
  assert.ok(!matches(fact, '{"reason":"x","category":"F"}'));
  const geval = parseGbnf(GEVAL_VERDICT.grammar);
  assert.ok(matches(geval, '{"reason":"fine","score":10}'));
  assert.ok(!matches(geval, '{"reason":"fine","score":11}'));
  assert.ok(!matches(geval, '{"reason":"fine","score":7.5}'));
  const steps = parseGbnf(GEVAL_STEPS.grammar);
  assert.ok(matches(steps, '{"steps":["read it","check facts"]}'));
  assert.ok(!matches(steps, '{"steps":[]}'));
  assert.ok(Buffer.byteLength(`{"steps":[${Array(5).fill(`"${"x".repeat(REASON_MAX)}"`).join(",")}]}`) <= GEVAL_STEPS.maxBytes);
});

test("llm-rubric: the judge's pass, or with a threshold its score; the reason names the grader", async () => {
  const j = judge({ verdict: '{"reason":"it is polite","pass":true,"score":0.6}' });
  const a = await gradeModelGraded("llm-rubric", {}, "Is polite", "Hello!", "Greet me", j);
  assert.deepEqual(a, { pass: true, score: 0.6, message: "it is polite [grader test/judge]" });
  const b = await gradeModelGraded("llm-rubric", { threshold: 0.7 }, "Is polite", "Hello!", "Greet me", j);
  assert.equal(b.pass, false);
  // promptfoo: a threshold adds to the judge's pass, it does not replace it.
  const c = await gradeModelGraded("llm-rubric", { threshold: 0.5 }, "Is polite", "Hello!", "Greet me", judge({ verdict: '{"reason":"r","pass":false,"score":0.9}' }));
  assert.equal(c.pass, false);
  const asked: JudgeRequest[] = [];
  await gradeModelGraded("llm-rubric", { grader: "tiny/q8_0" }, "Is polite", "Hello!", "Greet me", judge({ verdict: "{}" }, asked));
  assert.equal(asked[0]!.grader, "tiny/q8_0");
  assert.ok(asked[0]!.messages.some((m) => m.text.includes("<Output>\nHello!\n</Output>") && m.text.includes("Is polite")));
  await assert.rejects(gradeModelGraded("llm-rubric", {}, "x", "y", "z", judge({ verdict: "not json" })), /not the JSON object asked for/);
});

test("factuality: categories A, B, C, E pass and D fails by default; options.factuality sets the scores", async () => {
  const expect: Record<string, boolean> = { A: true, B: true, C: true, D: false, E: true };
  for (const [cat, pass] of Object.entries(expect)) {
    const r = await gradeModelGraded("factuality", {}, "Paris is the capital", "Paris", "Capital of France?", judge({ factuality: `{"reason":"r","category":"${cat}"}` }));
    assert.equal(r.pass, pass, cat);
    assert.match(r.message, new RegExp(`^${cat} \\(`));
  }
  const custom = await gradeModelGraded("factuality", { options: { factuality: { superset: 0, subset: 0.8 } } }, "ref", "out", "q", judge({ factuality: '{"reason":"r","category":"B"}' }));
  assert.deepEqual([custom.pass, custom.score], [false, 0]);
  const sub = await gradeModelGraded("factuality", { options: { factuality: { subset: 0.8 } } }, "ref", "out", "q", judge({ factuality: '{"reason":"r","category":"A"}' }));
  assert.deepEqual([sub.pass, sub.score], [true, 0.8]);
});

test("g-eval: steps asked once per criterion, the 0-10 score divided by 10 against threshold 0.7", async () => {
  const asked: JudgeRequest[] = [];
  const j = judge({ steps: '{"steps":["check the city","check the country"]}', geval: '{"reason":"correct","score":7}' }, asked);
  const r = await gradeModelGraded("g-eval", {}, "Correct", "Paris", "Capital of France?", j);
  assert.deepEqual([r.pass, r.score], [true, 0.7]);
  assert.equal(asked.length, 2);
  assert.ok(asked[1]!.messages[0]!.text.includes("1. check the city\n2. check the country"));
  // A list: each criterion judged on its own (as promptfoo does), the scores averaged.
  asked.length = 0;
  const list = await gradeModelGraded("g-eval", {}, ["Correct", "Concise"], "Paris", "Capital of France?", j);
  assert.equal(asked.length, 4);
  assert.ok(asked[0]!.messages[0]!.text.includes("Correct") && asked[2]!.messages[0]!.text.includes("Concise"));
  assert.deepEqual([list.pass, list.score], [true, 0.7]);
  const low = await gradeModelGraded("g-eval", { threshold: 0.8 }, "Correct", "Paris", "q", j);
  assert.equal(low.pass, false);
});

test("through evaluateAssertions: not- inverts, a missing judge or value is a clear failure", async () => {
  const j = judge({ verdict: '{"reason":"no","pass":false,"score":0}' });
  const ev = await evaluateAssertions([{ type: "not-llm-rubric", value: "Is rude" }, { type: "model-graded-closedqa", value: "answers" }], "Hi", { judge: j, prompt: "Say hi" });
  assert.equal(ev.assertions[0]!.pass, true);
  assert.equal(ev.assertions[1]!.pass, false);
  assert.equal(ev.assertions[1]!.message, "no [grader test/judge]");
  const none = await evaluateAssertions([{ type: "llm-rubric", value: "x" }], "out", {});
  assert.match(none.assertions[0]!.message, /needs a judge model/);
  const noValue = await evaluateAssertions([{ type: "factuality" }], "out", { judge: j });
  assert.match(noValue.assertions[0]!.message, /'factuality' needs the reference answer \(a string\) as its value/);
});

// python assertions (a real Python 3 process per assertion, as promptfoo runs them) and promptfoo's
// output transforms (a test's, run before every assertion; an assertion's own, run before it),
// both trusted-only. The same semantics are checked against promptfoo's own CLI by the adopt
// differential suite (the `code` fixture).
import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluateAssertions, type Assertion, type AssertionContext } from "../../../server/src/eval/assertions";
import { normalizePythonResult, pythonScript } from "../../../server/src/eval/assertions/python";

async function one(a: Assertion, output: string, ctx: AssertionContext = {}) {
  const r = await evaluateAssertions([a], output, ctx);
  return { ...r.assertions[0]!, caseError: r.error, casePass: r.pass };
}

const t: AssertionContext = { trusted: true, vars: { city: "Paris" } };
const py = (value: string, extra: Partial<Assertion> = {}): Assertion => ({ type: "python", value, ...extra });

test("python runs only when trusted; expressions, bodies, scores, grading results and not-python as promptfoo reads them", async () => {
  const untrusted = await one(py("len(output) > 2"), "hello");
  assert.equal(untrusted.pass, false);
  assert.match(untrusted.message, /trusted workspace/);
  assert.equal((await one(py("output == context['vars']['city']"), "Paris", t)).pass, true);
  assert.equal((await one(py("output == context['vars']['city']"), "Rome", t)).pass, false);
  assert.equal((await one({ type: "not-python", value: "'Berlin' in output" }, "Paris", t)).pass, true);
  assert.equal((await one({ type: "not-python", value: "'Paris' in output" }, "Paris", t)).pass, false);
  // A multi-line value is the body of main(output, context).
  const body = await one(py("words = output.split()\nreturn {'pass': len(words) > 1, 'score': len(words) / 10, 'reason': 'words=%d' % len(words)}"), "a b c", t);
  assert.deepEqual([body.pass, body.score, body.message], [true, 0.3, "words=3"]);
  // A number is a score: passes above 0, or at the threshold.
  assert.equal((await one(py("0"), "x", t)).pass, false);
  assert.equal((await one(py("0.4", { threshold: 0.5 }), "x", t)).pass, false);
  assert.equal((await one(py("0.6", { threshold: 0.5 }), "x", t)).pass, true);
  // A grading result's score under the threshold fails it; snake_case pass_ is accepted.
  assert.equal((await one(py("{'pass': True, 'score': 0.2, 'reason': 'low'}", { threshold: 0.5 }), "x", t)).pass, false);
  assert.equal((await one(py("{'pass_': True, 'score': 1.0, 'reason': 'ok'}"), "x", t)).pass, true);
  // What the code prints is not taken for its result; an exception or a wrong shape is a failure that says why.
  assert.equal((await one(py("print('false')\nreturn True"), "x", t)).pass, true);
  assert.match((await one(py("1 / 0"), "x", t)).message, /ZeroDivisionError/);
  assert.match((await one(py("[1, 2]"), "x", t)).message, /boolean, a number or \{pass, score, reason\}/);
  const loop = await one(py("while True:\n    pass"), "x", { ...t, pythonTimeoutMs: 1500 });
  assert.equal(loop.pass, false);
  assert.match(loop.message, /timed out/);
});

test("pythonScript and the result rules are promptfoo's", () => {
  assert.equal(pythonScript("len(output) > 1"), "import json\n\ndef main(output, context):\n    return len(output) > 1\n");
  assert.equal(pythonScript("  x = 1\n  return x"), "import json\n\ndef main(output, context):\n    x = 1\n    return x\n");
  assert.equal(normalizePythonResult("TRUE", false, undefined).pass, true);
  assert.equal(normalizePythonResult('{"pass": false, "score": 0, "reason": "no"}', false, undefined).pass, false);
  assert.equal(normalizePythonResult(0.5, false, undefined).score, 0.5);
  assert.throws(() => normalizePythonResult("maybe", false, undefined), /boolean, a number/);
});

test("a test's transform runs before every assertion, an assertion's own before it; code runs only when trusted", async () => {
  const transform = "JSON.parse(output.slice(output.indexOf('{')))";
  const out = 'Here: {"city": "Paris", "n": 2}';
  const asserts: Assertion[] = [
    { type: "javascript", value: "output.city === context.vars.city && output.n === 2" },
    { type: "python", value: "output['n'] == 2" },
    { type: "equals", value: '{"city":"Paris","n":2}' },
    { type: "is-json" },
  ];
  const r = await evaluateAssertions(asserts, out, { ...t, transform });
  assert.deepEqual(
    r.assertions.map((a) => [a.type, a.pass, a.message]),
    asserts.map((a) => [a.type, true, ""]),
  );
  // Without the transform the same assertions fail on the raw text.
  const raw = await evaluateAssertions(asserts, out, t);
  assert.deepEqual(
    raw.assertions.map((a) => a.pass),
    [false, false, false, false],
  );
  // An assertion's own transform (promptfoo configs only) runs after the test's, for that assertion alone.
  const own: Assertion[] = [
    { type: "contains", value: "PARIS", transform: "output.toUpperCase()" } as Assertion,
    { type: "contains", value: "PARIS" },
  ];
  const o = await evaluateAssertions(own, "in Paris", { ...t, assertionTransforms: true });
  assert.deepEqual(
    o.assertions.map((a) => a.pass),
    [true, false],
  );
  // A native eval set (no assertionTransforms) refuses the key, as its check does.
  const native = await evaluateAssertions([own[0]!], "in Paris", t);
  assert.equal(native.assertions[0]!.error, true);
  assert.match(native.assertions[0]!.message, /'transform' is not supported/);
  // Untrusted: the transform does not run, and the case says why.
  const untrusted = await evaluateAssertions(asserts, out, { transform });
  assert.equal(untrusted.pass, false);
  assert.match(untrusted.assertions[0]!.message, /the test's transform is JavaScript, which runs only in a trusted workspace/);
  const bad = await evaluateAssertions(asserts, out, { ...t, transform: "output.nope.deeper" });
  assert.match(bad.assertions[0]!.message, /the test's transform failed: .*TypeError|Cannot read/);
  const undef = await evaluateAssertions(asserts, out, { ...t, transform: "undefined" });
  assert.match(undef.assertions[0]!.message, /did not return a value/);
});

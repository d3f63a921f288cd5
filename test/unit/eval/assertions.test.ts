import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluateAssertions, extractJsonObjects as extractJsonValues, type Assertion, type AssertionContext } from "../../../server/src/eval/assertions";

async function one(a: Assertion, output: string, ctx: AssertionContext = {}) {
  const r = await evaluateAssertions([a], output, ctx);
  return r.assertions[0]!;
}

/** Checks the assertion and its not- form on a passing and a failing output. */
async function both(type: string, value: unknown, passing: string, failing: string, extra: Partial<Assertion> = {}) {
  assert.equal((await one({ type, value, ...extra }, passing)).pass, true, `${type} should pass on ${JSON.stringify(passing)}`);
  const f = await one({ type, value, ...extra }, failing);
  assert.equal(f.pass, false, `${type} should fail on ${JSON.stringify(failing)}`);
  assert.ok(f.message.length > 0, `${type} says why it failed`);
  assert.equal((await one({ type: `not-${type}`, value, ...extra }, passing)).pass, false, `not-${type} should fail on ${JSON.stringify(passing)}`);
  const nf = await one({ type: `not-${type}`, value, ...extra }, failing);
  assert.equal(nf.pass, true, `not-${type} should pass on ${JSON.stringify(failing)}`);
  assert.equal(nf.score, 1);
}

test("string assertions and their not- forms", async () => {
  await both("equals", "Paris", "Paris", "paris");
  await both("contains", "Par", "It is Paris.", "It is London.");
  await both("icontains", "PARIS", "it is paris", "it is rome");
  await both("contains-any", ["Paris", "Lyon"], "Lyon!", "Nice");
  await both("contains-any", "Paris, Lyon", "Lyon!", "Nice"); // comma-separated string form
  await both("contains-all", ["a", "b"], "a and b", "a only");
  await both("icontains-any", ["PARIS", "LYON"], "lyon", "nice");
  await both("icontains-all", ["A", "B"], "a b", "a c");
  await both("starts-with", "The", "The end", "An end");
  await both("regex", "^\\d{3}-\\d{4}$", "555-1234", "5551234");
});

test("equals with an object compares parsed JSON", async () => {
  assert.equal((await one({ type: "equals", value: { a: 1, b: [1, 2] } }, '{"b":[1,2],"a":1}')).pass, true);
  assert.equal((await one({ type: "equals", value: { a: 1 } }, '{"a":2}')).pass, false);
  assert.equal((await one({ type: "equals", value: { a: 1 } }, "not json")).pass, false);
});

test("is-json with and without a JSON Schema (object or YAML string), validating the parsed value", async () => {
  const schema = { type: "object", required: ["city"], properties: { city: { type: "string" }, pop: { type: "number" } } };
  await both("is-json", undefined, '{"x": 1}', "{x: 1}");
  await both("is-json", schema, '{"city":"Paris","pop":2}', '{"city":3}');
  const r = await one({ type: "is-json", value: schema }, '{"pop":"many"}');
  assert.match(r.message, /city|pop/);
  await both("is-json", "type: array\nitems: {type: integer}", "[1,2,3]", "[1,2.5]");
  // Valid JSON that is not the output's whole text fails is-json.
  assert.equal((await one({ type: "is-json" }, 'Here: {"a":1}')).pass, false);
});

test("contains-json finds JSON inside text and validates it against a schema", async () => {
  await both("contains-json", undefined, 'Answer: {"a": "}"} done', "no json { here");
  const schema = { type: "object", required: ["ok"], properties: { ok: { const: true } } };
  await both("contains-json", schema, 'first {"ok": false} then {"ok": true}', 'only {"ok": false}');
  assert.deepEqual(extractJsonValues('x [1, {"a": "b]"}] y {"c": 2} {bad}'), [[1, { a: "b]" }], { c: 2 }]);
});

test("json-schema is an alias of is-json that requires a schema", async () => {
  await both("json-schema", { type: "number" }, "3", '"3"');
  assert.match((await one({ type: "json-schema" }, "3")).message, /needs a value/);
});

test("an invalid schema or regex fails the assertion with a message, not a crash", async () => {
  assert.match((await one({ type: "is-json", value: { type: 12 } }, "{}")).message, /JSON Schema is invalid/);
  assert.match((await one({ type: "regex", value: "(" }, "x")).message, /invalid regular expression/);
  assert.match((await one({ type: "frobnicate", value: 1 }, "x")).message, /unknown assertion type 'frobnicate'/);
});

test("levenshtein: threshold is the maximum edit distance (default 5)", async () => {
  await both("levenshtein", "kitten", "sitting", "completely different", { threshold: 3 });
  assert.equal((await one({ type: "levenshtein", value: "kitten", threshold: 2 }, "sitting")).pass, false);
  assert.equal((await one({ type: "levenshtein", value: "abcdefgh" }, "abcdefghijklm")).pass, true); // 5 ≤ 5
  assert.equal((await one({ type: "levenshtein", value: "abcdefgh" }, "abcdefghijklmn")).pass, false); // 6 > 5
});

test("word-count: exact number or {min, max}", async () => {
  await both("word-count", 3, " one  two three ", "one two");
  await both("word-count", { min: 2, max: 3 }, "one two", "one two three four");
  await both("word-count", { min: 2 }, "a b c d e", "a");
});

test("latency: passes at or under the threshold; needs a threshold", async () => {
  assert.equal((await one({ type: "latency", threshold: 100 }, "x", { latencyMs: 100 })).pass, true);
  assert.equal((await one({ type: "latency", threshold: 100 }, "x", { latencyMs: 101 })).pass, false);
  assert.equal((await one({ type: "not-latency", threshold: 100 }, "x", { latencyMs: 101 })).pass, true);
  assert.match((await one({ type: "latency" }, "x", { latencyMs: 1 })).message, /needs a threshold/);
});

test("similar: cosine of embeddings against a threshold; clear message with no embedding model", async () => {
  const vecs: Record<string, number[]> = { out: [1, 0], same: [2, 0], near: [1, 1], far: [0, 1] };
  const embed = async (texts: string[]) => texts.map((t) => vecs[t]!);
  const s = await one({ type: "similar", value: "same" }, "out", { embed });
  assert.equal(s.pass, true);
  assert.ok(Math.abs(s.score - 1) < 1e-9);
  assert.equal((await one({ type: "similar", value: "near", threshold: 0.8 }, "out", { embed })).pass, false); // 0.707
  assert.equal((await one({ type: "similar", value: "near", threshold: 0.7 }, "out", { embed })).pass, true);
  assert.equal((await one({ type: "similar", value: ["far", "same"] }, "out", { embed })).pass, true); // best of a list
  const ns = await one({ type: "not-similar", value: "far" }, "out", { embed });
  assert.equal(ns.pass, true);
  assert.ok(Math.abs(ns.score - 1) < 1e-9);
  assert.equal((await one({ type: "not-similar", value: "same" }, "out", { embed })).pass, false);
  const none = await one({ type: "similar", value: "x" }, "out");
  assert.equal(none.pass, false);
  assert.match(none.message, /needs an embedding model/);
});

test("weights and case threshold: weighted mean score; threshold replaces all-must-pass", async () => {
  const asserts: Assertion[] = [
    { type: "contains", value: "a", weight: 3 },
    { type: "contains", value: "zzz", weight: 1 },
  ];
  const all = await evaluateAssertions(asserts, "a");
  assert.equal(all.pass, false);
  assert.equal(all.score, 0.75);
  assert.equal((await evaluateAssertions(asserts, "a", { threshold: 0.75 })).pass, true);
  assert.equal((await evaluateAssertions(asserts, "a", { threshold: 0.8 })).pass, false);
  // Weight 0: reported, but counts toward neither score nor pass.
  const info = await evaluateAssertions([{ type: "contains", value: "a" }, { type: "contains", value: "zzz", weight: 0 }], "a");
  assert.equal(info.pass, true);
  assert.equal(info.score, 1);
  assert.equal(info.assertions[1]!.pass, false);
  // No assertions: passes.
  assert.deepEqual(await evaluateAssertions([], "x"), { pass: true, score: 1, assertions: [] });
});

test("{{vars}} in assertion values are filled from the case's vars", async () => {
  assert.equal((await one({ type: "icontains", value: "{{ city }}" }, "It is PARIS", { vars: { city: "paris" } })).pass, true);
  assert.equal((await one({ type: "contains-any", value: ["{{a.b}}"] }, "xyz", { vars: { a: { b: "y" } } })).pass, true);
});

test("javascript runs only when trusted, in a sandbox with a timeout", async () => {
  const js = (value: string, extra: Partial<Assertion> = {}): Assertion => ({ type: "javascript", value, ...extra });
  const untrusted = await one(js("output.length > 2"), "hello");
  assert.equal(untrusted.pass, false);
  assert.match(untrusted.message, /trusted workspace/);
  const t = { trusted: true, vars: { n: 5 } };
  assert.equal((await one(js("output.length === context.vars.n"), "hello", t)).pass, true);
  assert.equal((await one(js("output.length === 4"), "hello", t)).pass, false);
  assert.equal((await one({ type: "not-javascript", value: "output.length === 4" }, "hello", t)).pass, true);
  const scored = await one(js("const w = output.split(' ').length;\nreturn { pass: w > 1, score: 0.5, reason: 'words=' + w };"), "a b", t);
  assert.deepEqual([scored.pass, scored.score, scored.message], [true, 0.5, "words=2"]);
  assert.equal((await one(js("0.4", { threshold: 0.5 }), "x", t)).pass, false);
  assert.equal((await one(js("0.6", { threshold: 0.5 }), "x", t)).pass, true);
  const loop = await one(js("while (true) {}"), "x", { trusted: true, jsTimeoutMs: 100 });
  assert.equal(loop.pass, false);
  assert.match(loop.message, /timed out|Script execution timed out/);
  const hang = await one(js("return new Promise(() => {});"), "x", { trusted: true, jsTimeoutMs: 100 });
  assert.equal(hang.pass, false);
  assert.match(hang.message, /timed out/);
  // Many evaluations at once are answered each with its own result (one worker, queued).
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => one(js(`output === "${i}"`), String(i % 2 ? i : -1), t)));
  assert.deepEqual(
    many.map((r) => r.pass),
    Array.from({ length: 20 }, (_, i) => i % 2 === 1),
  );
  const noProcess = await one(js("typeof process === 'undefined' && typeof require === 'undefined'"), "x", t);
  assert.equal(noProcess.pass, true);
  assert.match((await one(js("throw new Error('boom')"), "x", t)).message, /boom/);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluateAssertions, extractJsonObjects, type Assertion, type AssertionContext } from "../../../server/src/eval/assertions";

async function one(a: Assertion, output: string, ctx: AssertionContext = {}) {
  const r = await evaluateAssertions([a], output, ctx);
  return { ...r.assertions[0]!, caseError: r.error };
}

/** Checks the assertion and its not- form on a passing and a failing output. */
async function both(type: string, value: unknown, passing: string, failing: string, extra: Partial<Assertion> = {}, ctx: AssertionContext = {}) {
  assert.equal((await one({ type, value, ...extra }, passing, ctx)).pass, true, `${type} should pass on ${JSON.stringify(passing)}`);
  const f = await one({ type, value, ...extra }, failing, ctx);
  assert.equal(f.pass, false, `${type} should fail on ${JSON.stringify(failing)}`);
  assert.ok(f.message.length > 0, `${type} says why it failed`);
  assert.equal((await one({ type: `not-${type}`, value, ...extra }, passing, ctx)).pass, false, `not-${type} should fail on ${JSON.stringify(passing)}`);
  const nf = await one({ type: `not-${type}`, value, ...extra }, failing, ctx);
  assert.equal(nf.pass, true, `not-${type} should pass on ${JSON.stringify(failing)}`);
  assert.equal(nf.score, 1);
}

/** The assertion is refused as a configuration error: it fails, the case is an error, and the message matches. */
async function refused(a: Assertion, output: string, message: RegExp, ctx: AssertionContext = {}) {
  const r = await one(a, output, ctx);
  assert.equal(r.pass, false, `${JSON.stringify(a)} is refused`);
  assert.equal(r.error, true, `${JSON.stringify(a)} is an error, not a verdict: ${r.message}`);
  assert.equal(r.caseError, r.message);
  assert.match(r.message, message);
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
  await both("contains", 42, "answer: 42", "answer: 4"); // numbers are valid contains values, as in promptfoo
});

test("comma-separated lists are read as CSV, as promptfoo reads them", async () => {
  // A quoted item keeps its comma: the output "hello, world" holds the item, not "hello" and "world".
  await both("contains-all", '"hello, world",universe', "hello, world and universe", "hello world and universe");
  // Doubled quotes and backslash-escaped quotes are a quote inside a quoted item.
  await both("contains-any", '"a""b",c', 'x a"b y', "b only");
  await both("contains-any", '"hello\\"world,test", "another,test"', 'say hello"world,test', "hello world test");
  // Empty items are skipped, spaces trimmed.
  await both("contains-all", " a ,, b ,", "a b", "a");
  // An unterminated quote, or text after a closing quote, is a configuration error.
  await refused({ type: "contains-any", value: '"test' }, "test", /unterminated quoted item/);
  await refused({ type: "icontains-all", value: '"hello" world' }, "hello world", /needs a comma after the quoted item/);
});

test("empty and wrong-kind values are configuration errors, as in promptfoo", async () => {
  for (const type of ["contains", "icontains", "not-contains"]) await refused({ type, value: "" }, "anything", /needs a non-empty string \(or a number\)/);
  await refused({ type: "starts-with", value: "" }, "anything", /needs a non-empty string/);
  await refused({ type: "regex", value: "" }, "anything", /needs a non-empty regular expression/);
  await refused({ type: "contains-any", value: "" }, "anything", /needs a list of strings/);
  await refused({ type: "contains", value: true }, "true", /not true/);
  await refused({ type: "regex", value: 42 }, "42", /not 42/);
  await refused({ type: "levenshtein", value: 123 }, "123", /needs a string/);
  await refused({ type: "starts-with", value: 42 }, "42 is it", /not 42/);
  await refused({ type: "contains-all", value: { a: 1 } }, "a", /not a mapping/);
  // Valid empties: equals and levenshtein compare with empty text.
  assert.equal((await one({ type: "equals", value: "" }, "")).pass, true);
  assert.equal((await one({ type: "levenshtein", value: "" }, "abc")).pass, true);
});

test("equals with an object compares parsed JSON, deeply and strictly", async () => {
  assert.equal((await one({ type: "equals", value: { a: 1, b: [1, 2] } }, '{"b":[1,2],"a":1}')).pass, true);
  assert.equal((await one({ type: "equals", value: { a: 1 } }, '{"a":2}')).pass, false);
  assert.equal((await one({ type: "equals", value: { a: "1" } }, '{"a":1}')).pass, false);
  assert.equal((await one({ type: "equals", value: { a: 1 } }, "not json")).pass, false);
  assert.equal((await one({ type: "not-equals", value: { a: 1 } }, "not json")).pass, true);
  await refused({ type: "equals" }, "undefined", /needs a 'value'/);
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

test("is-json schemas check formats (ajv-formats)", async () => {
  const email = { type: "object", properties: { e: { type: "string", format: "email" } } };
  await both("is-json", email, '{"e":"ada@example.com"}', '{"e":"not an address"}');
  await both("is-json", { type: "string", format: "date-time" }, '"2026-01-02T03:04:05Z"', '"next tuesday"');
});

test("is-json schemas: 2019-09 keywords apply under that draft's $schema, and are an error without it", async () => {
  const dep = { type: "object", dependentRequired: { a: ["b"] } };
  await both("is-json", { $schema: "https://json-schema.org/draft/2019-09/schema", ...dep }, '{"a":1,"b":2}', '{"a":1}');
  await both("is-json", { $schema: "https://json-schema.org/draft/2020-12/schema", type: "array", prefixItems: [{ type: "number" }] }, "[1]", '["x"]');
  await refused({ type: "is-json", value: dep }, '{"a":1}', /dependentRequired.*2019-09/);
  await refused({ type: "is-json", value: { type: "object", colour: "red" } }, "{}", /unknown keyword: "colour"/);
});

test("contains-json finds JSON objects in text, also inside a top-level list, as promptfoo does", async () => {
  await both("contains-json", undefined, 'Answer: {"a": 1} done', "no json here");
  // promptfoo reads leniently: an unclosed brace is closed at the end, and "{ here}" is a YAML mapping.
  assert.equal((await one({ type: "contains-json" }, "no json { here")).pass, true);
  const schema = { type: "object", required: ["ok"], properties: { ok: { const: true } } };
  await both("contains-json", schema, 'first {"ok": false} then {"ok": true}', 'only {"ok": false}');
  // An object inside a top-level list is found; a list of scalars holds no object.
  await both("contains-json", { type: "object", required: ["a"] }, '[{"b": 1}, {"a": 2}]', "[1, 2, 3]");
  assert.deepEqual(extractJsonObjects('x [1, {"a": "b"}] y {"c": 2} {bad: [}'), [{ a: "b" }, { c: 2 }]);
  // promptfoo's reader: YAML flow objects and // comments count.
  assert.deepEqual(extractJsonObjects("{a: 1} and {'b': 2, // note\n}"), [{ a: 1 }, { b: 2 }]);
});

test("json-schema is is-json with a required schema", async () => {
  await both("json-schema", { type: "number" }, "3", '"3"');
  await refused({ type: "json-schema" }, "3", /needs a JSON Schema/);
});

test("an invalid schema or regex is a configuration error with a message, not a crash", async () => {
  await refused({ type: "is-json", value: { type: 12 } }, "{}", /JSON Schema is invalid/);
  await refused({ type: "regex", value: "(" }, "x", /invalid regular expression/);
  await refused({ type: "frobnicate", value: 1 }, "x", /unknown assertion type 'frobnicate'/);
});

test("regex values take no /…/flags: '/hello/i' is a pattern with slashes in it, as in promptfoo", async () => {
  assert.equal((await one({ type: "regex", value: "/hello/i" }, "HELLO world")).pass, false);
  assert.equal((await one({ type: "regex", value: "/hello/i" }, "see /hello/i here")).pass, true);
});

test("levenshtein: threshold is the maximum edit distance (default 5)", async () => {
  await both("levenshtein", "kitten", "sitting", "completely different", { threshold: 3 });
  assert.equal((await one({ type: "levenshtein", value: "kitten", threshold: 2 }, "sitting")).pass, false);
  assert.equal((await one({ type: "levenshtein", value: "abcdefgh" }, "abcdefghijklm")).pass, true); // 5 ≤ 5
  assert.equal((await one({ type: "levenshtein", value: "abcdefgh" }, "abcdefghijklmn")).pass, false); // 6 > 5
});

test("word-count: exact number or {min, max}; an impossible range is an error for word-count and not-word-count", async () => {
  await both("word-count", 3, " one  two three ", "one two");
  await both("word-count", "2", "one two", "one");
  await both("word-count", { min: 2, max: 3 }, "one two", "one two three four");
  await both("word-count", { min: 2 }, "a b c d e", "a");
  await refused({ type: "word-count", value: { min: 5, max: 3 } }, "a b c d", /min 5 greater than max 3/);
  await refused({ type: "not-word-count", value: { min: 5, max: 3 } }, "a b c d", /min 5 greater than max 3/);
  await refused({ type: "word-count", value: {} }, "a", /needs 'min' and\/or 'max'/);
});

test("latency: passes at or under the threshold; needs a threshold; no measurement is an error, for not-latency too", async () => {
  assert.equal((await one({ type: "latency", threshold: 100 }, "x", { latencyMs: 100 })).pass, true);
  assert.equal((await one({ type: "latency", threshold: 100 }, "x", { latencyMs: 101 })).pass, false);
  assert.equal((await one({ type: "not-latency", threshold: 100 }, "x", { latencyMs: 101 })).pass, true);
  await refused({ type: "latency" }, "x", /needs a 'threshold'/, { latencyMs: 1 });
  await refused({ type: "latency", threshold: 100 }, "x", /no latency was measured/);
  await refused({ type: "not-latency", threshold: 100 }, "x", /no latency was measured/);
});

test("similar: cosine of embeddings against a threshold; an error with no embedding model", async () => {
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
  assert.equal((await one({ type: "similar:dot", value: "same", threshold: 2 }, "out", { embed })).pass, true); // 1·2 = 2
  assert.equal((await one({ type: "similar:euclidean", value: "same", threshold: 0.5 }, "out", { embed })).pass, false); // distance 1
  await refused({ type: "similar", value: "x" }, "out", /needs an embedding model/);
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
  // Weight 0: reported with its own verdict, but counts toward neither score nor pass.
  const info = await evaluateAssertions([{ type: "contains", value: "a" }, { type: "contains", value: "zzz", weight: 0 }], "a");
  assert.equal(info.pass, true);
  assert.equal(info.score, 1);
  assert.equal(info.assertions[1]!.pass, false);
  // No assertions: passes with score 1.
  assert.deepEqual(await evaluateAssertions([], "x"), { pass: true, score: 1, assertions: [] });
});

test("a negative weight is refused with the message check gives", async () => {
  await refused({ type: "contains", value: "a", weight: -1 }, "a", /'weight' of 'contains' is -1; weights must be 0 or more/);
  const ev = await evaluateAssertions([{ type: "contains", value: "a", weight: -1 }, { type: "contains", value: "a" }], "a", { threshold: 0 });
  assert.equal(ev.pass, false, "a case with a refused assertion is an error, whatever its threshold");
  assert.match(ev.error ?? "", /weights must be 0 or more/);
});

test("{{vars}} in values render with the case's vars (Nunjucks: lookups and filters); a missing var is an error", async () => {
  assert.equal((await one({ type: "icontains", value: "{{ city }}" }, "It is PARIS", { vars: { city: "paris" } })).pass, true);
  assert.equal((await one({ type: "contains-any", value: ["{{a.b}}"] }, "xyz", { vars: { a: { b: "y" } } })).pass, true);
  assert.equal((await one({ type: "equals", value: "{{ name | upper }}-{{ xs | join(',') }}" }, "ADA-1,2", { vars: { name: "ada", xs: [1, 2] } })).pass, true);
  assert.equal((await one({ type: "equals", value: "{{ x | default('none') }}" }, "none", { vars: {} })).pass, true);
  await refused({ type: "contains", value: "Hello {{name}}" }, "Hello ", /uses \{\{name\}\}, which the case's vars do not define/, { vars: { city: "x" } });
  await refused({ type: "equals", value: "{{ range(3) }}" }, "012", /function calls/, { vars: {} });
  await refused({ type: "equals", value: "{% for x in xs %}{{x}}{% endfor %}" }, "ab", /for %\} loops/, { vars: { xs: ["a", "b"] } });
  await refused({ type: "equals", value: "{{ x " }, "x", /not a valid template/, { vars: { x: 1 } });
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
  const loop = await one(js("while (true) {}\nreturn true;"), "x", { trusted: true, jsTimeoutMs: 100 });
  assert.equal(loop.pass, false);
  assert.match(loop.message, /timed out/);
  const hang = await one(js("new Promise(() => {})"), "x", { trusted: true, jsTimeoutMs: 100 });
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
  assert.match((await one(js("(() => { throw new Error('boom'); })()"), "x", t)).message, /boom/);
});

test("javascript reads its value as promptfoo does: trailing semicolons, one-line block scalars, {{vars}}, result shapes", async () => {
  const t = { trusted: true };
  const js = (value: string, output: string, ctx: AssertionContext = t) => one({ type: "javascript", value }, output, ctx);
  assert.equal((await js('output === "x";', "x")).pass, true, "a trailing semicolon");
  assert.equal((await js('output === "x"\n', "x")).pass, true, "a block scalar (value: |) ending in a newline");
  assert.equal((await js("const n = output.length; n > 3", "long")).pass, true, "const statements, then the expression");
  assert.equal((await js("output === '{{expected}}'", "Paris", { ...t, vars: { expected: "Paris" } })).pass, true, "{{var}} is substituted");
  const pass1 = await js("({pass: 1})", "x");
  assert.equal(pass1.pass, false, "{pass: 1} is not a grading result");
  assert.match(pass1.message, /must return a boolean, a number or \{pass: boolean, score: number, reason: string\}/);
  assert.equal((await js("({pass: true})", "x")).pass, false, "a grading result needs score and reason");
  const n = await js("output.length", "abcd");
  assert.deepEqual([n.pass, n.score], [true, 4], "a number is the score, unclamped");
});

// The differential corpus: (assertion, output[, vars]) pairs run through promptfoo's runAssertion
// and Driftlens's evaluateAssertion side by side (promptfoo.test.ts). Harvested from promptfoo's
// documentation (promptfoo.dev, "Deterministic metrics": its examples), its behaviour as its own
// tests pin it down (CSV lists, numeric contains values, quoted fields), and edge cases of each
// type (empty and non-string values, templates, inversion, JSON inside text, schema formats and
// drafts, JavaScript result shapes). A pair marked `differs` is a deliberate difference listed in
// docs/assertions.md; the suite checks that it really differs, in the documented way.
import type { Assertion } from "../../server/src/eval/assertions";

/** The deliberate differences, by the names docs/assertions.md gives them. */
export const DIFFERENCES = ["config-error", "negative-weight", "missing-var", "template-subset", "file-refs", "transform", "weight-zero", "json-schema-type", "schema-drafts", "javascript-sandbox", "time-limit"] as const;
export type Difference = (typeof DIFFERENCES)[number];

export interface Pair {
  id: string;
  /** One assertion (runAssertion) … */
  assertion?: Assertion;
  /** … or a case's assertions (runAssertions: weights, threshold). */
  assertions?: Assertion[];
  threshold?: number;
  output: string;
  vars?: Record<string, unknown>;
  latencyMs?: number;
  /** Driftlens's time limit for patterns (ms), for the time-limit pairs. */
  patternTimeoutMs?: number;
  differs?: Difference;
}

const pairs: Pair[] = [];
const seen = new Set<string>();

function add(p: Pair): void {
  if (seen.has(p.id)) throw new Error(`duplicate pair id ${p.id}`);
  seen.add(p.id);
  pairs.push(p);
}

/** The assertion and its not- form on each output. */
function both(name: string, a: Assertion, outputs: string[], extra: Partial<Pair> = {}): void {
  outputs.forEach((output, i) => {
    add({ id: `${name} #${i}`, assertion: a, output, ...extra });
    add({ id: `not ${name} #${i}`, assertion: { ...a, type: `not-${a.type}` }, output, ...extra });
  });
}

/** The assertion on each output (no not- form). */
function each(name: string, a: Assertion, outputs: string[], extra: Partial<Pair> = {}): void {
  outputs.forEach((output, i) => add({ id: `${name} #${i}`, assertion: a, output, ...extra }));
}

// ---------- equals ----------
both("equals text", { type: "equals", value: "hello" }, ["hello", "Hello", "hello ", ""]);
both("equals empty", { type: "equals", value: "" }, ["", " "]);
both("equals number", { type: "equals", value: 42 }, ["42", "42.0", " 42"]);
both("equals boolean", { type: "equals", value: true }, ["true", "True"]);
both("equals float", { type: "equals", value: 1.5 }, ["1.5", "1.50"]);
both("equals object", { type: "equals", value: { a: 1, b: [1, 2] } }, ['{"b":[1,2],"a":1}', '{"a":1}', "not json", '{"a":1,"b":[1,2],"c":null}', '{"a": 1, "b": [1, 2]}']);
both("equals object strict types", { type: "equals", value: { a: "1" } }, ['{"a":1}', '{"a":"1"}']);
both("equals list", { type: "equals", value: [1, 2] }, ["[1,2]", "[2,1]", " [1, 2] "]);
both("equals null", { type: "equals", value: null }, ["null", "", "None"]);
each("equals template", { type: "equals", value: "The capital is {{city}}." }, ["The capital is Paris.", "The capital is Rome."], { vars: { city: "Paris" } });
each("equals without value", { type: "equals" }, ["undefined", "x"], { differs: "config-error" });

// ---------- contains / icontains ----------
both("contains", { type: "contains", value: "world" }, ["hello world", "Hello World", ""]);
both("icontains", { type: "icontains", value: "WORLD" }, ["hello world", "Hello WoRlD", "word"]);
both("contains zero", { type: "contains", value: 0 }, ["There are 0 errors", "no digits here"]);
both("icontains zero", { type: "icontains", value: 0 }, ["0", "none"]);
both("contains number", { type: "contains", value: 42 }, ["answer: 42", "answer: 4 2"]);
both("contains negative number", { type: "contains", value: -1.5 }, ["t = -1.5", "t = 1.5"]);
both("contains unicode", { type: "contains", value: "café" }, ["un café", "un cafe"]);
both("icontains unicode", { type: "icontains", value: "CAFÉ" }, ["un café", "UN CAFÉ", "un cafe"]);
both("contains newline", { type: "contains", value: "a\nb" }, ["xa\nby", "a b"]);
each("contains empty", { type: "contains", value: "" }, ["anything"]);
each("icontains empty", { type: "icontains", value: "" }, ["anything"]);
each("not-contains empty", { type: "not-contains", value: "" }, ["anything"]);
each("contains true", { type: "contains", value: true }, ["true"]);
each("contains null", { type: "contains", value: null }, ["null"]);
each("contains missing", { type: "contains" }, ["x"]);
each("contains list", { type: "contains", value: ["a"] }, ["a"]);
each("contains mapping", { type: "contains", value: { a: 1 } }, ["[object Object]"]);
each("icontains false", { type: "icontains", value: false }, ["false"]);
both("contains template", { type: "contains", value: "{{name}}" }, ["Hello, Ada!", "Hello, Bob!"], { vars: { name: "Ada" } });
both("icontains template filter", { type: "icontains", value: "{{ name | upper }}" }, ["HELLO ADA", "hello bob"], { vars: { name: "ada" } });
each("contains template of a missing var alone", { type: "contains", value: "{{missing}}" }, ["x"], { vars: { name: "Ada" } });
each("contains template of a missing var", { type: "contains", value: "Hello {{missing}}" }, ["Hello ", "Hello Ada"], { vars: { name: "Ada" }, differs: "missing-var" });

// ---------- contains-any / contains-all / icontains-any / icontains-all ----------
for (const t of ["contains-any", "contains-all", "icontains-any", "icontains-all"]) {
  both(`${t} list`, { type: t, value: ["world", "universe"] }, ["hello world", "hello universe and world", "HELLO WORLD", "nothing"]);
  both(`${t} csv`, { type: t, value: "world,universe" }, ["hello world", "world universe", "Universe"]);
  both(`${t} csv spaces`, { type: t, value: " world , universe " }, ["world universe", "world"]);
  both(`${t} csv quoted comma`, { type: t, value: '"hello, world",universe' }, ["hello, world", "hello world universe", "hello, world and universe"]);
  both(`${t} csv doubled quote`, { type: t, value: '"a""b",c' }, ['a"b', "b", 'a"b c']);
  both(`${t} csv escaped quote`, { type: t, value: '"hello\\"world,test", "another,test"' }, ['hello"world,test', "another,test", 'hello"world,test another,test']);
  each(`${t} csv unterminated quote`, { type: t, value: '"test' }, ["test"]);
  each(`${t} csv text after quote`, { type: t, value: '"hello"world' }, ["hello world"]);
  each(`${t} csv space-separated quote`, { type: t, value: '"hello" world' }, ["hello world"]);
  both(`${t} csv empty items`, { type: t, value: "a,,b," }, ["a b", "a"]);
  both(`${t} csv only commas`, { type: t, value: ",," }, ["anything"]);
  both(`${t} csv quoted empty`, { type: t, value: '"",' }, ["", "x"]);
  both(`${t} csv tab after quote`, { type: t, value: '"hello, world"\t,foo' }, ["zzz", "foo hello, world"]);
  both(`${t} numbers`, { type: t, value: [1, 22] }, ["1 and 22", "only 1", "none"]);
  both(`${t} empty list`, { type: t, value: [] }, ["anything"]);
  both(`${t} list with empty item`, { type: t, value: ["", "zzz"] }, ["abc"]);
  both(`${t} list template`, { type: t, value: ["{{a}}", "b"] }, ["x and b", "y"], { vars: { a: "x" } });
  each(`${t} empty string`, { type: t, value: "" }, ["x"]);
  each(`${t} number`, { type: t, value: 5 }, ["5"]);
  each(`${t} true`, { type: t, value: true }, ["true"]);
  each(`${t} mapping`, { type: t, value: { a: 1 } }, ["a"]);
  each(`${t} zero`, { type: t, value: 0 }, ["0"]);
}
both("contains-any list with null item", { type: "contains-any", value: [null, "q"] }, ["null", "x"]);
both("icontains-all case", { type: "icontains-all", value: ["Paris", "FRANCE"] }, ["paris is in france", "Paris"]);

// ---------- starts-with ----------
both("starts-with", { type: "starts-with", value: "Hello" }, ["Hello world", "hello world", " Hello", "Hell"]);
both("starts-with template", { type: "starts-with", value: "{{greeting}}," }, ["Hi, you", "Hello, you"], { vars: { greeting: "Hi" } });
each("starts-with empty", { type: "starts-with", value: "" }, ["x"]);
each("starts-with number", { type: "starts-with", value: 42 }, ["42 is the answer"]);
each("starts-with missing", { type: "starts-with" }, ["x"]);

// ---------- regex ----------
both("regex phone", { type: "regex", value: "^\\d{3}-\\d{4}$" }, ["555-1234", "5551234", "555-12345"]);
both("regex anywhere", { type: "regex", value: "hello" }, ["say hello there", "HELLO"]);
both("regex slashes are literal", { type: "regex", value: "/hello/i" }, ["HELLO world", "a /hello/i b"]);
both("regex word boundary", { type: "regex", value: "\\bcat\\b" }, ["the cat sat", "concatenate"]);
both("regex lookbehind", { type: "regex", value: "(?<=\\$)\\d+" }, ["costs $42", "costs 42"]);
both("regex backreference", { type: "regex", value: "(\\w)\\1" }, ["book", "bok"]);
both("regex empty output", { type: "regex", value: "^$" }, ["", " "]);
both("regex no multiline flag", { type: "regex", value: "^b" }, ["a\nb", "b"]);
both("regex unicode", { type: "regex", value: "caf\\u00e9" }, ["café", "cafe"]);
both("regex template", { type: "regex", value: "^{{word}}\\b" }, ["Paris is big", "Parisian"], { vars: { word: "Paris" } });
each("regex invalid", { type: "regex", value: "(" }, ["("], { differs: "config-error" });
each("regex inline flag", { type: "regex", value: "(?i)hello" }, ["hello"], { differs: "config-error" });
each("regex invalid class", { type: "regex", value: "[" }, ["["], { differs: "config-error" });
each("regex empty", { type: "regex", value: "" }, ["x"]);
each("regex number", { type: "regex", value: 42 }, ["42"]);
each("regex missing", { type: "regex" }, ["x"]);
add({ id: "regex catastrophic within promptfoo's patience", assertion: { type: "regex", value: "^(a+)+$" }, output: "a".repeat(22) + "!", patternTimeoutMs: 30, differs: "time-limit" });

// ---------- is-json ----------
both("is-json", { type: "is-json" }, ['{"a":1}', "[1,2]", '"str"', "42", "null", "{a:1}", "", ' {"a":1} ', 'Here: {"a":1}', "{'a': 1}", "true"]);
const citySchema = { type: "object", required: ["city"], properties: { city: { type: "string" }, pop: { type: "number" } } };
both("is-json schema", { type: "is-json", value: citySchema }, ['{"city":"Paris","pop":2}', '{"city":3}', '{"pop":2}', "[]", "not json"]);
both("is-json yaml schema", { type: "is-json", value: "type: array\nitems: {type: integer}" }, ["[1,2,3]", "[1,2.5]", '{"a":1}']);
both("is-json json-text schema", { type: "is-json", value: '{"type": "string", "minLength": 3}' }, ['"abc"', '"ab"', "3"]);
both("is-json format email", { type: "is-json", value: { type: "object", properties: { e: { type: "string", format: "email" } } } }, ['{"e":"a@b.co"}', '{"e":"nope"}']);
both("is-json format date-time", { type: "is-json", value: { type: "string", format: "date-time" } }, ['"2024-01-02T03:04:05Z"', '"yesterday"']);
both("is-json format uri", { type: "is-json", value: { type: "string", format: "uri" } }, ['"https://example.com/x"', '"not a uri"']);
both("is-json enum", { type: "is-json", value: { enum: ["yes", "no"] } }, ['"yes"', '"maybe"']);
both("is-json additionalProperties", { type: "is-json", value: { type: "object", additionalProperties: false, properties: { a: { type: "number" } } } }, ['{"a":1}', '{"a":1,"b":2}']);
both("is-json pattern", { type: "is-json", value: { type: "string", pattern: "^[A-Z]{2}$" } }, ['"FR"', '"fr"']);
both("is-json patternProperties", { type: "is-json", value: { type: "object", patternProperties: { "^x-": { type: "string" } } } }, ['{"x-a":"s"}', '{"x-a":1}']);
both("is-json $defs ref", { type: "is-json", value: { definitions: { n: { type: "number" } }, type: "array", items: { $ref: "#/definitions/n" } } }, ["[1,2]", '["a"]']);
both("is-json boolean schema text", { type: "is-json", value: "true" }, ["[1]", "x"]);
both("is-json draft-07 declared", { type: "is-json", value: { $schema: "http://json-schema.org/draft-07/schema#", type: "number" } }, ["1", '"1"']);
each("is-json falsy value", { type: "is-json", value: "" }, ['{"a":1}', "x"]);
each("is-json zero value", { type: "is-json", value: 0 }, ['{"a":1}']);
each("is-json unknown keyword", { type: "is-json", value: { type: "object", colour: "red" } }, ['{"a":1}']);
each("is-json unknown keyword non-json output", { type: "is-json", value: { type: "object", colour: "red" } }, ["not json"], { differs: "config-error" });
each("is-json 2019 keyword without $schema", { type: "is-json", value: { type: "object", dependentRequired: { a: ["b"] } } }, ['{"a":1}']);
both("is-json 2019-09 $schema", { type: "is-json", value: { $schema: "https://json-schema.org/draft/2019-09/schema", type: "object", dependentRequired: { a: ["b"] } } }, ['{"a":1}', '{"a":1,"b":2}'], { differs: "schema-drafts" });
both("is-json 2020-12 $schema", { type: "is-json", value: { $schema: "https://json-schema.org/draft/2020-12/schema", type: "array", prefixItems: [{ type: "number" }] } }, ["[1]", '["a"]'], { differs: "schema-drafts" });
each("is-json invalid schema", { type: "is-json", value: { type: 12 } }, ["{}"]);
each("is-json invalid schema non-json output", { type: "is-json", value: { type: 12 } }, ["x"], { differs: "config-error" });
each("is-json number value", { type: "is-json", value: 5 }, ["{}"]);
each("is-json number value non-json output", { type: "is-json", value: 5 }, ["x"], { differs: "config-error" });
each("is-json list schema", { type: "is-json", value: [1] }, ["{}"]);
each("is-json bad yaml schema", { type: "is-json", value: "type: [unclosed" }, ["{}"]);

// ---------- contains-json ----------
both("contains-json", { type: "contains-json" }, [
  'Answer: {"a": 1} done',
  '[{"a":1}]',
  "[1,2,3]",
  "no json here",
  '{"a": "}"}',
  "{a: 1}",
  "{'a': 1}",
  '{"a": 1 // a comment\n}',
  'x {"a": {"b": 2}} y',
  '{"a": 1',
  "{}",
  '{"url": "http://x.com//y"}',
  "{ not: [valid }",
  "```json\n{\"name\": \"x\"}\n```",
  "{{}}",
  '"{\\"a\\":1}"',
]);
const needA = { type: "object", required: ["a"] };
both("contains-json schema", { type: "contains-json", value: needA }, ['first {"b": 1} then {"a": 2}', 'only {"b": 1}', '[{"b":1},{"a":1}]', "none", '{"outer": {"a": 1}}']);
both("contains-json yaml schema", { type: "contains-json", value: "type: object\nrequired: [ok]\nproperties:\n  ok: {const: true}" }, ['x {"ok": true} y', '{"ok": false}']);
both("contains-json format", { type: "contains-json", value: { type: "object", required: ["e"], properties: { e: { format: "email" } } } }, ['{"e": "a@b.co"}', '{"e": "x"}']);
each("contains-json invalid schema with objects", { type: "contains-json", value: { type: 12 } }, ['{"a":1}']);
each("contains-json invalid schema without objects", { type: "contains-json", value: { type: 12 } }, ["none"], { differs: "config-error" });
each("contains-json number value without objects", { type: "contains-json", value: 7 }, ["none"], { differs: "config-error" });

// ---------- json-schema (Driftlens's own name) ----------
both("json-schema", { type: "json-schema", value: { type: "number" } }, ["3", '"3"'], { differs: "json-schema-type" });

// ---------- levenshtein ----------
both("levenshtein default threshold", { type: "levenshtein", value: "hello world" }, ["hello world", "hello wrld", "hallo welt!", "goodbye"]);
both("levenshtein threshold", { type: "levenshtein", value: "kitten", threshold: 3 }, ["sitting", "kitchen sink"]);
both("levenshtein threshold 0", { type: "levenshtein", value: "exact", threshold: 0 }, ["exact", "exact "]);
both("levenshtein empty value", { type: "levenshtein", value: "" }, ["abcde", "abcdef"]);
both("levenshtein boundary", { type: "levenshtein", value: "abcdefgh" }, ["abcdefghijklm", "abcdefghijklmn"]);
both("levenshtein template", { type: "levenshtein", value: "{{x}}", threshold: 1 }, ["Paris", "Pari", "Rome"], { vars: { x: "Paris" } });
each("levenshtein number", { type: "levenshtein", value: 123 }, ["123"]);
each("levenshtein missing", { type: "levenshtein" }, ["x"]);

// ---------- word-count ----------
both("word-count exact", { type: "word-count", value: 3 }, [" one  two three ", "one two", "one\ttwo\nthree", ""]);
both("word-count numeric text", { type: "word-count", value: "2" }, ["a b", "a b c"]);
both("word-count range", { type: "word-count", value: { min: 2, max: 3 } }, ["one two", "one two three four", "one"]);
both("word-count min", { type: "word-count", value: { min: 2 } }, ["a b c d e", "a"]);
both("word-count max", { type: "word-count", value: { max: 1 } }, ["a", "a b", ""]);
both("word-count zero", { type: "word-count", value: 0 }, ["", "   ", "x"]);
both("word-count nbsp", { type: "word-count", value: 2 }, ["a\u00a0b", "a\u200bb"]);
both("word-count empty text value", { type: "word-count", value: "" }, ["", "x"]);
each("word-count impossible range", { type: "word-count", value: { min: 5, max: 3 } }, ["a b c d"]);
each("not-word-count impossible range", { type: "not-word-count", value: { min: 5, max: 3 } }, ["a b c d"]);
each("word-count no bounds", { type: "word-count", value: {} }, ["a"]);
each("word-count list", { type: "word-count", value: [1] }, ["a"]);
each("word-count boolean", { type: "word-count", value: true }, ["a"]);
each("word-count text", { type: "word-count", value: "abc" }, ["a"]);
each("word-count missing", { type: "word-count" }, ["a"]);
each("word-count null", { type: "word-count", value: null }, ["a"]);
each("word-count text bound", { type: "word-count", value: { min: "2" } }, ["a b"], { differs: "config-error" });

// ---------- latency ----------
for (const ms of [50, 100, 101]) both(`latency ${ms} ms`, { type: "latency", threshold: 100 }, ["x"], { latencyMs: ms });
both("latency zero threshold", { type: "latency", threshold: 0 }, ["x"], { latencyMs: 0 });
each("latency no threshold", { type: "latency" }, ["x"], { latencyMs: 5 });
each("latency not measured", { type: "latency", threshold: 100 }, ["x"]);
each("not-latency not measured", { type: "not-latency", threshold: 100 }, ["x"]);

// ---------- similar ----------
both("similar same", { type: "similar", value: "the cat sat on the mat" }, ["the cat sat on the mat", "a cat sat on a mat", "quantum chromodynamics"]);
both("similar threshold", { type: "similar", value: "hello there", threshold: 0.9 }, ["hello there!", "hello world", "zzz"]);
both("similar list", { type: "similar", value: ["apples and pears", "the cat sat on the mat"] }, ["the cat sat on a mat", "zebra"]);
both("similar list threshold", { type: "similar", value: ["abc", "xyz"], threshold: 0.5 }, ["abc", "xyzzy", "mmm"]);
both("similar:cosine", { type: "similar:cosine", value: "good morning" }, ["good morning", "bad evening"]);
both("similar:dot", { type: "similar:dot", value: "aaa bbb", threshold: 5 }, ["aaa bbb", "ccc"]);
both("similar:euclidean", { type: "similar:euclidean", value: "kitten", threshold: 1.5 }, ["kitten", "sitting", "dog"]);
both("similar template", { type: "similar", value: "capital of {{country}}" }, ["capital of France", "mountains"], { vars: { country: "France" } });
each("similar empty list", { type: "similar", value: [] }, ["x"]);
each("similar number", { type: "similar", value: 5 }, ["5"]);

// ---------- javascript ----------
const js = (code: string, outputs: string[], extra: Partial<Pair> & { threshold?: number } = {}) => {
  const { threshold, ...rest } = extra;
  both(`javascript ${JSON.stringify(code)}${threshold !== undefined ? ` threshold ${threshold}` : ""}`, { type: "javascript", value: code, ...(threshold !== undefined ? { threshold } : {}) }, outputs, rest);
};
js("output === 'x'", ["x", "y"]);
js("output === 'x';", ["x", "y"]);
js("output === 'x';;  ", ["x", "y"]);
js("output === 'x'\n", ["x", "y"]);
js("output.length > 3", ["long", "abc"]);
js("output.includes('a;b')", ["a;b", "ab"]);
js("const n = output.length; n > 3", ["long", "ab"]);
js("let s = output.trim(); s === 'ok';", [" ok ", "no"]);
js("const a = 1; const b = 'x;y'; output === b", ["x;y", "x"]);
js("const words = output.split(' ');\nreturn words.length === 2;", ["a b", "a b c"]);
js("if (output.startsWith('{')) {\n  return JSON.parse(output).ok === true;\n}\nreturn false;", ['{"ok": true}', '{"ok": false}', "plain"]);
js("({pass: output.length > 2, score: 0.5, reason: 'length ' + output.length})", ["abc", "a"]);
js("({pass: true, score: 0.25, reason: 'fine'})", ["x"]);
js("({pass: 1})", ["x"]);
js("{pass: true, score: 1, reason: 'x'}", ["x"]);
js("({pass: true})", ["x"]);
js("({pass: true, score: 1})", ["x"]);
js("({pass: true, score: '1', reason: 'x'})", ["x"]);
js("0.6", ["x"], { threshold: 0.5 });
js("0.4", ["x"], { threshold: 0.5 });
js("0.5", ["x"], { threshold: 0.5 });
js("0", ["x"]);
js("-1", ["x"]);
js("output.length", ["abcd", ""]);
js("output.length", ["abcd", "ab"], { threshold: 3 });
js("'yes'", ["x"]);
js("undefined", ["x"]);
js("null", ["x"]);
js("[true]", ["x"]);
js("Promise.resolve(output === 'x')", ["x", "y"]);
js("throw new Error('boom')", ["x"]);
js("output ===", ["x"]);
js("return output === 'x'", ["x"]);
js("context.vars.n === output.length", ["abc", "ab"], { vars: { n: 3 } });
js("output === '{{expected}}'", ["Paris", "Rome"], { vars: { expected: "Paris" } });
js("JSON.parse(output).items.length === {{count}}", ['{"items":[1,2]}', '{"items":[]}'], { vars: { count: 2 } });
each("javascript typeof process", { type: "javascript", value: "typeof process === 'undefined'" }, ["x"], { differs: "javascript-sandbox" });
each("javascript number value", { type: "javascript", value: 5 }, ["x"], { differs: "config-error" });
each("javascript empty", { type: "javascript", value: "" }, ["x"], { differs: "config-error" });

// ---------- value templates ----------
const tpl = (name: string, value: string, outputs: string[], vars: Record<string, unknown>, differs?: Difference) =>
  each(`template ${name}`, { type: "equals", value }, outputs, { vars, ...(differs ? { differs } : {}) });
tpl("dotted", "{{ user.name }}", ["Ada", "user.name"], { user: { name: "Ada" } });
tpl("index", "{{ items[1] }}", ["b", "a"], { items: ["a", "b"] });
tpl("key", "{{ m['k-1'] }}", ["v"], { m: { "k-1": "v" } });
tpl("lower", "{{ s | lower }}", ["abc", "ABC"], { s: "AbC" });
tpl("title", "{{ s | title }}", ["Hello World"], { s: "hello world" });
tpl("capitalize", "{{ s | capitalize }}", ["Hello world"], { s: "hELLO WORLD" });
tpl("trim", "[{{ s | trim }}]", ["[x]"], { s: "  x  " });
tpl("join", "{{ xs | join(', ') }}", ["a, b, c"], { xs: ["a", "b", "c"] });
tpl("default", "{{ x | default('none') }}", ["none"], {});
tpl("default falsy", "{{ x | default('none', true) }}", ["none", ""], { x: "" });
tpl("d", "{{ x | d('z') }}", ["z"], {});
tpl("length", "{{ xs | length }}", ["3"], { xs: [1, 2, 3] });
tpl("first last", "{{ xs | first }}-{{ xs | last }}", ["1-3"], { xs: [1, 2, 3] });
tpl("replace", "{{ s | replace('a', 'o') }}", ["bonono"], { s: "banana" });
tpl("truncate", "{{ s | truncate(5) }}", ["hello...", "hello"], { s: "hello world" });
tpl("round", "{{ n | round(1) }}", ["3.1", "3.14"], { n: 3.14159 });
tpl("int", "{{ s | int + 1 }}", ["43"], { s: "42" });
tpl("dump", "{{ o | dump }}", ['{"a":1}'], { o: { a: 1 } });
tpl("sort", "{{ xs | sort | join }}", ["abc"], { xs: ["c", "a", "b"] });
tpl("reverse", "{{ s | reverse }}", ["cba"], { s: "abc" });
tpl("wordcount", "{{ s | wordcount }}", ["3"], { s: "a b c" });
tpl("urlencode", "{{ s | urlencode }}", ["a%20b%26c"], { s: "a b&c" });
tpl("striptags", "{{ s | striptags }}", ["bold text"], { s: "<b>bold</b> text" });
tpl("sum", "{{ xs | sum }}", ["6"], { xs: [1, 2, 3] });
tpl("string", "{{ n | string }}!", ["5!"], { n: 5 });
tpl("load", "{{ (s | load).a }}", ["1"], { s: '{"a": 1}' });
tpl("arithmetic", "{{ n * 2 + 1 }}", ["7"], { n: 3 });
tpl("concat", "{{ a ~ '-' ~ b }}", ["x-y"], { a: "x", b: "y" });
tpl("inline if", "{{ 'yes' if flag else 'no' }}", ["yes"], { flag: true });
tpl("compare", "{{ n > 2 }}", ["true"], { n: 3 });
tpl("in", "{{ 'a' in xs }}", ["true"], { xs: ["a"] });
tpl("if tag", "{% if flag %}on{% else %}off{% endif %}", ["off"], { flag: false });
tpl("comment", "a{# note #}b", ["ab"], {});
tpl("raw", "{% raw %}{{ not a var }}{% endraw %}", ["{{ not a var }}"], {});
tpl("whitespace control", "a {{- x -}} b", ["aXb"], { x: "X" });
tpl("object", "{{ o }}", ["[object Object]"], { o: { a: 1 } });
tpl("list", "{{ xs }}", ["1,2"], { xs: [1, 2] });
tpl("boolean", "{{ b }}", ["false"], { b: false });
tpl("number", "{{ n }}", ["1.5"], { n: 1.5 });
tpl("zero", "{{ n }}", ["0"], { n: 0 });
tpl("html not escaped", "{{ s }}", ["<b>&</b>"], { s: "<b>&</b>" });
tpl("syntax error", "{{ x ", ["x"], { x: 1 });
tpl("unterminated comment", "a {# b", ["a"], {});
tpl("missing var", "a{{ nope }}b", ["ab"], {}, "missing-var");
tpl("missing nested", "{{ user.age }}", [""], { user: { name: "Ada" } }, "missing-var");
tpl("null var", "[{{ x }}]", ["[]"], { x: null }, "missing-var");
tpl("function call", "{{ range(3) | join }}", ["012"], {}, "template-subset");
tpl("for loop", "{% for x in xs %}{{ x }}{% endfor %}", ["ab"], { xs: ["a", "b"] }, "template-subset");
tpl("set", "{% set y = 2 %}{{ y }}", ["2"], {}, "template-subset");
tpl("test", "{{ x is defined }}", ["true"], { x: 1 }, "template-subset");
tpl("filter outside the list", "{{ xs | batch(2) | length }}", ["2"], { xs: [1, 2, 3] }, "template-subset");
tpl("env", "[{{ env.DRIFTLENS_DIFFERENTIAL_UNSET }}]", ["[]"], {}, "missing-var");

// ---------- more edges ----------
each("starts-with zero", { type: "starts-with", value: 0 }, ["0 is first"]);
both("contains-any zero item", { type: "contains-any", value: [0, "x"] }, ["0", "y"]);
both("word-count padded numeric text", { type: "word-count", value: " 2 " }, ["a b", "a"]);
both("equals object value is not rendered", { type: "equals", value: { q: "{{x}}" } }, ['{"q":"{{x}}"}', '{"q":"1"}'], { vars: { x: 1 } });
both("contains rendered number", { type: "contains", value: "{{ n * 2 }}" }, ["got 84", "got 42"], { vars: { n: 42 } });
both("is-json whitespace around", { type: "is-json", value: { type: "array" } }, ["\n [1] \n", "\n {} "]);
both("javascript grading promise", { type: "javascript", value: "Promise.resolve({pass: output === 'a', score: 0.7, reason: 'r'})" }, ["a", "b"]);
both("javascript multi-line block scalar", { type: "javascript", value: "const t = output.trim();\nreturn t.endsWith('.');\n" }, ["Done. ", "Done"]);
both("contains-json nested list", { type: "contains-json", value: { type: "object", required: ["id"] } }, ['{"items": [{"id": 1}]}', '[[{"x": 1}], [{"id": 2}]]']);
both("icontains-all csv case", { type: "icontains-all", value: "PARIS, \"Lyon, France\"" }, ["paris and lyon, france", "paris and lyon"]);

// ---------- features Driftlens refuses ----------
each("transform", { type: "contains", value: "A", transform: "output.toUpperCase()" }, ["a"], { differs: "transform" });

// ---------- weights and thresholds (runAssertions) ----------
const C = (id: string, assertions: Assertion[], output: string, threshold?: number, differs?: Difference) =>
  add({ id: `case ${id}`, assertions, output, ...(threshold !== undefined ? { threshold } : {}), ...(differs ? { differs } : {}) });
C("all pass", [{ type: "contains", value: "a" }, { type: "contains", value: "b" }], "a b");
C("one fails", [{ type: "contains", value: "a" }, { type: "contains", value: "z" }], "a b");
C("weighted", [{ type: "contains", value: "a", weight: 3 }, { type: "contains", value: "z", weight: 1 }], "a");
C("weighted threshold met", [{ type: "contains", value: "a", weight: 3 }, { type: "contains", value: "z", weight: 1 }], "a", 0.75);
C("weighted threshold missed", [{ type: "contains", value: "a", weight: 3 }, { type: "contains", value: "z", weight: 1 }], "a", 0.8);
C("weight zero failing", [{ type: "contains", value: "a" }, { type: "contains", value: "z", weight: 0 }], "a");
C("all weight zero", [{ type: "contains", value: "z", weight: 0 }], "a");
C("threshold zero", [{ type: "contains", value: "z" }], "a", 0);
C("javascript score in mean", [{ type: "javascript", value: "0.25" }, { type: "contains", value: "a" }], "a", 0.5);
C("not- in mean", [{ type: "not-contains", value: "a" }, { type: "icontains", value: "A" }], "a", 0.5);
C("negative weight", [{ type: "contains", value: "a", weight: -1 }, { type: "contains", value: "b" }], "a b", undefined, "negative-weight");
add({ id: "weight zero alone", assertion: { type: "contains", value: "z", weight: 0 }, output: "a", differs: "weight-zero" });

export const PAIRS: readonly Pair[] = pairs;

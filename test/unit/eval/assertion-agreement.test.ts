// `driftlens check` and the evaluator agree on assertions: for every assertion below, written into
// a real eval set, check's error diagnostics on it are exactly what the evaluator refuses it with
// (the first error's message), and an assertion check finds no error in is evaluated (a verdict,
// not a refusal). Warnings are check's alone.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { parseEvalSet } from "../../../server/src/artifacts/evalset";
import { evaluateAssertions, type Assertion } from "../../../server/src/eval/assertions";
import { DIST } from "../../helpers/paths";
import { makeWorkspace } from "./helpers";

interface Row {
  a: unknown;
  vars?: Record<string, unknown>;
  /** Whether check should find an error in it. */
  error: boolean;
}

const ROWS: Row[] = [
  // valid
  { a: { type: "contains", value: "x" }, error: false },
  { a: { type: "contains", value: 42 }, error: false },
  { a: { type: "icontains", value: 0 }, error: false },
  { a: { type: "equals", value: "" }, error: false },
  { a: { type: "equals", value: { a: [1] } }, error: false },
  { a: { type: "equals", value: null }, error: false },
  { a: { type: "contains-any", value: '"a, b", c' }, error: false },
  { a: { type: "contains-all", value: [] }, error: false },
  { a: { type: "icontains-any", value: ["", 1, { x: 1 }] }, error: false },
  { a: { type: "regex", value: "/hello/i" }, error: false },
  { a: { type: "not-regex", value: "(?<=a)b" }, error: false },
  { a: { type: "is-json" }, error: false },
  { a: { type: "is-json", value: "" }, error: false },
  { a: { type: "is-json", value: "type: object" }, error: false },
  { a: { type: "contains-json", value: { type: "object", properties: { e: { format: "email" } } } }, error: false },
  { a: { type: "is-json", value: { $schema: "https://json-schema.org/draft/2019-09/schema", dependentRequired: { a: ["b"] } } }, error: false },
  { a: { type: "levenshtein", value: "", threshold: 2 }, error: false },
  { a: { type: "word-count", value: "3" }, error: false },
  { a: { type: "word-count", value: "" }, error: false },
  { a: { type: "word-count", value: { min: 1, max: 1 } }, error: false },
  { a: { type: "latency", threshold: 10 }, error: false },
  { a: { type: "similar", value: ["a", "b"], threshold: 0.1 }, error: false },
  { a: { type: "similar:euclidean", value: "a" }, error: false },
  { a: { type: "javascript", value: "output.length > 0;" }, error: false },
  { a: { type: "contains", value: "{{name}}" }, vars: { name: "Ada" }, error: false },
  { a: { type: "equals", value: "{{ n | default(3) }}" }, vars: {}, error: false },
  { a: { type: "contains", value: "x", weight: 0, metric: "m" }, error: false },
  { a: { type: "contains", value: "x", provider: "openai:gpt-4" }, error: false },
  { a: { type: "contains", value: "x", colour: "red" }, error: false },
  // invalid shape
  { a: "contains", error: true },
  { a: { value: "x" }, error: true },
  { a: { type: 5, value: "x" }, error: true },
  { a: { type: "contians", value: "x" }, error: true },
  { a: { type: "not-not-contains", value: "x" }, error: true },
  { a: { type: "contains", value: "x", threshold: "high" }, error: true },
  { a: { type: "contains", value: "x", weight: -1 }, error: true },
  { a: { type: "contains", value: "x", weight: "heavy" }, error: true },
  { a: { type: "contains", value: "x", metric: 5 }, error: true },
  { a: { type: "contains", value: "x", threshold: "high", weight: -2 }, error: true },
  { a: { type: "contains", value: "x", transform: "output.toUpperCase()" }, error: true },
  // invalid values
  { a: { type: "contains", value: "" }, error: true },
  { a: { type: "not-icontains", value: true }, error: true },
  { a: { type: "contains" }, error: true },
  { a: { type: "starts-with", value: 42 }, error: true },
  { a: { type: "regex", value: "" }, error: true },
  { a: { type: "regex", value: "(" }, error: true },
  { a: { type: "regex", value: 42 }, error: true },
  { a: { type: "contains-any", value: "" }, error: true },
  { a: { type: "contains-any", value: '"open' }, error: true },
  { a: { type: "contains-all", value: 5 }, error: true },
  { a: { type: "equals" }, error: true },
  { a: { type: "is-json", value: 5 }, error: true },
  { a: { type: "is-json", value: { type: 12 } }, error: true },
  { a: { type: "is-json", value: { dependentRequired: { a: ["b"] } } }, error: true },
  { a: { type: "contains-json", value: "type: [unclosed" }, error: true },
  { a: { type: "json-schema" }, error: true },
  { a: { type: "json-schema", value: { $schema: "http://json-schema.org/draft-04/schema#" } }, error: true },
  { a: { type: "levenshtein", value: 123 }, error: true },
  { a: { type: "word-count", value: { min: 5, max: 3 } }, error: true },
  { a: { type: "not-word-count", value: {} }, error: true },
  { a: { type: "word-count", value: { min: "2" } }, error: true },
  { a: { type: "word-count", value: [2] }, error: true },
  { a: { type: "latency" }, error: true },
  { a: { type: "similar", value: [] }, error: true },
  { a: { type: "similar", value: [1] }, error: true },
  { a: { type: "javascript", value: 5 }, error: true },
  { a: { type: "javascript", value: "" }, error: true },
  { a: { type: "contains", value: "file://expected.txt" }, error: true },
  { a: { type: "javascript", value: "file://check.js" }, error: true },
  { a: { type: "equals", value: "package:lodash:get" }, error: true },
  // templates
  { a: { type: "contains", value: "Hi {{nobody}}" }, vars: { name: "Ada" }, error: true },
  { a: { type: "contains", value: "{{name}}" }, vars: { name: "" }, error: true },
  { a: { type: "contains-any", value: ["a", "{{ x }"] }, vars: { x: 1 }, error: true },
  { a: { type: "equals", value: "{{ range(2) }}" }, vars: {}, error: true },
  { a: { type: "equals", value: "{{ x | batch(2) }}" }, vars: { x: [1] }, error: true },
  { a: { type: "equals", value: "{{ constructor }}" }, vars: {}, error: true },
  { a: { type: "equals", value: "[{{ x }}]" }, vars: { x: null }, error: true },
  { a: { type: "regex", value: "{{ p }}" }, vars: { p: "(" }, error: true },
];

const embed = async (texts: string[]) => texts.map((t) => [t.length + 1, 1]);

function evalSetWith(a: unknown, vars: Record<string, unknown>): string {
  return `prompt: p.prompt\ncases:\n  - id: c\n    why: w\n    vars: ${JSON.stringify(vars)}\n    assert:\n      - ${JSON.stringify(a)}\n`;
}

test("check's error diagnostics on an assertion are exactly what the evaluator refuses it with", async () => {
  const problems: string[] = [];
  for (const row of ROWS) {
    const doc = parseEvalSet(evalSetWith(row.a, row.vars ?? {}), "/x/e.eval.yaml");
    const errors = doc.diagnostics.filter((d) => d.severity === "error").map((d) => d.message);
    const c = doc.cases[0];
    if (!c) {
      problems.push(`${JSON.stringify(row.a)}: the case did not parse (${errors.join("; ")})`);
      continue;
    }
    assert.equal(c.assert.length, 1, "every entry reaches the evaluator, valid or not");
    const ev = await evaluateAssertions(c.assert, "some output", { vars: c.vars, trusted: true, latencyMs: 1, embed });
    const r = ev.assertions[0]!;
    const what = `${JSON.stringify(row.a)}${row.vars ? ` with vars ${JSON.stringify(row.vars)}` : ""}`;
    if (row.error !== errors.length > 0) problems.push(`${what}: check found ${errors.length ? errors.join("; ") : "no error"}, expected ${row.error ? "one" : "none"}`);
    if (errors.length) {
      if (!r.error) problems.push(`${what}: check says "${errors[0]}" but eval gave a verdict (pass=${r.pass})`);
      else if (r.message !== errors[0]) problems.push(`${what}: check says "${errors[0]}", eval says "${r.message}"`);
      if (ev.error !== r.message) problems.push(`${what}: the case's error is "${ev.error}", not the assertion's message`);
    } else if (r.error) problems.push(`${what}: check found no error, but eval refused it: ${r.message}`);
  }
  assert.deepEqual(problems, []);
});

test("defaultAssert templates are checked with each case's vars, and eval refuses with the same message", async () => {
  const text = `prompt: p.prompt\ndefaultAssert:\n  - {type: icontains, value: "{{capital}}"}\ncases:\n  - id: fr\n    why: w\n    vars: {capital: Paris}\n  - id: xx\n    why: w\n    vars: {country: Nowhere}\n`;
  const doc = parseEvalSet(text, "/x/e.eval.yaml");
  const errors = doc.diagnostics.filter((d) => d.severity === "error");
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.range.start.line, 2, "reported on the defaultAssert entry");
  assert.match(errors[0]!.message, /\(in case 'xx'\)$/);
  for (const c of doc.cases) {
    const ev = await evaluateAssertions([...doc.defaultAssert, ...c.assert] as Assertion[], "Paris", { vars: c.vars });
    if (c.id === "fr") assert.equal(ev.pass, true);
    else assert.equal(`${ev.error} (in case 'xx')`, errors[0]!.message);
  }
});

test("warnings are check's alone: an assertion with only a warning is evaluated", async () => {
  const doc = parseEvalSet(evalSetWith({ type: "regex", value: "/hello/i" }, {}), "/x/e.eval.yaml");
  const w = doc.diagnostics.find((d) => d.code === "DL332");
  assert.ok(w, "DL332 warns that /hello/i is not a pattern with flags");
  assert.equal(w.severity, "warning");
  const ev = await evaluateAssertions(doc.cases[0]!.assert, "a /hello/i b");
  assert.equal(ev.pass, true);
});

test("the CLI: what `driftlens check` reports on an assertion, `driftlens eval` refuses the case with, word for word", { timeout: 180_000 }, () => {
  const w = makeWorkspace("driftlens-agreement-");
  fs.writeFileSync(
    w.evalSet,
    [
      "prompt: capital.prompt",
      "cases:",
      "  - id: empty",
      "    vars: {country: France}",
      '    assert: [{type: contains, value: ""}]',
      "    why: an empty value",
      "  - id: range",
      "    vars: {country: Spain}",
      "    assert: [{type: not-word-count, value: {min: 5, max: 3}}]",
      "    why: an impossible range",
      "  - id: template",
      "    vars: {country: Italy}",
      '    assert: [{type: icontains, value: "{{capital}}"}]',
      "    why: a var the case lacks",
      "  - id: fine",
      "    vars: {country: Peru}",
      "    assert: [{type: not-contains, value: zzzz}]",
      "    why: valid",
      "",
    ].join("\n"),
  );
  const check = spawnSync(process.execPath, [path.join(DIST, "cli.js"), "check", "--format", "json", w.evalSet], { cwd: w.root, encoding: "utf8" });
  const diags = (JSON.parse(check.stdout) as { severity: string; message: string; range: { start: { line: number } } }[]).filter((d) => d.severity === "error");
  assert.equal(diags.length, 3, check.stdout);
  const ev = spawnSync(process.execPath, [path.join(DIST, "cli.js"), "eval", "--format", "json", "--variant", "tiny/rnd", w.evalSet], { cwd: w.root, encoding: "utf8", timeout: 170_000 });
  const cases = (JSON.parse(ev.stdout) as { runs: { cases: { id: string; pass: boolean; error?: string }[] }[] }).runs[0]!.cases;
  const byId = new Map(cases.map((c) => [c.id, c]));
  const lines = fs.readFileSync(w.evalSet, "utf8").split("\n");
  for (const d of diags) {
    const id = /id: (\w+)/.exec(lines.slice(0, d.range.start.line + 1).reverse().find((l) => l.includes("- id:")) ?? "")?.[1];
    const c = byId.get(id ?? "");
    assert.ok(c, `a case result for the diagnostic on line ${d.range.start.line + 1}`);
    assert.equal(c.pass, false);
    assert.equal(c.error, d.message, `case ${id}`);
  }
  assert.equal(byId.get("fine")?.error, undefined);
  assert.equal(byId.get("fine")?.pass, true);
});

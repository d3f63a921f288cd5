// The one eval-set parser: flow/JSON-style files split into items like block-style ones (and equal
// to a whole-document parse), the declared prompt read by that same parser for every caller, scan
// mode and coarse JSONL equal to the full parse, bounded diagnostics, linear time on long lines.
import assert from "node:assert/strict";
import { test } from "node:test";
import { declaredEvalSetPrompt, MAX_EVAL_DIAGNOSTICS, parseEvalSet, type EvalCase, type EvalSetDoc } from "../../../server/src/artifacts/evalset";
import { splitFlowCases } from "../../../server/src/artifacts/evalset-flow";
import { Workspace } from "../../../server/src/artifacts/workspace";
import fs from "node:fs";
import path from "node:path";
import { tempDir } from "../../helpers/paths";
import type { Diagnostic } from "../../../server/src/artifacts/types";

/** A small deterministic PRNG, so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Flow-style case items: valid ones, and ones with every kind of problem the checks report. */
function flowItem(r: () => number, i: number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const id = pick([`"c${i}"`, `c${i}`, `'c${i}'`, `${i}`, `"dup"`, `""`]);
  const vars = pick([`{"country": "Fr, [a] {b} \\"q\\""}`, `{country: 'it''s'}`, `{}`, `[1, 2]`, `{"n": ${i}, "deep": {"x": [1, {"y": 2}]}}`]);
  const assert = pick([
    `[{"type": "icontains", "value": "paris"}]`,
    `[{type: contains-any, value: ["a", "b,c"]}]`,
    `[{"type": "no-such-type", "value": "x"}]`,
    `[{"type": "regex", "value": "(unclosed"}]`,
    `[{"type": "equals"}]`,
    `"not a list"`,
  ]);
  const extra = pick(["", `, "tags": ["t${i % 3}", "all"]`, `, tags: [x]`, `, "why": "because"`, `, "whyy": "typo"`, `, "threshold": 0.5`]);
  const sep = pick([" ", "\n    ", "\n  # a comment, with [brackets] and {braces}\n  "]);
  if (r() < 0.05) return pick([`"just a string"`, `42`, `null`]);
  return `{"id": ${id},${sep}"vars": ${vars}, "assert": ${assert}${extra}}`;
}

function flowDoc(seed: number): string {
  const r = rng(seed);
  const n = 1 + Math.floor(r() * 12);
  const items: string[] = [];
  for (let i = 0; i < n; i++) items.push(flowItem(r, i));
  const head = r() < 0.5 ? `"prompt": "capital.prompt", ` : `prompt: 'capital.prompt',\n  description: "d", `;
  const slices = r() < 0.3 ? `, "slices": {"s": ["t0", "t1"]}` : "";
  const sep = r() < 0.5 ? ", " : ",\n  ";
  return `# generated ${seed}\n{${head}"cases": [\n  ${items.join(sep)}\n]${slices}}\n`;
}

/** What a parse says, positions included, for comparing two parses of the same content. */
function summary(doc: EvalSetDoc, lineShift = 0): unknown {
  const msg = (m: string) => m.replace(/line (\d+)/g, (_, n: string) => `line ${Number(n) - lineShift}`);
  const d = (x: Diagnostic) => [x.code, x.severity, msg(x.message), x.range.start.line - lineShift, x.range.start.character, x.range.end.line - lineShift, x.range.end.character];
  const c = (x: EvalCase) => [x.id, x.vars, x.assert, x.tags, x.why, x.threshold, x.index, x.range.start.line - lineShift, x.range.start.character, x.idRange.start.line - lineShift, x.idRange.start.character];
  return {
    prompt: doc.prompt?.declared,
    cases: doc.cases.map(c),
    diagnostics: doc.diagnostics.map(d).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    slices: doc.slices.map((s) => [s.name, s.tags, s.caseIds]),
  };
}

test("flow/JSON-style eval sets are split into items and parse exactly as the whole document does", () => {
  let split = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const text = flowDoc(seed);
    if (splitFlowCases(text)) split++;
    const fast = parseEvalSet(text, "/w/x.eval.yaml");
    // A directive line makes both splitters step aside: the whole document is parsed (2 lines later).
    const whole = parseEvalSet(`%YAML 1.2\n---\n${text}`, "/w/x.eval.yaml");
    assert.deepEqual(summary(fast), summary(whole, 2), `seed ${seed}:\n${text}`);
  }
  assert.ok(split > 250, `the split handled ${split} of 300 generated files`);
});

test("the declared prompt comes from the parser, whatever the style", () => {
  const cases = [
    ["prompt: capital.prompt\ncases:\n  - {id: a}\n", "capital.prompt"],
    ['{"prompt": "x.prompt", "cases": [{"id": "a"}]}', "x.prompt"],
    ["{prompt: 'it''s.prompt', cases: []}", "it's.prompt"],
    ["description: d\nprompt: >-\n  folded.prompt\ncases: []\n", "folded.prompt"],
    ["prompt: a.prompt # a comment\ncases:\n- id: a\n", "a.prompt"],
    ['cases:\n  - id: a\nprompt: "late.prompt"\n', "late.prompt"],
    ["cases:\n  - id: a\n", undefined],
    ["prompt: [not, a, string]\n", undefined],
  ] as const;
  for (const [text, want] of cases) {
    assert.equal(declaredEvalSetPrompt(text, "/w/e.eval.yaml"), want, text);
    assert.equal(parseEvalSet(text, "/w/e.eval.yaml").prompt?.declared, want, text);
  }
  assert.equal(declaredEvalSetPrompt('\n{"prompt": "j.prompt"}\n{"id": "a"}\n', "/w/e.eval.jsonl"), "j.prompt");
  assert.equal(declaredEvalSetPrompt('{"id": "a", "prompt": "no.prompt"}\n', "/w/e.eval.jsonl"), undefined);
  for (let seed = 1; seed <= 100; seed++) {
    const text = flowDoc(seed);
    assert.equal(declaredEvalSetPrompt(text, "/w/e.eval.yaml"), parseEvalSet(text, "/w/e.eval.yaml").prompt?.declared, text);
  }
});

test("the workspace finds an eval set's prompt as check does: flow/JSON style, JSONL, block", () => {
  const dir = tempDir("driftlens-evalset-");
  fs.writeFileSync(path.join(dir, "x.prompt"), "---\ninput: {schema: {country: string}}\n---\nHi {{country}}\n");
  const files = {
    "flow.eval.yaml": '{"prompt": "x.prompt", "cases": [{"id": "a", "vars": {"country": "F"}, "assert": [], "why": "w"}]}\n',
    "flow2.eval.yaml": "{\n  # prompt below\n  prompt: 'x.prompt',\n  cases: []\n}\n",
    "lines.eval.jsonl": '{"prompt": "x.prompt"}\n{"id": "a", "vars": {"country": "F"}, "why": "w"}\n',
    "block.eval.yaml": "cases:\n  - {id: a, vars: {country: F}, why: w}\nprompt: x.prompt\n",
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const ws = new Workspace(dir);
  for (const name of Object.keys(files)) {
    assert.equal(ws.promptFor(path.join(dir, name)), path.join(dir, "x.prompt"), name);
    assert.deepEqual(ws.evalSetsFor(path.join(dir, "x.prompt")).includes(path.join(dir, name)), true, name);
  }
});

test("a long prompt line takes linear time", () => {
  const dir = tempDir("driftlens-evalset-");
  const ws = new Workspace(dir);
  const time = (n: number) => {
    const file = path.join(dir, `l${n}.eval.yaml`);
    fs.writeFileSync(file, `prompt: x${" ".repeat(n)}y\ncases:\n  - id: a\n    why: w\n`);
    const t0 = performance.now();
    assert.equal(ws.promptFor(file), path.join(dir, `x${" ".repeat(n)}y`));
    return performance.now() - t0;
  };
  time(1000); // warm-up
  // A line pattern with a lazy group backtracked quadratically: 1.6 s at 20,000 spaces, ~6 s at 40,000.
  const t = time(40_000);
  assert.ok(t < 500, `a 40,000-character prompt line took ${t.toFixed(1)} ms`);
});

test("scan mode reports what a normal parse reports without keeping the cases", () => {
  for (const [name, text] of [
    ["block", "prompt: p.prompt\nslices:\n  s: [t1]\ncases:\n" + Array.from({ length: 50 }, (_, i) => `  - id: ${i % 17 === 3 ? "dup" : `c${i}`}\n    vars: {x: ${i}}\n    assert: [{type: ${i % 9 === 0 ? "nope" : "contains"}, value: v}]\n    tags: [t${i % 3}]\n    why: w\n`).join("")],
    ["flow", flowDoc(7)],
    ["jsonl", '{"prompt": "p.prompt"}\n' + Array.from({ length: 50 }, (_, i) => `{"id": "${i % 13 === 2 ? "dup" : `c${i}`}", "vars": {}, "assert": [{"type": "${i % 7 ? "contains" : "bad"}", "value": "v"}], "tags": ["t${i % 4}"], "why": "w"${i % 11 ? "" : ', "extra": 1'}}`).join("\n")],
  ] as const) {
    const file = name === "jsonl" ? "/w/e.eval.jsonl" : "/w/e.eval.yaml";
    const full = parseEvalSet(text, file);
    const seen: EvalCase[] = [];
    const scanned = parseEvalSet(text, file, undefined, { onCase: (c) => seen.push(c) });
    assert.equal(scanned.cases.length, 0, name);
    assert.deepEqual(summary({ ...scanned, cases: seen } as EvalSetDoc), summary(full), name);
  }
});

test("large JSONL files: coarse positions, the same checks on the same lines", () => {
  const line = (i: number) => `{"id": "${i % 5000 === 7 ? "dup" : `c${i}`}", "vars": {"country": "${"x".repeat(40)}"}, "assert": [{"type": "${i % 10000 === 3 ? "bad-type" : "contains"}", "value": "v"}], "tags": ["t${i % 4}"], "why": "w"${i % 20000 === 11 ? ', "unknownkey": 1' : ""}}`;
  const lines = ['{"prompt": "p.prompt"}'];
  for (let i = 0; i < 60_000; i++) lines.push(line(i));
  const big = lines.join("\n") + "\n";
  assert.ok(big.length > 8 * 1024 * 1024);
  const coarse = parseEvalSet(big, "/w/e.eval.jsonl");
  // The same lines in a small file get exact positions; compare the problems line by line.
  const key = (d: Diagnostic) => `${d.range.start.line} ${d.code} ${d.severity} ${d.message}`;
  const problems = coarse.diagnostics.map(key).sort();
  const exactLines = [...new Set(coarse.diagnostics.map((d) => d.range.start.line))];
  const exact: string[] = [];
  for (const l of exactLines) {
    const small = parseEvalSet(`${"\n".repeat(l)}${lines[l]}\n`, "/w/e.eval.jsonl");
    for (const d of small.diagnostics) if (d.code !== "DL302") exact.push(key(d));
  }
  const dupLines = coarse.diagnostics.filter((d) => d.code === "DL302").map(key);
  assert.deepEqual(problems, [...exact, ...dupLines].sort());
  assert.ok(coarse.diagnostics.some((d) => d.code === "DL303"), "unknown assertion types are reported");
  assert.ok(coarse.diagnostics.some((d) => d.code === "DL311"), "unknown keys are reported");
  assert.ok(coarse.diagnostics.some((d) => d.code === "DL302"), "duplicate ids are reported");
  assert.equal(coarse.cases.length, 60_000);
});

test("an eval set with more problems than can be shown keeps the first ones and says how many more", () => {
  const text = "prompt: p.prompt\ncases:\n" + Array.from({ length: MAX_EVAL_DIAGNOSTICS + 500 }, (_, i) => `  - {id: c${i}, assert: [{type: nope}], why: w}\n`).join("");
  const doc = parseEvalSet(text, "/w/e.eval.yaml");
  assert.equal(doc.diagnostics.length, MAX_EVAL_DIAGNOSTICS + 1);
  assert.match(doc.diagnostics[MAX_EVAL_DIAGNOSTICS]!.message, /^500 more problems/);
});

// Held-out behaviour beyond the Dotprompt spec files (Picoschema, whitespace, unicode, from the
// public Dotprompt docs), the template analysis, eval-set incremental parsing, variants,
// fingerprints and the slice-size function.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { picoschema } from "dotprompt";
import { loadConfig } from "../../../server/src/artifacts/config";
import { EvalParseCache, parseEvalSet } from "../../../server/src/artifacts/evalset";
import { fingerprintFile, setFingerprintCache } from "../../../server/src/artifacts/fingerprint";
import { compilePicoschema } from "../../../server/src/artifacts/picoschema";
import { canDetectDrop, mcnemarOneSidedP, minCasesToDetectDrop } from "../../../server/src/stats/power";
import { detach, parsePrompt, parseTemplate, templateSegments } from "../../../server/src/artifacts/prompt";
import { renderPrompt, renderTextForCount } from "../../../server/src/artifacts/render";
import { parseVariantRef, tryParseVariantRef } from "../../../server/src/artifacts/variant-ref";
import { Workspace } from "../../../server/src/artifacts/workspace";
import { sha256Text } from "../../../server/src/artifacts/hash";
import { buildLoraGguf } from "../../../server/src/modelgen";
import { tempDir, TINY_RANDOM_GGUF } from "../../helpers/paths";

const PICO_CASES: unknown[] = [
  { name: "string" },
  { name: "string, the name" },
  { "name?": "string, the name", age: "integer", score: "number", ok: "boolean", nothing: "null", anything: "any" },
  { "tags(array)": "string", "ids?(array, the ids)": "integer" },
  { "address(object, where they live)": { street: "string", "zip?": "string" } },
  { "color(enum, a colour)": ["red", "green"], "size?(enum)": ["s", "m"] },
  { "(*)": "string" },
  { "meta(object)": { "(*)": "any", source: "string" } },
  { "items(array)": { name: "string", "qty?": "integer" } },
  { type: "object", properties: { a: { type: "string" } } },
  { properties: { a: { type: "string" } }, required: ["a"] },
  "string",
  "integer, a count",
];

test("Picoschema compiles exactly as Dotprompt's reference parser does", async () => {
  for (const schema of PICO_CASES) {
    const ours = compilePicoschema(structuredClone(schema));
    assert.deepEqual(ours.errors, [], JSON.stringify(schema));
    // The reference leaves `required: undefined` on objects without required keys; JSON drops it.
    assert.deepEqual(ours.schema, JSON.parse(JSON.stringify(await picoschema(structuredClone(schema)))), JSON.stringify(schema));
  }
});

test("Picoschema: the docs' examples, and errors with paths", () => {
  assert.deepEqual(compilePicoschema({ "name?": "string, the user's name", "tags(array)": "string", "status(enum)": ["a", "b"] }).schema, {
    type: "object",
    properties: {
      name: { type: ["string", "null"], description: "the user's name" },
      tags: { type: "array", items: { type: "string" } },
      status: { enum: ["a", "b"] },
    },
    required: ["tags", "status"],
    additionalProperties: false,
  });
  const bad = compilePicoschema({ a: "strng", "b(tuple)": "string", c: { d: 5 } });
  assert.deepEqual(
    bad.errors.map((e) => [e.path, e.at]),
    [
      [["a"], "value"],
      [["b(tuple)"], "key"],
      [["c", "d"], "value"],
    ],
  );
});

test("template analysis: scopes of each/with, block params, @root, ../, this; helpers and partials", () => {
  const doc = parsePrompt(
    '---\ninput:\n  schema:\n    items(array): string\n    user(object): {name: string}\n    title: string\n---\n{{#each items as |it i|}}{{it}} {{i}} {{this}} {{@index}} {{../title}} {{@root.user.name}} {{name}}{{/each}}\n{{#with user}}{{name}}{{/with}} {{#if title}}{{title}}{{else}}{{> none}}{{/if}} {{json user}}\n',
    "/x/p.prompt",
  );
  assert.deepEqual(doc.variables.map((v) => v.path), ["items", "../title", "@root.user.name", "user", "title", "title", "user"]);
  assert.deepEqual(doc.helpers.map((h) => h.name), ["each", "with", "if", "json"]);
  assert.deepEqual(doc.partials.map((p) => p.name), ["none"]);
  assert.deepEqual(doc.diagnostics, []);
});

test("positions are UTF-16 code units, as LSP counts them, with unicode before a variable", () => {
  const doc = parsePrompt("---\ninput:\n  schema:\n    ok: string\n---\nÉmoji 🌍 here: {{nope}}\n", "/x/p.prompt");
  const d = doc.diagnostics.find((x) => x.code === "DL203");
  assert.ok(d);
  // "Émoji 🌍 here: {{" is 17 UTF-16 units (the emoji is two).
  assert.deepEqual(d.range, { start: { line: 5, character: 17 }, end: { line: 5, character: 21 } });
});

test("whitespace: body after front matter trimmed, files without front matter kept, CRLF, ~ control", async () => {
  const fm = parsePrompt("---\nmodel: a/b\n---\n\n  Hello {{name}}  \n\n", "/x/a.prompt");
  assert.equal(fm.template, "Hello {{name}}");
  assert.deepEqual((await renderPrompt(fm, { input: { name: "Ana" } })).messages, [{ role: "user", content: [{ text: "Hello Ana" }] }]);
  const plain = parsePrompt("  Hello {{name}}\n", "/x/b.prompt");
  assert.deepEqual((await renderPrompt(plain, { input: { name: "Ana" } })).messages, [{ role: "user", content: [{ text: "  Hello Ana\n" }] }]);
  const crlf = parsePrompt('---\r\ninput:\r\n  schema:\r\n    name: string\r\n---\r\n{{role "user"}}Hi {{name}}\r\n', "/x/c.prompt");
  assert.deepEqual(crlf.diagnostics, []);
  assert.deepEqual(crlf.inputs.map((i) => i.name), ["name"]);
  assert.deepEqual((await renderPrompt(crlf, { input: { name: "Zoë 🌍" } })).messages, [{ role: "user", content: [{ text: "Hi Zoë 🌍" }] }]);
  const tilde = parsePrompt("A   {{~name~}}   B", "/x/d.prompt");
  assert.deepEqual((await renderPrompt(tilde, { input: { name: "x" } })).messages[0]!.content, [{ text: "AxB" }]);
});

test("variant refs", () => {
  assert.deepEqual(parseVariantRef("tiny/f16+formal@0.5+concise"), { family: "tiny", variant: "f16", adapters: [{ name: "formal", scale: 0.5 }, { name: "concise" }] });
  assert.deepEqual(parseVariantRef("qwen/q4_k_m"), { family: "qwen", variant: "q4_k_m", adapters: [] });
  for (const bad of ["tiny", "/f16", "tiny/", "tiny/f16+", "tiny/f16+x@", "tiny/f16+x@abc", "ti ny/f16"]) {
    assert.ok("error" in tryParseVariantRef(bad), bad);
    assert.throws(() => parseVariantRef(bad), /variant|adapter|scale|name/);
  }
});

test("driftlens.yaml: no file gives every default; a broken section keeps the others", () => {
  const dir = tempDir();
  const none = loadConfig(dir);
  assert.equal(none.file, undefined);
  assert.deepEqual(none.diagnostics, []);
  assert.deepEqual(none.config.models, {});
  assert.deepEqual({ ...none.config.engine, memoryBudgetBytes: 0 }, { gpu: "auto", threads: "auto", contextSize: 2048, parallelSequences: 8, memoryBudgetBytes: 0, caseTimeoutMs: 300_000 });
  assert.deepEqual(none.config.gate, { maxPassRateDrop: 0.02, maxSliceDrop: 0.1, alpha: 0.05 });
  assert.equal(none.config.store, path.join(dir, ".driftlens", "store.db"));
  const part = loadConfig(dir, "models:\n  tiny:\n    variants: {f16: a.gguf}\nengine: {threads: many}\ngate: {alpha: 0.01}\n");
  assert.equal(part.diagnostics.length, 1);
  assert.equal(part.config.models.tiny?.variants.f16?.path, path.join(dir, "a.gguf"));
  assert.equal(part.config.engine.threads, "auto");
  assert.equal(part.config.gate.alpha, 0.01);
  assert.equal(loadConfig(dir, "engine: {memoryBudget: 2GiB}\n").config.engine.memoryBudgetBytes, 2 * 1024 ** 3);
  assert.equal(loadConfig(dir, "engine: {caseTimeout: 90s}\n").config.engine.caseTimeoutMs, 90_000);
  assert.equal(loadConfig(dir, "engine: {caseTimeout: 2m}\n").config.engine.caseTimeoutMs, 120_000);
  assert.equal(loadConfig(dir, "engine: {caseTimeout: 1.5}\n").config.engine.caseTimeoutMs, 1500);
  assert.equal(loadConfig(dir, "engine: {caseTimeout: soon}\n").diagnostics.length, 1);
});

test("eval set: incremental re-parse after edits equals a fresh parse (same line, inserted line, removed case)", () => {
  let text = "prompt: p.prompt\ncases:\n";
  for (let i = 0; i < 400; i++) text += `  - id: c${i}\n    vars: {x: ${i}}\n    assert: [{type: contains, value: "v${i}"}]\n    tags: [t${i % 3}]\n    why: w${i}\n`;
  text += "# trailing comment\n";
  const cache = new EvalParseCache();
  const first = parseEvalSet(text, "/x/e.eval.yaml", cache);
  assert.equal(first.cases.length, 400);
  assert.deepEqual(first.diagnostics, []);
  const edits = [
    text.replace("why: w10\n", "why: w10x\n"),
    text.replace("  - id: c10\n", "  - id: c10\n    # a comment line\n"),
    text.replace("  - id: c20\n    vars: {x: 20}\n    assert: [{type: contains, value: \"v20\"}]\n    tags: [t2]\n    why: w20\n", ""),
    text.replace("  - id: c30\n", "  - id: c29\n").replace("value: \"v31\"", "value: true"),
    text.replace("tags: [t0]\n    why: w0\n", "tags: [t0]\n    why: w0\n  - id: new\n"),
  ];
  for (const [k, t] of edits.entries()) {
    const inc = parseEvalSet(t, "/x/e.eval.yaml", cache);
    const fresh = parseEvalSet(t, "/x/e.eval.yaml");
    assert.deepEqual(inc.cases, fresh.cases, `edit ${k}: cases`);
    assert.deepEqual(inc.diagnostics, fresh.diagnostics, `edit ${k}: diagnostics`);
  }
  const moved = parseEvalSet(edits[1]!, "/x/e.eval.yaml", cache);
  assert.equal(moved.cases[11]!.idRange.start.line, first.cases[11]!.idRange.start.line + 1);
  assert.deepEqual(parseEvalSet(edits[3]!, "/x/e.eval.yaml", cache).diagnostics.map((d) => d.code).sort(), ["DL302", "DL312"]);
  // Aliases across cases fall back to a full parse with the same meaning.
  const aliased = "cases:\n  - id: a\n    vars: &v {x: 1}\n    why: w\n  - id: b\n    vars: *v\n    why: w\n";
  assert.deepEqual(parseEvalSet(aliased, "/x/e.eval.yaml", new EvalParseCache()).cases.map((c) => c.vars), [{ x: 1 }, { x: 1 }]);
});

test("Workspace: scan folders name variants by quant, references, adapter variants, relations", async () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, "models"));
  fs.copyFileSync(TINY_RANDOM_GGUF, path.join(dir, "models", "tiny-random.gguf"));
  buildLoraGguf({ name: "formal", alpha: 4, pairs: [{ target: "blk.0.attn_q.weight", rank: 2, nIn: 8, nOut: 8, a: new Float32Array(16), b: new Float32Array(16) }] }).write(path.join(dir, "formal.lora.gguf"));
  fs.writeFileSync(path.join(dir, "driftlens.yaml"), "models:\n  tiny:\n    scan: models\n");
  fs.writeFileSync(path.join(dir, "formal.adapter.yaml"), "file: formal.lora.gguf\nbase: tiny/f16\nscale: 0.75\n");
  fs.writeFileSync(path.join(dir, "p.prompt"), "---\nmodel: tiny/f16\ninput:\n  schema:\n    x: string\ndriftlens.evals: [other.eval.yaml]\n---\n{{x}}\n");
  fs.writeFileSync(path.join(dir, "e.eval.yaml"), "prompt: p.prompt\ncases:\n  - id: a\n    vars: {x: hi}\n    why: w\n");
  fs.writeFileSync(path.join(dir, "other.eval.yaml"), "cases:\n  - id: a\n    vars: {x: 1}\n    why: w\n");
  const ws = new Workspace(dir);
  const vs = ws.variants();
  assert.deepEqual(
    vs.map((v) => [v.id, v.quant, v.isReference, v.referenceId, v.adapters.map((a) => [a.name, a.scale])]),
    [
      ["tiny/f16", "F16", true, "tiny/f16", []],
      ["tiny/f16+formal@0.75", "F16", false, "tiny/f16", [["formal", 0.75]]],
    ],
  );
  const v = ws.resolveVariant("tiny/f16+formal@0.5");
  assert.equal(v.modelPath, path.join(dir, "models", "tiny-random.gguf"));
  assert.deepEqual(v.adapters, [{ name: "formal", file: path.join(dir, "formal.adapter.yaml"), path: path.join(dir, "formal.lora.gguf"), scale: 0.5 }]);
  assert.throws(() => ws.resolveVariant("tiny/q4_0"), /family 'tiny' has no variant 'q4_0' \(variants: f16\)/);
  assert.throws(() => ws.resolveVariant("big/f16"), /unknown model family 'big'.*defines tiny/);
  assert.throws(() => ws.resolveVariant("tiny/f16+casual"), /adapter 'casual'.*casual\.adapter\.yaml/);
  const p = path.join(dir, "p.prompt");
  assert.deepEqual(ws.evalSetsFor(p), [path.join(dir, "e.eval.yaml"), path.join(dir, "other.eval.yaml")]);
  assert.equal(ws.promptFor(path.join(dir, "other.eval.yaml")), p);
  assert.deepEqual(ws.dependents(p), [path.join(dir, "e.eval.yaml"), path.join(dir, "other.eval.yaml")]);
  // A schema change in the open prompt buffer changes its eval sets' diagnostics.
  assert.deepEqual((await ws.diagnose(path.join(dir, "other.eval.yaml"))).map((d) => d.code), ["DL307"]);
  ws.setOverlay(p, "---\nmodel: tiny/f16\ninput:\n  schema:\n    x: integer\ndriftlens.evals: [other.eval.yaml]\n---\n{{x}}\n");
  assert.deepEqual(await ws.diagnose(path.join(dir, "other.eval.yaml")), []);
  assert.deepEqual((await ws.diagnose(path.join(dir, "e.eval.yaml"))).map((d) => d.code), ["DL307"]);
  ws.setOverlay(p, undefined);
  assert.deepEqual(await ws.diagnose(path.join(dir, "e.eval.yaml")), []);
  assert.deepEqual(await ws.diagnose(path.join(dir, "driftlens.yaml")), []);
  assert.throws(() => ws.prompt(path.join(dir, "absent.prompt")), /cannot read prompt .*absent\.prompt/);
});

test("fingerprints: sha256, cached by path + size + mtime, persistent cache consulted", async () => {
  const dir = tempDir();
  const f = path.join(dir, "data.bin");
  fs.writeFileSync(f, "hello");
  fs.utimesSync(f, 1_700_000_000, 1_700_000_000);
  assert.equal(await fingerprintFile(f), sha256Text("hello"));
  // Same size and mtime: the cache answers without reading (the content changed behind its back).
  fs.writeFileSync(f, "jello");
  fs.utimesSync(f, 1_700_000_000, 1_700_000_000);
  assert.equal(await fingerprintFile(f), sha256Text("hello"));
  fs.utimesSync(f, 1_700_000_000, 1_700_000_005);
  assert.equal(await fingerprintFile(f), sha256Text("jello"));
  const calls: string[] = [];
  const g = path.join(dir, "other.bin");
  fs.writeFileSync(g, "abc");
  setFingerprintCache({
    get: (p) => (calls.push(`get ${path.basename(p)}`), p === g ? "f".repeat(64) : undefined),
    set: (p) => void calls.push(`set ${path.basename(p)}`),
  });
  try {
    assert.equal(await fingerprintFile(g), "f".repeat(64));
    const h = path.join(dir, "third.bin");
    fs.writeFileSync(h, "xyz");
    assert.equal(await fingerprintFile(h), sha256Text("xyz"));
  } finally {
    setFingerprintCache(undefined);
  }
  assert.deepEqual(calls, ["get other.bin", "get third.bin", "set third.bin"]);
  await assert.rejects(fingerprintFile(path.join(dir, "absent")), /ENOENT/);
});

test("slice size: exact one-sided McNemar bound", () => {
  assert.ok(Math.abs(mcnemarOneSidedP(5, 0) - 1 / 32) < 1e-12);
  assert.equal(mcnemarOneSidedP(0, 0), 1);
  assert.ok(Math.abs(mcnemarOneSidedP(8, 2) - 56 / 1024) < 1e-12);
  assert.equal(minCasesToDetectDrop(0.1, 0.05), 50);
  assert.equal(minCasesToDetectDrop(0.1, 0.01), 70);
  assert.equal(minCasesToDetectDrop(0.2, 0.05), 25);
  assert.equal(canDetectDrop(49, 0.1, 0.05), false);
  assert.equal(canDetectDrop(50, 0.1, 0.05), true);
  assert.throws(() => minCasesToDetectDrop(0, 0.05), RangeError);
});

test("long templates: segmented parse and render give what one whole parse and Dotprompt's render give", async () => {
  let body = "";
  // Prose lines without a mustache (skipped by the per-line caches) between refs, so the refs'
  // lines show whether those lines were counted.
  for (let i = 0; i < 40; i++) body += `{{role "user"}}Line ${i} {{name}}\nPlain prose ${i}, no mustache.\n{{#if flag}}\n  yes {{name}}\n{{else}}\n  no {{@root.name}}\n{{/if}}\n{{!-- c {{x}} --}}\n${i % 2 ? "\n" : ""}`;
  body += "End {{#each items as |it|}}{{it}},{{/each}} {{json items}}\n";
  const fm = "---\ninput:\n  schema:\n    name: string\n    flag?: boolean\n    items?(array): string\n---\n";
  const doc = parsePrompt(fm + body, "/x/long.prompt");
  assert.deepEqual(doc.diagnostics, []);
  const whole = parseTemplate(doc.body, doc.bodyStart, doc.file);
  assert.deepEqual(doc.variables, whole.variables);
  assert.deepEqual(doc.helpers, whole.helpers);
  for (const input of [{ name: "Ana", flag: true, items: ["a", "b"] }, { name: "Bo", flag: false }]) {
    const full = await renderPrompt(doc, { input });
    const text = full.messages.map((m) => m.content.map((p) => (p as { text?: string }).text ?? "").join("")).join("\n");
    assert.equal(await renderTextForCount(doc, input), text);
  }
  // A syntax error deep in a long template is reported where it is.
  const broken = parsePrompt(fm + body.replace("Line 30 {{name}}", "Line 30 {{name}"), "/x/long.prompt");
  const err = broken.diagnostics.find((d) => d.code === "DL202");
  assert.ok(err);
  assert.equal(err.range.start.line, 7 + 30 * 8 + 15);
});

test("per-edit caches: front matter shared between parses but never their arrays; segment renders follow edits and inputs", async () => {
  const fm = "---\ninput:\n  schema:\n    name: string\n    flag?: boolean\n  default: {name: Ana}\ndriftlens.evals: [a.eval.yaml]\n---\n";
  const lines = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? `Line ${i} {{name}}` : i % 3 === 1 ? `{{#if flag}}yes ${i}{{else}}no ${i}{{/if}}` : `Plain ${i}`));
  const render = async (doc: ReturnType<typeof parsePrompt>, input: Record<string, unknown>) => {
    const full = await renderPrompt(doc, { input });
    return full.messages.map((m) => m.content.map((p) => (p as { text?: string }).text ?? "").join("")).join("\n");
  };
  const a = parsePrompt(fm + lines.join("\n") + "\n", "/x/one.prompt");
  assert.equal(await renderTextForCount(a, { flag: true }), await render(a, { flag: true }));
  // Edit the body a few times: the front matter part is reused, the text follows every edit.
  let body = lines;
  for (const k of [3, 4, 17, 29]) {
    body = body.map((l, i) => (i === k ? l.replace(/\d+/, (d) => `${d}x`) : l));
    const doc = parsePrompt(fm + body.join("\n") + "\n", "/x/one.prompt");
    assert.deepEqual(doc.inputs, a.inputs);
    assert.notEqual(doc.inputs, a.inputs, "each doc gets its own array");
    for (const input of [{ flag: true }, { flag: false, name: "Bo" }, {}]) assert.equal(await renderTextForCount(doc, input), await render(doc, input), JSON.stringify({ k, input }));
  }
  // The same front matter in another file resolves its eval sets against that file.
  const b = parsePrompt(fm + "Hi {{name}}\n", "/y/two.prompt");
  assert.equal(b.evals[0]?.path, "/y/a.eval.yaml");
  assert.equal(a.evals[0]?.path, "/x/a.eval.yaml");
  // A changed front matter is parsed again.
  const c = parsePrompt(fm.replace("flag?: boolean", "flag?: boolean\n    extra: string") + lines.join("\n") + "\n", "/x/one.prompt");
  assert.deepEqual(c.inputs.map((i) => i.name), ["name", "flag", "extra"]);
  assert.deepEqual(a.inputs.map((i) => i.name), ["name", "flag"], "the earlier doc is untouched");
});

/** The one-regex scan templateSegments replaced with a character scan (same segments, no match objects). */
function segmentsByRegex(template: string): string[] | undefined {
  if (template.includes("{{{{")) return undefined;
  const out: string[] = [];
  let segStart = 0;
  let depth = 0;
  let openMustache = false;
  const re = /\{\{~?\s*(#|\^(?!\s*~?\}\})|\/)|\{\{|\}\}|\n/g;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m[0] === "\n") {
      if (depth === 0 && !openMustache) {
        out.push(template.slice(segStart, m.index + 1));
        segStart = m.index + 1;
      }
      continue;
    }
    if (m[0] === "}}") openMustache = false;
    else {
      openMustache = true;
      if (m[1] === "/") depth--;
      else if (m[1]) depth++;
    }
    if (depth < 0) return undefined;
  }
  if (segStart < template.length) out.push(template.slice(segStart));
  return depth === 0 && !openMustache ? out : undefined;
}

test("template segments: the character scan splits exactly where the regex scan did", () => {
  const pieces = ["{{", "}}", "{{#if x}}", "{{/if}}", "{{^}}", "{{^ x}}", "{{~^~}}", "{{ ^\n}}", "{{~ #each xs}}", "{{~/each~}}", "{{^x}}", "{{/x}}", "{{{y}}}", "{{\u00a0#if a}}", "{{\n/if}}", "\n", "\n", "\n", "text ", "{", "}", "~", "#", "^", "/", " ", "\u2028", "{{!-- c --}}", "{{else}}"];
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  let split = 0;
  for (let k = 0; k < 5000; k++) {
    let t = "";
    const len = 1 + rand(25);
    for (let i = 0; i < len; i++) t += pieces[rand(pieces.length)];
    const want = segmentsByRegex(t);
    assert.deepEqual(templateSegments(t), want, JSON.stringify(t));
    if (want && want.length > 1) split++;
  }
  assert.ok(split > 100, `only ${split} of the generated templates split into segments`);
});

test("detach copies a string exactly, lone surrogates included", () => {
  for (const s of ["", "plain {{x}}", "héllo 🙂 \ud800 tail \udfff", "a".repeat(5000).slice(10, 200)]) assert.equal(detach(s), s);
});

test("the per-edit caches do not keep every edited version of a long prompt alive", async () => {
  const gc = (): void => {
    const v8 = require("node:v8") as typeof import("node:v8");
    v8.setFlagsFromString("--expose-gc");
    (require("node:vm") as typeof import("node:vm")).runInNewContext("gc")();
  };
  const fm = "---\ninput:\n  schema:\n    name: string\n  default: {name: Ana}\n---\n";
  const lines = Array.from({ length: 4000 }, (_, i) => `Line ${i} of a long prompt for {{name}}, padded to make it long enough.`);
  const file = "/x/huge.prompt";
  let doc = parsePrompt(fm + lines.join("\n") + "\n", file);
  await renderTextForCount(doc, {});
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let k = 0; k < 150; k++) {
    lines[k] = `${lines[k]} edit ${k}`;
    doc = parsePrompt(fm + lines.join("\n") + "\n", file);
    await renderTextForCount(doc, {});
  }
  gc();
  const grownMb = (process.memoryUsage().heapUsed - before) / 1e6;
  // Each version is ~0.3 MB: keeping them all would be ~45 MB.
  assert.ok(grownMb < 15, `heap grew ${grownMb.toFixed(1)} MB over 150 edits`);
});

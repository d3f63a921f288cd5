// Seeded fuzzing of every parser: 10,000 mutated variants of a valid file of each kind (and of a
// valid GGUF header through the reader). No crash, no hang, no escaped exception: each input
// yields a well-formed result (diagnostics or a clean parse). Mutations include YAML alias bombs,
// deep nesting, NUL bytes, invalid UTF-8 (decoded as the workspace reads files) and lone
// surrogates. A fixed seed makes failures reproducible; DRIFTLENS_FUZZ_SEED picks another.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { parseAdapter } from "../../../server/src/artifacts/adapter";
import { mulberry32 } from "../../../server/src/util/prng";
import { parseConfigText } from "../../../server/src/artifacts/config";
import { EvalParseCache, parseEvalSet } from "../../../server/src/artifacts/evalset";
import { parsePrompt } from "../../../server/src/artifacts/prompt";
import type { Diagnostic } from "../../../server/src/artifacts/types";
import { Workspace } from "../../../server/src/artifacts/workspace";
import { GgufError, parseGgufHeader } from "../../../server/src/gguf/reader";
import { buildLoraGguf } from "../../../server/src/modelgen";
import { tempDir, TINY_RANDOM_GGUF } from "../../helpers/paths";

const N = 10_000;
const SEED = Number(process.env.DRIFTLENS_FUZZ_SEED ?? 20261121);
/** Any single input slower than this counts as a hang. */
const MAX_MS_PER_INPUT = 2_000;


const ALIAS_BOMB = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
`;
const SNIPPETS = [
  "{", "}", "[", "]", ":", ": ", "- ", "#", "&x ", "*x", "!!str ", "|", ">-", "'", '"', "\\", "\n", "\r\n", "\t", "  ", "---\n", "...\n", "%YAML 1.2\n",
  "{{", "}}", "{{#if x}}", "{{/if}}", "{{/each}}", "{{> p}}", "{{role \"user\"}}", "{{@root.x}}", "{{../y}}", "{{!-- c", "{{{", "(", ")", "?", "(*)", "(array)", "(enum)",
  "\u0000", "\uFFFD", "\uD800", "\uDFFF", "é", "🌍", "\u202E", "null", "~", "true", "1e999", "-0", "0x1F", ".nan", "<<: *x",
  "id", "vars", "assert", "type", "value", "tags", "why", "prompt", "cases", "models", "variants", "scan", "engine", "gate", "base", "file", "compose", "training", "sha256",
];

type Mutator = (s: string, r: () => number) => string;
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const pos = (s: string, r: () => number) => Math.floor(r() * (s.length + 1));

const MUTATORS: Mutator[] = [
  (s, r) => {
    const i = pos(s, r);
    return s.slice(0, i) + pick(r, SNIPPETS) + s.slice(i);
  },
  (s, r) => {
    const i = pos(s, r);
    return s.slice(0, i) + s.slice(i + 1 + Math.floor(r() * 20));
  },
  (s, r) => {
    const i = pos(s, r);
    const j = Math.min(s.length, i + Math.floor(r() * 80));
    return s.slice(0, j) + s.slice(i, j) + s.slice(j);
  },
  (s, r) => {
    const lines = s.split("\n");
    const a = Math.floor(r() * lines.length);
    const b = Math.floor(r() * lines.length);
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    return lines.join("\n");
  },
  (s, r) => s.slice(0, pos(s, r)),
  (s, r) => {
    const lines = s.split("\n");
    const i = Math.floor(r() * lines.length);
    lines[i] = " ".repeat(Math.floor(r() * 6)) + lines[i]!.trimStart();
    return lines.join("\n");
  },
  // Deep nesting, flow and block.
  (s, r) => {
    const n = 50 + Math.floor(r() * 3_000);
    const i = pos(s, r);
    return s.slice(0, i) + (r() < 0.5 ? "[".repeat(n) + "]".repeat(n) : "{{#if a}}".repeat(Math.min(n, 3000)) + "{{/if}}".repeat(Math.min(n, 3000))) + s.slice(i);
  },
  (s, r) => s + "\n" + Array.from({ length: 100 + Math.floor(r() * 200) }, (_, k) => " ".repeat(k) + "k:").join("\n"),
  (s) => ALIAS_BOMB + s,
  (s, r) => {
    const i = pos(s, r);
    return s.slice(0, i) + "\u0000".repeat(1 + Math.floor(r() * 4)) + s.slice(i);
  },
  // Invalid UTF-8, decoded the way the workspace reads files.
  (s, r) => {
    const bytes = Buffer.from(s, "utf8");
    const i = Math.floor(r() * (bytes.length + 1));
    const junk = Buffer.from(pick(r, [[0xff], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x8c], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]));
    return Buffer.concat([bytes.subarray(0, i), junk, bytes.subarray(i)]).toString("utf8");
  },
  (s, r) => {
    const words = s.split(/(\s+)/);
    const i = Math.floor(r() * words.length);
    words[i] = pick(r, SNIPPETS);
    return words.join("");
  },
];

function mutate(s: string, r: () => number): string {
  let out = s;
  const rounds = 1 + Math.floor(r() * 3);
  for (let k = 0; k < rounds; k++) out = pick(r, MUTATORS)(out, r);
  return out;
}

function wellFormed(ds: Diagnostic[], input: string, where: string): void {
  const lines = input.split("\n").length;
  for (const d of ds) {
    assert.match(d.code, /^DL[1-4]\d\d$/, where);
    assert.ok(["error", "warning", "information", "hint"].includes(d.severity), where);
    assert.ok(typeof d.message === "string" && d.message.length > 0, where);
    for (const p of [d.range.start, d.range.end]) {
      assert.ok(Number.isInteger(p.line) && p.line >= 0 && p.line <= lines, `${where}: line ${p.line} of ${lines}`);
      assert.ok(Number.isInteger(p.character) && p.character >= 0, where);
    }
  }
}

function run(kind: string, seedText: string, parse: (text: string, i: number) => Diagnostic[]): void {
  const r = mulberry32(SEED ^ kind.length * 7919);
  let clean = 0;
  let withDiagnostics = 0;
  for (let i = 0; i < N; i++) {
    const input = mutate(seedText, r);
    const t0 = performance.now();
    let ds: Diagnostic[];
    try {
      ds = parse(input, i);
    } catch (e) {
      assert.fail(`${kind} #${i} (seed ${SEED}) threw ${e instanceof Error ? e.stack : String(e)}\ninput: ${JSON.stringify(input.slice(0, 400))}`);
    }
    const ms = performance.now() - t0;
    assert.ok(ms < MAX_MS_PER_INPUT, `${kind} #${i} took ${ms.toFixed(0)} ms (seed ${SEED}); input: ${JSON.stringify(input.slice(0, 200))}`);
    wellFormed(ds, input, `${kind} #${i}`);
    if (ds.length) withDiagnostics++;
    else clean++;
  }
  // The mutations must actually break things most of the time, and some survive as valid.
  assert.ok(withDiagnostics > N / 10, `${kind}: ${withDiagnostics} of ${N} mutants had diagnostics`);
  assert.equal(clean + withDiagnostics, N);
}

const CONFIG = `models:
  tiny:
    reference: f16
    variants: {f16: models/tiny-f16.gguf, q4_0: {path: models/tiny-q4_0.gguf, contextSize: 512}}
  qwen:
    scan: [~/models/qwen/]
engine: {gpu: auto, threads: 2, contextSize: 2048, parallelSequences: 8, memoryBudget: 4GiB}
gate: {maxPassRateDrop: 0.02, maxSliceDrop: 0.10, alpha: 0.05}
store: .driftlens/store.db
prompts: {partials: [partials]}
`;
const PROMPT = `---
model: tiny/f16
config: {temperature: 0, maxOutputTokens: 16}
input:
  schema:
    country: string, the country
    style?(enum): [short, long]
    facts?(array): string
    meta?(object):
      source: string
      (*): any
  default: {style: short}
output:
  schema:
    answer: string
driftlens.evals: [capitals.eval.yaml]
---
{{role "system"}}Answer briefly. {{#if style}}Style: {{style}}{{/if}}
{{#each facts as |f i|}}{{i}}: {{f}} {{@root.country}}{{/each}}
{{role "user"}}What is the capital of {{country}}? {{json meta}} {{> footer}}
`;
const EVAL_YAML = `prompt: capital.prompt
slices:
  europe: [europe]
cases:
  - id: france
    vars: {country: France}
    assert:
      - {type: icontains, value: paris}
      - type: regex
        value: "^[A-Z]"
    tags: [europe]
    why: "Baseline fact"
  - id: peru
    vars: {country: Peru, facts: [a, b]}
    assert: [{type: not-contains, value: Paris}]
    tags: [americas]
    why: |
      Outside Europe.
`;
const EVAL_JSONL = `{"prompt": "capital.prompt"}
{"id": "france", "vars": {"country": "France"}, "assert": [{"type": "icontains", "value": "paris"}], "tags": ["europe"], "why": "Baseline"}
{"id": "peru", "vars": {"country": "Peru"}, "assert": [{"type": "regex", "value": "^L"}], "why": "Americas"}
`;
const ADAPTER = `file: adapters/formal.lora.gguf
base: {model: tiny/f16, sha256: "81f226c62d28ed4a1a9b9fa080fcd9f0cc40e0f9d5680036583ff98fbcd035cb"}
scale: 1.0
training: {dataset: data/formal.jsonl, datasetSha256: "81f226c62d28ed4a1a9b9fa080fcd9f0cc40e0f9d5680036583ff98fbcd035cb", recipe: "train.py --rank 8", commit: abc123, hyperparameters: {rank: 8}}
compose: [{adapter: concise.adapter.yaml, scale: 0.5}]
evals: [tone.eval.yaml]
`;

test(`fuzz driftlens.yaml: ${N} mutants`, { timeout: 120_000 }, () => {
  run("config", CONFIG, (t) => parseConfigText("/ws", t, "/ws/driftlens.yaml").diagnostics);
});

test(`fuzz .prompt: ${N} mutants (every 10th also through Workspace.diagnose with render)`, { timeout: 120_000 }, async () => {
  const dir = tempDir("driftlens-fuzz-");
  const ws = new Workspace(dir);
  ws.setOverlay(path.join(dir, "driftlens.yaml"), `models:\n  tiny:\n    variants: {f16: ${TINY_RANDOM_GGUF}}\n`);
  ws.setOverlay(path.join(dir, "_footer.prompt"), "Thanks, {{country}}.");
  const file = path.join(dir, "p.prompt");
  const pending: string[] = [];
  run("prompt", PROMPT, (t, i) => {
    if (i % 10 === 0) pending.push(t);
    return parsePrompt(t, file).diagnostics;
  });
  for (const [i, t] of pending.entries()) {
    ws.setOverlay(file, t);
    const ds = await ws.diagnose(file).catch((e) => assert.fail(`diagnose threw on prompt mutant ${i}: ${String(e)}`));
    wellFormed(ds, t, `prompt diagnose #${i}`);
  }
});

test(`fuzz *.eval.yaml: ${N} mutants, re-parsed incrementally through one cache`, { timeout: 120_000 }, () => {
  const cache = new EvalParseCache();
  run("evalyaml", EVAL_YAML, (t, i) => {
    const a = parseEvalSet(t, "/ws/e.eval.yaml", cache);
    if (i % 10 === 0) {
      // The incremental parse must agree with a fresh one.
      const b = parseEvalSet(t, "/ws/e.eval.yaml");
      assert.deepEqual(a.cases, b.cases, `cached and fresh parses agree (#${i})`);
      assert.deepEqual(a.diagnostics, b.diagnostics, `cached and fresh diagnostics agree (#${i})`);
    }
    return a.diagnostics;
  });
});

test(`fuzz *.eval.jsonl: ${N} mutants`, { timeout: 120_000 }, () => {
  const cache = new EvalParseCache();
  run("evaljsonl", EVAL_JSONL, (t) => parseEvalSet(t, "/ws/e.eval.jsonl", cache).diagnostics);
});

test(`fuzz *.adapter.yaml: ${N} mutants`, { timeout: 120_000 }, () => {
  run("adapter", ADAPTER, (t) => parseAdapter(t, "/ws/formal.adapter.yaml").diagnostics);
});

test(`fuzz GGUF headers: ${N} mutants through the reader (GgufError or a header, nothing else)`, { timeout: 120_000 }, () => {
  const valid = buildLoraGguf({
    name: "fuzz",
    alpha: 8,
    pairs: [
      { target: "blk.0.attn_q.weight", rank: 2, nIn: 8, nOut: 8, a: new Float32Array(16), b: new Float32Array(16) },
      { target: "blk.0.attn_v.weight", rank: 2, nIn: 8, nOut: 8, a: new Float32Array(16), b: new Float32Array(16) },
    ],
  }).toBuffer();
  const r = mulberry32(SEED);
  let ok = 0;
  let rejected = 0;
  for (let i = 0; i < N; i++) {
    const buf = Buffer.from(valid);
    let bytes: Buffer = buf;
    const rounds = 1 + Math.floor(r() * 4);
    for (let k = 0; k < rounds; k++) {
      const m = Math.floor(r() * 6);
      const at = Math.floor(r() * bytes.length);
      if (m === 0) bytes[at] = Math.floor(r() * 256);
      else if (m === 1) bytes = bytes.subarray(0, at);
      else if (m === 2 && at + 8 <= bytes.length) bytes.writeBigUInt64LE(pick(r, [0n, 1n, 0xffffffffn, 0x7fffffffffffffffn, 0xffffffffffffffffn, BigInt(Math.floor(r() * 1e6))]), at);
      else if (m === 3 && at + 4 <= bytes.length) bytes.writeUInt32LE(pick(r, [0, 1, 12, 13, 0xffffffff, Math.floor(r() * 40)]), at);
      else if (m === 4) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([0, 0xff, 0x80, 0xc3]), bytes.subarray(at)]);
      else bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + Math.floor(r() * 64)))]);
    }
    const t0 = performance.now();
    try {
      const h = parseGgufHeader(bytes);
      assert.ok(Array.isArray(h.tensors) && typeof h.metadata === "object");
      ok++;
    } catch (e) {
      if (!(e instanceof GgufError)) assert.fail(`GGUF mutant #${i} (seed ${SEED}) threw ${e instanceof Error ? e.stack : String(e)}`);
      assert.ok(e.message.length > 0);
      rejected++;
    }
    assert.ok(performance.now() - t0 < MAX_MS_PER_INPUT, `GGUF mutant #${i} took too long`);
  }
  assert.ok(rejected > N / 10, `${rejected} of ${N} GGUF mutants rejected`);
  assert.equal(ok + rejected, N);
});

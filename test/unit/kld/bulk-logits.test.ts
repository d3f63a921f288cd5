// The bulk_logits addon (server/native/bulk_logits.c, server/src/llm/native/): corpus KL divergence
// reads every logit of a group of positions in one call from the llama.cpp library node-llama-cpp
// ships, instead of node-llama-cpp's one call per position. Checked here:
// - side by side with node-llama-cpp's path (DRIFTLENS_BULK_LOGITS=0) on the same runs: the
//   figures of `driftlens kld` are the same to the last digit, and so are the corpus's tokens;
// - the addon on its own: bad input is an error with a message, never a crash, and a context
//   stays usable after one; a position's logits do not depend on how the batch was cut;
// - a model file llama.cpp cannot load is a clear error on this path too.
// Real processes (node dist/cli.js, the engine worker) on real GGUF files.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import { EngineClient } from "../../../server/src/llm/client";
import { loadBulkLogits, type BulkLogits } from "../../../server/src/llm/native/bulk-logits";
import type { EngineSettings } from "../../../server/src/llm/types";
import { ensureQuickstartModels, type QuickstartPaths } from "../../../server/src/modelgen/quickstart";
import { DIST, FIXTURES, REPO_ROOT, SHARED, TINY_RANDOM_GGUF, tempDir } from "../../helpers/paths";

const STORIES = path.join(SHARED, "models", "stories260K.gguf");
const STORIES_TEXT = path.join(FIXTURES, "kld", "tinystories.txt");
const QUICKSTART_TEXT = path.join(REPO_ROOT, "examples", "quickstart", "corpus.txt");

function kld(args: string[], env: Record<string, string> = {}): { json: Record<string, unknown>; err: string } {
  const r = spawnSync(process.execPath, [path.join(DIST, "cli.js"), "kld", ...args, "--threads", "1", "--format", "json"], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
    timeout: 120_000,
    env: { ...process.env, DRIFTLENS_DEBUG: "1", ...env },
  });
  assert.equal(r.status, 0, `driftlens kld exited ${r.status ?? r.signal}: ${r.stderr}`);
  return { json: JSON.parse(r.stdout), err: r.stderr };
}

/** The report without the memory figures (which differ between two processes). */
function figures(json: Record<string, unknown>): Record<string, unknown> {
  const { memory: _memory, ...rest } = json;
  return rest;
}

describe("bulk logits against node-llama-cpp's per-position logits", () => {
  let m: QuickstartPaths;
  before(() => {
    m = ensureQuickstartModels(path.join(tempDir("driftlens-bulk-"), "models"));
  });

  for (const storage of ["exact", "llama16"] as const) {
    test(`driftlens kld: the same figures to the last digit (quickstart F32 against Q8_0, Q4_0, F16; --storage ${storage})`, () => {
      const args = ["--reference", m.f32, "--variant", m.q8_0, "--variant", m.q4_0, "--variant", m.f16, "--text", QUICKSTART_TEXT, "--ctx", "64", "--chunks", "12", "--storage", storage];
      const bulk = kld(args);
      const nlc = kld(args, { DRIFTLENS_BULK_LOGITS: "0" });
      assert.match(bulk.err, /bulk logits: \S+bulk_logits\.node on \S+libllama/, "the addon must be the one reading the logits");
      // The CLI's launcher forks the engine worker before loading the CLI (server/src/cli.ts); the
      // engine client must take that one over, not fork a second.
      for (const run of [bulk, nlc]) {
        assert.match(run.err, /engine: adopted the worker forked at start \(pid \d+\)/, run.err);
        assert.doesNotMatch(run.err, /was not adopted/);
      }
      assert.match(nlc.err, /bulk logits not used: DRIFTLENS_BULK_LOGITS=0/);
      assert.doesNotMatch(nlc.err, /bulk logits: loaded/);
      assert.deepEqual(figures(bulk.json), figures(nlc.json));
      // Not a vacuous comparison: the variants do differ from the reference.
      const variants = bulk.json.variants as { kld: { max: number } }[];
      assert.equal(variants.length, 3);
      for (const v of variants) assert.ok(v.kld.max > 0, JSON.stringify(v.kld));
    });
  }

  test("driftlens kld: the same figures on stories260K (a trained model) and with a 32,000-token vocabulary", () => {
    for (const [model, text, ctx] of [
      [STORIES, STORIES_TEXT, "128"],
      [TINY_RANDOM_GGUF, STORIES_TEXT, "16"],
    ] as const) {
      const args = ["--reference", model, "--variant", model, "--text", text, "--ctx", ctx, "--chunks", "6"];
      const bulk = kld(args);
      const nlc = kld(args, { DRIFTLENS_BULK_LOGITS: "0" });
      assert.match(bulk.err, /bulk logits: loaded/);
      assert.deepEqual(figures(bulk.json), figures(nlc.json), model);
    }
  });

  test("corpus tokens: the addon tokenizes as node-llama-cpp does (no special tokens added or parsed)", async () => {
    const settings: EngineSettings = { gpu: "cpu", threads: 1, contextSize: 256, parallelSequences: 1, memoryBudgetBytes: 4 * 1024 ** 3 };
    const bulk = await EngineClient.start(settings, { env: { DRIFTLENS_BULK_LOGITS: "1" } });
    const nlc = await EngineClient.start(settings, { env: { DRIFTLENS_BULK_LOGITS: "0" } });
    try {
      const texts = [
        fs.readFileSync(STORIES_TEXT, "utf8").slice(0, 4000),
        fs.readFileSync(QUICKSTART_TEXT, "utf8"),
        "<s> Once upon a time </s> <|endoftext|> [INST] not special here [/INST]",
        "Zürich, Ελληνικά, 日本語, emoji 🦙🧪, tabs\tand\r\nnewlines, control \u0001\u001b[31m",
        " leading space and trailing space ",
        "x",
      ];
      for (const model of [STORIES, TINY_RANDOM_GGUF, m.f32]) {
        for (const text of texts) {
          const a = await bulk.corpusTokens(model, text);
          const b = await nlc.corpusTokens(model, text);
          assert.deepEqual(a, b, `${path.basename(model)}: ${JSON.stringify(text.slice(0, 40))}`);
          assert.ok(a.tokens.length > 0);
        }
      }
    } finally {
      await bulk.dispose();
      await nlc.dispose();
    }
  });
});

describe("the bulk_logits addon on its own", () => {
  let lib: BulkLogits;
  before(() => {
    const l = loadBulkLogits();
    assert.ok(typeof l !== "string", `the addon must be built and load here: ${String(l)}`);
    lib = l;
  });

  const chunk = (): { tokens: number[]; vocab: number } => {
    const model = lib.addon.loadModel(STORIES, true);
    try {
      const info = lib.addon.modelInfo(model);
      const t = Array.from(lib.addon.tokenize(model, fs.readFileSync(STORIES_TEXT, "utf8").slice(0, 2000)));
      return { tokens: [info.bos, ...t.slice(0, 63)], vocab: info.vocab };
    } finally {
      lib.addon.freeModel(model);
    }
  };

  function entries(tokens: number[], seq: number, from: number, want: boolean) {
    const n = tokens.length;
    return {
      seq: new Int32Array(n).fill(seq),
      pos: Int32Array.from({ length: n }, (_, i) => from + i),
      tok: Int32Array.from(tokens),
      want: new Uint8Array(n).fill(want ? 1 : 0),
    };
  }

  test("a position's logits are the same however the batch is cut", async () => {
    const { tokens, vocab } = chunk();
    const model = lib.addon.loadModel(STORIES, false);
    const ctx = lib.addon.newContext(model, { contextSize: 64, sequences: 2, threads: 1 });
    try {
      // Sequence 0: the whole chunk in one call. Sequence 1: a prefix without logits, then groups of 5.
      const whole = new Float32Array(tokens.length * vocab);
      const e = entries(tokens, 0, 0, true);
      await lib.addon.decode(ctx, e.seq, e.pos, e.tok, e.want, whole);
      const pre = entries(tokens.slice(0, 20), 1, 0, false);
      await lib.addon.decode(ctx, pre.seq, pre.pos, pre.tok, pre.want, new Float32Array(0));
      for (let a = 20; a < tokens.length; a += 5) {
        const part = tokens.slice(a, a + 5);
        const out = new Float32Array(part.length * vocab);
        const g = entries(part, 1, a, true);
        await lib.addon.decode(ctx, g.seq, g.pos, g.tok, g.want, out);
        assert.deepEqual(out, whole.subarray(a * vocab, (a + part.length) * vocab), `positions ${a}..${a + part.length - 1}`);
      }
      // Real logits: not all equal, finite.
      const row = whole.subarray(0, vocab);
      assert.ok(row.every(Number.isFinite) && Math.max(...row) > Math.min(...row));
    } finally {
      lib.addon.freeContext(ctx);
      lib.addon.freeModel(model);
    }
  });

  test("bad input is an error with a message, and the context stays usable", async () => {
    const { tokens, vocab } = chunk();
    const model = lib.addon.loadModel(STORIES, false);
    const ctx = lib.addon.newContext(model, { contextSize: 64, sequences: 1, threads: 1 });
    try {
      const e = entries(tokens.slice(0, 8), 0, 0, true);
      const out = new Float32Array(8 * vocab);
      assert.throws(() => lib.addon.decode(ctx, e.seq, e.pos, Int32Array.from([...tokens.slice(0, 7), vocab]), e.want, out), /outside the model's vocabulary/);
      assert.throws(() => lib.addon.decode(ctx, new Int32Array(8).fill(1), e.pos, e.tok, e.want, out), /sequence id is out of range/);
      assert.throws(() => lib.addon.decode(ctx, e.seq, e.pos, e.tok, e.want, new Float32Array(vocab)), /out is smaller/);
      assert.throws(() => lib.addon.decode(ctx, e.seq, e.pos, e.tok.subarray(0, 4), e.want, out), /same length/);
      assert.throws(() => lib.addon.decode(ctx, Array.from(e.seq) as unknown as Int32Array, e.pos, e.tok, e.want, out), /must be Int32Arrays/);
      // One decode at a time on a context.
      const first = lib.addon.decode(ctx, e.seq, e.pos, e.tok, e.want, out);
      assert.throws(() => lib.addon.decode(ctx, e.seq, e.pos, e.tok, e.want, out), /already running/);
      await first;
      // Positions that do not follow what the sequence holds (0..7 again after 0..7): llama.cpp
      // refuses, and the promise rejects with its reason.
      await assert.rejects(lib.addon.decode(ctx, e.seq, e.pos, e.tok, e.want, new Float32Array(8 * vocab)), /llama_decode failed.*(consecutive|inconsistent)/s);
      // Still usable: clear the sequence and evaluate again, same logits.
      const again = new Float32Array(8 * vocab);
      assert.equal(lib.addon.removeTokens(ctx, 0, 0), true);
      await lib.addon.decode(ctx, e.seq, e.pos, e.tok, e.want, again);
      assert.deepEqual(again, out);
    } finally {
      lib.addon.freeContext(ctx);
      lib.addon.freeModel(model);
    }
    // Freed handles are refused, not used.
    assert.throws(() => lib.addon.modelInfo(model), /not an open model/);
  });

  test("a model freed while a context is open stays until the context goes", async () => {
    const { tokens, vocab } = chunk();
    const model = lib.addon.loadModel(STORIES, false);
    const ctx = lib.addon.newContext(model, { contextSize: 32, sequences: 1, threads: 1 });
    lib.addon.freeModel(model);
    const e = entries(tokens.slice(0, 4), 0, 0, true);
    const out = new Float32Array(4 * vocab);
    await lib.addon.decode(ctx, e.seq, e.pos, e.tok, e.want, out);
    assert.ok(out.some((x) => x !== 0));
    lib.addon.freeContext(ctx);
    assert.throws(() => lib.addon.newContext(model, { contextSize: 32, sequences: 1, threads: 1 }), /not an open model/);
  });

  test("a file llama.cpp cannot load is refused with llama.cpp's reason", () => {
    const dir = tempDir("driftlens-bulk-bad-");
    const cut = path.join(dir, "truncated.gguf");
    fs.writeFileSync(cut, fs.readFileSync(STORIES).subarray(0, 4096));
    assert.throws(() => lib.addon.loadModel(cut, false), /could not load the model/);
  });
});

test("driftlens kld on a truncated model through the addon: exit 2, a message naming the file, no crash", () => {
  const dir = tempDir("driftlens-bulk-cli-");
  const cut = path.join(dir, "truncated.gguf");
  fs.writeFileSync(cut, fs.readFileSync(STORIES).subarray(0, 100_000));
  const r = spawnSync(process.execPath, [path.join(DIST, "cli.js"), "kld", "--reference", STORIES, "--variant", cut, "--text", STORIES_TEXT, "--ctx", "128", "--chunks", "2", "--threads", "1"], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, DRIFTLENS_DEBUG: "1" },
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /bulk logits: loaded/, "the reference was loaded by the addon");
  assert.match(r.stderr, new RegExp(`Cannot load the model for variant .*truncated\\.gguf`));
  assert.doesNotMatch(r.stderr, /crashed|internal error|\n\s+at /);
});

test("driftlens kld that stops early does not wait for the worker it forked ahead (exit 2 at once)", () => {
  const r = spawnSync(process.execPath, [path.join(DIST, "cli.js"), "kld", "--reference", STORIES, "--variant", STORIES, "--text", path.join(tempDir(), "missing.txt")], {
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 2, `${r.status ?? r.signal}: ${r.stderr}`);
  assert.match(r.stderr, /missing\.txt/);
});

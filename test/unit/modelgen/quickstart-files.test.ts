// The generated files: they parse with our GGUF reader with the expected types, quantized
// matrices dequantize to within each format's bound of the F32 source, regeneration is
// byte-identical, the cache is refreshed when stale, and the adapter config's provenance matches.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import YAML from "yaml";
import { dequantize, quantErrorBound, type QuantName } from "../../../server/src/gguf/quant";
import { ggufFacts, readGgufHeader } from "../../../server/src/gguf/reader";
import {
  buildLlamaGguf,
  buildQuickstartModel,
  ensureQuickstartModels,
  GENERATOR_VERSION,
  ModelShapeError,
  VocabBuilder,
  writeQuickstartModels,
  writeRandomLlama,
  type SpmVocab,
} from "../../../server/src/modelgen";
import { tempDir } from "../../helpers/paths";
import { QUICKSTART } from "./llama-direct";

const sha = (f: string) => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");

test("each variant parses with the GGUF reader: llama, expected file and tensor types, norms F32", () => {
  const p = ensureQuickstartModels(path.join(tempDir(), "m"));
  const expected: [string, string, string][] = [
    [p.f32, "F32", "F32"],
    [p.f16, "F16", "F16"],
    [p.q8_0, "Q8_0", "Q8_0"],
    [p.q4_0, "Q4_0", "Q4_0"],
  ];
  for (const [file, quant, matrixType] of expected) {
    const h = readGgufHeader(file);
    const f = ggufFacts(h);
    assert.equal(f.architecture, "llama");
    assert.equal(f.quant, quant, file);
    assert.equal(f.tokenizerModel, "llama");
    assert.equal(f.isLora, false);
    assert.equal(f.blockCount, 1);
    assert.equal(f.embeddingLength, 128);
    for (const t of h.tensors) {
      const want = t.shape.length === 1 ? "F32" : matrixType;
      assert.equal(t.typeName, want, `${path.basename(file)} ${t.name}`);
    }
    const tokens = h.metadata["tokenizer.ggml.tokens"] as string[];
    assert.deepEqual(tokens.slice(0, 3), ["<unk>", "<s>", "</s>"]);
    assert.ok(tokens.includes("\u2581Reykjavik") && tokens.includes("\u2581"));
  }
  const lora = ggufFacts(readGgufHeader(p.lora));
  assert.equal(lora.isLora, true);
  assert.equal(lora.loraAlpha, 8);
  assert.equal(lora.architecture, "llama");
});

test("dequantized F16/Q8_0/Q4_0 matrices are within each format's error bound of the F32 source", () => {
  const p = ensureQuickstartModels(path.join(tempDir(), "m"));
  const m = buildQuickstartModel();
  const source: Record<string, Float32Array> = {
    "token_embd.weight": m.weights.tokenEmbd,
    "output.weight": m.weights.output,
    "blk.0.attn_q.weight": m.weights.layers[0]!.wq,
    "blk.0.attn_k.weight": m.weights.layers[0]!.wk,
    "blk.0.attn_v.weight": m.weights.layers[0]!.wv,
    "blk.0.attn_output.weight": m.weights.layers[0]!.wo,
  };
  for (const [file, type] of [
    [p.f32, "F32"],
    [p.f16, "F16"],
    [p.q8_0, "Q8_0"],
    [p.q4_0, "Q4_0"],
  ] as [string, QuantName][]) {
    const h = readGgufHeader(file);
    const bytes = fs.readFileSync(file);
    let changed = 0;
    for (const [name, src] of Object.entries(source)) {
      const t = h.tensors.find((x) => x.name === name)!;
      const n = t.shape.reduce((a, b) => a * b, 1);
      assert.equal(n, src.length, name);
      const start = h.dataOffset + t.offset;
      const back = dequantize(type, new Uint8Array(bytes.subarray(start, start + bytes.length - start)), n);
      for (let blk = 0; blk < n / 32; blk++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[blk * 32 + j]!));
        for (let j = 0; j < 32; j++) {
          const i = blk * 32 + j;
          const bound = type === "F16" ? quantErrorBound(type, Math.abs(src[i]!)) : quantErrorBound(type, amax);
          assert.ok(Math.abs(back[i]! - src[i]!) <= bound, `${type} ${name}[${i}]: ${back[i]} vs ${src[i]} (bound ${bound})`);
          if (back[i] !== src[i]) changed++;
        }
      }
    }
    // Quantized files really are quantized: values moved (F32 must not).
    if (type === "F32") assert.equal(changed, 0);
    else assert.ok(changed > 0, `${type}: nothing changed`);
  }
});

test("the Q4_0 file really moves the tail weight: Reykjavik's Iceland weight 2 → 1.5, Oslo's 1.75 kept", () => {
  const p = ensureQuickstartModels(path.join(tempDir(), "m"));
  const m = buildQuickstartModel();
  const h = readGgufHeader(p.q4_0);
  const t = h.tensors.find((x) => x.name === "output.weight")!;
  const bytes = fs.readFileSync(p.q4_0);
  const n = t.shape[0]! * t.shape[1]!;
  const w = dequantize("Q4_0", new Uint8Array(bytes.subarray(h.dataOffset + t.offset)), n);
  const E = t.shape[0]!;
  const rk = m.vocab.tokens.indexOf("\u2581Reykjavik");
  const oslo = m.vocab.tokens.indexOf("\u2581Oslo");
  assert.equal(m.weights.output[rk * E + 0], 2);
  assert.equal(w[rk * E + 0], 1.5);
  assert.equal(w[oslo * E + 0], 1.75);
});

test("regeneration is byte-identical, and ensureQuickstartModels reuses fresh files", () => {
  const a = writeQuickstartModels(path.join(tempDir(), "a"));
  const dirB = path.join(tempDir(), "b");
  const b = writeQuickstartModels(dirB);
  for (const k of ["f32", "f16", "q8_0", "q4_0", "lora"] as const) assert.equal(sha(a[k]), sha(b[k]), k);
  const again = ensureQuickstartModels(dirB);
  assert.equal(again.generated, false);
});

test("ensureQuickstartModels regenerates when a file is missing or resized, or the generator version changed", () => {
  const dir = path.join(tempDir(), "m");
  assert.equal(ensureQuickstartModels(dir).generated, true);
  fs.rmSync(path.join(dir, "tiny-q4_0.gguf"));
  const r = ensureQuickstartModels(dir);
  assert.equal(r.generated, true);
  assert.ok(fs.existsSync(r.q4_0));
  // A file changed behind our back (here: truncated) is regenerated too.
  fs.truncateSync(r.f16, 100);
  assert.equal(ensureQuickstartModels(dir).generated, true);
  assert.ok(fs.statSync(r.f16).size > 100);
  const stamp = path.join(dir, ".generator.json");
  const s = JSON.parse(fs.readFileSync(stamp, "utf8"));
  assert.equal(s.version, GENERATOR_VERSION);
  fs.writeFileSync(stamp, JSON.stringify({ ...s, version: "older" }));
  assert.equal(ensureQuickstartModels(dir).generated, true);
  assert.equal(ensureQuickstartModels(dir).generated, false);
});

test("the adapter config's provenance matches: base sha256 of the generated F32, dataset sha256", () => {
  const p = ensureQuickstartModels(path.join(tempDir(), "m"));
  const cfg = YAML.parse(fs.readFileSync(path.join(QUICKSTART, "endonyms.adapter.yaml"), "utf8"));
  assert.equal(cfg.base.sha256, sha(p.f32), "endonyms.adapter.yaml base.sha256 is stale: update it to the generated tiny-f32.gguf");
  assert.equal(cfg.training.datasetSha256, sha(path.join(QUICKSTART, cfg.training.dataset)));
  assert.equal(path.basename(cfg.file), path.basename(p.lora));
  for (const k of ["dataset", "datasetSha256", "recipe", "commit", "hyperparameters"]) assert.ok(cfg.training[k], `training.${k}`);
});

test("impossible shapes are refused with a clear message", () => {
  const dir = tempDir();
  assert.throws(
    () => writeRandomLlama(path.join(dir, "x.gguf"), { nEmbd: 64, nLayer: 1, nHead: 3, nFf: 64, vocabSize: 400, type: "F32" }),
    (e: unknown) => e instanceof ModelShapeError && /3 heads do not divide the embedding size 64/.test(e.message),
  );
  assert.throws(
    () => writeRandomLlama(path.join(dir, "x.gguf"), { nEmbd: 48, nLayer: 1, nHead: 4, nFf: 64, vocabSize: 400, type: "Q4_0" }),
    /multiples of 32/,
  );
  assert.throws(() => writeRandomLlama(path.join(dir, "x.gguf"), { nEmbd: 64, nLayer: 1, nHead: 4, nFf: 64, vocabSize: 100, type: "F32" }), /too small/);
  assert.ok(!fs.existsSync(path.join(dir, "x.gguf")), "nothing written for a refused shape");

  const m = buildQuickstartModel();
  const noSpecials: SpmVocab = { ...m.vocab, tokens: ["<pad>", ...m.vocab.tokens.slice(1)] };
  assert.throws(() => buildLlamaGguf(m.hparams, noSpecials, m.weights, "F32"), (e: unknown) => e instanceof ModelShapeError && /lacks the required special token <unk>/.test(e.message));
  const v = new VocabBuilder().build();
  const noEos: SpmVocab = { ...v, tokens: v.tokens.map((t) => (t === "</s>" ? "<eos>" : t)) };
  assert.throws(() => buildLlamaGguf(m.hparams, noEos, m.weights, "F32"), /<\/s>/);
});

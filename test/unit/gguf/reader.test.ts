import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { GgufError, checkTensorBounds, ggufFacts, parseGgufHeader, readGgufHeader } from "../../../server/src/gguf/reader";
import { TINY_RANDOM_GGUF } from "../../helpers/paths";

test("reads the converter-made tiny llama header", () => {
  const h = readGgufHeader(TINY_RANDOM_GGUF);
  assert.equal(h.version, 3);
  const f = ggufFacts(h);
  assert.equal(f.architecture, "llama");
  assert.equal(f.blockCount, 1);
  assert.equal(f.embeddingLength, 8);
  assert.equal(f.vocabSize, 32000);
  assert.equal(f.tokenizerModel, "llama");
  assert.equal(f.isLora, false);
  // Every tensor lies inside the file, and the parameter count is the sum of tensor sizes.
  assert.deepEqual(checkTensorBounds(h), []);
  const tokEmb = h.tensors.find((t) => t.name === "token_embd.weight");
  assert.deepEqual(tokEmb?.shape, [8, 32000]);
  assert.ok(f.parameterCount >= 8 * 32000 * 2);
  assert.ok(f.quant);
});

test("reading from a buffer equals reading from the file", () => {
  const buf = fs.readFileSync(TINY_RANDOM_GGUF);
  const a = parseGgufHeader(buf);
  const b = readGgufHeader(TINY_RANDOM_GGUF);
  assert.deepEqual(a.tensors, b.tensors);
  assert.equal(a.dataOffset, b.dataOffset);
});

test("truncated headers give a GgufError at every cut point, never another exception", () => {
  const buf = fs.readFileSync(TINY_RANDOM_GGUF);
  const full = parseGgufHeader(buf);
  for (let cut = 0; cut < full.dataOffset - 32; cut += Math.max(1, Math.floor(full.dataOffset / 97))) {
    assert.throws(() => parseGgufHeader(buf.subarray(0, cut)), GgufError, `cut at ${cut}`);
  }
});

test("hostile counts are refused before allocation", () => {
  const buf = Buffer.alloc(64);
  buf.write("GGUF", 0, "latin1");
  buf.writeUInt32LE(3, 4);
  buf.writeBigUInt64LE(0n, 8); // tensors
  buf.writeBigUInt64LE(1n, 16); // one kv
  buf.writeBigUInt64LE(1n, 24); // key length 1
  buf.write("k", 32, "latin1");
  buf.writeUInt32LE(9, 33); // array
  buf.writeUInt32LE(6, 37); // of f32
  buf.writeBigUInt64LE(1n << 40n, 41); // a trillion elements
  assert.throws(() => parseGgufHeader(buf), /1,099,511,627,776 elements, more than the 1,048,576/);
  assert.throws(() => parseGgufHeader(Buffer.from("GGML0000")), /not a GGUF file/);
  assert.throws(() => readGgufHeader("/nonexistent/model.gguf"), /file not found/);
});

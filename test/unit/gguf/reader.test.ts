import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import { precheckVariant } from "../../../server/src/eval/runner";
import { GgufError, checkTensorBounds, ggufFacts, ggufFileInfo, parseGgufHeader, readGgufHeader } from "../../../server/src/gguf/reader";
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

test("a run's variant check reuses the header the workspace already parsed (no second parse of a 32,000-token vocabulary)", () => {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/driftlens-gguf-cache-`);
  const file = `${dir}/model.gguf`;
  fs.copyFileSync(TINY_RANDOM_GGUF, file);
  fs.utimesSync(file, new Date(1_700_000_000_000), new Date(1_700_000_000_000)); // whole milliseconds, so it can be set back
  const v = { id: "tiny/rnd", modelPath: file, adapters: [] };
  assert.equal(ggufFileInfo(file).facts?.vocabSize, 32000, "the workspace's parse (diagnostics, hover)");
  assert.equal(precheckVariant(v), undefined);
  // Same size, inode and mtime, other bytes: only a check that parses again would see them.
  const st = fs.statSync(file);
  const fd = fs.openSync(file, "r+");
  fs.writeSync(fd, Buffer.from("XXXX"), 0, 4, 0);
  fs.closeSync(fd);
  fs.utimesSync(file, st.atime, st.mtime);
  assert.equal(precheckVariant(v), undefined, "the variant check parsed the header again");
  // A new version of the file (another mtime) is parsed again and found broken.
  fs.utimesSync(file, st.atime, new Date(st.mtimeMs + 5000));
  assert.match(precheckVariant(v) ?? "", /is not a readable GGUF file/);
});

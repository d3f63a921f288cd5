// The GGUF writer, read back by the project's own reader: every metadata value type, arrays,
// tensor infos, and tensor data aligned to general.alignment.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readGgufHeader, parseGgufHeader } from "../../../server/src/gguf/reader";
import { GgufWriter } from "../../../server/src/gguf/writer";
import { QUANT_TYPE, quantize } from "../../../server/src/gguf/quant";
import { tempDir } from "../../helpers/paths";

test("every metadata value type and arrays round-trip through the reader", () => {
  const g = new GgufWriter();
  g.set("t.u8", "u8", 250).set("t.i8", "i8", -100).set("t.u16", "u16", 65000).set("t.i16", "i16", -30000);
  g.set("t.u32", "u32", 4000000000).set("t.i32", "i32", -2000000000).set("t.f32", "f32", 1.5).set("t.bool", "bool", true);
  g.set("t.str", "string", "héllo ▁ world").set("t.u64", "u64", 2n ** 40n).set("t.i64", "i64", -(2n ** 40n)).set("t.f64", "f64", Math.PI);
  g.setArray("t.arr.str", "string", ["<unk>", "▁a", ""]);
  g.setArray("t.arr.f32", "f32", [0.25, -1]);
  g.setArray("t.arr.i32", "i32", [1, -2, 3]);
  g.setArray("t.arr.empty", "u8", []);
  const h = parseGgufHeader(g.toBuffer());
  assert.equal(h.version, 3);
  const m = h.metadata;
  assert.equal(m["t.u8"], 250);
  assert.equal(m["t.i8"], -100);
  assert.equal(m["t.u16"], 65000);
  assert.equal(m["t.i16"], -30000);
  assert.equal(m["t.u32"], 4000000000);
  assert.equal(m["t.i32"], -2000000000);
  assert.equal(m["t.f32"], 1.5);
  assert.equal(m["t.bool"], true);
  assert.equal(m["t.str"], "héllo ▁ world");
  assert.equal(BigInt(m["t.u64"] as number | bigint), 2n ** 40n);
  assert.equal(BigInt(m["t.i64"] as number | bigint), -(2n ** 40n));
  assert.equal(m["t.f64"], Math.PI);
  assert.deepEqual(m["t.arr.str"], ["<unk>", "▁a", ""]);
  assert.deepEqual(m["t.arr.f32"], [0.25, -1]);
  assert.deepEqual(m["t.arr.i32"], [1, -2, 3]);
  assert.deepEqual(m["t.arr.empty"], []);
});

test("tensor infos and data: offsets aligned to 32, data where the header says", () => {
  const dir = tempDir();
  const file = path.join(dir, "t.gguf");
  const a = new Float32Array([1, 2, 3]); // 12 bytes: the next tensor needs padding
  const b = new Float32Array(64).map((_, i) => i / 8);
  const g = new GgufWriter();
  g.set("general.architecture", "string", "llama");
  g.addTensor("a", [3], QUANT_TYPE.F32, quantize("F32", a));
  g.addTensor("b", [32, 2], QUANT_TYPE.Q8_0, quantize("Q8_0", b));
  g.write(file);
  const h = readGgufHeader(file);
  assert.equal(h.alignment, 32);
  assert.equal(h.dataOffset % 32, 0);
  assert.deepEqual(
    h.tensors.map((t) => [t.name, t.shape, t.typeName, t.offset]),
    [
      ["a", [3], "F32", 0],
      ["b", [32, 2], "Q8_0", 32],
    ],
  );
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.readFloatLE(h.dataOffset + 8), 3);
  assert.deepEqual(new Uint8Array(bytes.subarray(h.dataOffset + 32, h.dataOffset + 32 + 68)), quantize("Q8_0", b));
  assert.equal(bytes.length, h.dataOffset + 32 + 68);
});

test("general.alignment other than 32 is honoured", () => {
  const g = new GgufWriter();
  g.set("general.alignment", "u32", 64);
  g.addTensor("a", [1], QUANT_TYPE.F32, quantize("F32", new Float32Array([1])));
  g.addTensor("b", [1], QUANT_TYPE.F32, quantize("F32", new Float32Array([2])));
  const h = parseGgufHeader(g.toBuffer());
  assert.equal(h.alignment, 64);
  assert.equal(h.dataOffset % 64, 0);
  assert.equal(h.tensors[1]!.offset, 64);
});

test("the writer refuses duplicate keys and tensors, bad shapes and out-of-range values", () => {
  const g = new GgufWriter();
  g.set("k", "u32", 1);
  assert.throws(() => g.set("k", "u32", 2), /set twice/);
  assert.throws(() => g.set("x", "u8", 256), /does not fit type u8/);
  assert.throws(() => g.set("y", "i32", 1.5), /does not fit/);
  assert.throws(() => g.setArray("z", "string", [1]), /does not fit type string/);
  const w = new GgufWriter();
  w.addTensor("t", [1], 0, new Uint8Array(4));
  assert.throws(() => w.addTensor("t", [1], 0, new Uint8Array(4)), /added twice/);
  assert.throws(() => w.addTensor("u", [0], 0, new Uint8Array(0)), /invalid shape/);
});

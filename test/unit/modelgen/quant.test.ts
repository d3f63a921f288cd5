// Quantizers: bit-exact f16 conversion, llama.cpp's reference Q8_0/Q4_0 block layouts, and
// dequantized values within each format's error bound.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  dequantize,
  fp16ToFp32,
  fp32ToFp16,
  quantErrorBound,
  quantize,
  quantizeQ4_0,
  quantizeQ8_0,
  type QuantName,
} from "../../../server/src/gguf/quant";
import { Prng } from "../../../server/src/modelgen/prng";

test("fp32ToFp16 matches IEEE half rounding (nearest, ties to even), subnormals, overflow, NaN", () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up to infinity
    [1e6, 0x7c00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -14, 0x0400], // smallest normal
    [1 + 2 ** -11, 0x3c00], // tie → even (down)
    [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
    [0.1, 0x2e66],
    [Infinity, 0x7c00],
  ];
  for (const [x, h] of cases) assert.equal(fp32ToFp16(x), h, `fp16(${x})`);
  assert.equal(fp32ToFp16(NaN) & 0x7e00, 0x7e00);
  for (const h of [0x0001, 0x03ff, 0x0400, 0x3c00, 0x3c01, 0x7bff, 0xbc00, 0x2e66]) assert.equal(fp32ToFp16(fp16ToFp32(h)), h, `round trip 0x${h.toString(16)}`);
});

test("Q8_0 block layout: f16 scale amax/127, then 32 int8 rounded half away from zero", () => {
  const x = new Float32Array(32);
  x[0] = 127;
  x[1] = -63.5; // exactly half a step: roundf gives -64
  x[2] = 2.5;
  x[31] = -127;
  const b = quantizeQ8_0(x);
  assert.equal(b.length, 34);
  const view = new DataView(b.buffer);
  assert.equal(view.getUint16(0, true), fp32ToFp16(1)); // d = 127/127
  assert.equal(view.getInt8(2), 127);
  assert.equal(view.getInt8(3), -64);
  assert.equal(view.getInt8(4), 3);
  assert.equal(view.getInt8(33), -127);
});

test("Q4_0 block layout: d = signed extreme / -8, low nibbles first 16 values, high nibbles last 16", () => {
  const x = new Float32Array(32);
  x[0] = 8; // the extreme: d = -1, q = trunc(8 * -1 + 8.5) = 0
  x[1] = -8; // opposite sign: trunc(16.5) = 16 → clamped to 15
  x[16] = 3; // high nibble of byte 0: trunc(-3 + 8.5) = 5
  x[17] = -2.4; // trunc(2.4 + 8.5) = 10
  const b = quantizeQ4_0(x);
  assert.equal(b.length, 18);
  const view = new DataView(b.buffer);
  assert.equal(fp16ToFp32(view.getUint16(0, true)), -1);
  assert.equal(b[2], 0x50); // low 0 (value 8), high 5 (value 3)
  assert.equal(b[3], 0xaf); // low 15 (value -7, clamped), high 10 (value -2)
  assert.equal(b[4], 0x88); // zeros are q = 8
  const back = dequantize("Q4_0", b, 32);
  assert.equal(back[0], 8);
  assert.equal(back[1], -7);
  assert.equal(back[16], 3);
  assert.equal(back[17], -2);
});

test("an all-zero block encodes with scale 0 and dequantizes to zeros", () => {
  const x = new Float32Array(64);
  for (const t of ["Q8_0", "Q4_0"] as const) {
    const back = dequantize(t, quantize(t, x), 64);
    assert.ok(back.every((v) => v === 0), t);
  }
});

test("dequantized values stay within each format's error bound of the source, per block", () => {
  const rng = new Prng(7);
  const n = 32 * 64;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal() * (i % 97 === 0 ? 20 : 1); // with outliers
  for (const t of ["F16", "Q8_0", "Q4_0"] as QuantName[]) {
    const back = dequantize(t, quantize(t, x), n);
    let worst = 0;
    for (let blk = 0; blk < n / 32; blk++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[blk * 32 + j]!));
      for (let j = 0; j < 32; j++) {
        const i = blk * 32 + j;
        const bound = t === "F16" ? quantErrorBound(t, Math.abs(x[i]!)) : quantErrorBound(t, amax);
        const err = Math.abs(back[i]! - x[i]!);
        assert.ok(err <= bound, `${t} value ${i}: |${back[i]} - ${x[i]}| = ${err} > ${bound}`);
        worst = Math.max(worst, err / (amax || 1));
      }
    }
    // The bound is tight enough to mean something: Q4_0 errs far more than Q8_0, Q8_0 than F16.
    if (t === "Q4_0") assert.ok(worst > 0.02, `Q4_0 relative error ${worst} suspiciously small`);
    if (t === "F16") assert.ok(worst < 1e-3);
  }
});

test("Q8_0 and Q4_0 refuse rows that are not whole blocks of 32", () => {
  assert.throws(() => quantizeQ8_0(new Float32Array(33)), /multiple of 32/);
  assert.throws(() => quantizeQ4_0(new Float32Array(20)), /multiple of 32/);
});

// Quantizers and dequantizers for the GGML block formats the model generator writes (F16, Q8_0,
// Q4_0), ported from llama.cpp's reference implementations (ggml/src/ggml-quants.c
// quantize_row_q8_0_ref / quantize_row_q4_0_ref, ggml-impl.h ggml_compute_fp32_to_fp16) with
// float32 arithmetic emulated through Math.fround, so a file we write is byte-identical to what
// llama.cpp's reference quantizer would produce from the same F32 weights. Byte-identity matters:
// the quickstart's tail regression is engineered against these exact rounding rules.

import { GgmlType } from "./constants";

/** GGML tensor type ids of the types written here (ggml.h `enum ggml_type`, via constants.ts). */
export const QUANT_TYPE = { F32: GgmlType.F32, F16: GgmlType.F16, Q4_0: GgmlType.Q4_0, Q8_0: GgmlType.Q8_0 } as const;
export type QuantName = keyof typeof QUANT_TYPE;

/** Values per block and bytes per block for each supported type. */
export const QUANT_LAYOUT: Record<QuantName, { blockSize: number; blockBytes: number }> = {
  F32: { blockSize: 1, blockBytes: 4 },
  F16: { blockSize: 1, blockBytes: 2 },
  Q8_0: { blockSize: 32, blockBytes: 34 },
  Q4_0: { blockSize: 32, blockBytes: 18 },
};

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fround = Math.fround;

function bitsOf(f: number): number {
  f32[0] = f;
  return u32[0]!;
}
function fromBits(b: number): number {
  u32[0] = b >>> 0;
  return f32[0]!;
}

const SCALE_TO_INF = fromBits(0x77800000); // 0x1.0p+112f
const SCALE_TO_ZERO = fromBits(0x08800000); // 0x1.0p-110f

/** float32 → IEEE half bits, round-to-nearest-even, exactly as ggml_compute_fp32_to_fp16. */
export function fp32ToFp16(value: number): number {
  const f = fround(value);
  let base = fround(fround(Math.abs(f) * SCALE_TO_INF) * SCALE_TO_ZERO);
  const w = bitsOf(f);
  const shl1w = (w + w) >>> 0;
  const sign = (w & 0x80000000) >>> 0;
  let bias = (shl1w & 0xff000000) >>> 0;
  if (bias < 0x71000000) bias = 0x71000000;
  base = fround(fromBits(((bias >>> 1) + 0x07800000) >>> 0) + base);
  const bits = bitsOf(base);
  const expBits = (bits >>> 13) & 0x7c00;
  const mantissaBits = bits & 0x0fff;
  const nonsign = expBits + mantissaBits;
  return ((sign >>> 16) | (shl1w > 0xff000000 ? 0x7e00 : nonsign)) & 0xffff;
}

/** IEEE half bits → number (exact). */
export function fp16ToFp32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** C's roundf: half away from zero. */
function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

function checkBlocks(n: number, what: string): void {
  if (n % 32 !== 0) throw new Error(`${what}: row length ${n} is not a multiple of 32; Q8_0/Q4_0 need whole blocks of 32 values`);
}

/** quantize_row_q8_0_ref: per block of 32, f16 scale d = amax/127, then 32 int8 round(x/d). */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  checkBlocks(x.length, "Q8_0");
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  const view = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j]!));
    const d = fround(amax / 127);
    const id = d ? fround(1 / d) : 0;
    view.setUint16(i * 34, fp32ToFp16(d), true);
    for (let j = 0; j < 32; j++) {
      const x0 = fround(x[i * 32 + j]! * id);
      view.setInt8(i * 34 + 2 + j, roundf(x0));
    }
  }
  return out;
}

/**
 * quantize_row_q4_0_ref: per block of 32, d = (value of largest magnitude, signed) / -8, stored as
 * f16; 16 bytes of nibbles, low nibble j = value j, high nibble j = value j+16; q = min(15, trunc(x/d + 8.5)).
 */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  checkBlocks(x.length, "Q4_0");
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  const view = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[i * 32 + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fround(max / -8);
    const id = d ? fround(1 / d) : 0;
    view.setUint16(i * 18, fp32ToFp16(d), true);
    for (let j = 0; j < 16; j++) {
      const x0 = fround(x[i * 32 + j]! * id);
      const x1 = fround(x[i * 32 + 16 + j]! * id);
      // (int8_t) truncates toward zero; the C cast of an out-of-range float is UB, never hit since |x0| <= 8.
      const xi0 = Math.min(15, Math.trunc(fround(x0 + 8.5)));
      const xi1 = Math.min(15, Math.trunc(fround(x1 + 8.5)));
      out[i * 18 + 2 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4);
    }
  }
  return out;
}

export function dequantizeQ8_0(bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n / 32; i++) {
    const d = fp16ToFp32(view.getUint16(i * 34, true));
    for (let j = 0; j < 32; j++) out[i * 32 + j] = view.getInt8(i * 34 + 2 + j) * d;
  }
  return out;
}

export function dequantizeQ4_0(bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n / 32; i++) {
    const d = fp16ToFp32(view.getUint16(i * 18, true));
    for (let j = 0; j < 16; j++) {
      const b = bytes[i * 18 + 2 + j]!;
      out[i * 32 + j] = ((b & 0x0f) - 8) * d;
      out[i * 32 + 16 + j] = ((b >> 4) - 8) * d;
    }
  }
  return out;
}

export function toF16(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) view.setUint16(i * 2, fp32ToFp16(x[i]!), true);
  return out;
}

export function fromF16(bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = fp16ToFp32(view.getUint16(i * 2, true));
  return out;
}

export function toF32Bytes(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) view.setFloat32(i * 4, x[i]!, true);
  return out;
}

/** Encodes F32 values (row-major, rows of whole blocks) as the given type. */
export function quantize(type: QuantName, x: Float32Array): Uint8Array {
  switch (type) {
    case "F32":
      return toF32Bytes(x);
    case "F16":
      return toF16(x);
    case "Q8_0":
      return quantizeQ8_0(x);
    case "Q4_0":
      return quantizeQ4_0(x);
  }
}

/** Decodes `n` values of the given type back to F32 (what llama.cpp computes with). */
export function dequantize(type: QuantName, bytes: Uint8Array, n: number): Float32Array {
  switch (type) {
    case "F32": {
      const out = new Float32Array(n);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case "F16":
      return fromF16(bytes, n);
    case "Q8_0":
      return dequantizeQ8_0(bytes, n);
    case "Q4_0":
      return dequantizeQ4_0(bytes, n);
  }
}

/** Bytes needed to store `n` values (a multiple of the block size) of the given type. */
export function quantizedBytes(type: QuantName, n: number): number {
  const { blockSize, blockBytes } = QUANT_LAYOUT[type];
  return (n / blockSize) * blockBytes;
}

/** The worst absolute error a format allows on a block whose largest magnitude is `amax`. */
export function quantErrorBound(type: QuantName, amax: number): number {
  switch (type) {
    case "F32":
      return 0;
    case "F16":
      return amax * 2 ** -11 + 2 ** -25;
    case "Q8_0":
      // half a step, plus the f16 rounding of the scale applied to up to 127 steps
      return (amax / 127) * 0.5 + amax * 2 ** -11 + 1e-12;
    case "Q4_0":
      // steps of amax/8: half a step of rounding, but a full step for values of the sign opposite
      // to the block's extreme (the code 16 is clamped to 15), plus the f16 rounding of the scale
      return amax / 8 + amax * 2 ** -11 + 1e-12;
  }
}

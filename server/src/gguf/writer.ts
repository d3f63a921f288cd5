// A GGUF v3 writer: metadata key/values of every GGUF value type (arrays included), tensor infos,
// and tensor data aligned to `general.alignment` (32 unless set). Layout per the GGUF spec
// (ggml/docs/gguf.md): header (magic, version, tensor count, kv count), KVs, tensor infos
// (name, n_dims, ne[0..], type, offset relative to the data section), padding, data.
// Deterministic: the same calls in the same order give the same bytes.
import fs from "node:fs";
import { GGUF_DEFAULT_ALIGNMENT, GgufValueType } from "./constants";

/** GGUF metadata value types by the short names the writer takes (ids from constants.ts). */
export const GGUF_VALUE = {
  u8: GgufValueType.UINT8,
  i8: GgufValueType.INT8,
  u16: GgufValueType.UINT16,
  i16: GgufValueType.INT16,
  u32: GgufValueType.UINT32,
  i32: GgufValueType.INT32,
  f32: GgufValueType.FLOAT32,
  bool: GgufValueType.BOOL,
  string: GgufValueType.STRING,
  array: GgufValueType.ARRAY,
  u64: GgufValueType.UINT64,
  i64: GgufValueType.INT64,
  f64: GgufValueType.FLOAT64,
} as const;
export type GgufScalarType = Exclude<keyof typeof GGUF_VALUE, "array">;

export type GgufWriteValue =
  | { type: GgufScalarType; value: number | bigint | boolean | string }
  | { type: "array"; elementType: GgufScalarType; values: (number | bigint | boolean | string)[] };

interface TensorEntry {
  name: string;
  /** ggml `ne` order: ne[0] is the contiguous (innermost) dimension. */
  ne: number[];
  type: number;
  data: Uint8Array;
  offset: number;
}

const ALIGN_DEFAULT = GGUF_DEFAULT_ALIGNMENT;

export class GgufWriteError extends Error {}

export class GgufWriter {
  private readonly kvs: { key: string; value: GgufWriteValue }[] = [];
  private readonly keys = new Set<string>();
  private readonly tensors: TensorEntry[] = [];
  private readonly tensorNames = new Set<string>();
  private alignment = ALIGN_DEFAULT;

  set(key: string, type: GgufScalarType, value: number | bigint | boolean | string): this {
    return this.add(key, { type, value });
  }

  setArray(key: string, elementType: GgufScalarType, values: (number | bigint | boolean | string)[]): this {
    return this.add(key, { type: "array", elementType, values });
  }

  private add(key: string, value: GgufWriteValue): this {
    if (this.keys.has(key)) throw new GgufWriteError(`GGUF metadata key '${key}' was set twice`);
    if (key === "general.alignment") {
      const a = Number(value.type === "array" ? NaN : value.value);
      if (!Number.isInteger(a) || a <= 0 || a % 8 !== 0) throw new GgufWriteError(`general.alignment must be a positive multiple of 8, not ${a}`);
      this.alignment = a;
    }
    // Validate now, so the caller learns which key is wrong where it set it.
    const probe = new ByteSink();
    if (value.type === "array") for (const v of value.values) writeScalar(probe, value.elementType, v, key);
    else writeScalar(probe, value.type, value.value, key);
    this.keys.add(key);
    this.kvs.push({ key, value });
    return this;
  }

  /** Adds a tensor; `data` must already be encoded in `type` (see quant.ts). */
  addTensor(name: string, ne: number[], type: number, data: Uint8Array): this {
    if (this.tensorNames.has(name)) throw new GgufWriteError(`GGUF tensor '${name}' was added twice`);
    if (ne.length < 1 || ne.length > 4 || ne.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new GgufWriteError(`GGUF tensor '${name}' has an invalid shape [${ne.join(", ")}]`);
    }
    this.tensorNames.add(name);
    this.tensors.push({ name, ne, type, data, offset: 0 });
    return this;
  }

  /** The complete file. */
  toBuffer(): Buffer {
    const head = this.header();
    const parts: Uint8Array[] = [head];
    let pos = 0;
    for (const t of this.tensors) {
      const pad = t.offset - pos;
      if (pad > 0) parts.push(new Uint8Array(pad));
      parts.push(t.data);
      pos = t.offset + t.data.byteLength;
    }
    return Buffer.concat(parts);
  }

  /** Writes the file (to a temporary name first, then renames, so readers never see half a file). */
  write(file: string): void {
    const tmp = `${file}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, this.header());
      let pos = 0;
      for (const t of this.tensors) {
        const pad = t.offset - pos;
        if (pad > 0) fs.writeSync(fd, new Uint8Array(pad));
        fs.writeSync(fd, t.data);
        pos = t.offset + t.data.byteLength;
      }
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  }

  /** Header, KVs, tensor infos and the padding up to the data section; assigns tensor offsets. */
  private header(): Uint8Array {
    let off = 0;
    for (const t of this.tensors) {
      off = alignUp(off, this.alignment);
      t.offset = off;
      off += t.data.byteLength;
    }
    const b = new ByteSink();
    b.bytes(new TextEncoder().encode("GGUF"));
    b.u32(3);
    b.u64(BigInt(this.tensors.length));
    b.u64(BigInt(this.kvs.length));
    for (const { key, value } of this.kvs) {
      b.string(key);
      if (value.type === "array") {
        b.u32(GGUF_VALUE.array);
        b.u32(GGUF_VALUE[value.elementType]);
        b.u64(BigInt(value.values.length));
        for (const v of value.values) writeScalar(b, value.elementType, v, key);
      } else {
        b.u32(GGUF_VALUE[value.type]);
        writeScalar(b, value.type, value.value, key);
      }
    }
    for (const t of this.tensors) {
      b.string(t.name);
      b.u32(t.ne.length);
      for (const d of t.ne) b.u64(BigInt(d));
      b.u32(t.type);
      b.u64(BigInt(t.offset));
    }
    b.bytes(new Uint8Array(alignUp(b.length, this.alignment) - b.length));
    return b.result();
  }
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function writeScalar(b: ByteSink, type: GgufScalarType, v: number | bigint | boolean | string, key: string): void {
  const bad = () => new GgufWriteError(`GGUF metadata '${key}': value ${String(v)} does not fit type ${type}`);
  if (type === "string") {
    if (typeof v !== "string") throw bad();
    b.string(v);
    return;
  }
  if (type === "bool") {
    if (typeof v !== "boolean") throw bad();
    b.u8(v ? 1 : 0);
    return;
  }
  if (type === "u64" || type === "i64") {
    if (typeof v !== "number" && typeof v !== "bigint") throw bad();
    if (typeof v === "number" && !Number.isInteger(v)) throw bad();
    const big = BigInt(v);
    if (type === "u64") b.u64(BigInt.asUintN(64, big));
    else b.i64(big);
    return;
  }
  if (typeof v !== "number") throw bad();
  switch (type) {
    case "f32":
      b.f32(v);
      return;
    case "f64":
      b.f64(v);
      return;
  }
  if (!Number.isInteger(v)) throw bad();
  const ranges: Record<string, [number, number]> = {
    u8: [0, 0xff],
    i8: [-0x80, 0x7f],
    u16: [0, 0xffff],
    i16: [-0x8000, 0x7fff],
    u32: [0, 0xffffffff],
    i32: [-0x80000000, 0x7fffffff],
  };
  const [lo, hi] = ranges[type]!;
  if (v < lo || v > hi) throw bad();
  switch (type) {
    case "u8":
      b.u8(v);
      return;
    case "i8":
      b.i8(v);
      return;
    case "u16":
      b.u16(v);
      return;
    case "i16":
      b.i16(v);
      return;
    case "u32":
      b.u32(v);
      return;
    case "i32":
      b.i32(v);
      return;
  }
}

/** A growable little-endian byte buffer. */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number): void {
    this.ensure(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number): void {
    this.ensure(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  u64(v: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.length, v, true);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.length, v, true);
    this.length += 8;
  }
  f32(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  bytes(v: Uint8Array): void {
    this.ensure(v.length);
    this.buf.set(v, this.length);
    this.length += v.length;
  }
  string(s: string): void {
    const enc = new TextEncoder().encode(s);
    this.u64(BigInt(enc.length));
    this.bytes(enc);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

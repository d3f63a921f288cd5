// A bounded GGUF header reader: metadata and tensor infos, without loading llama.cpp. Used for
// diagnostics and hover, so it must be fast and must never trust the file: every count and length
// is checked against what the file can still hold and against fixed caps before anything is
// allocated, and a truncated or hostile header gives a GgufError with a clear message.
import fs from "node:fs";
import { openRegularFile, UnsafeFileError } from "../util/safe-file";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgufValueType,
  LLAMA_FTYPE_NAMES,
  ggmlTensorBytes,
  ggmlTypeName,
} from "./constants";

export type GgufValue = number | bigint | string | boolean | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** Dimensions as GGUF stores them: ne[0] (the row length) first. */
  shape: number[];
  type: number;
  typeName: string;
  /** Offset of the tensor's data relative to dataOffset. */
  offset: number;
}

export interface GgufHeader {
  version: number;
  metadata: Record<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset where tensor data begins. */
  dataOffset: number;
  /** Size of the file (or buffer) the header was read from. */
  fileBytes: number;
}

export interface GgufFacts {
  architecture?: string;
  name?: string;
  fileType?: number;
  /** Quantization name, e.g. "Q4_K_M"; from general.file_type, else the dominant weight type. */
  quant?: string;
  parameterCount: number;
  contextLength?: number;
  embeddingLength?: number;
  blockCount?: number;
  headCount?: number;
  vocabSize?: number;
  tokenizerModel?: string;
  hasChatTemplate: boolean;
  isLora: boolean;
  loraAlpha?: number;
}

/** A GGUF file that cannot be read: truncated, not GGUF, or claiming more than it can hold. */
export class GgufError extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(message);
    this.name = "GgufError";
  }
}

/**
 * Caps that no real header comes near; they keep hostile files from costing memory or time. The
 * largest real metadata arrays are tokenizer vocabularies and merge lists (about 280,000 entries
 * in Llama 3, 262,144 tokens in Gemma 3) and whole headers stay under 20 MB; the caps allow
 * several times that. Counts are checked before anything is allocated.
 */
export const GGUF_LIMITS = {
  maxHeaderBytes: 32 * 1024 * 1024,
  maxStringBytes: 16 * 1024 * 1024,
  maxKeyBytes: 65536,
  maxArrayDepth: 8,
  /** Elements in one metadata array. */
  maxArrayElements: 1 << 20,
  /** Elements in all metadata arrays together. */
  maxMetadataElements: 1 << 22,
  /** Strings in all metadata arrays together (each costs an allocation; numbers are read in bulk). */
  maxStringElements: 1 << 20,
  maxDims: 8,
  maxTensors: 200_000,
  maxKv: 100_000,
};
const LIMITS = GGUF_LIMITS;

/** Byte source: a whole buffer, or a file read in chunks on demand. */
interface Source {
  readonly size: number;
  /** Returns a view of [pos, pos+n); throws GgufError if the source ends first. */
  bytes(pos: number, n: number): Uint8Array;
  /**
   * Makes [pos, pos+n) readable in `data` and returns its offset there (no allocation: the
   * reader's hot path reads lengths and short strings through this).
   */
  window(pos: number, n: number): number;
  readonly data: Uint8Array;
}

class BufferSource implements Source {
  constructor(private readonly buf: Uint8Array) {}
  get size(): number {
    return this.buf.length;
  }
  get data(): Uint8Array {
    return this.buf;
  }
  window(pos: number, n: number): number {
    if (pos + n > this.buf.length) throw new GgufError(`truncated: needs ${n} bytes at offset ${pos}, the data ends at ${this.buf.length}`, pos);
    return pos;
  }
  bytes(pos: number, n: number): Uint8Array {
    if (pos + n > this.buf.length) throw new GgufError(`truncated: needs ${n} bytes at offset ${pos}, the data ends at ${this.buf.length}`, pos);
    return this.buf.subarray(pos, pos + n);
  }
}

class FileSource implements Source {
  private chunk = new Uint8Array(0);
  private chunkStart = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}
  get data(): Uint8Array {
    return this.chunk;
  }
  window(pos: number, n: number): number {
    if (pos < this.chunkStart || pos + n > this.chunkStart + this.chunk.length) this.bytes(pos, n);
    return pos - this.chunkStart;
  }
  bytes(pos: number, n: number): Uint8Array {
    if (pos + n > this.size) throw new GgufError(`truncated: needs ${n} bytes at offset ${pos}, the file ends at ${this.size}`, pos);
    if (pos < this.chunkStart || pos + n > this.chunkStart + this.chunk.length) {
      const len = Math.min(this.size - pos, Math.max(n, 1 << 20));
      const buf = new Uint8Array(len);
      let got = 0;
      while (got < len) {
        const r = fs.readSync(this.fd, buf, got, len - got, pos + got);
        if (r === 0) break;
        got += r;
      }
      if (got < n) throw new GgufError(`truncated: could read only ${got} of ${n} bytes at offset ${pos}`, pos);
      this.chunk = buf.subarray(0, got);
      this.chunkStart = pos;
    }
    return this.chunk.subarray(pos - this.chunkStart, pos - this.chunkStart + n);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

class Cursor {
  pos = 0;
  /** Array elements read so far (all arrays): bounded by maxMetadataElements; strings among them. */
  elements = 0;
  strings = 0;
  constructor(
    private readonly src: Source,
    private readonly version: number = 3,
  ) {}
  private view(n: number): DataView {
    const b = this.src.bytes(this.pos, n);
    if (this.pos + n > LIMITS.maxHeaderBytes) throw new GgufError(`header larger than ${LIMITS.maxHeaderBytes} bytes`, this.pos);
    this.pos += n;
    return new DataView(b.buffer, b.byteOffset, n);
  }
  u8 = () => this.view(1).getUint8(0);
  i8 = () => this.view(1).getInt8(0);
  u16 = () => this.view(2).getUint16(0, true);
  i16 = () => this.view(2).getInt16(0, true);
  u32 = () => this.view(4).getUint32(0, true);
  i32 = () => this.view(4).getInt32(0, true);
  f32 = () => this.view(4).getFloat32(0, true);
  f64 = () => this.view(8).getFloat64(0, true);
  u64big = () => this.view(8).getBigUint64(0, true);
  i64big = () => this.view(8).getBigInt64(0, true);
  /** A u64 that must fit a JS number (counts, lengths, offsets); read without a BigInt or a view (hot path). */
  u64num(what: string): number {
    if (this.pos + 8 > LIMITS.maxHeaderBytes) throw new GgufError(`header larger than ${LIMITS.maxHeaderBytes} bytes`, this.pos);
    const o = this.src.window(this.pos, 8);
    const b = this.src.data;
    this.pos += 8;
    const lo = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
    const hi = (b[o + 4]! | (b[o + 5]! << 8) | (b[o + 6]! << 16) | (b[o + 7]! << 24)) >>> 0;
    if (hi >= 0x200000) throw new GgufError(`${what} is implausibly large (${(BigInt(hi) << 32n) | BigInt(lo)})`, this.pos - 8);
    return hi * 0x100000000 + lo;
  }
  /** `n` bytes at the cursor, as a view (bounded by the header cap). */
  take(n: number): Uint8Array {
    if (this.pos + n > LIMITS.maxHeaderBytes) throw new GgufError(`header larger than ${LIMITS.maxHeaderBytes} bytes`, this.pos);
    const b = this.src.bytes(this.pos, n);
    this.pos += n;
    return b;
  }
  /** Counts are u32 in GGUF v1, u64 after. */
  count(what: string): number {
    return this.version === 1 ? this.u32() : this.u64num(what);
  }
  remaining(): number {
    return this.src.size - this.pos;
  }
  /** An array element string: like string(), but its message is built only on error (hot path). */
  elementString(key: string): string {
    const at = this.pos;
    const len = this.version === 1 ? this.u32() : this.u64num("length");
    return this.stringBody(at, len, key, LIMITS.maxStringBytes);
  }
  string(what: string, cap = LIMITS.maxStringBytes): string {
    const at = this.pos;
    const len = this.count(`${what} length`);
    return this.stringBody(at, len, what, cap);
  }
  private stringBody(at: number, len: number, what: string, cap: number): string {
    if (len > cap) throw new GgufError(`${what} claims ${len} bytes, more than the ${cap}-byte limit`, at);
    if (len > this.remaining()) throw new GgufError(`truncated: ${what} claims ${len} bytes but only ${this.remaining()} remain`, at);
    // Vocabulary entries are short and mostly ASCII: decoded by hand, without a view or a
    // TextDecoder call each (a real vocabulary has hundreds of thousands of them).
    if (len <= 24 && this.pos + len <= LIMITS.maxHeaderBytes) {
      const o = this.src.window(this.pos, len);
      const d = this.src.data;
      let out = "";
      let i = 0;
      for (; i < len; i++) {
        const ch = d[o + i]!;
        if (ch >= 0x80) break;
        out += String.fromCharCode(ch);
      }
      if (i === len) {
        this.pos += len;
        return out;
      }
    }
    return utf8.decode(this.take(len));
  }
}

function minValueBytes(type: number): number {
  switch (type) {
    case GgufValueType.UINT8:
    case GgufValueType.INT8:
    case GgufValueType.BOOL:
      return 1;
    case GgufValueType.UINT16:
    case GgufValueType.INT16:
      return 2;
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
    case GgufValueType.FLOAT32:
      return 4;
    default:
      return 8; // u64/i64/f64, and strings/arrays carry an 8-byte length at least
  }
}

/** Byte size of each fixed-size value type. */
const FIXED_SIZE: Record<number, number> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.FLOAT64]: 8,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
};

function readFixed(d: DataView, at: number, type: number): GgufValue {
  switch (type) {
    case GgufValueType.UINT8:
      return d.getUint8(at);
    case GgufValueType.INT8:
      return d.getInt8(at);
    case GgufValueType.BOOL:
      return d.getUint8(at) !== 0;
    case GgufValueType.UINT16:
      return d.getUint16(at, true);
    case GgufValueType.INT16:
      return d.getInt16(at, true);
    case GgufValueType.UINT32:
      return d.getUint32(at, true);
    case GgufValueType.INT32:
      return d.getInt32(at, true);
    case GgufValueType.FLOAT32:
      return d.getFloat32(at, true);
    default:
      return d.getFloat64(at, true);
  }
}

function readValue(c: Cursor, type: number, key: string, depth: number): GgufValue {
  switch (type) {
    case GgufValueType.UINT8:
      return c.u8();
    case GgufValueType.INT8:
      return c.i8();
    case GgufValueType.UINT16:
      return c.u16();
    case GgufValueType.INT16:
      return c.i16();
    case GgufValueType.UINT32:
      return c.u32();
    case GgufValueType.INT32:
      return c.i32();
    case GgufValueType.FLOAT32:
      return c.f32();
    case GgufValueType.BOOL:
      return c.u8() !== 0;
    case GgufValueType.STRING:
      return c.string(`value of '${key}'`);
    case GgufValueType.UINT64: {
      const v = c.u64big();
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case GgufValueType.INT64: {
      const v = c.i64big();
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
    }
    case GgufValueType.FLOAT64:
      return c.f64();
    case GgufValueType.ARRAY: {
      if (depth >= LIMITS.maxArrayDepth) throw new GgufError(`'${key}' nests arrays deeper than ${LIMITS.maxArrayDepth}`, c.pos);
      const at = c.pos;
      const elemType = c.u32();
      const n = c.count(`array '${key}' length`);
      if (n > LIMITS.maxArrayElements) {
        throw new GgufError(`metadata array '${key}' has ${n.toLocaleString("en-US")} elements, more than the ${LIMITS.maxArrayElements.toLocaleString("en-US")} Driftlens reads (real vocabularies have a few hundred thousand); the file is not a model Driftlens can use`, at);
      }
      c.elements += n;
      if (elemType === GgufValueType.STRING) c.strings += n;
      if (c.strings > LIMITS.maxStringElements) {
        throw new GgufError(`the metadata arrays hold more than ${LIMITS.maxStringElements.toLocaleString("en-US")} strings together (at '${key}'); the file is not a model Driftlens can use`, at);
      }
      if (c.elements > LIMITS.maxMetadataElements) {
        throw new GgufError(`the metadata arrays hold more than ${LIMITS.maxMetadataElements.toLocaleString("en-US")} elements together (at '${key}'); the file is not a model Driftlens can use`, at);
      }
      // Never allocate more elements than the remaining bytes could possibly encode.
      if (n * minValueBytes(elemType) > c.remaining()) {
        throw new GgufError(`truncated: array '${key}' claims ${n} elements but only ${c.remaining()} bytes remain`, at);
      }
      const fixed = FIXED_SIZE[elemType];
      if (fixed !== undefined && elemType !== GgufValueType.UINT64 && elemType !== GgufValueType.INT64) {
        // Numbers of one fixed size: one read for the whole array, no per-element cursor calls.
        const b = c.take(n * fixed);
        const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const out: GgufValue[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = readFixed(d, i * fixed, elemType);
        return out;
      }
      const out: GgufValue[] = new Array(n);
      if (elemType === GgufValueType.STRING) for (let i = 0; i < n; i++) out[i] = c.elementString(key);
      else for (let i = 0; i < n; i++) out[i] = readValue(c, elemType, key, depth + 1);
      return out;
    }
    default:
      throw new GgufError(`'${key}' has unknown value type ${type}`, c.pos - 4);
  }
}

function parse(src: Source): GgufHeader {
  if (src.size < 8) throw new GgufError(`not a GGUF file: ${src.size} bytes is too short for a header`, 0);
  const first = new Cursor(src);
  const magic = first.u32();
  if (magic !== GGUF_MAGIC) throw new GgufError("not a GGUF file: the first four bytes are not 'GGUF'", 0);
  const version = first.u32();
  if (version < 1 || version > 3) throw new GgufError(`unsupported GGUF version ${version} (this reader knows 1 to 3)`, 4);
  const c = new Cursor(src, version);
  c.pos = first.pos;
  c.elements = 0;
  const tensorCount = c.count("tensor count");
  const kvCount = c.count("metadata count");
  if (tensorCount > LIMITS.maxTensors) throw new GgufError(`tensor count ${tensorCount} is implausibly large`, 8);
  if (kvCount > LIMITS.maxKv) throw new GgufError(`metadata count ${kvCount} is implausibly large`, 16);

  const metadata: Record<string, GgufValue> = Object.create(null);
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`, LIMITS.maxKeyBytes);
    const type = c.u32();
    metadata[key] = readValue(c, type, key, 0);
  }

  // A tensor info needs at least a name length, n_dims, one dim, type and offset.
  if (tensorCount * 28 > c.remaining()) throw new GgufError(`truncated: ${tensorCount} tensor infos cannot fit in the ${c.remaining()} bytes that remain`, c.pos);
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor #${i} name`, LIMITS.maxKeyBytes);
    const nDims = c.u32();
    if (nDims < 1 || nDims > LIMITS.maxDims) throw new GgufError(`tensor '${name}' has ${nDims} dimensions (expected 1 to ${LIMITS.maxDims})`, c.pos - 4);
    const shape: number[] = [];
    for (let d = 0; d < nDims; d++) shape.push(version === 1 ? c.u32() : c.u64num(`tensor '${name}' dimension`));
    const type = c.u32();
    const offset = c.u64num(`tensor '${name}' offset`);
    tensors.push({ name, shape, type, typeName: ggmlTypeName(type), offset });
  }

  const alignRaw = metadata["general.alignment"];
  const alignment = typeof alignRaw === "number" && alignRaw > 0 && (alignRaw & (alignRaw - 1)) === 0 ? alignRaw : GGUF_DEFAULT_ALIGNMENT;
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  return { version, metadata, tensors, alignment, dataOffset, fileBytes: src.size };
}

/** Parses a GGUF header held in memory (the buffer may hold only the header). */
export function parseGgufHeader(buf: Uint8Array): GgufHeader {
  return parse(new BufferSource(buf));
}

/**
 * Reads a GGUF file's header with bounded, on-demand reads (never the tensor data). Only a
 * regular file is opened: a FIFO or a device (/dev/zero) is refused at once, not read forever.
 */
export function readGgufHeader(file: string): GgufHeader {
  let opened: { fd: number; stat: fs.Stats };
  try {
    opened = openRegularFile(file);
  } catch (e) {
    if (e instanceof UnsafeFileError) throw new GgufError(e.code === "missing" ? `file not found: ${file}` : e.message);
    throw e;
  }
  try {
    return parse(new FileSource(opened.fd, opened.stat.size));
  } finally {
    fs.closeSync(opened.fd);
  }
}

/**
 * Checks that every tensor's data lies inside the file. Separate from parsing because a header
 * read from a partial buffer cannot know the file size.
 */
export function checkTensorBounds(h: GgufHeader): string[] {
  const problems: string[] = [];
  for (const t of h.tensors) {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const bytes = ggmlTensorBytes(t.type, elements);
    if (bytes === undefined) {
      problems.push(`tensor '${t.name}' has type ${t.typeName} and ${elements} elements, which do not form whole blocks`);
      continue;
    }
    if (h.dataOffset + t.offset + bytes > h.fileBytes) {
      problems.push(`tensor '${t.name}' ends at byte ${h.dataOffset + t.offset + bytes}, past the end of the file (${h.fileBytes} bytes)`);
    }
  }
  return problems;
}

function str(v: GgufValue | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}
function num(v: GgufValue | undefined): number | undefined {
  return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : undefined;
}

/** The facts users ask about a model or adapter file, from its header alone. */
export function ggufFacts(h: GgufHeader): GgufFacts {
  const m = h.metadata;
  const arch = str(m["general.architecture"]);
  const fileType = num(m["general.file_type"]);
  let quant = fileType !== undefined ? LLAMA_FTYPE_NAMES[fileType] : undefined;
  if (!quant) {
    // No file_type: name it after the type holding most weight elements among 2-D tensors.
    const byType = new Map<string, number>();
    for (const t of h.tensors) {
      if (t.shape.length < 2) continue;
      byType.set(t.typeName, (byType.get(t.typeName) ?? 0) + t.shape.reduce((a, b) => a * b, 1));
    }
    quant = [...byType.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  }
  const tokens = m["tokenizer.ggml.tokens"];
  const prefix = arch ? `${arch}.` : "";
  return {
    architecture: arch,
    name: str(m["general.name"]),
    fileType,
    quant,
    parameterCount: h.tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0),
    contextLength: num(m[`${prefix}context_length`]),
    embeddingLength: num(m[`${prefix}embedding_length`]),
    blockCount: num(m[`${prefix}block_count`]),
    headCount: num(m[`${prefix}attention.head_count`]),
    vocabSize: Array.isArray(tokens) ? tokens.length : num(m[`${prefix}vocab_size`]),
    tokenizerModel: str(m["tokenizer.ggml.model"]),
    hasChatTemplate: typeof m["tokenizer.chat_template"] === "string",
    isLora: str(m["general.type"]) === "adapter" && str(m["adapter.type"]) === "lora",
    loraAlpha: num(m["adapter.lora.alpha"]),
  };
}

/** A header as kept in caches: metadata arrays longer than this are left out (vocabularies are megabytes). */
const CACHED_ARRAY_MAX = 64;

export interface GgufFileInfo {
  size: number;
  mtimeMs: number;
  /** The header without its long metadata arrays (facts are computed before they are dropped). */
  header?: GgufHeader;
  facts?: GgufFacts;
  /** Why the file is not a readable GGUF. */
  error?: string;
}

const infoCache = new Map<string, GgufFileInfo & { key: string }>();
const INFO_CACHE_SIZE = 32;

/**
 * Header facts of a GGUF file, parsed once per process and file version (path, size, mtime,
 * inode) and shared by every caller (diagnostics, hover, runs): a hostile header within the caps
 * still costs a parse, but only one. Never throws.
 */
export function ggufFileInfo(file: string): GgufFileInfo {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return { size: 0, mtimeMs: 0, error: `file not found: ${file}` };
  }
  const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
  const hit = infoCache.get(file);
  if (hit && hit.key === key) {
    infoCache.delete(file);
    infoCache.set(file, hit);
    return hit;
  }
  let info: GgufFileInfo & { key: string };
  try {
    const h = readGgufHeader(file);
    const facts = ggufFacts(h);
    const metadata: Record<string, GgufValue> = Object.create(null);
    for (const [k, v] of Object.entries(h.metadata)) if (!Array.isArray(v) || v.length <= CACHED_ARRAY_MAX) metadata[k] = v;
    info = { key, size: st.size, mtimeMs: st.mtimeMs, header: { ...h, metadata }, facts };
  } catch (e) {
    info = { key, size: st.size, mtimeMs: st.mtimeMs, error: e instanceof Error ? e.message : String(e) };
  }
  infoCache.set(file, info);
  if (infoCache.size > INFO_CACHE_SIZE) infoCache.delete(infoCache.keys().next().value as string);
  return info;
}

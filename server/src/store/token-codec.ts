// Compact binary encoding of generated tokens with their top-k alternatives, for the results and
// generations tables. JSON of the same data is ~4x larger and ~10x slower to write; a run of many
// cases stores tens of thousands of these.
//
// Version 3 layout: u8 version (3); u32 LE offset of the string table; varint token count; per
// token: zigzag-varint id, f64 prob (exact), varint text index, varint alternative count, then per
// alternative: zigzag-varint id, f32 prob, varint text index; then the string table: varint
// count, and per string a varint byte length and its UTF-8 bytes. Written in one pass.
// Token texts are deduplicated through the string table. Alternatives' probabilities are stored
// at single precision (what they are for: confidence views); normalizeTokens applies the same
// rounding so a fresh result and its cached copy are identical. Versions 1 (fixed-width, f64
// everywhere) and 2 (string table first) are still read.

export interface CodecToken {
  token: number;
  text: string;
  prob: number;
  top: { token: number; text: string; prob: number }[];
}

const VERSION = 3;

/** The tokens exactly as they will read back from the store (alternatives' probs at f32). */
export function normalizeTokens(tokens: readonly CodecToken[]): CodecToken[] {
  return tokens.map((t) => ({ token: t.token, text: t.text, prob: t.prob, top: t.top.map((a) => ({ token: a.token, text: a.text, prob: Math.fround(a.prob) })) }));
}

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);
const unzigzag = (n: number): number => (n % 2 === 0 ? n / 2 : -(n + 1) / 2);

// One scratch buffer reused by every encode (grown on demand): a single pass writes tokens, then
// the string table, and only the finished bytes are copied out.
let scratch = Buffer.allocUnsafe(64 * 1024);

export function encodeTokens(tokens: readonly CodecToken[]): Buffer {
  const index = new Map<string, number>();
  const strings: string[] = [];
  // Upper bound: per token and alternative at most 5 (id) + 8 (prob) + 5 (index) + 5 (count) bytes,
  // plus each text at 3 bytes per UTF-16 unit and a 5-byte length.
  let bound = 16;
  for (const t of tokens) {
    bound += 23 + 3 * t.text.length + 5;
    for (const a of t.top) bound += 23 + 3 * a.text.length + 5;
  }
  if (scratch.length < bound) scratch = Buffer.allocUnsafe(Math.max(bound, scratch.length * 2));
  const buf = scratch;
  let o = 0;
  const varint = (n: number) => {
    while (n >= 0x80) {
      buf[o++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    buf[o++] = n;
  };
  const idx = (x: string): number => {
    let i = index.get(x);
    if (i === undefined) {
      i = strings.length;
      index.set(x, i);
      strings.push(x);
    }
    return i;
  };
  buf[o++] = VERSION;
  o += 4; // u32 offset of the string table, filled in below
  varint(tokens.length);
  for (const t of tokens) {
    varint(zigzag(t.token));
    buf.writeDoubleLE(t.prob, o);
    o += 8;
    varint(idx(t.text));
    varint(t.top.length);
    for (const a of t.top) {
      varint(zigzag(a.token));
      buf.writeFloatLE(a.prob, o);
      o += 4;
      varint(idx(a.text));
    }
  }
  buf.writeUInt32LE(o, 1);
  varint(strings.length);
  for (const x of strings) {
    // Length prefix in bytes; ASCII texts (the usual case) need no byte counting.
    const len = /[^\x00-\x7f]/.test(x) ? Buffer.byteLength(x, "utf8") : x.length;
    varint(len);
    o += len === x.length ? buf.write(x, o, "latin1") : buf.write(x, o, "utf8");
  }
  return Buffer.from(buf.subarray(0, o));
}

export function decodeTokens(data: Uint8Array | string | null | undefined): CodecToken[] {
  if (data === null || data === undefined) return [];
  if (typeof data === "string") return JSON.parse(data) as CodecToken[]; // tolerate JSON text
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length === 0) return [];
  const version = buf[0];
  if (version === 1) return decodeV1(buf);
  if (version === 2) return decodeV2(buf);
  if (version !== VERSION) throw new Error(`unknown token encoding version ${version}`);
  let o = buf.readUInt32LE(1);
  const varint = (): number => {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = buf[o++]!;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  };
  const tableAt = o;
  const n = varint();
  const strings: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const len = varint();
    strings[i] = buf.toString("utf8", o, o + len);
    o += len;
  }
  if (o !== buf.length) throw new Error(`corrupt token data: ${buf.length - o} bytes after the string table`);
  o = 5;
  const count = varint();
  const out: CodecToken[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const token = unzigzag(varint());
    const prob = buf.readDoubleLE(o);
    o += 8;
    const text = strings[varint()]!;
    const k = varint();
    const top: CodecToken["top"] = new Array(k);
    for (let j = 0; j < k; j++) {
      const id = unzigzag(varint());
      const p = buf.readFloatLE(o);
      o += 4;
      top[j] = { token: id, text: strings[varint()]!, prob: p };
    }
    out[i] = { token, text, prob, top };
  }
  if (o !== tableAt) throw new Error("corrupt token data: tokens overrun the string table");
  return out;
}

function decodeV2(buf: Buffer): CodecToken[] {
  const ascii = buf[1] === 1;
  let o = 2;
  const varint = (): number => {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = buf[o++]!;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  };
  const n = varint();
  const lengths: number[] = new Array(n);
  let block = 0;
  for (let i = 0; i < n; i++) {
    lengths[i] = varint();
    block += lengths[i]!;
  }
  const strings: string[] = new Array(n);
  if (ascii) {
    const all = buf.toString("latin1", o, o + block);
    let at = 0;
    for (let i = 0; i < n; i++) {
      strings[i] = all.slice(at, at + lengths[i]!);
      at += lengths[i]!;
    }
  } else {
    let at = o;
    for (let i = 0; i < n; i++) {
      strings[i] = buf.toString("utf8", at, at + lengths[i]!);
      at += lengths[i]!;
    }
  }
  o += block;
  const count = varint();
  const out: CodecToken[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const token = unzigzag(varint());
    const prob = buf.readDoubleLE(o);
    o += 8;
    const text = strings[varint()]!;
    const k = varint();
    const top: CodecToken["top"] = new Array(k);
    for (let j = 0; j < k; j++) {
      const id = unzigzag(varint());
      const p = buf.readFloatLE(o);
      o += 4;
      top[j] = { token: id, text: strings[varint()]!, prob: p };
    }
    out[i] = { token, text, prob, top };
  }
  if (o !== buf.length) throw new Error(`corrupt token data: ${buf.length - o} bytes left over`);
  return out;
}

function decodeV1(buf: Buffer): CodecToken[] {
  let o = 1;
  const n = buf.readUInt32LE(o);
  o += 4;
  const strings: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const len = buf.readUInt32LE(o);
    o += 4;
    strings[i] = buf.toString("utf8", o, o + len);
    o += len;
  }
  const count = buf.readUInt32LE(o);
  o += 4;
  const out: CodecToken[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const token = buf.readInt32LE(o);
    const prob = buf.readDoubleLE(o + 4);
    const text = strings[buf.readUInt32LE(o + 12)]!;
    const k = buf.readUInt16LE(o + 16);
    o += 18;
    const top: CodecToken["top"] = new Array(k);
    for (let j = 0; j < k; j++) {
      top[j] = { token: buf.readInt32LE(o), text: strings[buf.readUInt32LE(o + 12)]!, prob: buf.readDoubleLE(o + 4) };
      o += 16;
    }
    out[i] = { token, text, prob, top };
  }
  return out;
}

// Compact binary encoding of generated tokens with their top-k alternatives, for the results and
// generations tables. JSON of the same data is ~4x larger and ~10x slower to write; a run of many
// cases stores tens of thousands of these.
//
// Version 2 layout: u8 version (2); u8 1 when every text is ASCII; varint string count; the
// strings' varint byte lengths; the strings' bytes as one block; varint token count; per token:
// zigzag-varint id, f64 prob (exact), varint text index, varint alternative count, then per
// alternative: zigzag-varint id, f32 prob, varint text index.
// Token texts are deduplicated through the string table. Alternatives' probabilities are stored
// at single precision (what they are for: confidence views); normalizeTokens applies the same
// rounding so a fresh result and its cached copy are identical. Version 1 (fixed-width, f64
// everywhere) is still read.

export interface CodecToken {
  token: number;
  text: string;
  prob: number;
  top: { token: number; text: string; prob: number }[];
}

const VERSION = 2;

/** The tokens exactly as they will read back from the store (alternatives' probs at f32). */
export function normalizeTokens(tokens: readonly CodecToken[]): CodecToken[] {
  return tokens.map((t) => ({ token: t.token, text: t.text, prob: t.prob, top: t.top.map((a) => ({ token: a.token, text: a.text, prob: Math.fround(a.prob) })) }));
}

function varintSize(n: number): number {
  let s = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    s++;
  }
  return s;
}

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);
const unzigzag = (n: number): number => (n % 2 === 0 ? n / 2 : -(n + 1) / 2);

export function encodeTokens(tokens: readonly CodecToken[]): Buffer {
  const index = new Map<string, number>();
  const strings: string[] = [];
  // Text indices in encounter order (token, then its alternatives), so the write pass needs no lookups.
  const refs: number[] = [];
  let body = 0;
  const idx = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      index.set(s, i);
      strings.push(s);
    }
    refs.push(i);
    return i;
  };
  for (const t of tokens) {
    body += varintSize(zigzag(t.token)) + 8 + varintSize(idx(t.text)) + varintSize(t.top.length);
    for (const a of t.top) body += varintSize(zigzag(a.token)) + 4 + varintSize(idx(a.text));
  }
  // All texts are written as one block; ASCII (the common case) needs no per-string byte counting.
  const joined = strings.join("");
  const ascii = !/[^\x00-\x7f]/.test(joined);
  const lengths = ascii ? strings.map((x) => x.length) : strings.map((x) => Buffer.byteLength(x, "utf8"));
  const blockBytes = ascii ? joined.length : Buffer.byteLength(joined, "utf8");
  let size = 2 + varintSize(strings.length) + blockBytes + varintSize(tokens.length) + body;
  for (const l of lengths) size += varintSize(l);
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  const varint = (n: number) => {
    while (n >= 0x80) {
      buf[o++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    buf[o++] = n;
  };
  buf[o++] = VERSION;
  buf[o++] = ascii ? 1 : 0;
  varint(strings.length);
  for (const l of lengths) varint(l);
  o += buf.write(joined, o, ascii ? "latin1" : "utf8");
  varint(tokens.length);
  let r = 0;
  for (const t of tokens) {
    varint(zigzag(t.token));
    buf.writeDoubleLE(t.prob, o);
    o += 8;
    varint(refs[r++]!);
    varint(t.top.length);
    for (const a of t.top) {
      varint(zigzag(a.token));
      buf.writeFloatLE(a.prob, o);
      o += 4;
      varint(refs[r++]!);
    }
  }
  return buf;
}

export function decodeTokens(data: Uint8Array | string | null | undefined): CodecToken[] {
  if (data === null || data === undefined) return [];
  if (typeof data === "string") return JSON.parse(data) as CodecToken[]; // tolerate JSON text
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length === 0) return [];
  const version = buf[0];
  if (version === 1) return decodeV1(buf);
  if (version !== VERSION) throw new Error(`unknown token encoding version ${version}`);
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

// Compact binary encoding of generated tokens with their top-k alternatives, for the results and
// generations tables. JSON of the same data is ~3x larger and ~10x slower to write; a run of many
// cases stores tens of thousands of these.
//
// Layout (little-endian): u8 version (1), u32 string count, then each string as u32 byte length +
// UTF-8; u32 token count, then per token: i32 id, f64 prob, u32 text index, u16 alternatives,
// then per alternative: i32 id, f64 prob, u32 text index. Token texts are deduplicated through
// the string table. f64 keeps probabilities exactly as the engine reported them.

export interface CodecToken {
  token: number;
  text: string;
  prob: number;
  top: { token: number; text: string; prob: number }[];
}

const VERSION = 1;

export function encodeTokens(tokens: readonly CodecToken[]): Buffer {
  const index = new Map<string, number>();
  const strings: string[] = [];
  let strBytes = 0;
  let alts = 0;
  const idx = (s: string): void => {
    if (index.has(s)) return;
    index.set(s, strings.length);
    strings.push(s);
    strBytes += 4 + Buffer.byteLength(s, "utf8");
  };
  for (const t of tokens) {
    idx(t.text);
    for (const a of t.top) idx(a.text);
    alts += t.top.length;
  }
  const size = 1 + 4 + strBytes + 4 + tokens.length * 18 + alts * 16;
  const buf = Buffer.allocUnsafe(size);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  dv.setUint8(o, VERSION);
  dv.setUint32(o + 1, strings.length, true);
  o += 5;
  for (const s of strings) {
    const len = buf.write(s, o + 4, "utf8");
    dv.setUint32(o, len, true);
    o += 4 + len;
  }
  dv.setUint32(o, tokens.length, true);
  o += 4;
  for (const t of tokens) {
    dv.setInt32(o, t.token, true);
    dv.setFloat64(o + 4, t.prob, true);
    dv.setUint32(o + 12, index.get(t.text)!, true);
    dv.setUint16(o + 16, t.top.length, true);
    o += 18;
    for (const a of t.top) {
      dv.setInt32(o, a.token, true);
      dv.setFloat64(o + 4, a.prob, true);
      dv.setUint32(o + 12, index.get(a.text)!, true);
      o += 16;
    }
  }
  return buf;
}

export function decodeTokens(data: Uint8Array | string | null | undefined): CodecToken[] {
  if (data === null || data === undefined) return [];
  if (typeof data === "string") return JSON.parse(data) as CodecToken[]; // tolerate JSON text
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length === 0) return [];
  if (buf.readUInt8(0) !== VERSION) throw new Error(`unknown token encoding version ${buf.readUInt8(0)}`);
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

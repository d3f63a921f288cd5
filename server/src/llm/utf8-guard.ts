// Keeps grammar-constrained output well-formed UTF-8. llama.cpp's grammar decodes token bytes with
// a lenient UTF-8 decoder: overlong forms (C1 81 for "A", C0 A2 for '"'), surrogates (ED A0 80)
// and code points past U+10FFFF pass as the characters they would encode. A model that writes such
// bytes one byte token at a time (random weights do) satisfies the grammar while the text, decoded
// strictly, gets U+FFFD where the grammar counted a character — a string over its maxLength, or a
// closing quote that is not one. So under a grammar, the tokens whose bytes would continue the
// output into ill-formed UTF-8 (RFC 3629) are banned at each step (token bias "never").
// Only node-llama-cpp types here; the engine passes its module in.
import type * as NLC from "node-llama-cpp" with { "resolution-mode": "import" };

type Nlc = typeof NLC;
type Token = NLC.Token;

/** Where a strict UTF-8 decoder stands: continuation bytes still needed and the next byte's range. */
interface State {
  need: number;
  lo: number;
  hi: number;
}

const BOUNDARY: State = { need: 0, lo: 0, hi: 0 };

/** The state after `b`, or null when `b` makes the bytes ill-formed. */
export function utf8Step(s: State, b: number): State | null {
  if (s.need > 0) return b >= s.lo && b <= s.hi ? (s.need === 1 ? BOUNDARY : { need: s.need - 1, lo: 0x80, hi: 0xbf }) : null;
  if (b < 0x80) return BOUNDARY;
  if (b >= 0xc2 && b <= 0xdf) return { need: 1, lo: 0x80, hi: 0xbf };
  if (b === 0xe0) return { need: 2, lo: 0xa0, hi: 0xbf };
  if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) return { need: 2, lo: 0x80, hi: 0xbf };
  if (b === 0xed) return { need: 2, lo: 0x80, hi: 0x9f };
  if (b === 0xf0) return { need: 3, lo: 0x90, hi: 0xbf };
  if (b >= 0xf1 && b <= 0xf3) return { need: 3, lo: 0x80, hi: 0xbf };
  if (b === 0xf4) return { need: 3, lo: 0x80, hi: 0x8f };
  return null;
}

function stepAll(s: State, bytes: Uint8Array): State | null {
  let cur: State | null = s;
  for (const b of bytes) {
    cur = utf8Step(cur, b);
    if (!cur) return null;
  }
  return cur;
}

/** GPT-2's byte ↔ printable-character table (BPE vocabularies store raw bytes through it). */
function gpt2ByteDecoder(): Map<string, number> {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [String.fromCodePoint(cs[i]!), b]));
}

/** A model's tokens that are not complete, well-formed UTF-8 on their own, with their bytes. */
interface VocabFacts {
  risky: { token: Token; bytes: Uint8Array }[];
  /** The token bias for each decoder state, built once per model. */
  biases: Map<string, NLC.TokenBias>;
}

const facts = new WeakMap<object, VocabFacts | null>();

function vocabFacts(model: NLC.LlamaModel): VocabFacts | null {
  const hit = facts.get(model);
  if (hit !== undefined) return hit;
  const meta = model.fileInfo.metadata as { tokenizer?: { ggml?: { model?: string; tokens?: readonly string[] } } };
  const kind = meta.tokenizer?.ggml?.model;
  const tokens = meta.tokenizer?.ggml?.tokens;
  let out: VocabFacts | null = null;
  if (Array.isArray(tokens) && (kind === "llama" || kind === "gpt2")) {
    const dec = kind === "gpt2" ? gpt2ByteDecoder() : undefined;
    const risky: VocabFacts["risky"] = [];
    tokens.forEach((text, id) => {
      let bytes: Uint8Array;
      const byteToken = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
      if (kind === "llama") {
        if (!byteToken) return; // SPM pieces are text: complete UTF-8 by construction
        bytes = Uint8Array.of(parseInt(byteToken[1]!, 16));
      } else {
        const raw: number[] = [];
        for (const ch of text) {
          const b = dec!.get(ch);
          if (b === undefined) return; // special/added token stored as text
          raw.push(b);
        }
        bytes = Uint8Array.from(raw);
      }
      const end = stepAll(BOUNDARY, bytes);
      if (end && end.need === 0) return; // complete and well-formed on its own
      risky.push({ token: id as Token, bytes });
    });
    out = { risky, biases: new Map() };
  }
  facts.set(model, out);
  return out;
}

/**
 * Per request: feed it every generated token (`accept`), and pass `bias` as the sampler's token
 * bias. Undefined for a vocabulary whose bytes it cannot read (then nothing is banned).
 */
export class Utf8Guard {
  private state: State = BOUNDARY;
  private readonly bytesOf: Map<number, Uint8Array>;

  private constructor(
    private readonly nlc: Nlc,
    private readonly model: NLC.LlamaModel,
    private readonly vocab: VocabFacts,
  ) {
    this.bytesOf = new Map(vocab.risky.map((r) => [r.token as number, r.bytes]));
  }

  static for(nlc: Nlc, model: NLC.LlamaModel): Utf8Guard | undefined {
    const v = vocabFacts(model);
    return v ? new Utf8Guard(nlc, model, v) : undefined;
  }

  /** The bias for the next token: every risky token that would make the output ill-formed is banned. */
  readonly bias = (): NLC.TokenBias => {
    const key = `${this.state.need}:${this.state.lo}:${this.state.hi}`;
    let b = this.vocab.biases.get(key);
    if (!b) {
      b = new this.nlc.TokenBias(this.model.tokenizer);
      for (const r of this.vocab.risky) if (!stepAll(this.state, r.bytes)) b.set(r.token, "never");
      this.vocab.biases.set(key, b);
    }
    return b;
  };

  accept(token: Token): void {
    const bytes = this.bytesOf.get(token as number);
    // Any other token is complete UTF-8 text: it starts and ends on a character boundary.
    this.state = bytes ? (stepAll(this.state, bytes) ?? BOUNDARY) : BOUNDARY;
  }
}

// SentencePiece-style ("llama") vocabularies for generated models. llama.cpp's SPM tokenizer
// starts from single UTF-8 characters and repeatedly merges the adjacent pair whose concatenation
// is a vocabulary token (best score first); characters left over fall back to <0xXX> byte tokens.
// So a word becomes one token only if every prefix of "▁word" is a token too: we add each word's
// prefix chain. Byte tokens for all 256 bytes are required: without them llama.cpp throws on the
// first character the vocabulary lacks.

/** llama.cpp token types (llama.h `llama_token_type`). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** The SentencePiece whitespace marker (U+2581). */
export const SPACE = "\u2581";

export interface SpmVocab {
  tokens: string[];
  scores: number[];
  types: number[];
  unk: number;
  bos: number;
  eos: number;
}

export class ModelShapeError extends Error {}

/** A growing vocabulary: specials, 256 byte tokens, "▁", then words with their prefix chains. */
export class VocabBuilder {
  readonly tokens: string[] = [];
  readonly scores: number[] = [];
  readonly types: number[] = [];
  private readonly index = new Map<string, number>();

  constructor() {
    this.push("<unk>", 0, TOKEN_TYPE.UNKNOWN);
    this.push("<s>", 0, TOKEN_TYPE.CONTROL);
    this.push("</s>", 0, TOKEN_TYPE.CONTROL);
    for (let b = 0; b < 256; b++) this.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, 0, TOKEN_TYPE.BYTE);
    this.push(SPACE, -1, TOKEN_TYPE.NORMAL);
  }

  get size(): number {
    return this.tokens.length;
  }

  has(text: string): boolean {
    return this.index.has(text);
  }

  id(text: string): number {
    const id = this.index.get(text);
    if (id === undefined) throw new Error(`token '${text}' is not in the vocabulary`);
    return id;
  }

  private push(text: string, score: number, type: number): number {
    const id = this.tokens.length;
    this.tokens.push(text);
    this.scores.push(score);
    this.types.push(type);
    this.index.set(text, id);
    return id;
  }

  /**
   * Adds "▁word" (or `word` as is when `spacePrefix` is false) and every shorter prefix of it, so
   * the SPM tokenizer can build it; returns the word's token id. `limit` stops adding at that size.
   */
  addWord(word: string, spacePrefix = true, limit = Infinity): number | undefined {
    const full = spacePrefix ? SPACE + word : word;
    const chars = Array.from(full);
    let id: number | undefined;
    for (let n = 2; n <= chars.length; n++) {
      const piece = chars.slice(0, n).join("");
      const existing = this.index.get(piece);
      if (existing !== undefined) {
        id = existing;
        continue;
      }
      if (this.tokens.length >= limit) return undefined;
      // Longer pieces score higher, so where two merges compete the longer token wins.
      id = this.push(piece, -1000 + n, TOKEN_TYPE.NORMAL);
    }
    return id;
  }

  build(): SpmVocab {
    return { tokens: [...this.tokens], scores: [...this.scores], types: [...this.types], unk: 0, bos: 1, eos: 2 };
  }
}

/** Refuses a vocabulary llama.cpp could not use, saying which token is missing. */
export function validateVocab(v: SpmVocab): void {
  const need: [string, number, number][] = [
    ["<unk>", v.unk, TOKEN_TYPE.UNKNOWN],
    ["<s>", v.bos, TOKEN_TYPE.CONTROL],
    ["</s>", v.eos, TOKEN_TYPE.CONTROL],
  ];
  for (const [text, id, type] of need) {
    if (v.tokens[id] !== text || v.types[id] !== type) {
      throw new ModelShapeError(
        `the vocabulary lacks the required special token ${text} (expected at id ${id}); a llama (SentencePiece) vocabulary needs <unk>, <s> and </s>`,
      );
    }
  }
  const all = new Set(v.tokens);
  if (!all.has(SPACE)) throw new ModelShapeError(`the vocabulary lacks the "${SPACE}" (U+2581) space token that SentencePiece text needs`);
  for (let b = 0; b < 256; b++) {
    const t = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
    if (!all.has(t)) throw new ModelShapeError(`the vocabulary lacks the byte token ${t}; llama.cpp needs all 256 byte-fallback tokens`);
  }
  if (v.scores.length !== v.tokens.length || v.types.length !== v.tokens.length) {
    throw new ModelShapeError(`the vocabulary has ${v.tokens.length} tokens but ${v.scores.length} scores and ${v.types.length} token types`);
  }
  if (all.size !== v.tokens.length) throw new ModelShapeError("the vocabulary has duplicate tokens");
}

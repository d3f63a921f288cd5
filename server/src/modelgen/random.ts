// Random-weight llama models of any size, for engine benchmarks that need a realistic file
// (e.g. ≥ 50 MB). The text they produce is gibberish but deterministic under greedy decoding.
import fs from "node:fs";
import path from "node:path";
import type { QuantName } from "../gguf/quant";
import { buildLlamaGguf, validateShape, type LlamaHParams, type LlamaWeights } from "./llama";
import { Prng } from "./prng";
import { ModelShapeError, VocabBuilder, type SpmVocab } from "./vocab";

export interface RandomLlamaDims {
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** Defaults to nHead. */
  nHeadKv?: number;
  nFf: number;
  vocabSize: number;
  type: QuantName;
  /** Defaults to 2048. */
  nCtx?: number;
  /** Defaults to 1. */
  seed?: number;
}

const SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "an", "el", "or", "qu", "th", "st", "ph", "ch", "ly", "ea", "io"];
const ENGLISH = `the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part`.split(" ");

/** A SentencePiece-style vocabulary of exactly `size` tokens: specials, bytes, "▁", words. */
export function randomVocab(size: number): SpmVocab {
  const v = new VocabBuilder();
  if (size < v.size + 1) throw new ModelShapeError(`vocabSize ${size} is too small: a llama vocabulary needs at least ${v.size + 1} tokens (specials, 256 bytes, "▁" and one word)`);
  for (const w of ENGLISH) {
    if (v.addWord(w, true, size) === undefined) return v.build();
    if (v.addWord(w[0]!.toUpperCase() + w.slice(1), true, size) === undefined) return v.build();
  }
  // Then pseudo-words of 2..4 syllables until the vocabulary is full.
  for (let n = 0; v.size < size; n++) {
    let word = "";
    let k = n;
    do {
      word += SYLLABLES[k % SYLLABLES.length];
      k = Math.floor(k / SYLLABLES.length);
    } while (k > 0);
    v.addWord(word, true, size);
  }
  return v.build();
}

function fill(n: number, rng: Prng, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(scale);
  return a;
}

function ones(n: number, rng: Prng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = 1 + rng.uniform(0.05);
  return a;
}

/** Writes a random llama GGUF to `file` (parent folders created); returns its size in bytes. */
export function writeRandomLlama(file: string, dims: RandomLlamaDims): number {
  const hp: LlamaHParams = {
    name: `driftlens-random-${dims.nEmbd}x${dims.nLayer}`,
    nEmbd: dims.nEmbd,
    nLayer: dims.nLayer,
    nHead: dims.nHead,
    nHeadKv: dims.nHeadKv ?? dims.nHead,
    nFf: dims.nFf,
    nCtx: dims.nCtx ?? 2048,
    ropeFreqBase: 10000,
    rmsEps: 1e-5,
  };
  validateShape(hp, undefined, dims.type);
  const vocab = randomVocab(dims.vocabSize);
  const rng = new Prng(dims.seed ?? 1);
  const e = hp.nEmbd;
  const kv = (e / hp.nHead) * hp.nHeadKv;
  const s = 1 / Math.sqrt(e);
  const w: LlamaWeights = {
    tokenEmbd: fill(e * dims.vocabSize, rng, 1),
    outputNorm: ones(e, rng),
    output: fill(e * dims.vocabSize, rng, s * 4),
    layers: Array.from({ length: hp.nLayer }, () => ({
      attnNorm: ones(e, rng),
      wq: fill(e * e, rng, s),
      wk: fill(e * kv, rng, s),
      wv: fill(e * kv, rng, s),
      wo: fill(e * e, rng, s),
      ffnNorm: ones(e, rng),
      ffnGate: fill(e * hp.nFf, rng, s),
      ffnUp: fill(e * hp.nFf, rng, s),
      ffnDown: fill(hp.nFf * e, rng, 1 / Math.sqrt(hp.nFf)),
    })),
  };
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const g = buildLlamaGguf(hp, vocab, w, dims.type);
  g.write(file);
  return fs.statSync(file).size;
}

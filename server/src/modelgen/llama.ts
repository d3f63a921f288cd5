// Writes llama-architecture GGUF files from F32 weights: the metadata llama.cpp requires, the
// tokenizer, and every tensor encoded in the requested type. Matrices (token embeddings, attention,
// FFN, output) take the file's type; norms stay F32, as llama.cpp's own quantizer leaves them.
import { GgufWriter } from "../gguf/writer";
import { QUANT_TYPE, quantize, type QuantName } from "../gguf/quant";
import { ModelShapeError, validateVocab, type SpmVocab } from "./vocab";

export { ModelShapeError };

export interface LlamaHParams {
  name: string;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  nCtx: number;
  ropeFreqBase: number;
  rmsEps: number;
}

export interface LlamaLayerWeights {
  attnNorm: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  ffnNorm: Float32Array;
  ffnGate: Float32Array;
  ffnUp: Float32Array;
  ffnDown: Float32Array;
}

/** Row-major F32 weights; a matrix with ggml shape [ne0, ne1] holds ne1 rows of ne0 values. */
export interface LlamaWeights {
  tokenEmbd: Float32Array;
  outputNorm: Float32Array;
  output: Float32Array;
  layers: LlamaLayerWeights[];
}

/** llama.cpp `llama_ftype` for each file type we write. */
export const LLAMA_FILE_TYPE: Record<QuantName, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 };

/** Throws ModelShapeError with a clear reason when llama.cpp could not load such a model. */
export function validateShape(hp: LlamaHParams, vocab: SpmVocab | undefined, type: QuantName): void {
  const pos = (n: number, what: string) => {
    if (!Number.isInteger(n) || n <= 0) throw new ModelShapeError(`${what} must be a positive integer, not ${n}`);
  };
  pos(hp.nEmbd, "nEmbd");
  pos(hp.nLayer, "nLayer");
  pos(hp.nHead, "nHead");
  pos(hp.nHeadKv, "nHeadKv");
  pos(hp.nFf, "nFf");
  pos(hp.nCtx, "nCtx");
  if (hp.nEmbd % hp.nHead !== 0) {
    throw new ModelShapeError(`${hp.nHead} heads do not divide the embedding size ${hp.nEmbd}: choose a head count that divides nEmbd`);
  }
  if (hp.nHead % hp.nHeadKv !== 0) throw new ModelShapeError(`${hp.nHeadKv} KV heads do not divide the ${hp.nHead} query heads`);
  if ((hp.nEmbd / hp.nHead) % 2 !== 0) throw new ModelShapeError(`the head size ${hp.nEmbd / hp.nHead} must be even for RoPE`);
  if (type === "Q8_0" || type === "Q4_0") {
    if (hp.nEmbd % 32 !== 0 || hp.nFf % 32 !== 0) {
      throw new ModelShapeError(`${type} stores blocks of 32 values per row: nEmbd (${hp.nEmbd}) and nFf (${hp.nFf}) must be multiples of 32`);
    }
  }
  if (vocab) validateVocab(vocab);
}

function expectLength(name: string, a: Float32Array, n: number): void {
  if (a.length !== n) throw new ModelShapeError(`tensor ${name} has ${a.length} values, expected ${n}`);
}

/** Builds the GGUF (metadata + tensors) for a llama model in the given type. */
export function buildLlamaGguf(hp: LlamaHParams, vocab: SpmVocab, w: LlamaWeights, type: QuantName): GgufWriter {
  validateShape(hp, vocab, type);
  const nVocab = vocab.tokens.length;
  const headDim = hp.nEmbd / hp.nHead;
  const nEmbdKv = headDim * hp.nHeadKv;
  const g = new GgufWriter();
  g.set("general.architecture", "string", "llama");
  g.set("general.type", "string", "model");
  g.set("general.name", "string", hp.name);
  g.set("general.file_type", "u32", LLAMA_FILE_TYPE[type]);
  g.set("general.quantization_version", "u32", 2);
  g.set("general.alignment", "u32", 32);
  g.set("llama.vocab_size", "u32", nVocab);
  g.set("llama.context_length", "u32", hp.nCtx);
  g.set("llama.embedding_length", "u32", hp.nEmbd);
  g.set("llama.block_count", "u32", hp.nLayer);
  g.set("llama.feed_forward_length", "u32", hp.nFf);
  g.set("llama.rope.dimension_count", "u32", headDim);
  g.set("llama.rope.freq_base", "f32", hp.ropeFreqBase);
  g.set("llama.attention.head_count", "u32", hp.nHead);
  g.set("llama.attention.head_count_kv", "u32", hp.nHeadKv);
  g.set("llama.attention.layer_norm_rms_epsilon", "f32", hp.rmsEps);
  g.set("tokenizer.ggml.model", "string", "llama");
  g.setArray("tokenizer.ggml.tokens", "string", vocab.tokens);
  g.setArray("tokenizer.ggml.scores", "f32", vocab.scores);
  g.setArray("tokenizer.ggml.token_type", "i32", vocab.types);
  g.set("tokenizer.ggml.unknown_token_id", "u32", vocab.unk);
  g.set("tokenizer.ggml.bos_token_id", "u32", vocab.bos);
  g.set("tokenizer.ggml.eos_token_id", "u32", vocab.eos);
  g.set("tokenizer.ggml.add_bos_token", "bool", true);
  g.set("tokenizer.ggml.add_eos_token", "bool", false);
  g.set("tokenizer.ggml.add_space_prefix", "bool", true);

  const mat = (name: string, a: Float32Array, ne0: number, ne1: number) => {
    expectLength(name, a, ne0 * ne1);
    g.addTensor(name, [ne0, ne1], QUANT_TYPE[type], quantize(type, a));
  };
  const vec = (name: string, a: Float32Array, n: number) => {
    expectLength(name, a, n);
    g.addTensor(name, [n], QUANT_TYPE.F32, quantize("F32", a));
  };
  if (w.layers.length !== hp.nLayer) throw new ModelShapeError(`${w.layers.length} layers of weights for nLayer ${hp.nLayer}`);
  mat("token_embd.weight", w.tokenEmbd, hp.nEmbd, nVocab);
  vec("output_norm.weight", w.outputNorm, hp.nEmbd);
  mat("output.weight", w.output, hp.nEmbd, nVocab);
  w.layers.forEach((l, i) => {
    const p = `blk.${i}.`;
    vec(p + "attn_norm.weight", l.attnNorm, hp.nEmbd);
    mat(p + "attn_q.weight", l.wq, hp.nEmbd, hp.nEmbd);
    mat(p + "attn_k.weight", l.wk, hp.nEmbd, nEmbdKv);
    mat(p + "attn_v.weight", l.wv, hp.nEmbd, nEmbdKv);
    mat(p + "attn_output.weight", l.wo, hp.nEmbd, hp.nEmbd);
    vec(p + "ffn_norm.weight", l.ffnNorm, hp.nEmbd);
    mat(p + "ffn_gate.weight", l.ffnGate, hp.nEmbd, hp.nFf);
    mat(p + "ffn_up.weight", l.ffnUp, hp.nEmbd, hp.nFf);
    mat(p + "ffn_down.weight", l.ffnDown, hp.nFf, hp.nEmbd);
  });
  return g;
}

/** One LoRA pair: A has ggml shape [nIn, rank], B [rank, nOut] (both row-major F32). */
export interface LoraPair {
  /** The base tensor it adapts, e.g. "output.weight". */
  target: string;
  rank: number;
  nIn: number;
  nOut: number;
  a: Float32Array;
  b: Float32Array;
}

/** A LoRA adapter GGUF as llama.cpp's convert_lora_to_gguf.py writes it (F32 pairs). */
export function buildLoraGguf(opts: { name: string; alpha: number; pairs: LoraPair[] }): GgufWriter {
  const g = new GgufWriter();
  g.set("general.architecture", "string", "llama");
  g.set("general.type", "string", "adapter");
  g.set("general.name", "string", opts.name);
  g.set("general.alignment", "u32", 32);
  g.set("adapter.type", "string", "lora");
  g.set("adapter.lora.alpha", "f32", opts.alpha);
  for (const p of opts.pairs) {
    expectLength(`${p.target}.lora_a`, p.a, p.nIn * p.rank);
    expectLength(`${p.target}.lora_b`, p.b, p.rank * p.nOut);
    g.addTensor(`${p.target}.lora_a`, [p.nIn, p.rank], QUANT_TYPE.F32, quantize("F32", p.a));
    g.addTensor(`${p.target}.lora_b`, [p.rank, p.nOut], QUANT_TYPE.F32, quantize("F32", p.b));
  }
  return g;
}

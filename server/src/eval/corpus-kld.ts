// `driftlens kld`: llama-perplexity's KL-divergence method on a text, without its logits file.
// The text is tokenized once with the reference's vocabulary (BOS first when the vocabulary adds
// one), cut into chunks of `ctx` tokens, the first token of each chunk replaced by BOS, and only
// the second half of each chunk scored (positions ctx/2 .. ctx−2, each predicting the next token),
// exactly as tools/perplexity/perplexity.cpp does. Both models evaluate one chunk at a time in the
// engine worker, which returns per-position numbers; this side keeps running sums and one number
// per position for the percentiles, so memory does not grow with the vocabulary and barely with
// the text (8 bytes × 2 per scored token).
import type { CorpusTokens, DivergenceRequest, DivergenceResult, ExternalPosition, ModelSpec } from "../llm/types";
import { KldAccumulator, type KldStatistics } from "../stats/kld-stats";

export type ReferenceStorage = DivergenceRequest["storage"];

/** The engine calls corpus statistics make (EngineClient has them). */
export interface CorpusEngine {
  corpusTokens(modelPath: string, text: string): Promise<CorpusTokens>;
  divergence(req: DivergenceRequest, signal?: AbortSignal): Promise<DivergenceResult>;
}

/** A candidate known only by top-K log-probabilities per position (a remote server's prompt logprobs). */
export interface TopKCandidate {
  variant: string;
  /** Alternatives listed per position (K); K equal to the vocabulary makes the KL exact. */
  topK: number;
  /** Where the log-probabilities come from (shown in the report). */
  source?: string;
  /** The candidate's vocabulary size, when known: it must be the reference's. */
  nVocab?: number;
  /** Log-probabilities at the scored positions of one chunk (`tokens` is the chunk as sent). */
  positions(chunk: number, tokens: readonly number[], from: number, signal?: AbortSignal): Promise<ExternalPosition[]>;
}

export interface CorpusKldOptions {
  engine: CorpusEngine;
  reference: ModelSpec;
  variants: ModelSpec[];
  /** Top-K-only candidates (remote variants), compared with the same reference. */
  topK?: TopKCandidate[];
  text: string;
  /** Chunk length in tokens (llama-perplexity's -c; default 512). */
  ctx?: number;
  /** At most this many chunks (default: all that fit). */
  chunks?: number;
  storage?: ReferenceStorage;
  signal?: AbortSignal;
  onChunk?(done: number, total: number): void;
}

export interface CorpusVariantStats extends KldStatistics {
  variant: string;
  /** "full-vocabulary" for local models; "top-K" for candidates known only by their top-K. */
  method: "full-vocabulary" | "top-K";
  /** K, for the top-K method (KL over those ids plus one bucket for the rest: a lower bound). */
  topK?: number;
  /** Where a top-K candidate's log-probabilities came from. */
  source?: string;
}

export interface CorpusKldReport {
  /** Scored tokens (per variant). */
  tokens: number;
  chunks: number;
  ctx: number;
  reference: string;
  /** Tokens the whole text has (with BOS when the vocabulary adds one). */
  textTokens: number;
  vocab: number;
  storage: ReferenceStorage;
  variants: CorpusVariantStats[];
  /** Peak resident memory (bytes) of the engine process and of this one, at the end of the run. */
  memory: { enginePeakRssBytes: number; peakRssBytes: number };
}

export class CorpusKldError extends Error {}

/** llama-perplexity reads the text with `-f`, which drops one trailing newline. */
export function corpusText(raw: string): string {
  return raw.endsWith("\n") ? raw.slice(0, -1) : raw;
}

/** The chunks llama-perplexity evaluates: `ctx` tokens each, BOS first where the vocabulary adds one. */
export function corpusChunks(t: CorpusTokens, ctx: number, chunks?: number): { all: number[]; count: number; chunk(i: number): number[] } {
  const all = t.addBos && t.bos !== null ? [t.bos, ...t.tokens] : t.tokens;
  if (all.length < 2 * ctx) {
    throw new CorpusKldError(`the text has ${all.length} tokens; at least 2 × ctx = ${2 * ctx} are needed (as for llama-perplexity). Use a longer text or a smaller --ctx.`);
  }
  const max = Math.floor(all.length / ctx);
  const count = chunks === undefined ? max : Math.min(chunks, max);
  return {
    all,
    count,
    chunk(i: number): number[] {
      const c = all.slice(i * ctx, (i + 1) * ctx);
      if (t.addBos && t.bos !== null) c[0] = t.bos;
      return c;
    },
  };
}

/**
 * Chunks per batch: up to four (2048 / ctx at most, and what 16 MiB of reference slots allows at
 * this vocabulary). Four already takes most of the per-batch overhead off short chunks; wider
 * batches make llama.cpp touch more memory for attention (it grows with the batch's tokens times
 * its cells), which would make a short text's run smaller than a long one's.
 */
export function batchWidth(ctx: number, vocab: number | null): number {
  const bySlots = vocab ? Math.floor((16 * 1048576) / (vocab * 8 * 2 * 8)) : 4;
  return Math.max(1, Math.min(4, Math.floor(2048 / ctx), bySlots));
}

export async function corpusKld(o: CorpusKldOptions): Promise<CorpusKldReport> {
  const ctx = o.ctx ?? 512;
  if (!Number.isInteger(ctx) || ctx < 4) throw new CorpusKldError(`ctx must be an integer ≥ 4, not ${ctx}`);
  if (o.chunks !== undefined && (!Number.isInteger(o.chunks) || o.chunks < 1)) throw new CorpusKldError(`chunks must be a positive integer, not ${o.chunks}`);
  const remote = o.topK ?? [];
  if (o.variants.length + remote.length === 0) throw new CorpusKldError("nothing to compare: give at least one variant besides the reference");
  const storage = o.storage ?? "exact";
  const text = corpusText(o.text);
  const toks = await o.engine.corpusTokens(o.reference.modelPath, text);
  const plan = corpusChunks(toks, ctx, o.chunks);
  for (const r of remote) {
    if (r.nVocab !== undefined && toks.vocab && r.nVocab !== toks.vocab) {
      throw new CorpusKldError(`${r.variant} has a vocabulary of ${r.nVocab} tokens and the reference ${o.reference.variant} one of ${toks.vocab}: KL divergence compares distributions over the same vocabulary, so compare variants of the same model`);
    }
  }
  const first = Math.floor(ctx / 2);
  const acc = [...o.variants, ...remote].map(() => new KldAccumulator());
  let vocab = 0;
  let enginePeak = 0;
  // Several chunks per request, evaluated side by side in one batch (llama-perplexity puts
  // 2048 / ctx chunks in a batch). Always the same width for a given model and ctx, so the memory
  // llama.cpp touches for a batch does not depend on how many chunks are scored.
  const perBatch = batchWidth(ctx, toks.vocab);
  for (let b = 0; b < plan.count; b += perBatch) {
    if (o.signal?.aborted) throw new CorpusKldError("cancelled");
    // A batch's chunks go to top-K candidates side by side, so a served variant's endpoints share them.
    const indices = Array.from({ length: Math.min(plan.count, b + perBatch) - b }, (_, j) => b + j);
    const sequences = await Promise.all(
      indices.map(async (i) => {
        const tokens = plan.chunk(i);
        const external = await Promise.all(remote.map(async (r) => ({ topK: r.topK, positions: await r.positions(i, tokens, first, o.signal) })));
        return { tokens, from: first, ...(external.length ? { external } : {}) };
      }),
    );
    const res = await o.engine.divergence({ id: `chunks ${b + 1}-${b + sequences.length}`, reference: o.reference, candidates: o.variants, sequences, contextSize: ctx, parallel: perBatch, storage }, o.signal);
    vocab = res.vocab;
    enginePeak = Math.max(enginePeak, res.peakRssBytes);
    for (const r of res.sequences) r.candidates.forEach((v, c) => acc[c]!.addValues(v, r.nllBase));
    o.onChunk?.(b + sequences.length, plan.count);
  }
  const variants: CorpusVariantStats[] = [
    ...o.variants.map((v, i) => ({ variant: v.variant, method: "full-vocabulary" as const, ...acc[i]!.summary() })),
    ...remote.map((r, i) => ({ variant: r.variant, method: "top-K" as const, topK: r.topK, ...(r.source ? { source: r.source } : {}), ...acc[o.variants.length + i]!.summary() })),
  ];
  return {
    tokens: variants[0]?.tokens ?? 0,
    chunks: plan.count,
    ctx,
    reference: o.reference.variant,
    textTokens: plan.all.length,
    vocab,
    storage,
    variants,
    memory: { enginePeakRssBytes: enginePeak, peakRssBytes: process.resourceUsage().maxRSS * 1024 },
  };
}

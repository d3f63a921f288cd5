// node-llama-cpp's side of a divergence run (llm/divergence-run.ts): the logits of every scored
// position through a context sequence's `controlledEvaluate` with `generateNext.logits: true`,
// node-llama-cpp's public way to see every logit. It hands them over one position at a time, as a
// Map (via `onTokenResult`, so each Map can go at once), which is copied into a Float32Array.
import type * as NLC from "node-llama-cpp" with { "resolution-mode": "import" };
import type { EvalItem, HeldModel } from "./divergence-run";
import { EngineError } from "./errors";
import type { ModelSpec } from "./types";

type Token = NLC.Token;

/**
 * Every logit node-llama-cpp hands over arrives as a JS array and a Map (about 50 bytes per
 * vocabulary entry), garbage as soon as it is read, along with native memory that only goes when
 * those objects are collected. From about 8,000 tokens (a position's array of 2 × vocabulary values
 * passes V8's 128 KB large-object size) they land in the large-object space, which only a full
 * collection frees, and V8 lets the heap grow before it does one. The worker runs with
 * --expose-gc: a full collection after roughly 100,000 such entries (about 5 MB of garbage; a few
 * ms of GC against the hundreds of ms it takes to produce them) keeps peak memory flat however
 * long the text is. Smaller vocabularies are young-generation garbage V8 frees on its own, but the
 * native memory still crept up (+7 to +11% over 64 chunks at 512 tokens without any full
 * collection); one every 250,000 entries keeps it flat (-2 to +2%) at about a fifth of the
 * collections, whose time had been a seventh of a 512-token corpus run at every 100,000.
 */
const LARGE_OBJECT_VOCAB = 8192;
const GC_EVERY_ENTRIES = 100_000;
const GC_EVERY_ENTRIES_SMALL_VOCAB = 250_000;
let garbageEntries = 0;

function collectGarbage(entries: number, vocab: number): void {
  garbageEntries += entries;
  if (garbageEntries < (vocab < LARGE_OBJECT_VOCAB ? GC_EVERY_ENTRIES_SMALL_VOCAB : GC_EVERY_ENTRIES)) return;
  garbageEntries = 0;
  (globalThis as { gc?: () => void }).gc?.();
}

/** Empties `seq` down to the part of `prefix` it already holds; returns the tokens left to evaluate. */
async function keepPrefix(seq: NLC.LlamaContextSequence, prefix: readonly Token[]): Promise<Token[]> {
  const { firstDifferentIndex } = seq.compareContextTokens(prefix as Token[]);
  const keep = Math.min(firstDifferentIndex, prefix.length);
  if (keep < seq.nextTokenIndex) {
    if (keep === 0) await seq.clearHistory();
    else await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
  }
  return prefix.slice(seq.nextTokenIndex);
}

/** A HeldModel over node-llama-cpp sequences of one context. */
export function nlcHeldModel(o: {
  seqs: NLC.LlamaContextSequence[];
  spec: ModelSpec;
  prompt: HeldModel["prompt"];
  vocab?: number;
  release(): void;
}): HeldModel {
  const scratch: Float32Array[] = [];
  const want = { generateNext: { logits: true as const } };
  return {
    prompt: o.prompt,
    ...(o.vocab !== undefined ? { vocab: o.vocab } : {}),
    release: o.release,
    async setPrefixes(prefixes) {
      // Cleared first, then evaluated for every sequence in the same tick: node-llama-cpp decodes
      // what is queued in one tick as one batch.
      const rests = await Promise.all(prefixes.map((p, i) => keepPrefix(o.seqs[i]!, p as readonly Token[])));
      await Promise.all(rests.map((rest, i) => (rest.length ? o.seqs[i]!.controlledEvaluate(rest) : undefined)));
    },
    async evaluate(items: readonly EvalItem[], onLogits) {
      let failure: unknown;
      let entries = 0;
      let vocab = 0;
      await Promise.all(
        items.map((it, x) =>
          o.seqs[it.seq]!.controlledEvaluate(
            it.tokens.map((t) => [t as Token, want]),
            {
              onTokenResult(j, r) {
                try {
                  const logits = r.next.logits;
                  if (!logits) {
                    throw new EngineError({ kind: "other", message: `llama.cpp returned no logits for ${o.spec.variant} at a scored position`, variant: o.spec.variant, file: o.spec.modelPath });
                  }
                  let out = scratch[x];
                  if (!out || out.length !== logits.size) out = scratch[x] = new Float32Array(logits.size);
                  for (const [t, l] of logits) out[t] = l;
                  r.next.logits = undefined;
                  entries += logits.size;
                  vocab = logits.size;
                  onLogits(x, j, out);
                } catch (err) {
                  failure ??= err;
                }
              },
            },
          ),
        ),
      );
      if (failure) throw failure;
      collectGarbage(entries, vocab);
    },
  };
}

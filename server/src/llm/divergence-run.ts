// Full-vocabulary divergence of candidate models from a reference on one token sequence (a corpus
// chunk of `driftlens kld`, or an eval case's prompt + forced output), computed inside the engine
// worker as the logits come out of llama.cpp. Only per-position numbers leave this function.
//
// Lockstep, so memory does not grow with the text: the reference and every candidate hold the
// sequence's unscored prefix, then the scored positions are evaluated in groups of G tokens —
// reference first (its distributions go into G reusable slots of DivergenceMath), then each
// candidate on the same G tokens, compared slot by slot. The largest thing alive is G × vocabulary
// values, plus the one logits Map node-llama-cpp hands over per position (dropped as soon as it is
// read). node-llama-cpp's public way to see every logit is `controlledEvaluate` with
// `generateNext.logits: true`; its `onTokenResult` callback lets each position's Map be consumed
// and released before the next one arrives.
import type * as NLC from "node-llama-cpp" with { "resolution-mode": "import" };
import { EngineError } from "./errors";
import { DivergenceMath, type PositionValues } from "./position-divergence";
import type { ChatMessage, DivergenceRequest, DivergenceResult, ModelSpec } from "./types";

type Token = NLC.Token;

/** What the engine lends a divergence run: a pinned model with a free sequence of a context of the asked size. */
export interface HeldSequence {
  seq: NLC.LlamaContextSequence;
  /** The prompt tokens of `messages` with this model's template (eval cases). */
  prompt(messages: ChatMessage[]): Token[];
  /** Vocabulary size from the model's metadata, when it says. */
  vocab?: number;
  release(): void;
}

export interface DivergenceHost {
  /** `copy` numbers the holds of the same model and adapters in one request (each needs its own sequence). */
  hold(spec: ModelSpec, contextSize: number, copy: number): Promise<HeldSequence>;
  log?(line: string): void;
}

/** Reference slots: about 16 MiB of stored distributions, between 4 and 128 positions per group. */
export function groupSize(vocab: number, bytesPerValue: number): number {
  return Math.max(4, Math.min(128, Math.floor((16 * 1048576) / (vocab * bytesPerValue))));
}

function push(dst: DivergenceResult["candidates"][number], v: PositionValues): void {
  dst.kld.push(v.kld);
  dst.dp.push(v.dp);
  dst.nll.push(v.nll);
  dst.sameTop.push(v.sameTop);
}

/**
 * Every logit node-llama-cpp hands over arrives as a JS array and a Map (about 50 bytes per
 * vocabulary entry), garbage as soon as it is read; for large vocabularies these land in V8's
 * large-object space, which only a full collection frees, and V8 lets the heap grow before it
 * does one. The worker runs with --expose-gc: a full collection after roughly 1 M such entries
 * (about 50 MB of garbage; a few ms of GC against seconds of evaluation at that vocabulary size)
 * keeps peak memory flat however long the text is.
 */
const GC_EVERY_ENTRIES = 1_000_000;
let garbageEntries = 0;

function collectGarbage(entries: number): void {
  garbageEntries += entries;
  if (garbageEntries < GC_EVERY_ENTRIES) return;
  garbageEntries = 0;
  (globalThis as { gc?: () => void }).gc?.();
}

function finish(out: DivergenceResult, t0: number): DivergenceResult {
  out.wallMs = performance.now() - t0;
  out.peakRssBytes = process.resourceUsage().maxRSS * 1024;
  return out;
}

function fail(message: string, spec?: ModelSpec): never {
  throw new EngineError({ kind: "other", message, ...(spec ? { variant: spec.variant, file: spec.modelPath } : {}) });
}

/** Makes the sequence hold exactly `tokens[0..keepTo)` (reusing what it already holds) and evaluates the rest of that prefix. */
async function holdPrefix(seq: NLC.LlamaContextSequence, tokens: Token[], keepTo: number): Promise<void> {
  const { firstDifferentIndex } = seq.compareContextTokens(tokens.slice(0, keepTo));
  const keep = Math.min(firstDifferentIndex, keepTo);
  if (keep < seq.nextTokenIndex) {
    if (keep === 0) await seq.clearHistory();
    else await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
  }
  const rest = tokens.slice(seq.nextTokenIndex, keepTo);
  if (rest.length) await seq.controlledEvaluate(rest);
}

export async function runDivergence(host: DivergenceHost, req: DivergenceRequest, signal?: AbortSignal): Promise<DivergenceResult> {
  const t0 = performance.now();
  const specs = [req.reference, ...req.candidates];
  const held: HeldSequence[] = [];
  try {
    const seen = new Map<string, number>();
    for (const s of specs) {
      const k = JSON.stringify([s.modelPath, s.adapters]);
      const copy = seen.get(k) ?? 0;
      seen.set(k, copy + 1);
      held.push(await host.hold(s, req.contextSize, copy));
    }
    const refVocab = held[0]!.vocab;
    for (let c = 1; c < held.length; c++) {
      const v = held[c]!.vocab;
      if (refVocab !== undefined && v !== undefined && v !== refVocab) {
        fail(`Variant ${specs[c]!.variant} has a vocabulary of ${v} tokens but the reference ${req.reference.variant} has ${refVocab}: KL divergence compares distributions over the same vocabulary.`, specs[c]);
      }
    }
    let tokens: Token[];
    let from: number;
    if (req.tokens) {
      tokens = req.tokens as Token[];
      from = req.from ?? 0;
    } else {
      if (!req.messages || !req.forced) fail(`divergence request ${req.id} needs either tokens or messages with forced tokens`);
      const prompt = held[0]!.prompt(req.messages);
      if (prompt.length === 0) fail(`Cannot score ${req.id}: the prompt is empty and ${req.reference.modelPath} has no BOS token.`, req.reference);
      for (let c = 1; c < held.length; c++) {
        const p = held[c]!.prompt(req.messages);
        if (p.length !== prompt.length || p.some((t, i) => t !== prompt[i])) {
          fail(`Variant ${specs[c]!.variant} renders case ${req.id} to other prompt tokens than the reference ${req.reference.variant}: KL divergence needs both models to read the same tokens (same vocabulary and chat template).`, specs[c]);
        }
      }
      tokens = [...prompt, ...(req.forced as Token[])];
      from = prompt.length - 1;
    }
    if (refVocab !== undefined) {
      const bad = tokens.find((t) => !(t >= 0 && t < refVocab));
      if (bad !== undefined) fail(`${req.id}: token ${bad} is outside the vocabulary of ${refVocab} tokens of ${req.reference.variant}`, req.reference);
    }
    const last = tokens.length - 2;
    const n = Math.max(0, last - from + 1);
    if (from < 0) fail(`divergence request ${req.id}: the first scored position must be ≥ 0, not ${from}`);
    if (last + 1 > req.contextSize - 1) {
      fail(`${req.id}: ${last + 1} tokens to evaluate do not fit a context of ${req.contextSize} tokens (variant ${req.reference.variant}). Raise the context size.`, req.reference);
    }
    const external = req.external ?? [];
    for (const e of external) {
      if (e.positions.length !== n) fail(`${req.id}: a top-K candidate gives ${e.positions.length} positions where ${n} are scored`);
    }
    const out: DivergenceResult = {
      id: req.id,
      positions: n,
      nllBase: [],
      candidates: [...req.candidates, ...external].map(() => ({ kld: [], dp: [], nll: [], sameTop: [] })),
      vocab: 0,
      wallMs: 0,
      peakRssBytes: 0,
    };
    if (n === 0) return finish(out, t0);
    for (const h of held) await holdPrefix(h.seq, tokens, from);

    let math: DivergenceMath | undefined;
    let scratch: Float32Array | undefined;
    let G = 1;
    const want = { generateNext: { logits: true as const } };
    // Fills `scratch` from a position's logits Map; the Map is dropped by the caller right after.
    const read = (logits: Map<Token, number> | undefined, spec: ModelSpec): Float32Array => {
      if (!logits) fail(`llama.cpp returned no logits for ${spec.variant} at a scored position`, spec);
      if (!math) {
        const vocab = logits.size;
        const bytes = req.storage === "llama16" ? 2 : 8;
        G = groupSize(vocab, bytes);
        math = new DivergenceMath(vocab, G, req.storage);
        scratch = new Float32Array(vocab);
        out.vocab = vocab;
      }
      if (logits.size !== math.vocab) {
        fail(`Variant ${spec.variant} has a vocabulary of ${logits.size} tokens but the reference ${req.reference.variant} has ${math.vocab}: KL divergence compares distributions over the same vocabulary.`, spec);
      }
      for (const [t, l] of logits) scratch![t] = l;
      return scratch!;
    };

    for (let start = from; start <= last; ) {
      if (signal?.aborted) throw new EngineError({ kind: "cancelled", message: `Cancelled while scoring ${req.id}.`, variant: req.reference.variant, file: req.reference.modelPath });
      const end = Math.min(last + 1, start + (math ? G : 1));
      const group = tokens.slice(start, end);
      let failure: unknown;
      // Reference: store each position's distribution in slot (k − start).
      await held[0]!.seq.controlledEvaluate(
        group.map((t) => [t, want]),
        {
          onTokenResult(i, o) {
            try {
              const k = start + i;
              const logits = read(o.next.logits, req.reference);
              o.next.logits = undefined;
              math!.setReference(i, logits, tokens[k + 1]!);
              out.nllBase.push(math!.referenceNll(i));
              for (let e = 0; e < external.length; e++) push(out.candidates[req.candidates.length + e]!, math!.compareTopK(i, external[e]!.positions[k - from]!));
            } catch (err) {
              failure ??= err;
            }
          },
        },
      );
      if (failure) throw failure;
      collectGarbage(group.length * math!.vocab);
      for (let c = 1; c < held.length; c++) {
        const dst = out.candidates[c - 1]!;
        await held[c]!.seq.controlledEvaluate(
          group.map((t) => [t, want]),
          {
            onTokenResult(i, o) {
              try {
                const logits = read(o.next.logits, specs[c]!);
                o.next.logits = undefined;
                push(dst, math!.compare(i, logits));
              } catch (err) {
                failure ??= err;
              }
            },
          },
        );
        if (failure) throw failure;
        collectGarbage(group.length * math!.vocab);
      }
      start = end;
    }
    return finish(out, t0);
  } finally {
    for (const h of held) h.release();
  }
}

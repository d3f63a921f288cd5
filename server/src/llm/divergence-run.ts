// Full-vocabulary divergence of candidate models from a reference on token sequences (corpus
// chunks of `driftlens kld`, or eval cases' prompt + forced output), computed inside the engine
// worker as the logits come out of llama.cpp. Only per-position numbers leave this function.
//
// Lockstep, so memory does not grow with the text: the reference and every candidate hold each
// sequence's unscored prefix, then the scored positions are evaluated in groups of G tokens —
// reference first (its distributions go into reusable slots of DivergenceMath), then each
// candidate on the same tokens, compared slot by slot. The sequences of a request sit side by side
// in one context per model and every evaluation step is issued for all of them in the same tick,
// so node-llama-cpp decodes them in one batch (llama-perplexity's several chunks per batch) and
// the batches — hence the numbers — do not depend on timing. The largest things alive are the
// slots (about 16 MiB) and the one logits Map node-llama-cpp hands over per position, dropped as
// soon as it is read: `controlledEvaluate` with `generateNext.logits: true` is node-llama-cpp's
// public way to see every logit, and its `onTokenResult` callback lets each Map go at once.
import type * as NLC from "node-llama-cpp" with { "resolution-mode": "import" };
import { EngineError } from "./errors";
import { DivergenceMath, type PositionValues } from "./position-divergence";
import type { ChatMessage, DivergenceRequest, DivergenceResult, DivergenceSequenceResult, DivergenceValues, ModelSpec } from "./types";

type Token = NLC.Token;

/** What the engine lends a divergence run: a pinned model with free sequences of one context. */
export interface HeldModel {
  seqs: NLC.LlamaContextSequence[];
  /** The prompt tokens of `messages` with this model's template (eval cases). */
  prompt(messages: ChatMessage[]): Token[];
  /** Vocabulary size from the model's metadata, when it says. */
  vocab?: number;
  release(): void;
}

export interface DivergenceHost {
  /**
   * `count` sequences of one context of `contextSize` tokens each; `copy` numbers the holds of
   * the same model and adapters in one request (each needs its own context).
   */
  hold(spec: ModelSpec, contextSize: number, count: number, copy: number): Promise<HeldModel>;
}

/** Reference slots per sequence: about 16 MiB of stored distributions in all, 4 to 128 positions. */
export function groupSize(vocab: number, bytesPerValue: number, sequences = 1): number {
  return Math.max(4, Math.min(128, Math.floor((16 * 1048576) / (vocab * bytesPerValue * Math.max(1, sequences)))));
}

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

function collectGarbage(positions: number, vocab: number): void {
  garbageEntries += positions * vocab;
  if (garbageEntries < (vocab < LARGE_OBJECT_VOCAB ? GC_EVERY_ENTRIES_SMALL_VOCAB : GC_EVERY_ENTRIES)) return;
  garbageEntries = 0;
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * One set of reference slots kept between requests (a corpus is many requests of the same shape):
 * reallocating tens of MB of typed arrays per request would leave the garbage collector behind.
 */
let spare: DivergenceMath | undefined;

function takeMath(vocab: number, slots: number, storage: DivergenceRequest["storage"]): DivergenceMath {
  const m = spare;
  if (m && m.vocab === vocab && m.slots === slots && m.storage === storage) {
    spare = undefined;
    return m;
  }
  return new DivergenceMath(vocab, slots, storage);
}

function push(dst: DivergenceValues, v: PositionValues): void {
  dst.kld.push(v.kld);
  dst.dp.push(v.dp);
  dst.nll.push(v.nll);
  dst.sameTop.push(v.sameTop);
}

function fail(message: string, spec?: ModelSpec): never {
  throw new EngineError({ kind: "other", message, ...(spec ? { variant: spec.variant, file: spec.modelPath } : {}) });
}

/** Empties `seq` down to the part of `prefix` it already holds; returns the tokens left to evaluate. */
async function keepPrefix(seq: NLC.LlamaContextSequence, prefix: Token[]): Promise<Token[]> {
  const { firstDifferentIndex } = seq.compareContextTokens(prefix);
  const keep = Math.min(firstDifferentIndex, prefix.length);
  if (keep < seq.nextTokenIndex) {
    if (keep === 0) await seq.clearHistory();
    else await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
  }
  return prefix.slice(seq.nextTokenIndex);
}

interface Planned {
  tokens: Token[];
  from: number;
  /** Scored positions: from..tokens.length − 2. */
  n: number;
  external: NonNullable<DivergenceRequest["sequences"][number]["external"]>;
  out: DivergenceSequenceResult;
}

/** The token sequences of the request, checked. */
function plan(req: DivergenceRequest, held: HeldModel[], specs: ModelSpec[]): Planned[] {
  const refVocab = held[0]!.vocab;
  return req.sequences.map((s, si) => {
    let tokens: Token[];
    let from: number;
    if (s.tokens) {
      tokens = s.tokens as Token[];
      from = s.from ?? 0;
    } else {
      if (!s.messages || !s.forced) fail(`divergence request ${req.id}: sequence ${si + 1} needs either tokens or messages with forced tokens`);
      const prompt = held[0]!.prompt(s.messages);
      if (prompt.length === 0) fail(`Cannot score ${req.id}: the prompt is empty and ${req.reference.modelPath} has no BOS token.`, req.reference);
      for (let c = 1; c < held.length; c++) {
        const p = held[c]!.prompt(s.messages);
        if (p.length !== prompt.length || p.some((t, i) => t !== prompt[i])) {
          fail(`Variant ${specs[c]!.variant} renders ${req.id} to other prompt tokens than the reference ${req.reference.variant}: KL divergence needs both models to read the same tokens (same vocabulary and chat template).`, specs[c]);
        }
      }
      tokens = [...prompt, ...(s.forced as Token[])];
      from = prompt.length - 1;
    }
    if (refVocab !== undefined) {
      const bad = tokens.find((t) => !(t >= 0 && t < refVocab));
      if (bad !== undefined) fail(`${req.id}: token ${bad} is outside the vocabulary of ${refVocab} tokens of ${req.reference.variant}`, req.reference);
    }
    const n = Math.max(0, tokens.length - 1 - from);
    if (tokens.length - 1 > req.contextSize - 1) {
      fail(`${req.id}: ${tokens.length - 1} tokens to evaluate do not fit a context of ${req.contextSize} tokens (variant ${req.reference.variant}). Raise the context size.`, req.reference);
    }
    const external = s.external ?? [];
    for (const e of external) if (e.positions.length !== n) fail(`${req.id}: a top-K candidate gives ${e.positions.length} positions where ${n} are scored`);
    const out: DivergenceSequenceResult = { positions: n, nllBase: [], candidates: [...req.candidates, ...external].map(() => ({ kld: [], dp: [], nll: [], sameTop: [] })) };
    return { tokens, from, n, external, out };
  });
}

export async function runDivergence(host: DivergenceHost, req: DivergenceRequest, signal?: AbortSignal): Promise<DivergenceResult> {
  const t0 = performance.now();
  const specs = [req.reference, ...req.candidates];
  const S = req.sequences.length;
  // Contexts (and slots) sized for `parallel` sequences however many this request uses.
  const width = Math.max(S, req.parallel ?? S);
  const held: HeldModel[] = [];
  try {
    const seen = new Map<string, number>();
    for (const s of specs) {
      const k = JSON.stringify([s.modelPath, s.adapters]);
      const copy = seen.get(k) ?? 0;
      seen.set(k, copy + 1);
      held.push(await host.hold(s, req.contextSize, width, copy));
    }
    const refVocab = held[0]!.vocab;
    for (let c = 1; c < held.length; c++) {
      const v = held[c]!.vocab;
      if (refVocab !== undefined && v !== undefined && v !== refVocab) {
        fail(`Variant ${specs[c]!.variant} has a vocabulary of ${v} tokens but the reference ${req.reference.variant} has ${refVocab}: KL divergence compares distributions over the same vocabulary.`, specs[c]);
      }
    }
    const seqs = plan(req, held, specs);
    const result: DivergenceResult = { id: req.id, sequences: seqs.map((p) => p.out), vocab: 0, wallMs: 0, peakRssBytes: 0 };
    if (seqs.every((p) => p.n === 0)) return finish(result, t0);

    // Unscored prefixes: cleared first, then evaluated for every sequence in the same tick (one
    // batch per model); the models' contexts are independent, so they evaluate at the same time.
    await Promise.all(
      held.map(async (h) => {
        const rests = await Promise.all(seqs.map((p, i) => keepPrefix(h.seqs[i]!, p.tokens.slice(0, p.from))));
        await Promise.all(rests.map((rest, i) => (rest.length ? h.seqs[i]!.controlledEvaluate(rest) : undefined)));
      }),
    );

    const bytes = req.storage === "llama16" ? 2 : 8;
    // Two banks of G slots per sequence: the reference fills one while the candidates read the
    // other. At least four groups per sequence, so the two sides overlap for most of the work.
    const total = Math.max(...seqs.map((p) => p.n));
    const overlap = Math.max(8, Math.ceil(total / 4));
    let G = refVocab ? Math.min(overlap, total, groupSize(refVocab, bytes, 2 * width)) : 1;
    let math = refVocab ? takeMath(refVocab, 2 * G * width, req.storage) : undefined;
    if (math) result.vocab = math.vocab;
    const scratch: Float32Array[] = [];
    const want = { generateNext: { logits: true as const } };
    let failure: unknown;
    // Fills a scratch buffer from a position's logits Map; the Map is dropped by the caller.
    const read = (buf: number, logits: Map<Token, number> | undefined, spec: ModelSpec): Float32Array => {
      if (!logits) fail(`llama.cpp returned no logits for ${spec.variant} at a scored position`, spec);
      if (!math) {
        // No vocabulary size in the metadata: learnt from the first position (a group of one).
        G = Math.min(overlap, total, groupSize(logits.size, bytes, 2 * width));
        math = takeMath(logits.size, 2 * G * width, req.storage);
        result.vocab = math.vocab;
      }
      if (logits.size !== math.vocab) {
        fail(`Variant ${spec.variant} has a vocabulary of ${logits.size} tokens but the reference ${req.reference.variant} has ${math.vocab}: KL divergence compares distributions over the same vocabulary.`, spec);
      }
      const out = (scratch[buf] ??= new Float32Array(math.vocab));
      for (const [t, l] of logits) out[t] = l;
      return out;
    };
    /** Positions start..start+len of every sequence on model c; the reference stores into `bank`, candidates read it. */
    const evalGroup = async (c: number, start: number, len: number, bank: number): Promise<number> => {
      let entries = 0;
      await Promise.all(
        seqs.map((p, i) => {
          const a = p.from + start;
          const b = Math.min(p.from + p.n, a + len);
          if (a >= b) return undefined;
          entries += b - a;
          return held[c]!.seqs[i]!.controlledEvaluate(
            p.tokens.slice(a, b).map((t) => [t, want]),
            {
              onTokenResult(j, o) {
                try {
                  const logits = read(c * S + i, o.next.logits, specs[c]!);
                  o.next.logits = undefined;
                  const slot = (bank * width + i) * G + j;
                  const k = a + j;
                  if (c === 0) {
                    math!.setReference(slot, logits, p.tokens[k + 1]!);
                    p.out.nllBase.push(math!.referenceNll(slot));
                    p.external.forEach((e, x) => push(p.out.candidates[req.candidates.length + x]!, math!.compareTopK(slot, e.positions[k - p.from]!)));
                  } else push(p.out.candidates[c - 1]!, math!.compare(slot, logits));
                } catch (err) {
                  failure ??= err;
                }
              },
            },
          );
        }),
      );
      if (failure) throw failure;
      return entries;
    };

    // Pipelined: while the candidates evaluate group g against one bank, the reference evaluates
    // group g + 1 into the other (different contexts, so they run side by side).
    let start = 0;
    let bank = 0;
    let len = math ? G : 1;
    let refDone: Promise<number> | undefined = evalGroup(0, start, len, bank);
    while (refDone) {
      if (signal?.aborted) throw new EngineError({ kind: "cancelled", message: `Cancelled while scoring ${req.id}.`, variant: req.reference.variant, file: req.reference.modelPath });
      const entries = await refDone;
      const next = start + len;
      const nextLen = G;
      refDone = next < total ? evalGroup(0, next, nextLen, bank ^ 1) : undefined;
      // A failure of the reference's next group surfaces when it is awaited; keep it from being unhandled meanwhile.
      refDone?.catch(() => undefined);
      await Promise.all(held.slice(1).map((_, c) => evalGroup(c + 1, start, len, bank)));
      collectGarbage(entries * held.length, math?.vocab ?? 0);
      start = next;
      len = nextLen;
      bank ^= 1;
    }
    if (math) spare = math;
    return finish(result, t0);
  } finally {
    for (const h of held) h.release();
  }
}

function finish(out: DivergenceResult, t0: number): DivergenceResult {
  out.wallMs = performance.now() - t0;
  out.peakRssBytes = process.resourceUsage().maxRSS * 1024;
  return out;
}

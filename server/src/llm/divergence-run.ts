// Full-vocabulary divergence of candidate models from a reference on token sequences (corpus
// chunks of `driftlens kld`, or eval cases' prompt + forced output), computed inside the engine
// worker as the logits come out of llama.cpp. Only per-position numbers leave this function.
//
// Lockstep, so memory does not grow with the text: the reference and every candidate hold each
// sequence's unscored prefix, then the scored positions are evaluated in groups of G tokens —
// reference first (its distributions go into reusable slots of DivergenceMath), then each
// candidate on the same tokens, compared slot by slot. The sequences of a request sit side by side
// in one context per model and every evaluation step covers all of them, so llama.cpp decodes them
// in one batch (llama-perplexity's several chunks per batch) and the batches — hence the numbers —
// do not depend on timing. The largest things alive are the slots (about 16 MiB) and one group's
// logits.
//
// Where the logits come from is the host's business (HeldModel): node-llama-cpp's contexts, one
// position at a time (llm/engine.ts), or the bulk_logits addon, a whole group per call
// (llm/native/bulk-divergence.ts).
import { EngineError } from "./errors";
import { DivergenceMath, type PositionValues } from "./position-divergence";
import type { ChatMessage, DivergenceRequest, DivergenceResult, DivergenceSequenceResult, DivergenceValues, ModelSpec } from "./types";

type Token = number;

/** A group of tokens to evaluate on one sequence, after what it holds. */
export interface EvalItem {
  seq: number;
  tokens: readonly Token[];
}

/** What the host lends a divergence run: a model with `count` free sequences of one context. */
export interface HeldModel {
  /**
   * Makes each sequence i hold exactly prefixes[i]: keeps what it already holds of it, evaluates
   * the rest, all sequences in one batch (no logits wanted).
   */
  setPrefixes(prefixes: readonly (readonly Token[])[]): Promise<void>;
  /**
   * Evaluates each item after what its sequence holds, all in one batch, and calls onLogits for
   * every token in item order: the logits of the position after it (every vocabulary entry). The
   * array is only valid during the call.
   */
  evaluate(items: readonly EvalItem[], onLogits: (item: number, j: number, logits: ArrayLike<number>) => void): Promise<void>;
  /** The prompt tokens of `messages` with this model's template (eval cases). */
  prompt(messages: ChatMessage[]): Token[];
  /** Vocabulary size from the model's metadata, when it says. */
  vocab?: number;
  release(): void;
}

export interface DivergenceHost {
  /** Groups the scored positions of a sequence are cut into (default 4; at least 8 positions each). */
  readonly groups?: number;
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

    // Unscored prefixes, every sequence in one batch per model. The models' contexts are
    // independent, so they evaluate at the same time: the candidates take in their prefixes while
    // the reference takes in its own and then its first group (below).
    const prefixes = seqs.map((p) => p.tokens.slice(0, p.from));
    let candidatePrefixes: Promise<unknown> | undefined = Promise.all(held.slice(1).map((h) => h.setPrefixes(prefixes)));
    // Awaited before the candidates' first group; kept from being unhandled until then.
    candidatePrefixes.catch(() => undefined);

    const bytes = req.storage === "llama16" ? 2 : 8;
    // Two banks of G slots per sequence: the reference fills one while the candidates read the
    // other. Several groups per sequence (the host's choice), so the two sides overlap for most of
    // the work.
    const total = Math.max(...seqs.map((p) => p.n));
    const overlap = Math.max(8, Math.ceil(total / (host.groups ?? 4)));
    let G = refVocab ? Math.min(overlap, total, groupSize(refVocab, bytes, 2 * width)) : 1;
    let math = refVocab ? takeMath(refVocab, 2 * G * width, req.storage) : undefined;
    if (math) result.vocab = math.vocab;
    const vocabOf = (logits: ArrayLike<number>, spec: ModelSpec): DivergenceMath => {
      if (!math) {
        // No vocabulary size in the metadata: learnt from the first position (a group of one).
        G = Math.min(overlap, total, groupSize(logits.length, bytes, 2 * width));
        math = takeMath(logits.length, 2 * G * width, req.storage);
        result.vocab = math.vocab;
      }
      if (logits.length !== math.vocab) {
        fail(`Variant ${spec.variant} has a vocabulary of ${logits.length} tokens but the reference ${req.reference.variant} has ${math.vocab}: KL divergence compares distributions over the same vocabulary.`, spec);
      }
      return math;
    };
    /** Positions start..start+len of every sequence on model c; the reference stores into `bank`, candidates read it. */
    const evalGroup = async (c: number, start: number, len: number, bank: number): Promise<void> => {
      const items: (EvalItem & { p: Planned; a: number })[] = [];
      seqs.forEach((p, i) => {
        const a = p.from + start;
        const b = Math.min(p.from + p.n, a + len);
        if (a < b) items.push({ seq: i, tokens: p.tokens.slice(a, b), p, a });
      });
      if (!items.length) return;
      await held[c]!.evaluate(items, (x, j, logits) => {
        const { seq: i, p, a } = items[x]!;
        const m = vocabOf(logits, specs[c]!);
        const slot = (bank * width + i) * G + j;
        const k = a + j;
        if (c === 0) {
          m.setReference(slot, logits, p.tokens[k + 1]!);
          p.out.nllBase.push(m.referenceNll(slot));
          p.external.forEach((e, y) => push(p.out.candidates[req.candidates.length + y]!, m.compareTopK(slot, e.positions[k - p.from]!)));
        } else push(p.out.candidates[c - 1]!, m.compare(slot, logits));
      });
    };

    // Pipelined: while the candidates evaluate group g against one bank, the reference evaluates
    // group g + 1 into the other (different contexts, so they run side by side).
    let start = 0;
    let bank = 0;
    let len = math ? G : 1;
    let refDone: Promise<void> | undefined = held[0]!.setPrefixes(prefixes).then(() => evalGroup(0, start, len, bank));
    while (refDone) {
      if (signal?.aborted) throw new EngineError({ kind: "cancelled", message: `Cancelled while scoring ${req.id}.`, variant: req.reference.variant, file: req.reference.modelPath });
      await refDone;
      if (candidatePrefixes) {
        await candidatePrefixes;
        candidatePrefixes = undefined;
      }
      const next = start + len;
      const nextLen = G;
      refDone = next < total ? evalGroup(0, next, nextLen, bank ^ 1) : undefined;
      // A failure of the reference's next group surfaces when it is awaited; keep it from being unhandled meanwhile.
      refDone?.catch(() => undefined);
      await Promise.all(held.slice(1).map((_, c) => evalGroup(c + 1, start, len, bank)));
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

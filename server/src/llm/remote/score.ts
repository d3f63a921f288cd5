// Teacher forcing on a served model: the distribution at every position of a forced continuation,
// in the local engine's ScoreResult shape, so compare scores exactly the positions it scores
// locally. What each server offers:
// - llama-server: no prompt logprobs, so one /completion per position (prompt + forced prefix,
//   n_predict 1, n_probs M) with prompt caching, which evaluates only the one new token each time.
//   M is the whole vocabulary when it is small (≤ 1024 tokens: exact), else max(K, 160).
// - vLLM: `prompt_logprobs` on /v1/completions (top ≤ 20 per position plus the actual token), one
//   request per case.
// - Ollama and other OpenAI-compatible servers: logprobs for generated tokens only — no KL.
// A probability the server did not list (outside its top-M) is unknown but at most the smallest
// listed one; it is taken as min(that, the unlisted mass spread over the missing ids), so the KL
// of such a position is a lower bound, as the top-K tail bucket already makes it.
import type { ChatMessage, ExternalPosition, ScoredPosition, ScoreRequest, ScoreResult } from "../types";
import { completionText } from "../completion-text";
import { openAiMessages, llamaLora, llamaPromptTokens, type CallContext } from "./generate";
import { RemoteError, requestJson } from "./http";

/** vLLM's default --max-logprobs: the most alternatives it returns per position. */
export const VLLM_MAX_PROMPT_LOGPROBS = 20;
const FULL_VOCAB_LIMIT = 1024;
const WIDE_TOP = 160;

/** This server cannot give prompt logprobs: no KL for the variant, the rest of compare goes on. */
export class KldUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KldUnavailableError";
  }
}

/** The alternatives asked of llama-server per position: the whole vocabulary when small, else max(K, 160). */
function llamaTopM(nVocab: number | undefined, topK: number): number {
  return nVocab !== undefined && nVocab <= FULL_VOCAB_LIMIT ? nVocab : Math.max(topK, WIDE_TOP);
}

/** How a served variant's KL is measured: the source and the K it gives per position. */
export function kldSource(kind: CallContext["info"]["kind"], nVocab: number | undefined, topK: number): { source: string; topK: number } | { unavailable: string } {
  if (kind === "llama-server") {
    if (nVocab === undefined) return { source: `llama-server /completion n_probs per position (the whole vocabulary up to ${FULL_VOCAB_LIMIT} tokens, else the top ${Math.max(topK, WIDE_TOP)})`, topK };
    const m = llamaTopM(nVocab, topK);
    return { source: `llama-server /completion n_probs per position (top ${m}${m === nVocab ? ", the whole vocabulary" : ""})`, topK };
  }
  if (kind === "vllm") return { source: `vLLM prompt_logprobs (top ${Math.min(topK, VLLM_MAX_PROMPT_LOGPROBS)})`, topK: Math.min(topK, VLLM_MAX_PROMPT_LOGPROBS) };
  return { unavailable: `no KL: this server (${kind === "ollama" ? "Ollama" : "an OpenAI-compatible server"}) returns no prompt logprobs, only logprobs of generated tokens` };
}

/** A position from a partial distribution (token id → probability, most likely first). */
function position(dist: [number, number][], forced: number, topK: number, probe: number[] | undefined): ScoredPosition {
  const listed = new Map(dist);
  const listedMass = dist.reduce((a, [, p]) => a + p, 0);
  const floor = dist.length ? dist[dist.length - 1]![1] : 0;
  const missing = (ids: number[]) => ids.filter((t) => !listed.has(t)).length;
  const probOf = (t: number, nMissing: number) => listed.get(t) ?? Math.min(floor, Math.max(0, 1 - listedMass) / Math.max(1, nMissing));
  const pos: ScoredPosition = {
    forcedProb: probOf(forced, missing([forced])),
    top: dist.slice(0, topK).map(([token, prob]) => ({ token, prob })),
  };
  if (probe) {
    const n = missing(probe);
    pos.probe = probe.map((t) => probOf(t, n));
  }
  return pos;
}

const opts = (ctx: CallContext) => ({ apiKeyEnv: ctx.spec.apiKeyEnv, timeoutMs: ctx.spec.timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) });

/** llama-server's distribution after `prompt` (token ids): its top `m` as [id, probability], most likely first. */
async function llamaNextDist(ctx: CallContext, prompt: readonly number[], m: number, lora: ReturnType<typeof llamaLora>): Promise<[number, number][]> {
  const res = await requestJson<{ completion_probabilities?: { top_logprobs?: { id?: number; logprob?: number }[] }[] }>(`${ctx.info.base}/completion`, {
    ...opts(ctx),
    body: { prompt, n_predict: 1, n_probs: m, temperature: 0, cache_prompt: true, ...(lora ? { lora } : {}) },
  });
  const top = res.completion_probabilities?.[0]?.top_logprobs;
  if (!Array.isArray(top)) throw new RemoteError("protocol", `${ctx.info.url}/completion answered without n_probs probabilities`);
  return top.flatMap((t) => (typeof t.id === "number" && typeof t.logprob === "number" ? [[t.id, Math.exp(t.logprob)] as [number, number]] : []));
}

async function llamaScore(ctx: CallContext, r: ScoreRequest): Promise<ScoredPosition[]> {
  const prompt = await llamaPromptTokens(ctx, r.messages);
  const m = llamaTopM(ctx.info.nVocab, r.topK);
  const lora = llamaLora(ctx);
  const out: ScoredPosition[] = [];
  for (let i = 0; i < r.tokens.length; i++) {
    const dist = await llamaNextDist(ctx, [...prompt, ...r.tokens.slice(0, i)], m, lora);
    out.push(position(dist, r.tokens[i]!, r.topK, r.probe?.[i]));
  }
  return out;
}

async function vllmPromptTokens(ctx: CallContext, messages: ChatMessage[]): Promise<number[]> {
  const body =
    ctx.template === "chat"
      ? { model: ctx.info.model, messages: openAiMessages(messages), add_generation_prompt: true }
      : { model: ctx.info.model, prompt: completionText(messages), add_special_tokens: true };
  const res = await requestJson<{ tokens?: unknown }>(`${ctx.info.base}/tokenize`, { ...opts(ctx), body });
  if (!Array.isArray(res.tokens) || !res.tokens.every((t) => typeof t === "number")) throw new RemoteError("protocol", `${ctx.info.url}/tokenize answered without token ids`);
  return res.tokens as number[];
}

type VllmEntry = Record<string, { logprob?: number; rank?: number }> | null;

/** vLLM's prompt_logprobs for `prompt` (token ids): one entry per prompt token, the first null. */
async function vllmPromptLogprobs(ctx: CallContext, prompt: readonly number[], k: number): Promise<VllmEntry[]> {
  const res = await requestJson<{ choices?: { prompt_logprobs?: VllmEntry[] }[] }>(`${ctx.info.v1}/completions`, {
    ...opts(ctx),
    body: { model: ctx.info.model, prompt, max_tokens: 1, temperature: 0, prompt_logprobs: k },
  });
  const pl = res.choices?.[0]?.prompt_logprobs;
  if (!Array.isArray(pl) || pl.length < prompt.length) {
    throw new KldUnavailableError(`no KL: ${ctx.info.url} answered without prompt_logprobs for every position (vLLM returns them on /v1/completions with prompt_logprobs ≤ ${VLLM_MAX_PROMPT_LOGPROBS})`);
  }
  return pl;
}

/** One prompt_logprobs entry: the top-k as [id, probability], most likely first, and the actual token's probability (listed whatever its rank). */
function vllmEntry(entry: VllmEntry | undefined, k: number, actual: number): { dist: [number, number][]; actualProb?: number } {
  const all = Object.entries(entry ?? {}).flatMap(([id, v]) => (typeof v?.logprob === "number" ? [{ id: Number(id), p: Math.exp(v.logprob), rank: v.rank ?? Infinity }] : []));
  const dist = all
    .filter((e) => e.rank <= k)
    .sort((a, b) => b.p - a.p)
    .map((e): [number, number] => [e.id, e.p]);
  const hit = all.find((e) => e.id === actual);
  return { dist, ...(hit ? { actualProb: hit.p } : {}) };
}

async function vllmScore(ctx: CallContext, r: ScoreRequest): Promise<ScoredPosition[]> {
  const prompt = await vllmPromptTokens(ctx, r.messages);
  const k = Math.min(Math.max(1, r.topK, r.probe?.[0]?.length ?? 0), VLLM_MAX_PROMPT_LOGPROBS);
  const pl = await vllmPromptLogprobs(ctx, [...prompt, ...r.tokens], k);
  const out: ScoredPosition[] = [];
  for (let i = 0; i < r.tokens.length; i++) {
    const forced = r.tokens[i]!;
    const { dist, actualProb } = vllmEntry(pl[prompt.length + i], k, forced);
    const pos = position(dist, forced, r.topK, r.probe?.[i]);
    if (actualProb !== undefined) {
      pos.forcedProb = actualProb;
      if (pos.probe) pos.probe = r.probe![i]!.map((t, j) => (t === forced ? actualProb : pos.probe![j]!));
    }
    out.push(pos);
  }
  return out;
}

/** What a served variant gives at the scored positions of a corpus chunk: its top-M per position. */
export interface CorpusChunkScores {
  /** M: the alternatives listed per position (the whole vocabulary when M equals it). */
  topK: number;
  /** One per scored position `from` .. tokens.length − 2 (position k predicts tokens[k + 1]). */
  positions: ExternalPosition[];
}

/** How corpus KL on this endpoint is measured: the alternatives per position (M) and their source. */
export function corpusSource(info: Pick<CallContext["info"], "kind" | "nVocab">): { topK: number; source: string } | { unavailable: string } {
  if (info.kind === "llama-server") {
    const m = llamaTopM(info.nVocab, 0);
    return { topK: m, source: `llama-server /completion n_probs per position (top ${m}${m === info.nVocab ? ", the whole vocabulary" : ""})` };
  }
  if (info.kind === "vllm") return { topK: VLLM_MAX_PROMPT_LOGPROBS, source: `vLLM prompt_logprobs (top ${VLLM_MAX_PROMPT_LOGPROBS})` };
  const s = kldSource(info.kind, info.nVocab, 0);
  return { unavailable: "unavailable" in s ? s.unavailable : "no KL: this server returns no prompt logprobs" };
}

/** A corpus position from a listed distribution: ln q of the next token, with position()'s bound when it is not listed. */
function listedPosition(dist: [number, number][], next: number, nextProb?: number): ExternalPosition {
  const p = nextProb ?? position(dist, next, dist.length, undefined).forcedProb;
  // A token listed with no mass left over would get probability 0: floor it so ln stays finite.
  return { ids: dist.map(([id]) => id), logprobs: dist.map(([, q]) => Math.log(q)), tokenLogprob: Math.log(Math.max(p, 1e-30)) };
}

/**
 * The distributions of a served model along a token sequence as given (no template, no BOS added:
 * the chunk already starts with one where the vocabulary has it), at positions `from` ..
 * tokens.length − 2: corpus KL (`driftlens kld`) on a served variant. llama-server: one /completion
 * per position, the prompt cache making each evaluate one new token; vLLM: one request with
 * prompt_logprobs. KldUnavailableError where the server gives neither.
 */
export async function scoreCorpusOn(ctx: CallContext, tokens: readonly number[], from: number): Promise<CorpusChunkScores> {
  const src = corpusSource(ctx.info);
  if ("unavailable" in src) throw new KldUnavailableError(src.unavailable);
  const positions: ExternalPosition[] = [];
  if (ctx.info.kind === "llama-server") {
    const lora = llamaLora(ctx);
    for (let k = from; k < tokens.length - 1; k++) positions.push(listedPosition(await llamaNextDist(ctx, tokens.slice(0, k + 1), src.topK, lora), tokens[k + 1]!));
  } else {
    const pl = await vllmPromptLogprobs(ctx, tokens, src.topK);
    // Entry k + 1 is the distribution that predicts tokens[k + 1].
    for (let k = from; k < tokens.length - 1; k++) {
      const { dist, actualProb } = vllmEntry(pl[k + 1], src.topK, tokens[k + 1]!);
      positions.push(listedPosition(dist, tokens[k + 1]!, actualProb));
    }
  }
  return { topK: src.topK, positions };
}

/** Teacher-forced distributions from one endpoint; KldUnavailableError when the server has no way. */
export async function scoreOn(ctx: CallContext, r: ScoreRequest): Promise<ScoreResult> {
  const t0 = performance.now();
  if (r.tokens.length === 0) return { id: r.id, positions: [], wallMs: 0 };
  let positions: ScoredPosition[];
  if (ctx.info.kind === "llama-server") positions = await llamaScore(ctx, r);
  else if (ctx.info.kind === "vllm") positions = await vllmScore(ctx, r);
  else {
    const s = kldSource(ctx.info.kind, ctx.info.nVocab, r.topK);
    throw new KldUnavailableError("unavailable" in s ? s.unavailable : "no KL: this server returns no prompt logprobs");
  }
  return { id: r.id, positions, wallMs: performance.now() - t0 };
}

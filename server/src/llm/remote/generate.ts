// One generation on one endpoint, answered in the local engine's shape (GenerateResult), so stored
// results, the token heatmap, top-1 agreement and flips treat served and local variants alike.
//
// Prompt: chat completions (the server applies the model's template) when the served model has a
// chat template; otherwise exactly the local engine's plain text — the messages joined by blank
// lines after BOS, tokenized without special-token parsing. On llama-server that text is
// tokenized by the server (/tokenize) and sent as token ids to /completion, so the same GGUF gets
// the same tokens locally and served (a plain string would be parsed for special tokens, and chat
// completions would fall back to chatml).
import { completionText } from "../completion-text";
import type { ChatMessage, GeneratedToken, GenerateRequest, GenerateResult, RemoteModelSpec, SamplingParams, TokenAlternative } from "../types";
import { RemoteError, requestJson } from "./http";
import type { EndpointInfo } from "./probe";
import { structuredFields } from "./structured";

export interface CallContext {
  info: EndpointInfo;
  spec: RemoteModelSpec;
  template: "chat" | "completion";
  signal?: AbortSignal;
}

/** OpenAI chat messages from Driftlens's (roles as the local engine maps them). */
export function openAiMessages(messages: ChatMessage[]): { role: string; content: string }[] {
  return messages.map((m) => ({ role: m.role === "system" ? "system" : m.role === "model" ? "assistant" : "user", content: m.text }));
}

const req = (ctx: CallContext) => ({ apiKeyEnv: ctx.spec.apiKeyEnv, timeoutMs: ctx.spec.timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) });

/** llama-server's per-request LoRA list: every loaded adapter, at the variant's scale or 0. */
export function llamaLora(ctx: CallContext): { id: number; scale: number }[] | undefined {
  if (!ctx.spec.adapters.length && !ctx.info.loraAdapters?.length) return undefined;
  return (ctx.info.loraAdapters ?? []).map((a) => {
    const want = ctx.spec.adapters.find((x) => adapterMatches(x.name, a.path));
    return { id: a.id, scale: want ? want.scale : 0 };
  });
}

/** A server-side adapter matches a name by its file name without extension (and without .gguf / -lora). */
export function adapterMatches(name: string, path: string): boolean {
  const file = (path.split(/[\\/]/).pop() ?? path).replace(/\.gguf$/i, "");
  return file === name || file.replace(/[-_.]?lora$/i, "") === name;
}

/** Sampling fields for llama-server's native /completion (only what the local engine applies). */
function llamaSampling(p: SamplingParams) {
  return {
    temperature: p.temperature,
    seed: p.seed,
    // The local engine applies temperature, top-k and top-p only: llama-server's other samplers off.
    top_k: p.topK ?? (p.temperature > 0 ? 40 : 0),
    top_p: p.topP ?? (p.temperature > 0 ? 0.95 : 1),
    min_p: 0,
    repeat_penalty: 1,
    typical_p: 1,
  };
}

/** Prompt token ids as the local engine builds them (BOS + plain text, or the template's text). */
export async function llamaPromptTokens(ctx: CallContext, messages: ChatMessage[]): Promise<number[]> {
  if (ctx.template === "completion") {
    const r = await requestJson<{ tokens?: unknown }>(`${ctx.info.base}/tokenize`, { ...req(ctx), body: { content: completionText(messages), add_special: true, parse_special: false } });
    return tokenIds(r.tokens, ctx.info.url);
  }
  const t = await requestJson<{ prompt?: unknown }>(`${ctx.info.base}/apply-template`, { ...req(ctx), body: { messages: openAiMessages(messages) } });
  if (typeof t.prompt !== "string") throw new RemoteError("protocol", `${ctx.info.url}/apply-template answered without a prompt`);
  // As chat completions tokenizes a templated prompt: BOS added, special tokens parsed.
  const r = await requestJson<{ tokens?: unknown }>(`${ctx.info.base}/tokenize`, { ...req(ctx), body: { content: t.prompt, add_special: true, parse_special: true } });
  return tokenIds(r.tokens, ctx.info.url);
}

function tokenIds(v: unknown, url: string): number[] {
  if (!Array.isArray(v) || !v.every((t) => typeof t === "number")) throw new RemoteError("protocol", `${url}/tokenize answered without token ids`);
  return v as number[];
}

interface LlamaProb {
  id?: number;
  token?: string;
  bytes?: number[];
  logprob?: number;
  prob?: number;
  top_logprobs?: LlamaProb[];
  top_probs?: LlamaProb[];
}

interface LlamaCompletion {
  content?: string;
  tokens?: number[];
  completion_probabilities?: LlamaProb[];
  stop_type?: string;
  tokens_evaluated?: number;
  timings?: { prompt_ms?: number; predicted_ms?: number; predicted_per_second?: number; predicted_n?: number };
}

const decoder = () => new TextDecoder("utf-8", { fatal: false });
const probOf = (p: LlamaProb) => (typeof p.prob === "number" ? p.prob : typeof p.logprob === "number" ? Math.exp(p.logprob) : 0);

/**
 * Per-token records from a server's per-token entries: the piece of text each token added (the
 * decoded text so far minus the text before it, as the local engine computes it), its probability
 * and its top alternatives.
 */
function toTokens(entries: { id: number; bytes?: number[]; token?: string; prob: number; top: TokenAlternative[] }[], k: number): GeneratedToken[] {
  const out: GeneratedToken[] = [];
  const bytes: number[] = [];
  let text = "";
  for (const e of entries) {
    if (e.bytes) bytes.push(...e.bytes);
    else bytes.push(...Buffer.from(e.token ?? "", "utf8"));
    const full = decoder().decode(new Uint8Array(bytes));
    out.push({ token: e.id, text: full.slice(text.length), prob: e.prob, top: e.top.slice(0, k) });
    text = full;
  }
  return out;
}

async function llamaCompletion(ctx: CallContext, r: GenerateRequest, t0: number): Promise<GenerateResult> {
  const prompt = await llamaPromptTokens(ctx, r.messages);
  const p = r.params;
  const body: Record<string, unknown> = {
    prompt,
    n_predict: p.maxTokens,
    stop: p.stop,
    ...llamaSampling(p),
    // Greedy: the model's own softmax (as the local engine records); sampled: the distribution
    // the token was drawn from.
    n_probs: Math.max(1, r.topLogprobs),
    post_sampling_probs: p.temperature > 0,
    return_tokens: true,
    cache_prompt: true,
    // Structured output: our GBNF, as the local engine generates under it.
    ...structuredFields(ctx.info.kind, ctx.template, r.structured),
  };
  const lora = llamaLora(ctx);
  if (lora) body.lora = lora;
  const res = await requestJson<LlamaCompletion>(`${ctx.info.base}/completion`, { ...req(ctx), body });
  const probs = Array.isArray(res.completion_probabilities) ? res.completion_probabilities : [];
  const ids = Array.isArray(res.tokens) ? res.tokens : probs.map((x) => x.id ?? -1);
  let entries: Entry[] = probs.map((x, i) => ({
    id: typeof x.id === "number" ? x.id : (ids[i] ?? -1),
    ...(x.bytes ? { bytes: x.bytes } : {}),
    ...(x.token !== undefined ? { token: x.token } : {}),
    prob: probOf(x),
    top: (x.top_probs ?? x.top_logprobs ?? []).map((a) => ({ token: a.id ?? -1, text: a.token ?? "", prob: probOf(a) })),
  }));
  const stopReason: GenerateResult["stopReason"] = res.stop_type === "eos" ? "eos" : res.stop_type === "word" ? "stop" : "maxTokens";
  // llama-server lists the end-of-generation token it stopped on; the local engine does not.
  if (stopReason === "eos" && entries.length) entries = entries.slice(0, -1);
  // On a stop string llama-server drops as many trailing tokens as the stop string has; the local
  // engine keeps every token that starts before the stop. Rebuild the local engine's list.
  if (stopReason === "stop" && ids.length > entries.length) entries = await stopTail(ctx, r, prompt, ids, entries, body);
  const tokens = toTokens(entries, r.topLogprobs);
  const text = asDetokenized(ctx.info, tokens, res.content ?? "");
  return finish(r, tokens, text, prompt.length, "completion", stopReason, t0, res.timings?.prompt_ms, ctx.info.url);
}

type Entry = { id: number; bytes?: number[]; token?: string; prob: number; top: TokenAlternative[] };

/**
 * The tokens a stop string cut, as the local engine keeps them: every generated token whose text
 * starts before the first stop string. Pieces of the tokens llama-server dropped come from
 * /detokenize; the probabilities of the ones kept from a one-token /completion at that position.
 */
async function stopTail(ctx: CallContext, r: GenerateRequest, prompt: number[], ids: number[], known: Entry[], body: Record<string, unknown>): Promise<Entry[]> {
  const all: Entry[] = [...known];
  for (const id of ids.slice(known.length)) {
    const d = await requestJson<{ content?: unknown }>(`${ctx.info.base}/detokenize`, { ...req(ctx), body: { tokens: [id] } });
    all.push({ id, token: typeof d.content === "string" ? d.content : "", prob: -1, top: [] });
  }
  const pieces = toTokens(all, 0);
  const text = pieces.map((t) => t.text).join("");
  let hit = -1;
  for (const stop of r.params.stop) {
    const i = stop ? text.indexOf(stop) : -1;
    if (i >= 0 && (hit < 0 || i < hit)) hit = i;
  }
  if (hit < 0) return known;
  let offset = 0;
  const kept: Entry[] = [];
  for (let i = 0; i < all.length && offset < hit; i++) {
    kept.push(all[i]!);
    offset += pieces[i]!.text.length;
  }
  for (let i = known.length; i < kept.length; i++) {
    const res = await requestJson<LlamaCompletion>(`${ctx.info.base}/completion`, {
      ...req(ctx),
      // Without the grammar: it would restart at its root in the middle of the output.
      body: { ...body, prompt: [...prompt, ...ids.slice(0, i)], n_predict: 1, stop: [], return_tokens: false, grammar: undefined },
    });
    const p = res.completion_probabilities?.[0];
    const top = (p?.top_probs ?? p?.top_logprobs ?? []).map((a) => ({ token: a.id ?? -1, text: a.token ?? "", prob: probOf(a) }));
    kept[i] = { ...kept[i]!, prob: top.find((t) => t.token === kept[i]!.id)?.prob ?? (p && p.id === kept[i]!.id ? probOf(p) : 0), top };
  }
  return kept;
}

interface OpenAiLogprob {
  token?: string;
  id?: number;
  bytes?: number[] | null;
  logprob?: number;
  top_logprobs?: OpenAiLogprob[];
}

interface OpenAiChoice {
  text?: string;
  message?: { content?: string | null };
  finish_reason?: string | null;
  stop_reason?: string | number | null;
  logprobs?: { content?: OpenAiLogprob[] | null; tokens?: string[]; token_logprobs?: (number | null)[]; top_logprobs?: (Record<string, number> | null)[] } | null;
}

/** A token id from an OpenAI-style entry: llama-server's `id`, or vLLM's "token_id:N" text. */
function openAiTokenId(e: OpenAiLogprob): number {
  if (typeof e.id === "number") return e.id;
  const m = /^token_id:(\d+)$/.exec(e.token ?? "");
  return m ? Number(m[1]) : -1;
}

function openAiEntries(choice: OpenAiChoice): Entry[] {
  const lp = choice.logprobs;
  if (lp?.content) {
    return lp.content.map((e) => ({
      id: openAiTokenId(e),
      ...(e.bytes ? { bytes: e.bytes } : /^token_id:\d+$/.test(e.token ?? "") ? { bytes: [] as number[] } : { token: e.token ?? "" }),
      prob: Math.exp(e.logprob ?? -Infinity),
      top: (e.top_logprobs ?? []).map((a) => ({ token: openAiTokenId(a), text: /^token_id:\d+$/.test(a.token ?? "") ? "" : (a.token ?? ""), prob: Math.exp(a.logprob ?? -Infinity) })),
    }));
  }
  if (lp?.tokens) {
    return lp.tokens.map((t, i) => ({
      id: openAiTokenId({ token: t }),
      token: /^token_id:\d+$/.test(t) ? "" : t,
      prob: Math.exp(lp.token_logprobs?.[i] ?? -Infinity),
      top: Object.entries(lp.top_logprobs?.[i] ?? {})
        .map(([tok, l]) => ({ token: openAiTokenId({ token: tok }), text: /^token_id:\d+$/.test(tok) ? "" : tok, prob: Math.exp(l) }))
        .sort((a, b) => b.prob - a.prob),
    }));
  }
  return [];
}

async function openAiGenerate(ctx: CallContext, r: GenerateRequest, t0: number): Promise<GenerateResult> {
  const p = r.params;
  const chat = ctx.template === "chat";
  const k = Math.min(20, r.topLogprobs);
  const body: Record<string, unknown> = {
    model: ctx.info.kind === "vllm" && ctx.spec.adapters.length === 1 ? ctx.spec.adapters[0]!.name : ctx.info.model,
    max_tokens: p.maxTokens,
    temperature: p.temperature,
    seed: p.seed,
    stream: false,
    ...(p.stop.length ? { stop: p.stop } : {}),
    ...(p.topP !== undefined ? { top_p: p.topP } : {}),
  };
  if (ctx.info.kind === "vllm" || ctx.info.kind === "llama-server") {
    if (p.topK !== undefined) body.top_k = p.topK;
    body.min_p = 0;
    body.repetition_penalty = 1;
  }
  if (ctx.info.kind === "vllm") body.return_tokens_as_token_ids = true;
  Object.assign(body, structuredFields(ctx.info.kind, ctx.template, r.structured));
  if (ctx.info.kind === "llama-server") {
    const lora = llamaLora(ctx);
    if (lora) body.lora = lora;
  }
  if (chat) {
    body.messages = openAiMessages(r.messages);
    if (r.topLogprobs > 0) Object.assign(body, { logprobs: true, top_logprobs: k });
  } else {
    body.prompt = completionText(r.messages);
    if (r.topLogprobs > 0) body.logprobs = k;
  }
  const res = await requestJson<{ choices?: OpenAiChoice[]; usage?: { prompt_tokens?: number } }>(`${ctx.info.v1}/${chat ? "chat/completions" : "completions"}`, { ...req(ctx), body });
  const choice = res.choices?.[0];
  if (!choice) throw new RemoteError("protocol", `${ctx.info.url} answered without choices`);
  const text = (chat ? choice.message?.content : choice.text) ?? "";
  const stopReason: GenerateResult["stopReason"] = choice.finish_reason === "length" ? "maxTokens" : typeof choice.stop_reason === "string" ? "stop" : "eos";
  let entries = openAiEntries(choice);
  // Servers list the end-of-generation token they stopped on (with no text); the local engine does not.
  const last = entries[entries.length - 1];
  if (stopReason === "eos" && last && (last.bytes ? last.bytes.length === 0 : !last.token)) entries = entries.slice(0, -1);
  const tokens = toTokens(entries, r.topLogprobs);
  return finish(r, tokens, asDetokenized(ctx.info, tokens, text), res.usage?.prompt_tokens ?? 0, chat ? "chat" : "completion", stopReason, t0, undefined, ctx.info.url);
}

/**
 * The local engine's text is llama.cpp's detokenization of the generated ids, which drops the
 * first token's leading space when the vocabulary adds a space prefix; llama-server's keeps it.
 */
function asDetokenized(info: EndpointInfo, tokens: GeneratedToken[], text: string): string {
  if (!info.spacePrefix || !tokens[0]?.text.startsWith(" ")) return text;
  tokens[0] = { ...tokens[0], text: tokens[0].text.slice(1) };
  return text.startsWith(" ") ? text.slice(1) : text;
}

function finish(r: GenerateRequest, tokens: GeneratedToken[], text: string, promptTokens: number, template: GenerateResult["template"], stopReason: GenerateResult["stopReason"], t0: number, promptMs: number | undefined, endpoint: string): GenerateResult {
  const wallMs = performance.now() - t0;
  const ttft = promptMs !== undefined ? Math.min(wallMs, promptMs) : wallMs;
  const genMs = wallMs - ttft;
  return {
    id: r.id,
    text,
    tokens,
    promptTokens,
    template,
    stopReason,
    timeToFirstTokenMs: ttft,
    wallMs,
    tokensPerSecond: tokens.length > 1 && genMs > 0 ? ((tokens.length - 1) * 1000) / genMs : tokens.length ? (tokens.length * 1000) / wallMs : 0,
    endpoint,
  };
}

/** Generates one request on one endpoint; throws a RemoteError on failure. */
export function generateOn(ctx: CallContext, r: GenerateRequest): Promise<GenerateResult> {
  const t0 = performance.now();
  // llama-server's native route gives token ids, bytes and exact prompt tokens for plain text.
  if (ctx.info.kind === "llama-server" && ctx.template === "completion") return llamaCompletion(ctx, r, t0);
  return openAiGenerate(ctx, r, t0);
}

/** Why an endpoint cannot apply the named adapters (empty when it can). */
export function adapterProblems(info: EndpointInfo, adapters: { name: string; scale: number }[]): string[] {
  if (!adapters.length) return [];
  if (info.kind === "llama-server") {
    const loaded = info.loraAdapters ?? [];
    return adapters
      .filter((a) => !loaded.some((l) => adapterMatches(a.name, l.path)))
      .map((a) => `${info.url} has no LoRA adapter '${a.name}' loaded (${loaded.length ? `it has ${loaded.map((l) => l.path.split(/[\\/]/).pop()).join(", ")}` : "start llama-server with --lora FILE"})`);
  }
  if (info.kind === "vllm") {
    if (adapters.length > 1) return [`${info.url} (vLLM) applies one LoRA adapter per request, not ${adapters.length}`];
    const a = adapters[0]!;
    const out: string[] = [];
    if (!info.models.includes(a.name)) out.push(`${info.url} (vLLM) serves no LoRA module '${a.name}' (start it with --lora-modules ${a.name}=PATH)`);
    if (a.scale !== 1) out.push(`${info.url} (vLLM) applies LoRA adapters at scale 1 only, not ${a.scale}`);
    return out;
  }
  return [`${info.url} (${info.kind === "ollama" ? "Ollama" : "this OpenAI-compatible server"}) cannot apply LoRA adapters by name; run the adapter on a local GGUF variant`];
}

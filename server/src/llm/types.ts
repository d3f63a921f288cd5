// The engine's contract, as plain data. The engine itself (server/src/llm/engine.ts) runs inside a
// supervised child process (server/src/llm/worker.ts → dist/engine-worker.js); callers use
// EngineClient (server/src/llm/client.ts), which speaks this contract over IPC and never imports
// node-llama-cpp. Wire messages for it are validated in server/src/protocol/engine.ts.

/** One rendered message, text only (media parts are dropped before generation, with a note). */
export interface ChatMessage {
  role: "system" | "user" | "model" | "tool";
  text: string;
}

export interface AdapterRef {
  /** Absolute path of the LoRA GGUF. */
  path: string;
  scale: number;
}

/** What to load: a base GGUF plus zero or more LoRA adapters (one context per adapter set). */
export interface ModelSpec {
  /** The variant as the user writes it, e.g. "tiny/q4_0" or "tiny/f16+formal@0.5"; for messages. */
  variant: string;
  /** Absolute path of the base GGUF (for a remote variant: its first endpoint, for messages). */
  modelPath: string;
  adapters: AdapterRef[];
  /**
   * Set for a served model: requests go to its OpenAI-compatible endpoints (server/src/llm/remote)
   * instead of the local engine; `modelPath` and `adapters` are then not used.
   */
  remote?: RemoteModelSpec;
}

/**
 * A served model as driftlens.yaml describes it: plain data, no key (the key is read from the
 * environment variable `apiKeyEnv` names at request time, never stored).
 */
export interface RemoteModelSpec {
  /** Endpoint base URLs as written (with or without a trailing /v1). */
  endpoints: string[];
  /** The model name the server serves; default: the server's only (first) model. */
  model?: string;
  /** Environment variable holding the API key (sent as a Bearer token). */
  apiKeyEnv?: string;
  /** Requests in flight per endpoint; default: the server's slots (llama-server /props), else 4. */
  concurrency?: number;
  /** Part of the fingerprint: bump it when the served weights change under the same name. */
  revision?: string;
  /** "auto": chat when the served model has its own chat template, plain text otherwise. */
  template: "auto" | "chat" | "completion";
  /** Per-request time limit, ms. */
  timeoutMs: number;
  /** Adapters by the server's own names (llama-server /lora-adapters, vLLM LoRA modules). */
  adapters: { name: string; scale: number }[];
}

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number;
  topK?: number;
  topP?: number;
  maxTokens: number;
  stop: string[];
  /** Per-case seed (derived from run seed + case id by the caller). */
  seed: number;
}

/**
 * Constrained output: local variants generate under `grammar` (GBNF, llama.cpp's grammar format;
 * server/src/artifacts/json-grammar.ts writes it from the schema); a remote variant whose server
 * supports it sends `schema` as an OpenAI `response_format: {type: "json_schema"}` (or asks for
 * `json_object` when schema is null).
 */
export interface StructuredOutput {
  grammar: string;
  /** The JSON Schema the grammar was written from; null: any JSON value. */
  schema: Record<string, unknown> | null;
}

export interface GenerateRequest {
  /** Caller's id, echoed in the result (e.g. the case id). */
  id: string;
  model: ModelSpec;
  messages: ChatMessage[];
  params: SamplingParams;
  /** How many top alternatives to record per generated token (default 5; 0 = none). */
  topLogprobs: number;
  /** Generate under a grammar (absent: free text). */
  structured?: StructuredOutput;
}

export interface TokenAlternative {
  token: number;
  text: string;
  prob: number;
}

export interface GeneratedToken {
  token: number;
  text: string;
  /**
   * Probability the model gave this token when it was chosen; -1 when not computed (greedy with
   * topLogprobs 0 takes the fast path, which skips the per-token sort of the whole vocabulary).
   */
  prob: number;
  /** Top alternatives at this position, most likely first (includes the chosen token if in top-k). */
  top: TokenAlternative[];
}

export interface GenerateResult {
  id: string;
  text: string;
  tokens: GeneratedToken[];
  promptTokens: number;
  /** "chat": the GGUF's chat template was applied; "completion": plain text of the messages. */
  template: "chat" | "completion";
  stopReason: "eos" | "stop" | "maxTokens" | "cancelled";
  timeToFirstTokenMs: number;
  wallMs: number;
  tokensPerSecond: number;
  /** The endpoint that served it (remote variants only). */
  endpoint?: string;
}

/** Teacher forcing: feed `tokens` after the prompt and report the distribution at every position. */
export interface ScoreRequest {
  id: string;
  model: ModelSpec;
  messages: ChatMessage[];
  /** The forced continuation (token ids, usually the reference variant's greedy output). */
  tokens: number[];
  /** Top-K of this model's own distribution to return per position. */
  topK: number;
  /** Optional per-position token ids whose probabilities must be returned (the reference's top-K). */
  probe?: number[][];
}

export interface ScoredPosition {
  /** Probability of the forced token at this position. */
  forcedProb: number;
  /** This model's top-K, most likely first. */
  top: { token: number; prob: number }[];
  /** Probabilities of the probe ids, in probe order (absent when no probe was given). */
  probe?: number[];
}

export interface ScoreResult {
  id: string;
  positions: ScoredPosition[];
  wallMs: number;
}

export interface EngineSettings {
  gpu: "auto" | "cuda" | "vulkan" | "metal" | "cpu";
  /** "auto" = measured once per machine and cached; a number forces it. */
  threads: "auto" | number;
  contextSize: number;
  parallelSequences: number;
  /** LRU budget for loaded models, bytes. */
  memoryBudgetBytes: number;
  /**
   * Wall-clock bound for one case (its prompt template and generation) and for preparing a
   * model's context, ms; a model load may take max(this, 10 minutes). A case over it fails with
   * kind "timeout" and the rest of the batch goes on in a fresh worker. Default 300,000 (5 min).
   */
  caseTimeoutMs?: number;
}

export interface EngineInfo {
  backend: "cpu" | "cuda" | "vulkan" | "metal";
  threads: number;
  /** "auto-pending": threads are auto and no model has been loaded yet (measured on first use). */
  threadsSource: "auto-measured" | "auto-cached" | "setting" | "auto-pending";
  engineVersion: string;
  loadedModels: { variant: string; modelPath: string; bytes: number; threads?: number }[];
  /** node-llama-cpp's version (part of the engine version). */
  llamaVersion?: string;
  /** Parallel sequences per context in use (1 on CPU, where batching gave no gain; the setting on GPU). */
  sequences?: number;
  /** Why that sequence count was chosen. */
  sequencesReason?: string;
  /** CPU time the engine process has used so far (user + system, ms; for benchmarks and diagnostics). */
  cpuMs?: number;
}

// ---- served models: what an endpoint reports (plain data; llm/remote asks, artifacts/ shows) ----

export type ServerKind = "llama-server" | "vllm" | "ollama" | "openai";

export interface EndpointInfo {
  /** As written in driftlens.yaml (credentials, query and fragment removed). */
  url: string;
  /** The server root (no /v1): llama-server's own routes live here. */
  base: string;
  /** The OpenAI-compatible API root (…/v1). */
  v1: string;
  kind: ServerKind;
  /** The model name requests carry. */
  model: string;
  /** Every model the server lists. */
  models: string[];
  contextLength?: number;
  /** llama-server's parallel slots (--parallel). */
  slots?: number;
  /** Server build or version. */
  build?: string;
  /** llama-server: whether the model has its own chat template (the server's chatml fallback otherwise). */
  ownChatTemplate?: boolean;
  /** llama-server: vocabulary size. */
  nVocab?: number;
  /**
   * llama-server: the vocabulary adds a space before the text (SentencePiece's add_space_prefix).
   * llama.cpp's detokenizer, which the local engine uses for its output text, then drops the
   * leading space of the first token; the server's own text keeps it.
   */
  spacePrefix?: boolean;
  /** llama-server: LoRA adapters loaded at start (--lora), by id. */
  loraAdapters?: { id: number; path: string; scale: number }[];
  /** Facts that identify the served weights (no paths, no timestamps). */
  identity: Record<string, unknown>;
}

/** One endpoint of a served variant as a check found it: its facts, or why it did not answer. */
export interface EndpointStatus {
  url: string;
  info?: EndpointInfo;
  error?: string;
  /** It answered but does not serve the configured model. */
  wrongModel?: boolean;
  /** Adapters of the spec it cannot apply. */
  adapterProblems: string[];
}

/** Asks one endpoint of a served variant what it serves (llm/remote/check.ts implements it). */
export type EndpointCheck = (url: string, spec: RemoteModelSpec, timeoutMs: number) => Promise<EndpointStatus>;

/** A failure the caller can show as is: names the variant and file and says what to do. */
export interface EngineFailure {
  kind: "model-missing" | "model-corrupt" | "adapter-mismatch" | "out-of-memory" | "crashed" | "cancelled" | "timeout" | "other";
  message: string;
  variant?: string;
  file?: string;
}

/**
 * Full-vocabulary divergence of candidates from a reference on token sequences (corpus chunks, or
 * eval cases' prompt + forced output), computed in the engine as logits are produced; only
 * per-position numbers come back (see llm/position-divergence.ts for the definitions).
 */
export interface DivergenceRequest {
  id: string;
  reference: ModelSpec;
  candidates: ModelSpec[];
  /**
   * The sequences, evaluated side by side in one batch (as llama-perplexity evaluates several
   * chunks per batch): each a corpus chunk (`tokens`, position k predicting tokens[k + 1], scored
   * from `from` to the second-to-last token) or an eval case (`messages` rendered with the
   * reference's template, then its `forced` tokens scored).
   */
  sequences: DivergenceSequence[];
  /** Context size per sequence (each must fit). */
  contextSize: number;
  /**
   * Sequences per context (default: as many as `sequences`). A caller sending batches of up to N
   * sequences passes N every time, so the contexts — and the memory llama.cpp reserves for their
   * batches — stay the same whatever the length of the text.
   */
  parallel?: number;
  /** "exact": float64 reference; "llama16": llama-perplexity's 16-bit storage, emulated. */
  storage: "exact" | "llama16";
}

export interface DivergenceSequence {
  tokens?: number[];
  from?: number;
  messages?: ChatMessage[];
  forced?: number[];
  /** Candidates known only by top-K log-probabilities at each scored position (remote servers). */
  external?: { topK: number; positions: { ids: number[]; logprobs: number[]; tokenLogprob: number }[] }[];
}

export interface DivergenceValues {
  kld: number[];
  dp: number[];
  nll: number[];
  sameTop: boolean[];
}

export interface DivergenceSequenceResult {
  /** Scored positions. */
  positions: number;
  /** −ln p(next token) under the reference, per position. */
  nllBase: number[];
  /** Per candidate, then per external candidate, in request order. */
  candidates: DivergenceValues[];
}

export interface DivergenceResult {
  id: string;
  /** One per requested sequence, in order. */
  sequences: DivergenceSequenceResult[];
  /** Vocabulary size (0 when nothing was scored). */
  vocab: number;
  wallMs: number;
  /** Peak resident memory of the engine process so far (bytes), for memory reports. */
  peakRssBytes: number;
}

/** A text tokenized for corpus statistics with a model's vocabulary. */
export interface CorpusTokens {
  tokens: number[];
  /** The vocabulary adds BOS at the start of a text (llama-perplexity then puts BOS first in every chunk). */
  addBos: boolean;
  bos: number | null;
  /** Vocabulary size from the model's metadata, when it states one. */
  vocab: number | null;
}

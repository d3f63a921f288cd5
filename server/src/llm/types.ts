// The engine's contract, as plain data. The engine itself (server/src/llm/engine.ts) runs inside a
// supervised child process (server/src/llm/worker.ts → dist/engine-worker.js); callers use
// EngineClient (server/src/llm/client.ts), which speaks this contract over IPC and never imports
// node-llama-cpp. Wire messages for it are validated in server/src/protocol/engine.ts, whose zod
// schemas are the one home of these shapes (types by z.infer; the field docs are there). A local
// request's ModelSpec may also name a served model (`remote`), which never crosses to the worker.

import type { z } from "zod";
import type {
  adapterRefSchema,
  chatMessageSchema,
  corpusTokensSchema,
  divergenceRequestSchema,
  divergenceResultSchema,
  divergenceSequenceResultSchema,
  divergenceSequenceSchema,
  divergenceValuesSchema,
  engineFailureSchema,
  engineInfoSchema,
  engineSettingsSchema,
  generatedTokenSchema,
  generateRequestSchema,
  generateResultSchema,
  modelSpecSchema,
  samplingParamsSchema,
  scoredPositionSchema,
  scoreRequestSchema,
  scoreResultSchema,
  structuredOutputSchema,
  tokenAlternativeSchema,
} from "../protocol/engine";

/** One rendered message, text only (media parts are dropped before generation, with a note). */
export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type AdapterRef = z.infer<typeof adapterRefSchema>;

/** What to load: a base GGUF plus zero or more LoRA adapters (one context per adapter set). */
export interface ModelSpec extends z.infer<typeof modelSpecSchema> {
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

export type SamplingParams = z.infer<typeof samplingParamsSchema>;
/** Constrained output: a GBNF grammar for local variants, its JSON Schema for served ones. */
export type StructuredOutput = z.infer<typeof structuredOutputSchema>;

export interface GenerateRequest extends Omit<z.infer<typeof generateRequestSchema>, "model"> {
  model: ModelSpec;
}

export type TokenAlternative = z.infer<typeof tokenAlternativeSchema>;
export type GeneratedToken = z.infer<typeof generatedTokenSchema>;

export interface GenerateResult extends z.infer<typeof generateResultSchema> {
  /** The endpoint that served it (remote variants only). */
  endpoint?: string;
}

/** Teacher forcing: feed `tokens` after the prompt and report the distribution at every position. */
export interface ScoreRequest extends Omit<z.infer<typeof scoreRequestSchema>, "model"> {
  model: ModelSpec;
}

export type ScoredPosition = z.infer<typeof scoredPositionSchema>;
export type ScoreResult = z.infer<typeof scoreResultSchema>;
export type EngineSettings = z.infer<typeof engineSettingsSchema>;
export type EngineInfo = z.infer<typeof engineInfoSchema>;

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
export type EngineFailure = z.infer<typeof engineFailureSchema>;

/** Full-vocabulary divergence of candidates from a reference on token sequences (see DivergenceRequest's schema). */
export interface DivergenceRequest extends Omit<z.infer<typeof divergenceRequestSchema>, "reference" | "candidates"> {
  reference: ModelSpec;
  candidates: ModelSpec[];
}

export type DivergenceSequence = z.infer<typeof divergenceSequenceSchema>;
/** A top-K-only candidate at one scored position (a served variant's prompt logprobs). */
export type ExternalPosition = NonNullable<DivergenceSequence["external"]>[number]["positions"][number];
export type DivergenceValues = z.infer<typeof divergenceValuesSchema>;
export type DivergenceSequenceResult = z.infer<typeof divergenceSequenceResultSchema>;
export type DivergenceResult = z.infer<typeof divergenceResultSchema>;
/** A text tokenized for corpus statistics with a model's vocabulary. */
export type CorpusTokens = z.infer<typeof corpusTokensSchema>;

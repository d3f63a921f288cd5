// Wire contract between EngineClient (server/src/llm/client.ts, the parent) and the engine worker
// (server/src/llm/worker.ts → dist/engine-worker.js, a child process). Both sides validate every
// message with these schemas: a malformed message is a bug to report, never something to act on.
// The payload types of server/src/llm/types.ts (the engine contract) are these schemas' z.infer.
import { z } from "zod";

/** One rendered message, text only (media parts are dropped before generation, with a note). */
export const chatMessageSchema = z.object({ role: z.enum(["system", "user", "model", "tool"]), text: z.string() });
export const adapterRefSchema = z.object({
  /** Absolute path of the LoRA GGUF. */
  path: z.string(),
  scale: z.number(),
});
/** What to load: a base GGUF plus zero or more LoRA adapters (one context per adapter set). */
export const modelSpecSchema = z.object({
  /** The variant as the user writes it, e.g. "tiny/q4_0" or "tiny/f16+formal@0.5"; for messages. */
  variant: z.string(),
  /** Absolute path of the base GGUF (for a remote variant: its first endpoint, for messages). */
  modelPath: z.string(),
  adapters: z.array(adapterRefSchema),
});
export const samplingParamsSchema = z.object({
  /** 0 = greedy. */
  temperature: z.number().min(0),
  topK: z.number().int().min(0).optional(),
  topP: z.number().min(0).max(1).optional(),
  maxTokens: z.number().int().min(0),
  stop: z.array(z.string()),
  /** Per-case seed (derived from run seed + case id by the caller). */
  seed: z.number().int(),
});

/**
 * Constrained output: local variants generate under `grammar` (GBNF, llama.cpp's grammar format;
 * server/src/artifacts/json-grammar.ts writes it from the schema); a remote variant whose server
 * supports it sends `schema` as an OpenAI `response_format: {type: "json_schema"}` (or asks for
 * `json_object` when schema is null).
 */
export const structuredOutputSchema = z.object({
  grammar: z.string().min(1).max(4_000_000),
  /** The JSON Schema the grammar was written from; null: any JSON value. */
  schema: z.record(z.string(), z.unknown()).nullable(),
});

export const generateRequestSchema = z.object({
  /** Caller's id, echoed in the result (e.g. the case id). */
  id: z.string(),
  model: modelSpecSchema,
  messages: z.array(chatMessageSchema),
  params: samplingParamsSchema,
  /** How many top alternatives to record per generated token (default 5; 0 = none). */
  topLogprobs: z.number().int().min(0).max(100),
  /** Generate under a grammar (absent: free text). */
  structured: structuredOutputSchema.optional(),
});

/** Teacher forcing: feed `tokens` after the prompt and report the distribution at every position. */
export const scoreRequestSchema = z.object({
  id: z.string(),
  model: modelSpecSchema,
  messages: z.array(chatMessageSchema),
  /** The forced continuation (token ids, usually the reference variant's greedy output). */
  tokens: z.array(z.number().int()),
  /** Top-K of this model's own distribution to return per position. */
  topK: z.number().int().min(0).max(100),
  /** Optional per-position token ids whose probabilities must be returned (the reference's top-K). */
  probe: z.array(z.array(z.number().int())).optional(),
});

export const divergenceSequenceSchema = z.object({
  tokens: z.array(z.number().int().min(0)).optional(),
  from: z.number().int().min(0).optional(),
  messages: z.array(chatMessageSchema).optional(),
  forced: z.array(z.number().int().min(0)).optional(),
  /** Candidates known only by top-K log-probabilities at each scored position (remote servers). */
  external: z
    .array(
      z.object({
        topK: z.number().int().min(1),
        positions: z.array(z.object({ ids: z.array(z.number().int().min(0)), logprobs: z.array(z.number()), tokenLogprob: z.number() })),
      }),
    )
    .optional(),
});

/**
 * Full-vocabulary divergence of candidates from a reference on token sequences (corpus chunks, or
 * eval cases' prompt + forced output), computed in the engine as logits are produced; only
 * per-position numbers come back (see llm/position-divergence.ts for the definitions).
 */
export const divergenceRequestSchema = z.object({
  id: z.string(),
  reference: modelSpecSchema,
  candidates: z.array(modelSpecSchema),
  /**
   * The sequences, evaluated side by side in one batch (as llama-perplexity evaluates several
   * chunks per batch): each a corpus chunk (`tokens`, position k predicting tokens[k + 1], scored
   * from `from` to the second-to-last token) or an eval case (`messages` rendered with the
   * reference's template, then its `forced` tokens scored).
   */
  sequences: z.array(divergenceSequenceSchema).min(1).max(64),
  /** Context size per sequence (each must fit). */
  contextSize: z.number().int().min(2),
  /**
   * Sequences per context (default: as many as `sequences`). A caller sending batches of up to N
   * sequences passes N every time, so the contexts — and the memory llama.cpp reserves for their
   * batches — stay the same whatever the length of the text.
   */
  parallel: z.number().int().min(1).max(64).optional(),
  /** "exact": float64 reference; "llama16": llama-perplexity's 16-bit storage, emulated. */
  storage: z.enum(["exact", "llama16"]),
});

export const divergenceValuesSchema = z.object({ kld: z.array(z.number()), dp: z.array(z.number()), nll: z.array(z.number()), sameTop: z.array(z.boolean()) });

export const divergenceSequenceResultSchema = z.object({
  /** Scored positions. */
  positions: z.number().int().min(0),
  /** −ln p(next token) under the reference, per position. */
  nllBase: z.array(z.number()),
  /** Per candidate, then per external candidate, in request order. */
  candidates: z.array(divergenceValuesSchema),
});

export const divergenceResultSchema = z.object({
  id: z.string(),
  /** One per requested sequence, in order. */
  sequences: z.array(divergenceSequenceResultSchema),
  /** Vocabulary size (0 when nothing was scored). */
  vocab: z.number().int().min(0),
  wallMs: z.number(),
  /** Peak resident memory of the engine process so far (bytes), for memory reports. */
  peakRssBytes: z.number().min(0),
});

/** A text tokenized for corpus statistics with a model's vocabulary. */
export const corpusTokensSchema = z.object({
  tokens: z.array(z.number().int().min(0)),
  /** The vocabulary adds BOS at the start of a text (llama-perplexity then puts BOS first in every chunk). */
  addBos: z.boolean(),
  bos: z.number().int().nullable(),
  /** Vocabulary size from the model's metadata, when it states one. */
  vocab: z.number().int().nullable(),
});

export const engineSettingsSchema = z.object({
  gpu: z.enum(["auto", "cuda", "vulkan", "metal", "cpu"]),
  /** "auto" = measured once per machine and cached; a number forces it. */
  threads: z.union([z.literal("auto"), z.number().int().min(1)]),
  contextSize: z.number().int().min(16),
  parallelSequences: z.number().int().min(1),
  /** LRU budget for loaded models, bytes. */
  memoryBudgetBytes: z.number().min(0),
  /**
   * Wall-clock bound for one case (its prompt template and generation) and for preparing a
   * model's context, ms; a model load may take max(this, 10 minutes). A case over it fails with
   * kind "timeout" and the rest of the batch goes on in a fresh worker. Default 300,000 (5 min).
   * The parent enforces it.
   */
  caseTimeoutMs: z.number().min(1).optional(),
});

export const tokenAlternativeSchema = z.object({ token: z.number().int(), text: z.string(), prob: z.number() });
export const generatedTokenSchema = z.object({
  token: z.number().int(),
  text: z.string(),
  /**
   * Probability the model gave this token when it was chosen; -1 when not computed (greedy with
   * topLogprobs 0 takes the fast path, which skips the per-token sort of the whole vocabulary).
   */
  prob: z.number(),
  /** Top alternatives at this position, most likely first (includes the chosen token if in top-k). */
  top: z.array(tokenAlternativeSchema),
});

export const generateResultSchema = z.object({
  id: z.string(),
  text: z.string(),
  tokens: z.array(generatedTokenSchema),
  promptTokens: z.number().int(),
  /** "chat": the GGUF's chat template was applied; "completion": plain text of the messages. */
  template: z.enum(["chat", "completion"]),
  stopReason: z.enum(["eos", "stop", "maxTokens", "cancelled"]),
  timeToFirstTokenMs: z.number(),
  wallMs: z.number(),
  tokensPerSecond: z.number(),
});

export const scoredPositionSchema = z.object({
  /** Probability of the forced token at this position. */
  forcedProb: z.number(),
  /** This model's top-K, most likely first. */
  top: z.array(z.object({ token: z.number().int(), prob: z.number() })),
  /** Probabilities of the probe ids, in probe order (absent when no probe was given). */
  probe: z.array(z.number()).optional(),
});

export const scoreResultSchema = z.object({
  id: z.string(),
  positions: z.array(scoredPositionSchema),
  wallMs: z.number(),
});

export const embedResultSchema = z.array(z.array(z.number()));

/** A failure the caller can show as is: names the variant and file and says what to do. */
export const engineFailureSchema = z.object({
  kind: z.enum(["model-missing", "model-corrupt", "adapter-mismatch", "out-of-memory", "crashed", "cancelled", "timeout", "other"]),
  message: z.string(),
  variant: z.string().optional(),
  file: z.string().optional(),
});

export const engineInfoSchema = z.object({
  backend: z.enum(["cpu", "cuda", "vulkan", "metal"]),
  threads: z.number().int(),
  /** "auto-pending": threads are auto and no model has been loaded yet (measured on first use). */
  threadsSource: z.enum(["auto-measured", "auto-cached", "setting", "auto-pending"]),
  engineVersion: z.string(),
  loadedModels: z.array(z.object({ variant: z.string(), modelPath: z.string(), bytes: z.number(), threads: z.number().optional() })),
  /** node-llama-cpp's version (part of the engine version). */
  llamaVersion: z.string().optional(),
  /** Parallel sequences per context in use (1 on CPU, where batching gave no gain; the setting on GPU). */
  sequences: z.number().int().optional(),
  /** Why that sequence count was chosen. */
  sequencesReason: z.string().optional(),
  /** CPU time the engine process has used so far (user + system, ms; for benchmarks and diagnostics). */
  cpuMs: z.number().optional(),
});

/** Messages the parent sends to the worker. `rid` pairs a request with its replies. */
export const toWorkerSchema = z.discriminatedUnion("type", [
  /** First message: the engine settings (the worker loads nothing until a request needs it). */
  z.object({ type: z.literal("init"), settings: engineSettingsSchema }),
  /** One generation; `stream` asks for a `token` message per generated token. */
  z.object({ type: z.literal("generate"), rid: z.number().int(), req: generateRequestSchema, stream: z.boolean() }),
  /** A batch: the worker orders it by shared prefix and answers one `item` per request, then `result`. */
  z.object({ type: z.literal("generateMany"), rid: z.number().int(), reqs: z.array(generateRequestSchema), stream: z.boolean().optional() }),
  /** Teacher forcing. */
  z.object({ type: z.literal("score"), rid: z.number().int(), req: scoreRequestSchema }),
  /** Full-vocabulary divergence of candidates from a reference on one sequence (corpus chunk or eval case). */
  z.object({ type: z.literal("divergence"), rid: z.number().int(), req: divergenceRequestSchema }),
  /** A text tokenized for corpus statistics (vocab-only load); result: CorpusTokens. */
  z.object({ type: z.literal("corpusTokens"), rid: z.number().int(), modelPath: z.string(), text: z.string() }),
  /** Token count with the model's own vocabulary (vocab-only load). */
  z.object({ type: z.literal("countTokens"), rid: z.number().int(), modelPath: z.string(), text: z.string() }),
  /** Embedding vectors of texts with an embedding model (for `similar` assertions); result: number[][]. */
  z.object({ type: z.literal("embed"), rid: z.number().int(), modelPath: z.string(), texts: z.array(z.string()) }),
  z.object({ type: z.literal("info"), rid: z.number().int() }),
  /** Cancel one request (its `rid`), or every request when rid is absent. */
  z.object({ type: z.literal("cancel"), rid: z.number().int().optional() }),
  /** Test hook: the worker aborts the process (simulates a native crash). */
  z.object({ type: z.literal("crash") }),
]);
export type ToWorker = z.infer<typeof toWorkerSchema>;

/** Messages the worker sends to the parent. */
export const fromWorkerSchema = z.discriminatedUnion("type", [
  /** The worker process is up and has the settings. */
  z.object({ type: z.literal("ready") }),
  /** A streamed token of a `generate` (or of item `id` of a `generateMany`). */
  z.object({ type: z.literal("token"), rid: z.number().int(), id: z.string(), token: generatedTokenSchema }),
  /** One finished request of a `generateMany`. */
  z.object({
    type: z.literal("item"),
    rid: z.number().int(),
    result: generateResultSchema.optional(),
    failure: z.object({ id: z.string(), failure: engineFailureSchema }).optional(),
  }),
  /** The variant and file the worker is working on now, so a crash can name them. */
  z.object({ type: z.literal("busy"), rid: z.number().int(), variant: z.string(), file: z.string() }),
  /**
   * What the worker starts now for request `rid`: loading a model ("load"), preparing its context
   * and chat template ("prepare"), rendering case `id`'s prompt through the chat template
   * ("template"), or generating case `id` ("case"). The parent bounds the time between such
   * steps and stops a worker that overruns it.
   */
  z.object({ type: z.literal("phase"), rid: z.number().int(), phase: z.enum(["load", "prepare", "template", "case"]), id: z.string().optional() }),
  /** Final answer of a request (value shape depends on the request type; validated by the caller). */
  z.object({ type: z.literal("result"), rid: z.number().int(), value: z.unknown() }),
  /** The request failed as a whole. */
  z.object({ type: z.literal("error"), rid: z.number().int(), failure: engineFailureSchema }),
  /** A diagnostic line for the parent's log. */
  z.object({ type: z.literal("log"), line: z.string() }),
]);
export type FromWorker = z.infer<typeof fromWorkerSchema>;

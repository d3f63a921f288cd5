// Wire contract between EngineClient (server/src/llm/client.ts, the parent) and the engine worker
// (server/src/llm/worker.ts → dist/engine-worker.js, a child process). Both sides validate every
// message with these schemas: a malformed message is a bug to report, never something to act on.
// The payload shapes mirror server/src/llm/types.ts (the engine contract).
import { z } from "zod";

const chatMessage = z.object({ role: z.enum(["system", "user", "model", "tool"]), text: z.string() });
const adapterRef = z.object({ path: z.string(), scale: z.number() });
const modelSpec = z.object({ variant: z.string(), modelPath: z.string(), adapters: z.array(adapterRef) });
const samplingParams = z.object({
  temperature: z.number().min(0),
  topK: z.number().int().min(0).optional(),
  topP: z.number().min(0).max(1).optional(),
  maxTokens: z.number().int().min(0),
  stop: z.array(z.string()),
  seed: z.number().int(),
});

export const generateRequestSchema = z.object({
  id: z.string(),
  model: modelSpec,
  messages: z.array(chatMessage),
  params: samplingParams,
  topLogprobs: z.number().int().min(0).max(100),
  structured: z.object({ grammar: z.string().min(1).max(4_000_000), schema: z.record(z.string(), z.unknown()).nullable() }).optional(),
});

export const scoreRequestSchema = z.object({
  id: z.string(),
  model: modelSpec,
  messages: z.array(chatMessage),
  tokens: z.array(z.number().int()),
  topK: z.number().int().min(0).max(100),
  probe: z.array(z.array(z.number().int())).optional(),
});

const divergenceSequenceSchema = z.object({
  tokens: z.array(z.number().int().min(0)).optional(),
  from: z.number().int().min(0).optional(),
  messages: z.array(chatMessage).optional(),
  forced: z.array(z.number().int().min(0)).optional(),
  external: z
    .array(
      z.object({
        topK: z.number().int().min(1),
        positions: z.array(z.object({ ids: z.array(z.number().int().min(0)), logprobs: z.array(z.number()), tokenLogprob: z.number() })),
      }),
    )
    .optional(),
});

const divergenceRequestSchema = z.object({
  id: z.string(),
  reference: modelSpec,
  candidates: z.array(modelSpec),
  sequences: z.array(divergenceSequenceSchema).min(1).max(64),
  contextSize: z.number().int().min(2),
  parallel: z.number().int().min(1).max(64).optional(),
  storage: z.enum(["exact", "llama16"]),
});

const divergenceValuesSchema = z.object({ kld: z.array(z.number()), dp: z.array(z.number()), nll: z.array(z.number()), sameTop: z.array(z.boolean()) });

export const divergenceResultSchema = z.object({
  id: z.string(),
  sequences: z.array(z.object({ positions: z.number().int().min(0), nllBase: z.array(z.number()), candidates: z.array(divergenceValuesSchema) })),
  vocab: z.number().int().min(0),
  wallMs: z.number(),
  peakRssBytes: z.number().min(0),
});

export const corpusTokensSchema = z.object({ tokens: z.array(z.number().int().min(0)), addBos: z.boolean(), bos: z.number().int().nullable(), vocab: z.number().int().nullable() });

export const engineSettingsSchema = z.object({
  gpu: z.enum(["auto", "cuda", "vulkan", "metal", "cpu"]),
  threads: z.union([z.literal("auto"), z.number().int().min(1)]),
  contextSize: z.number().int().min(16),
  parallelSequences: z.number().int().min(1),
  memoryBudgetBytes: z.number().min(0),
  /** Wall-clock bound per case, ms (the parent enforces it; see EngineSettings). */
  caseTimeoutMs: z.number().min(1).optional(),
});

const tokenAlternative = z.object({ token: z.number().int(), text: z.string(), prob: z.number() });
export const generatedTokenSchema = z.object({
  token: z.number().int(),
  text: z.string(),
  prob: z.number(),
  top: z.array(tokenAlternative),
});

export const generateResultSchema = z.object({
  id: z.string(),
  text: z.string(),
  tokens: z.array(generatedTokenSchema),
  promptTokens: z.number().int(),
  template: z.enum(["chat", "completion"]),
  stopReason: z.enum(["eos", "stop", "maxTokens", "cancelled"]),
  timeToFirstTokenMs: z.number(),
  wallMs: z.number(),
  tokensPerSecond: z.number(),
});

export const scoreResultSchema = z.object({
  id: z.string(),
  positions: z.array(
    z.object({
      forcedProb: z.number(),
      top: z.array(z.object({ token: z.number().int(), prob: z.number() })),
      probe: z.array(z.number()).optional(),
    }),
  ),
  wallMs: z.number(),
});

export const embedResultSchema = z.array(z.array(z.number()));

export const engineFailureSchema = z.object({
  kind: z.enum(["model-missing", "model-corrupt", "adapter-mismatch", "out-of-memory", "crashed", "cancelled", "timeout", "other"]),
  message: z.string(),
  variant: z.string().optional(),
  file: z.string().optional(),
});

export const engineInfoSchema = z.object({
  backend: z.enum(["cpu", "cuda", "vulkan", "metal"]),
  threads: z.number().int(),
  threadsSource: z.enum(["auto-measured", "auto-cached", "setting", "auto-pending"]),
  engineVersion: z.string(),
  loadedModels: z.array(z.object({ variant: z.string(), modelPath: z.string(), bytes: z.number(), threads: z.number().optional() })),
  llamaVersion: z.string().optional(),
  sequences: z.number().int().optional(),
  sequencesReason: z.string().optional(),
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

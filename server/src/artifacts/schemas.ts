// The YAML shapes Driftlens reads, defined once as zod schemas (key names as in the
// formats README and docs/formats.md give). Unknown keys are not schema errors: they are reported as warnings by the
// parsers (DLx02/x11/x12), so every object here is loose and the parsers list the known keys.
import { z } from "zod";

// ---------- driftlens.yaml ----------

/** A served model: OpenAI-compatible endpoints (llama-server, vLLM, Ollama, …) instead of a GGUF file. */
export const remoteVariantSchema = z.looseObject({
  endpoints: z.union([z.string().min(1), z.array(z.string().min(1)).min(1, "list at least one endpoint URL")]),
  /** The name the server serves the model under; default: the server's only model. */
  model: z.string().min(1).optional(),
  /** Environment variable holding the API key (the key itself never goes in driftlens.yaml). */
  apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "the name of an environment variable (letters, digits, '_'), not the key itself").optional(),
  /** Requests in flight per endpoint; default: what the server reports (llama-server slots), else 4. */
  concurrency: z.number().int().min(1).max(1024).optional(),
  /** Part of the fingerprint: change it when the served weights change under the same name. */
  revision: z.union([z.string().min(1), z.number()]).optional(),
  /** auto: the served model's chat template when it has one, else the local engine's plain text. */
  template: z.enum(["auto", "chat", "completion"]).optional(),
  /** Per-request time limit (default 300). */
  timeoutSeconds: z.number().positive().max(86400).optional(),
});
export const REMOTE_VARIANT_KEYS = ["endpoints", "model", "apiKeyEnv", "concurrency", "revision", "template", "timeoutSeconds"] as const;

const variantEntry = z.union([
  z.string().min(1, "a variant needs a GGUF path (or ollama:name, hf:org/name/file.gguf, lmstudio:publisher/model)"),
  remoteVariantSchema,
  z
    .looseObject({
      path: z.string().min(1).optional(),
      // A model in a store instead of a path (server/src/artifacts/model-stores/spec.ts).
      ollama: z.string().min(1).optional(),
      hf: z.string().min(1).optional(),
      lmstudio: z.string().min(1).optional(),
      file: z.string().min(1).optional(),
      revision: z.string().min(1).optional(),
      contextSize: z.number().int().positive().optional(),
    })
    .refine((v) => v.path !== undefined || v.ollama !== undefined || v.hf !== undefined || v.lmstudio !== undefined, "a variant needs path (a GGUF file), ollama, hf or lmstudio"),
]);

export const familySchema = z.looseObject({
  /** Variant the others are compared against. Default: the highest-precision variant. */
  reference: z.string().min(1).optional(),
  variants: z.record(z.string().min(1), variantEntry).default({}),
  /** Folder(s) scanned for GGUF files; each file becomes a variant named by its quant type. */
  scan: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
  /** A text for corpus KL divergence (the quant ladder, `driftlens kld`): a file, or {text, ctx, chunks}. */
  corpus: z
    .union([
      z.string().min(1, "a text file (relative to driftlens.yaml)"),
      z.looseObject({
        text: z.string().min(1, "a text file (relative to driftlens.yaml)"),
        ctx: z.number().int().min(4).max(1 << 20).optional(),
        chunks: z.number().int().min(1).optional(),
      }),
    ])
    .optional(),
});
export const FAMILY_KEYS = ["reference", "variants", "scan", "corpus"] as const;
export const CORPUS_KEYS = ["text", "ctx", "chunks"] as const;

const byteSize = z.union([
  z.literal("auto"),
  z.number().int().positive(),
  z.string().regex(/^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$/i, 'a size like "8GiB", a number of bytes, or "auto"'),
]);

/** A duration: seconds as a number, or "90s", "5m", "1h", "1500ms". */
const duration = z.union([
  z.number().positive().max(86400),
  z.string().regex(/^\s*\d+(\.\d+)?\s*(ms|s|m|h)\s*$/i, 'a duration like "300s" or "5m", or a number of seconds'),
]);

export const engineSchema = z.looseObject({
  gpu: z.enum(["auto", "cuda", "vulkan", "metal", "cpu"]).default("auto"),
  threads: z.union([z.literal("auto"), z.number().int().min(1).max(1024)]).default("auto"),
  contextSize: z.number().int().min(16).max(1 << 22).default(2048),
  parallelSequences: z.number().int().min(1).max(256).default(8),
  memoryBudget: byteSize.default("auto"),
  /** Wall-clock bound per case (and for preparing a model's context); a case over it fails. */
  caseTimeout: duration.default("300s"),
});
export const ENGINE_KEYS = ["gpu", "threads", "contextSize", "parallelSequences", "memoryBudget", "caseTimeout"] as const;

export const gateSchema = z.looseObject({
  maxPassRateDrop: z.number().min(0).max(1).default(0.02),
  maxSliceDrop: z.number().min(0).max(1).default(0.1),
  alpha: z.number().gt(0).lt(1).default(0.05),
  /** Largest allowed mean KL divergence (nats) from the reference on the family's corpus (ladder, `driftlens kld`). */
  maxKld: z.number().min(0).optional(),
});
export const GATE_KEYS = ["maxPassRateDrop", "maxSliceDrop", "alpha", "maxKld"] as const;

export const promptsSchema = z.looseObject({
  /** Extra folders searched for `_name.prompt` partials (relative to driftlens.yaml). */
  partials: z.array(z.string().min(1)).default([]),
});
export const PROMPTS_KEYS = ["partials"] as const;

export const embeddingSchema = z.looseObject({
  /** Embedding model for `similar`: a GGUF path (relative to driftlens.yaml) or a `family/variant`. */
  model: z.string().min(1, "a GGUF path (relative to driftlens.yaml) or a family/variant").optional(),
});
export const EMBEDDING_KEYS = ["model"] as const;

/** Where the model stores are, when not where their own tools would look (paths relative to driftlens.yaml). */
export const modelStoresSchema = z.looseObject({
  huggingface: z.string().min(1).optional(),
  lmstudio: z.string().min(1).optional(),
  ollama: z.string().min(1).optional(),
});
export const MODEL_STORES_KEYS = ["huggingface", "lmstudio", "ollama"] as const;

export const configFileSchema = z.looseObject({
  models: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, "family names use letters, digits, '_', '.', '-'"), familySchema).default({}),
  engine: engineSchema.default(() => engineSchema.parse({})),
  gate: gateSchema.default(() => gateSchema.parse({})),
  store: z.string().min(1).default(".driftlens/store.db"),
  prompts: promptsSchema.default(() => promptsSchema.parse({})),
  /** Optional: without it, `similar` assertions fail saying how to configure one. */
  embedding: embeddingSchema.optional(),
  /** Default judge of model-graded assertions: a family/variant. */
  grader: z.string().min(1, "a family/variant, e.g. tiny/q8_0").optional(),
  modelStores: modelStoresSchema.optional(),
  /** Providers of adopted formats (promptfoo ids, `.prompt.yml` models, Prompty model ids) → variants. */
  providers: z.record(z.string().min(1), z.string().min(1, "a family/variant, e.g. tiny/f16")).default({}),
});
export const CONFIG_KEYS = ["models", "engine", "gate", "store", "prompts", "embedding", "grader", "modelStores", "providers"] as const;
export type ConfigFile = z.infer<typeof configFileSchema>;

// ---------- .prompt front matter ----------

export const promptFrontMatterSchema = z.looseObject({
  name: z.string().optional(),
  variant: z.string().optional(),
  version: z.string().optional(),
  description: z.string().optional(),
  model: z.string().min(1).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  input: z
    .looseObject({
      schema: z.unknown().optional(),
      default: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  output: z
    .looseObject({
      format: z.string().optional(),
      schema: z.unknown().optional(),
    })
    .optional(),
  tools: z.array(z.string()).optional(),
  "driftlens.evals": z.array(z.string().min(1)).optional(),
  "driftlens.variant": z.string().min(1).optional(),
  "driftlens.sample": z.record(z.string(), z.unknown()).optional(),
  /** false: a JSON prompt generates without its grammar (outputs are still validated). */
  "driftlens.constrain": z.boolean().optional(),
});

// ---------- eval sets ----------

/** Most samples per case: bounds the work one case can ask for. */
export const REPEAT_MAX = 1000;

export const assertionSchema = z.looseObject({
  type: z.string().min(1),
  value: z.unknown().optional(),
  threshold: z.number().optional(),
  weight: z.number().min(0).optional(),
  metric: z.string().optional(),
});

export const provenanceSchema = z.looseObject({
  source: z.string().optional(),
  author: z.string().optional(),
  added: z.union([z.string(), z.date()]).optional(),
  issue: z.string().optional(),
  commit: z.string().optional(),
});

export const caseSchema = z.looseObject({
  id: z.union([z.string().min(1), z.number()]),
  vars: z.record(z.string(), z.unknown()).default({}),
  assert: z.array(assertionSchema).default([]),
  tags: z.array(z.union([z.string().min(1), z.number()])).default([]),
  why: z.string().optional(),
  provenance: z.union([z.string(), provenanceSchema]).optional(),
  threshold: z.number().min(0).max(1).optional(),
  description: z.string().optional(),
  /** Samples drawn for this case (overrides the eval set's and --repeat). */
  repeat: z.number().int().min(1).max(REPEAT_MAX).optional(),
});
export const CASE_KEYS = ["id", "vars", "assert", "tags", "why", "provenance", "threshold", "description", "repeat"] as const;

export const sliceSchema = z.looseObject({
  /** Cases carrying any of these tags belong to the slice. */
  tags: z.array(z.string()).optional(),
  description: z.string().optional(),
});

export const evalHeaderSchema = z.looseObject({
  prompt: z.string().min(1).optional(),
  description: z.string().optional(),
  /** Named slices; by default every tag is a slice. */
  slices: z.record(z.string(), z.union([sliceSchema, z.array(z.string())])).optional(),
  /** Assertions applied to every case. */
  defaultAssert: z.array(assertionSchema).optional(),
  cases: z.array(z.unknown()).default([]),
  /** Samples drawn per case (default 1). */
  repeat: z.number().int().min(1).max(REPEAT_MAX).optional(),
  /** Judge of the model-graded assertions: a family/variant from driftlens.yaml. */
  grader: z.string().min(1).optional(),
});
export const EVAL_KEYS = ["prompt", "description", "slices", "defaultAssert", "cases", "repeat", "grader"] as const;

// ---------- adapters ----------

export const adapterSchema = z.looseObject({
  file: z.string().min(1),
  base: z.union([
    z.string().min(1),
    z.looseObject({
      model: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "a sha256 is 64 hex digits").optional(),
    }),
  ]),
  scale: z.number().min(-100).max(100).default(1),
  training: z
    .looseObject({
      dataset: z.string().min(1).optional(),
      datasetSha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "a sha256 is 64 hex digits").optional(),
      recipe: z.string().optional(),
      commit: z.string().optional(),
      hyperparameters: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  compose: z
    .array(
      z.looseObject({
        adapter: z.string().min(1),
        scale: z.number().min(-100).max(100).default(1),
      }),
    )
    .default([]),
  evals: z.array(z.string().min(1)).default([]),
  description: z.string().optional(),
});
export const ADAPTER_KEYS = ["file", "base", "scale", "training", "compose", "evals", "description"] as const;
export type AdapterFile = z.infer<typeof adapterSchema>;

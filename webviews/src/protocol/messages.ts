// Messages between the extension host and the two webviews (compare models, eval deltas). Both
// directions are untrusted: each side parses what it receives with these schemas and drops what
// does not parse. Everything textual here (model output, case ids, file names) is rendered by the
// webviews with textContent only.
import { z } from "zod";

const Num = z.number().finite();

export const TokenSchema = z.object({ text: z.string(), prob: Num });
export const AssertionSchema = z.object({
  type: z.string(),
  pass: z.boolean(),
  message: z.string().optional(),
  expected: z.string().optional(),
});

/** One case's result on one variant (a cell of the compare grid). */
export const CellSchema = z.object({
  caseId: z.string(),
  variant: z.string(),
  output: z.string(),
  pass: z.boolean(),
  error: z.string().optional(),
  cached: z.boolean().optional(),
  assertions: z.array(AssertionSchema),
  tokens: z.array(TokenSchema).optional(),
  tokensPerSecond: Num.nullable().optional(),
  timeToFirstTokenMs: Num.nullable().optional(),
  wallMs: Num.nullable().optional(),
  /** Teacher-forced KL divergence from the reference column (mean over positions). */
  kld: Num.nullable().optional(),
  /** Sampled cases (repeat: N): share of passing samples, and every sample (shown collapsed). */
  passFraction: Num.optional(),
  samples: z.array(z.object({ output: z.string(), pass: z.boolean(), message: z.string().optional() })).max(1000).optional(),
});
export type Cell = z.infer<typeof CellSchema>;

export const CaseRowSchema = z.object({ id: z.string(), tags: z.array(z.string()), evalSet: z.string() });
export type CaseRow = z.infer<typeof CaseRowSchema>;

export const VariantStatsSchema = z.object({
  variant: z.string(),
  passRate: Num.nullable(),
  tokensPerSecond: Num.nullable(),
  timeToFirstTokenMs: Num.nullable(),
  tokens: Num.nullable(),
  memoryBytes: Num.nullable(),
  kldMean: Num.nullable(),
  /** Why there is no KL (a served model whose server returns no prompt logprobs), or where it came from. */
  kldNote: z.string().max(500).optional(),
});
export type VariantStats = z.infer<typeof VariantStatsSchema>;

// ---- compare webview ----

/** One rung of the quant ladder (server/src/eval/report/ladder-types.ts, the fields the chart uses). */
export const LadderRungSchema = z.object({
  variant: z.string(),
  quant: z.string().nullable(),
  fileBytes: Num.nullable(),
  isReference: z.boolean(),
  passRate: Num,
  gatePassed: z.boolean(),
  evalKld: Num,
  corpusKld: z.object({ mean: Num, stderr: Num, p99: Num, sameTop: Num, pplRatio: Num }).nullable(),
  withinMaxKld: z.boolean(),
  recommended: z.boolean(),
  verdict: z.string(),
});
export const LadderSchema = z.object({
  family: z.string(),
  reference: z.string(),
  maxKld: Num.nullable(),
  kldSource: z.enum(["corpus", "evals"]),
  corpus: z.object({ text: z.string(), ctx: Num, chunks: Num, tokens: Num }).nullable(),
  rungs: z.array(LadderRungSchema).max(256),
  recommended: z.string().nullable(),
  summary: z.string(),
});
export type LadderView = z.infer<typeof LadderSchema>;

export const CompareToWebviewSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("init"),
    prompt: z.string(),
    /** Every variant the workspace defines; `selected` are the columns shown. */
    variants: z.array(z.string()),
    selected: z.array(z.string()),
    reference: z.string().nullable(),
    cases: z.array(CaseRowSchema),
    trusted: z.boolean(),
  }),
  z.object({ type: z.literal("started"), variants: z.array(z.string()), reference: z.string().nullable() }),
  z.object({ type: z.literal("cells"), cells: z.array(CellSchema) }),
  z.object({ type: z.literal("progress"), done: Num, total: Num }),
  z.object({ type: z.literal("stats"), stats: z.array(VariantStatsSchema) }),
  /** The quant ladder of the compared family: size vs pass rate and KL divergence. */
  z.object({ type: z.literal("ladder"), ladder: LadderSchema }),
  z.object({ type: z.literal("done"), status: z.string(), message: z.string().optional() }),
]);
export type CompareToWebview = z.infer<typeof CompareToWebviewSchema>;

export const CompareFromWebviewSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready") }),
  z.object({ type: z.literal("run"), variants: z.array(z.string()).min(1).max(64), caseIds: z.array(z.string()).optional() }),
  z.object({ type: z.literal("cancel") }),
  z.object({ type: z.literal("export"), markdown: z.string().max(20_000_000) }),
  z.object({ type: z.literal("openCase"), caseId: z.string(), evalSet: z.string() }),
  /** Sent once the grid has painted everything it was given (benchmarks and tests wait on it). */
  z.object({ type: z.literal("painted"), cells: Num, ms: Num }),
]);
export type CompareFromWebview = z.infer<typeof CompareFromWebviewSchema>;

// ---- delta webview ----

export const SliceRowSchema = z.object({
  name: z.string(),
  cases: Num,
  basePassRate: Num,
  passRate: Num,
  delta: Num,
  ci: z.tuple([Num, Num]),
  pValue: Num,
  minDetectableDrop: Num.nullable(),
  failsGate: z.boolean(),
});
export const WordPartSchema = z.object({ op: z.enum(["=", "+", "-"]), text: z.string() });
export const FlipSchema = z.object({
  id: z.string(),
  from: z.enum(["pass", "fail"]),
  to: z.enum(["pass", "fail"]),
  tags: z.array(z.string()),
  baseOutput: z.string(),
  headOutput: z.string(),
  outputDiff: z.array(WordPartSchema),
});
export const DeltaPromptSchema = z.object({
  file: z.string(),
  status: z.string(),
  variant: z.string(),
  evalSet: z.string(),
  basePassRate: Num.nullable(),
  headPassRate: Num.nullable(),
  delta: Num.nullable(),
  ci: z.tuple([Num, Num]).nullable(),
  pValue: Num.nullable(),
  cases: Num,
  slices: z.array(SliceRowSchema),
  flips: z.array(FlipSchema),
  evalSetChanged: z.boolean(),
  gate: z.object({ passed: z.boolean(), reasons: z.array(z.string()), warnings: z.array(z.string()) }),
});
export type DeltaPrompt = z.infer<typeof DeltaPromptSchema>;

export const DeltaToWebviewSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("loading"), file: z.string(), baseRef: z.string() }),
  z.object({
    type: z.literal("report"),
    base: z.object({ ref: z.string(), commit: z.string().nullable() }),
    head: z.object({ ref: z.string(), commit: z.string().nullable() }),
    prompts: z.array(DeltaPromptSchema),
    gate: z.object({ passed: z.boolean(), reasons: z.array(z.string()), warnings: z.array(z.string()) }),
  }),
  z.object({ type: z.literal("error"), message: z.string() }),
]);
export type DeltaToWebview = z.infer<typeof DeltaToWebviewSchema>;

export const DeltaFromWebviewSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready") }),
  z.object({ type: z.literal("openCase"), caseId: z.string(), evalSet: z.string() }),
  z.object({ type: z.literal("painted"), ms: Num }),
]);
export type DeltaFromWebview = z.infer<typeof DeltaFromWebviewSchema>;

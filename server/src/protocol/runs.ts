// Custom LSP methods for runs, comparisons, deltas, status and history (client <-> server), all
// prefixed `driftlens/`. Re-exported from ./lsp (the one home of the LSP contract). Reports from
// the engine (EvalReport, CompareReport, DiffReport) travel as the engine built them, typed and
// parsed by their schemas in ./reports.
import { z } from "zod";
import { CompareReportSchema, DiffReportSchema, type EvalReport } from "./reports";

/** A prompt and (optionally) one of its eval sets; absolute paths. */
export const RunTargetSchema = z.object({ promptFile: z.string(), evalSetFile: z.string().optional() });
export type RunTarget = z.infer<typeof RunTargetSchema>;

/**
 * `driftlens/run` (client → server request): runs evals. `file` is a prompt or an eval set (its
 * targets are resolved on the server); `caseIds`/`slices` narrow the cases. Progress and case
 * results stream as `driftlens/runProgress` and `driftlens/caseResult` notifications carrying
 * `runId`. LSP cancellation ($/cancelRequest) and `driftlens/cancelRun` both stop it.
 */
export const RunMethod = "driftlens/run";
export const RunParamsSchema = z.object({
  runId: z.string().min(1),
  file: z.string().optional(),
  targets: z.array(RunTargetSchema).optional(),
  variants: z.array(z.string()).optional(),
  caseIds: z.array(z.string()).optional(),
  slices: z.array(z.string()).optional(),
  noCache: z.boolean().optional(),
  /** Also teacher-force each variant against its reference and return a CompareReport. */
  compare: z.boolean().optional(),
});
export type RunParams = z.infer<typeof RunParamsSchema>;

export const RunSummarySchema = z.object({
  promptFile: z.string(),
  evalSetFile: z.string(),
  variant: z.string(),
  cases: z.number(),
  passed: z.number(),
  failed: z.number(),
  errors: z.number(),
  tokensPerSecond: z.number().nullable(),
  wallMs: z.number().nullable(),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

export const RunResultSchema = z.object({
  runId: z.string(),
  status: z.enum(["completed", "cancelled", "failed", "refused"]),
  /** One sentence for the user when status is not "completed". */
  message: z.string().optional(),
  summaries: z.array(RunSummarySchema),
  /**
   * The EvalReport (`driftlens eval --format json`), as the runner produced it. Typed, but not
   * parsed on arrival: the extension reads nothing from it, and parsing every token's alternatives
   * with EvalReportSchema costs about 0.2 µs an object (0.8 s for 4,000 cases of 64 tokens, top 5,
   * measured); a reader that uses it parses it with EvalReportSchema first.
   */
  report: z.custom<EvalReport>((v) => typeof v === "object" && v !== null).optional(),
  /** The CompareReport (`driftlens compare --format json`) when `compare` was asked. */
  compare: CompareReportSchema.optional(),
});
export type RunResult = z.infer<typeof RunResultSchema>;

/** `driftlens/runProgress` (server → client notification). */
export const RunProgressMethod = "driftlens/runProgress";
export const RunProgressSchema = z.object({
  runId: z.string(),
  done: z.number(),
  total: z.number(),
  message: z.string().optional(),
});
export type RunProgress = z.infer<typeof RunProgressSchema>;

export const AssertionOutcomeSchema = z.object({
  type: z.string(),
  pass: z.boolean(),
  score: z.number().nullable().optional(),
  message: z.string().optional(),
  /** What the assertion wanted (its `value`), as text. */
  expected: z.string().optional(),
});

export const TokenProbSchema = z.object({ text: z.string(), prob: z.number() });

/** `driftlens/caseResult` (server → client notification): one case on one variant finished. */
export const CaseResultMethod = "driftlens/caseResult";
export const CaseResultSchema = z.object({
  runId: z.string(),
  promptFile: z.string(),
  evalSetFile: z.string(),
  variant: z.string(),
  caseId: z.string(),
  tags: z.array(z.string()),
  pass: z.boolean(),
  score: z.number().nullable(),
  output: z.string(),
  /** Set when the case could not run (engine error, render error). */
  error: z.string().optional(),
  cached: z.boolean(),
  assertions: z.array(AssertionOutcomeSchema),
  /** Generated tokens with the probability the model gave each (for confidence heatmaps). */
  tokens: z.array(TokenProbSchema).optional(),
  tokensPerSecond: z.number().nullable().optional(),
  timeToFirstTokenMs: z.number().nullable().optional(),
  wallMs: z.number().nullable().optional(),
  /** Where the case is written (0-based line) in its eval set. */
  line: z.number().optional(),
  /** Sampled cases (repeat: N): the share of samples that pass, and each sample. */
  passFraction: z.number().optional(),
  samples: z.array(z.object({ output: z.string(), pass: z.boolean(), score: z.number().nullable().optional(), message: z.string().optional() })).optional(),
});
export type CaseResult = z.infer<typeof CaseResultSchema>;

/** `driftlens/cancelRun` (client → server request): cancels one run, or every run without runId. */
export const CancelRunMethod = "driftlens/cancelRun";
export const CancelRunParamsSchema = z.object({ runId: z.string().optional() });
export const CancelRunResultSchema = z.object({ cancelled: z.number() });

/** Engine state for the status bar. */
export const EngineStatusSchema = z.object({
  /** "cpu", "cuda", "vulkan", "metal", or null before the engine started. */
  backend: z.string().nullable(),
  loadedModels: z.array(z.string()),
  run: z.object({ runId: z.string(), title: z.string(), done: z.number(), total: z.number() }).nullable(),
  /** False in a restricted (untrusted) workspace: nothing is generated. */
  trusted: z.boolean(),
});
export type EngineStatus = z.infer<typeof EngineStatusSchema>;
/** `driftlens/status` (client → server request, no params) and `driftlens/statusChanged` (notification). */
export const StatusMethod = "driftlens/status";
export const StatusChangedMethod = "driftlens/statusChanged";

/** `driftlens/fingerprint` (client → server request): the behavioural fingerprint of a prompt. */
export const FingerprintMethod = "driftlens/fingerprint";
export const FingerprintParamsSchema = z.object({ file: z.string() });
export const FingerprintSchema = z.object({
  /** sha256 over prompt, eval sets, model file, adapters and params; null when not computable. */
  hash: z.string().nullable(),
  prompt: z.object({ file: z.string(), hash: z.string() }),
  evalSets: z.array(z.object({ file: z.string(), hash: z.string() })),
  model: z.object({ variant: z.string(), file: z.string().nullable(), hash: z.string().nullable() }).nullable(),
  adapters: z.array(z.object({ name: z.string(), scale: z.number(), hash: z.string().nullable() })),
  params: z.record(z.string(), z.unknown()),
  /** Why the hash is null, when it is. */
  problem: z.string().optional(),
});
export type Fingerprint = z.infer<typeof FingerprintSchema>;

/** `driftlens/lastRuns` (client → server request): the latest stored run per eval set and variant of a file, for CodeLens. */
export const LastRunsMethod = "driftlens/lastRuns";
export const LastRunsParamsSchema = z.object({ file: z.string(), baseRef: z.string().optional() });
export const LastRunLensSchema = z.object({
  promptFile: z.string(),
  evalSetFile: z.string(),
  variant: z.string(),
  passed: z.number(),
  cases: z.number(),
  at: z.string(),
  /** Against the latest run of the base version (same variant, same eval set), when stored. */
  delta: z
    .object({
      baseRef: z.string(),
      passedDelta: z.number(),
      /** Change in the worst slice's pass rate (the tail), as a fraction. */
      tailDelta: z.number().nullable(),
      flips: z.array(z.object({ caseId: z.string(), from: z.boolean(), to: z.boolean(), before: z.string(), after: z.string() })),
    })
    .nullable(),
  /** True when the file changed since this run (the numbers describe an older version). */
  stale: z.boolean(),
});
export type LastRunLens = z.infer<typeof LastRunLensSchema>;
export const LastRunsResultSchema = z.object({ lenses: z.array(LastRunLensSchema) });

/** `driftlens/deltas` (client → server request): evals of a prompt at a git ref vs the working tree (a DiffReport, as `driftlens diff --format json` prints it). */
export const DeltasMethod = "driftlens/deltas";
export const DeltasParamsSchema = z.object({ runId: z.string(), file: z.string(), baseRef: z.string(), variants: z.array(z.string()).optional() });
export const DeltasResultSchema = z.object({
  status: z.enum(["completed", "cancelled", "failed", "refused"]),
  message: z.string().optional(),
  report: DiffReportSchema.optional(),
});

/** `driftlens/history` (client → server request): stored runs, newest first. */
export const HistoryMethod = "driftlens/history";
export const HistoryParamsSchema = z.object({ file: z.string().optional(), limit: z.number().int().min(1).max(1000).default(50) });
export const HistoryEntrySchema = z.object({
  id: z.string(),
  at: z.string(),
  variant: z.string(),
  promptFile: z.string().nullable(),
  evalSetFile: z.string().nullable(),
  cases: z.number(),
  passed: z.number(),
  complete: z.boolean(),
  fingerprint: z.string().nullable(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;
export const HistoryResultSchema = z.object({ runs: z.array(HistoryEntrySchema) });

/** `driftlens/testTree` (client → server request): eval sets → slices → cases, for the Test Explorer. */
export const TestTreeMethod = "driftlens/testTree";
export const TestCaseItemSchema = z.object({ id: z.string(), tags: z.array(z.string()), line: z.number(), why: z.string().optional() });
export const TestTreeSchema = z.object({
  evalSets: z.array(z.object({ file: z.string(), promptFile: z.string().nullable(), cases: z.array(TestCaseItemSchema) })),
  variants: z.array(z.string()),
  references: z.array(z.string()),
});
export type TestTree = z.infer<typeof TestTreeSchema>;

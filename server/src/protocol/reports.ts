// The report payloads that cross a process: the EvalReport (`driftlens eval --format json`), the
// CompareReport (`driftlens compare --format json`) and the DiffReport (`driftlens diff --format
// json`). The engine builds them (server/src/eval: runner.ts, compare.ts, diff.ts, whose types are
// these, by z.infer), the CLI prints them as JSON, and the language server sends them to the
// extension in driftlens/run and driftlens/deltas answers, where they are parsed with these schemas.
// Fields are only ever added, never renamed. Shapes the engine keeps on a lower floor (statistics,
// store records, graders, endpoints) are checked equal to these in server/src/eval/report/contract.ts.
import { z } from "zod";

/**
 * A number that may have been NaN or ±Infinity when it was sent: JSON writes those as null, and
 * they come back as NaN (readers check finiteness, as they did before these payloads were typed).
 */
const WireNumber = z.union([z.number(), z.null().transform(() => Number.NaN)]);
const NullableNumber = z.number().nullable();
const Interval = z.tuple([WireNumber, WireNumber]);

// ---- shared pieces ----

export const OutcomeSchema = z.enum(["pass", "fail"]);

export const GateSchema = z.object({
  maxPassRateDrop: WireNumber,
  maxSliceDrop: WireNumber,
  alpha: WireNumber,
  /** Largest allowed mean corpus KLD (the ladder's recommendation); absent when not set. */
  maxKld: WireNumber.optional(),
});

export const GateResultSchema = z.object({
  passed: z.boolean(),
  /** Why it failed; one sentence each, naming the variant/prompt and slice. */
  reasons: z.array(z.string()),
  /** Not failures: e.g. slices too small to detect a drop of the gate's size. */
  warnings: z.array(z.string()),
});

export const SliceDeltaSchema = z.object({
  name: z.string(),
  cases: WireNumber,
  /** Pass rate of the candidate (compare) or head (diff). */
  passRate: WireNumber,
  /** Pass rate of the reference (compare) or base (diff). */
  basePassRate: WireNumber,
  delta: WireNumber,
  ci: Interval,
  pValue: WireNumber,
  /** Smallest drop this slice could show as significant at the gate's alpha; null = none. */
  minDetectableDrop: NullableNumber,
  regressions: WireNumber,
  fixes: WireNumber,
  /** This slice's drop exceeds the gate's maxSliceDrop (for sampled cases: and is significant). */
  failsGate: z.boolean(),
  /** Fewest samples behind a case of the slice, when cases were drawn more than once (repeat: N). */
  samples: WireNumber.optional(),
});

// ---- statistics (server/src/stats: Summary, KldStatistics) ----

export const SummarySchema = z.object({ mean: WireNumber, median: WireNumber, p99: WireNumber, max: WireNumber });

const MeanStderr = z.object({ mean: WireNumber, stderr: WireNumber });
const KldDistributionSchema = z.object({
  mean: WireNumber,
  stderr: WireNumber,
  max: WireNumber,
  p99_9: WireNumber,
  p99: WireNumber,
  p95: WireNumber,
  p90: WireNumber,
  median: WireNumber,
  p10: WireNumber,
  p5: WireNumber,
  p1: WireNumber,
  p0_1: WireNumber,
  min: WireNumber,
});
export const KldStatisticsSchema = z.object({
  /** Scored positions. */
  tokens: WireNumber,
  ppl: z.object({
    /** PPL(Q): the candidate's perplexity of the text. */
    value: WireNumber,
    /** PPL(base): the reference's. */
    reference: WireNumber,
    /** PPL(Q)/PPL(base) = exp(lnRatio.mean). */
    ratio: WireNumber,
    lnRatio: MeanStderr,
    /** Cor(ln PPL(Q), ln PPL(base)), −1..1. */
    cor: WireNumber,
  }),
  kld: KldDistributionSchema,
  dp: KldDistributionSchema.extend({ p75: WireNumber, p25: WireNumber, rms: WireNumber, rmsStderr: WireNumber }),
  sameTop: z.object({ rate: WireNumber, stderr: WireNumber }),
});

// ---- the quant ladder (`driftlens compare --family F --ladder`) ----

export const LadderCorpusSchema = z.object({
  /** The text as written in driftlens.yaml (relative to it). */
  text: z.string(),
  ctx: WireNumber,
  chunks: WireNumber,
  /** Scored tokens. */
  tokens: WireNumber,
});

export const LadderRungSchema = z.object({
  variant: z.string(),
  quant: z.string().nullable(),
  fileBytes: NullableNumber,
  isReference: z.boolean(),
  passRate: WireNumber,
  /** Pass rate change from the reference (0 for the reference). */
  delta: WireNumber,
  gatePassed: z.boolean(),
  /** Why the gate failed (from compare), empty when it passed. */
  gateReasons: z.array(z.string()),
  /** Mean teacher-forced KLD on the eval outputs. */
  evalKld: WireNumber,
  /** Corpus KLD (mean ± stderr, and the 99th percentile), when the family has a corpus. */
  corpusKld: z.object({ mean: WireNumber, stderr: WireNumber, p99: WireNumber, sameTop: WireNumber, pplRatio: WireNumber }).nullable(),
  /** Within gate.maxKld (true when no maxKld is set). */
  withinMaxKld: z.boolean(),
  recommended: z.boolean(),
  /** One line: why this rung is or is not recommended. */
  verdict: z.string(),
});

export const LadderReportSchema = z.object({
  family: z.string(),
  reference: z.string(),
  /** Largest allowed mean KLD (gate.maxKld); null when not set. */
  maxKld: NullableNumber,
  /** Which KLD maxKld is checked against: the corpus's when the family has one, else the eval outputs'. */
  kldSource: z.enum(["corpus", "evals"]),
  corpus: LadderCorpusSchema.nullable(),
  /** Smallest file first. */
  rungs: z.array(LadderRungSchema),
  /** The recommended variant; null when none passes. */
  recommended: z.string().nullable(),
  /** One sentence explaining the recommendation. */
  summary: z.string(),
});

// ---- grader agreement (`compare --cross-grader`) ----

export const GraderDisagreementSchema = z.object({
  variant: z.string(),
  evalSet: z.string(),
  id: z.string(),
  /** Sample index (0 for a case drawn once). */
  sample: WireNumber,
  type: z.string(),
  pass: z.boolean(),
  otherPass: z.boolean(),
  reason: z.string(),
  otherReason: z.string(),
});

export const GraderAgreementSchema = z.object({
  /** The grader the other is compared with: the configured one(s). */
  grader: z.string(),
  other: z.string(),
  /** Verdict pairs compared (assertion × case × sample × variant). */
  verdicts: WireNumber,
  /** Share of pairs where both graders give the same pass/fail. */
  agreement: WireNumber,
  /** Cohen's kappa of pass/fail (agreement beyond chance); null when one grader never varies. */
  kappa: NullableNumber,
  /** Mean |score − other score|. */
  meanScoreDelta: WireNumber,
  byType: z.record(z.string(), z.object({ verdicts: WireNumber, agreement: WireNumber })),
  /** Where they disagree (first 50). */
  disagreements: z.array(GraderDisagreementSchema),
});

// ---- CompareReport ----

export const CompareFlipSchema = z.object({
  id: z.string(),
  from: OutcomeSchema,
  to: OutcomeSchema,
  /** Sampled cases (repeat: N): the pass fractions the flip is between (a move of at least half the samples). */
  baseFraction: WireNumber.optional(),
  headFraction: WireNumber.optional(),
  tags: z.array(z.string()),
  evalSet: z.string(),
});

export const CaseKldSchema = z.object({
  id: z.string(),
  evalSet: z.string(),
  positions: WireNumber,
  mean: WireNumber,
  median: WireNumber,
  p99: WireNumber,
  max: WireNumber,
  top1Agreement: WireNumber,
  meanDeltaP: WireNumber,
  firstDivergence: NullableNumber,
});

export const SliceKldSchema = SummarySchema.extend({
  name: z.string(),
  positions: WireNumber,
  top1Agreement: WireNumber,
  /** Uncertainty of the mean KLD (llama-perplexity's ±). */
  stderr: WireNumber,
  /** llama-perplexity's statistics over the slice's positions. */
  stats: KldStatisticsSchema,
});

export const CompareVariantSchema = z.object({
  variant: z.string(),
  quant: z.string().nullable(),
  isReference: z.boolean(),
  /** The variant this one was compared against (the reference, or an adapter's base). */
  comparedTo: z.string(),
  fileBytes: NullableNumber,
  cases: WireNumber,
  passRate: WireNumber,
  referencePassRate: WireNumber,
  delta: WireNumber,
  ci: Interval,
  pValue: WireNumber,
  /** Worst slice (most negative delta) first. */
  slices: z.array(SliceDeltaSchema),
  kld: SummarySchema,
  /** llama-perplexity's statistics over every position (teacher-forced on the reference's outputs). */
  kldStats: KldStatisticsSchema,
  top1Agreement: WireNumber,
  meanDeltaP: WireNumber,
  /** Cases whose greedy output departs from the reference's somewhere. */
  divergedCases: WireNumber,
  kldSlices: z.array(SliceKldSchema),
  /** Highest mean KLD first. */
  kldCases: z.array(CaseKldSchema),
  flips: z.array(CompareFlipSchema),
  gate: GateResultSchema,
  /** Timing fields (vary run to run). */
  tokensPerSecond: NullableNumber,
  timeToFirstTokenMs: NullableNumber,
  memoryBytes: NullableNumber,
  /** Behavioural fingerprints of the runs behind these numbers (the store holds them). */
  runFingerprints: z.array(z.string()),
  /** A pair with a served side: where its KL comes from (per side) … */
  kldSource: z.string().optional(),
  /** … and the reference top-K it used (vLLM gives at most 20 alternatives per position). */
  kldTopK: WireNumber.optional(),
  /** Why this variant has no KL (e.g. its server returns no prompt logprobs); its KL fields are then empty. */
  kldUnavailable: z.string().optional(),
});

export const CompareReportSchema = z.object({
  reference: z.string(),
  evalSets: z.array(z.string()),
  topK: WireNumber,
  /** How KL divergence was measured: top-K of the reference + one bucket for the rest, or the whole vocabulary. */
  kldMethod: z.enum(["top-K", "full-vocabulary"]).optional(),
  gate: GateSchema.extend({ passed: z.boolean(), reasons: z.array(z.string()) }),
  variants: z.array(CompareVariantSchema),
  /**
   * Variants that could not be compared (a missing or corrupt model, a run that failed, a
   * reference that failed), each with the reason; the others are compared as usual.
   */
  failures: z.array(z.object({ variant: z.string(), error: z.string() })).optional(),
  /** `--cross-grader`: how the configured graders and another agree on every model-graded verdict. */
  graderAgreement: GraderAgreementSchema.optional(),
  /** The quant ladder, when asked for (`compare --ladder`). */
  ladder: LadderReportSchema.optional(),
});

// ---- DiffReport ----

/** One part of a word-level output diff. */
export const WordDiffPartSchema = z.object({ op: z.enum(["=", "+", "-"]), text: z.string() });

export const DiffFlipSchema = z.object({
  id: z.string(),
  from: OutcomeSchema,
  to: OutcomeSchema,
  /** Sampled cases (repeat: N): the pass fractions the flip is between. */
  baseFraction: WireNumber.optional(),
  headFraction: WireNumber.optional(),
  tags: z.array(z.string()),
  baseOutput: z.string(),
  headOutput: z.string(),
  outputDiff: z.array(WordDiffPartSchema),
});

export const DiffCaseSchema = z.object({
  id: z.string(),
  tags: z.array(z.string()),
  /** null: the case does not exist on that side. */
  base: OutcomeSchema.nullable(),
  head: OutcomeSchema.nullable(),
  headOutput: z.string().nullable(),
  /** First failing assertion's message on head, for JUnit. */
  headMessage: z.string().nullable(),
  /** Sampled cases: pass fractions on each side. */
  basePassFraction: NullableNumber.optional(),
  headPassFraction: NullableNumber.optional(),
});

export const DiffPromptSchema = z.object({
  /** Path at head (repository-relative); for a deleted prompt, its base path. */
  file: z.string(),
  /** Path at base when it was renamed (or the same path). null when added. */
  baseFile: z.string().nullable(),
  /** config-changed: the prompt did not change, but driftlens.yaml or an adapter config now gives its variants other model or adapter files or scales. */
  status: z.enum(["modified", "renamed", "added", "deleted", "evals-changed", "config-changed"]),
  variant: z.string(),
  evalSet: z.string(),
  baseEvalSet: z.string().nullable(),
  baseHash: z.string().nullable(),
  headHash: z.string().nullable(),
  basePassRate: NullableNumber,
  headPassRate: NullableNumber,
  delta: NullableNumber,
  ci: Interval.nullable(),
  pValue: NullableNumber,
  /** Common cases compared. */
  cases: WireNumber,
  slices: z.array(SliceDeltaSchema),
  flips: z.array(DiffFlipSchema),
  evalSetChanged: z.boolean(),
  added: z.array(z.string()),
  removed: z.array(z.string()),
  caseResults: z.array(DiffCaseSchema),
  gate: GateResultSchema,
});

export const DiffReportSchema = z.object({
  base: z.object({ ref: z.string(), commit: z.string() }),
  head: z.object({ ref: z.string(), commit: z.string().nullable() }),
  prompts: z.array(DiffPromptSchema),
  gate: GateResultSchema.extend(GateSchema.shape),
});

// ---- EvalReport ----

/**
 * Where a case's result came from: generated by this call (including a case that ended in an
 * error), answered from the generation cache, or taken over from an interrupted run this call resumed.
 */
export const CaseSourceSchema = z.enum(["generated", "cached", "resumed"]);

/** A token as stored: the chosen token and its top-k alternatives (the store's StoredToken). */
export const ReportTokenSchema = z.object({
  token: WireNumber,
  text: z.string(),
  prob: WireNumber,
  top: z.array(z.object({ token: WireNumber, text: z.string(), prob: WireNumber })),
});

/** One sample of a case (every case has at least one). */
export const EvalSampleReportSchema = z.object({
  output: z.string(),
  pass: z.boolean(),
  score: WireNumber,
  /** The first failing assertion's message (or the error), when the sample failed. */
  message: z.string().optional(),
});

export const EvalCaseReportSchema = z.object({
  id: z.string(),
  /** With several samples: at least half of them pass. */
  pass: z.boolean(),
  score: WireNumber,
  /** Fraction of the samples that pass (1 or 0 for a case drawn once). */
  passFraction: WireNumber,
  /** Every sample's output and verdict, in sample order (sample 0's is `output`). */
  samples: z.array(EvalSampleReportSchema),
  output: z.string(),
  tokens: z.array(ReportTokenSchema),
  /** The output came from the generation cache (now or in the run this call resumed). */
  cached: z.boolean(),
  source: CaseSourceSchema,
  /**
   * The case was refused, not judged: an assertion has an error `driftlens check` reports (an
   * empty value, a value of the wrong kind, a template naming a missing variable, …).
   */
  configError: z.literal(true).optional(),
  assertions: z.array(z.object({ type: z.string(), pass: z.boolean(), score: WireNumber, message: z.string() })),
  tags: z.array(z.string()),
  error: z.string().optional(),
  /** The store's case timings. */
  timings: z.object({ timeToFirstTokenMs: WireNumber, wallMs: WireNumber, tokensPerSecond: WireNumber, promptTokens: WireNumber, assertMs: WireNumber.optional() }),
});

export const EvalRunSummarySchema = z.object({
  cases: WireNumber,
  passed: WireNumber,
  failed: WireNumber,
  errors: WireNumber,
  passRate: WireNumber,
  /** generated + cached + resumed = cases, for every complete run (see CaseSource). */
  generated: WireNumber,
  cached: WireNumber,
  resumed: WireNumber,
  tokensPerSecond: WireNumber,
  wallMs: WireNumber,
});

/** What a run's report says about each endpoint of a served variant. */
export const EndpointReportSchema = z.object({
  url: z.string(),
  /** Cases (requests) it answered. */
  cases: WireNumber,
  /** Whether it was dropped, never answered, or its last request failed. */
  failed: z.boolean(),
  /** Why; null when it never failed (the last error is kept when it recovered). */
  error: z.string().nullable(),
  /** Requests of it that failed and went elsewhere. */
  retries: WireNumber,
});

export const EvalRunReportSchema = z.object({
  /** Store run id (null when the variant failed before a run could be recorded). */
  id: z.string().nullable(),
  fingerprint: z.string().nullable(),
  variant: z.string(),
  promptFile: z.string(),
  evalSetFile: z.string(),
  status: z.enum(["complete", "failed", "cancelled"]),
  /** Why the run failed (names the variant and file). */
  error: z.string().optional(),
  promptHash: z.string(),
  evalSetHash: z.string(),
  modelFingerprint: z.string().nullable(),
  modelPath: z.string().nullable(),
  adapters: z.array(z.object({ name: z.string(), file: z.string(), fingerprint: z.string(), scale: WireNumber })),
  params: z.record(z.string(), z.unknown()),
  seed: WireNumber,
  engineVersion: z.string(),
  backend: z.string().nullable(),
  threads: NullableNumber,
  /** True when this call resumed an interrupted run. */
  resumed: z.boolean(),
  /** Served variants: per endpoint, the cases it answered in this call, whether it failed and why. */
  endpoints: z.array(EndpointReportSchema).optional(),
  /** What the run could not do as asked but went on without (e.g. a server that cannot constrain output to JSON). */
  warnings: z.array(z.string()).optional(),
  summary: EvalRunSummarySchema,
  slices: z.record(z.string(), z.object({ cases: WireNumber, passed: WireNumber, passRate: WireNumber })),
  cases: z.array(EvalCaseReportSchema),
});

export const EvalReportSchema = z.object({
  runs: z.array(EvalRunReportSchema),
  /** Problems that stopped a whole target (unreadable prompt, bad variant ref, …). */
  errors: z.array(z.object({ promptFile: z.string(), evalSetFile: z.string(), message: z.string() })),
});

export type Outcome = z.infer<typeof OutcomeSchema>;
export type Gate = z.infer<typeof GateSchema>;
export type GateResult = z.infer<typeof GateResultSchema>;
export type SliceDelta = z.infer<typeof SliceDeltaSchema>;
export type LadderCorpus = z.infer<typeof LadderCorpusSchema>;
export type LadderRung = z.infer<typeof LadderRungSchema>;
export type Ladder = z.infer<typeof LadderReportSchema>;
export type CompareFlip = z.infer<typeof CompareFlipSchema>;
export type CaseKld = z.infer<typeof CaseKldSchema>;
export type SliceKld = z.infer<typeof SliceKldSchema>;
export type CompareVariant = z.infer<typeof CompareVariantSchema>;
export type CompareReport = z.infer<typeof CompareReportSchema>;
export type WordDiffPart = z.infer<typeof WordDiffPartSchema>;
export type DiffFlip = z.infer<typeof DiffFlipSchema>;
export type DiffCase = z.infer<typeof DiffCaseSchema>;
export type DiffPrompt = z.infer<typeof DiffPromptSchema>;
export type DiffReport = z.infer<typeof DiffReportSchema>;
export type CaseSource = z.infer<typeof CaseSourceSchema>;
export type EvalSampleReport = z.infer<typeof EvalSampleReportSchema>;
export type EvalCaseReport = z.infer<typeof EvalCaseReportSchema>;
export type EvalRunSummary = z.infer<typeof EvalRunSummarySchema>;
export type EvalRunReport = z.infer<typeof EvalRunReportSchema>;
export type EvalReport = z.infer<typeof EvalReportSchema>;
export type Summary = z.infer<typeof SummarySchema>;
export type KldStatistics = z.infer<typeof KldStatisticsSchema>;
export type GraderAgreement = z.infer<typeof GraderAgreementSchema>;

// The JSON shapes of `driftlens compare` and `driftlens diff`, as plain data. Renderers in
// this folder take these and nothing else, so the CLI, the extension and tests all print the same.
import type { GraderAgreement } from "../graders/agreement";
import type { KldStatistics } from "../../stats/kld-stats";
import type { Summary } from "../../stats/stats";
import type { Ladder } from "./ladder-types";

export type { Ladder, LadderRung } from "./ladder-types";

export type Outcome = "pass" | "fail";

export interface Gate {
  maxPassRateDrop: number;
  maxSliceDrop: number;
  alpha: number;
  /** Largest allowed mean corpus KLD (the ladder's recommendation); absent when not set. */
  maxKld?: number;
}

export interface GateResult {
  passed: boolean;
  /** Why it failed; one sentence each, naming the variant/prompt and slice. */
  reasons: string[];
  /** Not failures: e.g. slices too small to detect a drop of the gate's size. */
  warnings: string[];
}

export interface SliceDelta {
  name: string;
  cases: number;
  /** Pass rate of the candidate (compare) or head (diff). */
  passRate: number;
  /** Pass rate of the reference (compare) or base (diff). */
  basePassRate: number;
  delta: number;
  ci: [number, number];
  pValue: number;
  /** Smallest drop this slice could show as significant at the gate's alpha; null = none. */
  minDetectableDrop: number | null;
  regressions: number;
  fixes: number;
  /** This slice's drop exceeds the gate's maxSliceDrop (for sampled cases: and is significant). */
  failsGate: boolean;
  /** Fewest samples behind a case of the slice, when cases were drawn more than once (repeat: N). */
  samples?: number;
}

export interface CompareFlip {
  id: string;
  from: Outcome;
  to: Outcome;
  /** Sampled cases (repeat: N): the pass fractions the flip is between (a move of at least half the samples). */
  baseFraction?: number;
  headFraction?: number;
  tags: string[];
  evalSet: string;
}

export interface CaseKld {
  id: string;
  evalSet: string;
  positions: number;
  mean: number;
  median: number;
  p99: number;
  max: number;
  top1Agreement: number;
  meanDeltaP: number;
  firstDivergence: number | null;
}

export interface SliceKld extends Summary {
  name: string;
  positions: number;
  top1Agreement: number;
  /** Uncertainty of the mean KLD (llama-perplexity's ±). */
  stderr: number;
  /** llama-perplexity's statistics over the slice's positions. */
  stats: KldStatistics;
}

export interface CompareVariant {
  variant: string;
  quant: string | null;
  isReference: boolean;
  /** The variant this one was compared against (the reference, or an adapter's base). */
  comparedTo: string;
  fileBytes: number | null;
  cases: number;
  passRate: number;
  referencePassRate: number;
  delta: number;
  ci: [number, number];
  pValue: number;
  /** Worst slice (most negative delta) first. */
  slices: SliceDelta[];
  kld: Summary;
  /** llama-perplexity's statistics over every position (teacher-forced on the reference's outputs). */
  kldStats: KldStatistics;
  top1Agreement: number;
  meanDeltaP: number;
  /** Cases whose greedy output departs from the reference's somewhere. */
  divergedCases: number;
  kldSlices: SliceKld[];
  /** Highest mean KLD first. */
  kldCases: CaseKld[];
  flips: CompareFlip[];
  gate: GateResult;
  /** Timing fields (vary run to run). */
  tokensPerSecond: number | null;
  timeToFirstTokenMs: number | null;
  memoryBytes: number | null;
  /** Behavioural fingerprints of the runs behind these numbers (the store holds them). */
  runFingerprints: string[];
  /** A pair with a served side: where its KL comes from (per side) … */
  kldSource?: string;
  /** … and the reference top-K it used (vLLM gives at most 20 alternatives per position). */
  kldTopK?: number;
  /** Why this variant has no KL (e.g. its server returns no prompt logprobs); its KL fields are then empty. */
  kldUnavailable?: string;
}

export interface CompareReport {
  reference: string;
  evalSets: string[];
  topK: number;
  /** How KL divergence was measured: top-K of the reference + one bucket for the rest, or the whole vocabulary. */
  kldMethod?: "top-K" | "full-vocabulary";
  gate: Gate & { passed: boolean; reasons: string[] };
  variants: CompareVariant[];
  /**
   * Variants that could not be compared (a missing or corrupt model, a run that failed, a
   * reference that failed), each with the reason; the others are compared as usual.
   */
  failures?: { variant: string; error: string }[];
  /** `--cross-grader`: how the configured graders and another agree on every model-graded verdict. */
  graderAgreement?: GraderAgreement;
  /** The quant ladder, when asked for (`compare --ladder`). */
  ladder?: Ladder;
}

/** One part of a word-level output diff. */
export interface WordDiffPart {
  op: "=" | "+" | "-";
  text: string;
}

export interface DiffFlip {
  id: string;
  from: Outcome;
  to: Outcome;
  /** Sampled cases (repeat: N): the pass fractions the flip is between. */
  baseFraction?: number;
  headFraction?: number;
  tags: string[];
  baseOutput: string;
  headOutput: string;
  outputDiff: WordDiffPart[];
}

export interface DiffCase {
  id: string;
  tags: string[];
  /** null: the case does not exist on that side. */
  base: Outcome | null;
  head: Outcome | null;
  headOutput: string | null;
  /** First failing assertion's message on head, for JUnit. */
  headMessage: string | null;
  /** Sampled cases: pass fractions on each side. */
  basePassFraction?: number | null;
  headPassFraction?: number | null;
}

export interface DiffPrompt {
  /** Path at head (repository-relative); for a deleted prompt, its base path. */
  file: string;
  /** Path at base when it was renamed (or the same path). null when added. */
  baseFile: string | null;
  /** config-changed: the prompt did not change, but driftlens.yaml or an adapter config now gives its variants other model or adapter files or scales. */
  status: "modified" | "renamed" | "added" | "deleted" | "evals-changed" | "config-changed";
  variant: string;
  evalSet: string;
  baseEvalSet: string | null;
  baseHash: string | null;
  headHash: string | null;
  basePassRate: number | null;
  headPassRate: number | null;
  delta: number | null;
  ci: [number, number] | null;
  pValue: number | null;
  /** Common cases compared. */
  cases: number;
  slices: SliceDelta[];
  flips: DiffFlip[];
  evalSetChanged: boolean;
  added: string[];
  removed: string[];
  caseResults: DiffCase[];
  gate: GateResult;
}

export interface DiffReport {
  base: { ref: string; commit: string };
  head: { ref: string; commit: string | null };
  prompts: DiffPrompt[];
  gate: GateResult & Gate;
}

// The quant ladder (`driftlens compare --family F --ladder`) as plain data: a family's variants
// ordered by file size, each with its gate verdict on the evals and its corpus KL divergence, and
// the recommendation (the smallest variant that passes both).

export interface LadderCorpus {
  /** The text as written in driftlens.yaml (relative to it). */
  text: string;
  ctx: number;
  chunks: number;
  /** Scored tokens. */
  tokens: number;
}

export interface LadderRung {
  variant: string;
  quant: string | null;
  fileBytes: number | null;
  isReference: boolean;
  passRate: number;
  /** Pass rate change from the reference (0 for the reference). */
  delta: number;
  gatePassed: boolean;
  /** Why the gate failed (from compare), empty when it passed. */
  gateReasons: string[];
  /** Mean teacher-forced KLD on the eval outputs. */
  evalKld: number;
  /** Corpus KLD (mean ± stderr, and the 99th percentile), when the family has a corpus. */
  corpusKld: { mean: number; stderr: number; p99: number; sameTop: number; pplRatio: number } | null;
  /** Within gate.maxKld (true when no maxKld is set). */
  withinMaxKld: boolean;
  recommended: boolean;
  /** One line: why this rung is or is not recommended. */
  verdict: string;
}

export interface Ladder {
  family: string;
  reference: string;
  /** Largest allowed mean KLD (gate.maxKld); null when not set. */
  maxKld: number | null;
  /** Which KLD maxKld is checked against: the corpus's when the family has one, else the eval outputs'. */
  kldSource: "corpus" | "evals";
  corpus: LadderCorpus | null;
  /** Smallest file first. */
  rungs: LadderRung[];
  /** The recommended variant; null when none passes. */
  recommended: string | null;
  /** One sentence explaining the recommendation. */
  summary: string;
}

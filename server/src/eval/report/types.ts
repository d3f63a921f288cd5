// The JSON shapes of `driftlens compare` and `driftlens diff`, as plain data. Renderers in
// this folder take these and nothing else, so the CLI, the extension and tests all print the same.
// Their one home is the wire contract, server/src/protocol/reports.ts (zod, types by z.infer);
// ./contract.ts checks that the shapes kept on lower floors (statistics, graders) match it.
export type {
  CaseKld,
  CompareFlip,
  CompareReport,
  CompareVariant,
  DiffCase,
  DiffFlip,
  DiffPrompt,
  DiffReport,
  Gate,
  GateResult,
  Ladder,
  LadderRung,
  Outcome,
  SliceDelta,
  SliceKld,
  WordDiffPart,
} from "../../protocol/reports";

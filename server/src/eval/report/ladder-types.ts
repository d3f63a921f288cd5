// The quant ladder (`driftlens compare --family F --ladder`) as plain data: a family's variants
// ordered by file size, each with its gate verdict on the evals and its corpus KL divergence, and
// the recommendation (the smallest variant that passes both). The shapes live in the wire
// contract, server/src/protocol/reports.ts.
export type { Ladder, LadderCorpus, LadderRung } from "../../protocol/reports";

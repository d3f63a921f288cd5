// Compile-time checks that the shapes kept on lower floors, which the reports carry as they are,
// are the wire contract's (server/src/protocol/reports.ts): the statistics of server/src/stats
// (which imports nothing above it), the store's tokens, adapters and timings, served endpoints'
// reports and the graders' agreement. A field added to one side and not the other fails
// `npm run typecheck` here. Nothing in this file runs.
import type { EndpointReport } from "../../llm/remote/report";
import type {
  EvalCaseReport,
  EvalRunReport,
  GraderAgreement as WireGraderAgreement,
  KldStatistics as WireKldStatistics,
  Summary as WireSummary,
} from "../../protocol/reports";
import type { KldStatistics } from "../../stats/kld-stats";
import type { Summary } from "../../stats/stats";
import type { AdapterFingerprint, CaseResultRecord, StoredToken } from "../../store/store";
import type { GraderAgreement } from "../graders/agreement";

/** Mutual assignability, and the same keys (so an optional field on one side only fails too), at every depth. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? SameKeys<A, B> : false) : false;
type SameKeys<A, B> = A extends readonly (infer X)[]
  ? B extends readonly (infer Y)[]
    ? Same<X, Y>
    : false
  : A extends object
    ? B extends object
      ? [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never]
        ? false extends { [K in keyof A & keyof B]-?: Same<NonNullable<A[K]>, NonNullable<B[K]>> }[keyof A & keyof B]
          ? false
          : true
        : false
      : false
    : true;

/** Fails to compile unless T is true. */
type Holds<T extends true> = T;

export type ReportContractHolds = [
  Holds<Same<Summary, WireSummary>>,
  Holds<Same<KldStatistics, WireKldStatistics>>,
  Holds<Same<GraderAgreement, WireGraderAgreement>>,
  Holds<Same<EndpointReport, NonNullable<EvalRunReport["endpoints"]>[number]>>,
  Holds<Same<StoredToken, EvalCaseReport["tokens"][number]>>,
  Holds<Same<AdapterFingerprint, EvalRunReport["adapters"][number]>>,
  Holds<Same<CaseResultRecord["timings"], EvalCaseReport["timings"]>>,
];

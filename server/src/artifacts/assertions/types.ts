// The assertion vocabulary shared by the eval-set checker (artifacts/) and the evaluator (eval/):
// one list of types, one Assertion shape.
import type { z } from "zod";
import type { assertionSchema } from "../schemas";

/** promptfoo assertion types Driftlens evaluates (each also with a `not-` prefix). */
export const ASSERTION_TYPES = [
  "equals",
  "contains",
  "icontains",
  "contains-any",
  "contains-all",
  "icontains-any",
  "icontains-all",
  "starts-with",
  "regex",
  "is-json",
  "contains-json",
  "json-schema",
  "levenshtein",
  "word-count",
  "latency",
  "similar",
  "similar:cosine",
  "similar:dot",
  "similar:euclidean",
  "javascript",
] as const;

export type AssertionType = (typeof ASSERTION_TYPES)[number];

/** One assertion as written in an eval set (promptfoo's shape). */
export type Assertion = z.infer<typeof assertionSchema>;

/** Diagnostic codes assertion checks use (artifacts/codes.ts). */
export type IssueCode = "DL301" | "DL303" | "DL304" | "DL311" | "DL312" | "DL330" | "DL331" | "DL332" | "DL333";

export function isAssertionType(t: string): t is AssertionType {
  return (ASSERTION_TYPES as readonly string[]).includes(t);
}

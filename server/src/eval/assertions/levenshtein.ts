// levenshtein (promptfoo's src/assertions/levenshtein.ts): the same edit distance library.
import { distance } from "fastest-levenshtein";
import { type Handler } from "./types";

export const levenshteinHandler: Handler = {
  kind: "inline",
  evaluate: ({ assertion, value, output, inverse }) => {
    const d = distance(output, String(value));
    const max = assertion.threshold ?? 5;
    const pass = d <= max !== inverse;
    return { pass, score: pass ? 1 : 0, message: `edit distance ${d} ${d <= max ? "≤" : ">"} ${max}${pass ? "" : inverse ? " (expected more)" : ""}` };
  },
};

// word-count (promptfoo's src/assertions/wordCount.ts): words are runs of non-whitespace; the
// value is an exact count (a number or numeric text) or a {min, max} range.
import { type Handler } from "./types";

export function countWords(text: string): number {
  return text.trim().split(/\s+/).filter((w) => w.length > 0).length;
}

export const wordCountHandler: Handler = {
  kind: "inline",
  evaluate: ({ value, output, inverse }) => {
    const n = countWords(output);
    let holds: boolean;
    let want: string;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const { min, max } = value as { min?: number; max?: number };
      holds = (min === undefined || n >= min) && (max === undefined || n <= max);
      want = min !== undefined && max !== undefined ? `between ${min} and ${max}` : min !== undefined ? `at least ${min}` : `at most ${max}`;
    } else {
      const exact = typeof value === "number" ? value : Number(value);
      holds = n === exact;
      want = `exactly ${exact}`;
    }
    const pass = holds !== inverse;
    return { pass, score: pass ? 1 : 0, message: `${n} words, expected ${inverse ? "not " : ""}${want}` };
  },
};

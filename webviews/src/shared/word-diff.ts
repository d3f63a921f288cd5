// Word-level diff (whitespace kept) between a reference output and another, for the compare grid.
import { diffWordsWithSpace } from "diff";

export interface Part {
  op: "=" | "+" | "-";
  text: string;
}

export function wordDiff(reference: string, other: string): Part[] {
  // Outputs past a few thousand characters make the diff quadratic; compare the head only.
  const a = reference.slice(0, 4000);
  const b = other.slice(0, 4000);
  return diffWordsWithSpace(a, b).map((c) => ({ op: c.added ? "+" : c.removed ? "-" : "=", text: c.value }));
}

// Eval sets written in YAML flow style, which is what JSON is (`{"prompt": "x.prompt", "cases":
// [{...}, {...}]}`): the items of the top-level `cases` list are found by one scan over the text,
// so each is parsed on its own like a block-style item. A full YAML parse of such a file builds a
// node for every scalar, costs about 100 times the file in memory and cannot be updated per item.
//
// The scan follows flow syntax only as far as it needs to: double-quoted strings with escapes,
// single-quoted strings with '' escapes, comments, and bracket depth. Anything it does not handle
// exactly (anchors, aliases, tags or complex keys at the top two levels, a second document, a
// `cases` that is not a flow list) makes it answer undefined, and the caller parses the whole
// document instead, which gives the same result more slowly.

/** Where the items of a flow-style `cases: [...]` lie. */
export interface FlowSplit {
  /** Offsets of `[` and `]` of the cases list. */
  open: number;
  close: number;
  /** [start, end) of each item's text (no surrounding commas or blanks). */
  items: [number, number][];
}

const SPACE = new Set([32, 9, 10, 13]);

/**
 * Finds the items of the top-level `cases` flow list of a flow-mapping document; undefined when
 * the text is not such a document or holds something the scan does not follow.
 */
export function splitFlowCases(text: string): FlowSplit | undefined {
  const len = text.length;
  let i = skipBlank(text, 0);
  if (i >= len || text.charCodeAt(i) !== 123 /* { */) return undefined;
  let depth = 0;
  /** At depth 1: the key just read, waiting for its ':'; then whether the value is the cases list. */
  let key: string | undefined;
  let expectValue = false;
  let casesValue = false;
  let split: FlowSplit | undefined;
  let itemStart = -1;
  let atTopEnd = -1;
  for (; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */ || c === 39 /* ' */) {
      const end = c === 34 ? endOfDouble(text, i) : endOfSingle(text, i);
      if (end < 0) return undefined;
      if (depth === 1 && !expectValue) key = c === 34 ? safeJson(text.slice(i, end + 1)) : text.slice(i + 1, end).replace(/''/g, "'");
      if (depth === 2 && casesValue && itemStart < 0) itemStart = i;
      i = end;
      continue;
    }
    if (c === 35 /* # */ && (i === 0 || SPACE.has(text.charCodeAt(i - 1)))) {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? len : nl;
      continue;
    }
    if (SPACE.has(c)) continue;
    // Anchors, aliases, tags and explicit keys near the top change what the items mean.
    if ((c === 38 /* & */ || c === 42 /* * */ || c === 33 /* ! */ || c === 63 /* ? */) && (depth <= 1 || (depth === 2 && casesValue && itemStart < 0))) return undefined;
    if (c === 123 /* { */ || c === 91 /* [ */) {
      if (depth === 1 && expectValue && casesValue) {
        if (c !== 91) return undefined;
        if (split) return undefined; // `cases` twice: the full parse reports it
        split = { open: i, close: -1, items: [] };
      } else if (depth === 2 && casesValue && itemStart < 0) itemStart = i;
      depth++;
      continue;
    }
    if (c === 125 /* } */ || c === 93 /* ] */) {
      if (depth === 2 && casesValue) {
        if (c !== 93) return undefined;
        if (itemStart >= 0) split!.items.push([itemStart, trimEnd(text, itemStart, i)]);
        itemStart = -1;
        split!.close = i;
        casesValue = false;
        expectValue = false;
      }
      depth--;
      if (depth === 1 && !casesValue) expectValue = false;
      if (depth === 0) {
        atTopEnd = i;
        break;
      }
      if (depth < 0) return undefined;
      continue;
    }
    if (c === 44 /* , */) {
      if (depth === 2 && casesValue) {
        if (itemStart < 0) return undefined; // an empty item: leave it to the full parser
        split!.items.push([itemStart, trimEnd(text, itemStart, i)]);
        itemStart = -1;
      } else if (depth === 1) {
        key = undefined;
        expectValue = false;
      }
      continue;
    }
    if (c === 58 /* : */ && depth === 1 && !expectValue) {
      expectValue = true;
      casesValue = key === "cases";
      continue;
    }
    // A plain scalar: a key at depth 1, part of an item at depth 2.
    if (depth === 1 && !expectValue) {
      let j = i;
      while (j < len && !":,{}[]#\n".includes(text[j]!)) j++;
      key = text.slice(i, j).trim();
      i = j - 1;
      continue;
    }
    if (depth === 2 && casesValue && itemStart < 0) itemStart = i;
    if (depth === 1 && expectValue && casesValue) return undefined; // `cases: plain` is not a list
  }
  if (atTopEnd < 0 || !split || split.close < 0) return undefined;
  // Only blanks and comments may follow the document.
  for (let j = atTopEnd + 1; j < len; j++) {
    const c = text.charCodeAt(j);
    if (SPACE.has(c)) continue;
    if (c === 35) {
      const nl = text.indexOf("\n", j);
      if (nl < 0) break;
      j = nl;
      continue;
    }
    return undefined;
  }
  return split;
}

function skipBlank(text: string, i: number): number {
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (SPACE.has(c)) continue;
    if (c === 35) {
      const nl = text.indexOf("\n", i);
      if (nl < 0) return text.length;
      i = nl;
      continue;
    }
    return i;
  }
  return i;
}

/** Index of the closing quote of the double-quoted scalar opening at `i`, or -1. */
function endOfDouble(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 92 /* \ */) j++;
    else if (c === 34) return j;
  }
  return -1;
}

/** Index of the closing quote of the single-quoted scalar opening at `i` ('' is a quote), or -1. */
function endOfSingle(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text.charCodeAt(j) !== 39) continue;
    if (text.charCodeAt(j + 1) === 39) {
      j++;
      continue;
    }
    return j;
  }
  return -1;
}

function safeJson(s: string): string | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

function trimEnd(text: string, start: number, end: number): number {
  while (end > start && SPACE.has(text.charCodeAt(end - 1))) end--;
  return end;
}

/**
 * The text without the cases list's contents: its line breaks are kept, and the last line's
 * width, so everything outside the list keeps its exact line and column (the header parses with
 * its positions) while the parser skips megabytes of blanks (no case is parsed twice).
 */
export function blankCases(text: string, split: FlowSplit): string {
  const inner = text.slice(split.open + 1, split.close);
  let lines = 0;
  for (let i = inner.indexOf("\n"); i >= 0; i = inner.indexOf("\n", i + 1)) lines++;
  const lastLine = inner.length - (inner.lastIndexOf("\n") + 1);
  return text.slice(0, split.open + 1) + "\n".repeat(lines) + " ".repeat(lastLine) + text.slice(split.close);
}

// Cuts the block sequence under one top-level key (an eval set's `cases:`, a promptfoo config's
// `tests:`) into its items without parsing the YAML, so an edit re-parses one item: the editor
// re-checks these files on every keystroke. One pass over the text without per-line allocations.

/** Where the key's line, each item and the end of the sequence are (line indexes and offsets). */
export interface BlockSequence {
  /** The `key:` line, its offset and the offset of the line after it. */
  headerLine: number;
  headerOff: number;
  headerNextOff: number;
  /** Line index and offset where each item starts. */
  itemLines: number[];
  itemOffs: number[];
  /** First line (and its offset) after the items. */
  endLine: number;
  endOff: number;
}

const headerPatterns = new Map<string, RegExp>();

/**
 * The items of the block sequence under a top-level `key:`; undefined when the text cannot be cut
 * exactly (directives, document markers, a tab-indented line, no block sequence under the key),
 * and the caller parses it whole.
 */
export function blockSequenceUnder(text: string, key: string): BlockSequence | undefined {
  const header = `${key}:`;
  let headerRe = headerPatterns.get(key);
  if (!headerRe) headerPatterns.set(key, (headerRe = new RegExp(`^${key}:[ \\t]*(#.*)?\\r?$`)));
  const c0Key = key.charCodeAt(0);
  const len = text.length;
  let headerLine = -1;
  let headerOff = 0;
  let headerNextOff = 0;
  let indent = -1;
  const itemLines: number[] = [];
  const itemOffs: number[] = [];
  let endLine = -1;
  let endOff = len;
  let lastContent = -1;
  let afterLast = len;
  for (let s = 0, i = 0; s <= len; i++) {
    const nl = text.indexOf("\n", s);
    const next = nl < 0 ? len : nl + 1;
    const c0 = text.charCodeAt(s);
    // Directives, document markers: leave those files to the full parser.
    if (c0 === 37 /* % */ || ((c0 === 45 || c0 === 46) && text.startsWith(c0 === 45 ? "---" : "...", s))) return undefined;
    if (headerLine < 0) {
      if (c0 === c0Key && text.startsWith(header, s) && headerRe.test(text.slice(s, nl < 0 ? len : nl))) {
        headerLine = i;
        headerOff = s;
        headerNextOff = next;
      }
    } else if (endLine < 0) {
      let j = s;
      while (j < len && text.charCodeAt(j) === 32) j++;
      const c = j < len ? text.charCodeAt(j) : 10;
      if (!(c === 10 || c === 13 || c === 35) /* not blank or comment */) {
        if (c === 9 && j === s) return undefined;
        const ind = j - s;
        const c1 = j + 1 < len ? text.charCodeAt(j + 1) : 10;
        const dash = c === 45 && (c1 === 32 || c1 === 9 || c1 === 10 || c1 === 13);
        if (indent < 0) {
          if (!dash) return undefined;
          indent = ind;
        }
        if (ind < indent || (ind === indent && !dash)) {
          endLine = i;
          endOff = s;
        } else {
          if (ind === indent) {
            itemLines.push(i);
            itemOffs.push(s);
          }
          lastContent = i;
          afterLast = next;
        }
      }
    }
    if (nl < 0) break;
    s = next;
  }
  if (headerLine < 0 || indent < 0) return undefined;
  // Trailing blank/comment lines after the last item stay outside (they belong to the tail).
  if (endLine < 0 || lastContent + 1 < endLine) {
    endLine = lastContent + 1;
    endOff = afterLast;
  }
  return { headerLine, headerOff, headerNextOff, itemLines, itemOffs, endLine, endOff };
}

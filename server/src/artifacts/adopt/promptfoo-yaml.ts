// A promptfoo config's YAML (and a .prompt.yml's), parsed so that an edit costs little: the editor
// re-checks the file on every keystroke, and a YAML parse of a few hundred lines of inline tests
// takes longer than the check's budget. As for eval sets (evalset.ts), the block sequence under a
// top-level `tests:` (`testData:`) is cut into its items; each item is parsed on its own and kept by its text, so an edit parses
// one item plus the rest of the document. Whatever the cut cannot handle exactly (anchors and
// aliases, a flow `tests: [...]`, directives, several documents, tabs) is parsed whole, with the
// same result.
import { Document } from "yaml";
import type { Diagnostic, Range } from "../types";
import { blockSequenceUnder } from "../yaml-block-sequence";
import { OffsetMapper, parseYaml, rangeFor, type PathKey, type YamlSource } from "../yaml-source";

interface Item {
  /** The item's own document (a one-element sequence) and a mapper at the item's line. */
  src: { doc: Document.Parsed; map: OffsetMapper };
  value: unknown;
}

/** The config as the promptfoo reader uses it: one value, and ranges for any path. */
export interface ConfigSource {
  /** The document outside the test items (the whole document when not cut). */
  src: YamlSource;
  value: unknown;
  diagnostics: Diagnostic[];
  /** The full text (the header document is a skeleton of it). */
  text: string;
  rangeOf(path: readonly PathKey[], prefer?: "key" | "value"): Range;
}

const itemCache = new Map<string, { doc: Document.Parsed; value: unknown; diagnostics: Diagnostic[] }>();

interface Cut {
  testsOff: number;
  testsNextOff: number;
  testsLine: number;
  itemLines: number[];
  itemOffs: number[];
  endLine: number;
  endOff: number;
}

/** The items of a top-level block `tests:` sequence, or undefined when the text is not cut exactly. */
function cut(text: string, key: string): Cut | undefined {
  const b = blockSequenceUnder(text, key);
  if (!b) return undefined;
  return { testsOff: b.headerOff, testsNextOff: b.headerNextOff, testsLine: b.headerLine, itemLines: b.itemLines, itemOffs: b.itemOffs, endLine: b.endLine, endOff: b.endOff };
}

function header(key: string): RegExp {
  return new RegExp(`^${key}:`);
}

function shift(d: Diagnostic, lines: number): Diagnostic {
  return lines === 0 ? d : { ...d, range: { start: { line: d.range.start.line + lines, character: d.range.start.character }, end: { line: d.range.end.line + lines, character: d.range.end.character } } };
}

function whole(text: string, file: string, code: string): ConfigSource {
  const src = parseYaml(text, file, code);
  return { src, value: src.value, diagnostics: src.diagnostics, text, rangeOf: (p, prefer = "value") => rangeFor(src, p, prefer) };
}

/** Parses a promptfoo config, cutting its inline tests into separately cached items when it can. */
export function parseConfigYaml(text: string, file: string, code = "DL500", key = "tests"): ConfigSource {
  const c = /[&*]/.test(text) ? undefined : cut(text, key);
  if (!c || c.itemLines.length === 0) return whole(text, file, code);
  // Skeleton: the text with `tests: []` in place of the items, line numbers kept.
  const head = text.slice(0, c.testsOff) + text.slice(c.testsOff, c.testsNextOff).replace(header(key), `${key}: []`);
  const tail = text.slice(c.endOff);
  const skeleton = tail.trim() ? head + (head.endsWith("\n") ? "" : "\n") + "\n".repeat(Math.max(0, c.endLine - c.testsLine - 1)) + tail : head;
  const src = parseYaml(skeleton, file, code);
  const diagnostics = [...src.diagnostics];
  const items: Item[] = [];
  for (let k = 0; k < c.itemLines.length; k++) {
    const chunk = text.slice(c.itemOffs[k]!, k + 1 < c.itemOffs.length ? c.itemOffs[k + 1]! : c.endOff);
    // Diagnostics name the file and code: the same item text elsewhere is another entry.
    const cacheKey = `${code}\u0000${file}\u0000${chunk}`;
    let hit = itemCache.get(cacheKey);
    if (!hit) {
      const parsed = parseYaml(chunk, file, code);
      hit = { doc: parsed.doc, value: parsed.value, diagnostics: parsed.diagnostics };
      if (itemCache.size > 20_000) itemCache.clear();
      itemCache.set(cacheKey, hit);
    }
    if (!Array.isArray(hit.value) || hit.value.length !== 1) {
      if (hit.diagnostics.length === 0) return whole(text, file, code);
    }
    for (const d of hit.diagnostics) diagnostics.push(shift(d, c.itemLines[k]!));
    items.push({ src: { doc: hit.doc, map: new OffsetMapper(chunk, c.itemLines[k]!) }, value: Array.isArray(hit.value) ? hit.value[0] : undefined });
  }
  let value = src.value;
  if (value && typeof value === "object" && !Array.isArray(value)) value = { ...(value as Record<string, unknown>), [key]: items.map((i) => i.value) };
  // As with a whole parse: a syntax error anywhere leaves no value to check beyond it.
  if (diagnostics.some((d) => d.severity === "error")) value = undefined;
  const rangeOf = (p: readonly PathKey[], prefer: "key" | "value" = "value"): Range => {
    if (p[0] === key && typeof p[1] === "number" && items[p[1]]) return rangeFor(items[p[1]]!.src, [0, ...p.slice(2)], prefer);
    return rangeFor(src, p, prefer);
  };
  return { src, value, diagnostics, text, rangeOf };
}

// YAML with source positions: parse once with a LineCounter, then map any path (or zod issue
// path) back to the exact range of the offending key or value, so diagnostics point where the
// user has to type.
import { Document, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from "yaml";
import type { Diagnostic, Range, Severity } from "./types";

/** Alias expansion cap: a "billion laughs" document fails instead of eating memory. */
export const MAX_ALIAS_COUNT = 100;
/** Nesting cap: deeper documents are rejected before conversion to JS recurses too far. */
export const MAX_DEPTH = 200;

export type PathKey = string | number;

/** Converts character offsets into LSP positions for one text, whatever parsed it. */
export class OffsetMapper {
  private starts: number[] | undefined;
  constructor(
    readonly text: string,
    /** Added to every line: the text is a slice starting at this line of its file. */
    readonly lineOffset = 0,
  ) {}
  private lineStarts(): number[] {
    if (!this.starts) {
      const s = [0];
      const t = this.text;
      for (let i = t.indexOf("\n"); i >= 0; i = t.indexOf("\n", i + 1)) s.push(i + 1);
      this.starts = s;
    }
    return this.starts;
  }
  position(offset: number): { line: number; character: number } {
    const starts = this.lineStarts();
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + this.lineOffset, character: o - starts[lo]! };
  }
  range(start: number, end: number): Range {
    return { start: this.position(start), end: this.position(Math.max(start, end)) };
  }
}

export interface YamlSource {
  doc: Document.Parsed;
  map: OffsetMapper;
  /** Plain JS value, or undefined when the document has errors that make it unusable. */
  value: unknown;
  /** Syntax errors and warnings as diagnostics (already carrying `code`). */
  diagnostics: Diagnostic[];
}

/**
 * Depth of nesting in the text (flow brackets and block indentation), cheaply bounded. The first
 * `padding` characters are indentation that places a flow item at its column, not nesting.
 */
function tooDeep(text: string, padding = 0): boolean {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 93 || c === 125) depth = Math.max(0, depth - 1);
  }
  if (max > MAX_DEPTH) return true;
  // Block nesting: each level needs at least one more column of indentation.
  let lineStart = padding;
  while (lineStart < text.length) {
    let j = lineStart;
    while (j < text.length && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 45)) j++;
    // Only a line with content is nested; a line of blanks is not.
    const c = j < text.length ? text.charCodeAt(j) : 10;
    if (j - lineStart > MAX_DEPTH * 2 && c !== 10 && c !== 13) return true;
    const nl = text.indexOf("\n", lineStart);
    if (nl < 0) break;
    lineStart = nl + 1;
  }
  return false;
}

/**
 * Parses one YAML document. Never throws: syntax errors, alias bombs and hostile nesting come
 * back as diagnostics with `syntaxCode`.
 */
export function parseYaml(text: string, file: string, syntaxCode: string, lineOffset = 0, padding = 0): YamlSource {
  const map = new OffsetMapper(text, lineOffset);
  const diagnostics: Diagnostic[] = [];
  if (tooDeep(text, padding)) {
    const doc = parseDocument("", { lineCounter: new LineCounter() });
    diagnostics.push({
      file,
      range: map.range(0, Math.min(text.indexOf("\n") < 0 ? text.length : text.indexOf("\n"), text.length)),
      severity: "error",
      code: syntaxCode,
      message: `YAML nested more than ${MAX_DEPTH} levels deep; Driftlens does not read documents this deep. Flatten the structure.`,
    });
    return { doc, map, value: undefined, diagnostics };
  }
  // yaml reports syntax errors as Error objects; their stack traces are never shown and cost
  // more than the parse itself on broken input (which is every keystroke mid-edit).
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { prettyErrors: false, strict: true, uniqueKeys: true, keepSourceTokens: false, logLevel: "error" });
  } finally {
    Error.stackTraceLimit = limit;
  }
  for (const e of doc.errors) {
    const [s, t] = e.pos;
    diagnostics.push({ file, range: map.range(s, Math.max(t, s + 1)), severity: "error", code: syntaxCode, message: `YAML: ${firstLine(e.message)}` });
  }
  for (const w of doc.warnings) {
    const [s, t] = w.pos;
    diagnostics.push({ file, range: map.range(s, Math.max(t, s + 1)), severity: "warning", code: syntaxCode, message: `YAML: ${firstLine(w.message)}` });
  }
  let value: unknown;
  if (doc.errors.length === 0) {
    try {
      Error.stackTraceLimit = 0;
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      diagnostics.push({
        file,
        range: map.range(0, text.indexOf("\n") < 0 ? text.length : text.indexOf("\n")),
        severity: "error",
        code: syntaxCode,
        message: `YAML: ${firstLine(e instanceof Error ? e.message : String(e))} (aliases are limited to ${MAX_ALIAS_COUNT} expansions to keep alias bombs out)`,
      });
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
  return { doc, map, value, diagnostics };
}

export function firstLine(s: string): string {
  const i = s.indexOf("\n");
  return (i < 0 ? s : s.slice(0, i)).trim();
}

function nodeRange(map: OffsetMapper, node: Node | null | undefined): Range | undefined {
  if (!node || !node.range) return undefined;
  return map.range(node.range[0], node.range[1]);
}

function findPair(node: unknown, key: PathKey): Pair<unknown, unknown> | undefined {
  if (!isMap(node)) return undefined;
  for (const item of node.items) {
    const k = isScalar(item.key) ? item.key.value : item.key;
    if (k === key || String(k) === String(key)) return item;
  }
  return undefined;
}

export interface Located {
  /** Range of the value at the path (or of the deepest existing ancestor). */
  value: Range;
  /** Range of the key at the path when the last step is a map key. */
  key?: Range;
  /** Whether the whole path exists. */
  found: boolean;
  /** The YAML node at the path (when found). */
  node?: unknown;
}

/**
 * Locates a path in the document. When part of the path does not exist, returns the range of the
 * key of the deepest node that does (where a missing key belongs).
 */
export function locate(src: { doc: Document.Parsed; map: OffsetMapper }, path: readonly PathKey[]): Located {
  let node: unknown = src.doc.contents;
  const whole = nodeRange(src.map, src.doc.contents as Node | null) ?? src.map.range(0, 0);
  let cur: Located = { value: whole, found: false };
  for (const step of path) {
    if (isSeq(node) && typeof step === "number") {
      const item = node.items[step];
      if (item === undefined) return cur;
      node = item;
      const r = nodeRange(src.map, item as Node) ?? cur.value;
      cur = { value: r, key: r, found: false };
    } else {
      const pair = findPair(node, step);
      if (!pair) return cur;
      const kr = nodeRange(src.map, pair.key as Node);
      node = pair.value;
      cur = { value: nodeRange(src.map, node as Node) ?? kr ?? cur.value, key: kr, found: false };
    }
  }
  return { ...cur, found: true, node };
}

/** The range to underline for a path: the value if it exists, else the parent's key. */
export function rangeFor(src: { doc: Document.Parsed; map: OffsetMapper }, path: readonly PathKey[], prefer: "key" | "value" = "value"): Range {
  const l = locate(src, path);
  if (l.found) return prefer === "key" && l.key ? l.key : l.value;
  return l.key ?? l.value;
}

/** Keys of a mapping node with their ranges, in source order. */
export function mapKeys(src: { doc: Document.Parsed; map: OffsetMapper }, path: readonly PathKey[]): { key: string; range: Range }[] {
  let node: unknown = src.doc.contents;
  for (const step of path) {
    if (isSeq(node) && typeof step === "number") node = node.items[step];
    else node = findPair(node, step)?.value;
  }
  if (!isMap(node)) return [];
  const out: { key: string; range: Range }[] = [];
  for (const item of node.items) {
    const k = isScalar(item.key) ? item.key.value : undefined;
    const r = nodeRange(src.map, item.key as Node);
    if (k !== undefined && r) out.push({ key: String(k), range: r });
  }
  return out;
}

export function diag(file: string, range: Range, severity: Severity, code: string, message: string): Diagnostic {
  return { file, range, severity, code, message };
}

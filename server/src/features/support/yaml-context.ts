// Where the cursor is in a YAML file, from the text alone (line-based, so it works on the broken
// YAML a user is in the middle of typing, and costs nothing on a 5,000-case eval set): the chain
// of block keys above the cursor, and the key/value under it, including simple flow mappings
// (`- {type: icontains, value: paris}`).
import type { Position, Range } from "vscode-languageserver/node";

export interface YamlCursor {
  /** Block keys from the document root to the key under the cursor (list items are transparent). */
  path: string[];
  /** The key the cursor is on or whose value it is in; undefined in a plain list item or blank line. */
  key?: string;
  keyRange?: Range;
  /** True when the cursor is after the key's colon. */
  inValue: boolean;
  /** The scalar value text (unquoted) around the cursor, and its range. */
  value?: string;
  valueRange?: Range;
  /** Value text from its start up to the cursor (what completion filters on). */
  valuePrefix: string;
  /** Whether the cursor is inside a flow collection `[...]` or `{...}` on this line. */
  inFlow: boolean;
  /** A plain list item (`- text`) under `path`, e.g. a tag in a block list. */
  inListItem: boolean;
}

interface LineInfo {
  /** Column of the first non-space character. */
  indent: number;
  /** Column of the key after any `- ` item markers; undefined when the line has no block key. */
  keyCol?: number;
  key?: string;
  blank: boolean;
}

const KEY_LINE = /^(\s*)((?:-\s+)*)((?:"[^"]*"|'[^']*'|[^\s#:'"\-{[][^:#]*?|-[^\s:#][^:#]*?))\s*:(?:\s|$)/;

function lineInfo(line: string): LineInfo {
  const t = line.trimStart();
  const indent = line.length - t.length;
  if (t === "" || t.startsWith("#")) return { indent, blank: true };
  const m = KEY_LINE.exec(line);
  if (!m) return { indent, blank: false };
  const keyCol = m[1]!.length + m[2]!.length;
  return { indent, keyCol, key: unquote(m[3]!.trim()), blank: false };
}

function unquote(s: string): string {
  if ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'"))) return s.slice(1, -1);
  return s;
}

/** Block key chain for the line `lineNo` whose content starts at column `col` (exclusive ancestors). */
/**
 * The lines of a text by number without splitting all of it: a 5,000-case eval set has 30,000
 * lines, and completion or hover only needs the cursor's line and the few above it.
 */
class Lines {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}
  /** Start offset of line `n`, or -1 past the end. Found by scanning from the start once. */
  private start(n: number): number {
    if (!this.starts) {
      this.starts = [0];
    }
    const st = this.starts;
    while (st.length <= n) {
      const nl = this.text.indexOf("\n", st[st.length - 1]!);
      if (nl < 0) return -1;
      st.push(nl + 1);
    }
    return st[n]!;
  }
  get(n: number): string | undefined {
    if (n < 0) return undefined;
    const s = this.start(n);
    if (s < 0) return undefined;
    const e = this.text.indexOf("\n", s);
    const line = this.text.slice(s, e < 0 ? this.text.length : e);
    return line.endsWith("\r") ? line.slice(0, -1) : line;
  }
}

function ancestors(lines: Lines, lineNo: number, col: number): string[] {
  const out: string[] = [];
  let c = col;
  for (let i = lineNo - 1; i >= 0 && c > 0; i--) {
    const li = lineInfo(lines.get(i) ?? "");
    if (li.blank) continue;
    if (li.key !== undefined && li.keyCol !== undefined && li.keyCol < c) {
      out.unshift(li.key);
      c = li.indent;
    } else if (li.indent < c) {
      c = li.indent;
    }
  }
  return out;
}

export function yamlCursor(text: string, pos: Position, lineOffset = 0): YamlCursor {
  const lines = new Lines(text);
  const ln = pos.line - lineOffset;
  const line = lines.get(ln) ?? "";
  const ch = Math.min(pos.character, line.length);
  const li = lineInfo(line);
  const before = line.slice(0, ch);

  // Flow context on this line: the innermost unclosed { or [ before the cursor.
  let depth = 0;
  let flowStart = -1;
  let inQuote: string | undefined;
  for (let i = 0; i < before.length; i++) {
    const c = before[i]!;
    if (inQuote) {
      if (c === inQuote) inQuote = undefined;
      continue;
    }
    if (c === '"' || c === "'") inQuote = c;
    else if (c === "#" && (i === 0 || /\s/.test(before[i - 1]!))) break;
    else if (c === "{" || c === "[") {
      depth++;
      flowStart = i;
    } else if (c === "}" || c === "]") {
      depth = Math.max(0, depth - 1);
    }
  }
  const inFlow = depth > 0;

  const basePath = ancestors(lines, ln, li.keyCol ?? li.indent);
  const cur: YamlCursor = { path: basePath, inValue: false, valuePrefix: "", inFlow, inListItem: false };

  if (inFlow) {
    // The segment of the flow collection the cursor is in: after the last , { or [.
    let segStart = flowStart + 1;
    for (let i = before.length - 1; i > flowStart; i--) {
      const c = before[i]!;
      if (c === "," || c === "{" || c === "[") {
        segStart = i + 1;
        break;
      }
    }
    const rest = line.slice(segStart);
    const segEndRel = rest.search(/[,}\]]/);
    const seg = segEndRel < 0 ? rest : rest.slice(0, segEndRel);
    const km = /^(\s*)([^:{}[\],]+?)\s*:(\s*)(.*)$/.exec(seg);
    const outerKey = li.key !== undefined && li.keyCol !== undefined && li.keyCol < flowStart ? [li.key] : [];
    const path = [...basePath, ...outerKey];
    if (km) {
      const key = unquote(km[2]!.trim());
      const keyStart = segStart + km[1]!.length;
      const valStart = keyStart + km[2]!.length + (seg.slice(km[1]!.length + km[2]!.length).indexOf(":") + 1) + km[3]!.length;
      cur.path = [...path, key];
      cur.key = key;
      cur.keyRange = { start: { line: pos.line, character: keyStart }, end: { line: pos.line, character: keyStart + km[2]!.length } };
      if (ch >= valStart || ch > keyStart + km[2]!.length) {
        cur.inValue = true;
        setValue(cur, line, pos.line, valStart, segStart + seg.length, ch);
      }
    } else {
      cur.path = path;
      cur.inListItem = true;
      const lead = seg.length - seg.trimStart().length;
      setValue(cur, line, pos.line, segStart + lead, segStart + seg.length, ch);
    }
    return cur;
  }

  if (li.key !== undefined && li.keyCol !== undefined) {
    const m = KEY_LINE.exec(line)!;
    const keyText = m[3]!;
    const keyEnd = li.keyCol + keyText.length;
    const colon = line.indexOf(":", keyEnd);
    cur.path = [...basePath, li.key];
    cur.key = li.key;
    cur.keyRange = { start: { line: pos.line, character: li.keyCol }, end: { line: pos.line, character: keyEnd } };
    if (ch > colon) {
      cur.inValue = true;
      let vs = colon + 1;
      while (vs < line.length && line[vs] === " ") vs++;
      setValue(cur, line, pos.line, vs, commentStart(line, vs), ch);
    }
    return cur;
  }

  // `- item` (a plain list item) or a continuation line.
  const t = line.trimStart();
  if (t.startsWith("-")) {
    let vs = li.indent + 1;
    while (vs < line.length && (line[vs] === " " || line[vs] === "-")) vs++;
    cur.inListItem = true;
    setValue(cur, line, pos.line, vs, commentStart(line, vs), ch);
  }
  return cur;
}

function commentStart(line: string, from: number): number {
  for (let i = from; i < line.length; i++) if (line[i] === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return i;
  return line.length;
}

function setValue(cur: YamlCursor, line: string, lineNo: number, start: number, end: number, ch: number): void {
  let s = start;
  let e = end;
  while (e > s && /\s/.test(line[e - 1]!)) e--;
  const rawVal = line.slice(s, e);
  if (rawVal.length >= 1 && (rawVal[0] === '"' || rawVal[0] === "'")) {
    s += 1;
    if (e - 1 > s && line[e - 1] === rawVal[0]) e -= 1;
  }
  cur.value = line.slice(s, e);
  cur.valueRange = { start: { line: lineNo, character: s }, end: { line: lineNo, character: e } };
  cur.valuePrefix = line.slice(s, Math.max(s, Math.min(ch, e)));
}

/** The word-ish token at a position in a line (letters, digits, _ . / - + @ and :). */
export function tokenAt(line: string, ch: number, re = /[A-Za-z0-9_./+@:-]/): { text: string; start: number; end: number } {
  let s = ch;
  let e = ch;
  while (s > 0 && re.test(line[s - 1]!)) s--;
  while (e < line.length && re.test(line[e]!)) e++;
  return { text: line.slice(s, e), start: s, end: e };
}

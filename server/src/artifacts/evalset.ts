// Eval sets: `*.eval.yaml` (prompt, slices, cases) and `*.eval.jsonl` (one case per line).
//
// Speed matters here: an editor re-diagnoses a 5,000-case file on every keystroke, and a full
// YAML parse of such a file takes about a second. So the YAML is split into its case items
// (each `- ` at the sequence's indentation under `cases:`), each item is parsed and validated on
// its own and cached by its text, and an edit re-parses only the item it touched. Anything the
// split cannot handle exactly (aliases across items, multiple documents, directives, a flow
// `cases: [...]`) falls back to one full parse, which gives the same result more slowly.
import path from "node:path";
import { sha256Text } from "./hash";
import { assertionSchema, caseSchema, CASE_KEYS, EVAL_KEYS, evalHeaderSchema } from "./schemas";
import type { Diagnostic, Range } from "./types";
import { firstLine, locate, mapKeys, OffsetMapper, parseYaml, rangeFor, type PathKey, type YamlSource } from "./yaml-source";
import { unknownKeyDiagnostics, zodDiagnostics } from "./zod-diagnostics";

/** promptfoo assertion types Driftlens understands (each also with a `not-` prefix). */
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
  "javascript",
] as const;

/** Short documentation per assertion type (hover, completion). */
export const ASSERTION_DOCS: Record<(typeof ASSERTION_TYPES)[number], string> = {
  equals: "Output equals `value` exactly (objects/arrays: output parsed as JSON and compared deeply).",
  contains: "Output contains the string `value` (case-sensitive).",
  icontains: "Output contains the string `value`, ignoring case.",
  "contains-any": "Output contains at least one of the strings in `value` (a list, or a comma-separated string).",
  "contains-all": "Output contains every string in `value`.",
  "icontains-any": "Like contains-any, ignoring case.",
  "icontains-all": "Like contains-all, ignoring case.",
  "starts-with": "Output starts with `value`.",
  regex: "Output matches the JavaScript regular expression `value`.",
  "is-json": "Output is valid JSON; with `value`, it also validates against that JSON Schema.",
  "contains-json": "Output contains a JSON object or array; with `value`, one validates against that JSON Schema.",
  "json-schema": "Output parsed as JSON validates against the JSON Schema in `value`.",
  levenshtein: "Levenshtein distance between output and `value` is at most `threshold` (default 5).",
  "word-count": "Output has exactly `value` words, or between `value.min` and `value.max`.",
  latency: "Generation took at most `threshold` milliseconds.",
  similar: "Similarity between output and `value` is at least `threshold` (default 0.75).",
  javascript: "The JavaScript expression in `value` (given `output` and `context`) returns true or a score ≥ threshold. Runs only in trusted workspaces.",
};

const NEEDS_STRING = new Set(["contains", "icontains", "starts-with", "regex", "levenshtein", "similar", "javascript"]);
const NEEDS_LIST = new Set(["contains-any", "contains-all", "icontains-any", "icontains-all"]);

export interface Assertion {
  type: string;
  value?: unknown;
  threshold?: number;
  weight?: number;
  metric?: string;
  [key: string]: unknown;
}

export interface EvalCase {
  id: string;
  vars: Record<string, unknown>;
  assert: Assertion[];
  tags: string[];
  why?: string;
  provenance?: unknown;
  threshold?: number;
  description?: string;
  /** The whole case in the file. */
  range: Range;
  idRange: Range;
  /** Range of each var's key (for "wrong var" diagnostics); `varsRange` is the vars mapping. */
  varRanges: Record<string, Range>;
  varsRange?: Range;
  tagRanges: Range[];
  /** Index of the case in the file (0-based). */
  index: number;
}

export interface EvalSlice {
  name: string;
  /** Tags whose cases belong to the slice. */
  tags: string[];
  caseIds: string[];
  /** Where the slice is defined (or the first tag naming it). */
  range: Range;
}

export interface EvalSetDoc {
  file: string;
  text: string;
  hash: string;
  format: "yaml" | "jsonl";
  /** `prompt:` resolved against the eval set's folder. */
  prompt?: { path: string; declared: string; range: Range };
  description?: string;
  defaultAssert: Assertion[];
  cases: EvalCase[];
  slices: EvalSlice[];
  diagnostics: Diagnostic[];
  /** Range of the `cases` key (or the start of the file). */
  casesRange: Range;
}

/** Cached work for one case item (ranges relative to the item's first line). */
interface CaseChunk {
  lines: number;
  raw: unknown;
  parsed?: Omit<EvalCase, "index">;
  diagnostics: Diagnostic[];
  fallback: boolean;
}

/** Per-file cache of case items keyed by their text; pass the same object on every re-parse. */
export class EvalParseCache {
  private current = new Map<string, CaseChunk>();
  private previous = new Map<string, CaseChunk>();
  get(key: string): CaseChunk | undefined {
    const hit = this.current.get(key) ?? this.previous.get(key);
    if (hit) this.current.set(key, hit);
    return hit;
  }
  set(key: string, v: CaseChunk): void {
    this.current.set(key, v);
  }
  /** Called after each parse: keeps what the last two parses used. */
  rotate(): void {
    this.previous = this.current;
    this.current = new Map();
  }
  get size(): number {
    return this.current.size + this.previous.size;
  }
}

function shiftRange(r: Range, dl: number): Range {
  if (dl === 0) return r;
  return { start: { line: r.start.line + dl, character: r.start.character }, end: { line: r.end.line + dl, character: r.end.character } };
}

function shiftCase(c: Omit<EvalCase, "index">, dl: number, index: number): EvalCase {
  if (dl === 0) return { ...c, index };
  const varRanges: Record<string, Range> = {};
  for (const k in c.varRanges) varRanges[k] = shiftRange(c.varRanges[k]!, dl);
  return {
    ...c,
    index,
    range: shiftRange(c.range, dl),
    idRange: shiftRange(c.idRange, dl),
    varRanges,
    ...(c.varsRange ? { varsRange: shiftRange(c.varsRange, dl) } : {}),
    tagRanges: c.tagRanges.map((r) => shiftRange(r, dl)),
  };
}

function validRegex(pattern: string): string | undefined {
  // promptfoo accepts /pattern/flags as well as a bare pattern.
  const m = /^\/(.*)\/([a-z]*)$/s.exec(pattern);
  try {
    if (m) new RegExp(m[1]!, m[2]);
    else new RegExp(pattern);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message.replace(/^Invalid regular expression: /, "") : String(e);
  }
}

/** Checks one assertion list; positions from `src` at `base`. */
function checkAssertions(list: unknown, src: { doc: YamlSource["doc"]; map: OffsetMapper }, base: PathKey[], file: string, out: Diagnostic[]): Assertion[] {
  const result: Assertion[] = [];
  if (!Array.isArray(list)) return result;
  list.forEach((a, i) => {
    const res = assertionSchema.safeParse(a);
    if (!res.success) {
      out.push(...zodDiagnostics(res.error, src, a, file, "DL301", [...base, i]));
      return;
    }
    const as = res.data as Assertion;
    result.push(as);
    const negated = as.type.startsWith("not-");
    const type = negated ? as.type.slice(4) : as.type;
    if (!(ASSERTION_TYPES as readonly string[]).includes(type)) {
      out.push({
        file,
        range: rangeFor(src, [...base, i, "type"]),
        severity: "error",
        code: "DL303",
        message: `unknown assertion type '${as.type}'; Driftlens supports ${ASSERTION_TYPES.join(", ")} (each also as not-…)`,
      });
      return;
    }
    const vr = () => rangeFor(src, [...base, i, "value"], "key");
    if (NEEDS_STRING.has(type) && typeof as.value !== "string") {
      out.push({ file, range: as.value === undefined ? rangeFor(src, [...base, i], "value") : vr(), severity: "error", code: "DL312", message: `assertion '${as.type}' needs a string 'value'${as.value === undefined ? "" : `, not ${Array.isArray(as.value) ? "a list" : typeof as.value}`}` });
    } else if (NEEDS_LIST.has(type) && !(typeof as.value === "string" || (Array.isArray(as.value) && as.value.every((x) => typeof x === "string")))) {
      out.push({ file, range: as.value === undefined ? rangeFor(src, [...base, i], "value") : vr(), severity: "error", code: "DL312", message: `assertion '${as.type}' needs 'value' as a list of strings` });
    } else if (type === "equals" && as.value === undefined) {
      out.push({ file, range: rangeFor(src, [...base, i], "value"), severity: "error", code: "DL312", message: `assertion '${as.type}' needs a 'value' to compare with` });
    } else if (type === "latency" && as.threshold === undefined) {
      out.push({ file, range: rangeFor(src, [...base, i], "value"), severity: "error", code: "DL312", message: `assertion '${as.type}' needs a 'threshold' in milliseconds` });
    } else if (type === "word-count" && !(typeof as.value === "number" || (as.value !== null && typeof as.value === "object" && !Array.isArray(as.value)))) {
      out.push({ file, range: as.value === undefined ? rangeFor(src, [...base, i], "value") : vr(), severity: "error", code: "DL312", message: `assertion '${as.type}' needs 'value' as a number or {min, max}` });
    } else if (type === "json-schema" && (as.value === null || typeof as.value !== "object")) {
      out.push({ file, range: as.value === undefined ? rangeFor(src, [...base, i], "value") : vr(), severity: "error", code: "DL312", message: `assertion '${as.type}' needs a JSON Schema mapping as 'value'` });
    }
    if (type === "regex" && typeof as.value === "string") {
      const err = validRegex(as.value);
      if (err) out.push({ file, range: vr(), severity: "error", code: "DL304", message: `invalid regular expression ${JSON.stringify(as.value)}: ${err}` });
    }
  });
  return result;
}

/** Validates one case value; ranges come from `src` at `base` (the case's path). */
function validateCase(raw: unknown, src: { doc: YamlSource["doc"]; map: OffsetMapper }, base: PathKey[], file: string): { parsed?: Omit<EvalCase, "index">; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const caseRange = rangeFor(src, base);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    diagnostics.push({ file, range: caseRange, severity: "error", code: "DL301", message: `a case must be a mapping with id, vars, assert, tags, why; not ${raw === null ? "null" : Array.isArray(raw) ? "a list" : typeof raw}` });
    return { diagnostics };
  }
  const res = caseSchema.safeParse(raw);
  const obj = raw as Record<string, unknown>;
  diagnostics.push(...unknownKeyDiagnostics(src, base, CASE_KEYS, file, "DL311", "case"));
  if (!res.success) {
    // Assertion issues get their own (better) messages below.
    const issues = res.error.issues.filter((i) => i.path[0] !== "assert" || i.path.length < 2);
    if (issues.length) diagnostics.push(...zodDiagnostics({ ...res.error, issues } as typeof res.error, src, raw, file, "DL301", base));
  }
  const assert = checkAssertions(obj.assert, src, [...base, "assert"], file, diagnostics);
  const idOk = typeof obj.id === "string" ? obj.id.length > 0 : typeof obj.id === "number";
  if (!idOk) return { diagnostics };
  const id = String(obj.id);
  const why = typeof obj.why === "string" ? obj.why : undefined;
  const idRange = rangeFor(src, [...base, "id"]);
  if (!why || !why.trim()) {
    diagnostics.push({ file, range: rangeFor(src, [...base, "id"], "key"), severity: "warning", code: "DL308", message: `case '${id}' has no 'why': say why it exists, so whoever sees it fail knows what broke` });
  }
  const vars = obj.vars && typeof obj.vars === "object" && !Array.isArray(obj.vars) ? (obj.vars as Record<string, unknown>) : {};
  const varRanges: Record<string, Range> = {};
  for (const k of mapKeys(src, [...base, "vars"])) varRanges[k.key] = k.range;
  const varsLoc = locate(src, [...base, "vars"]);
  const tags = Array.isArray(obj.tags) ? obj.tags.filter((t) => typeof t === "string" || typeof t === "number").map(String) : [];
  const tagRanges = Array.isArray(obj.tags) ? obj.tags.map((_, i) => rangeFor(src, [...base, "tags", i])) : [];
  const parsed: Omit<EvalCase, "index"> = {
    id,
    vars,
    assert,
    tags,
    ...(why !== undefined ? { why } : {}),
    ...(obj.provenance !== undefined ? { provenance: obj.provenance } : {}),
    ...(typeof obj.threshold === "number" ? { threshold: obj.threshold } : {}),
    ...(typeof obj.description === "string" ? { description: obj.description } : {}),
    range: caseRange,
    idRange,
    varRanges,
    ...(varsLoc.found ? { varsRange: varsLoc.value } : {}),
    tagRanges,
  };
  return { parsed, diagnostics };
}

interface Split {
  casesLine: number;
  /** Line index where each item starts, plus the end line of the region. */
  itemStarts: number[];
  regionEnd: number;
  lineStarts: number[];
}

/** Finds the block sequence under a top-level `cases:`; undefined when the file needs a full parse. */
function splitCases(text: string): Split | undefined {
  if (/^(?:---|\.\.\.|%)/m.test(text)) return undefined;
  const lineStarts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lineStarts.push(i + 1);
  const lineAt = (i: number) => text.slice(lineStarts[i], i + 1 < lineStarts.length ? lineStarts[i + 1]! - 1 : text.length).replace(/\r$/, "");
  const n = lineStarts.length;
  let casesLine = -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(lineStarts[i]!);
    if (c === 99 /* c */ && /^cases:[ \t]*(#.*)?$/.test(lineAt(i))) {
      casesLine = i;
      break;
    }
  }
  if (casesLine < 0) return undefined;
  let indent = -1;
  const itemStarts: number[] = [];
  let i = casesLine + 1;
  for (; i < n; i++) {
    const line = lineAt(i);
    const trimmed = line.trimStart();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const ind = line.length - trimmed.length;
    if (line.includes("\t") && ind === 0) return undefined;
    if (indent < 0) {
      if (!/^-(?:[ \t]|$)/.test(trimmed)) return undefined;
      indent = ind;
    }
    if (ind < indent) break;
    if (ind === indent) {
      if (/^-(?:[ \t]|$)/.test(trimmed)) itemStarts.push(i);
      else break;
    }
  }
  if (indent < 0) return undefined;
  // Trailing blank/comment lines after the last item stay outside (they belong to the tail).
  let end = i;
  while (end > (itemStarts[itemStarts.length - 1] ?? casesLine) + 1) {
    const t = lineAt(end - 1).trim();
    if (t === "" || t.startsWith("#")) end--;
    else break;
  }
  return { casesLine, itemStarts, regionEnd: end, lineStarts };
}

function emptyRange(): Range {
  return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
}

/** Parses an eval set (YAML or JSONL by file name). Never throws. */
export function parseEvalSet(text: string, file: string, cache?: EvalParseCache): EvalSetDoc {
  const doc = file.endsWith(".jsonl") ? parseJsonl(text, file, cache) : parseEvalYaml(text, file, cache);
  finish(doc);
  cache?.rotate();
  return doc;
}

function header(doc: EvalSetDoc, raw: unknown, src: YamlSource, file: string): void {
  if (raw === undefined || raw === null) return;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    doc.diagnostics.push({ file, range: rangeFor(src, []), severity: "error", code: "DL301", message: "an eval set must be a mapping with prompt and cases" });
    return;
  }
  const obj = raw as Record<string, unknown>;
  const res = evalHeaderSchema.safeParse(obj);
  if (!res.success) {
    const issues = res.error.issues.filter((i) => i.path[0] !== "defaultAssert" || i.path.length < 2);
    if (issues.length) doc.diagnostics.push(...zodDiagnostics({ ...res.error, issues } as typeof res.error, src, obj, file, "DL301"));
  }
  doc.diagnostics.push(...unknownKeyDiagnostics(src, [], EVAL_KEYS, file, "DL311", "eval set"));
  if (typeof obj.prompt === "string" && obj.prompt) doc.prompt = { declared: obj.prompt, path: path.resolve(path.dirname(file), obj.prompt), range: rangeFor(src, ["prompt"]) };
  if (typeof obj.description === "string") doc.description = obj.description;
  doc.defaultAssert = checkAssertions(obj.defaultAssert, src, ["defaultAssert"], file, doc.diagnostics);
  const casesLoc = locate(src, ["cases"]);
  if (casesLoc.found && casesLoc.key) doc.casesRange = casesLoc.key;
  if (obj.slices && typeof obj.slices === "object" && !Array.isArray(obj.slices)) {
    for (const [name, def] of Object.entries(obj.slices as Record<string, unknown>)) {
      const tags = Array.isArray(def) ? def.map(String) : def && typeof def === "object" && Array.isArray((def as { tags?: unknown }).tags) ? ((def as { tags: unknown[] }).tags.map(String)) : [name];
      doc.slices.push({ name, tags, caseIds: [], range: rangeFor(src, ["slices", name], "key") });
    }
  }
}

function parseEvalYaml(text: string, file: string, cache?: EvalParseCache): EvalSetDoc {
  const doc: EvalSetDoc = { file, text, hash: sha256Text(text), format: "yaml", defaultAssert: [], cases: [], slices: [], diagnostics: [], casesRange: emptyRange() };
  const split = splitCases(text);
  if (split && split.itemStarts.length > 0) {
    const ok = parseChunked(doc, text, file, split, cache);
    if (ok) return doc;
    doc.cases = [];
    doc.slices = [];
    doc.diagnostics = [];
    doc.defaultAssert = [];
  }
  // Full parse: same checks, positions from the whole document.
  const src = parseYaml(text, file, "DL300");
  doc.diagnostics.push(...src.diagnostics);
  header(doc, src.value, src, file);
  const raw = src.value as Record<string, unknown> | undefined;
  if (raw && typeof raw === "object" && Array.isArray(raw.cases)) {
    raw.cases.forEach((c, i) => {
      const v = validateCase(c, src, ["cases", i], file);
      doc.diagnostics.push(...v.diagnostics);
      if (v.parsed) doc.cases.push({ ...v.parsed, index: doc.cases.length });
    });
  }
  return doc;
}

function parseChunked(doc: EvalSetDoc, text: string, file: string, split: Split, cache?: EvalParseCache): boolean {
  const { lineStarts, casesLine, itemStarts, regionEnd } = split;
  const off = (line: number) => (line < lineStarts.length ? lineStarts[line]! : text.length);
  // Skeleton: everything but the case items, with `cases: []` in place, line numbers preserved.
  const casesLineText = text.slice(off(casesLine), off(casesLine + 1));
  const head = text.slice(0, off(casesLine)) + casesLineText.replace(/^cases:/, "cases: []");
  const tail = text.slice(off(regionEnd));
  const skeleton = tail.trim() ? head + (head.endsWith("\n") ? "" : "\n") + "\n".repeat(Math.max(0, regionEnd - casesLine - 1)) + tail : head;
  const src = parseYaml(skeleton, file, "DL300");
  doc.diagnostics.push(...src.diagnostics);
  header(doc, src.value, src, file);
  for (let k = 0; k < itemStarts.length; k++) {
    const startLine = itemStarts[k]!;
    const endLine = k + 1 < itemStarts.length ? itemStarts[k + 1]! : regionEnd;
    const chunkText = text.slice(off(startLine), Math.max(off(startLine), off(endLine) - (endLine < lineStarts.length ? 1 : 0)));
    let chunk = cache?.get(chunkText);
    if (!chunk) {
      const csrc = parseYaml(chunkText, file, "DL300");
      const fallback = csrc.diagnostics.some((d) => /alias|anchor/i.test(d.message)) || !(Array.isArray(csrc.value) && csrc.value.length === 1) && csrc.diagnostics.length === 0;
      if (fallback) return false;
      const diagnostics = [...csrc.diagnostics];
      let parsed: Omit<EvalCase, "index"> | undefined;
      let raw: unknown;
      if (Array.isArray(csrc.value) && csrc.value.length === 1) {
        raw = csrc.value[0];
        const v = validateCase(raw, csrc, [0], file);
        diagnostics.push(...v.diagnostics);
        parsed = v.parsed;
      }
      chunk = { lines: endLine - startLine, raw, ...(parsed ? { parsed } : {}), diagnostics, fallback: false };
      cache?.set(chunkText, chunk);
    }
    for (const d of chunk.diagnostics) doc.diagnostics.push(startLine === 0 ? d : { ...d, range: shiftRange(d.range, startLine) });
    if (chunk.parsed) doc.cases.push(shiftCase(chunk.parsed, startLine, doc.cases.length));
  }
  return true;
}

function parseJsonl(text: string, file: string, cache?: EvalParseCache): EvalSetDoc {
  const doc: EvalSetDoc = { file, text, hash: sha256Text(text), format: "jsonl", defaultAssert: [], cases: [], slices: [], diagnostics: [], casesRange: emptyRange() };
  let lineNo = 0;
  let pos = 0;
  let sawContent = false;
  while (pos <= text.length) {
    const nl = text.indexOf("\n", pos);
    const lineText = text.slice(pos, nl < 0 ? text.length : nl).replace(/\r$/, "");
    const lineIndex = lineNo;
    pos = nl < 0 ? text.length + 1 : nl + 1;
    lineNo++;
    if (!lineText.trim()) continue;
    const first = !sawContent;
    sawContent = true;
    let chunk = cache?.get("\u0000jsonl\u0000" + lineText);
    if (!chunk) {
      chunk = parseJsonlLine(lineText, file);
      cache?.set("\u0000jsonl\u0000" + lineText, chunk);
    }
    // A first line without `id` that names a prompt is the header.
    const raw = chunk.raw as Record<string, unknown> | undefined;
    if (first && raw && typeof raw === "object" && !Array.isArray(raw) && !("id" in raw) && ("prompt" in raw || "slices" in raw || "description" in raw)) {
      const src = parseYaml(lineText, file, "DL300", lineIndex);
      header(doc, raw, src, file);
      continue;
    }
    for (const d of chunk.diagnostics) doc.diagnostics.push({ ...d, range: shiftRange(d.range, lineIndex) });
    if (chunk.parsed) doc.cases.push(shiftCase(chunk.parsed, lineIndex, doc.cases.length));
  }
  return doc;
}

function parseJsonlLine(lineText: string, file: string): CaseChunk {
  const map = new OffsetMapper(lineText);
  try {
    JSON.parse(lineText);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const at = /position (\d+)/.exec(msg);
    const p = at ? Number(at[1]) : 0;
    return { lines: 1, raw: undefined, diagnostics: [{ file, range: map.range(p, Math.min(lineText.length, p + 1)), severity: "error", code: "DL300", message: `JSON: ${firstLine(msg)} (JSONL holds one JSON object per line)` }], fallback: false };
  }
  // JSON is YAML: parse again for positions (only this line, once per distinct line text).
  const src = parseYaml(lineText, file, "DL300");
  const raw = src.value;
  const v = validateCase(raw, src, [], file);
  return { lines: 1, raw, ...(v.parsed ? { parsed: v.parsed } : {}), diagnostics: [...src.diagnostics.filter((d) => d.severity === "error"), ...v.diagnostics], fallback: false };
}

/** Cross-case checks (duplicate ids) and slices. */
function finish(doc: EvalSetDoc): void {
  const seen = new Map<string, EvalCase>();
  for (const c of doc.cases) {
    const prev = seen.get(c.id);
    if (prev) {
      doc.diagnostics.push({ file: doc.file, range: c.idRange, severity: "error", code: "DL302", message: `duplicate case id '${c.id}' (first used on line ${prev.idRange.start.line + 1}); results are stored by id, so ids must be unique` });
    } else seen.set(c.id, c);
  }
  // Slices: declared ones, else one per tag.
  if (doc.slices.length === 0) {
    const byTag = new Map<string, EvalSlice>();
    for (const c of doc.cases) {
      c.tags.forEach((t, i) => {
        let s = byTag.get(t);
        if (!s) {
          s = { name: t, tags: [t], caseIds: [], range: c.tagRanges[i] ?? c.idRange };
          byTag.set(t, s);
        }
        if (s.caseIds[s.caseIds.length - 1] !== c.id) s.caseIds.push(c.id);
      });
    }
    doc.slices = [...byTag.values()];
  } else {
    for (const s of doc.slices) {
      const tags = new Set(s.tags);
      s.caseIds = doc.cases.filter((c) => c.tags.some((t) => tags.has(t))).map((c) => c.id);
    }
  }
}

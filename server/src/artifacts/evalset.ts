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
import { hasTemplate, prepareAssertion, type Assertion } from "./assertions";
import { caseSchema, CASE_KEYS, EVAL_KEYS, evalHeaderSchema } from "./schemas";
import type { Diagnostic, Range } from "./types";
import { isMap, isSeq } from "yaml";
import { firstLine, locate, mapKeys, OffsetMapper, parseYaml, rangeFor, type PathKey, type YamlSource } from "./yaml-source";
import { unknownKeyDiagnostics, zodDiagnostics } from "./zod-diagnostics";

export { ASSERTION_TYPES, ASSERTION_DOCS, type Assertion } from "./assertions";

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
  /** Assertions for every case; not copied into `cases[].assert` (runners prepend them). */
  defaultAssert: Assertion[];
  cases: EvalCase[];
  slices: EvalSlice[];
  diagnostics: Diagnostic[];
  /** Range of the `cases` key (or the start of the file). */
  casesRange: Range;
}

/** Cached work for one case item: its case and diagnostics with ranges as of line `line`. */
interface CaseChunk {
  line: number;
  index: number;
  raw: unknown;
  parsed?: EvalCase;
  diagnostics: Diagnostic[];
}

/** Per-file cache of case items keyed by their text; pass the same object on every re-parse. */
export class EvalParseCache {
  private map = new Map<string, CaseChunk>();
  /** The last parse's items in order: most items are found here without hashing their text. */
  private prevKeys: string[] = [];
  private prevChunks: CaseChunk[] = [];
  /** Duplicate-id and slice results of the last parse (see finish). */
  finishMemo?: FinishMemo;

  /** The cached item `key`, at position k of n items in this parse. */
  find(k: number, key: string, n: number): CaseChunk | undefined {
    const pk = this.prevKeys;
    if (pk[k] === key) return this.prevChunks[k];
    const j = k + (pk.length - n); // same item counted from the end (an item was added or removed)
    if (j >= 0 && pk[j] === key) return this.prevChunks[j];
    return this.map.get(key);
  }
  get(key: string): CaseChunk | undefined {
    return this.map.get(key);
  }
  set(key: string, v: CaseChunk): void {
    // A key sliced from a whole file's text would keep that text alive for as long as the entry
    // lives (one full copy per edit); store a copy of just the item.
    this.map.set(key.length > 12 ? (" " + key).slice(1) : key, v);
  }
  /** Records a finished parse; drops entries once the map holds far more than one parse uses. */
  record(keys: string[], chunks: CaseChunk[]): void {
    this.prevKeys = keys;
    this.prevChunks = chunks;
    if (this.map.size > 2 * keys.length + 64) {
      this.map = new Map();
      for (let i = 0; i < keys.length; i++) this.map.set(keys[i]!, chunks[i]!);
    }
  }
  get size(): number {
    return this.map.size;
  }
}

/** Moves a cached chunk to start at `line` as case number `index`, reusing objects when nothing moved. */
function placeChunk(chunk: CaseChunk, line: number, index: number): CaseChunk {
  if (chunk.line === line && chunk.index === index) return chunk;
  const dl = line - chunk.line;
  const parsed = chunk.parsed ? shiftCase(chunk.parsed, dl, index) : undefined;
  const diagnostics = dl === 0 ? chunk.diagnostics : chunk.diagnostics.map((d) => ({ ...d, range: shiftRange(d.range, dl) }));
  return { line, index, raw: chunk.raw, ...(parsed ? { parsed } : {}), diagnostics };
}

function shiftRange(r: Range, dl: number): Range {
  if (dl === 0) return r;
  return { start: { line: r.start.line + dl, character: r.start.character }, end: { line: r.end.line + dl, character: r.end.character } };
}

/**
 * Every case object is built here with the same properties in the same order (absent optional
 * ones as undefined), so property access over thousands of cases stays monomorphic and fast.
 */
function makeCase(c: EvalCase): EvalCase {
  return {
    id: c.id,
    vars: c.vars,
    assert: c.assert,
    tags: c.tags,
    why: c.why,
    provenance: c.provenance,
    threshold: c.threshold,
    description: c.description,
    range: c.range,
    idRange: c.idRange,
    varRanges: c.varRanges,
    varsRange: c.varsRange,
    tagRanges: c.tagRanges,
    index: c.index,
  };
}

function withIndex(c: EvalCase, index: number): EvalCase {
  if (c.index === index) return c;
  const o = makeCase(c);
  o.index = index;
  return o;
}

function shiftCase(c: EvalCase, dl: number, index: number): EvalCase {
  if (dl === 0) return withIndex(c, index);
  const varRanges: Record<string, Range> = {};
  for (const k in c.varRanges) varRanges[k] = shiftRange(c.varRanges[k]!, dl);
  const o = makeCase(c);
  o.index = index;
  o.range = shiftRange(c.range, dl);
  o.idRange = shiftRange(c.idRange, dl);
  o.varRanges = varRanges;
  o.varsRange = c.varsRange ? shiftRange(c.varsRange, dl) : undefined;
  o.tagRanges = c.tagRanges.map((r) => shiftRange(r, dl));
  return o;
}

/**
 * Checks one assertion list (positions from `src` at `base`) and returns every entry, valid or
 * not: the evaluator checks each again with the same function and refuses the invalid ones with
 * the same message, so a run never silently skips an assertion. `vars` are the case's (absent for
 * defaultAssert, whose templates are checked per case in finish()).
 */
function checkAssertions(list: unknown, src: { doc: YamlSource["doc"]; map: OffsetMapper }, base: PathKey[], file: string, out: Diagnostic[], vars?: Record<string, unknown>): Assertion[] {
  const result: Assertion[] = [];
  if (!Array.isArray(list)) return result;
  list.forEach((a, i) => {
    const p = prepareAssertion(a, vars);
    result.push(a as Assertion);
    for (const issue of p.issues) {
      out.push({ file, range: rangeFor(src, [...base, i, ...issue.at]), severity: issue.severity, code: issue.code, message: issue.message });
    }
  });
  return result;
}

/** Validates one case value; ranges come from `src` at `base` (the case's path). */
function validateCase(raw: unknown, src: { doc: YamlSource["doc"]; map: OffsetMapper }, base: PathKey[], file: string): { parsed?: EvalCase; diagnostics: Diagnostic[] } {
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
  const caseVars = obj.vars && typeof obj.vars === "object" && !Array.isArray(obj.vars) ? (obj.vars as Record<string, unknown>) : {};
  const assert = checkAssertions(obj.assert, src, [...base, "assert"], file, diagnostics, caseVars);
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
  const parsed = makeCase({
    id,
    vars,
    assert,
    tags,
    why,
    provenance: obj.provenance,
    threshold: typeof obj.threshold === "number" ? obj.threshold : undefined,
    description: typeof obj.description === "string" ? obj.description : undefined,
    range: caseRange,
    idRange,
    varRanges,
    varsRange: varsLoc.found ? varsLoc.value : undefined,
    tagRanges,
    index: 0,
  });
  return { parsed, diagnostics };
}

interface Split {
  casesLine: number;
  /** Offsets of the `cases:` line and of the line after it. */
  casesOff: number;
  casesNextOff: number;
  /** Line index and offset where each item starts. */
  itemStarts: number[];
  itemOffsets: number[];
  /** First line (and its offset) after the items. */
  regionEnd: number;
  regionEndOff: number;
}

/**
 * Finds the block sequence under a top-level `cases:`; undefined when the file needs a full parse.
 * One pass over the text without per-line allocations: it runs on every keystroke.
 */
function splitCases(text: string): Split | undefined {
  const len = text.length;
  let casesLine = -1;
  let casesOff = 0;
  let casesNextOff = 0;
  let indent = -1;
  const itemStarts: number[] = [];
  const itemOffsets: number[] = [];
  let regionEnd = -1;
  let regionEndOff = len;
  let lastContent = -1;
  let afterLastContentOff = len;
  for (let s = 0, i = 0; s <= len; i++) {
    const nl = text.indexOf("\n", s);
    const next = nl < 0 ? len : nl + 1;
    const c0 = text.charCodeAt(s);
    // Directives, document markers: leave those files to the full parser.
    if (c0 === 37 /* % */ || ((c0 === 45 || c0 === 46) && text.startsWith(c0 === 45 ? "---" : "...", s))) return undefined;
    if (casesLine < 0) {
      if (c0 === 99 /* c */ && text.startsWith("cases:", s) && /^cases:[ \t]*(#.*)?\r?$/.test(text.slice(s, nl < 0 ? len : nl))) {
        casesLine = i;
        casesOff = s;
        casesNextOff = next;
      }
    } else if (regionEnd < 0) {
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
          regionEnd = i;
          regionEndOff = s;
        } else {
          if (ind === indent) {
            itemStarts.push(i);
            itemOffsets.push(s);
          }
          lastContent = i;
          afterLastContentOff = next;
        }
      }
    }
    if (nl < 0) break;
    s = next;
  }
  if (casesLine < 0 || indent < 0) return undefined;
  // Trailing blank/comment lines after the last item stay outside (they belong to the tail).
  if (regionEnd < 0 || lastContent + 1 < regionEnd) {
    regionEnd = lastContent + 1;
    regionEndOff = afterLastContentOff;
  }
  return { casesLine, casesOff, casesNextOff, itemStarts, itemOffsets, regionEnd, regionEndOff };
}

/** `hash` computed on first read: hashing a megabyte on every keystroke is wasted when nobody asks. */
function lazyHash(doc: EvalSetDoc): EvalSetDoc {
  let value: string | undefined;
  Object.defineProperty(doc, "hash", {
    enumerable: true,
    configurable: true,
    get: () => (value ??= sha256Text(doc.text)),
    set: (v: string) => void (value = v),
  });
  return doc;
}

function emptyRange(): Range {
  return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
}

/** Parses an eval set (YAML or JSONL by file name). Never throws. */
export function parseEvalSet(text: string, file: string, cache?: EvalParseCache): EvalSetDoc {
  const doc = file.endsWith(".jsonl") ? parseJsonl(text, file, cache) : parseEvalYaml(text, file, cache);
  finish(doc, cache);
  checkDefaultTemplates(doc);
  return doc;
}

/** defaultAssert entries whose value holds a template, with where the value is (per parsed doc). */
const defaultTemplates = new WeakMap<EvalSetDoc, { index: number; range: Range }[]>();

function hasTemplatedValue(a: unknown): boolean {
  const v = (a as { value?: unknown } | null)?.value;
  const t = (s: unknown) => typeof s === "string" && hasTemplate(s);
  return t(v) || (Array.isArray(v) && v.some(t));
}

/** A defaultAssert value's templates render with each case's vars: checked per case, named by it. */
function checkDefaultTemplates(doc: EvalSetDoc): void {
  const list = defaultTemplates.get(doc);
  if (!list) return;
  for (const { index, range } of list) {
    let shown = 0;
    let more = 0;
    let code = "DL330";
    for (const c of doc.cases) {
      const p = prepareAssertion(doc.defaultAssert[index], c.vars);
      for (const issue of p.issues) {
        if (issue.severity !== "error") continue;
        if (shown < 10) {
          doc.diagnostics.push({ file: doc.file, range, severity: "error", code: issue.code, message: `${issue.message} (in case '${c.id}')` });
          shown++;
        } else {
          more++;
          code = issue.code;
        }
      }
    }
    if (more) doc.diagnostics.push({ file: doc.file, range, severity: "error", code, message: `and ${more} more cases cannot use this defaultAssert value (see the messages above)` });
  }
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
  const templated = doc.defaultAssert.flatMap((a, i) => (hasTemplatedValue(a) ? [{ index: i, range: rangeFor(src, ["defaultAssert", i, "value"]) }] : []));
  if (templated.length) defaultTemplates.set(doc, templated);
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
  const doc: EvalSetDoc = lazyHash({ file, text, hash: "", format: "yaml", defaultAssert: [], cases: [], slices: [], diagnostics: [], casesRange: emptyRange() });
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
      if (v.parsed) doc.cases.push(withIndex(v.parsed, doc.cases.length));
    });
  }
  return doc;
}

function parseChunked(doc: EvalSetDoc, text: string, file: string, split: Split, cache?: EvalParseCache): boolean {
  const { casesLine, casesOff, casesNextOff, itemStarts, itemOffsets, regionEnd, regionEndOff } = split;
  // Skeleton: everything but the case items, with `cases: []` in place, line numbers preserved.
  const casesLineText = text.slice(casesOff, casesNextOff);
  const head = text.slice(0, casesOff) + casesLineText.replace(/^cases:/, "cases: []");
  const tail = text.slice(regionEndOff);
  const skeleton = tail.trim() ? head + (head.endsWith("\n") ? "" : "\n") + "\n".repeat(Math.max(0, regionEnd - casesLine - 1)) + tail : head;
  const src = parseYaml(skeleton, file, "DL300");
  doc.diagnostics.push(...src.diagnostics);
  header(doc, src.value, src, file);
  const keys: string[] = [];
  const chunks: (CaseChunk | string)[] = [];
  let misses = 0;
  for (let k = 0; k < itemStarts.length; k++) {
    // The item with its final newline, so its node ends where it does in a full parse.
    const chunkText = text.slice(itemOffsets[k]!, k + 1 < itemOffsets.length ? itemOffsets[k + 1]! : regionEndOff);
    keys.push(chunkText);
    const hit = cache?.find(k, chunkText, itemStarts.length);
    if (hit) chunks.push(hit);
    else {
      chunks.push(chunkText);
      misses++;
    }
  }
  // Many new items (first open, a big paste): one full parse is faster than thousands of small ones.
  if (misses > 200) {
    const full = parseYaml(text, file, "DL300");
    const items = (full.value as { cases?: unknown } | undefined)?.cases;
    const casesNode = isMap(full.doc.contents) ? full.doc.contents.get("cases", true) : undefined;
    const seq = isSeq(casesNode) ? casesNode.items : undefined;
    if (full.diagnostics.length || !Array.isArray(items) || !seq || seq.length !== itemStarts.length) return false;
    for (let k = 0; k < seq.length; k++) {
      const node = seq[k] as { range?: [number, number, number] } | null;
      if (!node?.range || full.map.position(node.range[0]).line !== itemStarts[k]) return false;
    }
    for (let k = 0; k < items.length; k++) {
      if (typeof chunks[k] !== "string") continue;
      const v = validateCase(items[k], full, ["cases", k], file);
      const chunk: CaseChunk = { line: itemStarts[k]!, index: k, raw: items[k], ...(v.parsed ? { parsed: withIndex(v.parsed, k) } : {}), diagnostics: v.diagnostics };
      cache?.set(keys[k]!, chunk);
      chunks[k] = chunk;
    }
  }
  const finalChunks: CaseChunk[] = [];
  for (let k = 0; k < chunks.length; k++) {
    const startLine = itemStarts[k]!;
    let chunk = chunks[k]!;
    if (typeof chunk === "string") {
      const csrc = parseYaml(chunk, file, "DL300", startLine);
      const fallback = csrc.diagnostics.some((d) => /alias|anchor/i.test(d.message)) || (!(Array.isArray(csrc.value) && csrc.value.length === 1) && csrc.diagnostics.length === 0);
      if (fallback) return false;
      const diagnostics = [...csrc.diagnostics];
      let parsed: EvalCase | undefined;
      let raw: unknown;
      if (Array.isArray(csrc.value) && csrc.value.length === 1) {
        raw = csrc.value[0];
        const v = validateCase(raw, csrc, [0], file);
        diagnostics.push(...v.diagnostics);
        if (v.parsed) parsed = withIndex(v.parsed, doc.cases.length);
      }
      const fresh: CaseChunk = { line: startLine, index: k, raw, ...(parsed ? { parsed } : {}), diagnostics };
      cache?.set(keys[k]!, fresh);
      chunk = fresh;
    } else {
      const placed = placeChunk(chunk, startLine, doc.cases.length);
      if (placed !== chunk) cache?.set(keys[k]!, placed);
      chunk = placed;
    }
    finalChunks.push(chunk);
    for (const d of chunk.diagnostics) doc.diagnostics.push(d);
    if (chunk.parsed) doc.cases.push(withIndex(chunk.parsed, doc.cases.length));
  }
  cache?.record(keys, finalChunks);
  return true;
}

function parseJsonl(text: string, file: string, cache?: EvalParseCache): EvalSetDoc {
  const doc: EvalSetDoc = lazyHash({ file, text, hash: "", format: "jsonl", defaultAssert: [], cases: [], slices: [], diagnostics: [], casesRange: emptyRange() });
  let lineNo = 0;
  let pos = 0;
  let sawContent = false;
  const keys: string[] = [];
  const jsonlChunks: CaseChunk[] = [];
  while (pos <= text.length) {
    const nl = text.indexOf("\n", pos);
    const lineText = text.slice(pos, nl < 0 ? text.length : nl).replace(/\r$/, "");
    const lineIndex = lineNo;
    pos = nl < 0 ? text.length + 1 : nl + 1;
    lineNo++;
    if (!lineText.trim()) continue;
    const first = !sawContent;
    sawContent = true;
    const key = "\u0000jsonl\u0000" + lineText;
    let chunk = cache?.get(key);
    if (!chunk) chunk = parseJsonlLine(lineText, file);
    // A first line without `id` that names a prompt is the header.
    const raw = chunk.raw as Record<string, unknown> | undefined;
    if (first && raw && typeof raw === "object" && !Array.isArray(raw) && !("id" in raw) && ("prompt" in raw || "slices" in raw || "description" in raw)) {
      const src = parseYaml(lineText, file, "DL300", lineIndex);
      header(doc, raw, src, file);
      continue;
    }
    const placed = placeChunk(chunk, lineIndex, doc.cases.length);
    if (placed !== chunk || !cache?.get(key)) cache?.set(key, placed);
    keys.push(key);
    jsonlChunks.push(placed);
    for (const d of placed.diagnostics) doc.diagnostics.push(d);
    if (placed.parsed) doc.cases.push(placed.parsed);
  }
  cache?.record(keys, jsonlChunks);
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
    return { line: 0, index: 0, raw: undefined, diagnostics: [{ file, range: map.range(p, Math.min(lineText.length, p + 1)), severity: "error", code: "DL300", message: `JSON: ${firstLine(msg)} (JSONL holds one JSON object per line)` }] };
  }
  // JSON is YAML: parse again for positions (only this line, once per distinct line text).
  const src = parseYaml(lineText, file, "DL300");
  const raw = src.value;
  const v = validateCase(raw, src, [], file);
  return { line: 0, index: 0, raw, ...(v.parsed ? { parsed: v.parsed } : {}), diagnostics: [...src.diagnostics.filter((d) => d.severity === "error"), ...v.diagnostics] };
}

/** Cross-case checks (duplicate ids) and slices. */
function sameRange(a: Range, b: Range): boolean {
  return a === b || (a.start.line === b.start.line && a.start.character === b.start.character && a.end.line === b.end.line && a.end.character === b.end.character);
}

/** Whether two cases have the same id, tags and their positions (all that finish() reads). */
function sameIdentity(a: EvalCase, b: EvalCase): boolean {
  if (a === b) return true;
  if (a.id !== b.id || !sameRange(a.idRange, b.idRange) || a.tags.length !== b.tags.length || a.tagRanges.length !== b.tagRanges.length) return false;
  for (let i = 0; i < a.tags.length; i++) if (a.tags[i] !== b.tags[i]) return false;
  for (let i = 0; i < a.tagRanges.length; i++) if (!sameRange(a.tagRanges[i]!, b.tagRanges[i]!)) return false;
  return true;
}

/** Cross-case results reused while ids, tags and their positions are unchanged (most edits). */
export interface FinishMemo {
  cases: EvalCase[];
  slicesKey: string;
  duplicates: Diagnostic[];
  slices: EvalSlice[];
}

function finish(doc: EvalSetDoc, cache?: EvalParseCache): void {
  const slicesKey = JSON.stringify(doc.slices.map((s) => [s.name, s.tags, s.range]));
  const memo = cache?.finishMemo;
  if (memo && memo.slicesKey === slicesKey && memo.cases.length === doc.cases.length && doc.cases.every((c, i) => sameIdentity(c, memo.cases[i]!))) {
    for (const d of memo.duplicates) doc.diagnostics.push(d);
    doc.slices = memo.slices;
    memo.cases = doc.cases;
    return;
  }
  const before = doc.diagnostics.length;
  finishFresh(doc);
  if (cache) cache.finishMemo = { cases: doc.cases, slicesKey, duplicates: doc.diagnostics.slice(before), slices: doc.slices };
}

function finishFresh(doc: EvalSetDoc): void {
  // defaultAssert stays on the eval set (runners prepend it to each case's assertions).
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

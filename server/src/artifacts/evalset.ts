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
import { Pair, Scalar, YAMLMap } from "yaml";
import { blankCases, splitFlowCases } from "./evalset-flow";
import { blockSequenceUnder } from "./yaml-block-sequence";
import { forEachLine } from "../util/safe-file";
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
  /** `repeat`: samples to draw for this case. */
  repeat?: number;
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
  /** `repeat`: samples per case (cases may override). */
  repeat?: number;
  /** `grader`: the judge variant of model-graded assertions. */
  grader?: { ref: string; range: Range };
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
    repeat: c.repeat,
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
    repeat: typeof obj.repeat === "number" && Number.isInteger(obj.repeat) && obj.repeat >= 1 ? obj.repeat : undefined,
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
  const b = blockSequenceUnder(text, "cases");
  if (!b) return undefined;
  return { casesLine: b.headerLine, casesOff: b.headerOff, casesNextOff: b.headerNextOff, itemStarts: b.itemLines, itemOffsets: b.itemOffs, regionEnd: b.endLine, regionEndOff: b.endOff };
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

/**
 * What parseEvalSet can do besides parsing. With `onCase`, cases are handed over one at a time
 * and not kept in `doc.cases` (scan mode: memory stays that of one case, however large the file);
 * duplicate ids and slices are still worked out.
 */
export interface EvalParseOptions {
  /** Gets each case (and the document so far: its header is parsed before any case). */
  onCase?: (c: EvalCase, doc: EvalSetDoc) => void;
  /** Progress over the case items (called every few hundred items). */
  onProgress?: (done: number, total: number) => void;
}

/** Diagnostics kept per eval set; a file with more gets one note saying how many were left out. */
export const MAX_EVAL_DIAGNOSTICS = 2000;

/**
 * Files above this size (characters) are parsed coarsely: JSONL lines with JSON.parse and every
 * range on the case's line, not YAML positions per key (the per-line YAML parse costs ten times
 * the file's memory and most of the time).
 */
export const COARSE_EVAL_CHARS = 8 * 1024 * 1024;

/** Parses an eval set (YAML or JSONL by file name). Never throws. */
export function parseEvalSet(text: string, file: string, cache?: EvalParseCache, opts: EvalParseOptions = {}): EvalSetDoc {
  const scan = opts.onCase ? new ScanState(opts.onCase) : undefined;
  const o: ParseRun = { cache: scan ? undefined : cache, scan, onProgress: opts.onProgress };
  const doc = file.endsWith(".jsonl") ? parseJsonl(text, file, o) : parseEvalYaml(text, file, o);
  if (scan) scan.finish(doc);
  else {
    finish(doc, cache);
    checkDefaultTemplates(doc);
  }
  capDiagnostics(doc, scan?.dropped);
  return doc;
}

/**
 * The `prompt:` an eval set declares, read by the same parser as parseEvalSet but without its
 * cases (block style: the document without its items; flow/JSON style: the same with the cases
 * list blanked out; JSONL: the header line).
 */
export function declaredEvalSetPrompt(text: string, file: string): string | undefined {
  const doc = lazyHash({ file, text, hash: "", format: file.endsWith(".jsonl") ? "jsonl" : "yaml", defaultAssert: [], cases: [], slices: [], diagnostics: [], casesRange: emptyRange() });
  if (file.endsWith(".jsonl")) {
    for (let pos = 0; pos <= text.length; ) {
      const end = text.indexOf("\n", pos);
      const line = text.slice(pos, end < 0 ? text.length : end).replace(/\r$/, "");
      pos = end < 0 ? text.length + 1 : end + 1;
      if (!line.trim()) continue;
      const raw = jsonOrUndefined(line);
      if (isHeaderLine(raw)) header(doc, raw, parseYaml(line, file, "DL300"), file);
      break;
    }
    return doc.prompt?.declared;
  }
  const block = splitCases(text);
  const flow = block && block.itemStarts.length > 0 ? undefined : splitFlowCases(text);
  const src = parseYaml(block && block.itemStarts.length > 0 ? blockSkeleton(text, block) : flow ? blankCases(text, flow) : text, file, "DL300");
  header(doc, src.value, src, file);
  return doc.prompt?.declared;
}

/** How one parse runs: its cache (none in scan mode), scan state and progress listener. */
interface ParseRun {
  cache?: EvalParseCache;
  scan?: ScanState;
  onProgress?: (done: number, total: number) => void;
}

/** Adds a parsed case to the document, or hands it over in scan mode. */
function emit(doc: EvalSetDoc, o: ParseRun, c: EvalCase): void {
  if (o.scan) o.scan.add(doc, c);
  else doc.cases.push(c);
}

function progress(o: ParseRun, done: number, total: number): void {
  if (o.onProgress && (done % 512 === 0 || done === total)) o.onProgress(done, total);
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
  if (typeof obj.repeat === "number" && Number.isInteger(obj.repeat) && obj.repeat >= 1) doc.repeat = obj.repeat;
  if (typeof obj.grader === "string" && obj.grader.trim()) doc.grader = { ref: obj.grader.trim(), range: rangeFor(src, ["grader"]) };
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

function parseEvalYaml(text: string, file: string, o: ParseRun): EvalSetDoc {
  const fresh = (): EvalSetDoc => lazyHash({ file, text, hash: "", format: "yaml", defaultAssert: [], cases: [], slices: [], diagnostics: [], casesRange: emptyRange() });
  const doc = fresh();
  // Case items are parsed one at a time (block style `- ` items, or the items of a flow/JSON
  // `cases: [...]`): a whole-document parse costs about 100 times the file in memory.
  const split = splitCases(text);
  const flow = split && split.itemStarts.length > 0 ? undefined : splitFlowCases(text);
  if (split && split.itemStarts.length > 0) {
    const src = parseYaml(blockSkeleton(text, split), file, "DL300");
    const items = split.itemStarts.map((line, k) => ({ line, text: text.slice(split.itemOffsets[k]!, k + 1 < split.itemOffsets.length ? split.itemOffsets[k + 1]! : split.regionEndOff), flow: false }));
    if (parseItems(doc, src, file, items, o)) return doc;
  } else if (flow && flow.items.length > 0) {
    const src = parseYaml(blankCases(text, flow), file, "DL300");
    const at = new OffsetMapper(text);
    const items = flow.items.map(([s, e]) => {
      const p = at.position(s);
      // Indented to its column, so positions on its first line are those in the file.
      return { line: p.line, text: " ".repeat(p.character) + text.slice(s, e), flow: true, padding: p.character };
    });
    if (parseItems(doc, src, file, items, o)) return doc;
  }
  // Full parse: same checks, positions from the whole document (aliases across items and other
  // shapes the split does not follow).
  const full = fresh();
  if (o.scan) o.scan.reset();
  const src = parseYaml(text, file, "DL300");
  full.diagnostics.push(...src.diagnostics);
  header(full, src.value, src, file);
  const raw = src.value as Record<string, unknown> | undefined;
  if (raw && typeof raw === "object" && Array.isArray(raw.cases)) {
    raw.cases.forEach((c, i) => {
      const v = validateCase(c, src, ["cases", i], file);
      full.diagnostics.push(...v.diagnostics);
      if (v.parsed) emit(full, o, withIndex(v.parsed, o.scan ? o.scan.count : full.cases.length));
      progress(o, i + 1, (raw.cases as unknown[]).length);
    });
  }
  return full;
}

/** Everything but the block-style case items, with `cases: []` in place, line numbers preserved. */
function blockSkeleton(text: string, split: Split): string {
  const { casesLine, casesOff, casesNextOff, regionEnd, regionEndOff } = split;
  const casesLineText = text.slice(casesOff, casesNextOff);
  const head = text.slice(0, casesOff) + casesLineText.replace(/^cases:/, "cases: []");
  const tail = text.slice(regionEndOff);
  return tail.trim() ? head + (head.endsWith("\n") ? "" : "\n") + "\n".repeat(Math.max(0, regionEnd - casesLine - 1)) + tail : head;
}

/** One case item's text and the line it starts on; `flow` items are mappings, block items `- ` lists. */
interface ItemText {
  line: number;
  text: string;
  flow: boolean;
  /** Leading spaces that place a flow item at its column (not indentation). */
  padding?: number;
}

/**
 * Parses the header from `src` (the document without its items) and each item on its own, reusing
 * cached items. False when an item needs the whole document (an alias to an anchor elsewhere).
 */
function parseItems(doc: EvalSetDoc, src: YamlSource, file: string, items: ItemText[], o: ParseRun): boolean {
  const cache = o.cache;
  doc.diagnostics.push(...src.diagnostics);
  header(doc, src.value, src, file);
  const keys: string[] = [];
  const finalChunks: CaseChunk[] = [];
  const n = items.length;
  for (let k = 0; k < n; k++) {
    const { line: startLine, text: chunkText, flow, padding } = items[k]!;
    keys.push(chunkText);
    const index = o.scan ? o.scan.count : doc.cases.length;
    const hit = cache?.find(k, chunkText, n);
    let chunk: CaseChunk;
    if (!hit) {
      const csrc = parseYaml(chunkText, file, "DL300", startLine, padding);
      const one = flow ? csrc.value !== undefined : Array.isArray(csrc.value) && csrc.value.length === 1;
      const fallback = csrc.diagnostics.some((d) => /alias|anchor/i.test(d.message)) || (!one && csrc.diagnostics.length === 0);
      if (fallback) return false;
      const diagnostics = [...csrc.diagnostics];
      let parsed: EvalCase | undefined;
      let raw: unknown;
      if (one) {
        raw = flow ? csrc.value : (csrc.value as unknown[])[0];
        const v = validateCase(raw, csrc, flow ? [] : [0], file);
        diagnostics.push(...v.diagnostics);
        if (v.parsed) parsed = withIndex(v.parsed, index);
      }
      // Scan mode keeps nothing per item.
      chunk = { line: startLine, index: k, raw: o.scan ? undefined : raw, ...(parsed ? { parsed } : {}), diagnostics };
      cache?.set(chunkText, chunk);
    } else {
      chunk = placeChunk(hit, startLine, index);
      if (chunk !== hit) cache?.set(chunkText, chunk);
    }
    if (cache) finalChunks.push(chunk);
    for (const d of chunk.diagnostics) doc.diagnostics.push(d);
    if (chunk.parsed) emit(doc, o, withIndex(chunk.parsed, index));
    progress(o, k + 1, n);
  }
  cache?.record(keys, finalChunks);
  return true;
}

function jsonOrUndefined(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** A first JSONL line without `id` that names a prompt (or slices, a description) is the header. */
function isHeaderLine(raw: unknown): raw is Record<string, unknown> {
  return !!raw && typeof raw === "object" && !Array.isArray(raw) && !("id" in raw) && ("prompt" in raw || "slices" in raw || "description" in raw);
}

function parseJsonl(text: string, file: string, o: ParseRun): EvalSetDoc {
  const doc: EvalSetDoc = lazyHash({ file, text, hash: "", format: "jsonl", defaultAssert: [], cases: [], slices: [], diagnostics: [], casesRange: emptyRange() });
  const line = jsonlLines(doc, file, o, text.length > COARSE_EVAL_CHARS);
  let lineNo = 0;
  for (let pos = 0; pos <= text.length; ) {
    const nl = text.indexOf("\n", pos);
    const lineText = text.slice(pos, nl < 0 ? text.length : nl).replace(/\r$/, "");
    pos = nl < 0 ? text.length + 1 : nl + 1;
    line(lineText, lineNo++);
    progress(o, Math.min(pos, text.length), text.length);
  }
  line.done();
  return doc;
}

/**
 * Scans a JSONL eval set from disk line by line (scan mode: `opts.onCase` gets each case, coarse
 * positions), never holding the file: memory stays that of one line plus case ids and tags.
 * `doc.text` is empty. Throws an UnsafeFileError when the file is not a regular file.
 */
export function scanJsonlEvalSet(file: string, opts: EvalParseOptions & { onCase: EvalParseOptions["onCase"] & {} }): EvalSetDoc {
  const scan = new ScanState(opts.onCase);
  const o: ParseRun = { scan, onProgress: opts.onProgress };
  const doc: EvalSetDoc = { file, text: "", hash: "", format: "jsonl", defaultAssert: [], cases: [], slices: [], diagnostics: [], casesRange: emptyRange() };
  const line = jsonlLines(doc, file, o, true);
  forEachLine(file, line, (done, total) => o.onProgress?.(done, total));
  line.done();
  scan.finish(doc);
  capDiagnostics(doc, scan.dropped);
  return doc;
}

/** The JSONL line handler shared by a parse of the text and a scan of the file. */
function jsonlLines(doc: EvalSetDoc, file: string, o: ParseRun, coarse: boolean): ((lineText: string, lineIndex: number) => void) & { done(): void } {
  const cache = o.cache;
  let sawContent = false;
  const keys: string[] = [];
  const jsonlChunks: CaseChunk[] = [];
  const handle = (lineText: string, lineIndex: number) => {
    if (!lineText.trim()) return;
    const first = !sawContent;
    sawContent = true;
    const key = "\u0000jsonl\u0000" + lineText;
    let chunk = cache?.get(key);
    if (!chunk) chunk = coarse ? parseJsonlLineCoarse(lineText, file, lineIndex) : parseJsonlLine(lineText, file);
    const raw = chunk.raw as Record<string, unknown> | undefined;
    if (first && isHeaderLine(raw)) {
      const src = parseYaml(lineText, file, "DL300", lineIndex);
      header(doc, raw, src, file);
      return;
    }
    const index = o.scan ? o.scan.count : doc.cases.length;
    const placed = placeChunk(chunk, lineIndex, index);
    if (cache && (placed !== chunk || !cache.get(key))) cache.set(key, placed);
    if (cache) {
      keys.push(key);
      jsonlChunks.push(placed);
    }
    for (const d of placed.diagnostics) doc.diagnostics.push(d);
    if (placed.parsed) emit(doc, o, placed.parsed);
  };
  return Object.assign(handle, { done: () => cache?.record(keys, jsonlChunks) });
}

function parseJsonlLine(lineText: string, file: string): CaseChunk {
  const map = new OffsetMapper(lineText);
  try {
    JSON.parse(lineText);
  } catch (e) {
    return jsonError(e, lineText, file, map);
  }
  // JSON is YAML: parse again for positions (only this line, once per distinct line text).
  const src = parseYaml(lineText, file, "DL300");
  const raw = src.value;
  const v = validateCase(raw, src, [], file);
  return { line: 0, index: 0, raw, ...(v.parsed ? { parsed: v.parsed } : {}), diagnostics: [...src.diagnostics.filter((d) => d.severity === "error"), ...v.diagnostics] };
}

function jsonError(e: unknown, lineText: string, file: string, map: OffsetMapper): CaseChunk {
  const msg = e instanceof Error ? e.message : String(e);
  const at = /position (\d+)/.exec(msg);
  const p = at ? Number(at[1]) : 0;
  return { line: 0, index: 0, raw: undefined, diagnostics: [{ file, range: map.range(p, Math.min(lineText.length, p + 1)), severity: "error", code: "DL300", message: `JSON: ${firstLine(msg)} (JSONL holds one JSON object per line)` }] };
}

/**
 * A JSONL line of a large file: JSON.parse only, every range the whole line (see
 * COARSE_EVAL_CHARS). The checks are the same; only the positions are coarser.
 */
function parseJsonlLineCoarse(lineText: string, file: string, line: number): CaseChunk {
  const map = new OffsetMapper(lineText, line);
  let raw: unknown;
  try {
    raw = JSON.parse(lineText);
  } catch (e) {
    return { ...jsonError(e, lineText, file, map), line };
  }
  const v = validateCase(raw, { doc: wholeLineDoc(raw), map }, [], file);
  return { line, index: 0, raw, ...(v.parsed ? { parsed: v.parsed } : {}), diagnostics: v.diagnostics };
}

/**
 * A stand-in document for one coarse JSONL line: its top-level keys (so unknown keys are still
 * reported) with every node spanning the whole line (positions clamp to the line's length).
 */
function wholeLineDoc(raw: unknown): YamlSource["doc"] {
  const span = (n: Scalar | YAMLMap) => ((n.range = [0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]), n);
  let contents: Scalar | YAMLMap;
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    const map = span(new YAMLMap()) as YAMLMap;
    for (const k of Object.keys(raw)) map.items.push(new Pair(span(new Scalar(k)), span(new Scalar(null))));
    contents = map;
  } else contents = span(new Scalar(null));
  // Position lookups read only `contents`: a Document (7 µs each) is not needed per line.
  return { contents } as unknown as YamlSource["doc"];
}

/** Keeps the first MAX_EVAL_DIAGNOSTICS diagnostics (errors first) and says how many more there were. */
function capDiagnostics(doc: EvalSetDoc, dropped = 0): void {
  const n = doc.diagnostics.length + dropped;
  if (n <= MAX_EVAL_DIAGNOSTICS) return;
  const errors = doc.diagnostics.filter((d) => d.severity === "error");
  const rest = doc.diagnostics.filter((d) => d.severity !== "error");
  doc.diagnostics = [...errors, ...rest].slice(0, MAX_EVAL_DIAGNOSTICS);
  doc.diagnostics.push({ file: doc.file, range: doc.casesRange, severity: errors.length + dropped > MAX_EVAL_DIAGNOSTICS ? "error" : "warning", code: "DL300", message: `${n - MAX_EVAL_DIAGNOSTICS} more problems in this eval set are not shown; fix the ones listed first` });
}

/**
 * Scan mode's cross-case state: ids seen (for duplicates), slices by tag, the case count. Each
 * case is passed on and dropped, so only ids and tags stay in memory.
 */
class ScanState {
  count = 0;
  private seen = new Map<string, number>();
  private byTag = new Map<string, EvalSlice>();
  private duplicates: Diagnostic[] = [];
  constructor(private readonly onCase: (c: EvalCase, doc: EvalSetDoc) => void) {}
  reset(): void {
    this.count = 0;
    this.seen.clear();
    this.byTag.clear();
    this.duplicates = [];
  }
  /** Diagnostics dropped during the scan to keep memory bounded (counted in the final note). */
  dropped = 0;
  add(doc: EvalSetDoc, c: EvalCase): void {
    this.count++;
    if (doc.diagnostics.length > 2 * MAX_EVAL_DIAGNOSTICS) {
      const errors = doc.diagnostics.filter((d) => d.severity === "error");
      const kept = (errors.length >= MAX_EVAL_DIAGNOSTICS ? errors : [...errors, ...doc.diagnostics.filter((d) => d.severity !== "error")]).slice(0, MAX_EVAL_DIAGNOSTICS);
      this.dropped += doc.diagnostics.length - kept.length;
      doc.diagnostics = kept;
    }
    const line = this.seen.get(c.id);
    if (line !== undefined && this.duplicates.length >= MAX_EVAL_DIAGNOSTICS) this.dropped++;
    else if (line !== undefined) {
      this.duplicates.push({ file: doc.file, range: c.idRange, severity: "error", code: "DL302", message: `duplicate case id '${c.id}' (first used on line ${line + 1}); results are stored by id, so ids must be unique` });
    } else this.seen.set(c.id, c.idRange.start.line);
    c.tags.forEach((t, i) => {
      let s = this.byTag.get(t);
      if (!s) this.byTag.set(t, (s = { name: t, tags: [t], caseIds: [], range: c.tagRanges[i] ?? c.idRange }));
      if (s.caseIds[s.caseIds.length - 1] !== c.id) s.caseIds.push(c.id);
    });
    this.onCase(c, doc);
  }
  finish(doc: EvalSetDoc): void {
    for (const d of this.duplicates) doc.diagnostics.push(d);
    if (doc.slices.length === 0) doc.slices = [...this.byTag.values()];
    else {
      for (const s of doc.slices) {
        const ids = new Set<string>();
        for (const t of s.tags) for (const id of this.byTag.get(t)?.caseIds ?? []) ids.add(id);
        s.caseIds = [...ids];
      }
    }
  }
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

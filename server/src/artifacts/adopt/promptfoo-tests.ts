// Reading a promptfoo config's tests the way promptfoo does (src/util/testCaseReader.ts,
// src/evaluator.ts): `tests` inline or as `file://` CSV / YAML / JSON / JSONL files and globs,
// `vars` from YAML files, `defaultTest` (inline or a file), `scenarios` (config × tests), array vars
// and `file://` glob vars expanded into one test per combination, and `file://` values loaded
// (JSON and YAML parsed, other files as text, relative to the config's folder as promptfoo's
// basePath). Every test keeps where it is written, for diagnostics and the Test Explorer.
import path from "node:path";
import YAML from "yaml";
import type { Diagnostic, Range } from "../types";
import { readCsvRows, testCaseFromCsvRow } from "./promptfoo-csv";
import { hasGlobMagic, type ReadLog } from "./source";

export interface PfTest {
  test: Record<string, unknown>;
  /** Where the test is written: its item in the config, or the `file://` reference naming its file. */
  range: Range;
  /** For messages: "tests[3]", "tests.csv row 4 (line 5)". */
  where: string;
  /** Whether `description` was written by the user (not promptfoo's "Row #n"). */
  userDescription: boolean;
}

export interface TestsContext {
  log: ReadLog;
  /** The config's folder: promptfoo's basePath for every `file://` outside test files' own vars. */
  base: string;
  file: string;
  diagnostics: Diagnostic[];
  /** Ranges of config paths. */
  rangeOf(p: readonly (string | number)[]): Range;
  code: { missingFile: string; badFile: string; unsupported: string };
}

const JS_PY = /\.(js|cjs|mjs|ts|cts|mts|py)(:[\w.]+)?$/;
const IMAGE = /\.(jpg|jpeg|png|gif|bmp|webp|svg|tif|tiff|ico|avif|heic|heif)$/i;
const VIDEO_AUDIO = /\.(mp4|webm|ogg|mov|avi|wmv|mkv|m4v|mp3|wav|flac|aac|m4a|opus)$/i;
const MIME: Record<string, string> = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", bmp: "image/bmp", webp: "image/webp", svg: "image/svg+xml", tif: "image/tiff", tiff: "image/tiff", ico: "image/x-icon", avif: "image/avif", heic: "image/heic", heif: "image/heif" };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function report(ctx: TestsContext, range: Range, code: string, severity: Diagnostic["severity"], message: string): void {
  ctx.diagnostics.push({ file: ctx.file, range, severity, code, message });
}

function rel(ctx: TestsContext, file: string): string {
  return path.relative(ctx.base, file).split(path.sep).join("/") || file;
}

/** Parses a YAML or JSON file's text; undefined (with a diagnostic) when it does not parse. */
function parseData(ctx: TestsContext, file: string, text: string, range: Range): { ok: boolean; value?: unknown } {
  try {
    const v = file.endsWith(".json") ? JSON.parse(text) : YAML.parse(text, { maxAliasCount: 100 });
    return { ok: true, value: v };
  } catch (e) {
    report(ctx, range, ctx.code.badFile, "error", `${rel(ctx, file)} is not valid ${file.endsWith(".json") ? "JSON" : "YAML"}: ${(e as Error).message.split("\n")[0]}`);
    return { ok: false };
  }
}

/**
 * promptfoo's maybeLoadFromExternalFile for one `file://` string: JSON/YAML parsed, CSV as rows
 * (single-column CSVs as a list of strings), anything else as text; globs give the concatenation.
 * Returns undefined (with a diagnostic) when it cannot be read.
 */
export function loadExternal(ctx: TestsContext, ref: string, range: Range): unknown {
  const p = ref.slice("file://".length);
  if (hasGlobMagic(p)) {
    const files = ctx.log.glob(p, ctx.base);
    if (files.length === 0) {
      report(ctx, range, ctx.code.missingFile, "error", `no files match ${p} (relative to ${rel(ctx, ctx.base) === "" ? "the config's folder" : ctx.base})`);
      return undefined;
    }
    const all: unknown[] = [];
    for (const f of files) {
      const v = loadOne(ctx, f, range);
      if (v === undefined) continue;
      if (Array.isArray(v)) all.push(...v);
      else if (v !== null) all.push(v);
    }
    return all;
  }
  return loadOne(ctx, path.resolve(ctx.base, p), range);
}

function loadOne(ctx: TestsContext, file: string, range: Range): unknown {
  const r = ctx.log.read(file);
  if (!r.ok) {
    report(ctx, range, ctx.code.missingFile, "error", r.error);
    return undefined;
  }
  if (/\.(json|ya?ml)$/i.test(file)) return parseData(ctx, file, r.text, range).value;
  if (file.endsWith(".csv")) {
    try {
      const { rows } = readCsvRows(r.text);
      if (rows.length > 0 && Object.keys(rows[0]!).length === 1) return rows.map((x) => Object.values(x)[0]);
      return rows;
    } catch (e) {
      report(ctx, range, ctx.code.badFile, "error", `${rel(ctx, file)} is not valid CSV: ${(e as Error).message}`);
      return undefined;
    }
  }
  return r.text;
}

/** promptfoo's maybeLoadConfigFromExternalFile: every `file://` string in a value, recursively (not under `vars`, not python/javascript assertion values). */
export function loadExternalDeep(ctx: TestsContext, v: unknown, range: Range, context?: "vars" | "assertion"): unknown {
  // Copy-on-write: a value with no file:// in it comes back as the same object.
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    v.forEach((x, i) => {
      const y = loadExternalDeep(ctx, x, range, context);
      if (y !== x) (out ??= v.slice())[i] = y;
    });
    return out ?? v;
  }
  if (isObject(v)) {
    let out: Record<string, unknown> | undefined;
    for (const k of Object.keys(v)) {
      if (k === "__proto__") {
        out ??= { ...v };
        delete out[k];
        continue;
      }
      const child = k === "value" && typeof v.type === "string" && (v.type === "python" || v.type === "javascript") ? "assertion" : k === "vars" ? "vars" : context;
      const y = loadExternalDeep(ctx, v[k], range, child);
      if (y !== v[k]) (out ??= { ...v })[k] = y;
    }
    return out ?? v;
  }
  if (typeof v === "string" && v.startsWith("file://")) {
    if (context === "vars" || (context === "assertion" && JS_PY.test(v))) return v;
    if (JS_PY.test(v)) return v;
    const loaded = loadExternal(ctx, v, range);
    return loaded === undefined ? v : loaded;
  }
  return v;
}

/** Tests of a `tests:` value (or a scenario's), with their ranges. */
export function readTests(ctx: TestsContext, value: unknown, at: (string | number)[]): PfTest[] {
  const out: PfTest[] = [];
  const range = ctx.rangeOf(at);
  if (value === undefined || value === null) return out;
  if (typeof value === "string") return readTestsRef(ctx, value, range, undefined);
  if (isObject(value) && typeof value.path === "string") return readStandaloneFile(ctx, value.path, range);
  if (!Array.isArray(value)) {
    report(ctx, range, "DL501", "error", `'tests' must be a list of tests or a file:// reference, not ${typeof value}`);
    return out;
  }
  value.forEach((t, i) => {
    const r = ctx.rangeOf([...at, i]);
    if (typeof t === "string") out.push(...readTestsRef(ctx, t, r, i));
    else if (isObject(t) && typeof t.path === "string") out.push(...readStandaloneFile(ctx, t.path, r));
    else if (isObject(t)) {
      const test = readTest(ctx, t, ctx.base, r, `tests[${i}]`);
      if (test) out.push({ test, range: r, where: `tests[${i}]`, userDescription: typeof t.description === "string" });
    } else report(ctx, r, "DL501", "error", `tests[${i}] must be a mapping (vars, assert, …) or a file:// reference`);
  });
  return out;
}

function readTestsRef(ctx: TestsContext, ref: string, range: Range, index: number | undefined): PfTest[] {
  const p = ref.replace(/^file:\/\//, "");
  if (/^(https?:|huggingface:|az:)/.test(p)) {
    report(ctx, range, ctx.code.unsupported, "warning", `tests from ${p.split(":")[0]} are not read by Driftlens (no network); download them to a CSV, YAML or JSONL file in the workspace`);
    return [];
  }
  if (JS_PY.test(p) || /\.xlsx?(#.*)?$/.test(p)) return readStandaloneFile(ctx, ref, range);
  // A list item with a colon (`file.py:fn`) is a standalone file; a bare `tests:` string is read
  // as a glob of test files only when it ends in yaml/yml (promptfoo's readTests).
  if (index !== undefined && p.includes(":") && !/^[A-Za-z]:/.test(p)) return readStandaloneFile(ctx, ref, range);
  if (index === undefined && !(ref.endsWith("yaml") || ref.endsWith("yml"))) return readStandaloneFile(ctx, ref, range);
  return loadTestsFromGlob(ctx, p, range);
}

function loadTestsFromGlob(ctx: TestsContext, pattern: string, range: Range): PfTest[] {
  const files = hasGlobMagic(pattern) ? ctx.log.glob(pattern, ctx.base) : [path.resolve(ctx.base, pattern)];
  if (files.length === 0) {
    report(ctx, range, ctx.code.missingFile, "error", `no test files match ${pattern}`);
    return [];
  }
  const out: PfTest[] = [];
  for (const f of files) {
    if (f.endsWith(".csv") || JS_PY.test(f) || /\.xlsx?$/.test(f)) {
      out.push(...readStandaloneFile(ctx, f, range));
      continue;
    }
    const r = ctx.log.read(f);
    if (!r.ok) {
      report(ctx, range, ctx.code.missingFile, "error", r.error);
      continue;
    }
    let items: unknown;
    if (f.endsWith(".jsonl")) items = parseJsonl(ctx, f, r.text, range);
    else if (/\.(ya?ml|json)$/.test(f)) items = parseData(ctx, f, r.text, range).value;
    else {
      report(ctx, range, ctx.code.badFile, "error", `${rel(ctx, f)}: promptfoo reads test files as CSV, YAML, JSON or JSONL`);
      continue;
    }
    if (items === undefined || items === null) continue;
    items = loadExternalDeep(ctx, items, range);
    const list = Array.isArray(items) ? items : [items];
    list.forEach((t, i) => {
      const where = `${rel(ctx, f)} item ${i + 1}`;
      if (!isObject(t)) {
        report(ctx, range, "DL501", "error", `${where} is not a test mapping`);
        return;
      }
      const test = readTest(ctx, t, path.dirname(f), range, where);
      if (test) out.push({ test, range, where, userDescription: typeof t.description === "string" });
    });
  }
  return out;
}

function parseJsonl(ctx: TestsContext, file: string, text: string, range: Range): unknown[] | undefined {
  const rows: unknown[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.trim()) continue;
    try {
      rows.push(JSON.parse(lines[i]!));
    } catch (e) {
      report(ctx, range, ctx.code.badFile, "error", `${rel(ctx, file)} line ${i + 1} is not valid JSON: ${(e as Error).message}`);
      return undefined;
    }
  }
  return rows;
}

const csvTestsMemo = new Map<string, { text: string; tests: Omit<PfTest, "range">[]; problems: { severity: Diagnostic["severity"]; message: string }[] }>();

/** The tests of a CSV test file (promptfoo's csvRowsToTestCases), with the problems to report. */
function csvTests(text: string, name: string): { tests: Omit<PfTest, "range">[]; problems: { severity: Diagnostic["severity"]; message: string }[] } {
  const tests: Omit<PfTest, "range">[] = [];
  const problems: { severity: Diagnostic["severity"]; message: string }[] = [];
  let parsed: ReturnType<typeof readCsvRows>;
  try {
    parsed = readCsvRows(text);
  } catch (e) {
    problems.push({ severity: "error", message: `${name} is not valid CSV: ${(e as Error).message}` });
    return { tests, problems };
  }
  parsed.rows.forEach((row, i) => {
    const where = `${name} row ${i + 1} (line ${parsed.lines[i] ?? i + 2})`;
    let t: ReturnType<typeof testCaseFromCsvRow>;
    try {
      t = testCaseFromCsvRow(row);
    } catch (e) {
      problems.push({ severity: "error", message: `${where}: ${(e as Error).message}` });
      return;
    }
    for (const p of t.problems) problems.push({ severity: "warning", message: `${where}: ${p}` });
    const { problems: _p, ...test } = t;
    void _p;
    tests.push({ test: { ...test, description: test.description || `Row #${i + 1}` }, where, userDescription: Boolean(t.description) });
  });
  return { tests, problems };
}

/** promptfoo's readStandaloneTestsFile: CSV rows and YAML rows as CSV-style columns, JSON/JSONL as tests. */
function readStandaloneFile(ctx: TestsContext, ref: string, range: Range): PfTest[] {
  const p = ref.replace(/^file:\/\//, "");
  if (JS_PY.test(p)) {
    report(ctx, range, ctx.code.unsupported, "warning", `tests generated by code (${p}) are not run by Driftlens; write them to a CSV, YAML or JSONL file`);
    return [];
  }
  if (/\.xlsx?(#.*)?$/.test(p)) {
    report(ctx, range, ctx.code.unsupported, "warning", `Excel test files (${p}) are not read by Driftlens; export the sheet as CSV`);
    return [];
  }
  const file = path.resolve(ctx.base, p);
  const r = ctx.log.read(file);
  if (!r.ok) {
    report(ctx, range, ctx.code.missingFile, "error", r.error);
    return [];
  }
  const name = rel(ctx, file);
  const out: PfTest[] = [];
  if (file.endsWith(".csv")) {
    // The tests of a CSV are a function of its text: kept across re-checks of the config.
    let memo = csvTestsMemo.get(file);
    if (!memo || memo.text !== r.text) {
      memo = { text: r.text, ...csvTests(r.text, name) };
      csvTestsMemo.set(file, memo);
      if (csvTestsMemo.size > 32) csvTestsMemo.delete(csvTestsMemo.keys().next().value as string);
    }
    for (const p2 of memo.problems) report(ctx, range, ctx.code.badFile, p2.severity, p2.message);
    return memo.tests.map((t) => ({ ...t, range }));
  }
  let items: unknown;
  if (file.endsWith(".jsonl")) items = parseJsonl(ctx, file, r.text, range);
  else if (/\.(json|ya?ml)$/.test(file)) items = parseData(ctx, file, r.text, range).value;
  else {
    report(ctx, range, ctx.code.badFile, "error", `${name}: promptfoo reads test files as CSV, YAML, JSON or JSONL`);
    return [];
  }
  if (items === undefined || items === null) return [];
  const list = Array.isArray(items) ? items : [items];
  const yamlRows = /\.ya?ml$/.test(file);
  list.forEach((item, i) => {
    const where = `${name} item ${i + 1}`;
    if (!isObject(item)) {
      report(ctx, range, "DL501", "error", `${where} is not a mapping`);
      return;
    }
    if (yamlRows) {
      // promptfoo reads a standalone YAML file's items as CSV-style rows (columns are vars).
      const row = loadExternalDeep(ctx, item, range) as Record<string, unknown>;
      const { problems, ...t } = testCaseFromCsvRow(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v as string])));
      for (const p2 of problems) report(ctx, range, ctx.code.badFile, "warning", `${where}: ${p2}`);
      out.push({ test: { ...t, description: t.description || `Row #${i + 1}` }, range, where, userDescription: Boolean(t.description) });
    } else out.push({ test: { ...item, description: item.description || `Row #${i + 1}` }, range, where, userDescription: typeof item.description === "string" });
  });
  return out;
}

/** promptfoo's readTest: `vars` given as YAML file(s) are loaded and merged. */
function readTest(ctx: TestsContext, t: Record<string, unknown>, base: string, range: Range, where: string): Record<string, unknown> | undefined {
  // Copy-on-write: a test that needs nothing changed comes back as itself (kept across parses).
  let test = t;
  const own = () => (test === t ? (test = { ...t }) : test);
  if (typeof test.vars === "string" || Array.isArray(test.vars)) {
    const refs = (Array.isArray(test.vars) ? test.vars : [test.vars]).map(String);
    const merged: Record<string, unknown> = {};
    for (const ref of refs) {
      const files = hasGlobMagic(ref) ? ctx.log.glob(ref.replace(/^file:\/\//, ""), base) : [path.resolve(base, ref.replace(/^file:\/\//, ""))];
      for (const f of files) {
        const r = ctx.log.read(f);
        if (!r.ok) {
          report(ctx, range, ctx.code.missingFile, "error", `${where}: vars file ${r.error}`);
          continue;
        }
        const v = parseData(ctx, f, r.text, range).value;
        if (isObject(v)) Object.assign(merged, loadExternalDeep(ctx, v, range));
      }
    }
    own().vars = merged;
  }
  if (test.vars !== undefined && !isObject(test.vars)) {
    report(ctx, range, "DL501", "error", `${where}: vars must be a mapping of names to values`);
    own().vars = {};
  }
  if (test.assert !== undefined && !Array.isArray(test.assert)) {
    report(ctx, range, "DL501", "error", `${where}: assert must be a list of assertions`);
    own().assert = [];
  }
  return test;
}

/** promptfoo's generateVarCombinations: array vars and `file://` glob vars multiply the test. */
export function varCombinations(ctx: TestsContext, vars: Record<string, unknown>, range: Range): Record<string, unknown>[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const key of Object.keys(vars)) {
    const v = vars[key];
    let values: unknown[];
    if (typeof v === "string" && v.startsWith("file://")) {
      const p = v.slice(7);
      const files = hasGlobMagic(p) ? ctx.log.glob(p, ctx.base) : [path.resolve(ctx.base, p)];
      if (files.length === 0) report(ctx, range, ctx.code.missingFile, "error", `no files match ${p} for variable '${key}'`);
      values = files.map((f) => `file://${path.relative(ctx.base, f).split(path.sep).join("/")}`);
    } else values = Array.isArray(v) && (v.length === 0 || typeof v[0] === "string") ? v : [v];
    const next: Record<string, unknown>[] = [];
    for (const c of combos) for (const x of values) next.push({ ...c, [key]: x });
    combos = next;
    if (combos.length > 10_000) {
      report(ctx, range, "DL501", "error", `array vars expand this test into more than 10,000 cases; Driftlens stops there`);
      return combos.slice(0, 10_000);
    }
  }
  return combos;
}

/**
 * Loads `file://` var values as promptfoo's renderPrompt does: YAML as JSON text, images as data
 * URLs, other files as trimmed text. Code vars (.js/.py) and PDFs are refused with a reason.
 */
export function loadVarFiles(ctx: TestsContext, vars: Record<string, unknown>, range: Range, where: string): { vars: Record<string, unknown>; problems: string[] } {
  const out: Record<string, unknown> = { ...vars };
  const problems: string[] = [];
  for (const [k, v] of Object.entries(vars)) {
    if (typeof v !== "string" || !v.startsWith("file://")) continue;
    const file = path.resolve(ctx.base, v.slice(7));
    if (JS_PY.test(file)) {
      problems.push(`variable '${k}' is computed by code (${v}); Driftlens does not run var functions`);
      continue;
    }
    if (/\.pdf$/i.test(file)) {
      problems.push(`variable '${k}' is a PDF (${v}); Driftlens does not extract PDF text`);
      continue;
    }
    if (IMAGE.test(file) || VIDEO_AUDIO.test(file)) {
      const r = ctx.log.readBase64(file);
      if (!r.ok) {
        report(ctx, range, ctx.code.missingFile, "error", `${where}: variable '${k}': ${r.error}`);
        continue;
      }
      const ext = file.split(".").pop()!.toLowerCase();
      out[k] = IMAGE.test(file) ? `data:${MIME[ext] ?? "image/jpeg"};base64,${r.text}` : r.text;
      continue;
    }
    const r = ctx.log.read(file);
    if (!r.ok) {
      report(ctx, range, ctx.code.missingFile, "error", `${where}: variable '${k}': ${r.error}`);
      continue;
    }
    if (/\.ya?ml$/i.test(file)) {
      try {
        out[k] = JSON.stringify(YAML.parse(r.text));
      } catch (e) {
        report(ctx, range, ctx.code.badFile, "error", `${where}: variable '${k}': ${rel(ctx, file)} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
      }
    } else out[k] = r.text.trim();
  }
  return { vars: out, problems };
}

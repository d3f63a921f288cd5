// promptfoo configs (`promptfooconfig.yaml` and what it references) as Driftlens prompts and
// cases, with promptfoo's semantics (src/util/config/load.ts, src/prompts/, src/evaluator.ts):
// every prompt is one Driftlens prompt (`config#key`), its providers are its variants (through
// driftlens.yaml's `providers:`), and the tests (after defaultTest, scenarios and var expansion)
// are one eval set — the config itself — that every prompt runs. Assertions Driftlens's engine
// knows run as promptfoo means them; the rest (model-graded, ruby, …) are reported at their
// line and the case runs without them.
import path from "node:path";
import { isMap, isScalar, isSeq, type Node } from "yaml";
import type { Assertion } from "../assertions";
import type { Diagnostic, Range } from "../types";
import { locate, parseYaml, rangeFor, type PathKey, type YamlSource } from "../yaml-source";
import { unknownKeyDiagnostics } from "../zod-diagnostics";
import { checkAdoptedAssertions, checkedClean, flushAssertionChecks, queueAssertionChecks, type AssertionSource, type PendingCheck } from "./assertions";
import { PROMPTFOO_ASSERTION_TYPES, PROMPTFOO_SPECIAL_TYPES } from "./promptfoo-csv";
import { preprocessVars, promptfooVariables, RENDER_VAR, renderPromptfoo } from "./promptfoo-render";
import { loadExternalDeep, loadVarFiles, readTests, varCombinations, type PfTest, type TestsContext } from "./promptfoo-tests";
import { parseConfigYaml, type ConfigSource } from "./promptfoo-yaml";
import { hasGlobMagic, ReadLog, type SourceReader } from "./source";
import { canonicalJson, samplingConfig, uniqueIds, varsCaseId, type AdoptedCase, type AdoptedPrompt, type AdoptedSuite, type ProviderRef } from "./types";

/** promptfoo's default config names (YAML/JSON; JavaScript configs are code and not read). */
export const PROMPTFOO_CONFIG_RE = /(^|[\\/])promptfooconfig\.(ya?ml|json)$/;

export function isPromptfooConfig(file: string): boolean {
  return PROMPTFOO_CONFIG_RE.test(file);
}

const TOP_KEYS = ["description", "providers", "targets", "prompts", "tests", "scenarios", "defaultTest", "outputPath", "sharing", "nunjucksFilters", "env", "derivedMetrics", "extensions", "metadata", "redteam", "writeLatestResults", "tracing", "evaluateOptions", "commandLineOptions", "tags", "$schema", "assertionTemplates"] as const;
const TEST_KEYS = ["description", "vars", "provider", "providers", "prompts", "providerOutput", "assert", "assertScoringFunction", "options", "threshold", "metadata"];
const CODES = { missingFile: "DL503", badFile: "DL504", unsupported: "DL508" };
const MODEL_GRADED = new Set(["llm-rubric", "model-graded-closedqa", "model-graded-factuality", "factuality", "g-eval", "answer-relevance", "context-faithfulness", "context-recall", "context-relevance", "conversation-relevance", "select-best", "max-score", "agent-rubric", "search-rubric", "classifier", "moderation", "pi", "guardrails", "human"]);

/** Every assertion type promptfoo knows (for telling "not run here" from "unknown"). */
export const PROMPTFOO_TYPES: ReadonlySet<string> = new Set<string>([...PROMPTFOO_ASSERTION_TYPES, ...PROMPTFOO_SPECIAL_TYPES, "assert-set"]);
export const MODEL_GRADED_TYPES: ReadonlySet<string> = MODEL_GRADED;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

interface PfPrompt {
  raw: string;
  key: string;
  range: Range;
  config: Record<string, unknown>;
  /** Text of the file it came from (identity), when from a file. */
  source?: string;
  /** promptfoo's label (for provider `prompts:` filters). */
  labels: string[];
  fromFile?: string;
}

interface PfProvider {
  id: string;
  label?: string;
  config: Record<string, unknown>;
  prompts?: string[];
  range: Range;
}

class Ctx implements TestsContext {
  readonly diagnostics: Diagnostic[] = [];
  readonly code = CODES;
  readonly notCarried = new Set<string>();
  readonly src: YamlSource;
  pendingChecks?: PendingCheck[];
  constructor(
    readonly log: ReadLog,
    readonly base: string,
    readonly file: string,
    readonly cfg: ConfigSource,
  ) {
    this.src = cfg.src;
  }
  rangeOf(p: readonly (string | number)[]): Range {
    return this.cfg.rangeOf(p);
  }
  keyRange(p: readonly (string | number)[]): Range {
    return this.cfg.rangeOf(p, "key");
  }
  report(range: Range, code: string, severity: Diagnostic["severity"], message: string): void {
    this.diagnostics.push({ file: this.file, range, severity, code, message });
  }
}

/** Resolves `$ref`s (local `#/pointer`, or `file.yaml#/pointer` inside the workspace) as promptfoo's ref parser does. */
function deref(ctx: Ctx, root: unknown): unknown {
  const pointer = (doc: unknown, ptr: string): { ok: boolean; value?: unknown } => {
    if (ptr === "" || ptr === "#") return { ok: true, value: doc };
    let cur = doc;
    for (const raw of ptr.replace(/^#?\//, "").split("/")) {
      const k = decodeURIComponent(raw.replace(/~1/g, "/").replace(/~0/g, "~"));
      if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur as object, k)) return { ok: false };
      cur = (cur as Record<string, unknown>)[k];
    }
    return { ok: true, value: cur };
  };
  const files = new Map<string, unknown>();
  // Copy-on-write: a config without $ref comes back as the same object, nothing copied.
  if (!ctx.cfg.text.includes("$ref")) return root;
  const walk = (v: unknown, at: PathKey[], doc: unknown, stack: string[]): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...at, i], doc, stack));
    if (!isObject(v)) return v;
    if (typeof v.$ref === "string") {
      const ref = v.$ref;
      const range = ctx.rangeOf([...at, "$ref"]);
      if (stack.includes(ref) || stack.length > 32) {
        ctx.report(range, "DL510", "error", `$ref '${ref}' refers to itself (a cycle through ${stack.join(" → ")})`);
        return undefined;
      }
      const hash = ref.indexOf("#");
      const filePart = hash < 0 ? ref : ref.slice(0, hash);
      const ptr = hash < 0 ? "" : ref.slice(hash);
      let target = doc;
      if (filePart) {
        const abs = path.resolve(ctx.base, filePart);
        if (!files.has(abs)) {
          const r = ctx.log.read(abs);
          if (!r.ok) {
            ctx.report(range, "DL510", "error", `$ref '${ref}': ${r.error}`);
            return undefined;
          }
          const parsed = parseYaml(r.text, abs, "DL510");
          files.set(abs, parsed.value);
        }
        target = files.get(abs);
      }
      const got = pointer(target, ptr);
      if (!got.ok) {
        ctx.report(range, "DL510", "error", `$ref '${ref}' points at nothing${filePart ? ` in ${filePart}` : " in this config"}`);
        return undefined;
      }
      return walk(got.value, at, target, [...stack, ref]);
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (k !== "__proto__") out[k] = walk(x, [...at, k], doc, stack);
    return out;
  };
  return walk(root, [], root, []);
}

/** Where a template position (line/character in a YAML string value) is in the file, best effort. */
function scalarPosition(ctx: Ctx, at: PathKey[], line: number, character: number): Range {
  const l = locate(ctx.src, at);
  const node = l.node as Node | undefined;
  if (!l.found || !node || !isScalar(node) || !node.range) return l.value;
  const start = ctx.src.map.position(node.range[0]);
  const type = (node as { type?: string }).type;
  if (type === "BLOCK_LITERAL" || type === "BLOCK_FOLDED") {
    const text = ctx.src.map.text;
    const headerEnd = text.indexOf("\n", node.range[0]);
    const bodyLine = start.line + 1 + line;
    const lineStart = ctx.src.map.position(headerEnd + 1);
    void lineStart;
    // Indentation of the block's first content line.
    const firstLine = text.slice(headerEnd + 1).split("\n", 1)[0] ?? "";
    const indent = firstLine.length - firstLine.trimStart().length;
    return { start: { line: bodyLine, character: indent + character }, end: { line: bodyLine, character: indent + character + 1 } };
  }
  if (line === 0) {
    const off = type === "QUOTE_DOUBLE" || type === "QUOTE_SINGLE" ? 1 : 0;
    return { start: { line: start.line, character: start.character + off + character }, end: { line: start.line, character: start.character + off + character + 1 } };
  }
  return l.value;
}

const PROMPT_FILE_EXT = [".cjs", ".cts", ".j2", ".js", ".json", ".jsonl", ".md", ".mjs", ".mts", ".py", ".ts", ".txt", ".yml", ".yaml"];

/** promptfoo's maybeFilePath. */
function maybeFilePath(s: string): boolean {
  if (["\n", "portkey://", "langfuse://", "helicone://"].some((x) => s.includes(x))) return false;
  const tokens = s.split(":");
  const last = tokens[tokens.length - 1];
  const prev = tokens[tokens.length - 2];
  return s.startsWith("file://") || PROMPT_FILE_EXT.some((e) => last?.endsWith(e) || prev?.endsWith(e)) || s.charAt(s.length - 3) === "." || s.charAt(s.length - 4) === "." || s.includes("*") || s.includes("/") || s.includes("\\");
}

/** The prompts of a `prompts:` entry, as promptfoo's readPrompts reads them. */
function readPromptEntry(ctx: Ctx, entry: { raw: string; label?: string; id?: string; config?: Record<string, unknown> }, at: PathKey[], index: number): PfPrompt[] {
  const range = ctx.rangeOf(at);
  const config = entry.config ?? {};
  const labels = [entry.label, entry.id].filter((x): x is string => typeof x === "string");
  const raw = entry.raw;
  if (raw.startsWith("exec:")) {
    ctx.report(range, "DL508", "warning", `executable prompts (${raw}) are not run by Driftlens; the prompt is skipped`);
    ctx.notCarried.add(`prompt ${raw} (an executable prompt)`);
    return [];
  }
  if (/^(portkey|langfuse|helicone):\/\//.test(raw)) {
    ctx.report(range, "DL508", "warning", `prompts fetched from ${raw.split(":")[0]} are not read by Driftlens (no network); copy the prompt into a file`);
    ctx.notCarried.add(`prompt ${raw}`);
    return [];
  }
  if (!maybeFilePath(raw)) return [{ raw, key: entry.label ?? `prompt ${index + 1}`, range, config, labels: labels.length ? labels : [raw] }];
  const p = raw.replace(/^file:\/\//, "");
  const fnMatch = /^(.*\.(?:js|cjs|mjs|ts|cts|mts|py)):(\w+)$/.exec(p);
  const filePart = fnMatch ? fnMatch[1]! : p;
  let files: string[];
  if (hasGlobMagic(filePart)) {
    files = ctx.log.glob(filePart, ctx.base);
    if (files.length === 0) {
      // promptfoo uses the string itself as the prompt when a pattern matches nothing.
      return [{ raw, key: entry.label ?? `prompt ${index + 1}`, range, config, labels: labels.length ? labels : [raw] }];
    }
  } else files = [path.resolve(ctx.base, filePart)];
  const out: PfPrompt[] = [];
  for (const file of files) {
    const relName = path.relative(ctx.base, file).split(path.sep).join("/");
    const ext = path.extname(file).toLowerCase();
    if ([".js", ".cjs", ".mjs", ".ts", ".cts", ".mts", ".py"].includes(ext)) {
      ctx.report(range, "DL508", "warning", `prompt functions (${relName}) are code; Driftlens does not run them, the prompt is skipped (render it to a text or JSON file to run it)`);
      ctx.notCarried.add(`prompt function ${relName}`);
      continue;
    }
    if (ext === ".csv") {
      ctx.report(range, "DL508", "warning", `CSV prompt files (${relName}) are not read by Driftlens; put each prompt in the config or a .txt file`);
      ctx.notCarried.add(`CSV prompts ${relName}`);
      continue;
    }
    const r = ctx.log.read(file);
    if (!r.ok) {
      if (files.length === 1 && !hasGlobMagic(filePart) && !raw.startsWith("file://") && !ctx.src.map.text.includes("file://")) {
        // promptfoo treats a string that merely looks like a path as the prompt when no file is there.
        out.push({ raw, key: entry.label ?? `prompt ${index + 1}`, range, config, labels: labels.length ? labels : [raw] });
        continue;
      }
      ctx.report(range, "DL503", "error", `prompt file ${relName}: ${r.error}`);
      continue;
    }
    const base = entry.label ?? relName;
    const make = (text: string, n: number, of: number): PfPrompt => ({
      raw: text,
      key: of > 1 ? `${base}:${n + 1}` : base,
      range,
      config,
      source: r.text,
      labels: [...labels, entry.label ? `${entry.label}: ${file}: ${text}` : `${file}: ${text}`, relName],
      fromFile: file,
    });
    if (ext === ".txt" || ext === "") {
      const chunks: string[] = [];
      let buf: string[] = [];
      for (const line of r.text.split(/\r?\n/)) {
        if (line.trim() === "---") {
          chunks.push(buf.join("\n").trim());
          buf = [];
        } else buf.push(line);
      }
      chunks.push(buf.join("\n").trim());
      const nonEmpty = chunks.filter((c) => c.length > 0);
      nonEmpty.forEach((c, i) => out.push(make(c, i, nonEmpty.length)));
    } else if (ext === ".jsonl") {
      const lines = r.text.split(/\r?\n/).filter((l) => l.length > 0);
      lines.forEach((l, i) => out.push(make(l, i, lines.length)));
    } else if (ext === ".json" || ext === ".yaml" || ext === ".yml") {
      let text = r.text;
      try {
        const parsed = ext === ".json" ? JSON.parse(r.text) : parseYaml(r.text, file, "DL504").value;
        if (parsed !== undefined) text = JSON.stringify(loadExternalDeep(ctx, parsed, range));
      } catch {
        // promptfoo keeps the file's text when it does not parse
      }
      out.push(make(text, 0, 1));
    } else out.push(make(r.text, 0, 1));
  }
  return out;
}

function readPrompts(ctx: Ctx, value: unknown): PfPrompt[] {
  if (value === undefined || value === null) return [{ raw: "{{prompt}}", key: "{{prompt}}", range: ctx.keyRange([]), config: {}, labels: ["{{prompt}}"] }];
  const entries: { raw: string; label?: string; id?: string; config?: Record<string, unknown>; at: PathKey[] }[] = [];
  if (typeof value === "string") entries.push({ raw: value, at: ["prompts"] });
  else if (Array.isArray(value)) {
    value.forEach((p, i) => {
      if (typeof p === "string") entries.push({ raw: p, at: ["prompts", i] });
      else if (isObject(p) && (typeof p.raw === "string" || typeof p.id === "string")) {
        entries.push({
          raw: (typeof p.raw === "string" ? p.raw : p.id) as string,
          ...(typeof p.label === "string" ? { label: p.label } : {}),
          ...(typeof p.id === "string" ? { id: p.id } : {}),
          ...(isObject(p.config) ? { config: p.config } : {}),
          at: ["prompts", i],
        });
      } else if (isObject(p) || Array.isArray(p)) {
        // promptfoo serializes anything else (e.g. a list of messages written inline) as the raw prompt.
        entries.push({ raw: JSON.stringify(p), at: ["prompts", i] });
      } else ctx.report(ctx.rangeOf(["prompts", i]), "DL501", "error", `prompts[${i}] must be a string, a file:// path or {raw|id, label, config}`);
    });
  } else if (isObject(value)) {
    for (const [raw, label] of Object.entries(value)) entries.push({ raw, ...(typeof label === "string" ? { label } : {}), at: ["prompts", raw] });
  } else ctx.report(ctx.rangeOf(["prompts"]), "DL501", "error", "prompts must be a list of prompts or file paths");
  const out: PfPrompt[] = [];
  entries.forEach((e, i) => out.push(...readPromptEntry(ctx, e, e.at, i)));
  return out;
}

function readProviders(ctx: Ctx, value: unknown, key: "providers" | "targets"): PfProvider[] {
  const out: PfProvider[] = [];
  if (value === undefined || value === null) return out;
  const list = Array.isArray(value) ? value : [value];
  list.forEach((p, i) => {
    const at: PathKey[] = Array.isArray(value) ? [key, i] : [key];
    const range = ctx.rangeOf(at);
    if (typeof p === "string") {
      if (p.startsWith("file://") && /\.(ya?ml|json)$/.test(p)) {
        const loaded = loadExternalDeep(ctx, p, range);
        const items = Array.isArray(loaded) ? loaded : [loaded];
        for (const it of items) if (isObject(it) && typeof it.id === "string") out.push({ id: it.id, ...(typeof it.label === "string" ? { label: it.label } : {}), config: isObject(it.config) ? it.config : {}, ...(Array.isArray(it.prompts) ? { prompts: it.prompts.map(String) } : {}), range });
        return;
      }
      out.push({ id: p, config: {}, range });
    } else if (isObject(p) && typeof p.id === "string") {
      out.push({ id: p.id, ...(typeof p.label === "string" ? { label: p.label } : {}), config: isObject(p.config) ? p.config : {}, ...(Array.isArray(p.prompts) ? { prompts: p.prompts.map(String) } : {}), range: ctx.rangeOf([...at, "id"]) });
    } else if (isObject(p) && Object.keys(p).length === 1 && isObject(Object.values(p)[0])) {
      const [id, o] = Object.entries(p)[0] as [string, Record<string, unknown>];
      out.push({ id: typeof o.id === "string" ? o.id : id, ...(typeof o.label === "string" ? { label: o.label } : {}), config: isObject(o.config) ? o.config : {}, ...(Array.isArray(o.prompts) ? { prompts: o.prompts.map(String) } : {}), range: ctx.keyRange([...at, id]) });
    } else ctx.report(range, "DL501", "error", `${key}[${i}] must be a provider id, {id, config, label} or {"provider:id": {config}}`);
  });
  return out;
}

/** Tags of a test's metadata: `key=value` (lists give one tag per item). */
function metadataTags(meta: unknown): string[] {
  if (!isObject(meta)) return [];
  const tags: string[] = [];
  for (const [k, v] of Object.entries(meta)) {
    if (k.startsWith("_") || k === "conversationId") continue;
    if (Array.isArray(v)) for (const x of v) tags.push(`${k}=${typeof x === "string" ? x : JSON.stringify(x)}`);
    else if (v !== null && v !== undefined && typeof v !== "object") tags.push(`${k}=${String(v)}`);
  }
  return tags;
}

/** Whether Driftlens's assertion engine runs an assertion type (promptfoo's name, maybe `not-`). */
export type EngineKnows = (type: string) => boolean;

/**
 * A test's cases from an earlier parse, by the test's object (inline tests are kept by their text
 * across parses, CSV rows by the file's text), valid for the same place, defaultTest and engine.
 * Only tests whose processing reported nothing, read no file and whose assertions all checked
 * clean are kept, so a hit has nothing to report; its cases get the test's current range.
 */
interface CaseMemo {
  key: string;
  knows: EngineKnows;
  cases: AdoptedCase[];
}
const caseMemo = new WeakMap<object, CaseMemo>();

function buildCases(ctx: Ctx, tests: PfTest[], defaultTest: Record<string, unknown>, knows: EngineKnows, defaultInline: boolean): { cases: AdoptedCase[]; commit: () => void } {
  const cases: AdoptedCase[] = [];
  const context = `${defaultInline}\u0000${JSON.stringify(defaultTest)}`;
  const fresh: { test: object; memo: CaseMemo; keys: string[] }[] = [];
  const dAssert = Array.isArray(defaultTest.assert) ? (defaultTest.assert as unknown[]) : [];
  const dOptions = isObject(defaultTest.options) ? defaultTest.options : {};
  const dMeta = isObject(defaultTest.metadata) ? defaultTest.metadata : {};
  const dVars = isObject(defaultTest.vars) ? defaultTest.vars : {};
  // defaultTest's assertions are the same for every test: their places are looked up once.
  const defaultSources: AssertionSource[] = dAssert.map((a, j) => ({ assertion: a, range: ctx.rangeOf(defaultInline ? ["defaultTest", "assert", j] : ["defaultTest"]), ...(defaultInline ? { at: ["defaultTest", "assert", j] } : {}) }));
  for (const t of tests) {
    const test = t.test;
    const memoKey = `${t.where}\u0000${t.userDescription}\u0000${context}`;
    const hit = caseMemo.get(test);
    if (hit && hit.key === memoKey && hit.knows === knows) {
      for (const c of hit.cases) cases.push({ ...c, range: t.range });
      continue;
    }
    const before = { cases: cases.length, diagnostics: ctx.diagnostics.length, notCarried: ctx.notCarried.size, reads: ctx.log.count, checks: ctx.pendingChecks?.length ?? 0 };
    for (const k of Object.keys(test)) {
      if (!TEST_KEYS.includes(k) && t.where.startsWith("tests[")) ctx.report(ctx.keyRange(["tests", Number(t.where.slice(6, -1)), k]), "DL502", "warning", `unknown key '${k}' in a promptfoo test; known keys: ${TEST_KEYS.join(", ")}`);
    }
    const options = { ...dOptions, ...(isObject(test.options) ? test.options : {}) };
    const inline = /^tests\[(\d+)\]$/.exec(t.where);
    const sources: AssertionSource[] = [
      ...(options.disableDefaultAsserts === true ? [] : defaultSources),
      ...(Array.isArray(test.assert) ? test.assert : []).map((a, j) => ({ assertion: a, range: t.range, ...(inline ? { at: ["tests", Number(inline[1]), "assert", j] } : {}) })),
    ];
    const metadata = { ...dMeta, ...(isObject(test.metadata) ? test.metadata : {}) };
    const threshold = typeof test.threshold === "number" ? test.threshold : typeof defaultTest.threshold === "number" ? defaultTest.threshold : undefined;
    if (typeof test.providerOutput === "string" || isObject(test.providerOutput)) {
      ctx.report(t.range, "DL508", "warning", `${t.where} has providerOutput (a recorded output); Driftlens generates with the model instead`);
      ctx.notCarried.add(`providerOutput of ${t.where}`);
    }
    // promptfoo runs `options.transform || options.postprocess` on the output before the test's
    // assertions; inline JavaScript runs the same way here (trusted workspaces only, sandboxed).
    const testTransform = options.transform || options.postprocess;
    let transform: string | undefined;
    if (testTransform !== undefined && testTransform !== "" && testTransform !== null) {
      if (typeof testTransform === "string" && testTransform.trim() !== "" && !testTransform.startsWith("file://")) transform = testTransform;
      else {
        const what = typeof testTransform === "string" ? `from a file (${testTransform})` : "that is not a string of JavaScript";
        ctx.report(t.range, "DL508", "warning", `${t.where}: options.transform ${what} is not applied by Driftlens (it runs only inline JavaScript); its assertions run on the raw output. Write the transform inline`);
        ctx.notCarried.add(`options.transform of ${t.where}`);
      }
    }
    if (options.transformVars !== undefined) {
      ctx.report(t.range, "DL508", "warning", `${t.where}: options.transformVars is code; Driftlens does not run it`);
      ctx.notCarried.add(`options.transformVars of ${t.where}`);
    }
    if (test.prompts !== undefined || test.providers !== undefined) {
      ctx.report(t.range, "DL508", "warning", `${t.where}: per-test prompts/providers filters are not applied; Driftlens runs every test on every prompt`);
      ctx.notCarried.add(`prompts/providers filters of ${t.where}`);
    }
    // Model-graded types stay "not run locally" here even where Driftlens's own eval sets judge them
    // with a `grader:` variant: a promptfoo config's judge is promptfoo's provider, not a local model.
    const knowsLocally = (type: string) => !MODEL_GRADED.has(type.startsWith("not-") ? type.slice(4) : type) && knows(type);
    const { kept, dropped, keptIndex, keptSources } = checkAdoptedAssertions(ctx, sources, t, knowsLocally, PROMPTFOO_TYPES, MODEL_GRADED);
    const vars = { ...dVars, ...(isObject(test.vars) ? test.vars : {}) };
    const combos = options.disableVarExpansion === true ? [vars] : varCombinations(ctx, vars, t.range);
    const baseId = t.userDescription && typeof test.description === "string" && test.description.trim() ? test.description.trim() : undefined;
    for (const combo of combos) {
      const loaded = loadVarFiles(ctx, combo, t.range, t.where);
      for (const p of loaded.problems) {
        ctx.report(t.range, "DL508", "warning", `${t.where}: ${p}`);
        ctx.notCarried.add(`${t.where}: ${p}`);
      }
      // The case's vars are the test's as written (what promptfoo's assertions see); what the
      // prompt renders with rides along under RENDER_VAR.
      const v: Record<string, unknown> = {
        ...combo,
        [RENDER_VAR]: { vars: preprocessVars(loaded.vars), ...(typeof options.prefix === "string" ? { prefix: options.prefix } : {}), ...(typeof options.suffix === "string" ? { suffix: options.suffix } : {}) },
      };
      // The id comes from the test's own vars (defaultTest's are the same for every test).
      const own = isObject(test.vars) ? Object.keys(test.vars) : [];
      let id = baseId ?? varsCaseId(own.length ? Object.fromEntries(own.map((k) => [k, combo[k]])) : combo);
      if (baseId && combos.length > 1) {
        const varying = Object.fromEntries(Object.keys(combo).filter((k) => Array.isArray(vars[k]) || (typeof vars[k] === "string" && String(vars[k]).startsWith("file://"))).map((k) => [k, combo[k]]));
        id = `${baseId} [${varsCaseId(varying)}]`;
      }
      queueAssertionChecks(ctx, kept, keptSources, t.where, v);
      cases.push({
        id,
        vars: v,
        assert: kept,
        tags: metadataTags(metadata),
        ...(threshold !== undefined ? { threshold } : {}),
        ...(typeof test.description === "string" ? { description: test.description } : {}),
        ...(transform !== undefined ? { transform } : {}),
        range: t.range,
        dropped,
        assertSource: keptIndex,
      });
    }
    if (ctx.diagnostics.length === before.diagnostics && ctx.notCarried.size === before.notCarried && ctx.log.count === before.reads) {
      const keys = (ctx.pendingChecks ?? []).slice(before.checks).map((p) => p.key);
      fresh.push({ test, memo: { key: memoKey, knows, cases: cases.slice(before.cases).map((c) => ({ ...c })) }, keys });
    }
  }
  // Kept once the batched assertion checks have run (they may still report).
  const commit = () => {
    for (const f of fresh) if (checkedClean(f.keys)) caseMemo.set(f.test, f.memo);
  };
  return { cases: uniqueIds(cases), commit };
}

/** promptfoo's mergeScenarioTest, for each scenario's config × tests. */
function scenarioTests(ctx: Ctx, value: unknown, defaultTest: Record<string, unknown>): PfTest[] {
  let scenarios = value;
  if (typeof scenarios === "string") scenarios = loadExternalDeep(ctx, scenarios, ctx.rangeOf(["scenarios"]));
  if (!Array.isArray(scenarios)) return [];
  const out: PfTest[] = [];
  scenarios.flat().forEach((sc, i) => {
    const at: PathKey[] = ["scenarios", i];
    if (!isObject(sc)) return;
    let tests: unknown = sc.tests;
    if (typeof tests === "string") tests = loadExternalDeep(ctx, tests, ctx.rangeOf([...at, "tests"]));
    const read = Array.isArray(tests) ? readTests(ctx, tests, [...at, "tests"]) : [{ test: {}, range: ctx.rangeOf(at), where: `scenarios[${i}]`, userDescription: false }];
    const data = Array.isArray(sc.config) ? sc.config : [];
    data.forEach((d, j) => {
      if (!isObject(d)) return;
      for (const t of read) {
        const test = t.test;
        out.push({
          test: {
            ...defaultTest,
            ...d,
            ...test,
            vars: { ...(isObject(defaultTest.vars) ? defaultTest.vars : {}), ...(isObject(d.vars) ? d.vars : {}), ...(isObject(test.vars) ? test.vars : {}) },
            options: { ...(isObject(defaultTest.options) ? defaultTest.options : {}), ...(isObject(d.options) ? d.options : {}), ...(isObject(test.options) ? test.options : {}) },
            assert: [...(Array.isArray(d.assert) ? d.assert : []), ...(Array.isArray(test.assert) ? test.assert : [])],
            metadata: { ...(isObject(defaultTest.metadata) ? defaultTest.metadata : {}), ...(isObject(d.metadata) ? d.metadata : {}), ...(isObject(test.metadata) ? test.metadata : {}) },
          },
          range: t.where.startsWith("scenarios") ? ctx.rangeOf([...at, "config", j]) : t.range,
          where: `scenarios[${i}].config[${j}] × ${t.where}`,
          userDescription: t.userDescription || typeof d.description === "string",
        });
      }
    });
  });
  return out;
}

export interface PromptfooOptions {
  /** Whether Driftlens's assertion engine runs a type. */
  engineKnows: EngineKnows;
}

/** Parses a promptfoo config and everything it references. Never throws. */
export function parsePromptfoo(text: string, file: string, reader: SourceReader, opts: PromptfooOptions): AdoptedSuite {
  const log = new ReadLog(reader);
  log.files.set(file, text);
  const cfg = parseConfigYaml(text, file);
  const src = cfg.src;
  const ctx = new Ctx(log, path.dirname(file), file, cfg);
  ctx.diagnostics.push(...cfg.diagnostics);
  const suite: AdoptedSuite = { kind: "promptfoo", file, prompts: [], cases: [], diagnostics: ctx.diagnostics, identity: "", references: [], notCarried: [] };
  const finish = () => {
    // The same defaultTest assertion or test file problem is found once per case: report it once.
    const seen = new Set<string>();
    suite.diagnostics = ctx.diagnostics.filter((d) => {
      const k = JSON.stringify([d.range, d.code, d.message]);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    suite.identity = log.identity();
    suite.reads = [...log.files.entries()];
    suite.references = [...log.files.keys()].filter((f) => f !== file && !f.startsWith("glob:"));
    suite.notCarried = [...ctx.notCarried];
    return suite;
  };
  if (cfg.value === undefined) return finish();
  if (!isObject(cfg.value)) {
    if (cfg.value !== null || text.trim()) ctx.report(rangeFor(src, []), "DL501", "error", "a promptfoo config must be a mapping (prompts, providers, tests, …)");
    return finish();
  }
  ctx.diagnostics.push(...unknownKeyDiagnostics(src, [], TOP_KEYS, file, "DL502", "the promptfoo config"));
  const config = deref(ctx, cfg.value) as Record<string, unknown>;
  const env: Record<string, unknown> = isObject(config.env) ? config.env : {};
  if (config.providers !== undefined && config.targets !== undefined) ctx.report(ctx.keyRange(["targets"]), "DL501", "error", "a promptfoo config has either 'providers' or 'targets', not both");
  const providers = readProviders(ctx, config.providers ?? config.targets, config.providers !== undefined ? "providers" : "targets");
  for (const [k, what] of [["nunjucksFilters", "custom nunjucks filters (code)"], ["extensions", "extension hooks (code)"], ["derivedMetrics", "derived metrics"], ["redteam", "red-team generation"]] as const) {
    if (config[k] !== undefined) {
      ctx.report(ctx.keyRange([k]), "DL508", "warning", `${what}: not run by Driftlens`);
      ctx.notCarried.add(`${k} (${what})`);
    }
  }
  // Prompts.
  const prompts = uniqueIds(readPrompts(ctx, config.prompts).map((p) => ({ ...p, id: p.key }))).map((p) => ({ ...p, key: p.id }));
  // defaultTest (inline or file), then tests and scenarios.
  let defaultTest: Record<string, unknown> = {};
  if (typeof config.defaultTest === "string") {
    const loaded = loadExternalDeep(ctx, config.defaultTest, ctx.rangeOf(["defaultTest"]));
    if (isObject(loaded)) defaultTest = loaded;
    else if (loaded !== config.defaultTest) ctx.report(ctx.rangeOf(["defaultTest"]), "DL501", "error", "defaultTest's file must hold a mapping (vars, assert, options, …)");
  } else if (isObject(config.defaultTest)) defaultTest = config.defaultTest;
  if (typeof defaultTest.vars === "string" || Array.isArray(defaultTest.vars)) {
    const [t] = readTests(ctx, [{ vars: defaultTest.vars }], ["defaultTest"]);
    defaultTest = { ...defaultTest, vars: t?.test.vars ?? {} };
  }
  if (config.metadata !== undefined && defaultTest.metadata === undefined) defaultTest = { ...defaultTest, metadata: config.metadata };
  let tests = readTests(ctx, config.tests, ["tests"]);
  if (config.tests === undefined && config.scenarios === undefined) tests = [{ test: {}, range: ctx.keyRange([]), where: "the implicit test", userDescription: false }];
  tests.push(...scenarioTests(ctx, config.scenarios, defaultTest));
  const built = buildCases(ctx, tests, defaultTest, opts.engineKnows, isObject(config.defaultTest));
  suite.cases = built.cases;
  flushAssertionChecks(ctx);
  built.commit();
  // Each prompt: template check, sampling config per provider, missing vars.
  const providerRefs: ProviderRef[] = providers.map((p) => ({ id: p.id, ...(p.label ? { label: p.label } : {}), range: p.range, file }));
  for (const p of prompts) {
    const at = locatePrompt(ctx, p);
    const v = promptfooVariables(p.raw);
    if (v.problem) {
      const range = p.fromFile || v.problem.line === undefined ? p.range : scalarPosition(ctx, at, v.problem.line, v.problem.character ?? 0);
      ctx.report(range, "DL505", "error", `${p.fromFile ? `${path.relative(ctx.base, p.fromFile)}${v.problem.line !== undefined ? ` line ${v.problem.line + 1}` : ""}: ` : ""}nunjucks: ${v.problem.message}`);
    }
    const own = providers.filter((pr) => !pr.prompts || pr.prompts.some((x) => x === p.key || p.labels.includes(x)));
    for (const c of suite.cases) {
      const missing = v.variables.filter((name) => !(name in c.vars));
      if (missing.length && !v.problem) ctx.report(c.range, "DL509", "warning", `case '${c.id}' sets no ${missing.map((m) => `'${m}'`).join(", ")}, which prompt '${p.key}' uses; promptfoo renders ${missing.length === 1 ? "it" : "them"} empty`);
    }
    // Providers with the same sampling settings share one Driftlens prompt; providers that differ
    // (one at temperature 0, another at its default) get one each (`key@provider`), so every
    // provider runs with its own settings as promptfoo runs it.
    const groups = new Map<string, PfProvider[]>();
    for (const pr of own) {
      const k = canonicalJson(samplingConfig({ ...pr.config, ...p.config }));
      groups.set(k, [...(groups.get(k) ?? []), pr]);
    }
    if (groups.size === 0) groups.set(canonicalJson(samplingConfig(p.config)), []);
    const raw = p.raw;
    for (const [k, members] of groups) {
      const sampling = JSON.parse(k) as Record<string, unknown>;
      const key = groups.size > 1 ? `${p.key}@${members[0]!.label ?? members[0]!.id}` : p.key;
      suite.prompts.push({
        id: `${file}#${key}`,
        file,
        label: key,
        range: p.range,
        identity: canonicalJson({ kind: "promptfoo/1", raw, sampling, env, source: p.source ?? null }),
        config: sampling,
        providers: members.map((pr) => providerRefs[providers.indexOf(pr)]!),
        variables: v.variables,
        render: async (vars) => renderPromptfoo(raw, vars, { env }, sampling),
        template: { kind: "promptfoo", raw, env },
      });
    }
  }
  return finish();
}

function locatePrompt(ctx: Ctx, p: PfPrompt): PathKey[] {
  // Find the YAML path of the prompt entry whose range is p.range (for positions inside it).
  const contents = ctx.src.doc.contents;
  const node = isMap(contents) ? contents.items.find((i) => isScalar(i.key) && i.key.value === "prompts")?.value : undefined;
  if (isScalar(node)) return ["prompts"];
  if (isSeq(node)) {
    for (let i = 0; i < node.items.length; i++) {
      const r = rangeFor(ctx.src, ["prompts", i]);
      if (JSON.stringify(r) === JSON.stringify(p.range)) return isMap(node.items[i]) ? ["prompts", i, "raw"] : ["prompts", i];
    }
  }
  return ["prompts"];
}

export type { Assertion };

// promptfoo's CSV test files (and rows of YAML/JSON test files read the same way): each row is a
// test; `__expected`, `__expected1`… hold assertions in promptfoo's short syntax
// (`contains: x`, `icontains-any: a,"b, c"`, `similar(0.8): text`, `javascript: …`, plain text =
// equals), `__description`, `__prefix`, `__suffix`, `__metric`, `__threshold`, `__metadata:key`
// (`key[]` splits on unescaped commas) and `__config:__expectedN:threshold` are special, every other
// column is a var. The rules follow promptfoo's src/csv.ts and src/util/testCaseReader.ts.
import { parse as parseCsv } from "csv-parse/sync";
import type { Assertion } from "../assertions";

/** promptfoo's base assertion type names (BaseAssertionTypesSchema), for the `type: value` syntax. */
export const PROMPTFOO_ASSERTION_TYPES = [
  "agent-rubric", "answer-relevance", "bleu", "classifier", "contains", "contains-all", "contains-any", "contains-html", "contains-json", "contains-sql", "contains-xml",
  "context-faithfulness", "context-recall", "context-relevance", "conversation-relevance", "cost", "equals", "factuality", "finish-reason", "g-eval", "gleu", "guardrails",
  "icontains", "icontains-all", "icontains-any", "is-html", "is-json", "is-refusal", "is-sql", "is-valid-function-call", "is-valid-openai-function-call",
  "is-valid-openai-tools-call", "is-xml", "javascript", "latency", "levenshtein", "llm-rubric", "pi", "meteor", "model-graded-closedqa", "model-graded-factuality",
  "moderation", "perplexity", "perplexity-score", "python", "regex", "rouge-n", "ruby", "similar", "similar:cosine", "similar:dot", "similar:euclidean", "starts-with",
  "tool-call-f1", "skill-used", "trajectory:goal-success", "trajectory:tool-args-match", "trajectory:step-count", "trajectory:tool-sequence", "trajectory:tool-used",
  "trace-error-spans", "trace-span-count", "trace-span-duration", "search-rubric", "webhook", "word-count",
] as const;
/** Assertion types that compare outputs across prompts or need a person (promptfoo's special types). */
export const PROMPTFOO_SPECIAL_TYPES = ["select-best", "human", "max-score"] as const;

const JS_EXT = /\.(js|cjs|mjs|ts|cts|mts)$/;

function skipWs(v: string, i: number): number {
  while (i < v.length && /\s/.test(v[i]!)) i++;
  return i;
}

/** promptfoo's parseCommaSeparatedAssertionValues: fields, `"quoted, with commas"`, `""` and `\"` escapes. */
export function parseCommaSeparated(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (i < value.length) {
      i = skipWs(value, i);
      if (value[i] !== ",") break;
      i++;
    }
    if (i >= value.length) break;
    if (value[i] === '"') {
      let j = i + 1;
      let field = "";
      let terminated = false;
      while (j < value.length) {
        if (value[j] === "\\" && j + 1 < value.length && (value[j + 1] === '"' || value[j + 1] === "\\")) {
          field += value[j + 1];
          j += 2;
        } else if (value[j] === '"' && value[j + 1] === '"') {
          field += '"';
          j += 2;
        } else if (value[j] === '"') {
          j++;
          terminated = true;
          break;
        } else field += value[j++];
      }
      if (!terminated) throw new Error("Unterminated quoted field in contains assertion value");
      out.push(field);
      i = skipWs(value, j);
      if (i < value.length && value[i] !== ",") throw new Error("Expected comma after quoted field in contains assertion value");
    } else {
      let j = i;
      while (j < value.length && value[j] !== ",") j++;
      out.push(value.substring(i, j).trim());
      i = j;
    }
  }
  return out;
}

let assertionRe: RegExp | undefined;

function parseFiniteNumber(value: string | undefined): number | undefined {
  const t = value?.trim() ?? "";
  if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** promptfoo's assertionFromString: the `__expected` column syntax. */
export function assertionFromString(expected: string): Assertion {
  if (expected.startsWith("javascript:") || expected.startsWith("fn:") || expected.startsWith("eval:") || (expected.startsWith("file://") && JS_EXT.test(expected.slice(7)))) {
    const n = expected.startsWith("javascript:") ? 11 : expected.startsWith("fn:") ? 3 : expected.startsWith("eval:") ? 5 : 0;
    return { type: "javascript", value: expected.slice(n).trim() };
  }
  if (expected.startsWith("grade:") || expected.startsWith("llm-rubric:")) return { type: "llm-rubric", value: expected.slice(expected.startsWith("grade:") ? 6 : 11) };
  if (expected.startsWith("python:") || (expected.startsWith("file://") && (expected.endsWith(".py") || expected.includes(".py:")))) {
    return { type: "python", value: expected.slice(7).trim() };
  }
  assertionRe ??= new RegExp(`^(not-)?(${PROMPTFOO_ASSERTION_TYPES.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})(?:\\((\\d+(?:\\.\\d+)?)\\))?(?::([\\s\\S]*))?$`);
  const m = expected.match(assertionRe);
  if (m) {
    const [, not, type, thresholdStr, value] = m;
    const fullType = not ? `not-${type}` : type!;
    const threshold = parseFiniteNumber(thresholdStr);
    if (type === "contains-all" || type === "contains-any" || type === "icontains-all" || type === "icontains-any") {
      return { type: fullType, value: value ? parseCommaSeparated(value) : value };
    }
    if (type === "contains-json" || type === "is-json") return { type: fullType, value };
    const withThreshold = ["answer-relevance", "classifier", "context-faithfulness", "context-recall", "context-relevance", "cost", "latency", "levenshtein", "perplexity-score", "perplexity", "rouge-n", "similar", "starts-with"];
    if (withThreshold.includes(type!)) {
      return { type: fullType, value: value?.trim(), threshold: threshold ?? (type === "similar" ? 0.8 : 0.75) };
    }
    return { type: fullType, value: value?.trim() };
  }
  return { type: "equals", value: expected };
}

/** One CSV row as a promptfoo test (vars, assert, options, description, threshold, metadata). */
export interface CsvTest {
  vars: Record<string, string>;
  assert: Assertion[];
  options: { prefix?: string; suffix?: string };
  description?: string;
  providerOutput?: string;
  threshold?: number;
  metadata?: Record<string, unknown>;
  /** Problems promptfoo would warn or fail on, for diagnostics. */
  problems: string[];
}

export function testCaseFromCsvRow(row: Record<string, string>): CsvTest {
  const vars: Record<string, string> = {};
  const asserts: Assertion[] = [];
  const options: CsvTest["options"] = {};
  const metadata: Record<string, unknown> = {};
  const assertionConfigs: Record<number, Record<string, number>> = {};
  const problems: string[] = [];
  let description: string | undefined;
  let providerOutput: string | undefined;
  let metric: string | undefined;
  let threshold: number | undefined;
  const special = ["expected", "prefix", "suffix", "description", "providerOutput", "metric", "threshold", "metadata", "config"].map((k) => `_${k}`);
  for (const [rawKey, value] of Object.entries(row)) {
    const key = rawKey.trim();
    if (!key.startsWith("__") && special.some((k) => key.startsWith(k))) problems.push(`column "${key}" has a single underscore: did you mean "${key.replace("_", "__")}"?`);
    if (key.startsWith("__expected")) {
      if (value.trim() !== "") {
        try {
          asserts.push(assertionFromString(value.trim()));
        } catch (e) {
          problems.push(`${key}: ${(e as Error).message}`);
        }
      }
    } else if (key === "__prefix") options.prefix = value;
    else if (key === "__suffix") options.suffix = value;
    else if (key === "__description") description = value;
    else if (key === "__providerOutput") providerOutput = value;
    else if (key === "__metric") metric = value;
    else if (key === "__threshold") threshold = parseFiniteNumber(value);
    else if (key.startsWith("__metadata:")) {
      const mk = key.slice(11);
      if (mk.endsWith("[]")) {
        if (value.trim() !== "") metadata[mk.slice(0, -2)] = value.split(/(?<!\\),/).map((v) => v.trim().replace(/\\,/g, ","));
      } else if (value.trim() !== "") metadata[mk] = value;
    } else if (key === "__metadata") problems.push('the "__metadata" column needs a key, e.g. "__metadata:category"; promptfoo ignores it');
    else if (key.startsWith("__config:")) {
      const parts = key.slice(9).split(":");
      if (parts.length !== 2) {
        problems.push(`column "${key}": expected __config:__expected:threshold or __config:__expected<N>:threshold`);
        continue;
      }
      const [ek, ck] = parts as [string, string];
      const m = /^__expected(\d*)$/.exec(ek);
      const idx = !m ? undefined : m[1] === "" ? 0 : Number(m[1]) >= 1 ? Number(m[1]) - 1 : undefined;
      if (idx === undefined) throw new Error(`invalid expected key "${ek}" in column "${key}": use __expected or __expected<N>`);
      if (ck !== "threshold") throw new Error(`invalid config key "${ck}" in column "${key}": the only one is threshold`);
      const n = parseFiniteNumber(value);
      if (n === undefined) throw new Error(`column "${key}": "${value}" is not a number`);
      (assertionConfigs[idx] ??= {})[ck] = n;
    } else vars[key] = value;
  }
  asserts.forEach((a, i) => {
    if (metric !== undefined) a.metric = metric;
    for (const [k, v] of Object.entries(assertionConfigs[i] ?? {})) {
      a[k] = v;
      metadata[k] = v;
    }
  });
  return {
    vars,
    assert: asserts,
    options,
    ...(description ? { description } : {}),
    ...(providerOutput ? { providerOutput } : {}),
    ...(threshold === undefined ? {} : { threshold }),
    ...(Object.keys(metadata).length ? { metadata } : {}),
    problems,
  };
}

const csvMemo = new Map<string, { rows: Record<string, string>[]; lines: number[] }>();

/**
 * CSV text → rows of column → value, as promptfoo reads it (strict quotes, then relaxed).
 * Memoized by text: a config is re-read on every edit while its test CSV rarely changes. The
 * rows are shared: callers must not mutate them.
 */
export function readCsvRows(text: string): { rows: Record<string, string>[]; lines: number[] } {
  const hit = csvMemo.get(text);
  if (hit) return hit;
  const parsed = parseCsvText(text);
  csvMemo.set(text, parsed);
  if (csvMemo.size > 16) csvMemo.delete(csvMemo.keys().next().value as string);
  return parsed;
}

function parseCsvText(text: string): { rows: Record<string, string>[]; lines: number[] } {
  const opts = { columns: true, bom: true, delimiter: ",", info: true } as const;
  let recs: { record: Record<string, string>; info: { lines: number } }[];
  try {
    recs = parseCsv(text, { ...opts, relax_quotes: false }) as never;
  } catch {
    recs = parseCsv(text, { ...opts, relax_quotes: true }) as never;
  }
  return { rows: recs.map((r) => r.record), lines: recs.map((r) => r.info.lines) };
}

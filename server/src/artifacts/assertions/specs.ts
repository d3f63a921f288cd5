// What each assertion type accepts as its value, one entry per type: `check` finds configuration
// errors (the assertion cannot mean anything: `driftlens check` reports them and `eval` refuses
// the assertion with the same message), `advise` finds values that are valid, and mean the same
// as in promptfoo, but are probably not what was meant (warnings, check only). The rules follow
// promptfoo's handlers (src/assertions/*.ts), except the deliberate differences docs/assertions.md
// lists. Both `driftlens check` and the eval runner go through prepareAssertion (./prepare.ts),
// so they cannot disagree.
import { parseCommaList } from "./csv";
import { compileSchema } from "./json-schema";
import type { AssertionType, IssueCode } from "./types";

/** An assertion's value after its templates were rendered, with the assertion it came from. */
export interface ValueInput {
  type: AssertionType;
  /** The type as written (with `not-` when inverted): messages name it. */
  written: string;
  value: unknown;
  threshold: number | undefined;
}

export interface SpecIssue {
  code: IssueCode;
  message: string;
  /** The key the issue is about (its range is marked); default `value`. */
  at?: string;
}

export interface AssertionSpec {
  /** One paragraph for hover and completion. */
  doc: string;
  /** The configuration error, if any (checked before the output is looked at). */
  check(v: ValueInput): SpecIssue | undefined;
  /** Values that are valid but probably not meant (warnings). */
  advise?(v: ValueInput): SpecIssue | undefined;
  /** Keys this type reads beyond type/value/threshold/weight/metric (e.g. a grader's `provider`); others are warned about. */
  keys?: readonly string[];
}

/** How a value is described in messages ("true", "a list", "an empty string", …). */
export function describe(v: unknown): string {
  if (v === undefined) return "no value";
  if (v === null) return "null";
  if (v === "") return "an empty string";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (Array.isArray(v)) return v.length ? "a list" : "an empty list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

function value(code: IssueCode, message: string): SpecIssue {
  return { code, message };
}

/** contains/icontains: a non-empty string or a number (promptfoo's isContainsValue). */
function containsCheck(v: ValueInput): SpecIssue | undefined {
  const x = v.value;
  if ((typeof x === "string" && x !== "") || (typeof x === "number" && !Number.isNaN(x))) return undefined;
  return value("DL312", `'${v.written}' needs a non-empty string (or a number) as its value, not ${describe(x)}`);
}

/** The items a contains-any/-all value lists: a list as is, a string split by promptfoo's CSV rules. */
export function listItems(x: unknown): { items?: unknown[]; error?: string } {
  if (Array.isArray(x)) return { items: x };
  if (typeof x === "string") {
    const r = parseCommaList(x);
    return r.ok ? { items: r.items } : { error: r.error };
  }
  return {};
}

function listCheck(v: ValueInput): SpecIssue | undefined {
  const x = v.value;
  const need = "a list of strings, or a comma-separated string (quote an item that holds a comma: '\"a, b\", c')";
  if (!x) return value("DL312", `'${v.written}' needs ${need} as its value, not ${describe(x)}`);
  const r = listItems(x);
  if (r.error) return value("DL312", `the value of '${v.written}' ${r.error}; close the quote, or write the items as a YAML list`);
  if (!r.items) return value("DL312", `'${v.written}' needs ${need} as its value, not ${describe(x)}`);
  return undefined;
}

function listAdvice(v: ValueInput): SpecIssue | undefined {
  const items = listItems(v.value).items;
  if (!items) return undefined;
  const any = v.type.endsWith("-any");
  if (items.length === 0) {
    return value("DL332", `'${v.written}' lists no items, so it ${any ? "fails on every output" : "passes on every output"}; give it the strings to look for`);
  }
  const i = items.findIndex((x) => x === "" || (x !== null && typeof x === "object"));
  if (i >= 0) {
    const x = items[i];
    return value("DL332", x === "" ? `item ${i + 1} of '${v.written}' is empty, and every output contains the empty string` : `item ${i + 1} of '${v.written}' is ${describe(x)}, which is matched as the text ${JSON.stringify(String(x))}; quote it if it is meant as text`);
  }
  return undefined;
}

function nonEmptyString(v: ValueInput, what: string): SpecIssue | undefined {
  if (typeof v.value === "string" && v.value !== "") return undefined;
  return value("DL312", `'${v.written}' needs ${what} as its value, not ${describe(v.value)}`);
}

/** A JavaScript RegExp's error for a pattern, without the "Invalid regular expression" prefix. */
export function regexError(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message.replace(/^Invalid regular expression: /, "") : String(e);
  }
}

function regexCheck(v: ValueInput): SpecIssue | undefined {
  const bad = nonEmptyString(v, "a non-empty regular expression (JavaScript syntax)");
  if (bad) return bad;
  const err = regexError(v.value as string);
  return err ? value("DL304", `invalid regular expression ${JSON.stringify(v.value)}: ${err}`) : undefined;
}

function regexAdvice(v: ValueInput): SpecIssue | undefined {
  const m = typeof v.value === "string" ? /^\/(.+)\/([dgimsuvy]+)$/s.exec(v.value) : null;
  if (!m) return undefined;
  return value(
    "DL332",
    `${JSON.stringify(v.value)} is matched as a pattern that includes both slashes and the letters '${m[2]}' (regex values take no /…/flags, as in promptfoo); write the pattern alone, ${JSON.stringify(m[1])}${m[2]!.includes("i") ? ", and use icontains or character classes such as [Hh] for case-insensitive matching" : ""}`,
  );
}

/** is-json / contains-json: an optional schema; promptfoo treats a falsy value as none. */
function optionalSchemaCheck(v: ValueInput): SpecIssue | undefined {
  if (!v.value) return undefined;
  return schemaCheck(v);
}

function schemaCheck(v: ValueInput): SpecIssue | undefined {
  const x = v.value;
  if (!x) return value("DL312", `'${v.written}' needs a JSON Schema (a mapping, or YAML/JSON text) as its value, not ${describe(x)}`);
  if (typeof x !== "string" && typeof x !== "object") return value("DL312", `'${v.written}' needs a JSON Schema (a mapping, or YAML/JSON text) as its value, not ${describe(x)}`);
  if (typeof x === "string" && /^(file|package):/.test(x)) return undefined; // reported by prepare
  const r = compileSchema(x);
  return r.ok ? undefined : value("DL331", `the value of '${v.written}': ${r.error}`);
}

function isNumber(x: unknown): x is number {
  return typeof x === "number" && !Number.isNaN(x);
}

function wordCountCheck(v: ValueInput): SpecIssue | undefined {
  const x = v.value;
  const need = "a number of words, or {min, max}";
  if (x === null || x === undefined) return value("DL312", `'${v.written}' needs ${need} as its value`);
  if (typeof x === "object" && !Array.isArray(x)) {
    const { min, max } = x as { min?: unknown; max?: unknown };
    if (min === undefined && max === undefined) return value("DL312", `'${v.written}' needs 'min' and/or 'max' in its value`);
    for (const [k, n] of [["min", min], ["max", max]] as const) {
      if (n !== undefined && !isNumber(n)) return value("DL312", `'${v.written}' needs '${k}' to be a number, not ${describe(n)}`);
    }
    if (isNumber(min) && isNumber(max) && min > max) return value("DL312", `'${v.written}' has min ${min} greater than max ${max}, a range no output can fall in; swap them`);
    return undefined;
  }
  if (isNumber(x) || (typeof x === "string" && !Number.isNaN(Number(x)))) return undefined;
  return value("DL312", `'${v.written}' needs ${need} as its value, not ${describe(x)}`);
}

function wordCountAdvice(v: ValueInput): SpecIssue | undefined {
  if (typeof v.value === "string" && v.value.trim() === "") return value("DL332", `'${v.written}' has an empty value, which counts as 0 words; give the number of words`);
  return undefined;
}

function similarCheck(v: ValueInput): SpecIssue | undefined {
  const x = v.value;
  if (typeof x === "string") return undefined;
  if (Array.isArray(x) && x.length > 0 && x.every((s) => typeof s === "string")) return undefined;
  return value("DL312", `'${v.written}' needs a string, or a non-empty list of strings, to compare the output with, not ${describe(x)}`);
}

function thresholdRequired(v: ValueInput, what: string): SpecIssue | undefined {
  return v.threshold === undefined ? { code: "DL312", message: `'${v.written}' needs a 'threshold' (${what})`, at: "threshold" } : undefined;
}

const SIMILAR_DOC = "the similarity of embeddings of the output and `value` (or the best of a list) reaches `threshold` (default 0.75); needs an embedding model in driftlens.yaml.";

/** Every assertion type: a missing entry fails to compile. */
export const ASSERTION_SPECS: Record<AssertionType, AssertionSpec> = {
  equals: {
    doc: "Output equals `value` exactly; when `value` is a mapping or a list, the output parsed as JSON must be deep-equal to it.",
    // promptfoo compares with the text "undefined" when there is no value: a configuration error here.
    check: (v) => (v.value === undefined ? value("DL312", `'${v.written}' needs a 'value' to compare the output with`) : undefined),
  },
  contains: { doc: "Output contains `value` (a string or number), case-sensitive.", check: containsCheck },
  icontains: { doc: "Output contains `value` (a string or number), ignoring case.", check: containsCheck },
  "contains-any": { doc: "Output contains at least one of `value`: a list, or a comma-separated string (CSV quoting for items with commas).", check: listCheck, advise: listAdvice },
  "contains-all": { doc: "Output contains every item of `value`: a list, or a comma-separated string (CSV quoting for items with commas).", check: listCheck, advise: listAdvice },
  "icontains-any": { doc: "Like contains-any, ignoring case.", check: listCheck, advise: listAdvice },
  "icontains-all": { doc: "Like contains-all, ignoring case.", check: listCheck, advise: listAdvice },
  "starts-with": { doc: "Output starts with the string `value`.", check: (v) => nonEmptyString(v, "a non-empty string") },
  regex: { doc: "Output matches the JavaScript regular expression `value` somewhere (no /…/flags; matching stops after a time limit).", check: regexCheck, advise: regexAdvice },
  "is-json": { doc: "The whole output is JSON; with `value` (a JSON Schema), the parsed output must also validate against it.", check: optionalSchemaCheck },
  "contains-json": { doc: "The output contains a JSON object (`{…}`, also inside a list or text); with `value` (a JSON Schema), at least one must validate against it.", check: optionalSchemaCheck },
  "json-schema": { doc: "The output parsed as JSON validates against the JSON Schema in `value` (is-json with a required schema).", check: schemaCheck },
  levenshtein: {
    doc: "The edit distance between the output and `value` is at most `threshold` (default 5).",
    check: (v) => (typeof v.value === "string" ? undefined : value("DL312", `'${v.written}' needs a string to measure the edit distance to, not ${describe(v.value)}`)),
  },
  "word-count": { doc: "The output's word count equals `value`, or lies within `{min, max}`.", check: wordCountCheck, advise: wordCountAdvice },
  latency: { doc: "Generation took at most `threshold` milliseconds (a cached result keeps the time measured when it was generated).", check: (v) => thresholdRequired(v, "the most milliseconds generation may take") },
  similar: { doc: `Cosine similarity: ${SIMILAR_DOC}`, check: similarCheck },
  "similar:cosine": { doc: `Cosine similarity (same as similar): ${SIMILAR_DOC}`, check: similarCheck },
  "similar:dot": { doc: `Dot product: ${SIMILAR_DOC}`, check: similarCheck },
  "similar:euclidean": { doc: "The Euclidean distance between embeddings of the output and `value` (or the closest of a list) is at most `threshold` (default 0.75); needs an embedding model in driftlens.yaml.", check: similarCheck },
  javascript: {
    doc: "JavaScript over `output` and `context`: a single line is an expression, several lines a function body that returns; a boolean, a score (passes above 0, or at `threshold`) or {pass, score, reason}. Runs only in a trusted workspace, sandboxed with a timeout.",
    check: (v) => nonEmptyString(v, "its JavaScript code (a string)"),
  },
};

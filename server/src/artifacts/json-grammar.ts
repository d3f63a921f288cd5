// JSON Schema → GBNF (llama.cpp's grammar format), for generating a prompt's `output.schema` under
// a grammar. Modelled on llama.cpp's common/json-schema-to-grammar.cpp, with three differences
// that matter for evals:
// - everything the grammar allows is valid by JSON Schema: an `integer` has no fraction and no
//   exponent (node-llama-cpp 3.22.1's own converter lets `2e-6` through), a `number` has no
//   exponent, and minimum/maximum (also exclusive) bound integers and numbers digit by digit;
// - everything is bounded: a free string gets at most DEFAULT_MAX_STRING characters, an array at
//   most DEFAULT_MAX_ITEMS items, a free value a nesting depth, and JSON is written without
//   whitespace, so a weak (or random) model cannot run away inside the output and the longest
//   output is known (`maxBytes`, compared with maxOutputTokens by a diagnostic);
// - what a grammar cannot express (pattern, multipleOf, uniqueItems, not, …) is reported as a
//   problem with its schema path instead of being silently dropped; such keywords are still
//   checked when the output is validated after generation.
// Pure and synchronous: the language server calls it on every prompt edit.
import type { JSONSchema } from "./picoschema";

/** Part of generation cache keys: bump when the grammar this file writes for a schema changes. */
export const JSON_GRAMMAR_VERSION = "json-gbnf/1";
export const DEFAULT_MAX_STRING = 128;
export const DEFAULT_MAX_ITEMS = 16;
/** Nesting depth of values the schema leaves free (`{}`, no type, generic JSON). */
export const DEFAULT_FREE_DEPTH = 3;
const GENERIC_MAX_STRING = 32;
const GENERIC_MAX_ITEMS = 4;
const GENERIC_DEPTH = 2;
/** Digits of an unbounded integer part: 15 keeps every integer exactly representable in a double. */
const MAX_INT_DIGITS = 15;
const MAX_FRACTION_DIGITS = 15;
const INT_LIMIT = 10 ** MAX_INT_DIGITS - 1;
/** Bounds on what a (possibly hostile) schema can make the converter and llama.cpp build. */
const MAX_SCHEMA_DEPTH = 48;
const MAX_REPEAT = 4096;
const MAX_ITEMS_CAP = 1024;

export interface JsonGrammarOptions {
  /** Bound for strings without maxLength (characters). */
  maxStringLength?: number;
  /** Bound for arrays without maxItems. */
  maxItems?: number;
  /** Nesting depth for free values. */
  freeDepth?: number;
}

export interface GrammarProblem {
  /** Path of keys inside the schema. */
  path: (string | number)[];
  message: string;
  /** "unenforced": generation ignores the keyword, validation still checks it; "unsupported": the schema cannot be generated at all. */
  kind: "unenforced" | "unsupported";
}

export interface JsonGrammar {
  /** The GBNF text; root rule `root`. */
  gbnf: string;
  problems: GrammarProblem[];
  /** The longest output the grammar allows, in UTF-8 bytes (Infinity for a recursive schema). */
  maxBytes: number;
}

// ---------------------------------------------------------------- grammar expressions

type Expr =
  | { k: "lit"; s: string }
  | { k: "cls"; neg: boolean; ranges: [number, number][] }
  | { k: "ref"; name: string }
  | { k: "seq"; items: Expr[] }
  | { k: "alt"; items: Expr[] }
  | { k: "rep"; e: Expr; min: number; max: number };

const lit = (s: string): Expr => ({ k: "lit", s });
/** Matches nothing: what an unsatisfiable schema becomes (dropped from alternatives). */
const NEVER: Expr = { k: "cls", neg: false, ranges: [] };
const isNever = (e: Expr): boolean => e === NEVER;
const ref = (name: string): Expr => ({ k: "ref", name });
const cls = (ranges: [number, number][], neg = false): Expr => ({ k: "cls", neg, ranges });
const digits = (lo: string, hi: string): Expr => cls([[lo.charCodeAt(0), hi.charCodeAt(0)]]);
function seq(...items: Expr[]): Expr {
  if (items.some(isNever)) return NEVER;
  const flat: Expr[] = [];
  for (const i of items) {
    if (i.k === "seq") flat.push(...i.items);
    else if (!(i.k === "lit" && i.s === "")) flat.push(i);
  }
  // Adjacent literals merge: fewer, longer literals read better and parse the same.
  const merged: Expr[] = [];
  for (const i of flat) {
    const last = merged[merged.length - 1];
    if (last && last.k === "lit" && i.k === "lit") merged[merged.length - 1] = lit(last.s + i.s);
    else merged.push(i);
  }
  if (merged.length === 0) return lit("");
  return merged.length === 1 ? merged[0]! : { k: "seq", items: merged };
}
function alt(...items: Expr[]): Expr {
  const flat: Expr[] = [];
  for (const i of items) {
    if (i.k === "alt") flat.push(...i.items);
    else if (!isNever(i)) flat.push(i);
  }
  if (flat.length === 0) return NEVER;
  return flat.length === 1 ? flat[0]! : { k: "alt", items: flat };
}
const rep = (e: Expr, min: number, max: number): Expr => (max === 0 ? lit("") : isNever(e) ? (min === 0 ? lit("") : NEVER) : min === 1 && max === 1 ? e : { k: "rep", e, min, max });
const opt = (e: Expr): Expr => rep(e, 0, 1);

// ---------------------------------------------------------------- GBNF text

function escapeChar(c: number, inClass: boolean): string {
  if (c === 0x22 && !inClass) return '\\"';
  if (c === 0x5c) return "\\\\";
  if (inClass && (c === 0x5d || c === 0x5e || c === 0x2d || c === 0x5b)) return "\\" + String.fromCharCode(c);
  if (c === 0x0a) return "\\n";
  if (c === 0x0d) return "\\r";
  if (c === 0x09) return "\\t";
  if (c < 0x20 || c === 0x7f) return "\\x" + c.toString(16).toUpperCase().padStart(2, "0");
  return String.fromCodePoint(c);
}

function emit(e: Expr, parent: "top" | "seq" | "rep"): string {
  switch (e.k) {
    case "lit":
      return '"' + Array.from(e.s, (ch) => escapeChar(ch.codePointAt(0)!, false)).join("") + '"';
    case "cls":
      return "[" + (e.neg ? "^" : "") + e.ranges.map(([a, b]) => (a === b ? escapeChar(a, true) : `${escapeChar(a, true)}-${escapeChar(b, true)}`)).join("") + "]";
    case "ref":
      return e.name;
    case "seq": {
      const s = e.items.map((i) => emit(i, "seq")).join(" ");
      return parent === "rep" ? `(${s})` : s;
    }
    case "alt": {
      const s = e.items.map((i) => emit(i, "top")).join(" | ");
      return parent === "top" ? s : `(${s})`;
    }
    case "rep": {
      const inner = emit(e.e, "rep");
      if (e.min === 0 && e.max === 1) return `${inner}?`;
      if (e.min === 0 && e.max === Infinity) return `${inner}*`;
      if (e.min === 1 && e.max === Infinity) return `${inner}+`;
      if (e.max === Infinity) return `${inner}{${e.min},}`;
      return e.min === e.max ? `${inner}{${e.min}}` : `${inner}{${e.min},${e.max}}`;
    }
  }
}

// ---------------------------------------------------------------- numbers

const nines = (n: number) => "9".repeat(n);
const zeros = (n: number) => "0".repeat(n);
const anyDigits = (n: number): Expr => rep(digits("0", "9"), n, n);
/** Any canonical non-negative integer of at most MAX_INT_DIGITS digits. */
const UINT: Expr = alt(lit("0"), seq(digits("1", "9"), rep(digits("0", "9"), 0, MAX_INT_DIGITS - 1)));
const FRACTION = seq(lit("."), rep(digits("0", "9"), 1, MAX_FRACTION_DIGITS));

/** Digit strings of equal length from a to b (a ≤ b), leading zeros allowed inside. */
function sameLength(a: string, b: string): Expr {
  if (a.length === 0) return lit("");
  if (a.length === 1) return digits(a, b);
  const rest = a.length - 1;
  if (a[0] === b[0]) return seq(lit(a[0]!), sameLength(a.slice(1), b.slice(1)));
  const aRest = a.slice(1);
  const bRest = b.slice(1);
  const parts: Expr[] = [];
  let from = a.charCodeAt(0);
  let to = b.charCodeAt(0);
  if (aRest !== zeros(rest)) {
    parts.push(seq(lit(a[0]!), sameLength(aRest, nines(rest))));
    from++;
  }
  const lastFull = bRest === nines(rest);
  if (!lastFull) to--;
  if (from <= to) parts.push(seq(cls([[from, to]]), anyDigits(rest)));
  if (!lastFull) parts.push(seq(lit(b[0]!), sameLength(zeros(rest), bRest)));
  return alt(...parts);
}

/** Non-negative integers lo..hi in canonical decimal (no leading zeros); hi ≤ INT_LIMIT. */
function uintRange(lo: number, hi: number): Expr {
  const parts: Expr[] = [];
  const loLen = String(lo).length;
  const hiLen = String(hi).length;
  for (let len = loLen; len <= hiLen; len++) {
    const a = Math.max(lo, len === 1 ? 0 : 10 ** (len - 1));
    const b = Math.min(hi, 10 ** len - 1);
    if (a > b) continue;
    parts.push(sameLength(String(a), String(b)));
  }
  return parts.length ? alt(...parts) : NEVER;
}

/** Integers lo..hi (either may be ±Infinity: then bounded to MAX_INT_DIGITS digits). */
function intRange(lo: number, hi: number): Expr {
  if (lo === -Infinity && hi === Infinity) return seq(opt(lit("-")), UINT);
  const l = Math.max(lo, -INT_LIMIT);
  const h = Math.min(hi, INT_LIMIT);
  if (l > h) return NEVER;
  const parts: Expr[] = [];
  if (l < 0) parts.push(seq(lit("-"), uintRange(Math.max(1, -Math.min(h, -1)), -l)));
  if (h >= 0) parts.push(uintRange(Math.max(l, 0), h));
  return alt(...parts);
}


/**
 * Numbers in [lo, hi] where lo and hi are integers (±Infinity allowed): an integer part with an
 * optional fraction, the fraction only where it keeps the value inside the range.
 */
function numberRange(lo: number, hi: number): Expr {
  if (lo === -Infinity && hi === Infinity) return seq(opt(lit("-")), UINT, opt(FRACTION));
  const l = Math.max(lo, -INT_LIMIT);
  const h = Math.min(hi, INT_LIMIT);
  if (l > h) return NEVER;
  const parts: Expr[] = [];
  // v = a.f ≥ 0: a in [max(l, 0), h − 1] may take a fraction (a.f < a + 1 ≤ h); h itself may not.
  if (h >= 0) {
    const a0 = Math.max(l, 0);
    if (a0 <= h - 1) parts.push(seq(uintRange(a0, h - 1), opt(FRACTION)));
    parts.push(uintRange(h, h));
  }
  // v = −(m.f): v ≥ l needs m ≤ −l − 1 when a fraction follows (m = −l exactly without one);
  // v ≤ h needs m ≥ −h when h < 0.
  if (l < 0) {
    const mLo = h < 0 ? -h : 0;
    if (mLo <= -l - 1) parts.push(seq(lit("-"), uintRange(mLo, -l - 1), opt(FRACTION)));
    if (-l >= mLo) parts.push(seq(lit("-"), uintRange(-l, -l)));
  }
  return alt(...parts);
}

// ---------------------------------------------------------------- strings

// One JSON string character: anything but '"', '\' and control characters, or an escape. \u
// escapes exclude surrogates, so each grammar character is one code point, as JSON Schema's
// minLength/maxLength count them.
const CHAR: Expr = alt(
  cls(
    [
      [0x22, 0x22],
      [0x5c, 0x5c],
      [0x00, 0x1f],
      [0x7f, 0x7f],
    ],
    true,
  ),
  seq(lit("\\"), alt(cls([[0x22, 0x22], [0x5c, 0x5c], [0x2f, 0x2f], [0x62, 0x62], [0x66, 0x66], [0x6e, 0x6e], [0x72, 0x72], [0x74, 0x74]]), seq(lit("u"), alt(seq(cls([[0x30, 0x39], [0x61, 0x63], [0x41, 0x43], [0x65, 0x66], [0x45, 0x46]]), rep(cls([[0x30, 0x39], [0x61, 0x66], [0x41, 0x46]]), 3, 3)), seq(cls([[0x64, 0x64], [0x44, 0x44]]), cls([[0x30, 0x37]]), rep(cls([[0x30, 0x39], [0x61, 0x66], [0x41, 0x46]]), 2, 2)))))),
);
/** Worst-case UTF-8 bytes of one CHAR: a \uXXXX escape. */
const CHAR_MAX_BYTES = 6;

const FORMATS: Record<string, Expr> = {
  date: seq(anyDigits(4), lit("-"), alt(seq(lit("0"), digits("1", "9")), seq(lit("1"), digits("0", "2"))), lit("-"), alt(seq(lit("0"), digits("1", "9")), seq(digits("1", "2"), digits("0", "9")), seq(lit("3"), digits("0", "1")))),
  time: seq(alt(seq(digits("0", "1"), digits("0", "9")), seq(lit("2"), digits("0", "3"))), lit(":"), digits("0", "5"), digits("0", "9"), lit(":"), digits("0", "5"), digits("0", "9"), opt(seq(lit("."), anyDigits(3))), alt(lit("Z"), seq(cls([[0x2b, 0x2b], [0x2d, 0x2d]]), alt(seq(digits("0", "1"), digits("0", "9")), seq(lit("2"), digits("0", "3"))), lit(":"), digits("0", "5"), digits("0", "9")))),
  uuid: seq(...[8, 4, 4, 4, 12].flatMap((n, i) => [...(i ? [lit("-")] : []), rep(cls([[0x30, 0x39], [0x61, 0x66]]), n, n)])),
};

// ---------------------------------------------------------------- the converter

const ENFORCED_KEYS = new Set([
  "type", "enum", "const", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems", "maxItems",
  "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "allOf", "$ref",
  "format", "nullable",
  // annotations: no effect on validity
  "title", "description", "default", "examples", "$schema", "$id", "$comment", "$defs", "definitions", "readOnly", "writeOnly", "deprecated",
]);

class Converter {
  readonly rules = new Map<string, Expr>();
  readonly problems: GrammarProblem[] = [];
  private readonly refRules = new Map<string, string>();
  private readonly maxString: number;
  private readonly maxItems: number;
  private readonly freeDepth: number;

  constructor(
    private readonly root: JSONSchema,
    opts: JsonGrammarOptions,
  ) {
    this.maxString = opts.maxStringLength ?? DEFAULT_MAX_STRING;
    this.maxItems = opts.maxItems ?? DEFAULT_MAX_ITEMS;
    this.freeDepth = opts.freeDepth ?? DEFAULT_FREE_DEPTH;
  }

  private problem(path: (string | number)[], message: string, kind: GrammarProblem["kind"] = "unenforced"): void {
    const key = JSON.stringify(path);
    if (this.problems.some((p) => JSON.stringify(p.path) === key && p.kind === kind)) return;
    this.problems.push({ path, message, kind });
  }

  /** A rule name not used yet, from `base` (GBNF names: letters, digits, '-'). */
  private uniq(base: string): string {
    let name = base;
    for (let i = 2; this.rules.has(name) || name === "root"; i++) name = `${base}-${i}`;
    this.rules.set(name, lit("")); // reserved until defined
    return name;
  }

  /** Names `e` as a rule (readable grammar, shared sub-expressions); NEVER stays NEVER. */
  private rule(base: string, e: Expr): Expr {
    if (isNever(e) || e.k === "ref" || e.k === "lit") return e;
    const name = this.uniq(base);
    this.rules.set(name, e);
    return ref(name);
  }

  /** Shared rules (char, number, free values), defined once under a fixed name. */
  private shared(name: string, make: () => Expr): Expr {
    if (!this.rules.has(name)) this.rules.set(name, make());
    return ref(name);
  }

  string(min: number, max: number): Expr {
    const ch = this.shared("char", () => CHAR);
    return seq(lit('"'), rep(ch, min, max), lit('"'));
  }

  /** A value the schema leaves free: any JSON, bounded in depth, length and items. */
  free(depth = this.freeDepth): Expr {
    return this.shared(`value-${depth}`, () => {
      const scalars = [this.string(0, this.maxString), this.shared("number", () => seq(opt(lit("-")), UINT, opt(FRACTION))), lit("true"), lit("false"), lit("null")];
      if (depth <= 0) return alt(...scalars);
      const inner = this.free(depth - 1);
      const key = this.string(0, this.maxString);
      const obj = seq(lit("{"), opt(seq(key, lit(":"), inner, rep(seq(lit(","), key, lit(":"), inner), 0, this.maxItems - 1))), lit("}"));
      const arr = seq(lit("["), opt(seq(inner, rep(seq(lit(","), inner), 0, this.maxItems - 1))), lit("]"));
      return alt(obj, arr, ...scalars);
    });
  }

  private depth = 0;

  visit(s: unknown, path: (string | number)[], name: string): Expr {
    // A hostile (or self-referencing allOf) schema must not exhaust the stack of the language server.
    if (this.depth >= MAX_SCHEMA_DEPTH) {
      this.problem(path, `the schema nests deeper than ${MAX_SCHEMA_DEPTH} levels`, "unsupported");
      return NEVER;
    }
    this.depth++;
    try {
      return this.visitAt(s, path, name);
    } finally {
      this.depth--;
    }
  }

  private visitAt(s: unknown, path: (string | number)[], name: string): Expr {
    if (s === true || s === undefined) return this.free();
    if (s === false) {
      this.problem(path, "the schema `false` allows no value", "unsupported");
      return NEVER;
    }
    if (s === null || typeof s !== "object" || Array.isArray(s)) {
      this.problem(path, `a schema must be an object, not ${Array.isArray(s) ? "a list" : String(s)}`, "unsupported");
      return NEVER;
    }
    const o = s as JSONSchema;
    for (const k of Object.keys(o)) {
      if (!ENFORCED_KEYS.has(k) && !k.startsWith("x-")) this.problem([...path, k], `'${k}' is not enforced while generating (the output is still validated against it)`);
    }
    if (typeof o.$ref === "string") return this.visitRef(o.$ref, path);
    if ("const" in o) return lit(JSON.stringify(o.const));
    if (Array.isArray(o.enum)) {
      if (o.enum.length === 0) {
        this.problem([...path, "enum"], "an empty enum allows no value", "unsupported");
        return NEVER;
      }
      return alt(...o.enum.map((v) => lit(JSON.stringify(v))));
    }
    if (Array.isArray(o.anyOf) || Array.isArray(o.oneOf)) {
      const key = Array.isArray(o.anyOf) ? "anyOf" : "oneOf";
      const list = o[key] as unknown[];
      if (key === "oneOf") this.problem([...path, key], "'oneOf' is generated as 'anyOf': an output matching two branches is caught when the output is validated");
      return alt(...list.map((b, i) => this.visit(this.withSiblings(o, b, key), [...path, key, i], `${name}-${i}`)));
    }
    if (Array.isArray(o.allOf)) {
      const merged = this.mergeAllOf(o, path);
      if (merged) return this.visit(merged, path, name);
      return this.free();
    }
    let types: string[] | undefined = typeof o.type === "string" ? [o.type] : Array.isArray(o.type) ? (o.type as unknown[]).map(String) : undefined;
    if (o.nullable === true && types && !types.includes("null")) types = [...types, "null"];
    if (!types) {
      // No type: inferred from the keywords present, else any value.
      if (o.properties || o.additionalProperties !== undefined || o.required) types = ["object"];
      else if (o.items || o.prefixItems) types = ["array"];
      else return this.free();
    }
    return alt(...types.map((t) => this.visitType(t, o, path, types!.length > 1 ? `${name}-${t}` : name)));
  }

  /** `{type: x, anyOf: [...]}`: each branch also gets the keywords beside the anyOf. */
  private withSiblings(parent: JSONSchema, branch: unknown, key: string): unknown {
    if (!branch || typeof branch !== "object" || Array.isArray(branch)) return branch;
    const rest: JSONSchema = {};
    for (const [k, v] of Object.entries(parent)) if (k !== key && !["title", "description", "$defs", "definitions"].includes(k)) rest[k] = v;
    return Object.keys(rest).length ? { ...rest, ...(branch as JSONSchema) } : branch;
  }

  private mergeAllOf(o: JSONSchema, path: (string | number)[]): JSONSchema | undefined {
    const parts = [...(o.allOf as unknown[])].map((p) => (p && typeof p === "object" && typeof (p as JSONSchema).$ref === "string" ? this.resolveRef((p as JSONSchema).$ref as string) : p));
    const merged: JSONSchema = { ...o };
    delete merged.allOf;
    for (const p of parts) {
      if (!p || typeof p !== "object" || Array.isArray(p)) continue;
      const ps = p as JSONSchema;
      for (const [k, v] of Object.entries(ps)) {
        if (k === "properties" && v && typeof v === "object") merged.properties = { ...((merged.properties as object) ?? {}), ...(v as object) };
        else if (k === "required" && Array.isArray(v)) merged.required = [...new Set([...((merged.required as string[]) ?? []), ...(v as string[])])];
        else if (k in merged && JSON.stringify(merged[k]) !== JSON.stringify(v)) {
          this.problem([...path, "allOf"], `'allOf' parts disagree on '${k}'; generating from the schema without 'allOf'`);
          return undefined;
        } else merged[k] = v;
      }
    }
    return merged;
  }

  private resolveRef(r: string): unknown {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(r);
    if (r === "#") return this.root;
    if (!m) return undefined;
    const defs = this.root[m[1]!] as Record<string, unknown> | undefined;
    return defs?.[m[2]!.replace(/~1/g, "/").replace(/~0/g, "~")];
  }

  private visitRef(r: string, path: (string | number)[]): Expr {
    const target = this.resolveRef(r);
    if (target === undefined) {
      this.problem([...path, "$ref"], `'$ref' ${JSON.stringify(r)} does not point into this schema's $defs or definitions`, "unsupported");
      return NEVER;
    }
    let name = this.refRules.get(r);
    if (!name) {
      name = this.uniq(`ref-${ruleSafe(r.split("/").pop() ?? "def")}`);
      this.refRules.set(r, name);
      const body = this.visit(target, [r], name);
      if (isNever(body)) {
        this.problem([...path, "$ref"], `'$ref' ${JSON.stringify(r)} allows no value`, "unsupported");
        return NEVER;
      }
      this.rules.set(name, body);
    }
    return ref(name);
  }

  private visitType(t: string, o: JSONSchema, path: (string | number)[], name: string): Expr {
    const num = (k: string): number | undefined => (typeof o[k] === "number" && Number.isFinite(o[k]) ? (o[k] as number) : undefined);
    switch (t) {
      case "null":
        return lit("null");
      case "boolean":
        return alt(lit("true"), lit("false"));
      case "string":
        return this.visitString(o, path, num);
      case "integer": {
        let lo = num("minimum") ?? -Infinity;
        let hi = num("maximum") ?? Infinity;
        const xlo = num("exclusiveMinimum");
        const xhi = num("exclusiveMaximum");
        if (xlo !== undefined) lo = Math.max(lo, Math.floor(xlo) + 1);
        if (xhi !== undefined) hi = Math.min(hi, Math.ceil(xhi) - 1);
        lo = Math.ceil(lo);
        hi = Math.floor(hi);
        if (o.multipleOf !== undefined) this.problem([...path, "multipleOf"], "'multipleOf' is not enforced while generating (the output is still validated against it)");
        if (lo > hi) {
          this.problem(path, `no integer lies between minimum ${lo} and maximum ${hi}`, "unsupported");
          return NEVER;
        }
        if ((Number.isFinite(lo) && Math.abs(lo) > INT_LIMIT) || (Number.isFinite(hi) && Math.abs(hi) > INT_LIMIT)) {
          this.problem(path, `integer bounds beyond ±${INT_LIMIT} are generated within ±${INT_LIMIT}`);
        }
        return this.rule(`${name}-int`, intRange(lo, hi));
      }
      case "number": {
        let lo = num("minimum") ?? -Infinity;
        let hi = num("maximum") ?? Infinity;
        const xlo = num("exclusiveMinimum");
        const xhi = num("exclusiveMaximum");
        // Integer bounds inside the range: exact for integral bounds; a fractional bound leaves out
        // the values between it and the next integer (still valid, never outside the range).
        lo = Math.ceil(lo);
        hi = Math.floor(hi);
        if (xlo !== undefined) lo = Math.max(lo, Math.floor(xlo) + 1);
        if (xhi !== undefined) hi = Math.min(hi, Math.ceil(xhi) - 1);
        if (o.multipleOf !== undefined) this.problem([...path, "multipleOf"], "'multipleOf' is not enforced while generating (the output is still validated against it)");
        if (lo > hi) {
          this.problem(path, "the number range is narrower than one integer step, which the grammar cannot express (numbers are generated with an integer part inside the range)", "unsupported");
          return NEVER;
        }
        return this.rule(`${name}-num`, numberRange(lo, hi));
      }
      case "array":
        return this.visitArray(o, path, name, num);
      case "object":
        return this.visitObject(o, path, name);
      default:
        this.problem([...path, "type"], `unknown type '${t}'`, "unsupported");
        return NEVER;
    }
  }

  private visitString(o: JSONSchema, path: (string | number)[], num: (k: string) => number | undefined): Expr {
    if (typeof o.pattern === "string") this.problem([...path, "pattern"], "'pattern' is not enforced while generating (the output is still validated against it)");
    const format = typeof o.format === "string" ? o.format : undefined;
    if (format === "date" || format === "time" || format === "uuid") return seq(lit('"'), FORMATS[format]!, lit('"'));
    if (format === "date-time") return seq(lit('"'), FORMATS.date!, lit("T"), FORMATS.time!, lit('"'));
    if (format !== undefined) this.problem([...path, "format"], `format '${format}' is not enforced while generating (the output is still validated against it)`);
    const min = Math.max(0, Math.floor(num("minLength") ?? 0));
    const max = num("maxLength");
    let hi = max === undefined ? Math.max(min, this.maxString) : Math.floor(max);
    // llama.cpp expands x{m,n} into n rules: a huge bound would cost the engine its memory.
    if (min > MAX_REPEAT) {
      this.problem([...path, "minLength"], `minLength above ${MAX_REPEAT} characters cannot be generated under a grammar`, "unsupported");
      return NEVER;
    }
    if (hi > MAX_REPEAT) {
      this.problem([...path, "maxLength"], `strings are generated up to ${MAX_REPEAT} characters (maxLength ${hi} is still validated)`);
      hi = MAX_REPEAT;
    }
    if (hi < min) {
      this.problem(path, `maxLength ${hi} is below minLength ${min}`, "unsupported");
      return NEVER;
    }
    return this.string(min, hi);
  }

  private visitArray(o: JSONSchema, path: (string | number)[], name: string, num: (k: string) => number | undefined): Expr {
    if (o.uniqueItems === true) this.problem([...path, "uniqueItems"], "'uniqueItems' is not enforced while generating (the output is still validated against it)");
    if (o.contains !== undefined) this.problem([...path, "contains"], "'contains' is not enforced while generating (the output is still validated against it)");
    const min = Math.max(0, Math.floor(num("minItems") ?? 0));
    const maxRaw = num("maxItems");
    const prefix = Array.isArray(o.prefixItems) ? (o.prefixItems as unknown[]) : [];
    const itemsSchema = o.items === undefined ? undefined : o.items;
    let max = maxRaw === undefined ? Math.max(min, prefix.length + (itemsSchema === false ? 0 : this.maxItems)) : Math.floor(maxRaw);
    if (min > MAX_ITEMS_CAP || prefix.length > MAX_ITEMS_CAP) {
      this.problem([...path, "minItems"], `arrays of more than ${MAX_ITEMS_CAP} items cannot be generated under a grammar`, "unsupported");
      return NEVER;
    }
    if (max > MAX_ITEMS_CAP) {
      this.problem([...path, "maxItems"], `arrays are generated up to ${MAX_ITEMS_CAP} items (maxItems ${max} is still validated)`);
      max = MAX_ITEMS_CAP;
    }
    if (itemsSchema === false) max = Math.min(max, prefix.length);
    if (max < min) {
      this.problem(path, `maxItems ${max} is below minItems ${min}`, "unsupported");
      return NEVER;
    }
    const pre = prefix.map((p, i) => this.visit(p, [...path, "prefixItems", i], `${name}-${i}`));
    const item = itemsSchema === false ? NEVER : this.rule(`${name}-item`, this.visit(itemsSchema, [...path, "items"], `${name}-item`));
    // Element i (0-based) is pre[i] when i < prefix.length, else `item`.
    const element = (i: number) => (i < pre.length ? pre[i]! : item);
    // Build from the end: tail(i) = what may follow after i elements.
    const tail = (i: number): Expr => {
      if (i >= max) return lit("");
      if (i >= pre.length) {
        // Only `item` from here: between (min - i) and (max - i) more, each with a comma.
        const lo = Math.max(0, min - i);
        return rep(seq(lit(","), item), lo, max - i);
      }
      const next = seq(lit(","), element(i), tail(i + 1));
      return i < min ? next : opt(next);
    };
    const body = max === 0 ? lit("") : min === 0 ? opt(seq(element(0), tail(1))) : seq(element(0), tail(1));
    return this.rule(`${name}-arr`, seq(lit("["), body, lit("]")));
  }

  private visitObject(o: JSONSchema, path: (string | number)[], name: string): Expr {
    for (const k of ["patternProperties", "propertyNames", "minProperties", "maxProperties", "dependentRequired", "dependentSchemas", "unevaluatedProperties"]) {
      if (o[k] !== undefined) this.problem([...path, k], `'${k}' is not enforced while generating (the output is still validated against it)`);
    }
    const props = o.properties && typeof o.properties === "object" ? (o.properties as Record<string, unknown>) : {};
    const required = new Set(Array.isArray(o.required) ? (o.required as unknown[]).map(String) : []);
    const entries: { key: string; value: Expr; required: boolean }[] = [];
    for (const [k, v] of Object.entries(props)) {
      const value = this.rule(`${name}-${ruleSafe(k)}`, this.visit(v, [...path, "properties", k], `${name}-${ruleSafe(k)}`));
      // A property that can take no value can only be left out; a required one makes the object impossible.
      if (isNever(value)) {
        if (required.has(k)) return NEVER;
        continue;
      }
      entries.push({ key: k, value, required: required.has(k) });
    }
    // A required name without a property schema: any value.
    for (const r of required) if (!(r in props)) entries.push({ key: r, value: this.free(), required: true });
    if (entries.length === 0) {
      // No fixed properties: a map of free (or additionalProperties-typed) entries.
      const ap = o.additionalProperties;
      if (ap === false) return lit("{}");
      const value = ap && typeof ap === "object" ? this.visit(ap, [...path, "additionalProperties"], `${name}-value`) : this.free(this.freeDepth - 1);
      const key = this.string(0, this.maxString);
      const kv = seq(key, lit(":"), value);
      return this.rule(`${name}-obj`, seq(lit("{"), opt(seq(kv, rep(seq(lit(","), kv), 0, this.maxItems - 1))), lit("}")));
    }
    // Declared order; optional properties may be left out. rest(i, comma): properties i.. with a
    // leading comma when something came before. Extra properties are never generated (a schema
    // that allows them is still satisfied).
    const names = entries.map((_, i) => [this.uniq(`${name}-rest${i}`), this.uniq(`${name}-rest${i}c`)] as const);
    const restName = (i: number, comma: boolean) => names[i]![comma ? 1 : 0];
    for (let i = entries.length - 1; i >= 0; i--) {
      for (const comma of [false, true]) {
        const e = entries[i]!;
        const here = seq(comma ? lit(",") : lit(""), lit(JSON.stringify(e.key) + ":"), e.value, i + 1 < entries.length ? ref(restName(i + 1, true)) : lit(""));
        const skip = i + 1 < entries.length ? ref(restName(i + 1, comma)) : lit("");
        this.rules.set(restName(i, comma), e.required ? here : alt(here, skip));
      }
    }
    return this.rule(`${name}-obj`, seq(lit("{"), ref(restName(0, false)), lit("}")));
  }
}

function ruleSafe(s: string): string {
  const t = s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return t.slice(0, 24) || "x";
}

/** Worst-case UTF-8 length of what `e` matches (Infinity through recursion). */
function maxBytesOf(e: Expr, rules: Map<string, Expr>, visiting: Set<string>, memo: Map<string, number>): number {
  switch (e.k) {
    case "lit":
      return Buffer.byteLength(e.s, "utf8");
    case "cls":
      return e.neg ? 4 : Math.max(0, ...e.ranges.map(([, b]) => (b < 0x80 ? 1 : b < 0x800 ? 2 : b < 0x10000 ? 3 : 4)));
    case "ref": {
      if (e.name === "char") return CHAR_MAX_BYTES;
      const m = memo.get(e.name);
      if (m !== undefined) return m;
      if (visiting.has(e.name)) return Infinity;
      visiting.add(e.name);
      const v = maxBytesOf(rules.get(e.name) ?? lit(""), rules, visiting, memo);
      visiting.delete(e.name);
      memo.set(e.name, v);
      return v;
    }
    case "seq":
      return e.items.reduce((s, i) => s + maxBytesOf(i, rules, visiting, memo), 0);
    case "alt":
      return Math.max(0, ...e.items.map((i) => maxBytesOf(i, rules, visiting, memo)));
    case "rep": {
      if (e.max === 0) return 0;
      const one = maxBytesOf(e.e, rules, visiting, memo);
      return one === 0 ? 0 : one * e.max;
    }
  }
}

/** Only the rules reachable from root, root first, so the text is stable and small. */
function reachable(rules: Map<string, Expr>): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const walk = (e: Expr) => {
    if (e.k === "ref") {
      if (seen.has(e.name)) return;
      seen.add(e.name);
      order.push(e.name);
      walk(rules.get(e.name) ?? lit(""));
    } else if (e.k === "seq" || e.k === "alt") e.items.forEach(walk);
    else if (e.k === "rep") walk(e.e);
  };
  walk(ref("root"));
  return order;
}

/**
 * The GBNF grammar for outputs valid under `schema` (a JSON Schema, e.g. a compiled Picoschema);
 * null or undefined gives any JSON value (bounded). Never throws: what it cannot express is in
 * `problems`.
 */
export function jsonSchemaToGbnf(schema: JSONSchema | null | undefined, opts: JsonGrammarOptions = {}): JsonGrammar {
  // Without a schema nothing says how big the value should be: tighter bounds than a schema's
  // free parts, so a weak model's arbitrary JSON still fits a modest maxOutputTokens more often.
  const c = new Converter(schema ?? {}, schema ? opts : { maxStringLength: GENERIC_MAX_STRING, maxItems: GENERIC_MAX_ITEMS, freeDepth: GENERIC_DEPTH, ...opts });
  const body = schema ? c.visit(schema, [], "root") : c.free();
  c.rules.set("root", body);
  const names = reachable(c.rules);
  const text = names.map((n) => `${n} ::= ${emit(c.rules.get(n)!, "top")}`).join("\n") + "\n";
  const maxBytes = maxBytesOf(ref("root"), c.rules, new Set(), new Map());
  return { gbnf: text, problems: c.problems, maxBytes };
}

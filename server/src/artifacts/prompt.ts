// `.prompt` files (Dotprompt): YAML front matter + Handlebars body. Parses both with source
// positions: front matter keys, input/output schemas (Picoschema compiled to JSON Schema), the
// Driftlens extension keys, and every variable, helper and partial the body uses.
import Handlebars from "handlebars";
import path from "node:path";
import { compilePicoschema, picoKeyName, type JSONSchema } from "./picoschema";
import { promptFrontMatterSchema } from "./schemas";
import type { Diagnostic, Position, Range } from "./types";
import { firstLine, locate, mapKeys, OffsetMapper, parseYaml, rangeFor, type YamlSource } from "./yaml-source";
import { zodDiagnostics } from "./zod-diagnostics";
import { sha256Text } from "./hash";
import { structuredDiagnostics } from "./structured";

/** Dotprompt's own helpers. */
export const DOTPROMPT_HELPERS = ["role", "json", "history", "section", "media", "ifEquals", "unlessEquals"] as const;
/** Handlebars built-ins that stay available with Dotprompt's knownHelpersOnly compilation. */
export const BUILTIN_HELPERS = ["if", "unless", "each", "with", "log", "lookup"] as const;
export const KNOWN_HELPERS: ReadonlySet<string> = new Set<string>([...DOTPROMPT_HELPERS, ...BUILTIN_HELPERS]);
/** Block helpers that change the context (`this`) inside their block. */
const CONTEXT_HELPERS = new Set(["each", "with"]);

/** Same as Dotprompt's FRONTMATTER_AND_BODY_REGEX, so what we parse is what it renders. */
const FRONTMATTER_AND_BODY = /^---\s*(?:\r\n|\r|\n)([\s\S]*?)(?:\r\n|\r|\n)---\s*(?:\r\n|\r|\n)([\s\S]*)$/d;

export interface TemplateVariable {
  /** Root input name (`user` for `{{user.name}}`). */
  name: string;
  /** The full path as written. */
  path: string;
  range: Range;
}

export interface TemplateRef {
  name: string;
  range: Range;
}

export interface PromptDoc {
  file: string;
  text: string;
  /** sha256 of the text: the prompt's artifact version. */
  hash: string;
  /** Front matter as plain data (empty when there is none or it is broken). */
  frontMatter: Record<string, unknown>;
  frontMatterRange?: Range;
  model?: string;
  modelRange?: Range;
  config: Record<string, unknown>;
  input?: { schema?: unknown; jsonSchema?: JSONSchema; default?: Record<string, unknown> };
  output?: { format?: string; schema?: unknown; jsonSchema?: JSONSchema };
  /** `driftlens.constrain`: false generates a JSON prompt as free text (outputs are still validated). */
  constrain?: boolean;
  /** Declared input names with the range of their key in the front matter. */
  inputs: { name: string; range: Range; optional: boolean }[];
  /** Whether the input schema accepts names it does not list (`(*)` or JSON Schema without additionalProperties: false). */
  inputsOpen: boolean;
  /** `driftlens.evals`: eval sets covering this prompt, resolved against the prompt's folder. */
  evals: { path: string; declared: string; range: Range }[];
  /** `driftlens.variant`: the default variant to run. */
  variant?: { ref: string; range: Range };
  /** `driftlens.sample`: sample input for checks (falls back to input.default). */
  sample?: Record<string, unknown>;
  /** Body text as it appears in the file, and where it starts. */
  body: string;
  bodyStart: Position;
  /** The template Dotprompt renders (body trimmed, as Dotprompt does). */
  template: string;
  variables: TemplateVariable[];
  helpers: TemplateRef[];
  partials: TemplateRef[];
  /** Whether the body parsed (false: a Handlebars syntax error). */
  bodyOk: boolean;
  diagnostics: Diagnostic[];
  /** Parsed front matter with positions (for completion/hover/definition). */
  frontMatterSource?: YamlSource;
}

/** Splits front matter from body exactly as Dotprompt does. */
export function splitFrontMatter(text: string): { frontMatter?: string; fmStart: number; body: string; bodyStart: number } {
  const m = FRONTMATTER_AND_BODY.exec(text);
  if (!m || !m.indices) return { fmStart: 0, body: text, bodyStart: 0 };
  return { frontMatter: m[1] ?? "", fmStart: m.indices[1]![0], body: m[2] ?? "", bodyStart: m.indices[2]![0] };
}

type HbsNode = hbs.AST.Node & Record<string, unknown>;
type Loc = hbs.AST.SourceLocation;

class BodyWalker {
  variables: TemplateVariable[] = [];
  helpers: TemplateRef[] = [];
  partials: TemplateRef[] = [];
  constructor(private readonly toRange: (loc: Loc) => Range) {}

  /** scopeDepth: how many context-changing blocks enclose the node; blockParams in scope. */
  walk(node: unknown, scopeDepth: number, blockParams: ReadonlySet<string>): void {
    if (!node || typeof node !== "object") return;
    const n = node as HbsNode;
    switch (n.type) {
      case "Program":
        for (const s of (n as unknown as hbs.AST.Program).body) this.walk(s, scopeDepth, blockParams);
        return;
      case "MustacheStatement":
      case "SubExpression": {
        const m = n as unknown as hbs.AST.MustacheStatement;
        const hasArgs = m.params.length > 0 || (m.hash?.pairs.length ?? 0) > 0;
        const p = m.path;
        if (p.type === "PathExpression") {
          const pe = p as hbs.AST.PathExpression;
          const head = pe.parts[0];
          if (!pe.data && pe.depth === 0 && pe.parts.length === 1 && head && (hasArgs || KNOWN_HELPERS.has(head) || n.type === "SubExpression")) {
            this.helpers.push({ name: head, range: this.toRange(pe.loc) });
          } else this.path(pe, scopeDepth, blockParams);
        } else this.walk(p, scopeDepth, blockParams);
        for (const a of m.params) this.walk(a, scopeDepth, blockParams);
        for (const pair of m.hash?.pairs ?? []) this.walk(pair.value, scopeDepth, blockParams);
        return;
      }
      case "BlockStatement":
      case "DecoratorBlock": {
        const b = n as unknown as hbs.AST.BlockStatement;
        if (b.path.type === "PathExpression") {
          const pe = b.path as hbs.AST.PathExpression;
          if (n.type === "BlockStatement") this.helpers.push({ name: pe.original, range: this.toRange(pe.loc) });
        }
        for (const a of b.params) this.walk(a, scopeDepth, blockParams);
        for (const pair of b.hash?.pairs ?? []) this.walk(pair.value, scopeDepth, blockParams);
        const name = b.path.type === "PathExpression" ? (b.path as hbs.AST.PathExpression).original : "";
        const changes = CONTEXT_HELPERS.has(name);
        const inner = new Set(blockParams);
        for (const bp of b.program?.blockParams ?? []) inner.add(bp);
        this.walk(b.program, changes ? scopeDepth + 1 : scopeDepth, inner);
        if (b.inverse) this.walk(b.inverse, scopeDepth, blockParams);
        return;
      }
      case "PartialStatement":
      case "PartialBlockStatement": {
        const ps = n as unknown as hbs.AST.PartialStatement;
        if (ps.name.type === "PathExpression") {
          this.partials.push({ name: (ps.name as hbs.AST.PathExpression).original, range: this.toRange(ps.name.loc) });
        } else this.walk(ps.name, scopeDepth, blockParams);
        for (const a of ps.params) this.walk(a, scopeDepth, blockParams);
        for (const pair of ps.hash?.pairs ?? []) this.walk(pair.value, scopeDepth, blockParams);
        if (n.type === "PartialBlockStatement") this.walk((n as unknown as hbs.AST.PartialBlockStatement).program, scopeDepth, blockParams);
        return;
      }
      case "PathExpression":
        this.path(n as unknown as hbs.AST.PathExpression, scopeDepth, blockParams);
        return;
      default:
        return;
    }
  }

  private path(pe: hbs.AST.PathExpression, scopeDepth: number, blockParams: ReadonlySet<string>): void {
    if (pe.data) {
      // @root.x is an input; other @data (@index, @state, @auth…) is not.
      if (pe.parts[0] === "root" && pe.parts.length > 1) this.variables.push({ name: pe.parts[1]!, path: pe.original, range: this.toRange(pe.loc) });
      return;
    }
    const head = pe.parts[0];
    if (!head) return; // `this`
    if (pe.depth === 0 && blockParams.has(head)) return;
    // A path refers to the input when it resolves to the root context.
    if (pe.depth !== scopeDepth) return;
    if (pe.original.startsWith("this.") || pe.original.startsWith("./")) {
      if (scopeDepth !== 0) return;
    }
    this.variables.push({ name: head, path: pe.original, range: this.toRange(pe.loc) });
  }
}

const MAX_BLOCK_DEPTH = 64;

/**
 * A copy of `s` that does not keep a larger string alive. V8 makes `slice` and regex captures
 * views into their parent string, so a cache keyed by one line of a template would otherwise
 * retain the whole template of every edit that added a key. Copies UTF-16 code units as they are.
 */
export function detach(s: string): string {
  return Buffer.from(s, "utf16le").toString("utf16le");
}

/**
 * The last two templates' segments: a pass over a prompt asks for them twice, for the body as
 * parsed and for the trimmed template as rendered. Two slots, not a map of several: the scan is
 * cheap, and templates kept alive across young-generation collections (each pinning its text and
 * hundreds of line slices) made every collection copy and promote megabytes: 4-6 ms pauses every
 * ~30 keystrokes, now well under 1 ms every few hundred.
 */
const segmentSlots: { template: string | undefined; segments: string[] | undefined }[] = [
  { template: undefined, segments: undefined },
  { template: undefined, segments: undefined },
];
let nextSlot = 0;

/**
 * Splits a template into segments, each one line or, where a block or mustache spans lines, the
 * fewest whole lines that hold it complete. Undefined when it cannot be split (raw blocks, an
 * unbalanced block or mustache).
 */
export function templateSegments(template: string): string[] | undefined {
  for (const slot of segmentSlots) if (slot.template === template) return slot.segments;
  const slot = segmentSlots[nextSlot]!;
  nextSlot = 1 - nextSlot;
  slot.segments = computeSegments(template);
  slot.template = template;
  return slot.segments;
}

/** JavaScript's `\s`: whether a UTF-16 code unit is whitespace in a regular expression. */
function isRegexSpace(c: number): boolean {
  return (
    c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

const OPEN_BRACE = 123; // {
const CLOSE_BRACE = 125; // }
const NEWLINE = 10;
const TILDE = 126; // ~

/**
 * After `{{` at `i`: the index just past the block character (#, ^ or /) that makes it a block
 * open or close, or -1 for any other mustache (`{{^}}` is `else`, not a block). Matches the regex
 * /\{\{~?\s*(#|\^(?!\s*~?\}\})|\/)/ at `i`.
 */
function blockMarkEnd(t: string, i: number): number {
  let j = i + 2;
  if (t.charCodeAt(j) === TILDE) j++;
  while (j < t.length && isRegexSpace(t.charCodeAt(j))) j++;
  const c = t.charCodeAt(j);
  if (c === 35 /* # */ || c === 47 /* / */) return j + 1;
  if (c !== 94 /* ^ */) return -1;
  let k = j + 1;
  while (k < t.length && isRegexSpace(t.charCodeAt(k))) k++;
  if (t.charCodeAt(k) === TILDE) k++;
  if (t.charCodeAt(k) === CLOSE_BRACE && t.charCodeAt(k + 1) === CLOSE_BRACE) return -1;
  return j + 1;
}

/**
 * One pass over block opens/closes, mustache edges and line ends, by character code: this runs
 * on every keystroke over the whole template, and a regex's match objects (one per brace pair and
 * line) were most of what an edit allocated.
 */
function computeSegments(template: string): string[] | undefined {
  // Raw blocks ({{{{raw}}}} … {{{{/raw}}}}) hide mustaches from the count: never split those.
  if (template.includes("{{{{")) return undefined;
  const out: string[] = [];
  let segStart = 0;
  let depth = 0;
  let openMustache = false;
  const n = template.length;
  let i = 0;
  while (i < n) {
    const c = template.charCodeAt(i);
    if (c === NEWLINE) {
      if (depth === 0 && !openMustache) {
        out.push(template.slice(segStart, i + 1));
        segStart = i + 1;
      }
      i++;
      continue;
    }
    if (c === CLOSE_BRACE && template.charCodeAt(i + 1) === CLOSE_BRACE) {
      openMustache = false;
      i += 2;
      continue;
    }
    if (c !== OPEN_BRACE || template.charCodeAt(i + 1) !== OPEN_BRACE) {
      i++;
      continue;
    }
    openMustache = true;
    const end = blockMarkEnd(template, i);
    if (end < 0) i += 2;
    else {
      if (template.charCodeAt(end - 1) === 47 /* / */) depth--;
      else depth++;
      i = end;
    }
    // A close without an open: not a template to split (its parse reports the error).
    if (depth < 0) return undefined;
  }
  if (segStart < template.length) out.push(template.slice(segStart));
  return depth === 0 && !openMustache ? out : undefined;
}

type TemplateResult = { ok: boolean; variables: TemplateVariable[]; helpers: TemplateRef[]; partials: TemplateRef[]; error?: Diagnostic };
/**
 * Parsed segments (ranges relative to the segment's first line) and their line counts, by file,
 * then text; `at` keeps the refs shifted to each line the segment sits on (a line such as
 * `{{/if}}` or `{{role "user"}}` recurs), so an edit that moves no line reuses them instead of
 * copying every ref of the template.
 */
type ShiftedRefs = { variables: TemplateVariable[]; helpers: TemplateRef[]; partials: TemplateRef[] };
type SegmentParse = TemplateResult & { lines: number; at?: Map<number, ShiftedRefs> };
/** Lines whose shifted refs one segment keeps (edits that move lines leave old ones behind). */
const SHIFTED_AT_MAX = 64;
const segmentParses = new Map<string, Map<string, SegmentParse>>();
const SEGMENT_PARSES_MAX = 4096;
const SEGMENT_PARSE_FILES_MAX = 256;

/** How many line breaks `s` holds. */
function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
}

function shiftRef<T extends { range: Range }>(r: T, dl: number): T {
  return { ...r, range: { start: { line: r.range.start.line + dl, character: r.range.start.character }, end: { line: r.range.end.line + dl, character: r.range.end.character } } };
}

/**
 * Parses a template in segments of whole lines at block depth 0, each cached by its text, so an
 * edit in a long prompt re-parses only its segment. The same refs and errors as one parse.
 */
export function parseTemplateCached(body: string, bodyStart: Position, file: string): TemplateResult {
  const segments = bodyStart.character === 0 ? templateSegments(body) : undefined;
  if (!segments || segments.length < 2) return parseTemplate(body, bodyStart, file);
  const out: TemplateResult = { ok: true, variables: [], helpers: [], partials: [] };
  let line = bodyStart.line;
  let parses: Map<string, SegmentParse> | undefined = segmentParses.get(file);
  if (!parses) {
    parses = new Map();
    segmentParses.set(file, parses);
    if (segmentParses.size > SEGMENT_PARSE_FILES_MAX) segmentParses.delete(segmentParses.keys().next().value as string);
  }
  // Indexed loops: this runs on every keystroke, and iterators allocate where for-of is not optimized.
  for (let s = 0; s < segments.length; s++) {
    const seg = segments[s]!;
    // A line without a mustache holds no refs: nothing to parse, cache or copy (most prose lines).
    if (!seg.includes("{{")) {
      line += countNewlines(seg);
      continue;
    }
    let r = parses.get(seg);
    if (!r) {
      // Parsed from a detached copy: the refs' names are views into what was parsed.
      const key = detach(seg);
      r = { ...parseTemplate(key, { line: 0, character: 0 }, file), lines: countNewlines(key) };
      if (parses.size >= SEGMENT_PARSES_MAX) parses.delete(parses.keys().next().value as string);
      parses.set(key, r);
    }
    if (!r.ok) {
      // Report the first syntax error where it is, as a whole parse would.
      return { ok: false, variables: [], helpers: [], partials: [], ...(r.error ? { error: shiftRef(r.error, line) } : {}) };
    }
    let at = r.at?.get(line);
    if (!at) {
      const dl = line;
      at = { variables: r.variables.map((v) => (dl ? shiftRef(v, dl) : v)), helpers: r.helpers.map((h) => (dl ? shiftRef(h, dl) : h)), partials: r.partials.map((p) => (dl ? shiftRef(p, dl) : p)) };
      if (!r.at || r.at.size >= SHIFTED_AT_MAX) r.at = new Map();
      r.at.set(line, at);
    }
    for (let i = 0; i < at.variables.length; i++) out.variables.push(at.variables[i]!);
    for (let i = 0; i < at.helpers.length; i++) out.helpers.push(at.helpers[i]!);
    for (let i = 0; i < at.partials.length; i++) out.partials.push(at.partials[i]!);
    line += r.lines;
  }
  return out;
}

/** Deepest block nesting in a template, and where it first goes past MAX_BLOCK_DEPTH (1-based line, 0-based column). */
function blockDepth(body: string): { max: number; line: number; column: number } {
  let depth = 0;
  let max = 0;
  let line = 1;
  let column = 0;
  const re = /\{\{~?\s*(#|\^(?!\s*~?\}\})|\/)/g;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    if (m[1] === "/") depth = Math.max(0, depth - 1);
    else if (++depth > max) {
      max = depth;
      if (max === MAX_BLOCK_DEPTH + 1) {
        const before = body.slice(0, m.index);
        line = before.split("\n").length;
        column = m.index - (before.lastIndexOf("\n") + 1);
      }
    }
  }
  return { max, line, column };
}

/** Parses a Handlebars template; returns refs with ranges, or a syntax error diagnostic. */
export function parseTemplate(
  body: string,
  bodyStart: Position,
  file: string,
): { ok: boolean; variables: TemplateVariable[]; helpers: TemplateRef[]; partials: TemplateRef[]; error?: Diagnostic } {
  const toPos = (line: number, column: number): Position => ({
    line: bodyStart.line + line - 1,
    character: line === 1 ? bodyStart.character + column : column,
  });
  const toRange = (loc: Loc): Range => ({ start: toPos(loc.start.line, loc.start.column), end: toPos(loc.end.line, loc.end.column) });
  // Handlebars' parser is quadratic in block nesting (seconds at a thousand levels, then a stack
  // overflow); no real prompt nests more than a few levels, so refuse before parsing.
  const depth = blockDepth(body);
  if (depth.max > MAX_BLOCK_DEPTH) {
    const at = toPos(depth.line, depth.column);
    return { ok: false, variables: [], helpers: [], partials: [], error: { file, range: { start: at, end: { line: at.line, character: at.character + 3 } }, severity: "error", code: "DL202", message: `Handlebars: blocks nested more than ${MAX_BLOCK_DEPTH} levels deep here; Driftlens does not check templates this deep. Flatten the template (use partials).` } };
  }
  let ast: hbs.AST.Program;
  try {
    ast = Handlebars.parse(body);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const ex = e as { lineNumber?: number; column?: number; endLineNumber?: number; endColumn?: number };
    let range: Range;
    if (typeof ex.lineNumber === "number" && typeof ex.column === "number") {
      range = { start: toPos(ex.lineNumber, ex.column), end: toPos(ex.endLineNumber ?? ex.lineNumber, ex.endColumn ?? ex.column + 1) };
    } else {
      const lexer = (Handlebars as unknown as { Parser: { lexer?: { yylloc?: { first_line: number; first_column: number; last_line: number; last_column: number } } } }).Parser.lexer;
      const l = lexer?.yylloc;
      if (l && l.first_line >= 1) {
        range = { start: toPos(l.first_line, l.first_column), end: toPos(l.last_line, Math.max(l.last_column, l.first_line === l.last_line ? l.first_column + 1 : l.last_column)) };
      } else range = { start: bodyStart, end: bodyStart };
    }
    const expecting = /Expecting (.*), got '([^']*)'/.exec(msg);
    const text = expecting ? `Handlebars: unexpected ${expecting[2] === "EOF" ? "end of template (a block is not closed)" : `'${expecting[2]}'`}; expected ${expecting[1]!.split(", ").slice(0, 4).join(", ")}${expecting[1]!.split(", ").length > 4 ? ", …" : ""}` : `Handlebars: ${firstLine(msg).replace(/ - \d+:\d+$/, "")}`;
    return { ok: false, variables: [], helpers: [], partials: [], error: { file, range, severity: "error", code: "DL202", message: text } };
  }
  const w = new BodyWalker(toRange);
  try {
    w.walk(ast, 0, new Set());
  } catch (e) {
    // Only a template nested thousands of blocks deep gets here (stack exhausted).
    const range = { start: bodyStart, end: bodyStart };
    return { ok: false, variables: [], helpers: [], partials: [], error: { file, range, severity: "error", code: "DL202", message: `Handlebars: template nested too deeply to check (${e instanceof Error ? e.message : String(e)})` } };
  }
  return { ok: true, variables: w.variables, helpers: w.helpers, partials: w.partials };
}

function schemaDiagnostics(src: YamlSource, file: string, base: string[], errors: { path: (string | number)[]; message: string; at: "key" | "value" }[], code: string, what: string): Diagnostic[] {
  return errors.map((e) => {
    // A bad type string is underlined itself; a bad key (or mapping) at its key.
    const l = locate(src, [...base, ...e.path]);
    const range = l.found && (e.at === "value" || !l.key) ? l.value : (l.key ?? l.value);
    return { file, range, severity: "error" as const, code, message: `invalid ${what} schema: ${e.message}` };
  });
}

/** What the front matter gives a PromptDoc; cached by its text, position and file (a body edit leaves it alone). */
interface FrontMatterPart {
  fields: Pick<PromptDoc, "frontMatter" | "config" | "inputs" | "inputsOpen" | "evals"> & Partial<Pick<PromptDoc, "frontMatterRange" | "frontMatterSource" | "model" | "modelRange" | "input" | "output" | "variant" | "sample" | "constrain">>;
  diagnostics: Diagnostic[];
}
const frontMatterParts = new Map<string, FrontMatterPart>();
const FRONT_MATTER_PARTS_MAX = 64;

/**
 * Parses and checks front matter (YAML, schema, Picoschema). Each edit of a prompt re-parses the
 * file; most edits are in the body, so the result is cached by the front matter's text, where it
 * starts and the file. Callers must not mutate what it returns (parsePrompt copies the arrays).
 */
function frontMatterPart(fmText: string, fmPos: Position, fmEnd: Position, file: string): FrontMatterPart {
  // fmText is a view into the whole file (a regex capture): the key must not keep the file alive.
  const key = detach(`${file}\u0000${fmPos.line}:${fmPos.character}\u0000${fmText}`);
  const hit = frontMatterParts.get(key);
  if (hit) {
    // Most recently used last.
    frontMatterParts.delete(key);
    frontMatterParts.set(key, hit);
    return hit;
  }
  const diagnostics: Diagnostic[] = [];
  const f: FrontMatterPart["fields"] = { frontMatter: {}, config: {}, inputs: [], inputsOpen: true, evals: [] };
  // Cached: keep the front matter, not the whole file it was cut from.
  fmText = detach(fmText);
  const src = parseYaml(fmText, file, "DL200", fmPos.line);
  f.frontMatterSource = src;
  f.frontMatterRange = { start: fmPos, end: fmEnd };
  diagnostics.push(...src.diagnostics);
  const raw = src.value;
  if (raw !== undefined && raw !== null && (typeof raw !== "object" || Array.isArray(raw))) {
    diagnostics.push({ file, range: f.frontMatterRange, severity: "error", code: "DL201", message: "front matter must be a mapping of keys (model, config, input, output, …)" });
  } else if (raw && typeof raw === "object") {
    const fm = raw as Record<string, unknown>;
    f.frontMatter = fm;
    const res = promptFrontMatterSchema.safeParse(fm);
    if (!res.success) diagnostics.push(...zodDiagnostics(res.error, src, fm, file, "DL201"));
    const ok = (k: string) => !res.success && res.error.issues.some((i) => i.path[0] === k);
    if (typeof fm.model === "string" && !ok("model")) {
      f.model = fm.model;
      f.modelRange = rangeFor(src, ["model"]);
    }
    if (fm.config && typeof fm.config === "object" && !Array.isArray(fm.config)) f.config = fm.config as Record<string, unknown>;
    const input = fm.input && typeof fm.input === "object" && !Array.isArray(fm.input) ? (fm.input as Record<string, unknown>) : undefined;
    if (input) {
      f.input = {};
      if (input.default && typeof input.default === "object" && !Array.isArray(input.default)) f.input.default = input.default as Record<string, unknown>;
      if (input.schema !== undefined) {
        f.input.schema = input.schema;
        const c = compilePicoschema(input.schema);
        if (c.errors.length) diagnostics.push(...schemaDiagnostics(src, file, ["input", "schema"], c.errors, "DL209", "input"));
        else if (c.schema) {
          f.input.jsonSchema = c.schema;
          const props = c.schema.properties as Record<string, unknown> | undefined;
          f.inputsOpen = c.schema.additionalProperties !== false || typeof props !== "object";
          const isPico = !(typeof (input.schema as Record<string, unknown>)?.type === "string" || typeof (input.schema as Record<string, unknown>)?.properties === "object");
          const keyRanges = new Map<string, Range>();
          for (const k of mapKeys(src, isPico ? ["input", "schema"] : ["input", "schema", "properties"])) keyRanges.set(picoKeyName(k.key), k.range);
          const required = new Set(Array.isArray(c.schema.required) ? (c.schema.required as string[]) : []);
          for (const name of Object.keys(props ?? {})) {
            f.inputs.push({ name, range: keyRanges.get(name) ?? rangeFor(src, ["input", "schema"], "key"), optional: !required.has(name) });
          }
        }
      }
    }
    const output = fm.output && typeof fm.output === "object" && !Array.isArray(fm.output) ? (fm.output as Record<string, unknown>) : undefined;
    if (output) {
      f.output = {};
      if (typeof output.format === "string") f.output.format = output.format;
      if (output.schema !== undefined) {
        f.output.schema = output.schema;
        const c = compilePicoschema(output.schema);
        if (c.errors.length) diagnostics.push(...schemaDiagnostics(src, file, ["output", "schema"], c.errors, "DL208", "output"));
        else if (c.schema) f.output.jsonSchema = c.schema;
      }
    }
    const evals = fm["driftlens.evals"];
    if (Array.isArray(evals)) {
      evals.forEach((e, i) => {
        if (typeof e === "string" && e) f.evals.push({ declared: e, path: path.resolve(path.dirname(file), e), range: rangeFor(src, ["driftlens.evals", i]) });
      });
    }
    if (typeof fm["driftlens.variant"] === "string") f.variant = { ref: fm["driftlens.variant"], range: rangeFor(src, ["driftlens.variant"]) };
    const sample = fm["driftlens.sample"];
    if (sample && typeof sample === "object" && !Array.isArray(sample)) f.sample = sample as Record<string, unknown>;
    if (typeof fm["driftlens.constrain"] === "boolean") f.constrain = fm["driftlens.constrain"];
    diagnostics.push(...structuredDiagnostics({ ...f }, src, file));
  }
  const part = { fields: f, diagnostics };
  frontMatterParts.set(key, part);
  if (frontMatterParts.size > FRONT_MATTER_PARTS_MAX) frontMatterParts.delete(frontMatterParts.keys().next().value as string);
  return part;
}

/** Parses a .prompt file. Never throws. */
export function parsePrompt(text: string, file: string): PromptDoc {
  const diagnostics: Diagnostic[] = [];
  const split = splitFrontMatter(text);
  const map = new OffsetMapper(text);
  const bodyStart = map.position(split.bodyStart);
  const doc: PromptDoc = {
    file,
    text,
    hash: sha256Text(text),
    frontMatter: {},
    config: {},
    inputs: [],
    inputsOpen: true,
    evals: [],
    body: split.body,
    bodyStart,
    template: split.frontMatter !== undefined ? split.body.trim() : split.body,
    variables: [],
    helpers: [],
    partials: [],
    bodyOk: true,
    diagnostics,
  };
  if (split.frontMatter === undefined && /^---\s*(\r\n|\r|\n)/.test(text)) {
    diagnostics.push({ file, range: map.range(0, 3), severity: "error", code: "DL200", message: "front matter starts with '---' but has no closing '---' line (followed by a newline); Dotprompt will render the whole file as the template" });
  }
  if (split.frontMatter !== undefined) {
    const fm = frontMatterPart(split.frontMatter, map.position(split.fmStart), map.position(split.fmStart + split.frontMatter.length), file);
    Object.assign(doc, fm.fields, { inputs: [...fm.fields.inputs], evals: [...fm.fields.evals] });
    diagnostics.push(...fm.diagnostics);
  }
  const t = parseTemplateCached(split.body, bodyStart, file);
  doc.bodyOk = t.ok;
  doc.variables = t.variables;
  doc.helpers = t.helpers;
  doc.partials = t.partials;
  if (t.error) diagnostics.push(t.error);
  // Checks that need only this file.
  for (const h of t.helpers) {
    if (!KNOWN_HELPERS.has(h.name)) {
      diagnostics.push({ file, range: h.range, severity: "error", code: "DL205", message: `unknown helper '${h.name}': Dotprompt knows ${[...DOTPROMPT_HELPERS].join(", ")} and Handlebars' ${[...BUILTIN_HELPERS].join(", ")}` });
    }
  }
  if (doc.input?.jsonSchema && !doc.inputsOpen) {
    const declared = new Set(doc.inputs.map((i) => i.name));
    for (const v of t.variables) {
      if (!declared.has(v.name)) {
        diagnostics.push({ file, range: v.range, severity: "error", code: "DL203", message: `'${v.name}' is not declared in the input schema (declared: ${[...declared].join(", ") || "none"}); it would render empty` });
      }
    }
  }
  return doc;
}

/** Input used to render the prompt when no case is given: driftlens.sample, else input.default. */
export function sampleInput(doc: PromptDoc): Record<string, unknown> {
  return { ...(doc.input?.default ?? {}), ...(doc.sample ?? {}) };
}

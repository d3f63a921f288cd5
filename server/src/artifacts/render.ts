// Rendering a .prompt through Google's reference implementation (the `dotprompt` package), so
// what Driftlens runs is what Dotprompt renders. Two adjustments, both documented in
// docs/formats.md: the front matter's `input.default` is applied (dotprompt only applies defaults
// given as a render option), and the resolved `input` (schema compiled to JSON Schema, defaults)
// is put back into the result (dotprompt drops it).
import { Dotprompt } from "dotprompt";
import fs from "node:fs";
import path from "node:path";
import { compilePicoschema, type JSONSchema } from "./picoschema";
import { detach, splitFrontMatter, templateSegments, type PromptDoc } from "./prompt";

export type Part = { text: string; metadata?: Record<string, unknown> } | { media: { url: string; contentType?: string }; metadata?: Record<string, unknown> } | Record<string, unknown>;

export interface RenderedMessage {
  role: string;
  content: Part[];
  metadata?: Record<string, unknown>;
}

export interface RenderData {
  input?: Record<string, unknown>;
  context?: Record<string, unknown>;
  messages?: RenderedMessage[];
  docs?: { content: Part[]; metadata?: Record<string, unknown> }[];
}

/** What Dotprompt's render returns: messages plus the resolved metadata. */
export interface RenderedPrompt {
  messages: RenderedMessage[];
  model?: string;
  config?: Record<string, unknown>;
  input?: { schema?: JSONSchema; default?: Record<string, unknown>; [k: string]: unknown };
  output?: { format?: string; schema?: JSONSchema; [k: string]: unknown };
  ext?: Record<string, Record<string, unknown>>;
  raw?: Record<string, unknown>;
  [key: string]: unknown;
}

export type PartialResolver = (name: string) => string | undefined | null | Promise<string | undefined | null>;

export interface RenderOptions {
  /** Extra input defaults (a render-time option in Dotprompt); front-matter defaults apply first. */
  input?: { default?: Record<string, unknown> };
}

/** A render failure with a message fit for the user (what failed and where). */
export class RenderError extends Error {}

/** Partial file content without front matter (Handlebars would otherwise print it). */
export function partialTemplate(text: string): string {
  const s = splitFrontMatter(text);
  return s.frontMatter !== undefined ? s.body.trim() : text;
}

/**
 * Finds partial `name` as `_name.prompt` beside the prompt or in the given folders (in order).
 * Returns the file path or undefined.
 */
export function findPartialFile(name: string, promptFile: string, folders: readonly string[] = []): string | undefined {
  if (!/^[A-Za-z0-9_./-]+$/.test(name) || name.includes("..")) return undefined;
  for (const dir of [path.dirname(promptFile), ...folders]) {
    const p = path.join(dir, `_${name}.prompt`);
    if (fs.existsSync(p)) return p;
    // Nested names (`{{> sub/part}}`) live in sub/_part.prompt.
    const slash = name.lastIndexOf("/");
    if (slash > 0) {
      const q = path.join(dir, name.slice(0, slash), `_${name.slice(slash + 1)}.prompt`);
      if (fs.existsSync(q)) return q;
    }
  }
  return undefined;
}

/** A resolver over the file system: `_name.prompt` beside the prompt or in the folders. */
export function filePartialResolver(promptFile: string, folders: readonly string[] = [], read: (file: string) => string | undefined = (f) => fs.readFileSync(f, "utf8")): PartialResolver {
  return (name) => {
    const f = findPartialFile(name, promptFile, folders);
    if (!f) return undefined;
    const t = read(f);
    return t === undefined ? undefined : partialTemplate(t);
  };
}

/** Renders a parsed prompt with Dotprompt. Throws RenderError with a clear message on failure. */
export async function renderPrompt(doc: PromptDoc, data: RenderData = {}, resolvePartial?: PartialResolver, options: RenderOptions = {}): Promise<RenderedPrompt> {
  const missing: string[] = [];
  const dp = new Dotprompt({
    partialResolver: async (name: string) => {
      const content = resolvePartial ? await resolvePartial(name) : undefined;
      if (content === undefined || content === null) {
        missing.push(name);
        return null;
      }
      return content;
    },
  });
  // Every Dotprompt shares one Handlebars (noConflict), whose partials would outlive this render and hide later edits of a partial.
  for (const hb of [(dp as unknown as { handlebars: { partials: Record<string, unknown>; unregisterPartial(n: string): void } }).handlebars]) for (const n of Object.keys(hb.partials)) hb.unregisterPartial(n);
  const fmInput = doc.frontMatter.input && typeof doc.frontMatter.input === "object" ? (doc.frontMatter.input as Record<string, unknown>) : undefined;
  const defaults = { ...(doc.input?.default ?? {}), ...(options.input?.default ?? {}) };
  const hasDefaults = Object.keys(defaults).length > 0;
  let result: RenderedPrompt;
  try {
    const out = await dp.render(doc.text, { ...data, input: data.input ?? {} } as never, hasDefaults ? ({ input: { default: defaults } } as never) : undefined);
    result = out as unknown as RenderedPrompt;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const partial = /The partial (.+) could not be found/.exec(msg);
    if (partial || missing.length) {
      const name = partial?.[1] ?? missing[0];
      throw new RenderError(`${doc.file}: partial '${name}' not found: create _${name}.prompt beside the prompt or in a folder listed under prompts.partials in driftlens.yaml`);
    }
    if (e instanceof RangeError) throw new RenderError(`${doc.file}: rendering recursed too deeply (a partial that includes itself?): ${msg}`);
    throw new RenderError(`${doc.file}: cannot render: ${msg.split("\n")[0]}`);
  }
  if (fmInput || hasDefaults) {
    const input: RenderedPrompt["input"] = { ...(fmInput ?? {}) };
    if (fmInput?.schema !== undefined) {
      const c = compilePicoschema(fmInput.schema);
      if (c.schema) input.schema = c.schema;
    }
    if (hasDefaults) input.default = defaults;
    result = { ...result, input };
  }
  return result;
}

// ---------- fast text rendering for token counting ----------
//
// The context-length check renders a prompt on every edit. Compiling a whole large template with
// Handlebars costs ~100 ms for a few hundred lines, so the check renders the template in segments
// of whole lines at block depth 0, each compiled once and cached by its text: an edit recompiles
// only the segment it touched. Segments join at line ends, where Handlebars' standalone-line rules
// do not cross, so the text is the same as a whole render; templates with `~` whitespace control
// or partials (which can reach across segments) use the full Dotprompt render instead.

interface HbsEnv {
  compile(src: string, opts: Record<string, unknown>): (ctx: unknown, opts: unknown) => string;
}

let segmentEnv: { hb: HbsEnv; knownHelpers: Record<string, boolean> } | undefined;
const segmentCache = new Map<string, (ctx: unknown, opts: unknown) => string>();
/** Rendered text per segment, per sample data (JSON): see renderTextForCount. */
const segmentOutputs = new Map<string, Map<string, string>>();
const SEGMENT_CACHE_MAX = 4096;

function env(): { hb: HbsEnv; knownHelpers: Record<string, boolean> } | undefined {
  if (!segmentEnv) {
    // Dotprompt's own Handlebars environment, so its helpers behave exactly as in render().
    const dp = new Dotprompt() as unknown as { handlebars?: HbsEnv; knownHelpers?: Record<string, boolean> };
    if (!dp.handlebars || typeof dp.handlebars.compile !== "function" || !dp.knownHelpers) return undefined;
    segmentEnv = { hb: dp.handlebars, knownHelpers: dp.knownHelpers };
  }
  return segmentEnv;
}

/**
 * The rendered text of a prompt (all message text joined, Dotprompt's markers removed), for
 * counting tokens. Same text as renderPrompt gives; cheap to repeat after small edits.
 */
export async function renderTextForCount(doc: PromptDoc, input: Record<string, unknown>, resolvePartial?: PartialResolver): Promise<string> {
  const e = env();
  const segments = doc.template.includes("~") || doc.partials.length > 0 || !e ? undefined : templateSegments(doc.template);
  if (!segments || !e) {
    const r = await renderPrompt(doc, { input }, resolvePartial);
    return r.messages.map((m) => m.content.map((p) => (typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text : "")).join("")).join("\n");
  }
  const data = { ...(doc.input?.default ?? {}), ...input };
  const options = { data: { metadata: { prompt: {}, docs: undefined, messages: undefined } } };
  // A segment's text depends only on its source and the data (helpers are pure, partials are
  // excluded above), so unchanged segments reuse their text: an edit renders one segment.
  const dataKey = JSON.stringify(data);
  let outputs = segmentOutputs.get(dataKey);
  if (!outputs) {
    outputs = new Map();
    segmentOutputs.set(dataKey, outputs);
    if (segmentOutputs.size > 8) segmentOutputs.delete(segmentOutputs.keys().next().value as string);
  }
  let text = "";
  try {
    for (let s = 0; s < segments.length; s++) {
      const seg = segments[s]!;
      // Text without a mustache renders as itself: nothing to compile or cache (most prose lines).
      if (!seg.includes("{{")) {
        text += seg;
        continue;
      }
      const done = outputs.get(seg);
      if (done !== undefined) {
        text += done;
        continue;
      }
      // Cached under a detached copy (see detach): the compiled template keeps its source.
      const key = detach(seg);
      let fn = segmentCache.get(key);
      if (!fn) {
        fn = e.hb.compile(key, { knownHelpers: e.knownHelpers, knownHelpersOnly: true, noEscape: true });
        if (segmentCache.size >= SEGMENT_CACHE_MAX) segmentCache.delete(segmentCache.keys().next().value as string);
        segmentCache.set(key, fn);
      }
      const out = fn(data, options);
      if (outputs.size >= SEGMENT_CACHE_MAX) outputs.delete(outputs.keys().next().value as string);
      outputs.set(key, out);
      text += out;
    }
  } catch (err) {
    throw new RenderError(`${doc.file}: cannot render: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]}`);
  }
  return markersToText(text);
}

/**
 * What the messages' text parts joined with newlines would be, from a rendered string with
 * Dotprompt's markers (its toMessages: split at role/history markers, drop blank pieces, then
 * media/section markers).
 */
function markersToText(rendered: string): string {
  const messages: string[] = [];
  for (const piece of rendered.split(/(<<<dotprompt:(?:role:[a-z]+|history)>>>)/)) {
    if (piece.trim() === "" || piece.startsWith("<<<dotprompt:")) continue;
    messages.push(
      piece
        .split(/(<<<dotprompt:(?:media:url|section).*?)>>>/)
        .filter((p) => p.trim() !== "" && !p.startsWith("<<<dotprompt:"))
        .join(""),
    );
  }
  return messages.join("\n");
}

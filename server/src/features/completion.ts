// Completion: input variables, helpers and partials inside `{{ }}` of a .prompt body; model
// variants, keys and eval set paths in front matter; assertion types, tags, prompt paths and
// input names in eval sets; variants and paths in adapter configs; keys in driftlens.yaml.
import path from "node:path";
import {
  CompletionItemKind,
  InsertTextFormat,
  MarkupKind,
  type CompletionItem,
  type CompletionList,
  type CompletionParams,
  type Position,
  type Range,
} from "vscode-languageserver/node";
import { ASSERTION_TYPES } from "../artifacts/evalset";
import { originLabel } from "../artifacts/model-stores/stores";
import { ADAPTER_KEYS, CASE_KEYS, CONFIG_KEYS, ENGINE_KEYS, EVAL_KEYS, FAMILY_KEYS, GATE_KEYS, MODEL_STORES_KEYS, REMOTE_VARIANT_KEYS } from "../artifacts/schemas";
import type { PromptDoc } from "../artifacts/prompt";
import { guarded, type FeatureContext } from "./support/context";
import { assertionDoc, HELPER_DOCS, PROMPT_FRONT_MATTER_KEYS } from "./support/docs";
import { findFiles, listPartials } from "./support/files";
import { KLD_KEY_DOCS } from "./support/kld-docs";
import { lastGoodPrompt, rememberPrompt } from "./support/last-good";
import { storeCompletion } from "./support/model-stores";
import { lineText, mustacheAt, promptLayout, relPath, target, type Target } from "./support/target";
import { yamlCursor, type YamlCursor } from "./support/yaml-context";

const EMPTY: CompletionList = { isIncomplete: false, items: [] };

export function register(ctx: FeatureContext): void {
  ctx.connection.onCompletion(
    guarded(ctx.log, "completion", EMPTY, async (p: CompletionParams): Promise<CompletionList> => {
      const t = target(ctx, p.textDocument.uri);
      if (!t) return EMPTY;
      const items = await complete(t, p.position);
      return { isIncomplete: false, items };
    }),
  );
}

async function complete(t: Target, pos: Position): Promise<CompletionItem[]> {
  switch (t.kind) {
    case "prompt":
      return completePrompt(t, pos);
    case "evalset":
      return t.file.endsWith(".jsonl") ? completeJsonl(t, pos) : completeEvalYaml(t, pos);
    case "adapter":
      return completeAdapter(t, pos);
    case "config":
      return completeConfig(t, pos);
    default:
      return [];
  }
}

// ---------- .prompt ----------

async function promptDoc(t: Target): Promise<PromptDoc | undefined> {
  try {
    const doc = await t.ws.prompt(t.file);
    rememberPrompt(t.file, doc);
    return doc.inputs.length || doc.input?.jsonSchema ? doc : (lastGoodPrompt(t.file) ?? doc);
  } catch {
    return lastGoodPrompt(t.file);
  }
}

async function completePrompt(t: Target, pos: Position): Promise<CompletionItem[]> {
  const layout = promptLayout(t.text);
  const fm = layout.frontMatter;
  if (fm && pos.line >= fm.startLine && pos.line <= fm.endLine) return completeFrontMatter(t, pos, fm.text, fm.startLine);
  const offset = t.doc.offsetAt(pos);
  if (offset < layout.bodyStartOffset) return [];
  const m = mustacheAt(t.text, offset);
  if (!m) return [];
  return completeMustache(t, pos, m.inner);
}

function replaceRange(pos: Position, prefixLen: number): Range {
  return { start: { line: pos.line, character: pos.character - prefixLen }, end: pos };
}

async function completeMustache(t: Target, pos: Position, inner: string): Promise<CompletionItem[]> {
  const s = inner.replace(/^~/, "");
  const doc = await promptDoc(t);
  // {{> partial}}
  const partial = /^>\s*([A-Za-z0-9_./-]*)$/.exec(s);
  if (partial) {
    const prefix = partial[1]!;
    const cfg = await safe(() => t.ws.config());
    const folders = [path.dirname(t.file), ...(cfg?.config.prompts.partials ?? [])];
    return listPartials(folders).map((p) => ({
      label: p.name,
      kind: CompletionItemKind.File,
      detail: relPath(t.file, p.file),
      textEdit: { range: replaceRange(pos, prefix.length), newText: p.name },
    }));
  }
  // {{@root.x}} / @index …
  const data = /(?:^|[\s(])@([A-Za-z0-9_.]*)$/.exec(s);
  if (data) {
    const prefix = data[1]!;
    if (prefix.startsWith("root.")) return inputItems(doc, pos, prefix.slice(5));
    return ["root", "index", "key", "first", "last"].map((n) => ({
      label: `@${n}`,
      kind: CompletionItemKind.Keyword,
      filterText: n,
      textEdit: { range: replaceRange(pos, prefix.length), newText: n },
    }));
  }
  // Opening a block: {{#name  / closing {{/name
  const block = /^([#/^])\s*([A-Za-z0-9_]*)$/.exec(s);
  if (block) {
    const prefix = block[2]!;
    const names = block[1] === "/" ? openBlocks(t.text, t.doc.offsetAt(pos)) : Object.keys(HELPER_DOCS).filter((h) => HELPER_DOCS[h]!.block);
    return names.map((h, i) => ({
      label: h,
      kind: CompletionItemKind.Function,
      detail: HELPER_DOCS[h]?.signature,
      documentation: HELPER_DOCS[h] ? { kind: MarkupKind.Markdown, value: HELPER_DOCS[h]!.doc } : undefined,
      sortText: String(i).padStart(3, "0"),
      textEdit: { range: replaceRange(pos, prefix.length), newText: h },
    }));
  }
  // The word being typed: the last path expression in the mustache.
  const word = /([A-Za-z0-9_.]*)$/.exec(s)![1]!;
  const before = s.slice(0, s.length - word.length).trim();
  const items: CompletionItem[] = [];
  if (word.includes(".")) return nestedItems(doc, pos, word);
  items.push(...inputItems(doc, pos, word));
  // Helpers only in head position ({{ help…) or as a sub-expression head ((help…)
  if (before === "" || before.endsWith("(")) {
    for (const [name, d] of Object.entries(HELPER_DOCS)) {
      if (d.block) continue;
      items.push({
        label: name,
        kind: CompletionItemKind.Function,
        detail: d.signature,
        documentation: { kind: MarkupKind.Markdown, value: d.doc },
        sortText: `1${name}`,
        textEdit: { range: replaceRange(pos, word.length), newText: name },
      });
    }
  }
  return items;
}

function inputItems(doc: PromptDoc | undefined, pos: Position, prefix: string): CompletionItem[] {
  if (!doc) return [];
  const props = (doc.input?.jsonSchema?.properties ?? {}) as Record<string, Record<string, unknown>>;
  return doc.inputs.map((i) => {
    const schema = props[i.name];
    return {
      label: i.name,
      kind: CompletionItemKind.Variable,
      detail: `input${i.optional ? " (optional)" : ""}${schema?.type ? `: ${String(schema.type)}` : ""}`,
      documentation: typeof schema?.description === "string" ? schema.description : undefined,
      sortText: `0${i.name}`,
      textEdit: { range: replaceRange(pos, prefix.length), newText: i.name },
    };
  });
}

/** `user.na|` → properties of the `user` input's object schema. */
function nestedItems(doc: PromptDoc | undefined, pos: Position, word: string): CompletionItem[] {
  if (!doc?.input?.jsonSchema) return [];
  const parts = word.split(".");
  const last = parts.pop()!;
  let schema: Record<string, unknown> | undefined = doc.input.jsonSchema as Record<string, unknown>;
  for (const p of parts) {
    const props = schema?.properties as Record<string, Record<string, unknown>> | undefined;
    schema = props?.[p];
    if (schema?.type === "array" && schema.items && typeof schema.items === "object") schema = schema.items as Record<string, unknown>;
  }
  const props = (schema?.properties ?? {}) as Record<string, Record<string, unknown>>;
  return Object.entries(props).map(([name, s]) => ({
    label: name,
    kind: CompletionItemKind.Field,
    detail: s.type ? String(s.type) : undefined,
    documentation: typeof s.description === "string" ? s.description : undefined,
    textEdit: { range: replaceRange(pos, last.length), newText: name },
  }));
}

/** Names of blocks opened and not yet closed before `offset`, innermost first. */
function openBlocks(text: string, offset: number): string[] {
  const stack: string[] = [];
  const re = /\{\{~?\s*([#/])\s*([A-Za-z0-9_]+)/g;
  const upTo = text.slice(0, offset);
  for (let m = re.exec(upTo); m; m = re.exec(upTo)) {
    if (m[1] === "#") stack.push(m[2]!);
    else {
      const i = stack.lastIndexOf(m[2]!);
      if (i >= 0) stack.splice(i, 1);
    }
  }
  return [...new Set(stack.reverse())];
}

async function completeFrontMatter(t: Target, pos: Position, fmText: string, startLine: number): Promise<CompletionItem[]> {
  const c = yamlCursor(fmText, pos, startLine);
  const parent = parentPath(c);
  if (c.inValue && (c.key === "model" || c.key === "driftlens.variant") && c.path.length === 1) return variantItems(t, c);
  if ((c.inListItem || c.inValue) && parent[0] === "driftlens.evals") return fileItems(t, c, (n) => /\.eval\.(ya?ml|jsonl)$/.test(n));
  if (c.inValue && c.key === "format" && parent[0] === "output") return valueItems(c, ["text", "json"]);
  if (c.inValue && parent.length >= 2 && (parent[0] === "input" || parent[0] === "output") && parent[1] === "schema") {
    return valueItems(c, ["string", "number", "integer", "boolean", "object", "array", "any"]);
  }
  if (!c.inValue && !c.inListItem) {
    if (parent.length === 0) return keyItems(c, pos, Object.keys(PROMPT_FRONT_MATTER_KEYS), (k) => PROMPT_FRONT_MATTER_KEYS[k]);
    if (parent.length === 1 && parent[0] === "config") return keyItems(c, pos, ["temperature", "maxOutputTokens", "topK", "topP", "stopSequences"]);
    if (parent.length === 1 && parent[0] === "input") return keyItems(c, pos, ["schema", "default"]);
    if (parent.length === 1 && parent[0] === "output") return keyItems(c, pos, ["format", "schema"]);
  }
  return [];
}

// ---------- eval sets ----------

async function completeEvalYaml(t: Target, pos: Position): Promise<CompletionItem[]> {
  const c = yamlCursor(t.text, pos);
  const parent = parentPath(c);
  const last = c.path[c.path.length - 1];
  if (c.inValue && last === "type" && parent[parent.length - 1] === "assert") return assertionItems(c);
  if (c.inValue && last === "type" && parent[parent.length - 1] === "defaultAssert") return assertionItems(c);
  if ((c.inListItem || c.inValue) && (last === "tags" || parent[parent.length - 1] === "tags")) return tagItems(t, c);
  if (c.inValue && c.path.length === 1 && c.key === "prompt") return fileItems(t, c, (n) => n.endsWith(".prompt") && !n.startsWith("_"));
  // The judge of model-graded assertions: the eval set's or an assertion's `grader`.
  if (c.inValue && c.key === "grader") return variantItems(t, c);
  if (!c.inValue && !c.inListItem) {
    if (parent.length === 0) return keyItems(c, pos, [...EVAL_KEYS]);
    if (parent.length === 1 && parent[0] === "cases") return keyItems(c, pos, [...CASE_KEYS]);
    if (parent.length === 2 && parent[0] === "cases" && parent[1] === "vars") return varKeyItems(t, c, pos);
    if (parent[parent.length - 1] === "assert" || parent[parent.length - 1] === "defaultAssert") return keyItems(c, pos, ["type", "value", "threshold", "weight", "metric", "grader"]);
    if (parent.length === 2 && parent[0] === "slices") return keyItems(c, pos, ["tags", "description"]);
  }
  return [];
}

async function completeJsonl(t: Target, pos: Position): Promise<CompletionItem[]> {
  const line = lineText(t.text, pos.line).slice(0, pos.character);
  const type = /"type"\s*:\s*"([A-Za-z-]*)$/.exec(line);
  if (type) {
    const prefix = type[1]!;
    return allAssertionTypes().map((a) => ({ ...assertionItem(a), textEdit: { range: replaceRange(pos, prefix.length), newText: a } }));
  }
  const tag = /"tags"\s*:\s*\[[^\]]*"([^"]*)$/.exec(line);
  if (tag) {
    const prefix = tag[1]!;
    const tags = await knownTags(t);
    return tags.map((name) => ({ label: name, kind: CompletionItemKind.EnumMember, textEdit: { range: replaceRange(pos, prefix.length), newText: name } }));
  }
  const varKey = /"vars"\s*:\s*\{[^}]*[{,]\s*"([A-Za-z0-9_]*)$/.exec(line);
  if (varKey) {
    const prefix = varKey[1]!;
    const doc = await promptForEvalSet(t);
    return (doc?.inputs ?? []).map((i) => ({ label: i.name, kind: CompletionItemKind.Variable, textEdit: { range: replaceRange(pos, prefix.length), newText: i.name } }));
  }
  return [];
}

function allAssertionTypes(): string[] {
  return [...ASSERTION_TYPES, ...ASSERTION_TYPES.map((a) => `not-${a}`)];
}

function assertionItem(a: string): CompletionItem {
  const d = assertionDoc(a);
  return {
    label: a,
    kind: CompletionItemKind.EnumMember,
    documentation: d ? { kind: MarkupKind.Markdown, value: d } : undefined,
    sortText: a.startsWith("not-") ? `1${a}` : `0${a}`,
  };
}

function assertionItems(c: YamlCursor): CompletionItem[] {
  return allAssertionTypes().map((a) => ({ ...assertionItem(a), textEdit: valueEdit(c, a) }));
}

/**
 * Tags used anywhere in the eval set, read from the text with a pattern rather than a full parse:
 * completion must stay instant on a 5,000-case file whose parse costs tens of milliseconds.
 */
async function knownTags(t: Target): Promise<string[]> {
  const set = new Set<string>();
  const add = (raw: string) => {
    const v = raw.trim().replace(/^["']|["']$/g, "");
    if (v && !/[[\]{}:,]/.test(v)) set.add(v);
  };
  const text = t.text;
  // Flow lists: `tags: [a, b]` (YAML) or `"tags": ["a", "b"]` (JSONL); also slice tag lists.
  for (const m of text.matchAll(/"?tags"?\s*:\s*\[([^\]\n]*)\]/g)) for (const part of m[1]!.split(",")) add(part);
  // Block lists: `tags:` followed by `- a` lines.
  for (const m of text.matchAll(/^([ \t]*)tags:[ \t]*\n((?:\1[ \t]*-[^\n]*\n?)+)/gm)) {
    for (const line of m[2]!.split("\n")) {
      const item = /^\s*-\s*(.*)$/.exec(line);
      if (item) add(item[1]!.replace(/\s+#.*$/, ""));
    }
  }
  // The tag being typed under the cursor is not a known tag yet.
  return [...set].sort();
}

async function tagItems(t: Target, c: YamlCursor): Promise<CompletionItem[]> {
  const tags = await knownTags(t);
  return tags.map((name) => ({ label: name, kind: CompletionItemKind.EnumMember, detail: "tag (slice)", textEdit: valueEdit(c, name) }));
}

async function promptForEvalSet(t: Target): Promise<PromptDoc | undefined> {
  const promptFile = await safe(() => t.ws.promptFor(t.file));
  if (!promptFile) return undefined;
  return safe(() => t.ws.prompt(promptFile));
}

async function varKeyItems(t: Target, c: YamlCursor, pos: Position): Promise<CompletionItem[]> {
  const doc = await promptForEvalSet(t);
  if (!doc) return [];
  const props = (doc.input?.jsonSchema?.properties ?? {}) as Record<string, Record<string, unknown>>;
  return doc.inputs.map((i) => ({
    label: i.name,
    kind: CompletionItemKind.Variable,
    detail: `${i.optional ? "optional" : "required"}${props[i.name]?.type ? `: ${String(props[i.name]!.type)}` : ""}`,
    textEdit: keyEdit(c, pos, `${i.name}: `),
    filterText: i.name,
  }));
}

// ---------- adapters and driftlens.yaml ----------

async function completeAdapter(t: Target, pos: Position): Promise<CompletionItem[]> {
  const c = yamlCursor(t.text, pos);
  const parent = parentPath(c);
  if (c.inValue && c.path.join(".") === "base.model") return variantItems(t, c);
  if ((c.inValue || c.inListItem) && (c.path.join(".") === "compose.adapter")) return fileItems(t, c, (n) => /\.adapter\.ya?ml$/.test(n) && path.join(path.dirname(t.file), n) !== t.file);
  if ((c.inValue || c.inListItem) && parent[0] === "evals") return fileItems(t, c, (n) => /\.eval\.(ya?ml|jsonl)$/.test(n));
  if (c.inValue && c.path.join(".") === "file") return fileItems(t, c, (n) => n.endsWith(".gguf"));
  if (!c.inValue && !c.inListItem) {
    if (parent.length === 0) return keyItems(c, pos, [...ADAPTER_KEYS]);
    if (parent.length === 1 && parent[0] === "base") return keyItems(c, pos, ["model", "sha256"]);
    if (parent.length === 1 && parent[0] === "training") return keyItems(c, pos, ["dataset", "datasetSha256", "recipe", "commit", "hyperparameters"]);
    if (parent.length === 1 && parent[0] === "compose") return keyItems(c, pos, ["adapter", "scale"]);
  }
  return [];
}

async function completeConfig(t: Target, pos: Position): Promise<CompletionItem[]> {
  const c = yamlCursor(t.text, pos);
  const parent = parentPath(c);
  if (c.inValue && c.path.length === 3 && c.path[0] === "models" && c.key === "reference") {
    const cfg = await safe(() => t.ws.config());
    const fam = cfg?.config.models[c.path[1]!];
    return valueItems(c, Object.keys(fam?.variants ?? {}));
  }
  if (c.inValue && c.path.join(".") === "engine.gpu") return valueItems(c, ["auto", "cpu", "cuda", "vulkan", "metal"]);
  // A served variant's mapping (endpoints, model, apiKeyEnv, …).
  if (c.inValue && c.path.length === 5 && c.path[0] === "models" && c.path[2] === "variants" && c.key === "template") return valueItems(c, ["auto", "chat", "completion"]);
  // Models in stores (Ollama names, cached Hugging Face repos, LM Studio models) next to .gguf paths.
  const stored = await safe(() => storeCompletion(t, c, pos));
  if (c.inValue && c.path.length === 4 && c.path[0] === "models" && c.path[2] === "variants") return [...fileItems(t, c, (n) => n.endsWith(".gguf")), ...(stored ?? [])];
  if (stored) return stored;
  if (!c.inValue && !c.inListItem) {
    if (parent.length === 0) return keyItems(c, pos, [...CONFIG_KEYS]);
    if (parent.length === 2 && parent[0] === "models") return keyItems(c, pos, [...FAMILY_KEYS], (k) => KLD_KEY_DOCS[k]);
    if (parent.length === 3 && parent[0] === "models" && parent[2] === "corpus") return keyItems(c, pos, ["text", "ctx", "chunks"], (k) => KLD_KEY_DOCS[k]);
    if (parent.length === 1 && parent[0] === "engine") return keyItems(c, pos, [...ENGINE_KEYS]);
    if (parent.length === 1 && parent[0] === "gate") return keyItems(c, pos, [...GATE_KEYS], (k) => (k === "maxKld" ? KLD_KEY_DOCS.maxKld : undefined));
    if (parent.length === 1 && parent[0] === "prompts") return keyItems(c, pos, ["partials"]);
    if (parent.length === 1 && parent[0] === "modelStores") return keyItems(c, pos, [...MODEL_STORES_KEYS]);
    if (parent.length === 4 && parent[0] === "models" && parent[2] === "variants") return keyItems(c, pos, [...new Set(["path", "ollama", "hf", "lmstudio", "file", "revision", "contextSize", ...REMOTE_VARIANT_KEYS])]);
  }
  return [];
}

// ---------- shared ----------

/** The mapping the cursor's key belongs to (for key completion) or whose value it is in. */
function parentPath(c: YamlCursor): string[] {
  return c.key !== undefined ? c.path.slice(0, -1) : c.path;
}

function valueEdit(c: YamlCursor, newText: string) {
  const r = c.valueRange ?? (c.keyRange ? { start: c.keyRange.end, end: c.keyRange.end } : undefined);
  if (!r) return undefined;
  // Replace from the value's start up to its end, so typing in the middle replaces the word.
  return { range: r, newText };
}

function keyEdit(c: YamlCursor, pos: Position, newText: string) {
  if (c.keyRange) return { range: c.keyRange, newText: newText.replace(/: $/, "") };
  const r = c.valueRange ?? { start: { line: pos.line, character: pos.character - wordBefore(c) }, end: pos };
  return { range: r, newText };
}

function wordBefore(c: YamlCursor): number {
  return c.valuePrefix.length;
}

function keyItems(c: YamlCursor, pos: Position, keys: readonly string[], doc?: (k: string) => string | undefined): CompletionItem[] {
  return keys.map((k) => {
    const d = doc?.(k);
    return {
      label: k,
      kind: CompletionItemKind.Property,
      documentation: d ? { kind: MarkupKind.Markdown, value: d } : undefined,
      textEdit: keyEdit(c, pos, `${k}: `),
      insertTextFormat: InsertTextFormat.PlainText,
    };
  });
}

function valueItems(c: YamlCursor, values: readonly string[]): CompletionItem[] {
  return values.map((v) => ({ label: v, kind: CompletionItemKind.Value, textEdit: valueEdit(c, v) }));
}

async function variantItems(t: Target, c: YamlCursor): Promise<CompletionItem[]> {
  const variants = (await safe(() => t.ws.variants())) ?? [];
  return variants.map((v) => ({
    label: v.id,
    kind: CompletionItemKind.Reference,
    detail: `${v.remote ? "served" : (v.quant ?? "")}${v.isReference ? " (reference)" : ""}`.trim() || undefined,
    documentation: v.remote ? v.remote.endpoints.join(", ") : v.origin ? originLabel(v.origin) : v.modelPath ? relPath(t.file, v.modelPath) : undefined,
    sortText: `${v.isReference ? "0" : "1"}${v.id}`,
    textEdit: valueEdit(c, v.id),
  }));
}

function fileItems(t: Target, c: YamlCursor, match: (name: string) => boolean): CompletionItem[] {
  const files = findFiles(t.entry.root, match, 300);
  return files
    .filter((f) => f !== t.file)
    .map((f) => {
      const rel = relPath(t.file, f);
      return { label: rel, kind: CompletionItemKind.File, textEdit: valueEdit(c, rel) };
    });
}

async function safe<T>(fn: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch {
    return undefined;
  }
}

// Hover: an input variable's schema, a helper's signature, a partial's file; model variant facts
// read from the GGUF header (architecture, quant, parameters, context length, tokenizer, chat
// template) on model refs in prompts, adapters and driftlens.yaml; assertion docs in eval sets.
import path from "node:path";
import { MarkupKind, type Hover, type HoverParams, type Position } from "vscode-languageserver/node";
import type { PromptDoc } from "../artifacts/prompt";
import type { ServerWorkspace } from "./support/artifact-bridge";
import { guarded, type FeatureContext } from "./support/context";
import { assertionDoc, HELPER_DOCS, PROMPT_FRONT_MATTER_KEYS } from "./support/docs";
import { ggufInfo, ggufMarkdown } from "./support/gguf-info";
import { corpusHoverMarkdown, maxKldHoverMarkdown } from "./support/kld-docs";
import { sourceMarkdown, storeHover } from "./support/model-stores";
import { remoteMarkdown } from "./support/remote-info";
import { inRange, lineText, promptLayout, relPath, target, type Target } from "./support/target";
import { tokenAt, yamlCursor } from "./support/yaml-context";

export function register(ctx: FeatureContext): void {
  ctx.connection.onHover(
    guarded(ctx.log, "hover", null, async (p: HoverParams): Promise<Hover | null> => {
      const t = target(ctx, p.textDocument.uri);
      if (!t) return null;
      const value = await hover(t, p.position);
      return value ? { contents: { kind: MarkupKind.Markdown, value: value.md }, ...(value.range ? { range: value.range } : {}) } : null;
    }),
  );
}

type HoverText = { md: string; range?: { start: Position; end: Position } };

async function hover(t: Target, pos: Position): Promise<HoverText | undefined> {
  switch (t.kind) {
    case "prompt":
      return hoverPrompt(t, pos);
    case "evalset":
      return hoverEvalSet(t, pos);
    case "adapter":
      return hoverAdapter(t, pos);
    case "config":
      return hoverConfig(t, pos);
    default:
      return undefined;
  }
}

/** Markdown for a variant ref; a served variant's shows what its endpoints report (asked only when trusted). */
export async function variantHover(ws: ServerWorkspace, ref: string, fromFile: string): Promise<string> {
  let v;
  try {
    v = ws.resolveVariant(ref);
  } catch {
    return variantMarkdown(ws, ref, fromFile);
  }
  return v.remote ? remoteMarkdown(v, await ws.remoteStatus(ref)) : variantMarkdown(ws, ref, fromFile);
}

/** Markdown for a variant ref: resolved files and the base model's GGUF facts. */
export function variantMarkdown(ws: ServerWorkspace, ref: string, fromFile: string): string {
  let v;
  try {
    v = ws.resolveVariant(ref);
  } catch (e) {
    return `**${ref}**\n\n${e instanceof Error ? e.message : String(e)}`;
  }
  const title = `${v.id}${v.isReference ? " (reference)" : ` (reference: ${v.referenceId})`}`;
  const parts = [ggufMarkdown(ggufInfo(v.modelPath), title, path.dirname(fromFile))];
  const source = sourceMarkdown(ws, v, fromFile);
  if (source) parts.push(source);
  for (const a of v.adapters) {
    const info = ggufInfo(a.path);
    const f = info.ok ? info.facts : undefined;
    parts.push(
      `+ adapter **${a.name}** @ ${a.scale}: \`${relPath(fromFile, a.path)}\`${f ? ` (${f.isLora ? "LoRA" : "not a LoRA"}${f.architecture ? `, ${f.architecture}` : ""}${f.loraAlpha !== undefined ? `, alpha ${f.loraAlpha}` : ""})` : info.ok ? "" : `: ${info.error}`}`,
    );
  }
  return parts.join("\n\n");
}

function schemaMarkdown(doc: PromptDoc, name: string): string {
  const input = doc.inputs.find((i) => i.name === name);
  const props = (doc.input?.jsonSchema?.properties ?? {}) as Record<string, unknown>;
  const schema = props[name];
  if (!input) {
    return doc.input?.jsonSchema ? `**${name}** is not declared in the input schema` : `**${name}**: this prompt has no input schema`;
  }
  const s = (schema ?? {}) as Record<string, unknown>;
  const lines = [`**${name}**: ${typeLabel(s)}${input.optional ? " (optional)" : " (required)"}`];
  if (typeof s.description === "string") lines.push(s.description);
  const def = doc.input?.default?.[name];
  if (def !== undefined) lines.push(`default: \`${JSON.stringify(def)}\``);
  if (schema && typeof schema === "object" && (s.type === "object" || s.type === "array" || s.enum)) lines.push("```json\n" + JSON.stringify(schema, null, 2) + "\n```");
  return lines.join("\n\n");
}

function typeLabel(s: Record<string, unknown>): string {
  if (Array.isArray(s.enum)) return s.enum.map((e) => JSON.stringify(e)).join(" | ");
  if (Array.isArray(s.type)) return s.type.join(" | ");
  if (s.type === "array" && s.items && typeof s.items === "object") return `array of ${typeLabel(s.items as Record<string, unknown>)}`;
  return typeof s.type === "string" ? s.type : "any";
}

async function hoverPrompt(t: Target, pos: Position): Promise<HoverText | undefined> {
  const doc = t.ws.prompt(t.file);
  // Model refs in front matter.
  if (doc.model && doc.modelRange && inRange(pos, doc.modelRange)) return { md: await variantHover(t.ws, doc.model, t.file), range: doc.modelRange };
  if (doc.variant && inRange(pos, doc.variant.range)) return { md: await variantHover(t.ws, doc.variant.ref, t.file), range: doc.variant.range };
  for (const i of doc.inputs) if (inRange(pos, i.range)) return { md: schemaMarkdown(doc, i.name), range: i.range };
  for (const e of doc.evals) {
    if (inRange(pos, e.range)) return { md: `eval set \`${relPath(t.file, e.path)}\`${t.ws.exists(e.path) ? "" : " (does not exist)"}`, range: e.range };
  }
  // Body references.
  for (const v of doc.variables) if (inRange(pos, v.range)) return { md: schemaMarkdown(doc, v.name), range: v.range };
  for (const h of doc.helpers) {
    if (inRange(pos, h.range)) {
      const d = HELPER_DOCS[h.name];
      return { md: d ? `\`${d.signature}\`\n\n${d.doc}` : `unknown helper **${h.name}**`, range: h.range };
    }
  }
  for (const p of doc.partials) {
    if (inRange(pos, p.range)) {
      const f = t.ws.partialFile(p.name, t.file);
      return { md: f ? `partial **${p.name}**: \`${relPath(t.file, f)}\`` : `partial **${p.name}** not found (\`_${p.name}.prompt\`)`, range: p.range };
    }
  }
  // Front matter keys.
  const layout = promptLayout(t.text);
  if (layout.frontMatter && pos.line >= layout.frontMatter.startLine && pos.line <= layout.frontMatter.endLine) {
    const c = yamlCursor(layout.frontMatter.text, pos, layout.frontMatter.startLine);
    if (!c.inValue && c.key && c.path.length === 1 && c.keyRange && PROMPT_FRONT_MATTER_KEYS[c.key]) return { md: PROMPT_FRONT_MATTER_KEYS[c.key]!, range: c.keyRange };
  }
  return undefined;
}

async function hoverEvalSet(t: Target, pos: Position): Promise<HoverText | undefined> {
  if (t.file.endsWith(".jsonl")) {
    const line = lineText(t.text, pos.line);
    const tok = tokenAt(line, pos.character, /[A-Za-z0-9-]/);
    const m = /"type"\s*:\s*"$/.test(line.slice(0, tok.start));
    if (m) {
      const d = assertionDoc(tok.text);
      if (d) return { md: `**${tok.text}**: ${d}`, range: { start: { line: pos.line, character: tok.start }, end: { line: pos.line, character: tok.end } } };
    }
    return undefined;
  }
  const c = yamlCursor(t.text, pos);
  const last = c.path[c.path.length - 1];
  if (c.inValue && last === "type" && c.value !== undefined) {
    const d = assertionDoc(c.value);
    return { md: d ? `**${c.value}**: ${d}` : `unknown assertion type **${c.value}**`, range: c.valueRange };
  }
  if (c.key && c.keyRange && c.path.length === 3 && c.path[0] === "cases" && c.path[1] === "vars" && !c.inValue) {
    const promptFile = t.ws.promptFor(t.file);
    if (!promptFile || !t.ws.exists(promptFile)) return undefined;
    return { md: schemaMarkdown(t.ws.prompt(promptFile), c.key), range: c.keyRange };
  }
  if (c.inValue && c.path.length === 1 && c.key === "prompt") {
    const promptFile = t.ws.promptFor(t.file);
    if (promptFile && t.ws.exists(promptFile)) {
      const doc = t.ws.prompt(promptFile);
      const inputs = doc.inputs.map((i) => `\`${i.name}${i.optional ? "?" : ""}\``).join(", ");
      return { md: `prompt \`${relPath(t.file, promptFile)}\`${doc.model ? `, model \`${doc.model}\`` : ""}\n\ninputs: ${inputs || "none"}`, range: c.valueRange };
    }
  }
  return undefined;
}

async function hoverAdapter(t: Target, pos: Position): Promise<HoverText | undefined> {
  const doc = t.ws.adapter(t.file);
  if (doc.base && inRange(pos, doc.base.modelRange)) {
    const ref = doc.base.model;
    const isPath = /\.gguf$/i.test(ref);
    const md = isPath ? ggufMarkdown(ggufInfo(path.resolve(path.dirname(t.file), ref)), `base ${ref}`, path.dirname(t.file)) : await variantHover(t.ws, ref, t.file);
    return { md, range: doc.base.modelRange };
  }
  if (doc.gguf && inRange(pos, doc.gguf.range)) return { md: ggufMarkdown(ggufInfo(doc.gguf.path), `adapter ${doc.name}`, path.dirname(t.file)), range: doc.gguf.range };
  return undefined;
}

async function hoverConfig(t: Target, pos: Position): Promise<HoverText | undefined> {
  const c = yamlCursor(t.text, pos);
  // models.<family>.variants.<name>: path (or, for a served variant, any of its keys)
  if ((c.path.length === 4 || (c.path.length >= 5 && c.path[4] === "endpoints")) && c.path[0] === "models" && c.path[2] === "variants") {
    const cfg = t.ws.config();
    const v = cfg.config.models[c.path[1]!]?.variants[c.path[3]!];
    if (v) return { md: await variantHover(t.ws, `${c.path[1]}/${c.path[3]}`, t.file), range: c.inValue ? c.valueRange : c.keyRange };
  }
  if (c.path.length === 3 && c.path[0] === "models" && c.key === "reference" && c.inValue && c.value) {
    return { md: await variantHover(t.ws, `${c.path[1]}/${c.value}`, t.file), range: c.valueRange };
  }
  // models.<family>.corpus (or its text/ctx/chunks) and gate.maxKld
  if (c.path.length >= 3 && c.path[0] === "models" && c.path[2] === "corpus") {
    const md = corpusHoverMarkdown(t.ws.config().config, c.path[1]!);
    if (md) return { md, range: c.inValue ? c.valueRange : c.keyRange };
  }
  if (c.path.join(".") === "gate.maxKld") return { md: maxKldHoverMarkdown(t.ws.config().config), range: c.inValue ? c.valueRange : c.keyRange };
  // Store refs: a variant's ollama:/hf:/lmstudio:/file: value, or a scan entry.
  return storeHover(t, c, (ref) => variantMarkdown(t.ws, ref, t.file));
}

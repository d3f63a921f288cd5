// Model stores in the editor: hover says where a variant's file came from (store, repo or model,
// revision or tag, file, blob) and what a store scan finds; completion in driftlens.yaml offers
// what the stores hold (Ollama names from the store's manifests, cached Hugging Face repos and
// their GGUF files, LM Studio models). Store names and paths are text from disk: escaped.
import path from "node:path";
import { CompletionItemKind, type CompletionItem, type Position } from "vscode-languageserver/node";
import { originLabel, originMarkdown } from "../../artifacts/model-stores/stores";
import { STORE_LABEL, type StoreRef } from "../../artifacts/model-stores/types";
import type { ResolvedVariant } from "../../artifacts/workspace";
import type { ServerWorkspace } from "./artifact-bridge";
import { ggufInfo } from "./gguf-info";
import type { Target } from "./target";
import type { YamlCursor } from "./yaml-context";

/** Markdown-safe text (names and paths come from disk). */
function md(s: string): string {
  return s.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`);
}

/** Where a resolved variant's file came from, for the variant hover. */
export function sourceMarkdown(ws: ServerWorkspace, v: ResolvedVariant, fromFile: string): string | undefined {
  const dir = path.dirname(fromFile);
  const origin = v.origin ?? ws.modelStores.originOfPath(v.modelPath, ws.config().config.modelStores);
  const parts: string[] = [];
  if (origin) parts.push(`**Source**  \n${originMarkdown(origin, dir)}`);
  if (v.also?.length) {
    const places = v.also.map((a) => (a.origin ? `\`${originLabel(a.origin).replace(/`/g, "'")}\`` : `\`${(path.relative(dir, a.path) || a.path).replace(/`/g, "'")}\``));
    parts.push(`Also found, the same bytes (listed once): ${places.join(", ")}`);
  }
  return parts.length ? parts.join("\n\n") : undefined;
}

type Scan = ReturnType<ServerWorkspace["config"]>["config"]["models"][string]["scan"][number];

/** The scan entry under the cursor: a `scan:` value, a block list item, or a flow list item (which the line reader sees as `hf: …`). */
function scanEntryAt(t: Target, c: YamlCursor): { fam: string; scan: Scan } | undefined {
  if (c.path[0] !== "models" || c.path[2] !== "scan" || !c.path[1]) return undefined;
  let text: string | undefined;
  if (c.path.length === 3 && (c.inValue || c.inListItem)) text = c.value;
  else if (c.path.length === 4 && c.key && ["hf", "lmstudio", "ollama"].includes(c.key) && c.inFlow) text = `${c.key}:${c.value ?? ""}`;
  if (!text) return undefined;
  const fam = t.ws.config().config.models[c.path[1]];
  const scan = fam?.scan.find((s) => s.declared.trim() === text!.trim());
  return scan ? { fam: c.path[1], scan } : undefined;
}

/** What a store scan finds: each file, the variant it became (or the one it duplicates), and problems. */
function scanMarkdown(ws: ServerWorkspace, famName: string, scan: Scan): string | undefined {
  const over = ws.config().config.modelStores;
  let ref: StoreRef | undefined = scan.store;
  let listing;
  if (ref) listing = ws.modelStores.listing(ref, over, true);
  else {
    const d = ws.modelStores.detectFolder(scan.path);
    if (!d) return undefined;
    ref = d.ref;
    listing = ws.modelStores.listing(d.ref, over, true, d.at);
  }
  const variants = ws.variants().filter((v) => v.family === famName);
  const lines = [`**scan ${md(scan.declared)}** (${STORE_LABEL[ref.kind]}: \`${ws.modelStores.location(ref.kind, over).path.replace(/`/g, "'")}\`)`];
  for (const f of listing.files) {
    const info = ggufInfo(f.path);
    const quant = info.ok ? info.facts.quant : undefined;
    const own = variants.find((v) => v.modelPath === f.path);
    const dupOf = own ? undefined : variants.find((v) => v.also?.some((a) => a.path === f.path));
    const what = own ? `variant **${md(own.id)}**` : dupOf ? `the same bytes as **${md(dupOf.id)}** (listed once)` : info.ok ? "not a variant" : `unreadable: ${md(info.error)}`;
    lines.push(`- \`${originLabel(f.origin).replace(/`/g, "'")}\`${quant ? ` (\`${quant.replace(/`/g, "'")}\`)` : ""}: ${what}`);
  }
  for (const p of listing.problems) lines.push(`- ${p.code}: ${md(p.message)}`);
  if (!listing.files.length && !listing.problems.length) lines.push("- no GGUF model file");
  return lines.join("\n");
}

/** Hover in driftlens.yaml on a store ref: a variant's `ollama:`/`hf:`/`lmstudio:`/`file:` value, or a scan entry. */
export function storeHover(t: Target, c: YamlCursor, variantMarkdown: (ref: string) => string): { md: string; range?: YamlCursor["valueRange"] } | undefined {
  if (c.path.length === 5 && c.path[0] === "models" && c.path[2] === "variants" && c.key && ["ollama", "hf", "lmstudio", "file", "revision", "path"].includes(c.key)) {
    const v = t.ws.config().config.models[c.path[1]!]?.variants[c.path[3]!];
    if (v) return { md: variantMarkdown(`${c.path[1]}/${c.path[3]}`), ...(c.inValue ? { range: c.valueRange } : { range: c.keyRange }) };
  }
  const s = scanEntryAt(t, c);
  if (s) {
    const m = scanMarkdown(t.ws, s.fam, s.scan);
    if (m) return { md: m, ...(c.valueRange ? { range: c.valueRange } : {}) };
  }
  return undefined;
}

function edit(c: YamlCursor, pos: Position, text: string, prefixLen?: number) {
  const range = prefixLen !== undefined ? { start: { line: pos.line, character: pos.character - prefixLen }, end: pos } : (c.valueRange ?? { start: pos, end: pos });
  return { range, newText: text };
}

function items(c: YamlCursor, pos: Position, values: string[], detail: string, kind: CompletionItemKind = CompletionItemKind.Value, prefixLen?: number): CompletionItem[] {
  return values.map((v, i) => ({ label: v, kind, detail, sortText: String(i).padStart(5, "0"), textEdit: edit(c, pos, v, prefixLen) }));
}

/** A variant's mapping as written (before validation). */
function rawVariant(t: Target, fam: string, variant: string): Record<string, unknown> | undefined {
  const v = (t.ws.config().source?.value as { models?: Record<string, { variants?: Record<string, unknown> }> } | undefined)?.models?.[fam]?.variants?.[variant];
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Store refs a scan can take: every cached repo, LM Studio model and Ollama model (without its tag). */
function scanRefs(ws: ServerWorkspace): { values: string[]; detail: Record<string, string> } {
  const over = ws.config().config.modelStores;
  const detail: Record<string, string> = {};
  const add = (v: string, d: string) => (detail[v] = d);
  for (const r of ws.modelStores.hfRepos(over)) add(`hf:${r}`, STORE_LABEL.huggingface);
  for (const m of ws.modelStores.lmstudioModels(over)) add(`lmstudio:${m}`, STORE_LABEL.lmstudio);
  for (const n of ws.modelStores.ollamaNames(over)) add(`ollama:${n.replace(/:[^:]*$/, "")}`, `${STORE_LABEL.ollama} (every tag)`);
  return { values: Object.keys(detail), detail };
}

/** Store refs one variant can take: Ollama name:tag, and each GGUF file of each repo or model folder. */
function variantRefs(ws: ServerWorkspace): { value: string; detail: string }[] {
  const over = ws.config().config.modelStores;
  const out: { value: string; detail: string }[] = [];
  for (const n of ws.modelStores.ollamaNames(over)) out.push({ value: `ollama:${n}`, detail: STORE_LABEL.ollama });
  for (const r of ws.modelStores.hfRepos(over).slice(0, 200)) for (const f of ws.modelStores.filesOf({ kind: "huggingface", repo: r }, over)) out.push({ value: `hf:${r}/${f}`, detail: STORE_LABEL.huggingface });
  for (const m of ws.modelStores.lmstudioModels(over).slice(0, 200)) for (const f of ws.modelStores.filesOf({ kind: "lmstudio", model: m }, over)) out.push({ value: `lmstudio:${m}/${f}`, detail: STORE_LABEL.lmstudio });
  return out;
}

/** Completion in driftlens.yaml for store refs; undefined when the cursor is not on one. */
export function storeCompletion(t: Target, c: YamlCursor, pos: Position): CompletionItem[] | undefined {
  const over = t.ws.config().config.modelStores;
  const stores = t.ws.modelStores;
  if (c.path[0] !== "models") return undefined;
  // A variant mapping's store keys.
  if (c.path.length === 5 && c.path[2] === "variants" && c.inValue) {
    if (c.key === "ollama") return items(c, pos, stores.ollamaNames(over), STORE_LABEL.ollama);
    if (c.key === "hf") return items(c, pos, stores.hfRepos(over), STORE_LABEL.huggingface);
    if (c.key === "lmstudio") return items(c, pos, stores.lmstudioModels(over), STORE_LABEL.lmstudio);
    if (c.key === "file") {
      // The file being typed is not valid yet, so the repo or folder comes from the raw mapping.
      const raw = rawVariant(t, c.path[1]!, c.path[3]!);
      const str = (k: string) => (typeof raw?.[k] === "string" ? (raw[k] as string).trim() : undefined);
      const hf = str("hf");
      const lms = str("lmstudio");
      const rev = str("revision");
      const ref: StoreRef | undefined = hf ? { kind: "huggingface", repo: hf, ...(rev ? { revision: rev } : {}) } : lms ? { kind: "lmstudio", model: lms } : undefined;
      return ref ? items(c, pos, stores.filesOf(ref, over), "GGUF file", CompletionItemKind.File) : [];
    }
  }
  // A variant's value written as a string: store refs next to the paths.
  if (c.path.length === 4 && c.path[2] === "variants" && c.inValue && !c.inFlow) {
    return variantRefs(t.ws).map((r, i) => ({ label: r.value, kind: CompletionItemKind.Reference, detail: r.detail, sortText: `1${String(i).padStart(5, "0")}`, textEdit: edit(c, pos, r.value) }));
  }
  // A scan entry (value, block list item, or flow list item seen as `hf: …`).
  if (c.path[2] === "scan" && (c.path.length === 3 ? c.inValue || c.inListItem : c.path.length === 4 && c.inFlow && ["hf", "lmstudio", "ollama"].includes(c.key ?? ""))) {
    const { values, detail } = scanRefs(t.ws);
    const prefixLen = c.path.length === 4 ? `${c.key}:${c.valuePrefix}`.length : undefined;
    return values.map((v, i) => ({ label: v, kind: CompletionItemKind.Reference, detail: detail[v], sortText: String(i).padStart(5, "0"), textEdit: edit(c, pos, v, prefixLen) }));
  }
  return undefined;
}

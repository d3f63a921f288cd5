// Document symbols (outline): a prompt's front matter keys, inputs, roles and partials; an eval
// set's cases (with tags) and slices; an adapter's sections; driftlens.yaml's families/variants.
import { SymbolKind, type DocumentSymbol, type DocumentSymbolParams, type Range } from "vscode-languageserver/node";
import { isMap, isScalar, isSeq, type Node } from "yaml";
import type { YamlSource } from "../artifacts/yaml-source";
import { guarded, type FeatureContext } from "./support/context";
import { target, type Target } from "./support/target";

export function register(ctx: FeatureContext): void {
  ctx.connection.onDocumentSymbol(
    guarded(ctx.log, "documentSymbol", [], async (p: DocumentSymbolParams): Promise<DocumentSymbol[]> => {
      const t = target(ctx, p.textDocument.uri);
      if (!t) return [];
      return symbols(ctx, t);
    }),
  );
}

function sym(name: string, kind: SymbolKind, range: Range, selectionRange: Range = range, detail?: string, children?: DocumentSymbol[]): DocumentSymbol {
  // LSP requires selectionRange ⊆ range; clamp when a parser range is narrower than the name's.
  const r = contains(range, selectionRange) ? range : cover(range, selectionRange);
  return { name: name || "(unnamed)", kind, range: r, selectionRange, ...(detail ? { detail } : {}), ...(children?.length ? { children } : {}) };
}

function before(a: Range["start"], b: Range["start"]): boolean {
  return a.line < b.line || (a.line === b.line && a.character <= b.character);
}
function contains(outer: Range, inner: Range): boolean {
  return before(outer.start, inner.start) && before(inner.end, outer.end);
}
function cover(a: Range, b: Range): Range {
  return { start: before(a.start, b.start) ? a.start : b.start, end: before(a.end, b.end) ? b.end : a.end };
}

async function symbols(ctx: FeatureContext, t: Target): Promise<DocumentSymbol[]> {
  switch (t.kind) {
    case "prompt":
      return promptSymbols(t);
    case "evalset":
      return evalSetSymbols(ctx, t);
    case "adapter": {
      const doc = t.ws.adapter(t.file);
      return doc.source ? yamlSymbols(doc.source, 2) : [];
    }
    case "config": {
      const doc = t.ws.config();
      return doc.source && doc.file === t.file ? yamlSymbols(doc.source, 4) : [];
    }
    default:
      return [];
  }
}

function promptSymbols(t: Target): DocumentSymbol[] {
  const doc = t.ws.prompt(t.file);
  const out: DocumentSymbol[] = [];
  if (doc.frontMatterRange && doc.frontMatterSource) {
    const children = yamlSymbols(doc.frontMatterSource, 1).map((s) => {
      if (s.name === "input") {
        const inputs = doc.inputs.map((i) => sym(i.name, SymbolKind.Variable, i.range, i.range, i.optional ? "optional" : "required"));
        return { ...s, children: inputs.length ? inputs : s.children };
      }
      return s;
    });
    out.push(sym("front matter", SymbolKind.Namespace, doc.frontMatterRange, doc.frontMatterRange, doc.model, children));
  }
  // Body: one symbol per {{role}} and {{section}}, and each partial.
  const lines = t.text.split("\n");
  const re = /\{\{~?\s*(role|section)\s+["']([^"']+)["']\s*~?\}\}/g;
  for (let i = doc.bodyStart.line; i < lines.length; i++) {
    const line = lines[i]!;
    re.lastIndex = 0;
    for (let m = re.exec(line); m; m = re.exec(line)) {
      const r: Range = { start: { line: i, character: m.index }, end: { line: i, character: m.index + m[0].length } };
      out.push(sym(`${m[1]} ${m[2]}`, m[1] === "role" ? SymbolKind.Event : SymbolKind.Module, r));
    }
  }
  for (const p of doc.partials) out.push(sym(`> ${p.name}`, SymbolKind.File, p.range, p.range, "partial"));
  return out.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}

async function evalSetSymbols(ctx: FeatureContext, t: Target): Promise<DocumentSymbol[]> {
  const doc = await ctx.diagnosis.evalOutline(t.entry.root, t.file);
  const out: DocumentSymbol[] = [];
  if (doc.prompt) out.push(sym(`prompt: ${doc.prompt.declared}`, SymbolKind.File, doc.prompt.range));
  for (const s of doc.slices) out.push(sym(`slice ${s.name}`, SymbolKind.Enum, s.range, s.range, `${s.cases} cases`));
  for (const c of doc.cases) out.push(sym(c.id, SymbolKind.Object, c.range, c.idRange, c.tags.length ? c.tags.join(", ") : undefined));
  return out;
}

/** Symbols for a YAML mapping's keys, `depth` levels deep. */
function yamlSymbols(src: YamlSource, depth: number): DocumentSymbol[] {
  const rangeOf = (n: Node | null | undefined): Range | undefined => (n && n.range ? src.map.range(n.range[0], n.range[2] ?? n.range[1]) : undefined);
  const walk = (node: unknown, d: number): DocumentSymbol[] => {
    if (!isMap(node)) return [];
    const out: DocumentSymbol[] = [];
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const keyRange = rangeOf(pair.key as Node);
      if (!keyRange) continue;
      const valRange = rangeOf(pair.value as Node);
      const full = valRange ? cover(keyRange, valRange) : keyRange;
      const v = pair.value;
      const kind = isMap(v) ? SymbolKind.Object : isSeq(v) ? SymbolKind.Array : SymbolKind.Property;
      const detail = isScalar(v) ? String(v.value) : undefined;
      out.push(sym(String(pair.key.value), kind, full, keyRange, detail, d > 1 ? walk(v, d - 1) : undefined));
    }
    return out;
  };
  return walk(src.doc.contents, depth);
}

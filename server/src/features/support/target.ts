// Resolves a request's document: its path, kind, text (the open buffer) and owning workspace.
import path from "node:path";
import type { Position } from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import { artifactKind, type ArtifactKind } from "../../artifacts/types";
import { splitFrontMatter } from "../../artifacts/prompt";
import type { ServerWorkspace } from "./artifact-bridge";
import type { FeatureContext } from "./context";
import { uriToPath, type ArtifactWorkspace, type WorkspaceEntry } from "./workspaces";

export interface Target<W extends ArtifactWorkspace = ServerWorkspace> {
  uri: string;
  file: string;
  kind: ArtifactKind;
  doc: TextDocument;
  text: string;
  entry: WorkspaceEntry<W>;
  ws: W;
}

export function target<W extends ArtifactWorkspace>(ctx: FeatureContext<W>, uri: string): Target<W> | undefined {
  const file = uriToPath(uri);
  const doc = ctx.documents.get(uri);
  if (!file || !doc) return undefined;
  const kind = artifactKind(file);
  if (kind === "unknown") return undefined;
  const entry = ctx.workspaces.forFile(file);
  return { uri, file, kind, doc, text: doc.getText(), entry, ws: entry.ws };
}

/** Where a .prompt's front matter and body are, in document lines. */
export interface PromptLayout {
  /** Front matter text (between the --- lines) and its first line; undefined without front matter. */
  frontMatter?: { text: string; startLine: number; endLine: number };
  bodyStartLine: number;
  bodyStartOffset: number;
}

export function promptLayout(text: string): PromptLayout {
  const s = splitFrontMatter(text);
  const lineOf = (offset: number) => {
    let n = 0;
    for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) n++;
    return n;
  };
  if (s.frontMatter === undefined) {
    // An unclosed `---` block being typed: treat everything after the first line as front matter.
    if (/^---\s*(\r\n|\r|\n)/.test(text)) {
      const nl = text.indexOf("\n");
      return { frontMatter: { text: text.slice(nl + 1), startLine: 1, endLine: lineOf(text.length) }, bodyStartLine: Number.MAX_SAFE_INTEGER, bodyStartOffset: text.length };
    }
    return { bodyStartLine: 0, bodyStartOffset: 0 };
  }
  const startLine = lineOf(s.fmStart);
  return {
    frontMatter: { text: s.frontMatter, startLine, endLine: startLine + s.frontMatter.split("\n").length - 1 },
    bodyStartLine: lineOf(s.bodyStart),
    bodyStartOffset: s.bodyStart,
  };
}

export function inRange(pos: Position, r: { start: Position; end: Position }): boolean {
  const after = pos.line > r.start.line || (pos.line === r.start.line && pos.character >= r.start.character);
  const before = pos.line < r.end.line || (pos.line === r.end.line && pos.character <= r.end.character);
  return after && before;
}

/** A path shown relative to `from`'s folder, with forward slashes. */
export function relPath(fromFile: string, to: string): string {
  const r = path.relative(path.dirname(fromFile), to).split(path.sep).join("/");
  return r.startsWith(".") ? r : r;
}

/** The line of `text` at `line` (no line terminator). */
export function lineText(text: string, line: number): string {
  let start = 0;
  for (let i = 0; i < line; i++) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) return "";
    start = nl + 1;
  }
  const end = text.indexOf("\n", start);
  const l = text.slice(start, end < 0 ? text.length : end);
  return l.endsWith("\r") ? l.slice(0, -1) : l;
}

/** The innermost `{{ … }}` the position is inside: its text from after `{{` to the cursor. */
export function mustacheAt(text: string, offset: number): { inner: string; start: number } | undefined {
  const open = text.lastIndexOf("{{", offset - 1);
  if (open < 0 || open + 2 > offset) return undefined;
  const close = text.lastIndexOf("}}", offset - 1);
  if (close > open && close + 2 <= offset) return undefined;
  let start = open + 2;
  while (text[start] === "{") start++;
  return { inner: text.slice(start, offset), start };
}

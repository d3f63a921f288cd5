// Inline deltas: a CodeLens on each prompt and eval set with its last run and the delta against
// the git base ("46/50 · −3 vs HEAD · tail −15%"), and decorations on the changed lines of a
// modified prompt whose hover lists the flipped cases with their outputs before and after. The
// decorations also show in VS Code's diff editor (its modified side is the same document), so a
// reviewer opening the prompt's diff sees the same delta.
import { execFile } from "node:child_process";
import path from "node:path";
import * as vscode from "vscode";
import { LastRunsMethod, LastRunsResultSchema, type LastRunLens } from "../../server/src/protocol/runs";
import type { Ctx } from "./ctx";

const MINUS = "\u2212";

export function formatLens(l: LastRunLens): string {
  let s = `${l.passed}/${l.cases}`;
  if (l.delta) {
    const d = l.delta.passedDelta;
    s += ` · ${d === 0 ? "±0" : d > 0 ? `+${d}` : `${MINUS}${-d}`} vs ${l.delta.baseRef}`;
    if (l.delta.tailDelta !== null && Math.abs(l.delta.tailDelta) >= 0.005) {
      const pct = Math.round(l.delta.tailDelta * 100);
      s += ` · tail ${pct > 0 ? "+" : pct < 0 ? MINUS : "±"}${Math.abs(pct)}%`;
    }
  }
  return s;
}

async function lastRuns(ctx: Ctx, file: string): Promise<LastRunLens[]> {
  const client = ctx.client;
  if (!client?.isRunning()) return [];
  try {
    const r = LastRunsResultSchema.safeParse(await client.sendRequest(LastRunsMethod, { file, baseRef: ctx.settings().run.baseRef }));
    return r.success ? r.data.lenses : [];
  } catch (e) {
    ctx.log.warn(`last runs for ${file}: ${e instanceof Error ? e.message : String(e)}`);
    return [];
  }
}

export class LastRunLenses implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly subs: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: Ctx) {
    const refresh = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.changed.fire(), 300);
    };
    this.subs.push(ctx.runs.onDidChange(refresh), ctx.runs.onCaseResult(refresh), vscode.workspace.onDidSaveTextDocument(refresh));
    ctx.onClient(() => this.changed.fire());
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const top = new vscode.Range(0, 0, 0, 0);
    const isPrompt = doc.fileName.endsWith(".prompt");
    const lenses: vscode.CodeLens[] = [];
    for (const l of await lastRuns(this.ctx, doc.uri.fsPath)) {
      // A promptfoo config's prompts are `config#key`: name the prompt, open deltas on the config.
      const hash = l.promptFile.startsWith(doc.uri.fsPath + "#") ? l.promptFile.slice(doc.uri.fsPath.length + 1) : undefined;
      const title = `$(beaker) ${l.variant} ${hash !== undefined ? `${hash} × ` : ""}${path.basename(l.evalSetFile)}: ${formatLens(l)}${l.stale ? " (before your edits)" : ""}`;
      lenses.push(new vscode.CodeLens(top, { title, command: "driftlens.showDeltas", arguments: [hash !== undefined ? doc.uri : vscode.Uri.file(l.promptFile)], tooltip: `Last run ${l.at}. Click for the eval deltas.` }));
    }
    if (lenses.length === 0) lenses.push(new vscode.CodeLens(top, { title: "$(play) Run evals", command: "driftlens.runEvals", arguments: [doc.uri] }));
    else lenses.push(new vscode.CodeLens(top, { title: "$(play) Re-run", command: "driftlens.runEvals", arguments: [doc.uri] }));
    if (isPrompt) lenses.push(new vscode.CodeLens(top, { title: "$(split-horizontal) Compare models", command: "driftlens.compareModels", arguments: [doc.uri] }));
    return lenses;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.changed.dispose();
    for (const s of this.subs) s.dispose();
  }
}

/** Changed line numbers (0-based, in the working-tree file) of `file` vs `ref`, from `git diff -U0`. */
export function changedLines(file: string, ref: string): Promise<number[]> {
  return new Promise((resolve) => {
    execFile("git", ["diff", "-U0", "--no-color", "--no-ext-diff", ref, "--", path.basename(file)], { cwd: path.dirname(file), timeout: 10_000 }, (err, out) => {
      if (err) return resolve([]);
      const lines: number[] = [];
      for (const m of String(out).matchAll(/^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/gm)) {
        const start = Number(m[1]);
        const count = m[2] === undefined ? 1 : Number(m[2]);
        // A pure deletion (count 0) marks the line after it.
        if (count === 0) lines.push(Math.max(0, start));
        for (let i = 0; i < count; i++) lines.push(start - 1 + i);
      }
      resolve(lines);
    });
  });
}

export class DeltaDecorations {
  private readonly changedLine = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    overviewRulerColor: new vscode.ThemeColor("editorOverviewRuler.modifiedForeground"),
    overviewRulerLane: vscode.OverviewRulerLane.Left,
    backgroundColor: new vscode.ThemeColor("diffEditor.insertedLineBackground"),
  });
  private readonly summary = vscode.window.createTextEditorDecorationType({
    after: { margin: "0 0 0 2em", color: new vscode.ThemeColor("editorCodeLens.foreground"), fontStyle: "italic" },
  });
  private readonly subs: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: Ctx) {
    const refresh = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.refreshAll(), 300);
    };
    this.subs.push(
      vscode.window.onDidChangeVisibleTextEditors(refresh),
      vscode.workspace.onDidSaveTextDocument(refresh),
      ctx.runs.onDidChange(refresh),
    );
    ctx.onClient(refresh);
  }

  private async refreshAll(): Promise<void> {
    for (const ed of vscode.window.visibleTextEditors) {
      if (ed.document.uri.scheme !== "file" || !ed.document.fileName.endsWith(".prompt")) continue;
      await this.decorate(ed).catch((e) => this.ctx.log.warn(`decorations: ${e instanceof Error ? e.message : String(e)}`));
    }
  }

  private async decorate(ed: vscode.TextEditor): Promise<void> {
    // git runs here, a program of the user's machine, not the workspace's; still, restricted
    // workspaces get diagnostics only.
    if (!this.ctx.trusted) return;
    const base = this.ctx.settings().run.baseRef;
    const lines = (await changedLines(ed.document.uri.fsPath, base)).filter((l) => l < ed.document.lineCount);
    if (lines.length === 0) {
      ed.setDecorations(this.changedLine, []);
      ed.setDecorations(this.summary, []);
      return;
    }
    const runs = (await lastRuns(this.ctx, ed.document.uri.fsPath)).filter((l) => l.delta);
    const hover = new vscode.MarkdownString();
    hover.isTrusted = false;
    hover.supportHtml = false;
    if (runs.length === 0) hover.appendText(`Changed since ${base}. No eval run compares this version with ${base} yet: run “Driftlens: Show Eval Deltas”.`);
    for (const l of runs) {
      hover.appendMarkdown(`**`);
      hover.appendText(`${l.variant} · ${path.basename(l.evalSetFile)}: ${formatLens(l)}`);
      hover.appendMarkdown(`**\n\n`);
      for (const f of l.delta!.flips.slice(0, 20)) {
        hover.appendText(`${f.from ? "pass" : "fail"} → ${f.to ? "pass" : "fail"}  ${f.caseId}\n`);
        hover.appendCodeblock(`before: ${f.before.slice(0, 300)}\nafter:  ${f.after.slice(0, 300)}`, "text");
      }
      if (l.delta!.flips.length > 20) hover.appendText(`… ${l.delta!.flips.length - 20} more flipped cases\n`);
    }
    ed.setDecorations(
      this.changedLine,
      lines.map((l) => ({ range: new vscode.Range(l, 0, l, 0), hoverMessage: hover })),
    );
    const first = lines[0]!;
    const text = runs.length ? runs.map((l) => `${l.variant}: ${formatLens(l)}`).join("   ") : `changed vs ${base}`;
    ed.setDecorations(this.summary, [{ range: new vscode.Range(first, Number.MAX_SAFE_INTEGER, first, Number.MAX_SAFE_INTEGER), hoverMessage: hover, renderOptions: { after: { contentText: `  ${text}` } } }]);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.changedLine.dispose();
    this.summary.dispose();
    for (const s of this.subs) s.dispose();
  }
}

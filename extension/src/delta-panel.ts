// The eval-delta webview host: base vs head per slice with confidence intervals, the flipped
// cases with output diffs, and the gate verdict, from driftlens/deltas (a DiffReport).
import path from "node:path";
import * as vscode from "vscode";
import { DeltaFromWebviewSchema, DeltaToWebviewSchema, type DeltaToWebview } from "../../webviews/src/protocol/messages";
import type { Ctx } from "./ctx";
import { webviewHtml, webviewOptions } from "./webview-html";

export class DeltaPanel {
  static current: DeltaPanel | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private ready: Promise<void>;
  private markReady!: () => void;
  painted = new vscode.EventEmitter<number>();

  static async show(ctx: Ctx, file: string, baseRef: string): Promise<DeltaPanel> {
    let p = DeltaPanel.current;
    if (!p) {
      const panel = vscode.window.createWebviewPanel("driftlens.delta", "Eval deltas", vscode.ViewColumn.Beside, webviewOptions(ctx.extension.extensionUri));
      p = new DeltaPanel(ctx, panel);
      DeltaPanel.current = p;
    } else p.panel.reveal();
    await p.load(file, baseRef);
    return p;
  }

  private constructor(
    private readonly ctx: Ctx,
    readonly panel: vscode.WebviewPanel,
  ) {
    this.ready = new Promise((r) => (this.markReady = r));
    panel.webview.html = webviewHtml(panel.webview, ctx.extension.extensionUri, "delta", "Eval deltas");
    this.subs.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        const r = DeltaFromWebviewSchema.safeParse(raw);
        if (!r.success) return ctx.log.warn(`delta webview sent a malformed message: ${r.error.issues[0]?.message}`);
        if (r.data.type === "ready") this.markReady();
        if (r.data.type === "painted") this.painted.fire(r.data.ms);
        if (r.data.type === "openCase") void this.openCase(r.data.evalSet, r.data.caseId);
      }),
    );
  }

  private async openCase(evalSet: string, caseId: string): Promise<void> {
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
    const file = path.isAbsolute(evalSet) ? evalSet : path.join(root, evalSet);
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const line = doc.getText().split("\n").findIndex((l) => l.includes(caseId));
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, selection: line >= 0 ? new vscode.Range(line, 0, line, 0) : undefined });
  }

  private post(m: DeltaToWebview): void {
    // Validate on the way out too: a report from a newer server that does not fit is an error
    // message in the panel, not a half-drawn chart.
    const r = DeltaToWebviewSchema.safeParse(m);
    void this.panel.webview.postMessage(r.success ? r.data : { type: "error", message: `The eval report has an unexpected shape (${r.error.issues[0]?.path.join(".")}: ${r.error.issues[0]?.message}).` });
  }

  async load(file: string, baseRef: string): Promise<void> {
    this.panel.title = `Eval deltas: ${path.basename(file)} vs ${baseRef}`;
    await this.ready;
    this.post({ type: "loading", file: vscode.workspace.asRelativePath(file), baseRef });
    const r = await this.ctx.runs.deltas(file, baseRef);
    if (r.status !== "completed" || !r.report) return this.post({ type: "error", message: r.message ?? `the comparison ${r.status}` });
    this.post({ type: "report", ...r.report });
  }

  dispose(): void {
    if (DeltaPanel.current === this) DeltaPanel.current = undefined;
    for (const s of this.subs) s.dispose();
    this.painted.dispose();
  }
}

// The status bar item: engine state (backend, loaded model, run in progress) and the active
// prompt's behavioural fingerprint (short hash; the tooltip lists what went into it).
import * as vscode from "vscode";
import { FingerprintMethod, FingerprintSchema, StatusChangedMethod, StatusMethod, EngineStatusSchema, type EngineStatus, type Fingerprint } from "../../server/src/protocol/runs";
import type { Ctx } from "./ctx";

export class StatusBar {
  private readonly item: vscode.StatusBarItem;
  private server: "starting" | "running" | "failed" | "stopped" = "starting";
  private engine: EngineStatus | null = null;
  private fingerprint: Fingerprint | null = null;
  private readonly subs: vscode.Disposable[] = [];
  private fpTimer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: Ctx) {
    this.item = vscode.window.createStatusBarItem("driftlens.status", vscode.StatusBarAlignment.Left, 10);
    this.item.name = "Driftlens";
    this.item.command = "driftlens.showRunHistory";
    this.render();
    this.item.show();
    this.subs.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.refreshFingerprint()),
      vscode.workspace.onDidSaveTextDocument(() => this.refreshFingerprint()),
    );
    ctx.onClient((client) => {
      ctx.pushClient(
        client.onNotification(StatusChangedMethod, (raw: unknown) => {
          const r = EngineStatusSchema.safeParse(raw);
          if (r.success) {
            this.engine = r.data;
            this.render();
          }
        }),
      );
      void client.sendRequest(StatusMethod, {}).then(
        (raw) => {
          const r = EngineStatusSchema.safeParse(raw);
          if (r.success) this.engine = r.data;
          this.render();
        },
        () => undefined,
      );
      this.refreshFingerprint();
    });
    queueMicrotask(() => this.subs.push(ctx.runs.onDidChange(() => this.render())));
  }

  setServerState(s: "starting" | "running" | "failed" | "stopped"): void {
    this.server = s;
    this.render();
  }

  private refreshFingerprint(): void {
    clearTimeout(this.fpTimer);
    this.fpTimer = setTimeout(() => void this.loadFingerprint(), 150);
  }

  private async loadFingerprint(): Promise<void> {
    const doc = vscode.window.activeTextEditor?.document;
    const client = this.ctx.client;
    if (!doc || doc.uri.scheme !== "file" || !/\.prompt$/.test(doc.fileName) || !client?.isRunning()) {
      if (doc && /\.prompt$/.test(doc.fileName)) return;
      this.fingerprint = null;
      return this.render();
    }
    try {
      const r = FingerprintSchema.safeParse(await client.sendRequest(FingerprintMethod, { file: doc.uri.fsPath }));
      this.fingerprint = r.success ? r.data : null;
    } catch {
      this.fingerprint = null;
    }
    this.render();
  }

  private render(): void {
    const runs = this.ctx.runs?.inFlight ?? [];
    const parts: string[] = [];
    if (this.server === "failed") parts.push("$(error) Driftlens");
    else if (runs.length) {
      const r = runs[0]!;
      parts.push(`$(sync~spin) Driftlens ${r.total ? `${r.done}/${r.total}` : "…"}`);
    } else parts.push(this.server === "running" ? "$(beaker) Driftlens" : "$(loading~spin) Driftlens");
    if (this.engine?.backend) parts.push(this.engine.backend.toUpperCase());
    if (this.fingerprint?.hash) parts.push(`#${this.fingerprint.hash.slice(0, 8)}`);
    this.item.text = parts.join(" · ");
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = false;
    md.supportHtml = false;
    md.appendMarkdown("**Driftlens**\n\n");
    md.appendText(`Language server: ${this.server}\n`);
    const rt = this.ctx.runtime;
    if (rt) md.appendText(`Server runtime: ${rt.runtime.isHost ? "the editor's own" : rt.runtime.path}, Node ${rt.runtime.version} (ABI ${rt.runtime.abi}); SQLite: ${rt.sqlite ?? "none"}\n`);
    md.appendText(`Engine: ${this.engine?.backend ?? "not started"}${this.engine?.loadedModels.length ? `, loaded: ${this.engine.loadedModels.join(", ")}` : ""}\n`);
    if (!this.ctx.trusted) md.appendText("Restricted workspace: diagnostics only, nothing is generated.\n");
    for (const r of runs) md.appendText(`Running: ${r.title} (${r.done}/${r.total})\n`);
    const fp = this.fingerprint;
    if (fp) {
      md.appendMarkdown("\n---\n\n");
      md.appendText(`Behavioural fingerprint: ${fp.hash ?? `unavailable (${fp.problem ?? "unknown"})`}\n`);
      md.appendText(`Prompt: ${vscode.workspace.asRelativePath(fp.prompt.file)} @ ${fp.prompt.hash.slice(0, 12)}\n`);
      for (const e of fp.evalSets) md.appendText(`Eval set: ${vscode.workspace.asRelativePath(e.file)} @ ${e.hash.slice(0, 12)}\n`);
      if (fp.model) md.appendText(`Model: ${fp.model.variant}${fp.model.hash ? ` @ ${fp.model.hash.slice(0, 12)}` : ""}\n`);
      for (const a of fp.adapters) md.appendText(`Adapter: ${a.name}@${a.scale}${a.hash ? ` @ ${a.hash.slice(0, 12)}` : ""}\n`);
      md.appendText(`Params: ${JSON.stringify(fp.params)}\n`);
    }
    this.item.tooltip = md;
    this.item.backgroundColor = this.server === "failed" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  dispose(): void {
    clearTimeout(this.fpTimer);
    for (const s of this.subs) s.dispose();
    this.item.dispose();
  }
}

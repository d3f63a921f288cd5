// Client side of runs: sends driftlens/run with a cancellable progress notification, fans the
// streamed driftlens/caseResult notifications out to whoever started the run (Test Explorer,
// compare webview), and remembers the runs in flight for "Cancel Run" and the status bar.
import crypto from "node:crypto";
import * as vscode from "vscode";
import {
  CancelRunMethod,
  CaseResultMethod,
  CaseResultSchema,
  DeltasMethod,
  DeltasResultSchema,
  RunMethod,
  RunProgressMethod,
  RunProgressSchema,
  RunResultSchema,
  type CaseResult,
  type RunParams,
  type RunResult,
} from "../../server/src/protocol/runs";
import type { DiffReport } from "../../server/src/protocol/reports";
import type { Ctx } from "./ctx";
import { unsavedArtifacts, unsavedMessage } from "./unsaved";

interface ActiveRun {
  id: string;
  title: string;
  done: number;
  total: number;
  onCase?: (r: CaseResult) => void;
  onProgress?: (done: number, total: number) => void;
  cts: vscode.CancellationTokenSource;
}

export class RunManager {
  private readonly active = new Map<string, ActiveRun>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly caseListeners = new Set<(r: CaseResult) => void>();

  constructor(private readonly ctx: Ctx) {
    ctx.onClient((client) => {
      ctx.pushClient(
        client.onNotification(CaseResultMethod, (raw: unknown) => {
          const r = CaseResultSchema.safeParse(raw);
          if (!r.success) return ctx.log.warn(`dropping a malformed case result: ${r.error.issues[0]?.message}`);
          this.active.get(r.data.runId)?.onCase?.(r.data);
          for (const l of this.caseListeners) l(r.data);
        }),
        client.onNotification(RunProgressMethod, (raw: unknown) => {
          const r = RunProgressSchema.safeParse(raw);
          if (!r.success) return;
          const run = this.active.get(r.data.runId);
          if (!run) return;
          run.done = r.data.done;
          run.total = r.data.total;
          run.onProgress?.(r.data.done, r.data.total);
          this.changed.fire();
        }),
      );
    });
  }

  /** Every case result of every run (CodeLens and decorations refresh on them). */
  onCaseResult(fn: (r: CaseResult) => void): vscode.Disposable {
    this.caseListeners.add(fn);
    return new vscode.Disposable(() => this.caseListeners.delete(fn));
  }

  get inFlight(): { id: string; title: string; done: number; total: number }[] {
    return [...this.active.values()].map(({ id, title, done, total }) => ({ id, title, done, total }));
  }

  private refuseUntrusted(): Omit<RunResult, "report" | "compare"> | null {
    if (this.ctx.trusted) return null;
    const message = "Driftlens runs nothing in a restricted workspace. Trust this workspace to run evals.";
    void vscode.window.showWarningMessage(message, "Manage Workspace Trust").then((p) => p && vscode.commands.executeCommand("workbench.trust.manage"));
    return { runId: "", status: "refused", message, summaries: [] };
  }

  /**
   * Runs evals. With `progress: true` (the default) a notification with a Cancel button shows
   * progress; `token` (e.g. the Test Explorer's) cancels too.
   */
  async run(
    params: Omit<RunParams, "runId">,
    opts: { title: string; progress?: boolean; token?: vscode.CancellationToken; onCase?: (r: CaseResult) => void; onProgress?: (done: number, total: number) => void },
  ): Promise<RunResult> {
    const refused = this.refuseUntrusted();
    if (refused) return refused;
    await this.saveBeforeRun();
    await this.ctx.ready;
    const client = this.ctx.client;
    if (!client?.isRunning()) {
      const message = "The Driftlens language server is not running; see the Driftlens log, or run “Driftlens: Restart Language Server”.";
      void vscode.window.showErrorMessage(message);
      return { runId: "", status: "failed", message, summaries: [] };
    }
    const id = crypto.randomUUID();
    const cts = new vscode.CancellationTokenSource();
    const run: ActiveRun = { id, title: opts.title, done: 0, total: 0, onCase: opts.onCase, onProgress: opts.onProgress, cts };
    this.active.set(id, run);
    this.changed.fire();
    opts.token?.onCancellationRequested(() => cts.cancel());
    cts.token.onCancellationRequested(() => void client.sendRequest(CancelRunMethod, { runId: id }).catch(() => undefined));
    void vscode.commands.executeCommand("setContext", "driftlens.runInProgress", true);
    const send = async (): Promise<RunResult> => {
      const raw = await client.sendRequest(RunMethod, { ...params, runId: id } satisfies RunParams, cts.token);
      const r = RunResultSchema.safeParse(raw);
      if (!r.success) throw new Error(`the server answered driftlens/run with an unexpected shape (${r.error.issues[0]?.message})`);
      return r.data;
    };
    try {
      const result =
        opts.progress === false
          ? await send()
          : await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: opts.title, cancellable: true }, (progress, token) => {
              token.onCancellationRequested(() => cts.cancel());
              let last = 0;
              const prev = run.onProgress;
              run.onProgress = (done, total) => {
                prev?.(done, total);
                const pct = total ? (done / total) * 100 : 0;
                progress.report({ message: `${done}/${total} cases`, increment: pct - last });
                last = pct;
              };
              return send();
            });
      if (result.status === "failed" && result.message) void vscode.window.showErrorMessage(`Driftlens: ${result.message}`);
      return result;
    } catch (e) {
      if (cts.token.isCancellationRequested) return { runId: id, status: "cancelled", summaries: [] };
      const message = e instanceof Error ? e.message : String(e);
      this.ctx.log.error(`run failed: ${message}`);
      void vscode.window.showErrorMessage(`Driftlens: the run failed: ${message}`);
      return { runId: id, status: "failed", message, summaries: [] };
    } finally {
      this.active.delete(id);
      cts.dispose();
      void vscode.commands.executeCommand("setContext", "driftlens.runInProgress", this.active.size > 0);
      this.changed.fire();
    }
  }

  /** Eval deltas of a prompt vs a git ref (DiffReport), with progress and cancel. */
  async deltas(file: string, baseRef: string): Promise<{ status: string; message?: string; report?: DiffReport }> {
    const refused = this.refuseUntrusted();
    if (refused) return refused;
    await this.saveBeforeRun();
    await this.ctx.ready;
    const client = this.ctx.client;
    if (!client?.isRunning()) return { status: "failed", message: "The Driftlens language server is not running." };
    const id = crypto.randomUUID();
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Driftlens: evals vs ${baseRef}`, cancellable: true }, async (_p, token) => {
      token.onCancellationRequested(() => void client.sendRequest(CancelRunMethod, { runId: id }).catch(() => undefined));
      try {
        const raw = await client.sendRequest(DeltasMethod, { runId: id, file, baseRef }, token);
        const r = DeltasResultSchema.safeParse(raw);
        return r.success ? r.data : { status: "failed", message: "unexpected answer from the server" };
      } catch (e) {
        return { status: token.isCancellationRequested ? "cancelled" : "failed", message: e instanceof Error ? e.message : String(e) };
      }
    });
  }

  /**
   * Runs read files on disk: saves open artifacts with unsaved edits first (unless
   * driftlens.run.saveBeforeRun is "none"), and says which edits a run leaves out otherwise.
   */
  private async saveBeforeRun(): Promise<void> {
    const dirty = unsavedArtifacts(vscode.workspace.textDocuments);
    if (dirty.length === 0) return;
    const names = (docs: readonly vscode.TextDocument[]) => docs.map((d) => vscode.workspace.asRelativePath(d.uri));
    if (this.ctx.settings().run.saveBeforeRun === "none") {
      void vscode.window.showInformationMessage(unsavedMessage(names(dirty), "setting"));
      return;
    }
    const saved = await Promise.all(dirty.map((d) => Promise.resolve(d.save()).catch(() => false)));
    const failed = dirty.filter((_, i) => !saved[i]);
    if (failed.length) void vscode.window.showWarningMessage(unsavedMessage(names(failed), "save-failed"));
  }

  /** Cancels every run in flight; returns how many. */
  async cancelAll(): Promise<number> {
    const n = this.active.size;
    for (const r of this.active.values()) r.cts.cancel();
    await this.ctx.client?.sendRequest(CancelRunMethod, {}).catch(() => undefined);
    return n;
  }

  dispose(): void {
    for (const r of this.active.values()) r.cts.cancel();
    this.changed.dispose();
  }
}

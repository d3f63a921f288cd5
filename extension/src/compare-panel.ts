// The compare-models webview host: one panel per prompt. It runs the prompt's eval sets on the
// picked variants (driftlens/run with compare), streams each finished case into the grid, then
// sends per-variant stats (tokens/s, time to first token, memory, KL divergence from the reference).
import path from "node:path";
import * as vscode from "vscode";
import type { CompareReport } from "../../server/src/protocol/reports";
import type { CaseResult, RunSummary } from "../../server/src/protocol/runs";
import { CompareFromWebviewSchema, LadderSchema, type Cell, type CompareToWebview, type VariantStats } from "../../webviews/src/protocol/messages";
import { fetchTestTree } from "./commands";
import type { Ctx } from "./ctx";
import { webviewHtml, webviewOptions } from "./webview-html";

export class ComparePanel {
  static readonly panels = new Map<string, ComparePanel>();
  private readonly subs: vscode.Disposable[] = [];
  private runToken: vscode.CancellationTokenSource | undefined;
  /** Resolves with the number of painted cells each time the webview reports a full paint. */
  painted = new vscode.EventEmitter<{ cells: number; ms: number }>();

  static async show(ctx: Ctx, promptFile: string): Promise<ComparePanel> {
    const have = ComparePanel.panels.get(promptFile);
    if (have) {
      have.panel.reveal();
      return have;
    }
    const panel = vscode.window.createWebviewPanel("driftlens.compare", `Compare: ${path.basename(promptFile)}`, vscode.ViewColumn.Beside, webviewOptions(ctx.extension.extensionUri));
    const p = new ComparePanel(ctx, panel, promptFile);
    ComparePanel.panels.set(promptFile, p);
    return p;
  }

  private constructor(
    private readonly ctx: Ctx,
    readonly panel: vscode.WebviewPanel,
    private readonly promptFile: string,
  ) {
    panel.webview.html = webviewHtml(panel.webview, ctx.extension.extensionUri, "compare", `Compare ${path.basename(promptFile)}`);
    this.subs.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)),
    );
  }

  private post(m: CompareToWebview): void {
    void this.panel.webview.postMessage(m);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const r = CompareFromWebviewSchema.safeParse(raw);
    if (!r.success) return this.ctx.log.warn(`compare webview sent a malformed message: ${r.error.issues[0]?.message}`);
    const m = r.data;
    switch (m.type) {
      case "ready":
        return this.init();
      case "run":
        return this.run(m.variants, m.caseIds);
      case "cancel":
        this.runToken?.cancel();
        return;
      case "export": {
        const doc = await vscode.workspace.openTextDocument({ language: "markdown", content: m.markdown });
        await vscode.window.showTextDocument(doc, vscode.ViewColumn.Active);
        return;
      }
      case "openCase": {
        const file = path.resolve(path.dirname(this.promptFile), m.evalSet);
        const tree = await fetchTestTree(this.ctx);
        const c = tree?.evalSets.find((s) => s.file === file || s.file === m.evalSet)?.cases.find((x) => x.id === m.caseId);
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(c ? (tree!.evalSets.find((s) => s.cases.includes(c))!.file) : file));
        await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, selection: c ? new vscode.Range(c.line, 0, c.line, 0) : undefined });
        return;
      }
      case "painted":
        this.painted.fire({ cells: m.cells, ms: m.ms });
        return;
    }
  }

  private async init(): Promise<void> {
    const tree = await fetchTestTree(this.ctx);
    const sets = (tree?.evalSets ?? []).filter((s) => s.promptFile === this.promptFile);
    const variants = tree?.variants ?? [];
    const defaults = this.ctx.settings().run.defaultVariants.filter((v) => variants.includes(v));
    const reference = tree?.references.find((r) => variants.includes(r)) ?? null;
    this.post({
      type: "init",
      prompt: vscode.workspace.asRelativePath(this.promptFile),
      variants,
      selected: defaults.length ? defaults : variants.slice(0, 4),
      reference,
      cases: sets.flatMap((s) => s.cases.map((c) => ({ id: c.id, tags: c.tags, evalSet: path.relative(path.dirname(this.promptFile), s.file) }))),
      trusted: this.ctx.trusted,
    });
  }

  /** Runs the prompt on `variants` and streams the cells; public for the command and tests. */
  async run(variants: string[], caseIds?: string[]): Promise<void> {
    this.runToken?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.runToken = cts;
    const tree = await fetchTestTree(this.ctx);
    const reference = tree?.references.find((r) => variants.includes(r)) ?? variants[0] ?? null;
    this.post({ type: "started", variants, reference });
    // Batch cells: one postMessage per animation-frame-ish tick, not per case.
    let pending: Cell[] = [];
    let flush: NodeJS.Timeout | undefined;
    const onCase = (r: CaseResult) => {
      pending.push({
        caseId: r.caseId,
        variant: r.variant,
        output: r.output,
        pass: r.pass,
        error: r.error,
        cached: r.cached,
        assertions: r.assertions.map((a) => ({ type: a.type, pass: a.pass, message: a.message, expected: a.expected })),
        tokens: r.tokens,
        tokensPerSecond: r.tokensPerSecond ?? null,
        timeToFirstTokenMs: r.timeToFirstTokenMs ?? null,
        wallMs: r.wallMs ?? null,
        ...(r.samples && r.samples.length > 1 ? { passFraction: r.passFraction, samples: r.samples.map((s) => ({ output: s.output, pass: s.pass, ...(s.message ? { message: s.message } : {}) })) } : {}),
      });
      flush ??= setTimeout(() => {
        flush = undefined;
        const cells = pending;
        pending = [];
        this.post({ type: "cells", cells });
      }, 50);
    };
    const result = await this.ctx.runs.run(
      { file: this.promptFile, variants, caseIds, compare: true },
      { title: `Driftlens: comparing ${variants.length} variants`, token: cts.token, onCase, onProgress: (done, total) => this.post({ type: "progress", done, total }) },
    );
    clearTimeout(flush);
    if (pending.length) this.post({ type: "cells", cells: pending });
    const stats = statsFrom(result.compare, result.summaries);
    if (stats.length) this.post({ type: "stats", stats });
    // The quant ladder, when the run compared variants of one family (the chart's fields, as the webview contract bounds them).
    const ladder = LadderSchema.safeParse(result.compare?.ladder);
    if (ladder.success) this.post({ type: "ladder", ladder: ladder.data });
    this.post({ type: "done", status: result.status, message: result.message });
  }

  dispose(): void {
    this.runToken?.cancel();
    ComparePanel.panels.delete(this.promptFile);
    for (const s of this.subs) s.dispose();
    this.painted.dispose();
  }
}

/** Per-variant stats from the CompareReport and the run summaries; a non-finite number shows as none. */
function statsFrom(compare: CompareReport | undefined, summaries: RunSummary[]): VariantStats[] {
  const out = new Map<string, VariantStats>();
  const num = (x: number | null) => (x !== null && Number.isFinite(x) ? x : null);
  for (const s of summaries) {
    out.set(s.variant, { variant: s.variant, passRate: s.cases ? s.passed / s.cases : null, tokensPerSecond: s.tokensPerSecond, timeToFirstTokenMs: null, tokens: null, memoryBytes: null, kldMean: null });
  }
  for (const v of compare?.variants ?? []) {
    const prev = out.get(v.variant);
    out.set(v.variant, {
      variant: v.variant,
      passRate: num(v.passRate) ?? prev?.passRate ?? null,
      tokensPerSecond: num(v.tokensPerSecond) ?? prev?.tokensPerSecond ?? null,
      timeToFirstTokenMs: num(v.timeToFirstTokenMs),
      tokens: prev?.tokens ?? null,
      memoryBytes: num(v.memoryBytes),
      kldMean: v.kldUnavailable !== undefined ? null : num(v.kld.mean),
      ...(v.kldUnavailable !== undefined ? { kldNote: v.kldUnavailable.slice(0, 500) } : v.kldSource !== undefined ? { kldNote: `KL from ${v.kldSource}`.slice(0, 500) } : {}),
    });
  }
  return [...out.values()];
}

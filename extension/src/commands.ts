// Every command, one table from id to handler; each id is also declared in package.json
// (test/unit/extension/manifest.test.ts checks both directions).
import { execFile } from "node:child_process";
import path from "node:path";
import * as vscode from "vscode";
import { HistoryMethod, HistoryResultSchema, TestTreeMethod, TestTreeSchema, type TestTree } from "../../server/src/protocol/runs";
import { ComparePanel } from "./compare-panel";
import type { Ctx } from "./ctx";
import { DeltaPanel } from "./delta-panel";

type Handler = (...args: unknown[]) => unknown;

/** The artifact the command is about: an explicit URI argument, else the active editor's file. */
function targetFile(arg: unknown, kinds: RegExp): string | undefined {
  if (arg instanceof vscode.Uri && arg.scheme === "file") return arg.fsPath;
  if (typeof arg === "string" && kinds.test(arg)) return arg;
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && doc.uri.scheme === "file" && kinds.test(doc.fileName)) return doc.uri.fsPath;
  return undefined;
}

const PROMPT_OR_EVAL = /\.(prompt|eval\.ya?ml|eval\.jsonl)$/;

export async function fetchTestTree(ctx: Ctx): Promise<TestTree | null> {
  await ctx.ready;
  if (!ctx.client?.isRunning()) return null;
  try {
    const r = TestTreeSchema.safeParse(await ctx.client.sendRequest(TestTreeMethod, {}));
    return r.success ? r.data : null;
  } catch (e) {
    ctx.log.warn(`test tree: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

/** Lets the user pick variants (multi-select), preselecting driftlens.run.defaultVariants. */
export async function pickVariants(ctx: Ctx, title: string): Promise<string[] | undefined> {
  const tree = await fetchTestTree(ctx);
  const all = tree?.variants ?? [];
  if (all.length === 0) {
    void vscode.window.showErrorMessage("Driftlens: no model variants are configured. Add a `models:` section to driftlens.yaml (see docs/extension.md).");
    return undefined;
  }
  if (all.length === 1) return all;
  const defaults = new Set(ctx.settings().run.defaultVariants);
  const refs = new Set(tree?.references ?? []);
  const picked = await vscode.window.showQuickPick(
    all.map((v) => ({ label: v, description: refs.has(v) ? "reference" : undefined, picked: defaults.size ? defaults.has(v) : true })),
    { canPickMany: true, title, placeHolder: "Variants to run" },
  );
  return picked?.map((p) => p.label);
}

function gitBranches(cwd: string): Promise<string[]> {
  return new Promise((resolve) => {
    execFile("git", ["for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes", "refs/tags"], { cwd, timeout: 10_000 }, (err, out) =>
      resolve(err ? [] : String(out).split("\n").filter(Boolean)),
    );
  });
}

export function createCommands(ctx: Ctx): Record<string, Handler> {
  return {
    "driftlens.runEvals": async (arg) => {
      const file = targetFile(arg, PROMPT_OR_EVAL);
      if (!file) return void vscode.window.showInformationMessage("Driftlens: open a .prompt or eval set file to run its evals.");
      const variants = await pickVariants(ctx, `Run evals for ${path.basename(file)}`);
      if (!variants?.length) return;
      const result = await ctx.runs.run({ file, variants }, { title: `Driftlens: evals for ${path.basename(file)}` });
      if (result.status === "completed") {
        const lines = result.summaries.map((s) => `${s.variant} ${path.basename(s.evalSetFile)}: ${s.passed}/${s.cases}`);
        void vscode.window.showInformationMessage(`Driftlens: ${lines.join(" · ") || "no cases ran"}`);
      }
      return result;
    },
    "driftlens.compareModels": async (arg) => {
      const file = targetFile(arg, /\.prompt$/);
      if (!file) return void vscode.window.showInformationMessage("Driftlens: open a .prompt file to compare models on it.");
      return ComparePanel.show(ctx, file);
    },
    "driftlens.showDeltas": async (arg, ref) => {
      const file = targetFile(arg, PROMPT_OR_EVAL);
      if (!file) return void vscode.window.showInformationMessage("Driftlens: open a .prompt file to see its eval deltas.");
      return DeltaPanel.show(ctx, file, typeof ref === "string" ? ref : ctx.settings().run.baseRef);
    },
    "driftlens.showDeltasVsBranch": async (arg) => {
      const file = targetFile(arg, PROMPT_OR_EVAL);
      if (!file) return void vscode.window.showInformationMessage("Driftlens: open a .prompt file to see its eval deltas.");
      const refs = await gitBranches(path.dirname(file));
      const ref = await vscode.window.showQuickPick(refs.length ? refs : ["HEAD"], { title: "Compare evals against", placeHolder: "Branch, tag or remote branch" });
      if (ref) return DeltaPanel.show(ctx, file, ref);
    },
    "driftlens.cancelRun": async () => {
      const n = await ctx.runs.cancelAll();
      void vscode.window.showInformationMessage(n ? `Driftlens: cancelled ${n} run${n > 1 ? "s" : ""}.` : "Driftlens: no run in progress.");
    },
    "driftlens.showRunHistory": async () => {
      await ctx.ready;
      const client = ctx.client;
      if (!client?.isRunning()) return void vscode.window.showErrorMessage("Driftlens: the language server is not running.");
      const file = targetFile(undefined, PROMPT_OR_EVAL);
      const r = HistoryResultSchema.safeParse(await client.sendRequest(HistoryMethod, { file, limit: 100 }).catch(() => null));
      if (!r.success || r.data.runs.length === 0) return void vscode.window.showInformationMessage("Driftlens: no runs stored yet. Run evals first.");
      const pick = await vscode.window.showQuickPick(
        r.data.runs.map((h) => ({
          label: `${h.passed}/${h.cases} ${h.variant}`,
          description: `${h.evalSetFile ? vscode.workspace.asRelativePath(h.evalSetFile) : ""}${h.complete ? "" : " (incomplete)"}`,
          detail: `${h.at} · run ${h.id.slice(0, 8)}${h.fingerprint ? ` · fingerprint ${h.fingerprint.slice(0, 8)}` : ""}`,
          h,
        })),
        { title: "Driftlens run history", matchOnDescription: true, matchOnDetail: true },
      );
      if (pick?.h.evalSetFile) await vscode.window.showTextDocument(vscode.Uri.file(pick.h.evalSetFile));
    },
    "driftlens.restartServer": () => ctx.restart("restart command"),
    "driftlens.showLog": () => ctx.log.show(),
  };
}

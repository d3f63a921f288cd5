// Server side of runs, comparisons, deltas, status, fingerprints and history (protocol/runs.ts).
// Adapts the LSP-free engine (eval/runner, eval/compare, eval/diff, store, llm/client) to custom
// LSP methods: case results stream as notifications, LSP cancellation and driftlens/cancelRun
// abort, and nothing here runs on the keystroke path. In a restricted (untrusted) workspace
// every generating method answers "refused" and no model is loaded; diagnostics are untouched.
//
// The shared state (roots, stores, the engine worker, runs in flight, status) lives in
// runs/state.ts; each method has one named handler under runs/, listed in the table below.
import type { CancellationToken } from "vscode-languageserver/node";
import { CancelRunMethod, DeltasMethod, FingerprintMethod, HistoryMethod, LastRunsMethod, RunMethod, StatusMethod, TestTreeMethod } from "../protocol/runs";
import type { FeatureContext } from "./support/context";
import { handleCancel, handleStatus } from "./runs/control";
import { handleDeltas } from "./runs/deltas";
import { handleFingerprint } from "./runs/fingerprint";
import { handleHistory, handleTestTree } from "./runs/history";
import { handleLastRuns } from "./runs/last-runs";
import { handleRun } from "./runs/run";
import { RunsState } from "./runs/state";

/** A request handler: the shared state, the request's params, its cancellation token. */
type Handler = (state: RunsState, raw: unknown, token: CancellationToken) => unknown;

/** Each custom LSP method and the handler that answers it. */
const handlers: Record<string, Handler> = {
  [RunMethod]: handleRun,
  [CancelRunMethod]: handleCancel,
  [StatusMethod]: handleStatus,
  [DeltasMethod]: handleDeltas,
  [FingerprintMethod]: handleFingerprint,
  [LastRunsMethod]: handleLastRuns,
  [HistoryMethod]: handleHistory,
  [TestTreeMethod]: handleTestTree,
};

export function register(ctx: FeatureContext): void {
  const state = new RunsState(ctx);
  for (const [method, handle] of Object.entries(handlers)) {
    ctx.connection.onRequest(method, (raw: unknown, token: CancellationToken) => handle(state, raw, token));
  }

  // Files changed on disk: our own workspaces re-read them (they hold no editor overlays).
  ctx.events.onFilesChanged(() => state.reloadWorkspaces());

  // The connection allows one shutdown handler (server.ts owns it); the engine worker and the
  // stores go with the process.
  process.once("exit", () => state.dispose());
}

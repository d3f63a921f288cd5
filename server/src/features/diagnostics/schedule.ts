// Debounced, cancellable passes: a file after an edit, and the files that depend on it after a
// longer delay (a newer edit aborts the older pass before it publishes).
import path from "node:path";
import { artifactKind } from "../../artifacts/types";
import { yieldToLoop } from "../support/scheduler";
import { pathToUri } from "../support/workspaces";
import { diagnoseAndPublish } from "./publish";
import type { DiagnosticsState } from "./state";

/** Schedules a pass over a file (debounced), then over its dependents when asked. */
export function scheduleFile(state: DiagnosticsState, file: string, reason: "document", withDependents: boolean): void {
  const { ctx } = state;
  const uri = pathToUri(file);
  ctx.scheduler.schedule(`diag:${uri}`, ctx.settings().diagnosticsDebounceMs, async (signal) => {
    const done = await diagnoseAndPublish(state, file, signal);
    if (done) state.settled({ reason, uris: [done] });
    if (withDependents && !signal.aborted) scheduleDependents(state, file);
  });
}

/** Schedules a pass over the files that read this one (eval sets of a prompt, users of a partial, ...). */
export function scheduleDependents(state: DiagnosticsState, file: string): void {
  const { ctx } = state;
  const uri = pathToUri(file);
  ctx.scheduler.schedule(`deps:${uri}`, ctx.settings().dependentsDebounceMs, async (signal) => {
    let deps: string[] = [];
    try {
      deps = await ctx.diagnosis.dependents(ctx.workspaces.forFile(file).root, file);
    } catch (e) {
      ctx.log.error(`dependents of ${file} failed`, e);
    }
    // A (non-partial) prompt's dependents are its eval sets: skip those already checked
    // against the prompt's current contract.
    if (artifactKind(file) === "prompt" && !path.basename(file).startsWith("_") && deps.length) {
      const fresh = await staleAgainstPrompt(state, file, deps);
      if (signal.aborted) return;
      deps = fresh;
    }
    const uris: string[] = [];
    for (const dep of deps) {
      if (signal.aborted) return;
      await yieldToLoop();
      const done = await diagnoseAndPublish(state, dep, signal);
      if (done) uris.push(done);
    }
    if (uris.length) state.settled({ reason: "document", uris });
  });
}

/** The eval sets not yet checked against the prompt's current contract (all of them when it is unknown). */
async function staleAgainstPrompt(state: DiagnosticsState, prompt: string, deps: string[]): Promise<string[]> {
  const { ctx } = state;
  let key: string | undefined;
  try {
    key = await ctx.diagnosis.promptContract(ctx.workspaces.forFile(prompt).root, prompt);
  } catch {
    key = undefined;
  }
  return deps.filter((d) => {
    const seen = state.checkedAgainst.get(d);
    return key === undefined || !seen || seen.prompt !== prompt || seen.key !== key;
  });
}

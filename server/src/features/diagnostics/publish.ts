// One diagnostics pass over one file: diagnose it (in the diagnosis worker) and publish the result
// unless a newer pass aborted it meanwhile.
import fs from "node:fs";
import { toLspDiagnostic } from "../support/convert";
import type { DiagnoseResult } from "../support/diagnosis";
import { pathToUri } from "../support/workspaces";
import { BACKGROUND_FILE_BYTES, fileSize, type DiagnosticsState } from "./state";

/** Diagnoses one file and publishes the result unless the pass was aborted meanwhile; its URI when published. */
export async function diagnoseAndPublish(state: DiagnosticsState, file: string, signal: AbortSignal): Promise<string | undefined> {
  const { connection, documents, workspaces, log } = state.ctx;
  const uri = pathToUri(file);
  const doc = documents.get(uri);
  // A closed file too large for a background check waits until it is opened.
  if (!doc && fileSize(file) > BACKGROUND_FILE_BYTES) {
    state.skippedLarge(file);
    return undefined;
  }
  if (!doc && !fs.existsSync(file)) {
    state.checkedAgainst.delete(file);
    if (state.published.delete(uri)) await connection.sendDiagnostics({ uri, diagnostics: [] });
    return uri;
  }
  const { root } = workspaces.forFile(file);
  // The version this pass sees: a newer edit aborts the pass before it publishes.
  const version = doc?.version;
  let result: DiagnoseResult | undefined;
  // One retry: a diagnostics worker that died mid-pass is restarted by the next call. A file
  // that still cannot be checked keeps its previous diagnostics rather than a false all-clear.
  for (let attempt = 0; attempt < 2 && !result; attempt++) {
    try {
      result = await state.ctx.diagnosis.diagnose(root, file, signal);
    } catch (e) {
      if (signal.aborted) return undefined;
      log.error(`diagnostics for ${file} failed${attempt === 0 ? "; retrying" : ""}`, e);
    }
  }
  if (signal.aborted || !result) return undefined;
  if (result.promptContract) state.checkedAgainst.set(file, result.promptContract);
  else state.checkedAgainst.delete(file);
  const lsp = result.diagnostics.filter((d) => d.file === file || !d.file).map(toLspDiagnostic);
  state.published.add(uri);
  await connection.sendDiagnostics({ uri, version, diagnostics: lsp });
  return uri;
}

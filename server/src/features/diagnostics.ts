// Diagnostics: debounced per document, cancellable (a newer edit aborts the older pass before it
// publishes), dependents re-checked after a longer delay, and every artifact in the workspace
// checked once at startup in the background so closed files show up in the Problems panel too.
// The pieces live under diagnostics/: state.ts (what the passes share), publish.ts (one file's
// pass), schedule.ts (debounced passes over a file and its dependents), scan.ts (whole folders).
import type { TextDocument } from "vscode-languageserver-textdocument";
import { artifactKind } from "../artifacts/types";
import type { FeatureContext } from "./support/context";
import { pathToUri, uriToPath } from "./support/workspaces";
import { forgetRemovedFolders, scheduleScan } from "./diagnostics/scan";
import { scheduleDependents, scheduleFile } from "./diagnostics/schedule";
import { DiagnosticsState } from "./diagnostics/state";

export { BACKGROUND_FILE_BYTES, BACKGROUND_SCAN_BYTES } from "./diagnostics/state";

export function register(ctx: FeatureContext): void {
  const state = new DiagnosticsState(ctx);
  ctx.events.onDocumentChange((doc) => onDocumentChange(state, doc));
  ctx.events.onDocumentClose((doc) => onDocumentClose(state, doc));
  ctx.events.onFilesChanged((files) => onFilesChanged(state, files));
  ctx.tokenCounter.onLateCount(() => onLateCount(state));
  ctx.events.onSettingsChange(() => onSettingsChange(state));
  ctx.events.onReady(() => onReady(state));
  ctx.events.onFoldersChanged((added, removed) => onFoldersChanged(state, added, removed));
}

/** An open document changed: re-check it, then its dependents. */
function onDocumentChange(state: DiagnosticsState, doc: TextDocument): void {
  const file = uriToPath(doc.uri);
  if (file && artifactKind(file) !== "unknown") scheduleFile(state, file, "document", true);
}

/** A document was closed: what is on disk is now the truth for this file and its dependents. */
function onDocumentClose(state: DiagnosticsState, doc: TextDocument): void {
  const file = uriToPath(doc.uri);
  if (!file || artifactKind(file) === "unknown") return;
  // The overlay is gone: what is on disk is now the truth for this file and its dependents.
  scheduleFile(state, file, "document", true);
}

/** Files changed on disk: re-check those not open, and whatever reads models and other files. */
function onFilesChanged(state: DiagnosticsState, files: string[]): void {
  for (const file of files) {
    // A model or adapter file changed: everything that reads GGUF headers may change.
    if (file.toLowerCase().endsWith(".gguf")) {
      scheduleDependents(state, file);
      continue;
    }
    if (artifactKind(file) === "unknown") {
      // Maybe a file an adopted file reads (a promptfoo test CSV, a Prompty sample).
      scheduleDependents(state, file);
      continue;
    }
    if (state.ctx.documents.get(pathToUri(file))) continue; // the open buffer wins over disk
    scheduleFile(state, file, "document", true);
  }
}

/** A real token count arrived after a pass used the estimate: re-check the open prompts. */
function onLateCount(state: DiagnosticsState): void {
  for (const doc of state.ctx.documents.all()) {
    const file = uriToPath(doc.uri);
    if (file && artifactKind(file) === "prompt") scheduleFile(state, file, "document", false);
  }
}

/** The editor's gate settings change what eval-set checks say (DL309): re-check the open eval sets. */
function onSettingsChange(state: DiagnosticsState): void {
  for (const doc of state.ctx.documents.all()) {
    const file = uriToPath(doc.uri);
    if (file && artifactKind(file) === "evalset") scheduleFile(state, file, "document", false);
  }
}

/** The server is ready: scan every folder in the background (unless the setting says not to). */
function onReady(state: DiagnosticsState): void {
  if (!state.ctx.settings().scanOnStartup) return;
  scheduleScan(state, "startup-scan", () => state.ctx.workspaces.all());
}

/** Folders were added or removed: clear the removed ones' files, scan the added ones. */
function onFoldersChanged(state: DiagnosticsState, added: string[], removed: string[]): void {
  forgetRemovedFolders(state, removed);
  if (!state.ctx.settings().scanOnStartup || added.length === 0) return;
  const entries = state.ctx.workspaces.folderEntries().filter((e) => added.includes(e.root));
  scheduleScan(state, `scan:${added.join("|")}`, () => entries);
}

// Background passes over whole workspace folders (at startup and when folders are added), and
// clearing what was published for folders that were removed.
import path from "node:path";
import { yieldToLoop } from "../support/scheduler";
import { pathToUri, uriToPath } from "../support/workspaces";
import type { FeatureContext } from "../support/context";
import { diagnoseAndPublish } from "./publish";
import { BACKGROUND_SCAN_BYTES, fileSize, type DiagnosticsState } from "./state";

type FolderEntries = ReturnType<FeatureContext["workspaces"]["all"]>;

/** Diagnoses every artifact of the given workspace folders that is not open, one at a time. */
export async function scan(state: DiagnosticsState, entries: FolderEntries, signal: AbortSignal): Promise<string[] | undefined> {
  const { documents, workspaces, log } = state.ctx;
  const uris: string[] = [];
  let budget = BACKGROUND_SCAN_BYTES;
  for (const entry of entries) {
    const { ws, isFolder } = entry;
    if (!isFolder) continue;
    let files: string[] = [];
    try {
      files = await ws.listArtifacts();
    } catch (e) {
      log.error("listing workspace artifacts failed", e);
    }
    for (const file of files) {
      if (signal.aborted) return undefined;
      // Open documents get their own (newer) pass; one file at a time keeps requests flowing.
      if (documents.get(pathToUri(file))) continue;
      // A nested workspace folder owns its own files.
      if (workspaces.forFile(file) !== entry) continue;
      const size = fileSize(file);
      if (size > budget) {
        state.skippedLarge(file);
        continue;
      }
      budget -= size;
      await yieldToLoop();
      const done = await diagnoseAndPublish(state, file, signal);
      if (done) uris.push(done);
    }
  }
  return uris;
}

/** Schedules a background scan of the folders `entries` gives when it starts, announced as "startup-scan" when it settles. */
export function scheduleScan(state: DiagnosticsState, key: string, entries: () => FolderEntries): void {
  state.ctx.scheduler.schedule(key, 0, async (signal) => {
    const uris = await scan(state, entries(), signal);
    if (uris) state.settled({ reason: "startup-scan", uris });
  });
}

/** Files of a removed folder are no longer this server's to report (unless open): clears them. */
export function forgetRemovedFolders(state: DiagnosticsState, removed: string[]): void {
  const { connection, documents, workspaces } = state.ctx;
  for (const root of removed) {
    for (const uri of [...state.published]) {
      const file = uriToPath(uri);
      if (!file || documents.get(uri)) continue;
      const rel = path.relative(root, file);
      if (rel.startsWith("..") || path.isAbsolute(rel)) continue;
      if (workspaces.folderEntries().some((f) => !path.relative(f.root, file).startsWith(".."))) continue;
      state.published.delete(uri);
      state.checkedAgainst.delete(file);
      void connection.sendDiagnostics({ uri, diagnostics: [] });
    }
  }
}

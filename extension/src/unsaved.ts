// Which open documents hold Driftlens artifact edits a run would not see: runs (and eval deltas)
// read the files on disk, so before one starts the extension saves these (setting
// `driftlens.run.saveBeforeRun`, like VS Code's own `debug.saveBeforeStart`). No vscode import:
// unit-tested on plain objects.
import { artifactKind } from "../../server/src/artifacts/types";

/** The parts of a vscode.TextDocument this needs. */
export interface DocLike {
  readonly isDirty: boolean;
  readonly isUntitled: boolean;
  readonly uri: { readonly scheme: string; readonly fsPath: string };
}

/**
 * Open, modified, file-backed prompts (partials included), eval sets, adapter configs and
 * driftlens.yaml. Untitled documents are left out: saving them asks for a name, and no run reads
 * them anyway.
 */
export function unsavedArtifacts<D extends DocLike>(docs: readonly D[]): D[] {
  return docs.filter((d) => d.isDirty && !d.isUntitled && d.uri.scheme === "file" && artifactKind(d.uri.fsPath) !== "unknown");
}

/** One line for a run whose unsaved edits were not saved: which files, and what to do. */
export function unsavedMessage(files: readonly string[], why: "setting" | "save-failed"): string {
  const shown = files.slice(0, 3).join(", ") + (files.length > 3 ? ` and ${files.length - 3} more` : "");
  return why === "setting"
    ? `Driftlens runs read files on disk: the unsaved edits in ${shown} are not part of this run (driftlens.run.saveBeforeRun is "none"). Save them to include them.`
    : `Driftlens could not save ${shown}: this run uses what is on disk. Save the file${files.length > 1 ? "s" : ""} and run again to include your edits.`;
}

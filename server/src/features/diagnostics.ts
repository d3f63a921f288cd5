// Diagnostics: debounced per document, cancellable (a newer edit aborts the older pass before it
// publishes), dependents re-checked after a longer delay, and every artifact in the workspace
// checked once at startup in the background so closed files show up in the Problems panel too.
import fs from "node:fs";
import path from "node:path";
import type { FeatureContext } from "./support/context";
import { toLspDiagnostic } from "./support/convert";
import { yieldToLoop } from "./support/scheduler";
import { pathToUri, uriToPath } from "./support/workspaces";
import { artifactKind } from "../artifacts/types";
import type { DiagnoseResult } from "./support/diagnosis";
import { DiagnosticsSettledMethod, type DiagnosticsSettled } from "../protocol/lsp";

/**
 * What the server diagnoses without being asked (the startup scan, files changed on disk,
 * dependents of an edit): files not open in the editor up to this size, and up to this much in
 * all per scan. Larger ones are diagnosed when opened (or with `driftlens check`): a background
 * check of a 10 MB eval set would cost hundreds of megabytes and seconds of a worker's time.
 */
export const BACKGROUND_FILE_BYTES = 4 * 1024 * 1024;
export const BACKGROUND_SCAN_BYTES = 64 * 1024 * 1024;

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

export function register(ctx: FeatureContext): void {
  const { connection, documents, workspaces, log, scheduler, events } = ctx;
  /** Files whose last publish was non-empty or came from a scan: cleared when deleted. */
  const published = new Set<string>();

  const settled = (p: DiagnosticsSettled) => void connection.sendNotification(DiagnosticsSettledMethod, p);
  const skipped = new Set<string>();
  const skippedLarge = (file: string) => {
    if (skipped.has(file)) return;
    skipped.add(file);
    log.info(`${file} is larger than ${BACKGROUND_FILE_BYTES / 2 ** 20} MiB: diagnosed when opened (or run 'driftlens check' on it)`);
  };

  /**
   * For each eval set: the prompt contract (input schema, inputs, listed eval sets) its published
   * diagnostics were computed against. A prompt edit re-checks only the eval sets whose recorded
   * contract differs from the prompt's current one, so a body edit never re-checks a 5,000-case
   * file, and no interleaving of edits can leave an eval set checked against a stale schema.
   */
  const checkedAgainst = new Map<string, { prompt: string; key: string }>();

  /** Diagnoses one file and publishes the result unless the pass was aborted meanwhile. */
  async function diagnoseAndPublish(file: string, signal: AbortSignal): Promise<string | undefined> {
    const uri = pathToUri(file);
    const doc = documents.get(uri);
    // A closed file too large for a background check waits until it is opened.
    if (!doc && fileSize(file) > BACKGROUND_FILE_BYTES) {
      skippedLarge(file);
      return undefined;
    }
    if (!doc && !fs.existsSync(file)) {
      checkedAgainst.delete(file);
      if (published.delete(uri)) await connection.sendDiagnostics({ uri, diagnostics: [] });
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
        result = await ctx.diagnosis.diagnose(root, file, signal);
      } catch (e) {
        if (signal.aborted) return undefined;
        log.error(`diagnostics for ${file} failed${attempt === 0 ? "; retrying" : ""}`, e);
      }
    }
    if (signal.aborted || !result) return undefined;
    if (result.promptContract) checkedAgainst.set(file, result.promptContract);
    else checkedAgainst.delete(file);
    const lsp = result.diagnostics.filter((d) => d.file === file || !d.file).map(toLspDiagnostic);
    published.add(uri);
    await connection.sendDiagnostics({ uri, version, diagnostics: lsp });
    return uri;
  }

  function scheduleFile(file: string, reason: "document", withDependents: boolean): void {
    const uri = pathToUri(file);
    scheduler.schedule(`diag:${uri}`, ctx.settings().diagnosticsDebounceMs, async (signal) => {
      const done = await diagnoseAndPublish(file, signal);
      if (done) settled({ reason, uris: [done] });
      if (withDependents && !signal.aborted) scheduleDependents(file);
    });
  }

  function scheduleDependents(file: string): void {
    const uri = pathToUri(file);
    scheduler.schedule(`deps:${uri}`, ctx.settings().dependentsDebounceMs, async (signal) => {
      let deps: string[] = [];
      try {
        deps = await ctx.diagnosis.dependents(workspaces.forFile(file).root, file);
      } catch (e) {
        log.error(`dependents of ${file} failed`, e);
      }
      // A (non-partial) prompt's dependents are its eval sets: skip those already checked
      // against the prompt's current contract.
      if (artifactKind(file) === "prompt" && !path.basename(file).startsWith("_") && deps.length) {
        let key: string | undefined;
        try {
          key = await ctx.diagnosis.promptContract(workspaces.forFile(file).root, file);
        } catch {
          key = undefined;
        }
        if (signal.aborted) return;
        deps = deps.filter((d) => {
          const seen = checkedAgainst.get(d);
          return key === undefined || !seen || seen.prompt !== file || seen.key !== key;
        });
      }
      const uris: string[] = [];
      for (const dep of deps) {
        if (signal.aborted) return;
        await yieldToLoop();
        const done = await diagnoseAndPublish(dep, signal);
        if (done) uris.push(done);
      }
      if (uris.length) settled({ reason: "document", uris });
    });
  }

  events.onDocumentChange((doc) => {
    const file = uriToPath(doc.uri);
    if (file && artifactKind(file) !== "unknown") scheduleFile(file, "document", true);
  });

  events.onDocumentClose((doc) => {
    const file = uriToPath(doc.uri);
    if (!file || artifactKind(file) === "unknown") return;
    // The overlay is gone: what is on disk is now the truth for this file and its dependents.
    scheduleFile(file, "document", true);
  });

  events.onFilesChanged((files) => {
    for (const file of files) {
      // A model or adapter file changed: everything that reads GGUF headers may change.
      if (file.toLowerCase().endsWith(".gguf")) {
        scheduleDependents(file);
        continue;
      }
      if (artifactKind(file) === "unknown") {
        // Maybe a file an adopted file reads (a promptfoo test CSV, a Prompty sample).
        scheduleDependents(file);
        continue;
      }
      if (documents.get(pathToUri(file))) continue; // the open buffer wins over disk
      scheduleFile(file, "document", true);
    }
  });

  // The editor's gate settings change what eval-set checks say (DL309): re-check the open eval sets.
  events.onSettingsChange(() => {
    for (const doc of documents.all()) {
      const file = uriToPath(doc.uri);
      if (file && artifactKind(file) === "evalset") scheduleFile(file, "document", false);
    }
  });

  // A real token count arrived after a pass used the estimate: re-check the open prompts.
  ctx.tokenCounter.onLateCount(() => {
    for (const doc of documents.all()) {
      const file = uriToPath(doc.uri);
      if (file && artifactKind(file) === "prompt") scheduleFile(file, "document", false);
    }
  });

  /** Diagnoses every artifact of the given workspace folders that is not open, one at a time. */
  async function scan(entries: ReturnType<typeof workspaces.all>, signal: AbortSignal): Promise<string[] | undefined> {
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
          skippedLarge(file);
          continue;
        }
        budget -= size;
        await yieldToLoop();
        const done = await diagnoseAndPublish(file, signal);
        if (done) uris.push(done);
      }
    }
    return uris;
  }

  events.onReady(() => {
    if (!ctx.settings().scanOnStartup) return;
    scheduler.schedule("startup-scan", 0, async (signal) => {
      const uris = await scan(workspaces.all(), signal);
      if (uris) settled({ reason: "startup-scan", uris });
    });
  });

  events.onFoldersChanged((added, removed) => {
    // Files of a removed folder are no longer this server's to report (unless open).
    for (const root of removed) {
      for (const uri of [...published]) {
        const file = uriToPath(uri);
        if (!file || documents.get(uri)) continue;
        const rel = path.relative(root, file);
        if (rel.startsWith("..") || path.isAbsolute(rel)) continue;
        if (workspaces.folderEntries().some((f) => !path.relative(f.root, file).startsWith(".."))) continue;
        published.delete(uri);
        checkedAgainst.delete(file);
        void connection.sendDiagnostics({ uri, diagnostics: [] });
      }
    }
    if (!ctx.settings().scanOnStartup || added.length === 0) return;
    const entries = workspaces.folderEntries().filter((e) => added.includes(e.root));
    scheduler.schedule(`scan:${added.join("|")}`, 0, async (signal) => {
      const uris = await scan(entries, signal);
      if (uris) settled({ reason: "startup-scan", uris });
    });
  });
}

// Diagnostics: debounced per document, cancellable (a newer edit aborts the older pass before it
// publishes), dependents re-checked after a longer delay, and every artifact in the workspace
// checked once at startup in the background so closed files show up in the Problems panel too.
import fs from "node:fs";
import path from "node:path";
import type { FeatureContext } from "./support/context";
import { toLspDiagnostic } from "./support/convert";
import { yieldToLoop } from "./support/scheduler";
import { pathToUri, uriToPath } from "./support/workspaces";
import { artifactKind, type Diagnostic } from "../artifacts/types";
import { DiagnosticsSettledMethod, type DiagnosticsSettled } from "../protocol/lsp";

export function register(ctx: FeatureContext): void {
  const { connection, documents, workspaces, log, scheduler, events } = ctx;
  /** Files whose last publish was non-empty or came from a scan: cleared when deleted. */
  const published = new Set<string>();

  const settled = (p: DiagnosticsSettled) => void connection.sendNotification(DiagnosticsSettledMethod, p);

  /** Diagnoses one file and publishes the result unless the pass was aborted meanwhile. */
  async function diagnoseAndPublish(file: string, signal: AbortSignal): Promise<string | undefined> {
    const uri = pathToUri(file);
    const doc = documents.get(uri);
    if (!doc && !fs.existsSync(file)) {
      if (published.delete(uri)) await connection.sendDiagnostics({ uri, diagnostics: [] });
      return uri;
    }
    const { root } = workspaces.forFile(file);
    // The version this pass sees: a newer edit aborts the pass before it publishes.
    const version = doc?.version;
    let diags: Diagnostic[];
    try {
      diags = await ctx.diagnosis.diagnose(root, file, signal);
    } catch (e) {
      if (signal.aborted) return undefined;
      log.error(`diagnostics for ${file} failed`, e);
      diags = [];
    }
    if (signal.aborted) return undefined;
    const lsp = diags.filter((d) => d.file === file || !d.file).map(toLspDiagnostic);
    published.add(uri);
    await connection.sendDiagnostics({ uri, version, diagnostics: lsp });
    return uri;
  }

  /**
   * What of a prompt its eval sets depend on: the input schema and the eval sets it lists. Only a
   * change there re-checks the eval sets (a body edit does not touch a 5,000-case file).
   */
  const promptKeys = new Map<string, string>();
  async function promptContractChanged(file: string): Promise<boolean> {
    let key = "";
    try {
      key = await ctx.diagnosis.promptContract(workspaces.forFile(file).root, file);
    } catch {
      // unreadable: treat as changed
    }
    const before = promptKeys.get(file);
    promptKeys.set(file, key);
    return before !== key;
  }

  function scheduleFile(file: string, reason: "document", withDependents: boolean): void {
    const uri = pathToUri(file);
    scheduler.schedule(`diag:${uri}`, ctx.settings().diagnosticsDebounceMs, async (signal) => {
      const done = await diagnoseAndPublish(file, signal);
      if (done) settled({ reason, uris: [done] });
      if (!withDependents || signal.aborted) return;
      const kind = artifactKind(file);
      const isPartial = path.basename(file).startsWith("_");
      if (kind !== "prompt" || isPartial || (await promptContractChanged(file))) scheduleDependents(file);
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
      if (artifactKind(file) === "unknown") continue;
      if (documents.get(pathToUri(file))) continue; // the open buffer wins over disk
      scheduleFile(file, "document", true);
    }
  });

  // A real token count arrived after a pass used the estimate: re-check the open prompts.
  ctx.tokenCounter.onLateCount(() => {
    for (const doc of documents.all()) {
      const file = uriToPath(doc.uri);
      if (file && artifactKind(file) === "prompt") scheduleFile(file, "document", false);
    }
  });

  events.onReady(() => {
    if (!ctx.settings().scanOnStartup) return;
    scheduler.schedule("startup-scan", 0, async (signal) => {
      const uris: string[] = [];
      for (const entry of workspaces.all()) {
        const { ws, isFolder } = entry;
        if (!isFolder) continue;
        let files: string[] = [];
        try {
          files = await ws.listArtifacts();
        } catch (e) {
          log.error("listing workspace artifacts failed", e);
        }
        for (const file of files) {
          if (signal.aborted) return;
          // Open documents get their own (newer) pass; one file at a time keeps requests flowing.
          if (documents.get(pathToUri(file))) continue;
          // A nested workspace folder owns its own files.
          if (workspaces.forFile(file) !== entry) continue;
          await yieldToLoop();
          const done = await diagnoseAndPublish(file, signal);
          if (done) uris.push(done);
          if (artifactKind(file) === "prompt") await promptContractChanged(file);
        }
      }
      settled({ reason: "startup-scan", uris });
    });
  });
}

// The language server's core (dist/server-core.js), loaded by server.ts once the client has its
// initialize answer: owns one artifact Workspace per workspace folder, keeps overlays in step
// with the open documents, and registers every feature listed in features/index.ts. Logs go to
// connection.console only: stdout is the protocol. The same bundle runs the diagnostics worker
// thread (features/support/diagnosis.ts).
import {
  DidChangeWatchedFilesNotification,
  FileChangeType,
  type ClientCapabilities,
  type Connection,
  type InitializeParams,
  type TextDocuments,
} from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import path from "node:path";
import { isMainThread, workerData } from "node:worker_threads";
import { features } from "./features/index";
import { createWorkspace, type ServerWorkspace } from "./features/support/artifact-bridge";
import type { FeatureContext, Logger, ServerEvents } from "./features/support/context";
import { InThreadDiagnosis, WorkerDiagnosis, type DiagnosisService } from "./features/support/diagnosis";
import { runDiagnosisWorker } from "./features/support/diagnosis-worker";
import { createScheduler } from "./features/support/scheduler";
import { TokenCounter } from "./features/support/token-counter";
import { uriToPath, WorkspaceManager } from "./features/support/workspaces";
import { parseServerSettings, type ServerSettings } from "./protocol/settings";

/**
 * Starts the core on a connection whose initialize request server.ts has already answered, with
 * that request's params. Runs inside the `initialized` notification, synchronously, so every
 * handler is registered before the client's next message (didOpen, requests) is dispatched.
 */
export function startCore(connection: Connection, documents: TextDocuments<TextDocument>, params: InitializeParams): void {
  const log = connectionLogger(connection);

  // Last-resort guards: a bug in one handler must not take the server down with it.
  process.on("uncaughtException", (e) => log.error("uncaught exception", e));
  process.on("unhandledRejection", (e) => log.error("unhandled rejection", e));

  const clientCaps: ClientCapabilities = params.capabilities;
  const { events, emit } = createEvents(log);
  // Set before a listener hears of new settings: re-checks then see the new effective config.
  let diagnosisRef: DiagnosisService | undefined;
  const settings = settingsHolder(connection, clientCaps, log, (s) => {
    diagnosisRef?.setConfigOverrides(s);
    emit("onSettingsChange", s);
  });
  const tokenCounter = new TokenCounter({
    log,
    enabled: () => settings.current().tokenCount === "model",
    delayMs: () => settings.current().tokenCountDebounceMs,
    // Vocabulary-only loads: no GPU and one thread are enough, and never llama.cpp's default threads.
    engineSettings: () => {
      const threads = settings.current().engineThreads;
      return { gpu: "cpu", threads: threads === "auto" ? 1 : threads, contextSize: 512, parallelSequences: 1, memoryBudgetBytes: 512 * 1024 * 1024 };
    },
  });
  const workspaces = new WorkspaceManager<ServerWorkspace>((root) => createWorkspace(root, tokenCounter.count));
  const diagnosis = startDiagnosis(workspaces, tokenCounter, log);
  diagnosisRef = diagnosis;
  const scheduler = createScheduler((key, e) => log.error(`background job ${key} failed`, e));

  const ctx: FeatureContext<ServerWorkspace> = {
    connection,
    documents,
    workspaces,
    log,
    settings: settings.current,
    scheduler,
    events,
    clientCapabilities: () => clientCaps,
    tokenCounter,
    diagnosis,
    trusted: clientSaysTrusted(params),
  };

  for (const f of features) {
    try {
      f.register(ctx);
    } catch (e) {
      log.error("a language server feature failed to register", e);
    }
  }

  settings.apply(params.initializationOptions, false);
  diagnosis.setConfigOverrides(settings.current());
  workspaces.setFolders(initialRoots(params));
  watchFilesAndFolders(connection, clientCaps, workspaces, log, emit);
  trackDocuments(documents, workspaces, diagnosis, log, emit);
  connection.onDidChangeConfiguration((p) => {
    if (clientCaps.workspace?.configuration) void settings.pull();
    else settings.apply(p.settings, true);
  });
  connection.onShutdown(async () => {
    scheduler.dispose();
    await diagnosis.dispose().catch((e) => log.error("stopping the diagnostics worker failed", e));
    await tokenCounter.dispose().catch((e) => log.error("stopping the engine worker failed", e));
  });

  log.info(`driftlens language server ready; diagnostics run on the ${diagnosis.mode === "worker" ? "diagnostics worker thread" : "main thread"}`);
  void settings.pull().finally(() => emit("onReady"));
}

/** Logs through connection.console (stdout is the protocol); stacks only with DRIFTLENS_DEBUG. */
function connectionLogger(connection: Connection): Logger {
  return {
    info: (m) => connection.console.info(m),
    warn: (m) => connection.console.warn(m),
    error: (m, e) => {
      const detail = e instanceof Error ? `: ${e.message}` : e === undefined ? "" : `: ${String(e)}`;
      connection.console.error(`${m}${detail}`);
      if (process.env.DRIFTLENS_DEBUG && e instanceof Error && e.stack) connection.console.log(e.stack);
    },
  };
}

type Listeners = { [K in keyof ServerEvents]: Parameters<ServerEvents[K]>[0][] };
type Emit = <K extends keyof Listeners>(name: K, ...args: Parameters<Listeners[K][number]>) => void;

/** The lifecycle events features subscribe to, and `emit`, which isolates each listener's failure. */
function createEvents(log: Logger): { events: ServerEvents; emit: Emit } {
  const listeners: Listeners = { onReady: [], onDocumentChange: [], onDocumentClose: [], onFilesChanged: [], onFoldersChanged: [], onSettingsChange: [] };
  const events: ServerEvents = {
    onReady: (fn) => void listeners.onReady.push(fn),
    onDocumentChange: (fn) => void listeners.onDocumentChange.push(fn),
    onDocumentClose: (fn) => void listeners.onDocumentClose.push(fn),
    onFilesChanged: (fn) => void listeners.onFilesChanged.push(fn),
    onFoldersChanged: (fn) => void listeners.onFoldersChanged.push(fn),
    onSettingsChange: (fn) => void listeners.onSettingsChange.push(fn),
  };
  const emit: Emit = (name, ...args) => {
    for (const fn of listeners[name] as ((...a: unknown[]) => unknown)[]) {
      try {
        const r = fn(...args);
        if (r instanceof Promise) r.catch((e) => log.error(`${name} listener failed`, e));
      } catch (e) {
        log.error(`${name} listener failed`, e);
      }
    }
  };
  return { events, emit };
}

/** The current `driftlens` settings: set from initializationOptions, pulled or pushed on change. */
function settingsHolder(connection: Connection, clientCaps: ClientCapabilities, log: Logger, changed: (s: ServerSettings) => void) {
  let settings: ServerSettings = parseServerSettings(undefined).settings;
  /** Takes the `driftlens` settings section (or an object holding it under `driftlens`). */
  function apply(raw: unknown, notify: boolean): void {
    const obj = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
    const section = obj.driftlens && typeof obj.driftlens === "object" ? obj.driftlens : obj;
    const parsed = parseServerSettings(section);
    settings = parsed.settings;
    for (const p of parsed.problems) log.warn(`setting ignored: ${p}`);
    if (notify) changed(settings);
  }
  /** Pulls the `driftlens` section when the client supports workspace/configuration. */
  async function pull(): Promise<void> {
    if (!clientCaps.workspace?.configuration) return;
    try {
      const [section] = await connection.workspace.getConfiguration([{ section: "driftlens" }]);
      if (section && typeof section === "object") apply(section, true);
    } catch (e) {
      log.warn(`could not read the driftlens settings: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { current: (): ServerSettings => settings, apply, pull };
}

/** Diagnoses on a worker thread (the launcher dist/server.js loads this bundle there), else in this thread. */
function startDiagnosis(workspaces: WorkspaceManager<ServerWorkspace>, tokenCounter: TokenCounter, log: Logger): DiagnosisService {
  const inThread = new InThreadDiagnosis(workspaces);
  if (process.env.DRIFTLENS_DIAGNOSTICS_THREAD === "main") return inThread;
  try {
    return new WorkerDiagnosis(path.join(__dirname, "server.js"), inThread, tokenCounter, log);
  } catch (e) {
    log.error("could not start the diagnostics worker; diagnosing on the main thread", e);
    return inThread;
  }
}

/** The workspace folders of the initialize request, or its rootUri when it names none. */
function initialRoots(params: InitializeParams): string[] {
  const roots: string[] = [];
  for (const f of params.workspaceFolders ?? []) {
    const p = uriToPath(f.uri);
    if (p) roots.push(p);
  }
  if (roots.length === 0 && params.rootUri) {
    const p = uriToPath(params.rootUri);
    if (p) roots.push(p);
  }
  return roots;
}

/** Registers the artifact file watchers and follows files changed on disk and folders added or removed. */
function watchFilesAndFolders(connection: Connection, clientCaps: ClientCapabilities, workspaces: WorkspaceManager<ServerWorkspace>, log: Logger, emit: Emit): void {
  if (clientCaps.workspace?.didChangeWatchedFiles?.dynamicRegistration) {
    void connection.client
      .register(DidChangeWatchedFilesNotification.type, {
        // Adopted files' references (test CSVs, prompt files, samples) are watched too: their
        // dependents (the promptfoo config, the Prompty file) are re-checked when they change.
        watchers: [{ globPattern: "**/{*.prompt,*.eval.yaml,*.eval.yml,*.eval.jsonl,*.adapter.yaml,*.adapter.yml,driftlens.yaml,driftlens.yml,*.gguf,*.prompty,*.csv,*.txt,*.json,*.jsonl,*.yaml,*.yml,*.md,*.j2}" }],
      })
      .catch((e) => log.warn(`could not register file watchers: ${e instanceof Error ? e.message : e}`));
  }
  if (clientCaps.workspace?.workspaceFolders) {
    connection.workspace.onDidChangeWorkspaceFolders((ev) => {
      const removed: string[] = [];
      const added: string[] = [];
      for (const r of ev.removed) {
        const p = uriToPath(r.uri);
        if (p) {
          workspaces.removeFolder(p);
          removed.push(p);
        }
      }
      for (const a of ev.added) {
        const p = uriToPath(a.uri);
        if (p) added.push(workspaces.addFolder(p).root);
      }
      emit("onFoldersChanged", added, removed);
    });
  }
  connection.onDidChangeWatchedFiles((p) => {
    const files: string[] = [];
    for (const c of p.changes) {
      const file = uriToPath(c.uri);
      if (!file) continue;
      // A changed file on disk is not an overlay; tell its workspace nothing changed in memory.
      if (c.type === FileChangeType.Deleted || c.type === FileChangeType.Changed || c.type === FileChangeType.Created) files.push(file);
    }
    if (files.length) emit("onFilesChanged", files);
  });
}

/** Keeps each workspace's overlays (and the diagnostics worker's) in step with the open documents. */
function trackDocuments(documents: TextDocuments<TextDocument>, workspaces: WorkspaceManager<ServerWorkspace>, diagnosis: DiagnosisService, log: Logger, emit: Emit): void {
  function setOverlay(doc: TextDocument, text: string | undefined): void {
    const file = uriToPath(doc.uri);
    if (!file) return;
    try {
      const entry = workspaces.forFile(file);
      entry.ws.setOverlay(file, text);
      diagnosis.setOverlay(entry.root, file, text);
    } catch (e) {
      log.error(`could not update ${file}`, e);
    }
  }
  const openVersions = new Map<string, number>();
  documents.onDidOpen((e) => {
    openVersions.set(e.document.uri, e.document.version);
    setOverlay(e.document, e.document.getText());
    emit("onDocumentChange", e.document, "open");
  });
  documents.onDidChangeContent((e) => {
    // onDidChangeContent also fires on open; the open handler above already covered that version.
    if (e.document.version === openVersions.get(e.document.uri)) return;
    setOverlay(e.document, e.document.getText());
    emit("onDocumentChange", e.document, "change");
  });
  documents.onDidClose((e) => {
    openVersions.delete(e.document.uri);
    setOverlay(e.document, undefined);
    emit("onDocumentClose", e.document);
  });
}

/**
 * Trust is the client's to grant: `initializationOptions.trusted === true` (the extension sends
 * VS Code's workspace trust there) or DRIFTLENS_TRUSTED=1 in the server's environment. A client
 * that says nothing gets an untrusted server.
 */
export function clientSaysTrusted(params: InitializeParams): boolean {
  const o = params.initializationOptions as { trusted?: unknown } | null | undefined;
  return o?.trusted === true || process.env.DRIFTLENS_TRUSTED === "1";
}

// The diagnostics worker thread (started on dist/server.js with `workerData.driftlensDiagnosis`)
// loads this bundle and runs the worker.
if (!isMainThread && (workerData as { driftlensDiagnosis?: boolean } | null)?.driftlensDiagnosis) runDiagnosisWorker();

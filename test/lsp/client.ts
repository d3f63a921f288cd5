// A small LSP client for tests and benchmarks: forks the bundled language server
// (dist/server.js --stdio), initializes it, and speaks the protocol with
// vscode-languageserver-protocol's node connection. Reusable by any test that needs the real server.
//
//   const c = await LspClient.start({ folders: [dir] });
//   const uri = await c.open(path.join(dir, "a.prompt"));
//   const diags = await c.waitForDiagnostics(uri);
//   await c.stop();
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import {
  CompletionRequest,
  createProtocolConnection,
  DefinitionRequest,
  DidChangeTextDocumentNotification,
  DidChangeWatchedFilesNotification,
  FileChangeType,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  DocumentSymbolRequest,
  ExitNotification,
  HoverRequest,
  InitializedNotification,
  InitializeRequest,
  LogMessageNotification,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  type CompletionItem,
  type CompletionList,
  type Definition,
  type Diagnostic,
  type DocumentSymbol,
  type Hover,
  type InitializeResult,
  type Location,
  type LocationLink,
  type Position,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
  type Range,
  type SymbolInformation,
} from "vscode-languageserver-protocol/node";
import { DIST } from "../helpers/paths";

export interface StartOptions {
  /** Workspace folders (absolute paths). None: the server makes a workspace per file's directory. */
  folders?: string[];
  /** Sent as initializationOptions (server settings, see server/src/protocol/settings.ts). */
  settings?: Record<string, unknown>;
  /** Defaults to dist/server.js. */
  serverPath?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** The server's whole environment instead (e.g. the one the extension builds: serverEnvironment). */
  exactEnv?: NodeJS.ProcessEnv;
  /** Extra node flags (e.g. --expose-gc). */
  execArgv?: string[];
}

export function fileUri(file: string): string {
  return pathToFileURL(file).href;
}

export function languageIdFor(file: string): string {
  const base = path.basename(file);
  if (base.endsWith(".prompt")) return "driftlens-prompt";
  if (/\.eval\.jsonl$/.test(base)) return "driftlens-eval-jsonl";
  if (/\.eval\.ya?ml$/.test(base)) return "driftlens-eval";
  if (/\.adapter\.ya?ml$/.test(base)) return "driftlens-adapter";
  if (/^driftlens\.ya?ml$/.test(base)) return "driftlens-config";
  return "plaintext";
}

/** A published diagnostic with its message as plain text (the protocol also allows markup). */
export type ClientDiagnostic = Omit<Diagnostic, "message"> & { message: string };

/** publishDiagnostics params with plain-text messages. */
export interface Published {
  uri: string;
  version?: number;
  diagnostics: ClientDiagnostic[];
}

interface DiagWaiter {
  uri: string;
  pred: (p: Published) => boolean;
  resolve: (p: Published) => void;
}

export class LspClient {
  readonly logs: string[] = [];
  /** Latest publishDiagnostics per URI. */
  readonly published = new Map<string, Published>();
  /** Every publishDiagnostics with its arrival time (performance.now()). */
  readonly publishLog: { at: number; params: Published }[] = [];
  private waiters: DiagWaiter[] = [];
  private notificationWaiters: { method: string; pred: (p: unknown) => boolean; resolve: (p: unknown) => void }[] = [];
  private versions = new Map<string, number>();
  private texts = new Map<string, string>();
  private exited = false;
  stderr = "";

  private constructor(
    readonly proc: ChildProcess,
    readonly conn: ProtocolConnection,
    public initializeResult: InitializeResult,
  ) {}

  static async start(opts: StartOptions = {}): Promise<LspClient> {
    const serverPath = opts.serverPath ?? path.join(DIST, "server.js");
    if (!fs.existsSync(serverPath)) throw new Error(`${serverPath} is missing: build first (node esbuild.config.mjs)`);
    const proc = spawn(process.execPath, [...(opts.execArgv ?? []), serverPath, "--stdio"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: opts.exactEnv ?? { ...process.env, ...opts.env },
    });
    const conn = createProtocolConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
    const client = new LspClient(proc, conn, { capabilities: {} });
    proc.stderr!.on("data", (d: Buffer) => {
      client.stderr += d.toString();
    });
    proc.on("exit", () => {
      client.exited = true;
    });
    conn.onNotification(LogMessageNotification.type, (p) => void client.logs.push(p.message));
    conn.onNotification(PublishDiagnosticsNotification.type, (raw: PublishDiagnosticsParams) => {
      const p: Published = {
        uri: raw.uri,
        ...(raw.version !== undefined ? { version: raw.version } : {}),
        diagnostics: raw.diagnostics.map((d) => ({ ...d, message: typeof d.message === "string" ? d.message : d.message.value })),
      };
      client.published.set(p.uri, p);
      client.publishLog.push({ at: performance.now(), params: p });
      client.waiters = client.waiters.filter((w) => {
        if (w.uri === p.uri && w.pred(p)) {
          w.resolve(p);
          return false;
        }
        return true;
      });
    });
    conn.onUnhandledNotification((n) => {
      client.notificationWaiters = client.notificationWaiters.filter((w) => {
        if (w.method === n.method && w.pred(n.params)) {
          w.resolve(n.params);
          return false;
        }
        return true;
      });
    });
    // Server → client requests a real editor answers: configuration, watcher registration.
    conn.onRequest("workspace/configuration", (p: { items: unknown[] }) => p.items.map(() => opts.settings ?? null));
    conn.onRequest("client/registerCapability", () => null);
    conn.onRequest("window/workDoneProgress/create", () => null);
    conn.listen();
    const folders = opts.folders ?? [];
    client.initializeResult = await conn.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: folders[0] ? fileUri(folders[0]) : null,
      workspaceFolders: folders.length ? folders.map((f) => ({ uri: fileUri(f), name: path.basename(f) })) : null,
      initializationOptions: opts.settings ?? {},
      capabilities: {
        textDocument: {
          synchronization: { dynamicRegistration: false },
          publishDiagnostics: { relatedInformation: true, versionSupport: true },
          completion: { completionItem: { snippetSupport: true, documentationFormat: ["markdown", "plaintext"] } },
          hover: { contentFormat: ["markdown", "plaintext"] },
          definition: { linkSupport: true },
          documentSymbol: { hierarchicalDocumentSymbolSupport: true },
        },
        workspace: { workspaceFolders: true, configuration: true },
      },
    });
    await conn.sendNotification(InitializedNotification.type, {});
    return client;
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get alive(): boolean {
    return !this.exited && this.proc.exitCode === null;
  }

  /** Opens a file (its text from disk unless given). Returns its URI. */
  async open(file: string, text?: string, languageId?: string): Promise<string> {
    const uri = fileUri(file);
    const t = text ?? fs.readFileSync(file, "utf8");
    this.versions.set(uri, 1);
    this.texts.set(uri, t);
    await this.conn.sendNotification(DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: languageId ?? languageIdFor(file), version: 1, text: t },
    });
    return uri;
  }

  /** Replaces the whole text. Returns the new version. */
  async change(uri: string, text: string): Promise<number> {
    const version = (this.versions.get(uri) ?? 0) + 1;
    this.versions.set(uri, version);
    this.texts.set(uri, text);
    await this.conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version }, contentChanges: [{ text }] });
    return version;
  }

  /** An incremental edit: replaces `range` with `text`. Returns the new version. */
  async edit(uri: string, range: Range, text: string): Promise<number> {
    const version = (this.versions.get(uri) ?? 0) + 1;
    this.versions.set(uri, version);
    const old = this.texts.get(uri);
    if (old !== undefined) this.texts.set(uri, applyEdit(old, range, text));
    await this.conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version }, contentChanges: [{ range, text }] });
    return version;
  }

  text(uri: string): string | undefined {
    return this.texts.get(uri);
  }

  version(uri: string): number | undefined {
    return this.versions.get(uri);
  }

  /** Adds and removes workspace folders (absolute paths), as an editor does. */
  async changeFolders(added: string[], removed: string[] = []): Promise<void> {
    await this.conn.sendNotification("workspace/didChangeWorkspaceFolders", {
      event: { added: added.map((f) => ({ uri: fileUri(f), name: path.basename(f) })), removed: removed.map((f) => ({ uri: fileUri(f), name: path.basename(f) })) },
    });
  }

  /** Tells the server files changed on disk (what an editor's file watcher sends). */
  async filesChanged(changes: { file: string; type: "created" | "changed" | "deleted" }[]): Promise<void> {
    const t: Record<"created" | "changed" | "deleted", FileChangeType> = { created: FileChangeType.Created, changed: FileChangeType.Changed, deleted: FileChangeType.Deleted };
    await this.conn.sendNotification(DidChangeWatchedFilesNotification.type, { changes: changes.map((c) => ({ uri: fileUri(c.file), type: t[c.type] })) });
  }

  async close(uri: string): Promise<void> {
    this.versions.delete(uri);
    this.texts.delete(uri);
    await this.conn.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri } });
  }

  /**
   * Resolves with the next publishDiagnostics for `uri` that satisfies `pred` (by default: any, or
   * with `version` at least the document's current version when the server sends versions).
   * If one that satisfies it already arrived and `fresh` is false, resolves with that at once.
   */
  waitForDiagnostics(
    uri: string,
    opts: { pred?: (d: ClientDiagnostic[]) => boolean; timeoutMs?: number; fresh?: boolean; minVersion?: number } = {},
  ): Promise<ClientDiagnostic[]> {
    const minVersion = opts.minVersion ?? this.versions.get(uri);
    const ok = (p: Published) =>
      (minVersion === undefined || p.version === undefined || p.version >= minVersion) && (opts.pred ? opts.pred(p.diagnostics) : true);
    const have = this.published.get(uri);
    if (!opts.fresh && have && ok(have)) return Promise.resolve(have.diagnostics);
    const timeoutMs = opts.timeoutMs ?? 15000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const last = this.published.get(uri);
        reject(
          new Error(
            `no matching diagnostics for ${uri} within ${timeoutMs} ms; last published: ${JSON.stringify(last?.diagnostics.map((d) => [d.code, d.message]) ?? null)}`,
          ),
        );
      }, timeoutMs);
      const waiter: DiagWaiter = {
        uri,
        pred: ok,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p.diagnostics);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Waits for a diagnostic with `code` on `uri` and returns it. */
  async waitForCode(uri: string, code: string, timeoutMs?: number): Promise<ClientDiagnostic> {
    const diags = await this.waitForDiagnostics(uri, { pred: (ds) => ds.some((d) => d.code === code), timeoutMs });
    return diags.find((d) => d.code === code)!;
  }

  /** Resolves with the next custom notification `method` whose params satisfy `pred`. */
  waitForNotification<T = unknown>(method: string, pred: (p: T) => boolean = () => true, timeoutMs = 30000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs);
      this.notificationWaiters.push({
        method,
        pred: pred as (p: unknown) => boolean,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p as T);
        },
      });
    });
  }

  async completion(uri: string, position: Position): Promise<CompletionItem[]> {
    const r = (await this.conn.sendRequest(CompletionRequest.type, { textDocument: { uri }, position })) as CompletionList | CompletionItem[] | null;
    if (!r) return [];
    return Array.isArray(r) ? r : r.items;
  }

  async hover(uri: string, position: Position): Promise<Hover | null> {
    return this.conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position });
  }

  /** Definition targets normalized to Locations. */
  async definition(uri: string, position: Position): Promise<Location[]> {
    const r = (await this.conn.sendRequest(DefinitionRequest.type, { textDocument: { uri }, position })) as Definition | LocationLink[] | null;
    if (!r) return [];
    const arr = Array.isArray(r) ? r : [r];
    return arr.map((x) => ("targetUri" in x ? { uri: x.targetUri, range: x.targetSelectionRange } : x));
  }

  async documentSymbols(uri: string): Promise<(DocumentSymbol | SymbolInformation)[]> {
    return (await this.conn.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } })) ?? [];
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.conn.sendRequest(method, params);
  }

  /** Shuts the server down politely, then makes sure the process is gone. */
  async stop(): Promise<void> {
    if (this.alive) {
      try {
        await Promise.race([this.conn.sendRequest(ShutdownRequest.type), new Promise((r) => setTimeout(r, 2000))]);
        await this.conn.sendNotification(ExitNotification.type);
      } catch {
        // the server may already be gone
      }
    }
    const exited = new Promise<void>((resolve) => {
      if (!this.alive) resolve();
      else this.proc.once("exit", () => resolve());
    });
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
    this.conn.dispose();
  }
}

/** Offset of a position in text (LSP: 0-based line, UTF-16 character). */
export function offsetAt(text: string, pos: Position): number {
  let line = 0;
  let i = 0;
  while (line < pos.line) {
    const nl = text.indexOf("\n", i);
    if (nl < 0) return text.length;
    i = nl + 1;
    line++;
  }
  const eol = text.indexOf("\n", i);
  return Math.min(i + pos.character, eol < 0 ? text.length : eol);
}

export function applyEdit(text: string, range: Range, newText: string): string {
  return text.slice(0, offsetAt(text, range.start)) + newText + text.slice(offsetAt(text, range.end));
}

/** The position of the first occurrence of `needle` in `text` (after `from` occurrences skipped). */
export function positionOf(text: string, needle: string, nth = 0, delta = 0): Position {
  let idx = -1;
  for (let k = 0; k <= nth; k++) {
    idx = text.indexOf(needle, idx + 1);
    if (idx < 0) throw new Error(`'${needle}' not found (occurrence ${nth})`);
  }
  idx += delta;
  const before = text.slice(0, idx);
  const line = before.split("\n").length - 1;
  const character = idx - (before.lastIndexOf("\n") + 1);
  return { line, character };
}

/** The range covering the nth occurrence of `needle` in `text`. */
export function rangeOf(text: string, needle: string, nth = 0): Range {
  const start = positionOf(text, needle, nth);
  const lines = needle.split("\n");
  const end =
    lines.length === 1
      ? { line: start.line, character: start.character + needle.length }
      : { line: start.line + lines.length - 1, character: lines[lines.length - 1]!.length };
  return { start, end };
}

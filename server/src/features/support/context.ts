// The one object every feature receives. Features register handlers on `connection`, read
// documents from `documents`, and reach the artifact engine through `workspaces`; they never keep
// settings in module globals (read `settings()` when needed: it changes at run time).
import type { Connection, TextDocuments } from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { ServerSettings } from "../../protocol/settings";
import type { DiagnosisService } from "./diagnosis";
import type { Scheduler } from "./scheduler";
import type { TokenCounter } from "./token-counter";
import type { ServerWorkspace } from "./artifact-bridge";
import type { ArtifactWorkspace, WorkspaceManager } from "./workspaces";

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string, e?: unknown): void;
}

/** Lifecycle events the server core owns (the connection allows one handler per method). */
export interface ServerEvents {
  /** After `initialized`: workspaces exist, the client's capabilities are known. */
  onReady(fn: () => void | Promise<void>): void;
  /** A text document was opened or changed (after its overlay was set). */
  onDocumentChange(fn: (doc: TextDocument, kind: "open" | "change") => void): void;
  /** A text document was closed (after its overlay was dropped). */
  onDocumentClose(fn: (doc: TextDocument) => void): void;
  /** Files changed on disk (watched files), absolute paths. */
  onFilesChanged(fn: (files: string[]) => void): void;
  /** Workspace folders were added or removed (absolute paths), after the workspaces were updated. */
  onFoldersChanged(fn: (added: string[], removed: string[]) => void): void;
  /** Settings changed (didChangeConfiguration, or pulled with workspace/configuration). */
  onSettingsChange(fn: (s: ServerSettings) => void): void;
}

export interface FeatureContext<W extends ArtifactWorkspace = ServerWorkspace> {
  connection: Connection;
  documents: TextDocuments<TextDocument>;
  workspaces: WorkspaceManager<W>;
  log: Logger;
  /** The `driftlens` settings section (protocol/settings.ts) as last sent or pulled, parsed. */
  settings(): ServerSettings;
  scheduler: Scheduler;
  events: ServerEvents;
  /** What the client said it supports, after initialize. */
  clientCapabilities(): import("vscode-languageserver/node").ClientCapabilities;
  /** Counts prompt tokens with the model's vocabulary (lazy engine worker); see token-counter.ts. */
  tokenCounter: TokenCounter;
  /** Computes diagnostics off the main thread (a worker with its own Workspaces); see diagnosis.ts. */
  diagnosis: DiagnosisService;
}

/** A feature module: server/src/features/<name>.ts, listed in features/index.ts. */
export interface FeatureModule<W extends ArtifactWorkspace = ServerWorkspace> {
  /** Registers the feature's handlers; its capabilities are announced in features/capabilities.ts. */
  register(ctx: FeatureContext<W>): void;
}

/**
 * Wraps a request handler so a throw is logged and answered with `neutral` (never an error
 * response, never a dead server).
 */
export function guarded<A extends unknown[], R>(log: Logger, name: string, neutral: R, fn: (...args: A) => R | Promise<R>) {
  return async (...args: A): Promise<R> => {
    try {
      return await fn(...args);
    } catch (e) {
      log.error(`${name} failed`, e);
      return neutral;
    }
  };
}

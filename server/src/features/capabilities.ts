// What the language server announces in its initialize answer, one entry per feature module.
// server.ts answers `initialize` before the features (and everything they import) are loaded, so
// the capabilities live here rather than in the feature files; a test (test/lsp) checks that each
// feature's requests are answered.
//
// Types only: the launcher (server.ts) answers `initialize` from this file before it loads the
// protocol library at all, so nothing here may import vscode-languageserver at run time.
import type { InitializeResult, ServerCapabilities, TextDocumentSyncKind } from "vscode-languageserver/node";

/** TextDocumentSyncKind.Incremental (the library's constant, which this file cannot import). */
const INCREMENTAL: typeof TextDocumentSyncKind.Incremental = 2;

export const SERVER_CAPABILITIES: ServerCapabilities = {
  textDocumentSync: { openClose: true, change: INCREMENTAL, save: false },
  workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
  // completion.ts
  completionProvider: { triggerCharacters: ["{", ">", " ", ":", ".", "/", "#", "\"", "-", "@"], resolveProvider: false },
  // hover.ts
  hoverProvider: true,
  // definition.ts
  definitionProvider: true,
  // symbols.ts
  documentSymbolProvider: { label: "Driftlens" },
  // diagnostics.ts publishes (push model) and runs.ts answers custom requests: no capabilities.
};

/** The whole answer to `initialize`. */
export function initializeResult(): InitializeResult {
  return { capabilities: SERVER_CAPABILITIES, serverInfo: { name: "driftlens", version: (require("../../../package.json") as { version: string }).version } };
}

// What the language server announces in its initialize answer, one entry per feature module.
// server.ts answers `initialize` before the features (and everything they import) are loaded, so
// the capabilities live here rather than in the feature files; a test (test/lsp) checks that each
// feature's requests are answered.
import { TextDocumentSyncKind, type ServerCapabilities } from "vscode-languageserver/node";

export const SERVER_CAPABILITIES: ServerCapabilities = {
  textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: false },
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

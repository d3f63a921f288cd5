// The Driftlens language server's connection (dist/server-lsp.js, loaded by the launcher
// server.ts): creates the connection (stdio, IPC or socket, as the client launched it), answers
// `initialize` with the static capabilities, and only then loads the core (dist/server-core.js:
// artifact parsers, Handlebars, YAML, zod schemas, every feature). The editor counts a language
// server as started once `initialize` is answered, so this file stays small: loading the core
// first would make every window wait for a 2 MB bundle.
//
// The core is required synchronously inside the `initialized` notification, the client's first
// message after the answer, so every handler exists before the next message (didOpen, a request)
// is dispatched: vscode-jsonrpc handles one message at a time, in order.
import { createConnection, ProposedFeatures, TextDocuments, type InitializeParams, type InitializeResult } from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import path from "node:path";
import { SERVER_CAPABILITIES } from "./features/capabilities";
import { codeCacheDir, loadWithCodeCache } from "./util/code-cache";

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
let params: InitializeParams | undefined;
/** When initialize was answered, in ms since this process started (performance's time origin). */
let answeredAt = 0;
/** When this process was ready to read the client's first message (the same clock). */
let listeningAt = 0;

connection.onInitialize((p): InitializeResult => {
  params = p;
  answeredAt = performance.now();
  return { capabilities: SERVER_CAPABILITIES, serverInfo: { name: "driftlens", version: (require("../../package.json") as { version: string }).version } };
});

connection.onInitialized(() => {
  if (!params) return;
  try {
    // A separate bundle beside this one, loaded through V8's code cache like this one.
    const loaded = loadWithCodeCache(path.join(__dirname, "server-core.js"), module, codeCacheDir());
    (loaded.exports as typeof import("./server-core")).startCore(connection, documents, params);
    // The gap between listening and answering is the wait for the client's request (the answer itself is immediate).
    connection.console.info(`driftlens language server: initialize answered ${answeredAt.toFixed(0)} ms after the process started (listening from ${listeningAt.toFixed(0)} ms); core loaded ${(performance.now() - answeredAt).toFixed(0)} ms later (V8 code cache: ${loaded.cache})`);
  } catch (e) {
    // Nothing works without the core: say so where the user looks, then exit so the client's
    // restart logic (and its "server crashed" message) takes over instead of a silent server.
    const why = e instanceof Error ? e.message : String(e);
    connection.console.error(`Driftlens could not load its language server core (${path.join(__dirname, "server-core.js")}): ${why}. Reinstall the extension or rebuild with npm run build.`);
    void connection.window.showErrorMessage(`Driftlens: the language server could not load (${why}). See the Driftlens log.`);
    setTimeout(() => process.exit(1), 200);
  }
});

documents.listen(connection);
connection.listen();
listeningAt = performance.now();

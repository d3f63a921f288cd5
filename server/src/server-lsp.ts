// The Driftlens language server's connection (dist/server-lsp.js, loaded by the launcher
// server.ts): creates the connection (stdio, IPC or socket, as the client launched it), answers
// `initialize` with the static capabilities (over stdio the launcher has usually answered it
// already: server-early.ts), and only then loads the core (dist/server-core.js:
// artifact parsers, Handlebars, YAML, zod schemas, every feature). The editor counts a language
// server as started once `initialize` is answered, so this file stays small: loading the core
// first would make every window wait for a 2 MB bundle.
//
// The core is required synchronously inside the `initialized` notification, the client's first
// message after the answer, so every handler exists before the next message (didOpen, a request)
// is dispatched: vscode-jsonrpc handles one message at a time, in order.
import {
  createConnection,
  ProposedFeatures,
  StreamMessageWriter,
  TextDocuments,
  type Connection,
  type InitializeParams,
  type InitializeResult,
  type Message,
  type MessageWriter,
} from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import path from "node:path";
import { PassThrough } from "node:stream";
import { inspect } from "node:util";
import { initializeResult } from "./features/capabilities";
import { EARLY_INITIALIZE_ID, type EarlyStart } from "./server-early";
import { codeCacheDir, loadWithCodeCache } from "./util/code-cache";

/**
 * Starts the connection. `early`: over stdio, what the launcher read from stdin (and whether it
 * answered `initialize` itself); without it the library takes its transport from the command line.
 */
export function startLsp(early?: EarlyStart): void {
  const connection = early ? stdioAfterEarlyAnswer(early) : createConnection(ProposedFeatures.all);
  const documents = new TextDocuments(TextDocument);
  let params: InitializeParams | undefined;
  /** When initialize was answered, in ms since this process started (performance's time origin). */
  let answeredAt = early?.answered ? early.answeredAt : 0;
  /** When this process was ready to read the client's first message (the same clock). */
  let listeningAt = early?.listeningAt ?? 0;
  const libraryAt = performance.now();

  connection.onInitialize((p): InitializeResult => {
    params = p;
    if (!early?.answered) answeredAt = performance.now();
    return initializeResult();
  });

  connection.onInitialized(() => {
    if (!params) return;
    try {
      // A separate bundle beside this one, loaded through V8's code cache like this one.
      const loaded = loadWithCodeCache(path.join(__dirname, "server-core.js"), module, codeCacheDir());
      (loaded.exports as typeof import("./server-core")).startCore(connection, documents, params);
      // The gap between listening and answering is the wait for the client's request (the answer itself is immediate).
      const how = early?.answered ? `answered by the launcher, protocol library loaded by ${libraryAt.toFixed(0)} ms; ` : "";
      connection.console.info(`driftlens language server: initialize answered ${answeredAt.toFixed(0)} ms after the process started (listening from ${listeningAt.toFixed(0)} ms); ${how}core loaded ${(performance.now() - answeredAt).toFixed(0)} ms later (V8 code cache: ${loaded.cache})`);
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
  if (!early) listeningAt = performance.now();
}

/**
 * The stdio connection after the launcher's early answer: it reads the replayed bytes, then the
 * rest of stdin, and its own answer to the replayed `initialize` is dropped. What the library does
 * for --stdio by itself is done here too: it exits when stdin ends (vscode-languageserver wires
 * that for any input stream) and console output goes to the client's log, never into stdout.
 */
function stdioAfterEarlyAnswer(early: EarlyStart): Connection {
  const input = new PassThrough();
  input.write(early.replay);
  if (process.stdin.readableEnded) input.end();
  else process.stdin.pipe(input);
  const stdout = new StreamMessageWriter(process.stdout);
  let dropped = !early.answered;
  const writer: MessageWriter = {
    onError: stdout.onError,
    onClose: stdout.onClose,
    write: (m: Message) => {
      if (!dropped && (m as { id?: unknown; method?: unknown }).id === EARLY_INITIALIZE_ID && !("method" in m)) {
        dropped = true;
        return Promise.resolve();
      }
      return stdout.write(m);
    },
    end: () => stdout.end(),
    dispose: () => stdout.dispose(),
  };
  // A stream in and a message writer out: the library takes the pair (it tells streams from
  // readers and writers by their shape, vscode-jsonrpc's createMessageConnection), though its
  // typings only list a stream with a stream and a reader with a writer.
  const connection = createConnection(ProposedFeatures.all, input, writer as unknown as NodeJS.WritableStream);
  // As vscode-languageserver's own patch for --stdio: strings as they are, anything else inspected.
  const say = (level: "log" | "info" | "warn" | "error") => (...args: unknown[]) => connection.console[level](args.map((a) => (typeof a === "string" ? a : inspect(a))).join(" "));
  Object.assign(console, { log: say("log"), debug: say("log"), info: say("info"), warn: say("warn"), error: say("error"), trace: say("log") });
  return connection;
}

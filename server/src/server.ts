// The language server's launcher (dist/server.js, 25 KB with package.json's fields inlined). Over --stdio (how the extension
// starts it) it answers the client's `initialize` itself (server-early.ts) before loading anything,
// then loads the connection bundle (dist/server-lsp.js) through V8's code cache
// (util/code-cache.ts) and hands it the conversation; every editor window starts a server process,
// and the editor waits for that answer. Other transports load the connection bundle at once. The
// diagnostics worker thread starts here too and gets the core bundle (dist/server-core.js).
//
// util/code-cache.ts (and node:crypto and node:vm with it) is required only after the answer:
// esbuild initializes a module that is require()d lazily, on that call.
import path from "node:path";
import { isMainThread, workerData } from "node:worker_threads";
import { initializeResult } from "./features/capabilities";
import { answerInitializeEarly, type EarlyStart } from "./server-early";

type Lsp = typeof import("./server-lsp");

function load(file: string): unknown {
  const { requireWithCodeCache } = require("./util/code-cache") as typeof import("./util/code-cache");
  return requireWithCodeCache(path.join(__dirname, file), module);
}

/**
 * The connection bundle. Without it there is no connection to report through (and over stdio the
 * client may already have its initialize answer): say why on stderr, which the client shows in
 * the Driftlens log, and exit so its "server crashed" handling takes over.
 */
function loadLsp(): Lsp {
  const file = path.join(__dirname, "server-lsp.js");
  try {
    return load("server-lsp.js") as Lsp;
  } catch (e) {
    process.stderr.write(`Driftlens could not load its language server (${file}): ${e instanceof Error ? e.message.split("\n")[0] : String(e)}. Reinstall the extension or rebuild with npm run build.\n`);
    process.exit(1);
  }
}

const diagnosisWorker = !isMainThread && (workerData as { driftlensDiagnosis?: boolean } | null)?.driftlensDiagnosis;
if (diagnosisWorker) {
  load("server-core.js");
} else if (process.argv.includes("--stdio") && process.env.DRIFTLENS_SERVER_EARLY_INITIALIZE !== "0") {
  answerInitializeEarly(process.stdin, process.stdout, initializeResult, (early: EarlyStart) => loadLsp().startLsp(early));
} else {
  loadLsp().startLsp();
}

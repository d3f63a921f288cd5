// The language server's launcher (dist/server.js, a few KB). Over --stdio (how the extension
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

const diagnosisWorker = !isMainThread && (workerData as { driftlensDiagnosis?: boolean } | null)?.driftlensDiagnosis;
if (diagnosisWorker) {
  load("server-core.js");
} else if (process.argv.includes("--stdio") && process.env.DRIFTLENS_SERVER_EARLY_INITIALIZE !== "0") {
  answerInitializeEarly(process.stdin, process.stdout, initializeResult, (early: EarlyStart) => (load("server-lsp.js") as Lsp).startLsp(early));
} else {
  (load("server-lsp.js") as Lsp).startLsp();
}

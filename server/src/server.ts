// The language server's launcher (dist/server.js, a few KB): loads the connection bundle
// (dist/server-lsp.js) through V8's code cache (util/code-cache.ts), since every editor window
// starts a server process and compiling is much of its start. The diagnostics worker thread
// starts here too and gets the core bundle (dist/server-core.js) the same way.
import path from "node:path";
import { isMainThread, workerData } from "node:worker_threads";
import { requireWithCodeCache } from "./util/code-cache";

const diagnosisWorker = !isMainThread && (workerData as { driftlensDiagnosis?: boolean } | null)?.driftlensDiagnosis;
requireWithCodeCache(path.join(__dirname, diagnosisWorker ? "server-core.js" : "server-lsp.js"), module);

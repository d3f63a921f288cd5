// The pattern worker (bundled to dist/pattern-worker.js): evaluates the bounded assertion types
// (./types.ts) one request at a time, so the thread that asked can stop it when a pattern runs
// past its time limit (./bounded.ts). It holds no state but compiled-schema caches.
import { parentPort } from "node:worker_threads";
import type { AssertionType } from "../../artifacts/assertions";
import { HANDLERS } from "./table";
import type { HandlerInput } from "./types";

interface Request {
  id: number;
  input: HandlerInput;
}

const port = parentPort;
if (port) {
  port.on("message", (req: Request) => {
    const h = HANDLERS[req.input.type as AssertionType];
    try {
      if (!h || h.kind !== "bounded") throw new Error(`'${req.input.type}' is not evaluated in the pattern worker`);
      port.postMessage({ id: req.id, verdict: h.evaluate(req.input) });
    } catch (e) {
      port.postMessage({ id: req.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
  port.postMessage({ ready: true });
}

// The diagnostics worker thread (see diagnosis.ts): its own artifact Workspace per root, overlays
// mirrored from the main thread, requests served one at a time in arrival order, with cancelled
// ones skipped. Token counts for the context-length check come from the main thread, which owns
// the (single) engine worker process: it sends each count it makes; a text without one is
// estimated at once and handed to the main thread to count when the user pauses.
import { parentPort, workerData } from "node:worker_threads";
import { createWorkspace, setConfigOverrides, type ServerWorkspace } from "./artifact-bridge";
import { diagnoseWithContract, evalOutline, promptContractKey, type FromWorker, type ToWorker } from "./diagnosis";
import { modelFileKey } from "./token-counter";

/** Counts kept in the worker (the main thread's TokenCounter keeps 512). */
const MAX_COUNTS = 1024;

export function runDiagnosisWorker(): void {
  const port = parentPort;
  if (!port) throw new Error("runDiagnosisWorker must run in a worker thread");
  const send = (m: FromWorker) => port.postMessage(m);
  const workspaces = new Map<string, ServerWorkspace>();
  const counts = new Map<string, number>();

  const countTokens = async (modelPath: string, text: string): Promise<number> => {
    const fileKey = modelFileKey(modelPath);
    const n = fileKey ? counts.get(`${fileKey}\u0000${text}`) : undefined;
    if (n !== undefined) return n;
    send({ type: "tokens", modelPath, text });
    throw new Error("the model's token count is not ready yet");
  };

  const ws = (root: string): ServerWorkspace => {
    let w = workspaces.get(root);
    if (!w) workspaces.set(root, (w = createWorkspace(root, countTokens)));
    return w;
  };

  const queue: Extract<ToWorker, { id: number; root: string }>[] = [];
  const cancelled = new Set<number>();
  let running = false;

  const pump = async () => {
    if (running) return;
    running = true;
    try {
      while (queue.length) {
        const job = queue.shift()!;
        if (cancelled.delete(job.id)) continue;
        try {
          let value: unknown;
          // Test hook (LSP tests of the restart path): the first worker dies on a matching file.
          const exitOn = process.env.DRIFTLENS_TEST_WORKER_EXIT_ON;
          if (exitOn && job.file.includes(exitOn) && (workerData as { generation?: number }).generation === 0) process.exit(70);
          if (job.type === "diagnose") value = await diagnoseWithContract(ws(job.root), job.file);
          else if (job.type === "dependents") value = ws(job.root).dependents(job.file);
          else if (job.type === "outline") value = evalOutline(ws(job.root), job.file);
          else value = promptContractKey(ws(job.root), job.file);
          send({ type: "result", id: job.id, value });
        } catch (e) {
          send({ type: "result", id: job.id, error: e instanceof Error ? e.message : String(e) });
        }
        cancelled.delete(job.id);
        // Let overlay and cancel messages that arrived meanwhile be handled before the next job.
        await new Promise((r) => setImmediate(r));
      }
      // Cancels that arrived after their job finished are no longer needed.
      cancelled.clear();
    } finally {
      running = false;
    }
  };

  port.on("message", (m: ToWorker) => {
    switch (m.type) {
      case "overlay":
        ws(m.root).setOverlay(m.file, m.text);
        return;
      case "settings":
        setConfigOverrides(m.overrides);
        return;
      case "cancel":
        cancelled.add(m.id);
        return;
      case "counted":
        counts.set(`${m.fileKey}\u0000${m.text}`, m.count);
        if (counts.size > MAX_COUNTS) counts.delete(counts.keys().next().value as string);
        return;
      default:
        queue.push(m);
        void pump();
    }
  });
}

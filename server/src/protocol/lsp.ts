// The contract between the VS Code client (extension/) and the language server (server/src/server.ts)
// beyond standard LSP: custom methods, all prefixed `driftlens/`. zod schemas
// here are the one home of these shapes; both sides import the types from z.infer.
// Keep this file additive: the run/compare/delta methods live in ./runs and are re-exported below the marker.
import { z } from "zod";

// Settings (initializationOptions and the `driftlens` section of workspace/configuration) have one
// schema: ./settings.

/**
 * `driftlens/diagnosticsSettled` (server → client notification): sent after a diagnostics pass over
 * a set of files finished (the startup scan, or a document and its dependents). Tests and the
 * status bar use it to know the server is idle.
 */
export const DiagnosticsSettledMethod = "driftlens/diagnosticsSettled";
export const DiagnosticsSettledSchema = z.object({
  /** What finished: "startup-scan" or "document". */
  reason: z.enum(["startup-scan", "document"]),
  /** Files (URIs) whose diagnostics were published in this pass. */
  uris: z.array(z.string()),
});
export type DiagnosticsSettled = z.infer<typeof DiagnosticsSettledSchema>;

// ---- run / compare / delta methods (./runs) below ----
export * from "./runs";

// The contract between the VS Code client (extension/) and the language server (server/src/server.ts)
// beyond standard LSP: server settings and custom methods, all prefixed `driftlens/`. zod schemas
// here are the one home of these shapes; both sides import the types from z.infer.
// Keep this file additive: the run/compare/delta methods live in ./runs and are re-exported below the marker.
import { z } from "zod";

/**
 * Language server settings. Sent by the client as `initializationOptions` and again as the
 * `driftlens` section of `workspace/didChangeConfiguration`; every key has a default, so an absent
 * or partial object works.
 */
export const ServerSettingsSchema = z.object({
  /** Delay between the last keystroke and re-diagnosing that document, in milliseconds. */
  diagnosticsDebounceMs: z.number().int().min(0).max(5000).default(150),
  /**
   * Delay before re-diagnosing the dependents of a changed file (eval sets of an edited prompt).
   * Longer than the document's own delay: the dependents are not what the user is looking at.
   */
  dependentsDebounceMs: z.number().int().min(0).max(10000).default(400),
  /** Diagnose every artifact in the workspace at startup, in the background (not just open files). */
  scanOnStartup: z.boolean().default(true),
  /**
   * Count prompt tokens with the model's own vocabulary (through the engine worker) when the
   * variant's GGUF exists; "estimate" never starts the engine for this.
   */
  tokenCount: z.enum(["model", "estimate"]).default("model"),
  /**
   * Quiet time before prompt tokens are counted with the model (the estimate is shown meanwhile);
   * counting is an IPC round trip to the engine worker, kept off the keystroke path.
   */
  tokenCountDebounceMs: z.number().int().min(0).max(10000).default(300),
  /** llama.cpp threads for the token-counting engine worker (vocabulary loads only; "auto" = 1). */
  engineThreads: z.union([z.literal("auto"), z.number().int().min(1)]).default(1),
});
export type ServerSettings = z.infer<typeof ServerSettingsSchema>;

/** Parses untrusted settings, falling back to the defaults for every key that is absent or invalid. */
export function parseServerSettings(raw: unknown): ServerSettings {
  const obj = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  const shape = ServerSettingsSchema.shape;
  for (const key of Object.keys(shape) as (keyof typeof shape)[]) {
    const r = shape[key].safeParse(obj[key]);
    if (r.success) out[key] = r.data;
  }
  return ServerSettingsSchema.parse(out);
}

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

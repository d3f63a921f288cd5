// EngineError: how every engine failure reaches callers, in the worker and in the parent alike.
// It carries a plain EngineFailure (kind, message naming variant and file, what to do), so it can
// cross the process boundary as data and be shown to a user as is.
import type { EngineFailure } from "./types";

export class EngineError extends Error {
  constructor(readonly failure: EngineFailure) {
    super(failure.message);
    this.name = "EngineError";
  }

  get kind(): EngineFailure["kind"] {
    return this.failure.kind;
  }
}

/** Turns anything thrown into an EngineFailure, keeping an EngineError's own failure. */
export function toFailure(e: unknown, context?: { variant?: string; file?: string }): EngineFailure {
  if (e instanceof EngineError) return e.failure;
  const msg = e instanceof Error ? e.message : String(e);
  const where = context?.variant || context?.file ? ` (variant ${context?.variant ?? "?"}, file ${context?.file ?? "?"})` : "";
  return { kind: "other", message: `Engine error${where}: ${msg}`, ...context };
}

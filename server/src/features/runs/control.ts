// driftlens/cancelRun and driftlens/status: stopping runs in flight and what the status bar shows.
import { CancelRunParamsSchema, type EngineStatus } from "../../protocol/runs";
import type { RunsState } from "./state";

/** Aborts the run named (or every run in flight when none is named); answers how many. */
export function handleCancel(state: RunsState, raw: unknown): { cancelled: number } {
  const p = CancelRunParamsSchema.safeParse(raw ?? {});
  let n = 0;
  for (const r of state.active.values()) {
    if (p.success && p.data.runId && p.data.runId !== r.id) continue;
    r.abort.abort();
    n++;
  }
  return { cancelled: n };
}

/** The engine's backend, its loaded models and the run in flight. */
export function handleStatus(state: RunsState): EngineStatus {
  return state.status();
}

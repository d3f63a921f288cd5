// The editor's settings over driftlens.yaml, written once. A setting that is set (not null, not "")
// wins; everything else is the file's (or its default). Runs, comparisons, deltas and the gate's
// diagnostics (DL309) all read the merged result, so the gate a user sees diagnosed is the gate a
// run applies. The CLI has no editor settings: it reads driftlens.yaml alone.
import path from "node:path";
import type { ServerSettings } from "../protocol/settings";
import type { DriftlensConfig } from "./config";

/** The settings sections that override driftlens.yaml. */
export type ConfigOverrides = Pick<ServerSettings, "engine" | "gate" | "store">;

export function effectiveConfig(cfg: DriftlensConfig, o: ConfigOverrides | undefined): DriftlensConfig {
  if (!o) return cfg;
  const e = o.engine;
  return {
    ...cfg,
    engine: {
      ...cfg.engine,
      gpu: e.gpu ?? cfg.engine.gpu,
      // 0 asks for a measured thread count, as driftlens.yaml's "auto" does.
      threads: e.threads === null ? cfg.engine.threads : e.threads === 0 ? "auto" : e.threads,
      contextSize: e.contextSize ?? cfg.engine.contextSize,
      parallelSequences: e.parallelSequences ?? cfg.engine.parallelSequences,
      memoryBudgetBytes: e.memoryBudgetMb !== null ? e.memoryBudgetMb * 1024 * 1024 : cfg.engine.memoryBudgetBytes,
    },
    gate: {
      maxPassRateDrop: o.gate.maxPassRateDrop ?? cfg.gate.maxPassRateDrop,
      maxSliceDrop: o.gate.maxSliceDrop ?? cfg.gate.maxSliceDrop,
      alpha: o.gate.alpha ?? cfg.gate.alpha,
    },
    store: o.store.path ? path.resolve(cfg.root, o.store.path) : cfg.store,
  };
}

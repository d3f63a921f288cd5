// The engine version that goes into run fingerprints and generation cache keys, computed without
// starting the engine (a fully cached run must not spawn the worker or load node-llama-cpp): the
// engine's API version plus node-llama-cpp's package version, read from its package.json on disk.
// Matches the format of the engine's own EngineInfo.engineVersion.
import fs from "node:fs";
import path from "node:path";

/** Bump with server/src/llm/engine.ts ENGINE_API_VERSION when generation semantics change. */
export const ENGINE_API_VERSION = "driftlens-engine/1";

let cached: string | undefined;

function findLlamaVersion(): string {
  const starts = [__dirname, process.cwd()];
  for (const start of starts) {
    let dir = start;
    for (;;) {
      const p = path.join(dir, "node_modules", "node-llama-cpp", "package.json");
      try {
        const v = (JSON.parse(fs.readFileSync(p, "utf8")) as { version?: unknown }).version;
        if (typeof v === "string") return v;
      } catch {
        // not here; keep walking up
      }
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return "unknown";
}

export function currentEngineVersion(): string {
  cached ??= `${ENGINE_API_VERSION} node-llama-cpp/${findLlamaVersion()}`;
  return cached;
}

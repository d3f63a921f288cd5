// The settings of the extension and its language server (section "driftlens"), as one zod schema:
// what the client reads (server.*, trace.*), what the language server and its run features read
// (engine.*, gate.*, store.*, run.*), and the language server's own tunables (top-level keys such as
// diagnosticsDebounceMs, which tests and other LSP clients pass in initializationOptions).
// package.json `contributes.configuration` declares the sections in CONTRIBUTED_SECTIONS with the
// same keys, types and defaults; test/unit/extension/settings-sync.test.ts keeps the two in step.
// The tunables are not contributed: they are not VS Code settings a user is meant to change.
//
// Engine, gate and store settings override driftlens.yaml when set; `null` (the default) means
// "use driftlens.yaml, or its default", so a workspace config stays the source of truth for CI.
import { z } from "zod";

const nullableNumber = (min: number, max?: number) =>
  (max === undefined ? z.number().min(min) : z.number().min(min).max(max)).nullable().default(null);

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
  /** How the extension starts the language server (read by the client, never by the server). */
  server: z
    .object({
      /** Node executable that runs dist/server.js; "" = the first `node` on PATH. */
      nodePath: z.string().default(""),
      /** Extra environment for the server process. */
      extraEnv: z.record(z.string(), z.string()).default({}),
    })
    .prefault({}),
  engine: z
    .object({
      gpu: z.enum(["auto", "cpu", "cuda", "vulkan", "metal"]).nullable().default(null),
      /** llama.cpp threads; 0 = chosen by measurement (never llama.cpp's own default). */
      threads: z.number().int().min(0).max(256).nullable().default(null),
      contextSize: z.number().int().min(128).max(1048576).nullable().default(null),
      parallelSequences: z.number().int().min(1).max(256).nullable().default(null),
      /** Memory budget for loaded models, in MiB. */
      memoryBudgetMb: z.number().int().min(64).nullable().default(null),
    })
    .prefault({}),
  gate: z
    .object({
      maxPassRateDrop: nullableNumber(0, 1),
      maxSliceDrop: nullableNumber(0, 1),
      alpha: nullableNumber(0, 1),
    })
    .prefault({}),
  store: z
    .object({
      /** SQLite store, relative to the workspace root; "" = driftlens.yaml's `store`. */
      path: z.string().default(""),
    })
    .prefault({}),
  run: z
    .object({
      /** Variants a run uses when none are picked, e.g. ["tiny/f16", "tiny/q4_0"]; [] = all. */
      defaultVariants: z.array(z.string()).default([]),
      /** Run seed (per-case seeds derive from it). */
      seed: z.number().int().min(0).default(0),
      /** Git ref that CodeLens deltas compare against. */
      baseRef: z.string().default("HEAD"),
      /** Before a run or eval deltas: save open artifacts with unsaved edits ("artifacts"), or not ("none"). */
      saveBeforeRun: z.enum(["artifacts", "none"]).default("artifacts"),
    })
    .prefault({}),
  trace: z
    .object({
      server: z.enum(["off", "messages", "verbose"]).default("off"),
    })
    .prefault({}),
});

export type ServerSettings = z.infer<typeof ServerSettingsSchema>;

/**
 * Parses whatever the client sent (workspace/configuration or initializationOptions), filling
 * defaults. Invalid values are dropped key by key so one bad setting does not discard the rest;
 * `problems` says which, for the log.
 */
export function parseServerSettings(raw: unknown): { settings: ServerSettings; problems: string[] } {
  const r = ServerSettingsSchema.safeParse(raw ?? {});
  if (r.success) return { settings: r.data, problems: [] };
  const problems = r.error.issues.map((i) => `driftlens.${i.path.join(".")}: ${i.message}`);
  const cleaned = structuredClone((raw ?? {}) as Record<string, unknown>);
  for (const issue of r.error.issues) {
    let node: unknown = cleaned;
    const keys = issue.path.map(String);
    for (const k of keys.slice(0, -1)) node = node && typeof node === "object" ? (node as Record<string, unknown>)[k] : undefined;
    const last = keys[keys.length - 1];
    if (node && typeof node === "object" && last !== undefined) delete (node as Record<string, unknown>)[last];
  }
  const again = ServerSettingsSchema.safeParse(cleaned);
  return { settings: again.success ? again.data : ServerSettingsSchema.parse({}), problems };
}

/** The sections package.json contributes as VS Code settings (the rest are server tunables). */
export const CONTRIBUTED_SECTIONS = ["server", "engine", "gate", "store", "run", "trace"] as const;

/** Every VS Code setting as a flat "section.key" → default map (the shape of package.json's configuration). */
export function flatDefaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const defaults = ServerSettingsSchema.parse({});
  for (const section of CONTRIBUTED_SECTIONS) {
    for (const [k, v] of Object.entries(defaults[section])) out[`${section}.${k}`] = v;
  }
  return out;
}

/** Aliases: the same schema under the name the settings carry in the docs (both names are stable). */
export const DriftlensSettingsSchema = ServerSettingsSchema;
export type DriftlensSettings = ServerSettings;
export const parseDriftlensSettings = parseServerSettings;

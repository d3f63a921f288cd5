// driftlens.yaml: model families and variants, engine settings, regression gate, store path.
// Every key has a default, and a workspace with no driftlens.yaml at all gets the defaults.
import fs from "node:fs";
import { readRegularText } from "../util/safe-file";
import os from "node:os";
import path from "node:path";
import type { EngineSettings, RemoteModelSpec } from "../llm/types";
import type { StoreOverrides } from "./model-stores/locations";
import { formatStoreRef, parseStoreString, variantStoreOf } from "./model-stores/spec";
import type { StoreRef } from "./model-stores/types";
import { isRemoteEntry, remoteEntryDiagnostics, remoteSpecFrom } from "./remote-config";
import { CONFIG_KEYS, configFileSchema, CORPUS_KEYS, EMBEDDING_KEYS, ENGINE_KEYS, FAMILY_KEYS, GATE_KEYS, MODEL_STORES_KEYS, PROMPTS_KEYS } from "./schemas";
import { providerMap, type ProviderMap } from "./adopt/providers";
import type { Diagnostic, Range } from "./types";
import { parseYaml, rangeFor, type YamlSource } from "./yaml-source";
import { unknownKeyDiagnostics, zodDiagnostics } from "./zod-diagnostics";

export const CONFIG_FILE_NAMES = ["driftlens.yaml", "driftlens.yml"] as const;

export interface ConfiguredVariant {
  /** Absolute path of the GGUF file (a served variant: its first endpoint URL). */
  path: string;
  /** The path as written in driftlens.yaml. */
  declared: string;
  /** Per-variant context size override. */
  contextSize?: number;
  range?: Range;
  /** Set for a served model (`endpoints:`): see artifacts/remote-config.ts. */
  remote?: RemoteModelSpec;
  /** A model named through a store (ollama:, hf:, lmstudio:) instead of a path; `path` is then empty. */
  store?: StoreRef;
  /** Why the store ref as written is not valid (DL142). */
  storeError?: string;
  /** Where the store ref is written. */
  storeRange?: Range;
}

export interface FamilyConfig {
  name: string;
  /** Reference variant as written; undefined means "choose the highest-precision variant". */
  reference?: string;
  variants: Record<string, ConfiguredVariant>;
  /** Absolute scan folders, or store refs (hf:org/name, lmstudio:publisher/model, ollama:model). */
  scan: { path: string; declared: string; range?: Range; store?: StoreRef; storeError?: string }[];
  range?: Range;
  referenceRange?: Range;
  /** Text for corpus KL divergence (`corpus:`), when set. */
  corpus?: CorpusConfig;
}

export interface CorpusConfig {
  /** Absolute path of the text file. */
  path: string;
  /** The path as written in driftlens.yaml. */
  declared: string;
  /** Tokens per chunk (default 512, as llama-perplexity). */
  ctx?: number;
  /** At most this many chunks (default: all). */
  chunks?: number;
  range?: Range;
}

export interface GateConfig {
  maxPassRateDrop: number;
  maxSliceDrop: number;
  alpha: number;
  /** Largest allowed mean KLD from the reference on the family's corpus (quant ladder, `driftlens kld`). */
  maxKld?: number;
}

export interface DriftlensConfig {
  /** Workspace root (the folder holding driftlens.yaml). */
  root: string;
  models: Record<string, FamilyConfig>;
  engine: EngineSettings;
  gate: GateConfig;
  /** Absolute path of the SQLite store. */
  store: string;
  prompts: { partials: string[] };
  /** The embedding model for `similar`, when driftlens.yaml sets `embedding.model`. */
  embedding?: EmbeddingConfig;
  /** `providers:`: provider ids of adopted formats → variant refs. */
  providers: ProviderMap;
  /** The default judge of model-graded assertions (`grader: family/variant`). */
  grader?: { ref: string; range?: Range };
  /** Model store folders set in driftlens.yaml (absolute); unset ones are found as their tools find them. */
  modelStores: StoreOverrides;
}

export interface EmbeddingConfig {
  /** As written in driftlens.yaml. */
  declared: string;
  /** Absolute GGUF path when `declared` names a file (ends in .gguf); absent for a family/variant ref. */
  path?: string;
  /** The family/variant ref when `declared` is not a .gguf path. */
  variantRef?: string;
  range?: Range;
}

/** A value ending in .gguf is a file path (relative to driftlens.yaml); anything else a family/variant. */
export function isGgufPath(declared: string): boolean {
  return /\.gguf$/i.test(declared.trim());
}

export interface ConfigDoc {
  config: DriftlensConfig;
  /** Absolute path of driftlens.yaml when one exists (or was given as text). */
  file?: string;
  diagnostics: Diagnostic[];
  /** Parsed source, for position lookups (completion, definition). */
  source?: YamlSource;
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** "300s", "5m", "1h", "1500ms" or a number of seconds → milliseconds. */
export function parseDurationMs(v: string | number): number {
  if (typeof v === "number") return Math.round(v * 1000);
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/i.exec(v);
  if (!m) return 300_000;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]!.toLowerCase() as "ms" | "s" | "m" | "h"];
  return Math.max(1, Math.round(Number(m[1]) * unit));
}

export function parseByteSize(v: string | number): number {
  if (typeof v === "number") return v;
  if (v === "auto") return Math.floor(os.totalmem() / 2);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(v);
  if (!m) return Math.floor(os.totalmem() / 2);
  return Math.floor(Number(m[1]) * (SIZE_UNITS[m[2]!.toLowerCase()] ?? 1));
}

export function expandHome(p: string): string {
  if (p === "~") return os.homedir();
  if (p.startsWith("~/")) return path.join(os.homedir(), p.slice(2));
  return p;
}

function resolveFrom(root: string, p: string): string {
  return path.resolve(root, expandHome(p));
}

function defaults(root: string): DriftlensConfig {
  const parsed = configFileSchema.parse({});
  return build(root, parsed, undefined);
}

function build(root: string, parsed: ReturnType<typeof configFileSchema.parse>, src: YamlSource | undefined): DriftlensConfig {
  const models: Record<string, FamilyConfig> = {};
  for (const [name, fam] of Object.entries(parsed.models)) {
    const variants: Record<string, ConfiguredVariant> = {};
    for (const [vname, entry] of Object.entries(fam.variants)) {
      const at = ["models", name, "variants", vname];
      if (isRemoteEntry(entry)) {
        // A served model: no file; its first endpoint stands where a path would be shown.
        const remote = remoteSpecFrom(entry);
        variants[vname] = { path: remote.endpoints[0] ?? "", declared: remote.endpoints[0] ?? "", remote, ...(src ? { range: rangeFor(src, at, "key") } : {}) };
        continue;
      }
      const store = variantStoreOf(entry);
      const declared = store && "ref" in store ? formatStoreRef(store.ref) : typeof entry === "string" ? entry : (entry.path ?? "");
      variants[vname] = {
        path: store ? "" : resolveFrom(root, declared),
        declared,
        ...(typeof entry === "object" && typeof entry.contextSize === "number" ? { contextSize: entry.contextSize } : {}),
        ...(src ? { range: rangeFor(src, at, "key") } : {}),
        ...(store && "ref" in store ? { store: store.ref } : {}),
        ...(store && "error" in store ? { storeError: store.error } : {}),
        ...(store && src ? { storeRange: rangeFor(src, store.key ? [...at, store.key] : at) } : {}),
      };
    }
    const scans = fam.scan === undefined ? [] : Array.isArray(fam.scan) ? fam.scan : [fam.scan];
    models[name] = {
      name,
      ...(fam.reference ? { reference: fam.reference } : {}),
      variants,
      scan: scans.map((declared, i) => {
        const store = parseStoreString(declared, false);
        return {
          path: store ? "" : resolveFrom(root, declared),
          declared,
          ...(src ? { range: rangeFor(src, Array.isArray(fam.scan) ? ["models", name, "scan", i] : ["models", name, "scan"]) } : {}),
          ...(store && "ref" in store ? { store: store.ref } : {}),
          ...(store && "error" in store ? { storeError: store.error } : {}),
        };
      }),
      ...(src ? { range: rangeFor(src, ["models", name], "key") } : {}),
      ...(src && fam.reference ? { referenceRange: rangeFor(src, ["models", name, "reference"]) } : {}),
      ...(fam.corpus ? { corpus: corpusConfig(root, fam.corpus, src ? rangeFor(src, typeof fam.corpus === "string" ? ["models", name, "corpus"] : ["models", name, "corpus", "text"]) : undefined) } : {}),
    };
  }
  return {
    root,
    models,
    engine: {
      gpu: parsed.engine.gpu,
      threads: parsed.engine.threads,
      contextSize: parsed.engine.contextSize,
      parallelSequences: parsed.engine.parallelSequences,
      memoryBudgetBytes: parseByteSize(parsed.engine.memoryBudget),
      caseTimeoutMs: parseDurationMs(parsed.engine.caseTimeout),
    },
    gate: {
      maxPassRateDrop: parsed.gate.maxPassRateDrop,
      maxSliceDrop: parsed.gate.maxSliceDrop,
      alpha: parsed.gate.alpha,
      ...(parsed.gate.maxKld !== undefined ? { maxKld: parsed.gate.maxKld } : {}),
    },
    store: resolveFrom(root, parsed.store),
    prompts: { partials: parsed.prompts.partials.map((p) => resolveFrom(root, p)) },
    providers: providerMap(parsed.providers, src),
    modelStores: Object.fromEntries(Object.entries(parsed.modelStores ?? {}).flatMap(([k, v]) => (typeof v === "string" && (MODEL_STORES_KEYS as readonly string[]).includes(k) ? [[k, resolveFrom(root, v)]] : []))),
    ...(parsed.embedding?.model
      ? {
          embedding: {
            declared: parsed.embedding.model,
            ...(isGgufPath(parsed.embedding.model) ? { path: resolveFrom(root, parsed.embedding.model.trim()) } : { variantRef: parsed.embedding.model.trim() }),
            ...(src ? { range: rangeFor(src, ["embedding", "model"]) } : {}),
          },
        }
      : {}),
    ...(parsed.grader ? { grader: { ref: parsed.grader.trim(), ...(src ? { range: rangeFor(src, ["grader"]) } : {}) } } : {}),
  };
}

function corpusConfig(root: string, c: string | { text: string; ctx?: number; chunks?: number }, range: Range | undefined): CorpusConfig {
  const declared = typeof c === "string" ? c : c.text;
  return {
    path: resolveFrom(root, declared),
    declared,
    ...(typeof c === "object" && c.ctx !== undefined ? { ctx: c.ctx } : {}),
    ...(typeof c === "object" && c.chunks !== undefined ? { chunks: c.chunks } : {}),
    ...(range ? { range } : {}),
  };
}

/** Finds driftlens.yaml (or .yml) in root; undefined when there is none. */
export function findConfigFile(root: string): string | undefined {
  for (const n of CONFIG_FILE_NAMES) {
    const p = path.join(root, n);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Loads driftlens.yaml from `root` (or parses `text` as its content). Never throws: a missing file
 * gives the defaults, a broken one gives the defaults for what could not be read plus diagnostics.
 */
export function loadConfig(root: string, text?: string): ConfigDoc {
  const absRoot = path.resolve(root);
  let file = findConfigFile(absRoot);
  if (text === undefined) {
    if (!file) return { config: defaults(absRoot), diagnostics: [] };
    try {
      // A regular file of sane size only: a FIFO named driftlens.yaml must not block the reader.
      text = readRegularText(file, 16 * 1024 * 1024);
    } catch (e) {
      return {
        config: defaults(absRoot),
        file,
        diagnostics: [
          { file, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, severity: "error", code: "DL100", message: `cannot read driftlens.yaml: ${e instanceof Error ? e.message : String(e)}` },
        ],
      };
    }
  }
  file ??= path.join(absRoot, CONFIG_FILE_NAMES[0]);
  return parseConfigText(absRoot, text, file);
}

export function parseConfigText(root: string, text: string, file: string): ConfigDoc {
  const src = parseYaml(text, file, "DL100");
  const diagnostics = [...src.diagnostics];
  let raw = src.value;
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    if (src.diagnostics.length === 0) {
      diagnostics.push({ file, range: rangeFor(src, []), severity: "error", code: "DL101", message: "driftlens.yaml must be a mapping of keys (models, engine, gate, store, prompts, embedding)" });
    }
    return { config: defaults(root), file, diagnostics, source: src };
  }
  const res = configFileSchema.safeParse(raw);
  if (!res.success) {
    diagnostics.push(...zodDiagnostics(res.error, src, raw, file, "DL101"));
  }
  diagnostics.push(...unknownKeyDiagnostics(src, [], CONFIG_KEYS, file, "DL102", "driftlens.yaml"));
  const obj = raw as Record<string, unknown>;
  diagnostics.push(...unknownKeyDiagnostics(src, ["engine"], ENGINE_KEYS, file, "DL102", "engine"));
  diagnostics.push(...unknownKeyDiagnostics(src, ["gate"], GATE_KEYS, file, "DL102", "gate"));
  diagnostics.push(...unknownKeyDiagnostics(src, ["prompts"], PROMPTS_KEYS, file, "DL102", "prompts"));
  diagnostics.push(...unknownKeyDiagnostics(src, ["embedding"], EMBEDDING_KEYS, file, "DL102", "embedding"));
  diagnostics.push(...unknownKeyDiagnostics(src, ["modelStores"], MODEL_STORES_KEYS, file, "DL102", "modelStores"));
  if (obj.models && typeof obj.models === "object") {
    for (const fam of Object.keys(obj.models)) {
      diagnostics.push(...unknownKeyDiagnostics(src, ["models", fam], FAMILY_KEYS, file, "DL102", `model family '${fam}'`));
      diagnostics.push(...unknownKeyDiagnostics(src, ["models", fam, "corpus"], CORPUS_KEYS, file, "DL102", `corpus of '${fam}'`));
    }
    for (const [fam, f] of Object.entries(obj.models as Record<string, unknown>)) {
      const vs = (f as { variants?: unknown } | null)?.variants;
      if (!vs || typeof vs !== "object") continue;
      for (const [v, entry] of Object.entries(vs)) if (isRemoteEntry(entry)) diagnostics.push(...remoteEntryDiagnostics(src, fam, v, entry, file));
    }
  }
  // Salvage: keep every section that parses on its own, so one typo does not drop all models.
  let parsed: ReturnType<typeof configFileSchema.parse>;
  if (res.success) parsed = res.data;
  else {
    const salvage: Record<string, unknown> = {};
    for (const k of CONFIG_KEYS) {
      if (!(k in obj)) continue;
      if (configFileSchema.safeParse({ [k]: obj[k] }).success) salvage[k] = obj[k];
      else if (k === "models" && obj.models && typeof obj.models === "object" && !Array.isArray(obj.models)) {
        const fams: Record<string, unknown> = {};
        for (const [f, v] of Object.entries(obj.models as Record<string, unknown>)) {
          if (configFileSchema.safeParse({ models: { [f]: v } }).success) fams[f] = v;
        }
        salvage.models = fams;
      }
    }
    parsed = configFileSchema.parse(salvage);
  }
  const config = build(root, parsed, src);
  for (const fam of Object.values(config.models)) {
    if (fam.reference && Object.keys(fam.variants).length > 0 && fam.scan.length === 0 && !(fam.reference in fam.variants)) {
      diagnostics.push({
        file,
        range: fam.referenceRange ?? fam.range ?? rangeFor(src, []),
        severity: "error",
        code: "DL106",
        message: `reference variant '${fam.reference}' is not a variant of family '${fam.name}' (variants: ${Object.keys(fam.variants).join(", ")})`,
      });
    }
  }
  return { config, file, diagnostics, source: src };
}

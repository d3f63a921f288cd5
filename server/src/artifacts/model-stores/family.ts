// A model family's variants: the ones driftlens.yaml names (a path or a store ref), then every GGUF
// its scans find (a folder, or a store ref / hub-cache folder), each named by its quant type.
// A scanned file whose bytes another variant already has (the same model reached through two
// stores, or a store and a variant) is listed once; its other places are kept for hover. Store
// problems become diagnostics on driftlens.yaml and, where a variant name is known or can be
// guessed from the file or tag name, that variant's error, so running it fails with the same message.
import fs from "node:fs";
import path from "node:path";
import type { GgufFacts } from "../../gguf/reader";
import type { RemoteModelSpec } from "../../llm/types";
import type { ConfiguredVariant, FamilyConfig } from "../config";
import { cachedFingerprint, rememberFingerprint } from "../fingerprint";
import type { Diagnostic, Range } from "../types";
import { knownSame, sameBytes } from "./identity";
import type { StoreLocation, StoreOverrides } from "./locations";
import { formatStoreRef } from "./spec";
import { originLabel, type ModelStores } from "./stores";
import type { ModelOrigin, StoreFile, StoreProblem, StoreRef } from "./types";

export interface FamilyVariant {
  name: string;
  path: string;
  quant?: string;
  contextSize?: number;
  /** The store the file came from. */
  origin?: ModelOrigin;
  /** Other places the same bytes were found (listed once, here). */
  also?: { path: string; origin?: ModelOrigin }[];
  /** Why this variant cannot run; resolving it throws this message. */
  problem?: string;
  /** A served model (`endpoints:`): `path` is then its first endpoint, for messages. */
  remote?: RemoteModelSpec;
}

export interface FamilyContext {
  gguf(file: string): { error?: string; facts?: GgufFacts };
  stores: ModelStores;
  overrides: StoreOverrides;
  /** Where to put diagnostics (driftlens.yaml), when the caller wants them. */
  report?: { diagnostics: Diagnostic[]; file: string };
}

const ZERO: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

/** Internal: which source found an entry (-1 = named in driftlens.yaml, i = scan i). */
const SOURCE = new WeakMap<FamilyVariant, number>();

function push(ctx: FamilyContext, range: Range | undefined, p: StoreProblem | { code: string; message: string; severity?: Diagnostic["severity"] }): void {
  if (!ctx.report) return;
  const severity = "severity" in p && p.severity ? p.severity : "error";
  ctx.report.diagnostics.push({ file: ctx.report.file, range: range ?? ZERO, severity, code: p.code, message: p.message });
}

function remember(f: StoreFile): void {
  if (f.origin.sha256 && cachedFingerprint(f.path) !== f.origin.sha256) rememberFingerprint(f.path, f.origin.sha256);
}

function describe(ref: StoreRef): string {
  return formatStoreRef(ref);
}

/** A variant named by a store ref: exactly one file, a readable model GGUF. */
function storeVariant(name: string, v: ConfiguredVariant, ctx: FamilyContext): FamilyVariant {
  const base = { name, path: "", ...(v.contextSize ? { contextSize: v.contextSize } : {}) };
  const range = v.storeRange ?? v.range;
  const fail = (code: StoreProblem["code"] | "DL107", message: string, extra: Partial<FamilyVariant> = {}): FamilyVariant => {
    push(ctx, range, { code, message });
    return { ...base, ...extra, problem: message };
  };
  if (v.storeError) return fail("DL142", v.storeError);
  const ref = v.store!;
  const l = ctx.stores.listing(ref, ctx.overrides, false);
  if (l.problems.length) return fail(l.problems[0]!.code, l.problems[0]!.message);
  if (l.files.length === 0) return fail("DL140", `${describe(ref)} holds no GGUF model file`);
  if (l.files.length > 1) {
    return fail("DL142", `${describe(ref)} holds ${l.files.length} GGUF files (${l.files.map((f) => f.origin.file ?? path.basename(f.path)).join(", ")}): name one with file: (or list the ${ref.kind === "huggingface" ? "repo" : "folder"} under scan to get them all)`);
  }
  const f = l.files[0]!;
  remember(f);
  const h = ctx.gguf(f.path);
  const at = { path: f.path, origin: f.origin };
  if (h.error || !h.facts) return fail("DL107", `${originLabel(f.origin)} (${f.path}) is not a readable GGUF: ${h.error ?? "no header"}`, at);
  if (h.facts.isLora) return fail("DL107", `${originLabel(f.origin)} is a LoRA adapter, not a model; configure it with an .adapter.yaml`, at);
  return { ...base, ...at, ...(h.facts.quant ? { quant: h.facts.quant } : {}) };
}

/** Every variant of a family, in order: named ones first, then each scan's files. */
export function familyVariantList(fam: FamilyConfig, ctx: FamilyContext): FamilyVariant[] {
  const list: FamilyVariant[] = [];
  for (const [name, v] of Object.entries(fam.variants)) {
    let e: FamilyVariant;
    if (v.remote) e = { name, path: v.path, remote: v.remote };
    else if (v.store || v.storeError) e = storeVariant(name, v, ctx);
    else {
      const h = fs.existsSync(v.path) ? ctx.gguf(v.path) : undefined;
      e = { name, path: v.path, ...(h?.facts?.quant ? { quant: h.facts.quant } : {}), ...(v.contextSize ? { contextSize: v.contextSize } : {}) };
    }
    SOURCE.set(e, -1);
    list.push(e);
  }
  fam.scan.forEach((scan, i) => scanInto(list, fam, scan, i, ctx));
  return list;
}

type Scan = FamilyConfig["scan"][number];

interface Candidate {
  path: string;
  /** The name shown in messages: the file name in a folder, the store label otherwise. */
  label: string;
  origin?: ModelOrigin;
}

/**
 * The candidate files of one scan entry, reporting store problems on the way (`broken` collects
 * those whose variant name can be guessed); undefined when the folder cannot be read.
 */
function scanCandidates(scan: Scan, ctx: FamilyContext, broken: StoreProblem[]): Candidate[] | undefined {
  if (scan.storeError) {
    push(ctx, scan.range, { code: "DL142", message: scan.storeError });
    return [];
  }
  let ref: StoreRef | undefined = scan.store;
  let at: StoreLocation | undefined;
  if (!ref) {
    const d = ctx.stores.detectFolder(scan.path);
    if (d) ({ ref, at } = d);
  }
  if (!ref) {
    let names: string[];
    try {
      names = fs.readdirSync(scan.path).filter((n) => n.toLowerCase().endsWith(".gguf")).sort();
    } catch {
      return undefined;
    }
    return names.map((n) => ({ path: path.join(scan.path, n), label: n }));
  }
  const l = ctx.stores.listing(ref, ctx.overrides, true, at);
  for (const p of l.problems) {
    push(ctx, scan.range, p);
    if (p.guess) broken.push(p);
  }
  if (l.files.length === 0 && l.problems.length === 0) push(ctx, scan.range, { code: "DL104", severity: "warning", message: `scan '${scan.declared}' finds no .gguf model file in ${l.where ?? formatStoreRef(ref)}` });
  for (const f of l.files) remember(f);
  return l.files.map((f) => ({ path: f.path, label: originLabel(f.origin), origin: f.origin }));
}

function scanInto(list: FamilyVariant[], fam: FamilyConfig, scan: Scan, index: number, ctx: FamilyContext): void {
  const broken: StoreProblem[] = [];
  const candidates = scanCandidates(scan, ctx, broken);
  if (!candidates) return;
  for (const c of candidates) {
    const h = ctx.gguf(c.path);
    if (h.error || !h.facts) {
      push(ctx, scan.range, { code: "DL107", message: `${c.label} in ${c.origin ? `'${scan.declared}'` : `scan folder '${scan.declared}'`} is not a readable GGUF: ${h.error ?? "no header"}` });
      continue;
    }
    if (h.facts.isLora) continue; // adapters are configured by *.adapter.yaml, not as variants
    const quant = h.facts.quant ?? "unknown";
    // The same bytes found again (same quant is necessary: it is read from those bytes). Within
    // one source only what is known without hashing counts (one blob under two tags or names):
    // two files in one folder are two files.
    const mine = { path: c.path, ...(c.origin?.sha256 ? { sha256: c.origin.sha256 } : {}) };
    const dup = list.find((x) => {
      if (!x.path || x.quant !== quant) return false;
      const other = { path: x.path, ...(x.origin?.sha256 ? { sha256: x.origin.sha256 } : {}) };
      return SOURCE.get(x) !== index ? sameBytes(other, mine) : knownSame(other, mine);
    });
    if (dup) {
      (dup.also ??= []).push({ path: c.path, ...(c.origin ? { origin: c.origin } : {}) });
      continue;
    }
    let name = quant.toLowerCase();
    if (list.some((x) => x.name === name)) {
      const stem = (c.origin?.store === "ollama" ? c.origin.model : path.basename(c.path).replace(/\.gguf$/i, "")).replace(/[^A-Za-z0-9_.-]/g, "_");
      const alt = `${name}-${stem}`;
      push(ctx, scan.range, { code: "DL108", severity: "warning", message: `${c.label} in '${scan.declared}' is ${quant} like another variant of '${fam.name}'; it is named '${alt}'` });
      name = alt;
    }
    const e: FamilyVariant = { name, path: c.path, quant, ...(c.origin ? { origin: c.origin } : {}) };
    SOURCE.set(e, index);
    list.push(e);
  }
  // A broken file whose variant name can be guessed, and is not taken by a good file, still
  // answers `--variant family/<guess>` with its problem.
  for (const p of broken) if (!list.some((x) => x.name === p.guess)) list.push({ name: p.guess!, path: "", problem: p.message });
}

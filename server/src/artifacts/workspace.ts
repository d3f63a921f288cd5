// The artifact Workspace: one per workspace root, shared by the language server, the CLI and the
// runner. It reads files (or the editor's overlays for open buffers), caches parses by content,
// resolves variants, and runs the cross-file checks (prompt ↔ eval sets, model refs ↔
// driftlens.yaml, adapters ↔ GGUF headers).
import fs from "node:fs";
import path from "node:path";
import { AdoptCache, providerDiagnostics, type AdoptedSuite } from "./adopt";
import { ggufFileInfo, type GgufFacts, type GgufHeader } from "../gguf/reader";
import { adapterNameOf, parseAdapter, type AdapterDoc } from "./adapter";
import { corpusDiagnostics } from "./corpus";
import { findConfigFile, loadConfig, parseConfigText, type ConfigDoc, type FamilyConfig } from "./config";
import { declaredEvalSetPrompt, EvalParseCache, MAX_EVAL_DIAGNOSTICS, parseEvalSet, scanJsonlEvalSet, type EvalCase, type EvalSetDoc } from "./evalset";
import { effectiveConfig, type ConfigOverrides } from "./effective-config";
import { cachedFingerprint, fingerprintFile } from "./fingerprint";
import { Containment, listedFolders, storePathProblem } from "./containment";
import { readRegularText, regularFileProblem } from "../util/safe-file";
import { checkValue, type JSONSchema } from "./picoschema";
import { evalSamplingDiagnostics, sliceSizeDiagnostics } from "./eval-sampling-checks";
import { familyVariantList, type FamilyVariant } from "./model-stores/family";
import type { StoreEnvironment } from "./model-stores/locations";
import { ModelStores } from "./model-stores/stores";
import type { ModelOrigin, StoreRef } from "./model-stores/types";
import { parsePrompt, parseTemplate, sampleInput, type PromptDoc } from "./prompt";
import { findPartialFile, partialTemplate, renderPrompt, renderTextForCount, RenderError, type RenderedPrompt } from "./render";
import { artifactKind, type Diagnostic, type Range } from "./types";
import { formatVariantRef, tryParseVariantRef } from "./variant-ref";
import type { EndpointCheck, RemoteModelSpec } from "../llm/types";
import { RemoteChecks, type RemoteVariantStatus } from "./remote-checks";

export interface ResolvedAdapter {
  /** Adapter name (basename of its .adapter.yaml). */
  name: string;
  /** The adapter config file. */
  file: string;
  /** The LoRA GGUF file. */
  path: string;
  scale: number;
}

export interface ResolvedVariant {
  /** Canonical ref, e.g. `tiny/f16` or `tiny/f16+formal@0.5`. */
  id: string;
  family: string;
  variant: string;
  modelPath: string;
  /** Quant name from the GGUF header (e.g. "Q4_0"), when the file is readable. */
  quant?: string;
  adapters: ResolvedAdapter[];
  isReference: boolean;
  /** The family's reference variant id; for an adapter variant, its base variant. */
  referenceId: string;
  /** Context size to run with (variant override, else engine.contextSize). */
  contextSize?: number;
  /** Set for a served model: its endpoints (modelPath is then its first endpoint, for messages). */
  remote?: RemoteModelSpec;
  /** The model store the file came from (Hugging Face cache, LM Studio, Ollama). */
  origin?: ModelOrigin;
  /** Other places the same bytes were found by the family's scans (listed once, here). */
  also?: { path: string; origin?: ModelOrigin }[];
}

export type CountTokens = (modelPath: string, text: string) => Promise<number>;

export interface WorkspaceOptions {
  /** Real token counting (the language server passes the engine's). Without it, an estimate. */
  countTokens?: CountTokens;
  /**
   * Asks served variants' endpoints what they serve (diagnostics DL122-DL124, hover): the language
   * server passes llm/remote's check in a trusted workspace, the CLI always. Without it nothing is
   * sent anywhere (a restricted workspace).
   */
  checkEndpoint?: EndpointCheck;
  /** Progress of a long check (a large eval set): `done` of `total` (bytes or cases) for `file`. */
  onProgress?: (file: string, done: number, total: number) => void;
  /** Environment the model stores are found through (OLLAMA_MODELS, HF_HUB_CACHE, home, …); default: this process's. */
  storeEnvironment?: Partial<StoreEnvironment>;
  /**
   * The editor's settings over driftlens.yaml (artifacts/effective-config.ts), read at each check:
   * the gate's slice-size hint (DL309) uses the gate a run in the editor would apply.
   */
  configOverrides?: () => ConfigOverrides | undefined;
}

/** Characters per token for the estimate used when no tokenizer is available. */
export const CHARS_PER_TOKEN_ESTIMATE = 3.5;

const IGNORED_DIRS = new Set(["node_modules", ".git", ".driftlens", "dist", "out", ".vscode-test", ".hg", ".svn"]);
const MAX_WALK_ENTRIES = 50_000;

/**
 * Every artifact file below `dir`, sorted; skips dependency, build and hidden folders, and stops
 * after a bounded number of entries so a huge tree cannot stall the server.
 */
export function findArtifactFiles(dir: string): string[] {
  const files: string[] = [];
  let seen = 0;
  const walk = (d: string, depth: number) => {
    if (depth > 16 || seen > MAX_WALK_ENTRIES) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (++seen > MAX_WALK_ENTRIES) return;
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (!IGNORED_DIRS.has(e.name) && !e.name.startsWith(".")) walk(p, depth + 1);
      } else if (e.isFile() && artifactKind(p) !== "unknown") files.push(p);
    }
  };
  walk(dir, 0);
  return files.sort();
}
const LIST_TTL_MS = 1500;

/**
 * The most Driftlens reads of an artifact file at once. Prompts, adapter configs and driftlens.yaml
 * are small by nature; eval sets may be large (a YAML one is parsed item by item, a JSONL one
 * larger than this is checked by streaming it: see Workspace.diagnose).
 */
export const MAX_EVAL_SET_BYTES = 256 * 1024 * 1024;
export const MAX_TEXT_ARTIFACT_BYTES = 16 * 1024 * 1024;
/**
 * Eval sets on disk larger than this are checked in scan mode (cases checked as read, then
 * dropped; JSONL streamed): a parse that keeps every case costs 10-16 times the file.
 */
export const SCAN_EVAL_BYTES = 16 * 1024 * 1024;

function maxArtifactBytes(file: string): number {
  return artifactKind(file) === "evalset" ? MAX_EVAL_SET_BYTES : MAX_TEXT_ARTIFACT_BYTES;
}

interface HeaderEntry {
  size: number;
  mtimeMs: number;
  header?: GgufHeader;
  facts?: GgufFacts;
  error?: string;
}

const PRECISION: [RegExp, number][] = [
  [/^F32$/i, 32],
  [/^(BF16|F16)$/i, 16],
  [/^Q8/i, 8],
  [/^(I?Q6)/i, 6],
  [/^(I?Q5)/i, 5],
  [/^(I?Q4)/i, 4],
  [/^(I?Q3)/i, 3],
  [/^(I?Q2|TQ2)/i, 2],
  [/^(I?Q1|TQ1)/i, 1],
];

/** Bits-ish precision of a quant name, for choosing a default reference. */
export function quantPrecision(quant: string | undefined): number {
  if (!quant) return 0;
  for (const [re, bits] of PRECISION) if (re.test(quant)) return bits;
  return 0;
}

function rangeAt(line = 0): Range {
  return { start: { line, character: 0 }, end: { line, character: 0 } };
}

/** The `store:` line of driftlens.yaml (its first line when there is none). */
function storeRange(text: string | undefined): Range {
  const lines = (text ?? "").split("\n");
  const i = lines.findIndex((l) => /^store\s*:/.test(l));
  return i < 0 ? rangeAt(0) : { start: { line: i, character: 0 }, end: { line: i, character: lines[i]!.length } };
}

function sortDiagnostics(d: Diagnostic[]): Diagnostic[] {
  return d.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}

export class Workspace {
  readonly root: string;
  private readonly overlays = new Map<string, string>();
  private configCache?: { text: string | undefined; file: string | undefined; doc: ConfigDoc };
  private promptCache = new Map<string, PromptDoc>();
  private evalCache = new Map<string, EvalSetDoc>();
  private evalParseCaches = new Map<string, EvalParseCache>();
  /** `prompt:` of eval sets not parsed in full, by the editor text or the file's size and time. */
  private declaredCache = new Map<string, { text: string; prompt: string | undefined }>();
  private adapterCache = new Map<string, AdapterDoc>();
  private adoptCache = new AdoptCache(this);
  private listCache?: { at: number; files: string[] };
  private containmentCache?: { doc: ConfigDoc; c: Containment };
  private rootOnly?: Containment;
  private tokenCache = new Map<string, number>();
  /** Per-case vars checks, valid while the case object and the prompt's schema are the same. */
  private varsChecks = new WeakMap<EvalCase, { schema: JSONSchema; defaults: Record<string, unknown>; diagnostics: Diagnostic[] }>();
  private readonly countTokens?: CountTokens;
  /** Served variants' endpoints are asked only with a checkEndpoint (trusted workspaces, the CLI). */
  private readonly remote?: RemoteChecks;
  private readonly onProgress?: (file: string, done: number, total: number) => void;
  private readonly configOverrides?: () => ConfigOverrides | undefined;
  /** Reads the Hugging Face cache, LM Studio's folder and Ollama's store (never writes them). */
  readonly modelStores: ModelStores;

  constructor(root: string, options: WorkspaceOptions = {}) {
    this.root = path.resolve(root);
    if (options.countTokens) this.countTokens = options.countTokens;
    if (options.checkEndpoint) this.remote = new RemoteChecks(options.checkEndpoint);
    if (options.onProgress) this.onProgress = options.onProgress;
    if (options.configOverrides) this.configOverrides = options.configOverrides;
    this.modelStores = new ModelStores(options.storeEnvironment);
  }

  // ---------- files ----------

  /** Sets (or with undefined clears) the editor's text for a file; it wins over the disk. */
  setOverlay(file: string, text: string | undefined): void {
    const abs = path.resolve(this.root, file);
    if (text === undefined) this.overlays.delete(abs);
    else {
      if (!this.overlays.has(abs) && !fs.existsSync(abs)) this.listCache = undefined;
      this.overlays.set(abs, text);
    }
  }

  /**
   * The current text of a file (overlay or disk); undefined when it cannot be read. On disk only a
   * regular file within the size cap, inside the workspace or a folder driftlens.yaml lists, is
   * read (readProblem says why another is not).
   */
  read(file: string): string | undefined {
    const abs = path.resolve(this.root, file);
    const o = this.overlays.get(abs);
    if (o !== undefined) return o;
    if (!this.allowed(abs)) return undefined;
    try {
      return readRegularText(abs, maxArtifactBytes(abs));
    } catch {
      return undefined;
    }
  }

  /** Why read() gives nothing for `file` (missing, outside the workspace, not a regular file, too large). */
  readProblem(file: string): string | undefined {
    const abs = path.resolve(this.root, file);
    if (this.overlays.has(abs)) return undefined;
    if (!this.allowed(abs)) return this.containment().outsideMessage("the file", file, abs);
    return regularFileProblem(abs, maxArtifactBytes(abs))?.message;
  }

  /** An eval set on disk (no editor text) larger than SCAN_EVAL_BYTES: checked in scan mode. */
  private largeOnDisk(abs: string): boolean {
    if (this.overlays.has(abs)) return false;
    try {
      return fs.statSync(abs).size > SCAN_EVAL_BYTES;
    } catch {
      return false;
    }
  }

  /** Whether files an artifact names may be read at `file`: inside the workspace or a folder driftlens.yaml lists. */
  allowed(file: string): boolean {
    const abs = path.resolve(this.root, file);
    // The root first: driftlens.yaml itself is read before the folders it lists are known.
    this.rootOnly ??= new Containment(this.root);
    return this.overlays.has(abs) || this.rootOnly.contains(abs) || this.containment().contains(abs);
  }

  /** The allowed folders, recomputed when driftlens.yaml changes. */
  containment(): Containment {
    const doc = this.config();
    if (this.containmentCache?.doc !== doc) {
      this.containmentCache = { doc, c: new Containment(this.root, [...listedFolders(doc.config), ...this.modelStoreRoots()]) };
    }
    return this.containmentCache.c;
  }

  /** A DL127 diagnostic when `abs` (declared as `declared`) lies outside the allowed folders. */
  private outside(file: string, range: Range, what: string, declared: string, abs: string): Diagnostic | undefined {
    if (this.allowed(abs)) return undefined;
    return { file, range, severity: "error", code: "DL127", message: this.containment().outsideMessage(what, declared, abs) };
  }

  exists(file: string): boolean {
    const abs = path.resolve(this.root, file);
    return this.overlays.has(abs) || fs.existsSync(abs);
  }

  private mustRead(file: string, what: string): string {
    const t = this.read(file);
    if (t === undefined) throw new Error(`cannot read ${what} ${file}: ${this.readProblem(file) ?? "the file does not exist or is not readable"}`);
    return t;
  }

  /** Every artifact file under the root (and open overlays), sorted. */
  listArtifacts(): string[] {
    const now = Date.now();
    if (this.listCache && now - this.listCache.at < LIST_TTL_MS) return this.withOverlays(this.listCache.files);
    const files = findArtifactFiles(this.root);
    this.listCache = { at: now, files };
    return this.withOverlays(files);
  }

  private withOverlays(files: string[]): string[] {
    const extra = [...this.overlays.keys()].filter((f) => artifactKind(f) !== "unknown" && !files.includes(f) && f.startsWith(this.root + path.sep));
    return extra.length ? [...files, ...extra].sort() : files;
  }

  // ---------- parsed artifacts ----------

  config(): ConfigDoc {
    const file = findConfigFile(this.root) ?? [...this.overlays.keys()].find((f) => artifactKind(f) === "config" && path.dirname(f) === this.root);
    const text = file ? this.read(file) : undefined;
    if (this.configCache && this.configCache.text === text && this.configCache.file === file) return this.configCache.doc;
    const doc = file && text !== undefined ? parseConfigText(this.root, text, file) : loadConfig(this.root);
    this.configCache = { text, file, doc };
    return doc;
  }

  /** The parsed prompt; throws a clear Error when the file cannot be read. */
  prompt(file: string): PromptDoc {
    const abs = path.resolve(this.root, file);
    const text = this.mustRead(abs, "prompt");
    const hit = this.promptCache.get(abs);
    if (hit && hit.text === text) return hit;
    const doc = parsePrompt(text, abs);
    this.promptCache.set(abs, doc);
    return doc;
  }

  /** The parsed eval set; throws a clear Error when the file cannot be read. */
  evalSet(file: string): EvalSetDoc {
    const abs = path.resolve(this.root, file);
    const text = this.mustRead(abs, "eval set");
    const hit = this.evalCache.get(abs);
    if (hit && hit.text === text) return hit;
    let cache = this.evalParseCaches.get(abs);
    if (!cache) this.evalParseCaches.set(abs, (cache = new EvalParseCache()));
    // Progress for a file that takes seconds to parse (about 1 MB a second on a busy machine).
    const onProgress = this.onProgress && text.length > 1 << 20 ? (done: number, total: number) => this.onProgress!(abs, done, total) : undefined;
    const doc = parseEvalSet(text, abs, cache, onProgress ? { onProgress } : {});
    this.evalCache.set(abs, doc);
    return doc;
  }

  /** The parsed adapter config; throws a clear Error when the file cannot be read. */
  adapter(file: string): AdapterDoc {
    const abs = path.resolve(this.root, file);
    const text = this.mustRead(abs, "adapter config");
    const hit = this.adapterCache.get(abs);
    if (hit && hit.text === text) return hit;
    const doc = parseAdapter(text, abs);
    this.adapterCache.set(abs, doc);
    return doc;
  }

  /**
   * A promptfoo config, GitHub `.prompt.yml` or Prompty file as prompts and cases (adopt/), cached
   * by its text and the text of every file it references; throws when the file cannot be read.
   */
  adopted(file: string): AdoptedSuite {
    const abs = path.resolve(this.root, file);
    return this.adoptCache.get(abs, this.mustRead(abs, "file"));
  }

  /**
   * GGUF header and facts, parsed once per process and file version (ggufFileInfo); the header
   * keeps no long metadata arrays. `error` says why the file is unreadable.
   */
  gguf(file: string): HeaderEntry {
    return ggufFileInfo(path.resolve(this.root, file));
  }

  // ---------- relations ----------

  /** Eval sets covering a prompt: those whose `prompt:` names it, plus its `driftlens.evals`. */
  evalSetsFor(promptFile: string): string[] {
    const abs = path.resolve(this.root, promptFile);
    const out = new Set<string>();
    for (const f of this.listArtifacts()) {
      if (artifactKind(f) !== "evalset") continue;
      const p = this.declaredPromptOf(f);
      if (p && path.resolve(path.dirname(f), p) === abs) out.add(f);
    }
    try {
      for (const e of this.prompt(abs).evals) if (this.exists(e.path) && this.allowed(e.path)) out.add(e.path);
    } catch {
      // unreadable prompt: only the eval sets that name it
    }
    return [...out].sort();
  }

  /** The prompt an eval set runs: its `prompt:`, else the first prompt listing it in driftlens.evals. */
  promptFor(evalSetFile: string): string | undefined {
    const abs = path.resolve(this.root, evalSetFile);
    const declared = this.declaredPromptOf(abs);
    if (declared) return path.resolve(path.dirname(abs), declared);
    for (const f of this.listArtifacts()) {
      if (artifactKind(f) !== "prompt" || path.basename(f).startsWith("_")) continue;
      try {
        if (this.prompt(f).evals.some((e) => e.path === abs)) return f;
      } catch {
        // skip unreadable prompts
      }
    }
    return undefined;
  }

  /**
   * `prompt:` of an eval set, read by the eval-set parser itself from the header alone (no parse
   * of its cases), so every path (CLI, language server, runner, diff) agrees with `check`.
   */
  private declaredPromptOf(file: string): string | undefined {
    const cached = this.evalCache.get(file);
    const overlay = this.overlays.get(file);
    let key: string;
    let text: string | undefined;
    if (overlay !== undefined) {
      if (cached && cached.text === overlay) return cached.prompt?.declared;
      key = overlay;
      text = overlay;
    } else {
      // On disk: keyed by size and time, so a large eval set is not read again for every lookup,
      // and of a JSONL file only its start (the header is its first line).
      let st: fs.Stats;
      try {
        st = fs.statSync(file);
      } catch {
        return undefined;
      }
      key = `\u0000${st.size}:${st.mtimeMs}`;
      const hit = this.declaredCache.get(file);
      if (hit && hit.text === key) return hit.prompt;
      if (!this.allowed(file)) return undefined;
      try {
        text = file.endsWith(".jsonl") ? readRegularText(file, Infinity, 1 << 20) : this.read(file);
      } catch {
        text = undefined;
      }
      if (text === undefined) return undefined;
      if (file.endsWith(".jsonl") && st.size > 1 << 20) text = text.slice(0, Math.max(0, text.lastIndexOf("\n")));
      if (cached && cached.text === text) return cached.prompt?.declared;
    }
    const prompt = declaredEvalSetPrompt(text, file);
    this.declaredCache.set(file, { text: key, prompt });
    return prompt;
  }

  /** Files whose diagnostics may change when `file` changes. */
  dependents(file: string): string[] {
    const abs = path.resolve(this.root, file);
    const kind = artifactKind(abs);
    const all = this.listArtifacts();
    const out = new Set<string>();
    if (kind === "config" || abs.endsWith(".gguf")) {
      for (const f of all) if (f !== abs) out.add(f);
    } else if (kind === "prompt") {
      for (const e of this.evalSetsFor(abs)) out.add(e);
      // A partial (or any prompt, since partial folders are configurable) affects prompts using it.
      if (path.basename(abs).startsWith("_")) for (const f of all) if (artifactKind(f) === "prompt" && f !== abs) out.add(f);
    } else if (kind === "evalset") {
      const p = this.promptFor(abs);
      if (p) out.add(p);
      for (const f of all) if (artifactKind(f) === "adapter") out.add(f);
    } else if (kind === "prompty") {
      for (const e of this.evalSetsFor(abs)) out.add(e);
    } else if (kind === "adapter") {
      for (const f of all) {
        if (artifactKind(f) !== "adapter" || f === abs) continue;
        try {
          if (this.adapter(f).compose.some((c) => c.path === abs)) out.add(f);
        } catch {
          // skip
        }
      }
    }
    // Adopted files that read this file (a promptfoo config's CSV, a Prompty sample).
    for (const f of this.adoptCache.readers(abs)) out.add(f);
    out.delete(abs);
    return [...out].sort();
  }

  // ---------- variants ----------

  private familyVariants(fam: FamilyConfig, diagnostics?: Diagnostic[], configFile?: string): FamilyVariant[] {
    return familyVariantList(fam, {
      gguf: (p) => this.gguf(p),
      stores: this.modelStores,
      overrides: this.config().config.modelStores,
      ...(diagnostics && configFile ? { report: { diagnostics, file: configFile } } : {}),
    });
  }

  /**
   * Model store folders driftlens.yaml's models reach into (the hub cache, LM Studio's folder,
   * Ollama's store): model files under them count as in folders driftlens.yaml lists.
   */
  modelStoreRoots(): string[] {
    const cfg = this.config().config;
    const refs: StoreRef[] = [];
    const detected: string[] = [];
    for (const fam of Object.values(cfg.models)) {
      for (const v of Object.values(fam.variants)) if (v.store) refs.push(v.store);
      for (const s of fam.scan) {
        if (s.store) refs.push(s.store);
        else if (!s.storeError) {
          const d = this.modelStores.detectFolder(s.path);
          if (d) detected.push(d.at.path);
        }
      }
    }
    return [...new Set([...this.modelStores.rootsFor(refs, cfg.modelStores), ...detected])].sort();
  }

  private referenceOf(fam: FamilyConfig, list: { name: string; quant?: string }[]): string | undefined {
    if (fam.reference && list.some((v) => v.name === fam.reference)) return fam.reference;
    if (fam.reference) return fam.reference;
    let best: { name: string; p: number } | undefined;
    for (const v of list) {
      const p = quantPrecision(v.quant);
      if (!best || p > best.p) best = { name: v.name, p };
    }
    return best?.name;
  }

  /** Every base variant of every family, plus one adapter variant per adapter config on a family base. */
  variants(): ResolvedVariant[] {
    const cfg = this.config().config;
    const out: ResolvedVariant[] = [];
    for (const fam of Object.values(cfg.models)) {
      const list = this.familyVariants(fam);
      const ref = this.referenceOf(fam, list);
      for (const v of list) {
        if (v.problem) continue; // a broken store entry: resolving it by name says why
        out.push({
          id: `${fam.name}/${v.name}`,
          family: fam.name,
          variant: v.name,
          modelPath: v.path,
          ...(v.quant ? { quant: v.quant } : {}),
          adapters: [],
          isReference: v.name === ref,
          referenceId: `${fam.name}/${ref ?? v.name}`,
          contextSize: v.contextSize ?? cfg.engine.contextSize,
          ...(v.remote ? { remote: v.remote } : {}),
          ...(v.origin ? { origin: v.origin } : {}),
          ...(v.also ? { also: v.also } : {}),
        });
      }
    }
    for (const f of this.listArtifacts()) {
      if (artifactKind(f) !== "adapter") continue;
      let a: AdapterDoc;
      try {
        a = this.adapter(f);
      } catch {
        continue;
      }
      if (!a.base || !a.gguf) continue;
      const r = tryParseVariantRef(a.base.model);
      if ("error" in r || r.ref.adapters.length) continue;
      const base = out.find((v) => v.family === r.ref.family && v.variant === r.ref.variant && v.adapters.length === 0);
      if (!base) continue;
      try {
        out.push(this.resolveVariant(`${base.id}+${a.name}`));
      } catch {
        // unresolvable composition: diagnostics on the adapter say why
      }
    }
    return out;
  }

  /** Resolves a variant ref; throws an Error saying what is wrong and what exists. */
  resolveVariant(ref: string): ResolvedVariant {
    const parsed = tryParseVariantRef(ref);
    if ("error" in parsed) throw new Error(parsed.error);
    const { family, variant, adapters } = parsed.ref;
    const cfg = this.config();
    const fam = cfg.config.models[family];
    if (!fam) {
      const names = Object.keys(cfg.config.models);
      throw new Error(`unknown model family '${family}' in '${ref}': ${names.length ? `driftlens.yaml defines ${names.join(", ")}` : `no driftlens.yaml in ${this.root} defines model families`}`);
    }
    const list = this.familyVariants(fam);
    const v = list.find((x) => x.name === variant);
    if (!v) throw new Error(`family '${family}' has no variant '${variant}' (variants: ${list.map((x) => x.name).join(", ") || "none"})`);
    if (v.problem) throw new Error(v.problem);
    const refName = this.referenceOf(fam, list);
    if (v.remote) return this.resolveRemote(family, variant, v.path, v.remote, adapters, refName);
    const resolvedAdapters: ResolvedAdapter[] = [];
    for (const a of adapters) {
      const file = this.findAdapterConfig(a.name);
      if (!file) throw new Error(`adapter '${a.name}' in '${ref}' not found: create ${a.name}.adapter.yaml in the workspace`);
      const doc = this.adapter(file);
      if (!doc.gguf) throw new Error(`adapter config ${file} has no 'file' (the LoRA GGUF)`);
      if (!this.allowed(doc.gguf.path)) throw new Error(this.containment().outsideMessage(`adapter ${a.name}'s file`, doc.gguf.declared, doc.gguf.path));
      resolvedAdapters.push({ name: a.name, file, path: doc.gguf.path, scale: a.scale ?? doc.scale });
      for (const c of doc.compose) {
        if (!this.exists(c.path)) throw new Error(`adapter ${file} composes ${c.adapter}, which does not exist`);
        const cd = this.adapter(c.path);
        if (!cd.gguf) throw new Error(`composed adapter config ${c.path} has no 'file'`);
        if (!this.allowed(cd.gguf.path)) throw new Error(this.containment().outsideMessage(`adapter ${cd.name}'s file`, cd.gguf.declared, cd.gguf.path));
        resolvedAdapters.push({ name: cd.name, file: c.path, path: cd.gguf.path, scale: c.scale });
      }
    }
    const id = formatVariantRef({ family, variant, adapters: adapters.map((a, i) => ({ name: a.name, scale: a.scale ?? resolvedAdapters.find((r) => r.name === a.name)?.scale ?? i })) });
    const baseId = `${family}/${variant}`;
    return {
      id: adapters.length ? id : baseId,
      family,
      variant,
      modelPath: v.path,
      ...(v.quant ? { quant: v.quant } : {}),
      adapters: resolvedAdapters,
      isReference: adapters.length === 0 && variant === refName,
      referenceId: adapters.length ? baseId : `${family}/${refName ?? variant}`,
      contextSize: v.contextSize ?? cfg.config.engine.contextSize,
      ...(v.origin ? { origin: v.origin } : {}),
      ...(v.also ? { also: v.also } : {}),
    };
  }

  /**
   * A served variant: adapters are named for the server to apply (llama-server /lora-adapters,
   * vLLM LoRA modules); a local adapter config of that name only supplies the default scale.
   */
  private resolveRemote(family: string, variant: string, url: string, remote: RemoteModelSpec, adapters: { name: string; scale?: number }[], refName: string | undefined): ResolvedVariant {
    const named = adapters.map((a) => {
      let scale = a.scale;
      if (scale === undefined) {
        const file = this.findAdapterConfig(a.name);
        try {
          scale = file ? this.adapter(file).scale : 1;
        } catch {
          scale = 1;
        }
      }
      return { name: a.name, scale };
    });
    const baseId = `${family}/${variant}`;
    return {
      id: named.length ? formatVariantRef({ family, variant, adapters: named }) : baseId,
      family,
      variant,
      modelPath: url,
      adapters: [],
      isReference: named.length === 0 && variant === refName,
      referenceId: named.length ? baseId : `${family}/${refName ?? variant}`,
      remote: { ...remote, adapters: named },
    };
  }

  /**
   * What a served variant's endpoints report (each endpoint: its facts or why it did not answer),
   * asked at most every few seconds; undefined when endpoints may not be asked (restricted
   * workspace) or the ref is not a served variant.
   */
  async remoteStatus(ref: string): Promise<RemoteVariantStatus | undefined> {
    if (!this.remote) return undefined;
    let v: ResolvedVariant;
    try {
      v = this.resolveVariant(ref);
    } catch {
      return undefined;
    }
    return v.remote ? this.remote.status(v.id, v.remote) : undefined;
  }

  private findAdapterConfig(name: string): string | undefined {
    return this.listArtifacts().find((f) => artifactKind(f) === "adapter" && adapterNameOf(f) === name);
  }

  // ---------- rendering ----------

  /** Finds a partial file for a prompt (`_name.prompt` beside it or in configured folders). */
  partialFile(name: string, promptFile: string): string | undefined {
    const folders = this.config().config.prompts.partials;
    for (const dir of [path.dirname(promptFile), ...folders]) {
      const candidates = [path.join(dir, `_${name}.prompt`)];
      const slash = name.lastIndexOf("/");
      if (slash > 0) candidates.push(path.join(dir, name.slice(0, slash), `_${name.slice(slash + 1)}.prompt`));
      for (const c of candidates) if (this.overlays.has(c)) return c;
    }
    return findPartialFile(name, promptFile, folders);
  }

  /** Renders a prompt with Dotprompt, partials resolved from the workspace (overlays included). */
  async render(promptFile: string, data: Parameters<typeof renderPrompt>[1] = {}, options?: Parameters<typeof renderPrompt>[3]): Promise<RenderedPrompt> {
    const doc = this.prompt(promptFile);
    return renderPrompt(
      doc,
      data,
      (name) => {
        const f = this.partialFile(name, doc.file);
        const t = f ? this.read(f) : undefined;
        return t === undefined ? undefined : partialTemplate(t);
      },
      options,
    );
  }

  // ---------- diagnostics ----------

  /** All diagnostics for one file: its own plus the cross-file checks. Never throws. */
  async diagnose(file: string): Promise<Diagnostic[]> {
    const abs = path.resolve(this.root, file);
    const kind = artifactKind(abs);
    try {
      switch (kind) {
        case "config":
          return sortDiagnostics([...this.checkConfig(), ...(await this.remoteConfigDiagnostics())]);
        case "prompt":
          return sortDiagnostics(await this.checkPrompt(abs));
        case "evalset":
          return sortDiagnostics(this.largeOnDisk(abs) ? this.checkEvalSetScan(abs) : this.checkEvalSet(abs));
        case "adapter":
          return sortDiagnostics(await this.checkAdapter(abs));
        case "promptfoo":
        case "ghprompt":
        case "prompty": {
          const suite = this.adopted(abs);
          return sortDiagnostics([...suite.diagnostics, ...providerDiagnostics(suite, this.config().config)]);
        }
        default:
          return [];
      }
    } catch (e) {
      if (!this.exists(abs)) return [];
      const code = { config: "DL100", prompt: "DL200", evalset: "DL300", adapter: "DL400", promptfoo: "DL500", ghprompt: "DL600", prompty: "DL700", unknown: "DL400" }[kind];
      return [{ file: abs, range: rangeAt(), severity: "error", code, message: `Driftlens could not check this file: ${e instanceof Error ? e.message : String(e)}` }];
    }
  }

  private checkConfig(): Diagnostic[] {
    const doc = this.config();
    const out = [...doc.diagnostics];
    const file = doc.file ?? path.join(this.root, "driftlens.yaml");
    const storeProblem = storePathProblem(this.root, doc.config.store);
    if (storeProblem) out.push({ file, range: storeRange(this.read(file)), severity: "error", code: "DL128", message: storeProblem });
    for (const fam of Object.values(doc.config.models)) {
      for (const [name, v] of Object.entries(fam.variants)) {
        if (v.remote) continue; // served: checked by remoteDiagnostics (network) and at parse time
        if (v.store || v.storeError) continue; // checked with the store (familyVariants below)
        if (!fs.existsSync(v.path)) {
          out.push({ file, range: v.range ?? rangeAt(), severity: "error", code: "DL103", message: `variant '${fam.name}/${name}': model file ${v.declared} does not exist (looked at ${v.path})` });
          continue;
        }
        const h = this.gguf(v.path);
        if (h.error) out.push({ file, range: v.range ?? rangeAt(), severity: "error", code: "DL107", message: `variant '${fam.name}/${name}': ${v.declared} is not a readable GGUF: ${h.error}` });
        else if (h.facts?.isLora) out.push({ file, range: v.range ?? rangeAt(), severity: "error", code: "DL107", message: `variant '${fam.name}/${name}': ${v.declared} is a LoRA adapter, not a model; configure it with an .adapter.yaml` });
      }
      for (const scan of fam.scan) {
        if (scan.store || scan.storeError || this.modelStores.detectFolder(scan.path)) continue; // checked with the store
        let st: fs.Stats | undefined;
        try {
          st = fs.statSync(scan.path);
        } catch {
          st = undefined;
        }
        if (!st || !st.isDirectory()) {
          out.push({ file, range: scan.range ?? rangeAt(), severity: "error", code: "DL105", message: `scan folder '${scan.declared}' of family '${fam.name}' does not exist (looked at ${scan.path})` });
          continue;
        }
        const ggufs = fs.readdirSync(scan.path).filter((n) => n.toLowerCase().endsWith(".gguf"));
        if (ggufs.length === 0) out.push({ file, range: scan.range ?? rangeAt(), severity: "warning", code: "DL104", message: `scan folder '${scan.declared}' of family '${fam.name}' holds no .gguf file` });
      }
      out.push(...corpusDiagnostics(fam.name, fam.corpus, file, fam.range ?? rangeAt()));
      const list = this.familyVariants(fam, out, file);
      if (fam.reference && fam.scan.length > 0 && !list.some((v) => v.name === fam.reference)) {
        out.push({ file, range: fam.referenceRange ?? fam.range ?? rangeAt(), severity: "error", code: "DL106", message: `reference variant '${fam.reference}' is not a variant of family '${fam.name}' (variants: ${list.map((v) => v.name).join(", ") || "none"})` });
      }
    }
    out.push(...this.checkProviderMap(file));
    const grader = doc.config.grader;
    if (grader) {
      const p = this.modelRefProblem(grader.ref);
      if (p) out.push({ file, range: grader.range ?? rangeAt(), severity: "error", code: "DL126", message: `grader '${grader.ref}': ${p}` });
    }
    const emb = doc.config.embedding;
    if (emb) {
      const range = emb.range ?? rangeAt();
      try {
        const p = this.embeddingModel();
        if (p) {
          const h = this.gguf(p);
          if (h.error) out.push({ file, range, severity: "error", code: "DL107", message: `embedding model ${emb.declared} is not a readable GGUF: ${h.error}` });
          else if (h.facts?.isLora) out.push({ file, range, severity: "error", code: "DL107", message: `embedding model ${emb.declared} is a LoRA adapter, not a model` });
        }
      } catch (e) {
        out.push({ file, range, severity: "error", code: "DL109", message: e instanceof Error ? e.message : String(e) });
      }
    }
    return out;
  }

  /** driftlens.yaml's `grader` (the default judge of model-graded assertions), when set. */
  grader(): string | undefined {
    return this.config().config.grader?.ref;
  }

  /** DL122-DL124 for served variants: only when endpoints may be asked (see probeEndpoints). */
  private async remoteConfigDiagnostics(): Promise<Diagnostic[]> {
    const checker = this.remote;
    if (!checker) return [];
    const doc = this.config();
    const file = doc.file ?? path.join(this.root, "driftlens.yaml");
    const out: Diagnostic[] = [];
    const checks: Promise<void>[] = [];
    for (const fam of Object.values(doc.config.models)) {
      for (const [name, v] of Object.entries(fam.variants)) {
        if (!v.remote) continue;
        const spec = v.remote;
        checks.push(
          checker.status(`${fam.name}/${name}`, spec).then((st) => {
            out.push(...checker.diagnostics(st, file, doc.source, fam.name, name, v.range ?? rangeAt()));
          }),
        );
      }
    }
    await Promise.all(checks);
    return out;
  }

  /** `providers:` entries must name variants that resolve (DL801). */
  private checkProviderMap(file: string): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const [id, e] of Object.entries(this.config().config.providers)) {
      const p = this.modelRefProblem(e.variant);
      if (p) out.push({ file, range: e.range ?? rangeAt(), severity: "error", code: "DL801", message: `provider '${id}' maps to '${e.variant}': ${p}` });
    }
    return out;
  }

  /**
   * Absolute GGUF path of driftlens.yaml's `embedding.model` (a .gguf path, or a family/variant's
   * model file); undefined when none is configured. Throws an Error saying what is wrong when the
   * file does not exist or the family/variant is unknown.
   */
  embeddingModel(): string | undefined {
    const emb = this.config().config.embedding;
    if (!emb) return undefined;
    let p: string;
    if (emb.path) p = emb.path;
    else {
      try {
        p = this.resolveVariant(emb.variantRef ?? emb.declared).modelPath;
      } catch (e) {
        throw new Error(`embedding.model '${emb.declared}' is neither a .gguf path nor a known family/variant: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (!fs.existsSync(p)) throw new Error(`embedding model file ${emb.declared} does not exist (looked at ${p}); set embedding.model in driftlens.yaml to an existing GGUF file`);
    return p;
  }

  /** Checks a model ref against driftlens.yaml; undefined when fine. */
  private modelRefProblem(ref: string): string | undefined {
    try {
      this.resolveVariant(ref);
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  private async checkPrompt(abs: string): Promise<Diagnostic[]> {
    const doc = this.prompt(abs);
    const out = [...doc.diagnostics];
    const file = doc.file;
    if (doc.model && doc.modelRange) {
      const p = this.modelRefProblem(doc.model);
      if (p) out.push({ file, range: doc.modelRange, severity: "error", code: "DL207", message: p });
    }
    if (doc.variant) {
      const p = this.modelRefProblem(doc.variant.ref);
      if (p) out.push({ file, range: doc.variant.range, severity: "error", code: "DL207", message: p });
    }
    // Adapters on a served variant are applied by the server: ask whether it has them.
    for (const [ref, range] of [[doc.model, doc.modelRange], [doc.variant?.ref, doc.variant?.range]] as const) {
      if (!ref || !range || !ref.includes("+") || out.some((d) => d.code === "DL207" && d.range === range)) continue;
      const st = await this.remoteStatus(ref);
      for (const p of st?.adapterProblems ?? []) out.push({ file, range, severity: "error", code: "DL124", message: `${ref}: ${p}` });
    }
    for (const e of doc.evals) {
      const outside = this.outside(file, e.range, "eval set", e.declared, e.path);
      if (outside) out.push(outside);
      else if (!this.exists(e.path)) out.push({ file, range: e.range, severity: "warning", code: "DL211", message: `eval set ${e.declared} does not exist (looked at ${e.path})` });
    }
    // Partials: missing ones, and the variables they use (so their inputs count as used).
    let partialsOk = true;
    const used = new Set(doc.variables.map((v) => v.name));
    const seen = new Set<string>();
    const visit = (refs: { name: string; range: Range }[], top: boolean, from: string, depth: number) => {
      for (const p of refs) {
        if (seen.has(p.name) && !top) continue;
        const f = this.partialFile(p.name, from);
        if (!f) {
          partialsOk = false;
          if (top) out.push({ file, range: p.range, severity: "error", code: "DL206", message: `partial '${p.name}' not found: create _${p.name}.prompt beside the prompt${this.config().config.prompts.partials.length ? " or in a prompts.partials folder" : " (or list a partials folder under prompts.partials in driftlens.yaml)"}` });
          continue;
        }
        if (seen.has(p.name) || depth > 8) continue;
        seen.add(p.name);
        const text = this.read(f) ?? "";
        const t = parseTemplate(partialTemplate(text), { line: 0, character: 0 }, f);
        if (!t.ok) partialsOk = false;
        for (const v of t.variables) used.add(v.name);
        visit(t.partials, false, f, depth + 1);
      }
    };
    visit(doc.partials, true, file, 0);
    if (doc.bodyOk && partialsOk && doc.input?.jsonSchema) {
      for (const i of doc.inputs) {
        if (!used.has(i.name)) out.push({ file, range: i.range, severity: "warning", code: "DL204", message: `input '${i.name}' is declared but the template never uses it` });
      }
    }
    // Context length: render with the sample input and count tokens.
    const modelRef = doc.variant?.ref ?? doc.model;
    if (doc.bodyOk && partialsOk && modelRef && !out.some((d) => d.code === "DL207")) {
      let variant: ResolvedVariant | undefined;
      try {
        variant = this.resolveVariant(modelRef);
      } catch {
        variant = undefined;
      }
      if (variant) {
        let rendered: string | undefined;
        try {
          rendered = await renderTextForCount(doc, sampleInput(doc), (name) => {
            const f = this.partialFile(name, doc.file);
            const t = f ? this.read(f) : undefined;
            return t === undefined ? undefined : partialTemplate(t);
          });
        } catch (e) {
          out.push({ file, range: doc.modelRange ?? doc.variant?.range ?? rangeAt(doc.bodyStart.line), severity: "warning", code: "DL212", message: `cannot render the prompt with its sample input (driftlens.sample / input.default): ${e instanceof RenderError || e instanceof Error ? e.message : String(e)}` });
        }
        if (rendered !== undefined) out.push(...(await this.contextCheck(doc, rendered, variant)));
      }
    }
    return out;
  }

  private async contextCheck(doc: PromptDoc, text: string, variant: ResolvedVariant): Promise<Diagnostic[]> {
    // A served model's tokenizer and context are on its server: not counted on the keystroke path.
    if (variant.remote) return [];
    const facts = this.gguf(variant.modelPath).facts;
    const configured = variant.contextSize ?? this.config().config.engine.contextSize;
    const ctx = facts?.contextLength ? Math.min(configured, facts.contextLength) : configured;
    const maxOut = typeof doc.config.maxOutputTokens === "number" ? doc.config.maxOutputTokens : 0;
    let tokens: number;
    let estimated = false;
    if (this.countTokens && facts) {
      const key = `${variant.modelPath}\u0000${text}`;
      const hit = this.tokenCache.get(key);
      if (hit !== undefined) tokens = hit;
      else {
        try {
          tokens = await this.countTokens(variant.modelPath, text);
          this.tokenCache.set(key, tokens);
          if (this.tokenCache.size > 256) this.tokenCache.delete(this.tokenCache.keys().next().value as string);
        } catch {
          tokens = Math.ceil(text.length / CHARS_PER_TOKEN_ESTIMATE);
          estimated = true;
        }
      }
    } else {
      tokens = Math.ceil(text.length / CHARS_PER_TOKEN_ESTIMATE);
      estimated = true;
    }
    if (tokens + maxOut <= ctx) return [];
    const range = doc.modelRange ?? doc.variant?.range ?? rangeAt(doc.bodyStart.line);
    const how = estimated ? `about ${tokens} tokens (an estimate at ${CHARS_PER_TOKEN_ESTIMATE} characters per token; the model's tokenizer was not available)` : `${tokens} tokens (counted with ${variant.id}'s vocabulary)`;
    return [
      {
        file: doc.file,
        range,
        severity: estimated ? "warning" : "error",
        code: "DL210",
        message: `rendered with its sample input, the prompt is ${how}${maxOut ? ` + ${maxOut} maxOutputTokens` : ""}, more than ${variant.id}'s context of ${ctx} tokens${facts?.contextLength && facts.contextLength < configured ? " (the model's trained context)" : " (engine.contextSize)"}`,
      },
    ];
  }

  private checkEvalSet(abs: string): Diagnostic[] {
    const doc = this.evalSet(abs);
    const out = [...doc.diagnostics];
    const found: { prompt?: CheckedPrompt } = {};
    const check = this.casePromptCheck(doc, abs, out, found);
    if (check) {
      for (const c of doc.cases) {
        const hit = this.varsChecks.get(c);
        if (hit && hit.schema === check.schema && hit.defaults === check.defaults) {
          for (const d of hit.diagnostics) out.push(d);
          continue;
        }
        const diagnostics = check.run(c);
        this.varsChecks.set(c, { schema: check.schema, defaults: check.defaults, diagnostics });
        for (const d of diagnostics) out.push(d);
      }
    }
    out.push(...this.samplingInfo(doc, found.prompt));
    return out;
  }

  /**
   * An eval set too large to keep in memory (see SCAN_EVAL_BYTES), checked in scan mode: every
   * case is validated (and checked against its prompt's input schema) as it is read, then dropped;
   * a JSONL file is streamed from disk. Positions are coarse (the case's line), diagnostics capped.
   */
  private checkEvalSetScan(abs: string): Diagnostic[] {
    const extra: Diagnostic[] = [];
    const vars: Diagnostic[] = [];
    let dropped = 0;
    let check: ReturnType<Workspace["casePromptCheck"]> | null = null;
    const found: { prompt?: CheckedPrompt } = {};
    const onCase = (c: EvalCase, doc: EvalSetDoc) => {
      if (check === null) check = this.casePromptCheck(doc, abs, extra, found);
      if (!check) return;
      for (const d of check.run(c)) {
        if (vars.length < MAX_EVAL_DIAGNOSTICS) vars.push(d);
        else dropped++;
      }
    };
    const onProgress = this.onProgress ? (done: number, total: number) => this.onProgress!(abs, done, total) : undefined;
    let doc: EvalSetDoc;
    try {
      doc = abs.endsWith(".jsonl") ? scanJsonlEvalSet(abs, { onCase, ...(onProgress ? { onProgress } : {}) }) : parseEvalSet(readRegularText(abs, MAX_EVAL_SET_BYTES), abs, undefined, { onCase, ...(onProgress ? { onProgress } : {}) });
    } catch (e) {
      return [{ file: abs, range: rangeAt(), severity: "error", code: "DL300", message: `Driftlens could not read this eval set: ${e instanceof Error ? e.message : String(e)}` }];
    }
    if (check === null) this.casePromptCheck(doc, abs, extra, found);
    const out = [...doc.diagnostics, ...extra, ...vars, ...this.samplingInfo(doc, found.prompt)];
    if (dropped) out.push({ file: abs, range: doc.casesRange, severity: "error", code: "DL305", message: `${dropped} more cases do not fit their prompt's input schema; fix the ones listed first` });
    return out;
  }

  /**
   * Resolves an eval set's prompt (pushing DL310/DL127 into `out` when it cannot be used) and
   * returns the per-case check of vars against the prompt's input schema, if it has one; the
   * prompt itself goes into `found`.
   */
  private casePromptCheck(doc: EvalSetDoc, abs: string, out: Diagnostic[], found: { prompt?: CheckedPrompt }): { schema: JSONSchema; defaults: Record<string, unknown>; run: (c: EvalCase) => Diagnostic[] } | undefined {
    const file = doc.file;
    let promptDoc: CheckedPrompt | undefined;
    // A Prompty file named by `prompt:` is checked through its inputs, not parsed as Dotprompt.
    const promptOf = (f: string): CheckedPrompt | undefined => (artifactKind(f) === "prompty" ? promptyAsPromptDoc(this.adopted(f)) : this.prompt(f));
    if (doc.prompt) {
      const outside = this.outside(file, doc.prompt.range, "prompt", doc.prompt.declared, doc.prompt.path);
      if (outside) out.push(outside);
      else if (!this.exists(doc.prompt.path)) out.push({ file, range: doc.prompt.range, severity: "error", code: "DL310", message: `prompt ${doc.prompt.declared} does not exist (looked at ${doc.prompt.path})` });
      else promptDoc = promptOf(doc.prompt.path);
    } else {
      const p = this.promptFor(abs);
      if (p && this.exists(p) && this.allowed(p)) promptDoc = promptOf(p);
      else out.push({ file, range: doc.casesRange, severity: "error", code: "DL310", message: "this eval set names no prompt: add `prompt: file.prompt`, or list it under `driftlens.evals` in a prompt's front matter" });
    }
    if (promptDoc) found.prompt = promptDoc;
    const schema = promptDoc?.input?.jsonSchema;
    if (!schema || !promptDoc) return undefined;
    const defaults = promptDoc.input?.default ?? EMPTY;
    const promptName = path.basename(promptDoc.file);
    const run = (c: EvalCase): Diagnostic[] => {
      const diagnostics: Diagnostic[] = [];
      for (const p of checkValue(schema, { ...defaults, ...c.vars })) {
        const top = p.path[0] === undefined ? undefined : String(p.path[0]);
        if (p.kind === "missing" && p.path.length === 1) {
          diagnostics.push({ file, range: c.varsRange ?? c.idRange, severity: "error", code: "DL305", message: `case '${c.id}': ${p.message} of ${promptName}` });
        } else if (p.kind === "unknown" && p.path.length === 1) {
          diagnostics.push({ file, range: (top ? c.varRanges[top] : undefined) ?? c.idRange, severity: "warning", code: "DL306", message: `case '${c.id}': ${p.message} (${promptName})` });
        } else {
          diagnostics.push({ file, range: (top ? c.varRanges[top] : undefined) ?? c.idRange, severity: "error", code: "DL307", message: `case '${c.id}': ${p.message} (input schema of ${promptName})` });
        }
      }
      return diagnostics;
    };
    return { schema, defaults, run };
  }

  /** Repeat and grader checks (DL320-DL322) and DL309 for slices too small to detect the gate's slice drop. */
  private samplingInfo(doc: EvalSetDoc, promptDoc: CheckedPrompt | undefined): Diagnostic[] {
    const grader = this.config().config.grader;
    return [
      ...evalSamplingDiagnostics(doc, { ...(promptDoc ? { prompt: promptDoc } : {}), ...(grader ? { configGrader: grader.ref } : {}), variantProblem: (ref) => this.modelRefProblem(ref) }),
      ...sliceSizeDiagnostics(doc, effectiveConfig(this.config().config, this.configOverrides?.()).gate, promptDoc),
    ];
  }

  private async checkAdapter(abs: string): Promise<Diagnostic[]> {
    const doc = this.adapter(abs);
    const out = [...doc.diagnostics];
    const file = doc.file;
    let adapterHeader: GgufHeader | undefined;
    const ggufOutside = doc.gguf ? this.outside(file, doc.gguf.range, "adapter file", doc.gguf.declared, doc.gguf.path) : undefined;
    if (ggufOutside) out.push(ggufOutside);
    else if (doc.gguf) {
      if (!fs.existsSync(doc.gguf.path)) out.push({ file, range: doc.gguf.range, severity: "error", code: "DL402", message: `adapter file ${doc.gguf.declared} does not exist (looked at ${doc.gguf.path})` });
      else {
        const h = this.gguf(doc.gguf.path);
        if (h.error || !h.header) out.push({ file, range: doc.gguf.range, severity: "error", code: "DL403", message: `${doc.gguf.declared} is not a readable GGUF: ${h.error}` });
        else if (!h.facts?.isLora) out.push({ file, range: doc.gguf.range, severity: "error", code: "DL403", message: `${doc.gguf.declared} is a GGUF but not a LoRA adapter (general.type is ${JSON.stringify(h.header.metadata["general.type"] ?? "unset")}, adapter.type is ${JSON.stringify(h.header.metadata["adapter.type"] ?? "unset")})` });
        else adapterHeader = h.header;
      }
    }
    // Base model: a variant ref from driftlens.yaml, or a GGUF path relative to this file.
    let basePath: string | undefined;
    if (doc.base) {
      const r = tryParseVariantRef(doc.base.model);
      const asPath = path.resolve(path.dirname(file), doc.base.model);
      const baseOutside = doc.base.model.endsWith(".gguf") || fs.existsSync(asPath) ? this.outside(file, doc.base.modelRange, "base model", doc.base.model, asPath) : undefined;
      if (baseOutside) out.push(baseOutside);
      else if (doc.base.model.endsWith(".gguf") || fs.existsSync(asPath)) {
        if (fs.existsSync(asPath)) basePath = asPath;
        else out.push({ file, range: doc.base.modelRange, severity: "error", code: "DL410", message: `base model file ${doc.base.model} does not exist (looked at ${asPath})` });
      } else if ("error" in r) {
        out.push({ file, range: doc.base.modelRange, severity: "error", code: "DL410", message: `base '${doc.base.model}' is neither a family/variant from driftlens.yaml nor an existing GGUF path` });
      } else {
        try {
          const v = this.resolveVariant(doc.base.model);
          if (fs.existsSync(v.modelPath)) basePath = v.modelPath;
          else out.push({ file, range: doc.base.modelRange, severity: "error", code: "DL410", message: `base ${v.id}'s model file does not exist (${v.modelPath})` });
        } catch (e) {
          out.push({ file, range: doc.base.modelRange, severity: "error", code: "DL410", message: `base '${doc.base.model}': ${e instanceof Error ? e.message : String(e)}` });
        }
      }
    }
    if (basePath && adapterHeader) {
      const bh = this.gguf(basePath);
      if (bh.header && bh.facts) {
        const aArch = typeof adapterHeader.metadata["general.architecture"] === "string" ? (adapterHeader.metadata["general.architecture"] as string) : undefined;
        if (aArch && bh.facts.architecture && aArch !== bh.facts.architecture) {
          out.push({ file, range: doc.base?.modelRange ?? doc.gguf?.range ?? rangeAt(), severity: "error", code: "DL404", message: `adapter architecture '${aArch}' differs from base architecture '${bh.facts.architecture}' (${path.basename(basePath)})` });
        } else {
          out.push(...loraShapeProblems(adapterHeader, bh.header, file, doc.gguf?.range ?? rangeAt(), path.basename(basePath)));
        }
      } else if (bh.error) {
        out.push({ file, range: doc.base?.modelRange ?? rangeAt(), severity: "error", code: "DL410", message: `base model ${basePath} is not a readable GGUF: ${bh.error}` });
      }
    }
    if (basePath && doc.base?.sha256 && doc.base.sha256Range) {
      const sha = await fingerprintFile(basePath).catch(() => undefined);
      if (sha && sha !== doc.base.sha256) {
        out.push({ file, range: doc.base.sha256Range, severity: "warning", code: "DL406", message: `base model ${path.basename(basePath)} has sha256 ${sha}, not the recorded ${doc.base.sha256}: the adapter now sits on a base it was not trained on; re-run its evals, then record the new sha256` });
      }
    }
    const datasetOutside = doc.training?.dataset ? this.outside(file, doc.training.dataset.range, "training dataset", doc.training.dataset.declared, doc.training.dataset.path) : undefined;
    if (datasetOutside) out.push(datasetOutside);
    else if (doc.training?.dataset && doc.training.datasetSha256) {
      if (!fs.existsSync(doc.training.dataset.path)) {
        out.push({ file, range: doc.training.dataset.range, severity: "warning", code: "DL407", message: `training dataset ${doc.training.dataset.declared} does not exist (looked at ${doc.training.dataset.path}); its recorded sha256 cannot be checked` });
      } else {
        const sha = await fingerprintFile(doc.training.dataset.path).catch(() => undefined);
        if (sha && sha !== doc.training.datasetSha256.value) out.push({ file, range: doc.training.datasetSha256.range, severity: "warning", code: "DL407", message: `training dataset ${doc.training.dataset.declared} has sha256 ${sha}, not the recorded ${doc.training.datasetSha256.value}: the data changed since training` });
      }
    }
    const missing: string[] = [];
    if (!doc.base?.sha256) missing.push("base.sha256");
    if (!doc.training?.dataset) missing.push("training.dataset");
    if (!doc.training?.datasetSha256) missing.push("training.datasetSha256");
    if (!doc.training?.recipe) missing.push("training.recipe");
    if (!doc.training?.commit) missing.push("training.commit");
    if (missing.length && doc.gguf) {
      out.push({ file, range: doc.training?.range ?? doc.gguf.range, severity: "information", code: "DL408", message: `training provenance incomplete: ${missing.join(", ")} not recorded, so this adapter cannot be reproduced or checked` });
    }
    // Composition: other adapters writing the same tensors.
    if (doc.compose.length) {
      const writers: { name: string; tensors: Set<string> }[] = [];
      if (adapterHeader) writers.push({ name: doc.name, tensors: loraTargets(adapterHeader) });
      for (const c of doc.compose) {
        const composeOutside = this.outside(file, c.range, "composed adapter config", c.adapter, c.path);
        if (composeOutside) {
          out.push(composeOutside);
          continue;
        }
        if (!this.exists(c.path)) {
          out.push({ file, range: c.range, severity: "error", code: "DL411", message: `composed adapter config ${c.adapter} does not exist (looked at ${c.path})` });
          continue;
        }
        const cd = this.adapter(c.path);
        if (!cd.gguf) continue;
        const h = this.gguf(cd.gguf.path);
        if (!h.header || !h.facts?.isLora) continue;
        const tensors = loraTargets(h.header);
        for (const w of writers) {
          const overlap = [...tensors].filter((t) => w.tensors.has(t)).sort();
          if (overlap.length) {
            out.push({ file, range: c.range, severity: "warning", code: "DL409", message: `${cd.name} and ${w.name} both write ${overlap.length} tensor${overlap.length === 1 ? "" : "s"}: ${overlap.slice(0, 8).join(", ")}${overlap.length > 8 ? `, … (${overlap.length - 8} more)` : ""}` });
          }
        }
        writers.push({ name: cd.name, tensors });
      }
    }
    return out;
  }

  /** The cached sha256 of a file when known (never hashes; for hover). */
  cachedFingerprint(file: string): string | undefined {
    return cachedFingerprint(path.resolve(this.root, file));
  }

  /** sha256 of a file, cached by path + size + mtime. */
  fingerprint(file: string): Promise<string> {
    return fingerprintFile(path.resolve(this.root, file));
  }
}

const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** The part of a prompt that eval-set checks read: its file, sampling config, input schema and defaults. */
type CheckedPrompt = Pick<PromptDoc, "file" | "config" | "input">;

/** The part of a PromptDoc eval-set checks read (input schema and defaults), from a Prompty file's inputs. */
function promptyAsPromptDoc(suite: AdoptedSuite): CheckedPrompt | undefined {
  const s = suite.inputSchema;
  if (!s) return undefined;
  const jsonSchema = { type: "object", properties: s.properties, ...(s.required.length ? { required: s.required } : {}), ...(s.open ? {} : { additionalProperties: false }) } as JSONSchema;
  // No sampling config: the eval-set checks treat the prompt as greedy (as the runner does without one).
  return { file: suite.file, config: {}, input: { jsonSchema, default: s.defaults } };
}

/** Base tensor names a LoRA adapter writes (`X.lora_a` / `X.lora_b` → `X`). */
export function loraTargets(h: GgufHeader): Set<string> {
  const out = new Set<string>();
  for (const t of h.tensors) {
    const m = /^(.*)\.lora_[ab]$/.exec(t.name);
    if (m) out.add(m[1]!);
  }
  return out;
}

/**
 * llama.cpp's own checks (llama-adapter.cpp): for base tensor W (ne0 × ne1), lora_a must be
 * ne0 × r and lora_b r × ne1, with the same rank r.
 */
export function loraShapeProblems(adapter: GgufHeader, base: GgufHeader, file: string, range: Range, baseName: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const baseTensors = new Map(base.tensors.map((t) => [t.name, t.shape]));
  const byName = new Map(adapter.tensors.map((t) => [t.name, t.shape]));
  const fmt = (s: number[] | undefined) => (s ? `[${s.join(", ")}]` : "missing");
  for (const target of loraTargets(adapter)) {
    const a = byName.get(`${target}.lora_a`);
    const b = byName.get(`${target}.lora_b`);
    const w = baseTensors.get(target);
    if (!w) {
      out.push({ file, range, severity: "error", code: "DL405", message: `LoRA tensor ${target}.lora_a/.lora_b targets '${target}', which the base model ${baseName} does not have` });
      continue;
    }
    if (!a || !b) {
      out.push({ file, range, severity: "error", code: "DL405", message: `LoRA pair for '${target}' is incomplete: lora_a ${fmt(a)}, lora_b ${fmt(b)}` });
      continue;
    }
    if (a[0] !== w[0] || b[1] !== w[1] || a[1] !== b[0]) {
      out.push({ file, range, severity: "error", code: "DL405", message: `LoRA shapes for '${target}' do not fit the base tensor: lora_a ${fmt(a)} and lora_b ${fmt(b)} vs base ${fmt(w)} in ${baseName} (lora_a must be [${w[0]}, r] and lora_b [r, ${w[1]}])` });
    }
  }
  return out;
}

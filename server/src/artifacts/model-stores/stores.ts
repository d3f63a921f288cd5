// One reader over the three stores, owned by a Workspace: finds each store (locations.ts),
// resolves store refs to files with a short-lived cache (a prompt edit re-resolves its model on
// every keystroke; the stores change on a human timescale), lists what they hold for completion,
// and says where a file came from for hover. Nothing here writes to a store.
import path from "node:path";
import { detectHfFile, detectHfFolder, hfFiles, hfRepoFolderName, listHfRepos, refsOf } from "./huggingface";
import { detectLmStudioFile, listLmStudioModels, lmstudioFiles } from "./lmstudio";
import { defaultStoreEnvironment, storeLocation, type StoreEnvironment, type StoreLocation, type StoreOverrides } from "./locations";
import { listOllamaNames, namesOfBlob, ollamaFiles, ollamaScan } from "./ollama";
import { formatStoreRef } from "./spec";
import { STORE_LABEL, type ModelOrigin, type StoreKind, type StoreListing, type StoreRef } from "./types";
import { findGgufs } from "./walk";

const TTL_MS = 1500;

export class ModelStores {
  private readonly cache = new Map<string, { at: number; value: unknown }>();
  readonly env: StoreEnvironment;

  constructor(env: Partial<StoreEnvironment> = {}) {
    this.env = { ...defaultStoreEnvironment(), ...env };
  }

  private cached<T>(key: string, compute: () => T): T {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < TTL_MS) return hit.value as T;
    const value = compute();
    this.cache.set(key, { at: now, value });
    if (this.cache.size > 256) this.cache.delete(this.cache.keys().next().value as string);
    return value;
  }

  /** Forgets every cached listing (tests, or after the user pulled a model). */
  clear(): void {
    this.cache.clear();
  }

  location(kind: StoreKind, over: StoreOverrides): StoreLocation {
    return this.cached(`loc\u0000${kind}\u0000${over[kind] ?? ""}`, () => storeLocation(kind, over, this.env));
  }

  /** The files a ref names (a scan takes every GGUF of a repo, model folder or Ollama model's tags). */
  listing(ref: StoreRef, over: StoreOverrides, forScan: boolean, at?: StoreLocation): StoreListing {
    const loc = at ?? this.location(ref.kind, over);
    return this.cached(`list\u0000${forScan}\u0000${loc.path}\u0000${formatStoreRef(ref)}`, () => {
      if (ref.kind === "ollama") return forScan ? ollamaScan(loc, ref.name) : ollamaFiles(loc, ref.name);
      if (ref.kind === "huggingface") return hfFiles(loc, ref.repo, ref.revision, ref.file);
      return lmstudioFiles(loc, ref.model, ref.file);
    });
  }

  /** A plain scan path that is a hub-cache repo folder or snapshot: the ref and the cache it lies in. */
  detectFolder(p: string): { ref: StoreRef; at: StoreLocation } | undefined {
    const d = detectHfFolder(p);
    if (!d) return undefined;
    return { ref: { kind: "huggingface", repo: d.repo, ...(d.revision ? { revision: d.revision } : {}) }, at: { path: d.root, how: "the scan path" } };
  }

  // ---------- what the stores hold (completion) ----------

  ollamaNames(over: StoreOverrides): string[] {
    const loc = this.location("ollama", over);
    return this.cached(`names\u0000${loc.path}`, () => listOllamaNames(loc.path).map((x) => x.name));
  }

  hfRepos(over: StoreOverrides): string[] {
    const loc = this.location("huggingface", over);
    return this.cached(`repos\u0000${loc.path}`, () => listHfRepos(loc.path));
  }

  lmstudioModels(over: StoreOverrides): string[] {
    const loc = this.location("lmstudio", over);
    return this.cached(`lms\u0000${loc.path}`, () => listLmStudioModels(loc.path));
  }

  /** GGUF files (paths inside the repo or model folder) a hf:/lmstudio: ref could name with `file:`. */
  filesOf(ref: StoreRef, over: StoreOverrides): string[] {
    if (ref.kind === "ollama") return [];
    const l = this.listing(ref.kind === "huggingface" ? { kind: "huggingface", repo: ref.repo, ...(ref.revision ? { revision: ref.revision } : {}) } : { kind: "lmstudio", model: ref.model }, over, true);
    return l.files.map((f) => f.origin.file ?? path.basename(f.path));
  }

  // ---------- where a file came from (hover) ----------

  /** The store a plain path lies in, if any (a variant written as a path into a store). */
  originOfPath(p: string, over: StoreOverrides): ModelOrigin | undefined {
    const abs = path.resolve(p);
    const hf = detectHfFile(abs);
    if (hf) {
      const repoDir = path.join(hf.root, hfRepoFolderName(hf.repo));
      const refs = refsOf(repoDir, hf.commit);
      const l = hfFiles({ path: hf.root, how: "the path" }, hf.repo, hf.commit, hf.file).files[0];
      return { ...(l?.origin ?? { store: "huggingface", root: hf.root, model: hf.repo, commit: hf.commit, file: hf.file }), revision: refs[0] ?? hf.commit };
    }
    const ollama = this.location("ollama", over).path;
    if (path.dirname(abs) === path.join(ollama, "blobs")) {
      const names = namesOfBlob(ollama, abs);
      const hex = /sha256-([0-9a-f]{64})$/i.exec(abs)?.[1]?.toLowerCase();
      return { store: "ollama", root: ollama, model: names.join(", ") || "(no manifest names this blob)", blob: abs, ...(hex ? { sha256: hex } : {}) };
    }
    const lms = this.location("lmstudio", over).path;
    const l = detectLmStudioFile(abs, lms);
    if (l) return { store: "lmstudio", root: lms, model: l.model, file: l.file };
    return undefined;
  }

  /** Store folders driftlens.yaml's models reach into; model files under them count as listed by driftlens.yaml. */
  rootsFor(refs: StoreRef[], over: StoreOverrides): string[] {
    const kinds = new Set(refs.map((r) => r.kind));
    return [...kinds].map((k) => this.location(k, over).path).sort();
  }
}

/** The `.gguf` files of a folder, at most `depth` levels down (for "holds no GGUF" checks). */
export function ggufsIn(dir: string, depth: number): string[] {
  return findGgufs(dir, depth);
}

/** One line per fact of an origin, for hover (markdown). */
export function originMarkdown(o: ModelOrigin, relTo?: string): string {
  const shown = (p: string) => `\`${relTo ? path.relative(relTo, p) || p : p}\``;
  const rows: string[] = [];
  if (o.store === "huggingface") {
    rows.push(`${STORE_LABEL.huggingface}: **${o.model}**`);
    if (o.revision || o.commit) rows.push(`revision: ${o.revision && o.revision !== o.commit ? `${o.revision} → ` : ""}${o.commit ?? ""}`);
    if (o.file) rows.push(`file: ${o.file}`);
  } else if (o.store === "lmstudio") {
    rows.push(`${STORE_LABEL.lmstudio}: **${o.model}**`);
    if (o.file) rows.push(`file: ${o.file}`);
  } else {
    rows.push(`${STORE_LABEL.ollama}: **${o.model}**`);
    if (o.revision) rows.push(`tag: ${o.revision}`);
    if (o.manifest) rows.push(`manifest: ${shown(o.manifest)}`);
  }
  if (o.blob) rows.push(`blob: ${shown(o.blob)}`);
  if (o.sha256) rows.push(`sha256: \`${o.sha256}\` (from the store)`);
  rows.push(`store folder: ${shown(o.root)}`);
  return rows.map((r) => r.replace(/\|/g, "\\|")).join("  \n");
}

/** A short label for an origin ("ollama:llama3.2:1b", "hf:org/name@main/x.gguf"). */
export function originLabel(o: ModelOrigin): string {
  if (o.store === "ollama") return `ollama:${o.model}`;
  if (o.store === "huggingface") return `hf:${o.model}${o.revision && o.revision !== "main" ? `@${o.revision}` : ""}${o.file ? `/${o.file}` : ""}`;
  return `lmstudio:${o.model}${o.file ? `/${o.file}` : ""}`;
}

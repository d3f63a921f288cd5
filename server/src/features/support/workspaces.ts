// One artifact Workspace per workspace folder (multi-root); a file outside every folder gets a
// workspace rooted at the nearest directory above it holding driftlens.yaml, else its own directory.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ConfigDoc } from "../../artifacts/config";
import type { EvalSetDoc } from "../../artifacts/evalset";
import type { PromptDoc } from "../../artifacts/prompt";
import type { Diagnostic } from "../../artifacts/types";

type MaybeAsync<T> = T | Promise<T>;

/** A variant as the language server shows it (subset of the artifacts' ResolvedVariant). */
export interface VariantView {
  id: string;
  family: string;
  variant: string;
  modelPath: string;
  quant?: string;
  adapters: { name: string; file: string; path: string; scale: number }[];
  isReference: boolean;
  referenceId?: string;
}

/**
 * What the language server needs from the artifact Workspace (server/src/artifacts). Features
 * await every call, so either a sync or an async implementation fits.
 */
export interface ArtifactWorkspace {
  setOverlay(file: string, text: string | undefined): void;
  diagnose(file: string): Promise<Diagnostic[]>;
  dependents(file: string): string[];
  listArtifacts(): MaybeAsync<string[]>;
  config(): MaybeAsync<ConfigDoc>;
  prompt(file: string): MaybeAsync<PromptDoc>;
  evalSet(file: string): MaybeAsync<EvalSetDoc>;
  evalSetsFor(promptFile: string): MaybeAsync<string[]>;
  promptFor(evalSetFile: string): MaybeAsync<string | undefined>;
  variants(): MaybeAsync<VariantView[]>;
  resolveVariant(ref: string): MaybeAsync<VariantView>;
}

export interface WorkspaceEntry<W> {
  root: string;
  /** True for a workspace folder the client named; false for one made for a loose file. */
  isFolder: boolean;
  ws: W;
}

export function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith("file:")) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

export function pathToUri(file: string): string {
  return pathToFileURL(file).href;
}

function isInside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

export class WorkspaceManager<W extends ArtifactWorkspace> {
  private folders: WorkspaceEntry<W>[] = [];
  private loose = new Map<string, WorkspaceEntry<W>>();

  constructor(private readonly create: (root: string) => W) {}

  setFolders(roots: string[]): void {
    const keep = new Map(this.folders.map((f) => [f.root, f]));
    this.folders = roots.map((r) => keep.get(path.resolve(r)) ?? { root: path.resolve(r), isFolder: true, ws: this.create(path.resolve(r)) });
    // Deepest first, so a nested folder wins over its parent.
    this.folders.sort((a, b) => b.root.length - a.root.length);
  }

  addFolder(root: string): WorkspaceEntry<W> {
    const abs = path.resolve(root);
    const have = this.folders.find((f) => f.root === abs);
    if (have) return have;
    const e = { root: abs, isFolder: true, ws: this.create(abs) };
    this.folders.push(e);
    this.folders.sort((a, b) => b.root.length - a.root.length);
    return e;
  }

  removeFolder(root: string): void {
    const abs = path.resolve(root);
    this.folders = this.folders.filter((f) => f.root !== abs);
  }

  /** The workspace that owns `file` (an absolute path). */
  forFile(file: string): WorkspaceEntry<W> {
    const abs = path.resolve(file);
    const folder = this.folders.find((f) => isInside(f.root, abs));
    if (folder) return folder;
    const root = looseRoot(abs);
    let e = this.loose.get(root);
    if (!e) {
      e = { root, isFolder: false, ws: this.create(root) };
      this.loose.set(root, e);
    }
    return e;
  }

  /** Workspace folders first, then the ones made for loose files. */
  all(): WorkspaceEntry<W>[] {
    return [...this.folders, ...this.loose.values()];
  }

  folderEntries(): WorkspaceEntry<W>[] {
    return [...this.folders];
  }
}

function looseRoot(file: string): string {
  const dir = path.dirname(file);
  let d = dir;
  for (let i = 0; i < 64; i++) {
    if (fs.existsSync(path.join(d, "driftlens.yaml")) || fs.existsSync(path.join(d, "driftlens.yml"))) return d;
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  return dir;
}

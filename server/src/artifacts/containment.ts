// Which files an artifact may name. A workspace file is untrusted: an eval set whose `prompt:`
// names ~/.ssh/id_rsa would have it read, sent to the model and stored. So files named by
// prompts, eval sets and adapter configs (and the store driftlens.yaml names) must lie inside the
// workspace or inside a folder driftlens.yaml lists (a `scan` folder, a `prompts.partials` folder,
// the folder of a variant's or the embedding model's GGUF, the model stores its models reach into:
// the Hugging Face hub cache, LM Studio's folder, Ollama's store). Paths are compared after symlinks are
// resolved, so a link inside the workspace that points out of it does not count as inside.
import fs from "node:fs";
import path from "node:path";
import type { DriftlensConfig } from "./config";

/** Folders driftlens.yaml lists: scan and partials folders, and the folders of the GGUF files it names. */
export function listedFolders(config: DriftlensConfig): string[] {
  const out: string[] = [...config.prompts.partials];
  for (const fam of Object.values(config.models)) {
    // A model-store variant or scan (`ollama:`, `hf:`, `lmstudio:`) has no path of its own (""):
    // its store's folder counts instead (Workspace.modelStoreRoots), never the process's cwd.
    for (const v of Object.values(fam.variants)) if (v.path) out.push(path.dirname(v.path));
    for (const s of fam.scan) if (s.path) out.push(s.path);
  }
  if (config.embedding?.path) out.push(path.dirname(config.embedding.path));
  return out;
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (for files not created yet). */
export function realPathish(p: string): string {
  const abs = path.resolve(p);
  let head = abs;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(head), ...rest.reverse());
    } catch {
      const up = path.dirname(head);
      if (up === head) return abs;
      rest.push(path.basename(head));
      head = up;
    }
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Decides whether a path lies inside a set of allowed folders (real paths, computed once). */
export class Containment {
  private readonly roots: string[];
  constructor(
    readonly root: string,
    extra: readonly string[] = [],
  ) {
    this.roots = [...new Set([root, ...extra].map(realPathish))];
  }

  contains(file: string): boolean {
    const real = realPathish(file);
    return this.roots.some((r) => inside(real, r));
  }

  /** What to tell the user about a file outside, naming where it is allowed to be. */
  outsideMessage(what: string, declared: string, abs: string): string {
    return `${what} ${declared} is outside the workspace (${abs}); Driftlens reads only files inside ${this.root} or a folder driftlens.yaml lists (scan, prompts.partials, model folders, model stores): move the file into the workspace`;
  }
}

/**
 * Why the store driftlens.yaml names cannot be used, or undefined: it must lie inside the
 * workspace (driftlens.yaml is a workspace file; a store elsewhere would create folders and files
 * outside it) and be a regular file when it exists (`store: /dev/null` would make SQLite write
 * /dev/null-journal). A store path from the user's own settings or command line is not checked.
 */
export function storePathProblem(root: string, store: string): string | undefined {
  if (store === ":memory:") return undefined;
  const abs = path.resolve(root, store);
  if (!new Containment(root).contains(abs)) {
    return `store ${abs} is outside the workspace ${root}; set 'store:' in driftlens.yaml to a path inside it (default .driftlens/store.db)`;
  }
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(abs);
  } catch {
    st = undefined;
  }
  if (st && !st.isFile()) return `store ${abs} is not a regular file (${st.isDirectory() ? "a folder" : st.isCharacterDevice() || st.isBlockDevice() ? "a device" : "a pipe or socket"}); set 'store:' in driftlens.yaml to an SQLite file path`;
  return undefined;
}

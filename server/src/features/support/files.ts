// Small, bounded file listings for completion (partials beside a prompt, artifacts in a folder).
import fs from "node:fs";
import path from "node:path";

/** Partial names (`_name.prompt` → `name`) in the given folders, first folder winning. */
export function listPartials(folders: readonly string[]): { name: string; file: string }[] {
  const out = new Map<string, string>();
  for (const dir of folders) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      const m = /^_(.+)\.prompt$/.exec(e);
      if (m && !out.has(m[1]!)) out.set(m[1]!, path.join(dir, e));
    }
  }
  return [...out].map(([name, file]) => ({ name, file }));
}

const SKIP = new Set(["node_modules", ".git", "dist", ".driftlens", "out"]);

/** Files under `root` whose name passes `match`, breadth-first, bounded in count and depth. */
export function findFiles(root: string, match: (name: string) => boolean, limit = 500, maxDepth = 6): string[] {
  const out: string[] = [];
  let level = [root];
  for (let depth = 0; depth <= maxDepth && level.length && out.length < limit; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      let entries: fs.Dirent[] = [];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (e.isDirectory()) {
          if (!SKIP.has(e.name) && !e.name.startsWith(".")) next.push(path.join(dir, e.name));
        } else if (match(e.name)) {
          out.push(path.join(dir, e.name));
          if (out.length >= limit) return out;
        }
      }
    }
    level = next;
  }
  return out;
}

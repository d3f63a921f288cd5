// Bounded, read-only directory walks for store folders. A store can be huge (a hub cache with
// hundreds of repos) or hostile (symlink loops, deep trees), so walks cap depth and entries and
// never follow directory symlinks.
import fs from "node:fs";
import path from "node:path";

export const MAX_STORE_ENTRIES = 20_000;

/** Directory entries, or [] when the folder cannot be read. */
export function entries(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A model GGUF name: not a hidden/temp file, not a vision projector, not a later shard of a split model. */
export function isModelGgufName(name: string): boolean {
  if (!/\.gguf$/i.test(name) || name.startsWith(".")) return false;
  if (/^mmproj/i.test(name)) return false;
  const shard = /-(\d{5})-of-(\d{5})\.gguf$/i.exec(name);
  return !shard || Number(shard[1]) === 1;
}

/**
 * Every model .gguf below `dir` (files and symlinks, relative paths with '/'), sorted, walking at
 * most `maxDepth` folders down; directory symlinks are not followed.
 */
export function findGgufs(dir: string, maxDepth: number): string[] {
  const out: string[] = [];
  let seen = 0;
  const walk = (d: string, rel: string, depth: number) => {
    for (const e of entries(d)) {
      if (++seen > MAX_STORE_ENTRIES) return;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (depth < maxDepth && !e.name.startsWith(".")) walk(path.join(d, e.name), r, depth + 1);
      } else if ((e.isFile() || e.isSymbolicLink()) && isModelGgufName(e.name)) out.push(r);
    }
  };
  walk(dir, "", 0);
  return out.sort();
}

export type LinkState = { kind: "file" } | { kind: "link"; target: string; resolved: string } | { kind: "dangling"; target: string; resolved: string } | { kind: "missing" } | { kind: "other" };

/** What a path is: a regular file, a symlink to one (with its target), a dangling symlink, … */
export function linkState(p: string): LinkState {
  let l: fs.Stats;
  try {
    l = fs.lstatSync(p);
  } catch {
    return { kind: "missing" };
  }
  if (l.isSymbolicLink()) {
    let target: string;
    try {
      target = fs.readlinkSync(p);
    } catch {
      return { kind: "other" };
    }
    const resolved = path.resolve(path.dirname(p), target);
    try {
      return fs.statSync(p).isFile() ? { kind: "link", target, resolved } : { kind: "other" };
    } catch {
      return { kind: "dangling", target, resolved };
    }
  }
  return l.isFile() ? { kind: "file" } : { kind: "other" };
}

/** Reads a small text file (bounded); `error` says why not (missing, not a file, larger than `max`). */
export function readSmallFile(p: string, max: number): { text: string } | { error: string } {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    return { error: (e as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : (e as Error).message };
  }
  if (!st.isFile()) return { error: "it is not a file" };
  if (st.size > max) return { error: `it is ${st.size} bytes, more than the ${max} bytes such a file can be` };
  try {
    return { text: fs.readFileSync(p, "utf8") };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** A child folder matched case-insensitively when the exact name is absent (names compare that way in Ollama). */
export function childCaseless(dir: string, name: string): string | undefined {
  const exact = path.join(dir, name);
  try {
    fs.lstatSync(exact);
    return exact;
  } catch {
    // fall through to a case-insensitive match
  }
  const lower = name.toLowerCase();
  const hit = entries(dir).find((e) => e.name.toLowerCase() === lower);
  return hit ? path.join(dir, hit.name) : undefined;
}

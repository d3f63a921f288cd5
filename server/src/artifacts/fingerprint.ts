// File fingerprints (sha256), cached by path + size + mtime so diagnostics never re-hash a
// multi-gigabyte model that has not changed. An in-memory LRU in front of an optional persistent
// cache (the store can implement it, so fingerprints survive restarts).
import { createHash } from "node:crypto";
import fs from "node:fs";

export interface FingerprintCache {
  get(path: string, size: number, mtimeMs: number): string | undefined;
  set(path: string, size: number, mtimeMs: number, sha256: string): void;
}

interface Entry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

const LRU_SIZE = 2048;
const memory = new Map<string, Entry>();
const inflight = new Map<string, Promise<string>>();
let persistent: FingerprintCache | undefined;

/** Plugs in a persistent cache (e.g. the store); undefined removes it. */
export function setFingerprintCache(cache: FingerprintCache | undefined): void {
  persistent = cache;
}

function remember(path: string, e: Entry): void {
  memory.delete(path);
  memory.set(path, e);
  if (memory.size > LRU_SIZE) memory.delete(memory.keys().next().value as string);
}

/** The cached fingerprint if the file is unchanged since it was hashed; never reads the file. */
export function cachedFingerprint(path: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    return undefined;
  }
  const hit = memory.get(path);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
  const p = persistent?.get(path, st.size, st.mtimeMs);
  if (p) remember(path, { size: st.size, mtimeMs: st.mtimeMs, sha256: p });
  return p;
}

/**
 * Records a sha256 known without hashing (a model store names the file by it) or hashed elsewhere,
 * for the file as it is now; later lookups of the unchanged file reuse it.
 */
export function rememberFingerprint(path: string, sha256: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    return;
  }
  remember(path, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
  try {
    if (persistent && persistent.get(path, st.size, st.mtimeMs) !== sha256) persistent.set(path, st.size, st.mtimeMs, sha256);
  } catch {
    // A failing persistent cache must not fail diagnostics; the memory cache still holds it.
  }
}

/** sha256 (hex) of a file's bytes, cached by path + size + mtime. Rejects if it cannot be read. */
export async function fingerprintFile(path: string): Promise<string> {
  const st = await fs.promises.stat(path);
  const hit = memory.get(path);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) {
    remember(path, hit);
    return hit.sha256;
  }
  const p = persistent?.get(path, st.size, st.mtimeMs);
  if (p) {
    remember(path, { size: st.size, mtimeMs: st.mtimeMs, sha256: p });
    return p;
  }
  const key = `${path}\u0000${st.size}\u0000${st.mtimeMs}`;
  let job = inflight.get(key);
  if (!job) {
    job = new Promise<string>((resolve, reject) => {
      const h = createHash("sha256");
      fs.createReadStream(path)
        .on("data", (d) => h.update(d))
        .on("error", reject)
        .on("end", () => resolve(h.digest("hex")));
    }).finally(() => inflight.delete(key));
    inflight.set(key, job);
  }
  const sha = await job;
  remember(path, { size: st.size, mtimeMs: st.mtimeMs, sha256: sha });
  try {
    persistent?.set(path, st.size, st.mtimeMs, sha);
  } catch {
    // A failing persistent cache must not fail diagnostics; the memory cache still holds it.
  }
  return sha;
}

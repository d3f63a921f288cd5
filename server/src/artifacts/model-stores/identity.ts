// Whether two model files are the same bytes, as cheaply as that can be known: the same real
// path (symlinks into one blob), else different sizes (different files), else the sha256. A
// store often names the file by its sha256 already (Ollama blobs; Hugging Face LFS blobs, written
// under that name only once the download completed), so only a plain file (LM Studio, a scan
// folder) of exactly the same size as another is ever hashed, once, and then cached like every
// fingerprint (by path, size and mtime; in the store's table when the CLI or server plugged it in).
import { createHash } from "node:crypto";
import fs from "node:fs";
import { cachedFingerprint, rememberFingerprint } from "../fingerprint";

const CHUNK = 4 << 20;

export interface Identified {
  path: string;
  /** sha256 the store gave (trusted). */
  sha256?: string;
}

function realpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

function size(p: string): number | undefined {
  try {
    return fs.statSync(p).size;
  } catch {
    return undefined;
  }
}

/** sha256 of a file read synchronously in chunks (a file the same size as another; see above). */
export function sha256FileSync(p: string): string {
  const h = createHash("sha256");
  const fd = fs.openSync(p, "r");
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n <= 0) break;
      h.update(n === CHUNK ? buf : buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}

/** The file's sha256: the store's, else the fingerprint cache's, else hashed now (and cached). */
export function sha256Of(f: Identified): string | undefined {
  if (f.sha256) return f.sha256;
  const cached = cachedFingerprint(f.path);
  if (cached) return cached;
  try {
    const sha = sha256FileSync(f.path);
    rememberFingerprint(f.path, sha);
    return sha;
  } catch {
    return undefined;
  }
}

/** Whether two files are known to hold the same bytes without reading them (one real file, or equal store sha256). */
export function knownSame(a: Identified, b: Identified): boolean {
  if (a.sha256 && b.sha256) return a.sha256 === b.sha256;
  const ra = realpath(a.path);
  return ra !== undefined && ra === realpath(b.path);
}

/** Whether two files hold the same bytes. */
export function sameBytes(a: Identified, b: Identified): boolean {
  const ra = realpath(a.path);
  if (ra !== undefined && ra === realpath(b.path)) return true;
  if (a.sha256 && b.sha256) return a.sha256 === b.sha256;
  const sa = size(a.path);
  if (sa === undefined || sa !== size(b.path)) return false;
  const ha = sha256Of(a);
  return ha !== undefined && ha === sha256Of(b);
}

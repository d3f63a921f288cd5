// Opening files a workspace names. A path in a workspace file is untrusted: it may name a FIFO
// (opening it for reading blocks until someone writes), a device (/dev/zero never ends,
// /dev/random blocks), a socket or a directory, or a file far larger than what it claims to be.
// Files are opened without blocking, checked with fstat on the opened descriptor (no race with a
// swapped path) and refused unless they are regular files within a size cap.
import { createHash } from "node:crypto";
import fs from "node:fs";

/** Why a file cannot be used, in words for a diagnostic; undefined when it is a readable regular file. */
export class UnsafeFileError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly code: "missing" | "not-regular" | "too-large" | "unreadable",
  ) {
    super(message);
    this.name = "UnsafeFileError";
  }
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

export function sizeText(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/**
 * Opens `file` for reading if it is a regular file of at most `maxBytes`; returns the descriptor
 * and its stats (close it). Throws UnsafeFileError saying what the path is otherwise.
 */
export function openRegularFile(file: string, maxBytes = Infinity): { fd: number; stat: fs.Stats } {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer. It changes nothing for regular files.
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new UnsafeFileError(`${file} does not exist`, file, "missing");
    if (code === "ENXIO") throw new UnsafeFileError(`${file} is not a regular file (a socket or device with no reader)`, file, "not-regular");
    throw new UnsafeFileError(`cannot open ${file}: ${code ?? (e as Error).message}`, file, "unreadable");
  }
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw new UnsafeFileError(`cannot read ${file}: ${(e as Error).message}`, file, "unreadable");
  }
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new UnsafeFileError(`${file} is ${kindOf(stat)}, not a regular file; Driftlens reads only regular files`, file, "not-regular");
  }
  if (stat.size > maxBytes) {
    fs.closeSync(fd);
    throw new UnsafeFileError(`${file} is ${sizeText(stat.size)}, more than the ${sizeText(maxBytes)} Driftlens reads from such a file`, file, "too-large");
  }
  return { fd, stat };
}

/** The problem with `file` as a regular file (see openRegularFile), or undefined when it is fine. */
export function regularFileProblem(file: string, maxBytes = Infinity): UnsafeFileError | undefined {
  try {
    fs.closeSync(openRegularFile(file, maxBytes).fd);
    return undefined;
  } catch (e) {
    if (e instanceof UnsafeFileError) return e;
    return new UnsafeFileError(`cannot read ${file}: ${(e as Error).message}`, file, "unreadable");
  }
}

/**
 * Reads a regular file of at most `maxBytes` as UTF-8, never more than its size at open time (a
 * file that grows while read is not followed).
 */
export function readRegularText(file: string, maxBytes = Infinity, limitBytes?: number): string {
  const { fd, stat } = openRegularFile(file, maxBytes);
  try {
    const n = Math.min(stat.size, limitBytes ?? stat.size);
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const r = fs.readSync(fd, buf, got, n - got, got);
      if (r === 0) break;
      got += r;
    }
    return buf.toString("utf8", 0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Streams the lines of a regular file (without their line terminators) in chunks, so a file far
 * larger than memory can be read; `onLine` gets each line and its 0-based number, `onProgress`
 * the bytes read so far and the total.
 */
export function forEachLine(file: string, onLine: (line: string, index: number) => void, onProgress?: (done: number, total: number) => void, maxBytes = Infinity): void {
  const { fd, stat } = openRegularFile(file, maxBytes);
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    let carry = "";
    let index = 0;
    const decoder = new TextDecoder("utf-8");
    while (pos < stat.size) {
      const r = fs.readSync(fd, chunk, 0, Math.min(chunk.length, stat.size - pos), pos);
      if (r === 0) break;
      pos += r;
      const text = carry + decoder.decode(chunk.subarray(0, r), { stream: pos < stat.size });
      let start = 0;
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
        onLine(text.charCodeAt(nl - 1) === 13 ? text.slice(start, nl - 1) : text.slice(start, nl), index++);
        start = nl + 1;
      }
      carry = text.slice(start);
      onProgress?.(pos, stat.size);
    }
    carry += decoder.decode();
    if (carry.length) onLine(carry.endsWith("\r") ? carry.slice(0, -1) : carry, index++);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * sha256 of a regular file's bytes, streamed from the descriptor it was checked on and never past
 * its size at that moment: a FIFO or a device (/dev/zero) is refused at once instead of read
 * forever, and a file that grows while hashed is not followed. Rejects with the reason.
 */
export function hashRegularFile(path: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let opened: { fd: number; stat: fs.Stats };
    try {
      opened = openRegularFile(path);
    } catch (e) {
      reject(e);
      return;
    }
    const h = createHash("sha256");
    if (opened.stat.size === 0) {
      fs.closeSync(opened.fd);
      resolve(h.digest("hex"));
      return;
    }
    fs.createReadStream("", { fd: opened.fd, start: 0, end: opened.stat.size - 1, highWaterMark: 4 * 1024 * 1024, autoClose: true })
      .on("data", (d) => h.update(d))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}

// How the adopted formats (promptfoo configs, GitHub `.prompt.yml`, Prompty) read the files they
// reference: through the Workspace (so unsaved editor text and `git show` overlays in diffs are
// what is read), only inside the workspace root (a hostile config cannot make Driftlens read
// ~/.ssh), with a size cap, and with every file read recorded, so a change to any of them
// changes the suite's identity (its hash, the runner's memo keys, the diff's "changed" verdict).
import fs from "node:fs";
import path from "node:path";
import picomatch from "picomatch";

/** What the adopted parsers need from a Workspace. */
export interface SourceReader {
  /** Workspace root (absolute): references outside it are refused. */
  readonly root: string;
  /** Text of a file (editor overlay first), undefined when it cannot be read. */
  read(file: string): string | undefined;
  exists(file: string): boolean;
}

/** Largest referenced file read (bytes of text). */
export const MAX_REFERENCED_FILE = 16 * 1024 * 1024;
/** Largest number of files one glob may match. */
const MAX_GLOB_MATCHES = 2000;
const MAX_WALK = 20_000;

export type ReadResult = { ok: true; file: string; text: string } | { ok: false; file: string; error: string };

/** Inside `root` (or root itself)? */
export function inside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Records every file a parse reads, with its text, in order. */
export class ReadLog {
  readonly files = new Map<string, string | null>();
  /** How many reads (files, globs) were made: a step that read nothing depends on no file. */
  count = 0;
  constructor(readonly src: SourceReader) {}

  /** Reads `file` (absolute) with containment and size checks. */
  read(file: string): ReadResult {
    this.count++;
    const abs = path.resolve(file);
    if (!inside(this.src.root, abs)) {
      return { ok: false, file: abs, error: `${abs} is outside the workspace (${this.src.root}); Driftlens reads referenced files only inside the workspace` };
    }
    const text = this.src.read(abs);
    this.files.set(abs, text ?? null);
    if (text === undefined) return { ok: false, file: abs, error: `file not found: ${abs}` };
    if (text.length > MAX_REFERENCED_FILE) return { ok: false, file: abs, error: `${abs} is larger than ${MAX_REFERENCED_FILE / 2 ** 20} MiB; Driftlens does not read referenced files this large` };
    return { ok: true, file: abs, text };
  }

  /** Bytes of a binary file (images as data URLs), base64; recorded by its size and mtime. */
  readBase64(file: string): ReadResult {
    this.count++;
    const abs = path.resolve(file);
    if (!inside(this.src.root, abs)) return { ok: false, file: abs, error: `${abs} is outside the workspace (${this.src.root})` };
    try {
      const st = fs.statSync(abs);
      if (!st.isFile()) return { ok: false, file: abs, error: `${abs} is not a regular file` };
      if (st.size > MAX_REFERENCED_FILE) return { ok: false, file: abs, error: `${abs} is larger than ${MAX_REFERENCED_FILE / 2 ** 20} MiB` };
      const b64 = fs.readFileSync(abs).toString("base64");
      this.files.set(abs, `base64:${b64}`);
      return { ok: true, file: abs, text: b64 };
    } catch {
      this.files.set(abs, null);
      return { ok: false, file: abs, error: `file not found: ${abs}` };
    }
  }

  /**
   * Files matching a glob pattern (absolute, or relative to `base`), sorted; walks only inside the
   * workspace, skipping dependency and hidden folders, within bounded counts.
   */
  glob(pattern: string, base: string): string[] {
    this.count++;
    const absPattern = path.resolve(base, pattern).split(path.sep).join("/");
    const scan = picomatch.scan(absPattern);
    const start = path.resolve(scan.base || "/");
    const walkRoot = inside(this.src.root, start) ? start : inside(start, this.src.root) ? this.src.root : undefined;
    this.files.set(`glob:${absPattern}`, null);
    if (!walkRoot) return [];
    const isMatch = picomatch(absPattern, { dot: false });
    const out: string[] = [];
    let seen = 0;
    const walk = (dir: string, depth: number) => {
      if (depth > 16 || seen > MAX_WALK || out.length >= MAX_GLOB_MATCHES) return;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (++seen > MAX_WALK) return;
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (e.name !== "node_modules" && !e.name.startsWith(".")) walk(p, depth + 1);
        } else if (e.isFile() && isMatch(p.split(path.sep).join("/"))) out.push(p);
      }
    };
    walk(walkRoot, 0);
    out.sort();
    // The listing is part of the suite's identity: adding a matching file changes it.
    this.files.set(`glob:${absPattern}`, out.join("\n"));
    return out;
  }

  /** The files read, as one text: what the suite's hash and the runner's memo keys cover. */
  identity(): string {
    return JSON.stringify([...this.files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

/** Whether a string names a glob (promptfoo uses glob's hasMagic). */
export function hasGlobMagic(p: string): boolean {
  return /[*?[\]{}]/.test(p) || /(^|[^\\])[@!+]\(/.test(p);
}

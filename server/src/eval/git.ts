// Git plumbing for `driftlens diff`: `git` through execFile (never a shell, so refs and paths are
// never interpreted), with errors that say what to do.
import { execFile } from "node:child_process";
import path from "node:path";
import { readRegularText } from "../util/safe-file";

export class GitError extends Error {}

/** Runs git with argv (no shell) in `cwd`; resolves stdout as a Buffer, rejects with GitError. */
export function git(cwd: string, args: string[], opts: { input?: string } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "git",
      args,
      { cwd, encoding: "buffer", maxBuffer: 512 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" } },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT") return reject(new GitError("git is not installed or not on PATH; install git to use 'driftlens diff'"));
          const msg = Buffer.from(stderr ?? "").toString("utf8").trim() || err.message;
          return reject(new GitError(`git ${args[0]} failed: ${msg}`));
        }
        resolve(stdout as Buffer);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The top folder of the work tree containing `cwd`; throws a clear GitError outside one. */
export async function gitToplevel(cwd: string): Promise<string> {
  try {
    return (await git(cwd, ["rev-parse", "--show-toplevel"])).toString("utf8").trim();
  } catch (e) {
    if (e instanceof GitError && /not a git repository/i.test(e.message)) {
      throw new GitError(`${cwd} is not inside a git repository; 'driftlens diff' compares git revisions (run it in a repository, or use 'driftlens compare')`);
    }
    throw e;
  }
}

/** Resolves REF to a commit id; a clear GitError when it does not exist. */
export async function resolveRef(cwd: string, ref: string): Promise<string> {
  if (ref.startsWith("-")) throw new GitError(`'${ref}' is not a valid git revision`);
  try {
    return (await git(cwd, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`])).toString("utf8").trim();
  } catch {
    throw new GitError(`git revision '${ref}' does not exist in ${cwd} (check the name with 'git log --oneline', or fetch it first; a shallow CI checkout may need 'fetch-depth: 0')`);
  }
}

export type ChangeStatus = "added" | "modified" | "deleted" | "renamed";

export interface FileChange {
  status: ChangeStatus;
  /** Path at base (repository-relative, forward slashes); undefined when added. */
  basePath?: string;
  /** Path at head; undefined when deleted. */
  headPath?: string;
  /** Rename similarity percentage from git (renames only). */
  similarity?: number;
}

/**
 * Files changed between `base` (a commit) and `head` (a commit, or undefined for the working tree,
 * untracked files included), with renames followed (`--find-renames`).
 */
export async function changedFiles(cwd: string, base: string, head?: string): Promise<FileChange[]> {
  const args = ["diff", "--name-status", "-z", "--find-renames", "--no-ext-diff", "--no-textconv", base];
  if (head !== undefined) args.push(head);
  args.push("--");
  const out = (await git(cwd, args)).toString("utf8");
  const fields = out.split("\0");
  const changes: FileChange[] = [];
  for (let i = 0; i < fields.length; ) {
    const code = fields[i++];
    if (!code) continue;
    const kind = code[0];
    if (kind === "R" || kind === "C") {
      const from = fields[i++]!;
      const to = fields[i++]!;
      if (kind === "R") changes.push({ status: "renamed", basePath: from, headPath: to, similarity: Number(code.slice(1)) || undefined });
      else changes.push({ status: "added", headPath: to });
    } else {
      const p = fields[i++]!;
      if (kind === "A") changes.push({ status: "added", headPath: p });
      else if (kind === "D") changes.push({ status: "deleted", basePath: p });
      else changes.push({ status: "modified", basePath: p, headPath: p });
    }
  }
  if (head === undefined) {
    // Untracked files exist only in the working tree: added relative to any base.
    const untracked = (await git(cwd, ["ls-files", "--others", "--exclude-standard", "-z"])).toString("utf8").split("\0").filter(Boolean);
    for (const p of untracked) changes.push({ status: "added", headPath: p });
  }
  return changes;
}

/**
 * Contents of files at a commit, read in one `git cat-file --batch` call (one process however
 * many files). Missing paths map to undefined.
 */
export async function showFiles(cwd: string, ref: string, paths: readonly string[]): Promise<Map<string, string | undefined>> {
  const result = new Map<string, string | undefined>();
  if (paths.length === 0) return result;
  // `cat-file --batch` reads one name per line: a name with a line break is read on its own
  // (argv carries any byte), so one odd file name does not stop the others.
  const odd = paths.filter((p) => /[\n\r]/.test(p));
  for (const p of odd) {
    try {
      result.set(p, (await git(cwd, ["cat-file", "blob", `${ref}:${p}`])).toString("utf8"));
    } catch {
      result.set(p, undefined);
    }
  }
  const plain = odd.length ? paths.filter((p) => !/[\n\r]/.test(p)) : paths;
  if (plain.length === 0) return result;
  const out = await git(cwd, ["cat-file", "--batch"], { input: plain.map((p) => `${ref}:${p}\n`).join("") });
  let pos = 0;
  for (const p of plain) {
    const nl = out.indexOf(0x0a, pos);
    if (nl < 0) throw new GitError(`git cat-file ended early while reading ${ref}:${p}`);
    const header = out.subarray(pos, nl).toString("utf8");
    pos = nl + 1;
    if (header.endsWith(" missing") || header.endsWith(" ambiguous")) {
      result.set(p, undefined);
      continue;
    }
    const m = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
    if (!m) throw new GitError(`unexpected reply from git cat-file for ${ref}:${p}: ${header}`);
    const size = Number(m[2]);
    result.set(p, m[1] === "blob" ? out.subarray(pos, pos + size).toString("utf8") : undefined);
    pos += size + 1; // content, then a newline
  }
  return result;
}

/** One file at a commit (`git show REF:path`); undefined when it does not exist there. */
export async function showFile(cwd: string, ref: string, file: string): Promise<string | undefined> {
  return (await showFiles(cwd, ref, [file])).get(file);
}

/** Repository-relative path (forward slashes) → absolute path under `toplevel`. */
export function absPath(toplevel: string, rel: string): string {
  return path.join(toplevel, ...rel.split("/"));
}

/** Absolute → repository-relative with forward slashes. */
export function relPath(toplevel: string, abs: string): string {
  return path.relative(toplevel, abs).split(path.sep).join("/");
}

/** Working-tree contents of a repository-relative path, undefined when absent. */
export function readWorkingTree(toplevel: string, rel: string): string | undefined {
  try {
    return readRegularText(absPath(toplevel, rel), 256 * 1024 * 1024);
  } catch {
    return undefined;
  }
}

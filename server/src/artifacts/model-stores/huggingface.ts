// The Hugging Face hub cache (huggingface_hub's file cache, also used by hf-hub, huggingface.js
// and llama.cpp): <cache>/models--<org>--<name>/{refs/<ref>, snapshots/<commit>/…, blobs/<etag>}.
// refs/<ref> holds the commit a branch or tag resolved to; a snapshot mirrors the repo's files as
// relative symlinks into ../../blobs (plain copies where symlinks are unavailable); a blob is
// named by its etag: the sha256 for LFS files (every GGUF), the git sha1 for small ones.
import path from "node:path";
import type { StoreLocation } from "./locations";
import { guessQuant, type ModelOrigin, type StoreFile, type StoreListing, type StoreProblem } from "./types";
import { entries, findGgufs, isDir, linkState, readSmallFile } from "./walk";

const COMMIT = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;
/** How deep a snapshot is searched for GGUF files (repos keep quants in sub-folders). */
const SNAPSHOT_DEPTH = 4;

export function hfRepoFolderName(repo: string): string {
  return `models--${repo.split("/").join("--")}`;
}

export function hfRepoOfFolder(name: string): string | undefined {
  const m = /^models--(.+)$/.exec(name);
  return m ? m[1]!.split("--").join("/") : undefined;
}

/** Model repos in the cache (org/name), sorted. */
export function listHfRepos(root: string): string[] {
  return entries(root)
    .filter((e) => e.isDirectory() && e.name.startsWith("models--"))
    .map((e) => hfRepoOfFolder(e.name)!)
    .sort();
}

/** A plain scan path that is a cached repo folder or one of its snapshots. */
export function detectHfFolder(p: string): { root: string; repo: string; revision?: string } | undefined {
  const base = path.basename(p);
  const repo = hfRepoOfFolder(base);
  if (repo && isDir(path.join(p, "snapshots"))) return { root: path.dirname(p), repo };
  const parent = path.dirname(p);
  const repoDir = path.dirname(parent);
  const parentRepo = hfRepoOfFolder(path.basename(repoDir));
  if (path.basename(parent) === "snapshots" && parentRepo && COMMIT.test(base)) return { root: path.dirname(repoDir), repo: parentRepo, revision: base };
  return undefined;
}

/** A path inside a cached snapshot: which repo, commit and file it is. */
export function detectHfFile(p: string): { root: string; repo: string; commit: string; file: string } | undefined {
  const parts = path.resolve(p).split(path.sep);
  for (let i = parts.length - 3; i >= 1; i--) {
    const repo = hfRepoOfFolder(parts[i]!);
    if (repo && parts[i + 1] === "snapshots" && COMMIT.test(parts[i + 2] ?? "")) {
      return { root: parts.slice(0, i).join(path.sep) || path.sep, repo, commit: parts[i + 2]!, file: parts.slice(i + 3).join("/") };
    }
  }
  return undefined;
}

/** The refs pointing at a commit (for hover on a snapshot path). */
export function refsOf(repoDir: string, commit: string): string[] {
  return entries(path.join(repoDir, "refs"))
    .filter((e) => e.isFile())
    .filter((e) => {
      const t = readSmallFile(path.join(repoDir, "refs", e.name), 4096);
      return "text" in t && t.text.trim() === commit;
    })
    .map((e) => e.name);
}

function short(commit: string): string {
  return commit.slice(0, 12);
}

function resolveCommit(repoDir: string, repo: string, revision: string): { commit: string } | { problem: StoreProblem } {
  if (COMMIT.test(revision)) return { commit: revision };
  const refFile = path.join(repoDir, "refs", ...revision.split("/"));
  const t = readSmallFile(refFile, 4096);
  const snapshots = entries(path.join(repoDir, "snapshots"))
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  if ("error" in t) {
    return {
      problem: {
        code: "DL140",
        message: `hf:${repo} has no ref '${revision}' in the cache (${refFile}: ${t.error})${snapshots.length ? `; cached snapshots: ${snapshots.map(short).join(", ")}; name one with hf:${repo}@<commit>` : "; download it with `hf download " + repo + "`"}`,
      },
    };
  }
  const commit = t.text.trim();
  if (!COMMIT.test(commit)) return { problem: { code: "DL141", message: `hf:${repo}: ${refFile} does not hold a commit hash (it holds ${JSON.stringify(commit.slice(0, 60))}); download the repo again` } };
  return { commit };
}

function origin(root: string, repo: string, revision: string, commit: string, file: string, state: ReturnType<typeof linkState>): ModelOrigin {
  const blob = state.kind === "link" ? state.resolved : undefined;
  const name = blob ? path.basename(blob) : undefined;
  return { store: "huggingface", root, model: repo, revision, commit, file, ...(blob ? { blob } : {}), ...(name && SHA256.test(name) ? { sha256: name } : {}) };
}

function dangling(repo: string, commit: string, rel: string, target: string): StoreProblem {
  const g = guessQuant(path.basename(rel));
  return {
    code: "DL141",
    message: `hf:${repo}: snapshots/${short(commit)}/${rel} is a dangling symlink to ${target}, which does not exist (an interrupted download or a deleted blob); download the file again with \`hf download ${repo} ${rel}\``,
    ...(g ? { guess: g } : {}),
  };
}

/**
 * The GGUF files of a cached repo at a revision (default `main`), or the one `file` named; every
 * problem (missing cache, repo, ref, snapshot, file; dangling symlinks) is reported, never thrown.
 */
export function hfFiles(loc: StoreLocation, repo: string, revision: string | undefined, file: string | undefined): StoreListing {
  const root = loc.path;
  const rev = revision ?? "main";
  if (!isDir(root)) {
    return { files: [], problems: [{ code: "DL140", message: `the Hugging Face cache ${root} (from ${loc.how}) does not exist: download the model with \`hf download ${repo}\`, or point HF_HUB_CACHE or modelStores.huggingface at your cache` }] };
  }
  const repoDir = path.join(root, hfRepoFolderName(repo));
  if (!isDir(repoDir)) {
    const cached = listHfRepos(root);
    const near = cached.filter((r) => r.toLowerCase() === repo.toLowerCase() || r.split("/").pop()!.toLowerCase() === repo.split("/").pop()!.toLowerCase());
    const list = near.length ? `did you mean ${near.join(", ")}?` : cached.length ? `cached repos: ${cached.slice(0, 12).join(", ")}${cached.length > 12 ? `, … (${cached.length - 12} more)` : ""}` : "the cache holds no model repos";
    return { files: [], problems: [{ code: "DL140", message: `hf:${repo} is not in the Hugging Face cache ${root} (from ${loc.how}): ${list}; download it with \`hf download ${repo}\`` }] };
  }
  const c = resolveCommit(repoDir, repo, rev);
  if ("problem" in c) return { files: [], problems: [c.problem] };
  const snapshot = path.join(repoDir, "snapshots", c.commit);
  if (!isDir(snapshot)) {
    return { files: [], problems: [{ code: "DL141", message: `hf:${repo}: ${rev === c.commit ? "commit" : `refs/${rev} points at commit`} ${c.commit}, whose snapshot folder ${snapshot} is missing; download the repo again` }] };
  }
  const where = `hf:${repo}${rev === "main" ? "" : `@${rev}`} (snapshot ${short(c.commit)})`;
  if (file !== undefined) {
    const p = path.join(snapshot, ...file.split("/"));
    const s = linkState(p);
    if (s.kind === "dangling") return { files: [], problems: [dangling(repo, c.commit, file, s.target)], where };
    if (s.kind === "missing" || s.kind === "other") {
      const known = readSmallFile(path.join(repoDir, ".no_exist", c.commit, ...file.split("/")), 1);
      const have = findGgufs(snapshot, SNAPSHOT_DEPTH);
      const why = "text" in known ? "the Hub reported that it does not exist at this revision" : have.length ? `the snapshot holds ${have.join(", ")}` : "the snapshot holds no GGUF file";
      return { files: [], problems: [{ code: "DL140", message: `${where} has no file ${file}: ${why}${"text" in known ? "" : `; download it with \`hf download ${repo} ${file}\``}` }], where };
    }
    return { files: [{ path: p, origin: origin(root, repo, rev, c.commit, file, s) }], problems: [], where };
  }
  const files: StoreFile[] = [];
  const problems: StoreProblem[] = [];
  for (const rel of findGgufs(snapshot, SNAPSHOT_DEPTH)) {
    const p = path.join(snapshot, ...rel.split("/"));
    const s = linkState(p);
    if (s.kind === "dangling") problems.push(dangling(repo, c.commit, rel, s.target));
    else if (s.kind === "file" || s.kind === "link") files.push({ path: p, origin: origin(root, repo, rev, c.commit, rel, s) });
  }
  return { files, problems, where };
}

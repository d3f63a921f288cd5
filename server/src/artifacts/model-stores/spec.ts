// Store references as written in driftlens.yaml:
//   scan:      hf:org/name[@revision]   lmstudio:publisher/model   ollama:name[:tag]
//   variants:  the same strings, where hf: and lmstudio: may end in /path/to/file.gguf, or a mapping
//              {ollama: name}, {hf: org/name, file?, revision?}, {lmstudio: publisher/model, file?}
// A value without one of these prefixes is a path, as before.
import { parseOllamaName } from "./ollama-name";
import { STORE_PREFIX, type StoreKind, type StoreRef } from "./types";

const PREFIX = /^(hf|lmstudio|ollama):/i;
/** One Hugging Face name segment; the Hub forbids `--` and `..` in repo names. */
const HF_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

export function isStoreString(s: string): boolean {
  return PREFIX.test(s.trim());
}

function kindOf(prefix: string): StoreKind {
  const p = prefix.toLowerCase();
  return p === "hf" ? "huggingface" : p === "lmstudio" ? "lmstudio" : "ollama";
}

/** A relative path inside a repo or model folder, without `..` or absolute parts. */
function checkInnerFile(file: string, what: string): string | undefined {
  const f = file.replace(/\\/g, "/");
  if (f.startsWith("/") || /^[A-Za-z]:/.test(f)) return `${what} must be a path inside the repo, not an absolute path`;
  if (f.split("/").some((p) => p === ".." || p === "." || p === "")) return `${what} '${file}' must be a plain relative path (no '..', '.' or empty parts)`;
  if (!/\.gguf$/i.test(f)) return `${what} '${file}' must name a .gguf file`;
  return undefined;
}

export function checkHfRepo(repo: string): string | undefined {
  const parts = repo.split("/");
  if (parts.length > 2 || parts.some((p) => !HF_SEGMENT.test(p) || p.includes("--") || p.includes(".."))) {
    return `'${repo}' is not a Hugging Face repo id: write org/name (letters, digits, '-', '_', '.'), e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF`;
  }
  return undefined;
}

function checkRevision(rev: string): string | undefined {
  if (!rev || rev.split("/").some((p) => p === ".." || p === "." || p === "") || rev.startsWith("/")) return `'${rev}' is not a revision: write a branch or tag name (main) or a commit hash`;
  return undefined;
}

function checkLmStudioModel(model: string): string | undefined {
  const parts = model.split("/");
  if (parts.length !== 2 || parts.some((p) => !p || p === "." || p === ".." || /[\\:]/.test(p))) {
    return `'${model}' is not an LM Studio model: write publisher/model as the folders under LM Studio's models folder, e.g. lmstudio-community/Qwen2.5-0.5B-Instruct-GGUF`;
  }
  return undefined;
}

/**
 * A `hf:`/`lmstudio:`/`ollama:` string as a store ref; undefined when the string has no such prefix
 * (it is a path). `allowFile` lets variants end a hf:/lmstudio: ref in a .gguf file.
 */
export function parseStoreString(text: string, allowFile: boolean): { ref: StoreRef } | { error: string } | undefined {
  const s = text.trim();
  const m = PREFIX.exec(s);
  if (!m) return undefined;
  const kind = kindOf(m[1]!);
  const body = s.slice(m[0].length).trim();
  const shown = `${STORE_PREFIX[kind]}:${body}`;
  if (!body) return { error: `'${s}' names no model: write ${example(kind)}` };
  if (kind === "ollama") {
    const n = parseOllamaName(body);
    return "error" in n ? { error: n.error } : { ref: { kind, name: body } };
  }
  const parts = body.split("/");
  const fileAt = parts.findIndex((p) => /\.gguf$/i.test(p));
  const head = fileAt >= 0 ? parts.slice(0, fileAt) : parts;
  const file = fileAt >= 0 ? parts.slice(fileAt).join("/") : undefined;
  // A file can sit in sub-folders of the repo: everything after the first two segments is the file.
  if (file === undefined && head.length > 2) return { error: `'${shown}': ${allowFile ? "a file inside the repo must end in .gguf" : "write org/name for a scan (a variant can name one .gguf file after it)"}` };
  if (file !== undefined && !allowFile) return { error: `'${shown}': a scan takes every GGUF of the ${kind === "huggingface" ? "repo" : "model"}; name one file in a variant instead` };
  const filePath = file !== undefined && head.length > 2 ? [...head.slice(2), file].join("/") : file;
  const repoPart = head.slice(0, 2).join("/");
  if (kind === "huggingface") {
    const at = repoPart.indexOf("@");
    const repo = at >= 0 ? repoPart.slice(0, at) : repoPart;
    const revision = at >= 0 ? repoPart.slice(at + 1) : undefined;
    const e = checkHfRepo(repo) ?? (revision !== undefined ? checkRevision(revision) : undefined) ?? (filePath ? checkInnerFile(filePath, "file") : undefined);
    if (e) return { error: e };
    return { ref: { kind, repo, ...(revision ? { revision } : {}), ...(filePath ? { file: filePath } : {}) } };
  }
  const e = checkLmStudioModel(repoPart) ?? (filePath ? checkInnerFile(filePath, "file") : undefined);
  if (e) return { error: e };
  return { ref: { kind, model: repoPart, ...(filePath ? { file: filePath } : {}) } };
}

function example(kind: StoreKind): string {
  return kind === "ollama" ? "ollama:llama3.2:1b" : kind === "huggingface" ? "hf:org/name" : "lmstudio:publisher/model";
}

/** The store keys a variant mapping may use instead of `path`. */
export const VARIANT_STORE_KEYS = ["ollama", "hf", "lmstudio"] as const;

/** A variant mapping's store ref ({ollama: …} / {hf: …, file, revision} / {lmstudio: …, file}). */
export function parseStoreObject(entry: Record<string, unknown>): { ref: StoreRef; key: string } | { error: string; key?: string } | undefined {
  const keys = VARIANT_STORE_KEYS.filter((k) => entry[k] !== undefined);
  if (keys.length === 0) return undefined;
  if (keys.length > 1 || entry.path !== undefined) return { error: `a variant names one model: give either path, ollama, hf or lmstudio, not ${[...(entry.path !== undefined ? ["path"] : []), ...keys].join(" and ")}` };
  const key = keys[0]!;
  const value = entry[key];
  if (typeof value !== "string" || !value.trim()) return { error: `${key} must be a string: ${example(key === "hf" ? "huggingface" : key)}`, key };
  const file = typeof entry.file === "string" ? entry.file.trim() : undefined;
  const revision = typeof entry.revision === "string" ? entry.revision.trim() : undefined;
  if (key === "ollama") {
    if (file !== undefined || revision !== undefined) return { error: "an ollama variant takes the name and tag only (ollama: llama3.2:1b); file and revision are for hf and lmstudio", key: file !== undefined ? "file" : "revision" };
    const n = parseOllamaName(value.trim());
    return "error" in n ? { error: n.error, key } : { ref: { kind: "ollama", name: value.trim() }, key };
  }
  // Each error is reported at the key it is about.
  const fileError = file !== undefined ? checkInnerFile(file, "file") : undefined;
  if (key === "hf") {
    const repo = value.trim();
    const repoError = checkHfRepo(repo);
    if (repoError) return { error: repoError, key };
    const revError = revision !== undefined ? checkRevision(revision) : undefined;
    if (revError) return { error: revError, key: "revision" };
    if (fileError) return { error: fileError, key: "file" };
    return { ref: { kind: "huggingface", repo, ...(revision ? { revision } : {}), ...(file ? { file } : {}) }, key };
  }
  if (revision !== undefined) return { error: "an lmstudio variant has no revision; LM Studio keeps one copy of each file", key: "revision" };
  const model = value.trim();
  const modelError = checkLmStudioModel(model);
  if (modelError) return { error: modelError, key };
  if (fileError) return { error: fileError, key: "file" };
  return { ref: { kind: "lmstudio", model, ...(file ? { file } : {}) }, key };
}

/** The canonical string form of a ref (what hover and messages show). */
export function formatStoreRef(r: StoreRef): string {
  if (r.kind === "ollama") return `ollama:${r.name}`;
  if (r.kind === "huggingface") return `hf:${r.repo}${r.revision ? `@${r.revision}` : ""}${r.file ? `/${r.file}` : ""}`;
  return `lmstudio:${r.model}${r.file ? `/${r.file}` : ""}`;
}

/**
 * The store ref of a variant entry as driftlens.yaml holds it (a string or a mapping): undefined
 * for a path; `key` is the mapping key the ref is written under (for its range).
 */
export function variantStoreOf(entry: unknown): { ref: StoreRef; key?: string } | { error: string; key?: string } | undefined {
  if (typeof entry === "string") return parseStoreString(entry, true);
  if (entry && typeof entry === "object" && !Array.isArray(entry)) return parseStoreObject(entry as Record<string, unknown>);
  return undefined;
}

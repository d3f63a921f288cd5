// Ollama's store, read the way Ollama's server/manifest code reads it:
//   manifests/<host>/<namespace>/<model>/<tag>     a JSON manifest (releases up to now), or
//   manifests-v2/<host>/<namespace>/<model>/<tag>  a symlink (or copy) to a manifest blob
//                                                   (newer releases; public models under ollama.com),
//   blobs/sha256-<hex>                              content-addressed files, named by their sha256.
// A manifest lists layers {mediaType, digest "sha256:<hex>", size}; the GGUF is the layer with
// mediaType application/vnd.ollama.image.model. A manifest list (mediaType
// application/vnd.ollama.manifest.list.v2+json) holds one child manifest per runner; the child
// whose format is gguf (runner ollama or llamacpp) is the one llama.cpp can load.
import fs from "node:fs";
import path from "node:path";
import type { StoreLocation } from "./locations";
import { isPublicHost, OLLAMA_DEFAULT_HOST, OLLAMA_V2_HOST, parseOllamaName, shortOllamaName, type OllamaName } from "./ollama-name";
import { guessQuant, type StoreFile, type StoreListing, type StoreProblem } from "./types";
import { childCaseless, entries, isDir, readSmallFile } from "./walk";

export const OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model";
const MANIFEST_LIST = "application/vnd.ollama.manifest.list.v2+json";
const DIGEST = /^sha256[:-]([0-9a-fA-F]{64})$/;
/** Manifests are a few hundred bytes; anything past this is not one. */
const MAX_MANIFEST_BYTES = 4 << 20;
const MANIFEST_DIRS = ["manifests-v2", "manifests"] as const;

interface Layer {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
}
interface Manifest {
  mediaType?: unknown;
  layers?: unknown;
  manifests?: unknown;
  digest?: unknown;
  runner?: unknown;
  format?: unknown;
}

/** Host folders a name can be stored under, in the order Ollama looks (v2 first, then legacy). */
function manifestCandidates(root: string, n: OllamaName): string[] {
  const out: string[] = [];
  const v2Host = isPublicHost(n.host) ? OLLAMA_V2_HOST : n.host;
  const legacyHosts = isPublicHost(n.host) ? [n.host, n.host.toLowerCase() === OLLAMA_DEFAULT_HOST ? OLLAMA_V2_HOST : OLLAMA_DEFAULT_HOST] : [n.host];
  const find = (dir: string, host: string) => {
    let d: string | undefined = path.join(root, dir);
    for (const part of [host, n.namespace, n.model, n.tag]) {
      d = d ? childCaseless(d, part) : undefined;
    }
    if (d) out.push(d);
  };
  find("manifests-v2", v2Host);
  for (const h of legacyHosts) find("manifests", h);
  return out;
}

/** Every model name in the store (short form, as `ollama list` shows it) with its manifest file, sorted. */
export function listOllamaNames(root: string): { name: string; manifest: string }[] {
  const seen = new Map<string, { name: string; manifest: string }>();
  for (const dir of MANIFEST_DIRS) {
    const base = path.join(root, dir);
    for (const host of entries(base)) {
      if (!host.isDirectory()) continue;
      for (const ns of entries(path.join(base, host.name))) {
        if (!ns.isDirectory()) continue;
        for (const model of entries(path.join(base, host.name, ns.name))) {
          if (!model.isDirectory()) continue;
          for (const tag of entries(path.join(base, host.name, ns.name, model.name))) {
            if (tag.name.startsWith(".") || tag.isDirectory()) continue;
            const name = shortOllamaName({ host: host.name, namespace: ns.name, model: model.name, tag: tag.name });
            if (!seen.has(name.toLowerCase())) seen.set(name.toLowerCase(), { name, manifest: path.join(base, host.name, ns.name, model.name, tag.name) });
            if (seen.size > 5000) return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
          }
        }
      }
    }
  }
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function blobPath(root: string, hex: string): string {
  const exact = path.join(root, "blobs", `sha256-${hex}`);
  if (fs.existsSync(exact) || hex === hex.toLowerCase()) return exact;
  return path.join(root, "blobs", `sha256-${hex.toLowerCase()}`);
}

function parseJson(text: string): { value: Manifest } | { error: string } {
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== "object" || Array.isArray(v)) return { error: "it is JSON but not an object" };
    return { value: v as Manifest };
  } catch (e) {
    return { error: `it is not JSON (${(e as Error).message})` };
  }
}

/** The runnable child of a manifest list: the GGUF one (runner ollama or llamacpp). */
function selectChild(root: string, list: Manifest): { manifest: Manifest } | { error: string } {
  const kids = Array.isArray(list.manifests) ? (list.manifests as Manifest[]) : [];
  const rank = (m: Manifest) => (String(m.format ?? "").toLowerCase() === "gguf" ? 0 : ["ollama", "llamacpp"].includes(String(m.runner ?? "").toLowerCase()) ? 1 : 2);
  const child = kids.filter((k) => k && typeof k === "object" && rank(k) < 2).sort((a, b) => rank(a) - rank(b))[0];
  if (!child) return { error: `it is a manifest list with no GGUF child manifest (runners: ${kids.map((k) => String(k?.runner ?? "?")).join(", ") || "none"}), a format Driftlens cannot run` };
  if (Array.isArray(child.layers)) return { manifest: child };
  const d = typeof child.digest === "string" ? DIGEST.exec(child.digest) : null;
  if (!d) return { error: "its GGUF child manifest has neither layers nor a valid digest" };
  const f = blobPath(root, d[1]!);
  const t = readSmallFile(f, MAX_MANIFEST_BYTES);
  if ("error" in t) return { error: `its GGUF child manifest blob ${f} cannot be read: ${t.error}` };
  const j = parseJson(t.text);
  if ("error" in j) return { error: `its GGUF child manifest blob ${f}: ${j.error}` };
  return { manifest: j.value };
}

function problem(name: string, code: StoreProblem["code"], message: string): StoreProblem {
  const g = guessQuant(name.split(":").pop() ?? "");
  return { code, message, ...(g ? { guess: g } : {}) };
}

/** Resolves one manifest file to its GGUF blob. */
function fromManifest(root: string, name: string, tag: string, manifest: string): { file: StoreFile } | { problem: StoreProblem } {
  const pull = `run \`ollama pull ${name}\` to restore it`;
  const t = readSmallFile(manifest, MAX_MANIFEST_BYTES);
  if ("error" in t) return { problem: problem(name, "DL141", `ollama:${name}: manifest ${manifest} cannot be read: ${t.error}; ${pull}`) };
  const j = parseJson(t.text);
  if ("error" in j) return { problem: problem(name, "DL141", `ollama:${name}: manifest ${manifest} is not a valid manifest: ${j.error}; ${pull}`) };
  let m = j.value;
  if (m.mediaType === MANIFEST_LIST) {
    const c = selectChild(root, m);
    if ("error" in c) return { problem: problem(name, "DL141", `ollama:${name}: manifest ${manifest}: ${c.error}`) };
    m = c.manifest;
  }
  if (!Array.isArray(m.layers)) return { problem: problem(name, "DL141", `ollama:${name}: manifest ${manifest} has no layers list; ${pull}`) };
  const layer = (m.layers as Layer[]).find((l) => l && typeof l === "object" && l.mediaType === OLLAMA_MODEL_LAYER);
  if (!layer) {
    const types = (m.layers as Layer[]).map((l) => String(l?.mediaType ?? "?"));
    return { problem: problem(name, "DL141", `ollama:${name}: manifest ${manifest} has no GGUF model layer (${OLLAMA_MODEL_LAYER}); its layers are ${types.join(", ") || "none"}, a format Driftlens cannot run`) };
  }
  const d = typeof layer.digest === "string" ? DIGEST.exec(layer.digest) : null;
  if (!d) return { problem: problem(name, "DL141", `ollama:${name}: manifest ${manifest} gives the model layer the digest ${JSON.stringify(layer.digest)}, not sha256:<64 hex digits>; ${pull}`) };
  const hex = d[1]!.toLowerCase();
  const blob = blobPath(root, d[1]!);
  let st: fs.Stats;
  try {
    st = fs.statSync(blob);
  } catch {
    return { problem: problem(name, "DL141", `ollama:${name}: manifest ${manifest} names blob sha256-${hex} for the model, which is missing from ${path.join(root, "blobs")}; ${pull}`) };
  }
  if (!st.isFile()) return { problem: problem(name, "DL141", `ollama:${name}: blob ${blob} is not a file`) };
  if (typeof layer.size === "number" && layer.size !== st.size) {
    return { problem: problem(name, "DL141", `ollama:${name}: blob ${blob} is ${st.size} bytes but manifest ${manifest} says ${layer.size} (an incomplete or damaged download); ${pull}`) };
  }
  return { file: { path: blob, origin: { store: "ollama", root, model: name, revision: tag, manifest, blob, sha256: hex } } };
}

function missingStore(loc: StoreLocation, what: string): StoreListing {
  return { files: [], problems: [{ code: "DL140", message: `Ollama's models folder ${loc.path} (from ${loc.how}) does not exist, so ${what} cannot be found: pull it with \`ollama pull\`, or point OLLAMA_MODELS or modelStores.ollama at the folder holding manifests/ and blobs/` }] };
}

/** One model:tag, resolved through its manifest to the GGUF blob. */
export function ollamaFiles(loc: StoreLocation, nameText: string): StoreListing {
  const n = parseOllamaName(nameText);
  if ("error" in n) return { files: [], problems: [{ code: "DL142", message: n.error }] };
  const name = shortOllamaName(n);
  if (!isDir(loc.path)) return missingStore(loc, `ollama:${name}`);
  const manifest = manifestCandidates(loc.path, n)[0];
  if (!manifest) {
    const all = listOllamaNames(loc.path).map((x) => x.name);
    const same = all.filter((x) => x.split(":")[0]!.toLowerCase() === name.split(":")[0]!.toLowerCase());
    const list = same.length ? `tags present: ${same.join(", ")}` : all.length ? `models present: ${all.slice(0, 12).join(", ")}${all.length > 12 ? `, … (${all.length - 12} more)` : ""}` : "the store holds no models";
    return { files: [], problems: [problem(name, "DL140", `ollama:${name} is not in Ollama's store ${loc.path} (from ${loc.how}): ${list}; pull it with \`ollama pull ${name}\``)] };
  }
  const r = fromManifest(loc.path, name, n.tag, manifest);
  return "file" in r ? { files: [r.file], problems: [], where: `ollama:${name}` } : { files: [], problems: [r.problem], where: `ollama:${name}` };
}

/** For a scan: every tag of a model (`ollama:qwen2.5`), or the one tag named (`ollama:qwen2.5:0.5b`). */
export function ollamaScan(loc: StoreLocation, nameText: string): StoreListing {
  const s = nameText.trim();
  if (s.lastIndexOf(":") > s.lastIndexOf("/")) return ollamaFiles(loc, s);
  const n = parseOllamaName(s);
  if ("error" in n) return { files: [], problems: [{ code: "DL142", message: n.error }] };
  if (!isDir(loc.path)) return missingStore(loc, `ollama:${s}`);
  const base = shortOllamaName(n).replace(/:[^:]*$/, "");
  const names = listOllamaNames(loc.path).filter((x) => x.name.replace(/:[^:]*$/, "").toLowerCase() === base.toLowerCase());
  if (names.length === 0) return ollamaFiles(loc, s);
  const out: StoreListing = { files: [], problems: [], where: `ollama:${base}` };
  for (const x of names) {
    const r = fromManifest(loc.path, x.name, x.name.split(":").pop()!, x.manifest);
    if ("file" in r) out.files.push(r.file);
    else out.problems.push(r.problem);
  }
  return out;
}

/** Names whose manifests point at a blob (for hover on a plain path into the store). */
export function namesOfBlob(root: string, blob: string): string[] {
  const hex = /sha256-([0-9a-f]{64})$/i.exec(path.basename(blob))?.[1]?.toLowerCase();
  if (!hex) return [];
  const out: string[] = [];
  for (const x of listOllamaNames(root)) {
    const r = fromManifest(root, x.name, x.name.split(":").pop()!, x.manifest);
    if ("file" in r && r.file.origin.sha256 === hex) out.push(x.name);
  }
  return out;
}

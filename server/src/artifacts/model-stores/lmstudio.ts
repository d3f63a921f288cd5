// LM Studio's models folder: <models>/<publisher>/<model>/<file>.gguf, the Hugging Face
// publisher/repo layout LM Studio downloads into (and expects imported models in). Files are plain
// files (or symlinks users make into other stores); vision projectors (mmproj-*.gguf) sit beside
// the model and are not models.
import path from "node:path";
import type { StoreLocation } from "./locations";
import { guessQuant, type StoreFile, type StoreListing, type StoreProblem } from "./types";
import { childCaseless, entries, findGgufs, isDir, linkState } from "./walk";

/** Model folders sit two levels down; files may sit one folder deeper still. */
const MODEL_DEPTH = 2;

/** `publisher/model` folders holding at least one GGUF, sorted. */
export function listLmStudioModels(root: string): string[] {
  const out: string[] = [];
  for (const pub of entries(root)) {
    if (!pub.isDirectory() || pub.name.startsWith(".")) continue;
    for (const m of entries(path.join(root, pub.name))) {
      if (m.isDirectory() && !m.name.startsWith(".") && findGgufs(path.join(root, pub.name, m.name), MODEL_DEPTH).length) out.push(`${pub.name}/${m.name}`);
    }
    if (out.length > 2000) break;
  }
  return out.sort();
}

/** A path under LM Studio's models folder: which model and file it is. */
export function detectLmStudioFile(p: string, root: string): { model: string; file: string } | undefined {
  const rel = path.relative(root, path.resolve(p));
  if (!rel || rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
  const parts = rel.split(path.sep);
  if (parts.length < 3) return undefined;
  return { model: `${parts[0]}/${parts[1]}`, file: parts.slice(2).join("/") };
}

function dangling(model: string, rel: string, target: string): StoreProblem {
  const g = guessQuant(path.basename(rel));
  return { code: "DL141", message: `lmstudio:${model}/${rel} is a dangling symlink to ${target}, which does not exist; download the model again in LM Studio or remove the link`, ...(g ? { guess: g } : {}) };
}

/** The GGUF files of an LM Studio model folder, or the one `file` named. */
export function lmstudioFiles(loc: StoreLocation, model: string, file: string | undefined): StoreListing {
  const root = loc.path;
  if (!isDir(root)) {
    return { files: [], problems: [{ code: "DL140", message: `LM Studio's models folder ${root} (from ${loc.how}) does not exist: download the model in LM Studio, or point modelStores.lmstudio at the folder LM Studio shows under My Models` }] };
  }
  const [publisher, name] = model.split("/") as [string, string];
  const pubDir = childCaseless(root, publisher);
  const modelDir = pubDir ? childCaseless(pubDir, name) : undefined;
  if (!modelDir || !isDir(modelDir)) {
    const all = listLmStudioModels(root);
    const near = all.filter((m) => m.split("/")[1]!.toLowerCase() === name.toLowerCase() || m.split("/")[0]!.toLowerCase() === publisher.toLowerCase());
    const list = near.length ? `did you mean ${near.slice(0, 8).join(", ")}?` : all.length ? `it has ${all.slice(0, 12).join(", ")}${all.length > 12 ? `, … (${all.length - 12} more)` : ""}` : "it holds no models";
    return { files: [], problems: [{ code: "DL140", message: `lmstudio:${model} is not in LM Studio's models folder ${root} (from ${loc.how}): ${list}` }] };
  }
  const where = `lmstudio:${model}`;
  const shown = path.relative(root, modelDir).split(path.sep).join("/");
  const originOf = (rel: string) => ({ store: "lmstudio" as const, root, model: shown, file: rel });
  if (file !== undefined) {
    const p = path.join(modelDir, ...file.split("/"));
    const s = linkState(p);
    if (s.kind === "dangling") return { files: [], problems: [dangling(shown, file, s.target)], where };
    if (s.kind === "missing" || s.kind === "other") {
      const have = findGgufs(modelDir, MODEL_DEPTH);
      return { files: [], problems: [{ code: "DL140", message: `${where} has no file ${file}: ${have.length ? `the folder holds ${have.join(", ")}` : "the folder holds no GGUF file"}` }], where };
    }
    return { files: [{ path: p, origin: originOf(file) }], problems: [], where };
  }
  const files: StoreFile[] = [];
  const problems: StoreProblem[] = [];
  for (const rel of findGgufs(modelDir, MODEL_DEPTH)) {
    const p = path.join(modelDir, ...rel.split("/"));
    const s = linkState(p);
    if (s.kind === "dangling") problems.push(dangling(shown, rel, s.target));
    else if (s.kind === "file" || s.kind === "link") files.push({ path: p, origin: originOf(rel) });
  }
  return { files, problems, where };
}

// Where each store lives, found the way its own tool finds it (and never created or written):
//   Hugging Face: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
//                 $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (huggingface_hub's constants).
//   LM Studio:    its home is LMSTUDIO_HOME, else the path in ~/.lmstudio-home-pointer, else
//                 ~/.cache/lm-studio when it exists, else ~/.lmstudio (lmstudio-js findLMStudioHome);
//                 the models folder is settings.json's `downloadsFolder` (what "My Models → Models
//                 Directory" changes), else <home>/models (lms resolveModelsFolderPath).
//   Ollama:       OLLAMA_MODELS, else ~/.ollama/models (Ollama's envconfig.Models); on Linux, when that
//                 does not exist, /usr/share/ollama/.ollama/models, where the install script's
//                 system service (user `ollama`) keeps them.
// `modelStores:` in driftlens.yaml overrides any of them.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { StoreKind } from "./types";

export interface StoreEnvironment {
  env: Record<string, string | undefined>;
  home: string;
  platform: NodeJS.Platform;
}

export function defaultStoreEnvironment(): StoreEnvironment {
  return { env: process.env, home: os.homedir(), platform: process.platform };
}

/** Absolute store folders set in driftlens.yaml (`modelStores:`). */
export type StoreOverrides = Partial<Record<StoreKind, string>>;

export interface StoreLocation {
  path: string;
  /** Where the location came from, for messages ("HF_HUB_CACHE", "the default", …). */
  how: string;
}

/** Bound on the small JSON/text files read to find a store (settings, pointer). */
const SMALL_FILE_BYTES = 1 << 20;

function expand(p: string, home: string): string {
  if (p === "~") return home;
  if (p.startsWith("~/") || p.startsWith("~\\")) return path.join(home, p.slice(2));
  return p;
}

function readSmall(file: string): string | undefined {
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > SMALL_FILE_BYTES) return undefined;
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== "" ? v.trim() : undefined;
}

export function huggingfaceLocation(over: StoreOverrides, e: StoreEnvironment): StoreLocation {
  if (over.huggingface) return { path: over.huggingface, how: "modelStores.huggingface in driftlens.yaml" };
  const hub = nonEmpty(e.env.HF_HUB_CACHE);
  if (hub) return { path: path.resolve(expand(hub, e.home)), how: "HF_HUB_CACHE" };
  const legacy = nonEmpty(e.env.HUGGINGFACE_HUB_CACHE);
  if (legacy) return { path: path.resolve(expand(legacy, e.home)), how: "HUGGINGFACE_HUB_CACHE" };
  const hfHome = nonEmpty(e.env.HF_HOME);
  if (hfHome) return { path: path.join(path.resolve(expand(hfHome, e.home)), "hub"), how: "HF_HOME" };
  const xdg = nonEmpty(e.env.XDG_CACHE_HOME);
  if (xdg) return { path: path.join(path.resolve(expand(xdg, e.home)), "huggingface", "hub"), how: "XDG_CACHE_HOME" };
  return { path: path.join(e.home, ".cache", "huggingface", "hub"), how: "the default" };
}

/** LM Studio's home folder, resolved like lmstudio-js's findLMStudioHome but without writing the pointer file. */
export function lmstudioHome(e: StoreEnvironment): StoreLocation {
  const env = nonEmpty(e.env.LMSTUDIO_HOME);
  if (env) return { path: path.resolve(expand(env, e.home)), how: "LMSTUDIO_HOME" };
  const pointer = readSmall(path.join(e.home, ".lmstudio-home-pointer"))?.trim();
  if (pointer && path.isAbsolute(pointer)) return { path: pointer, how: "~/.lmstudio-home-pointer" };
  const cacheHome = path.join(e.home, ".cache", "lm-studio");
  if (isDir(cacheHome)) return { path: cacheHome, how: "the default (~/.cache/lm-studio)" };
  return { path: path.join(e.home, ".lmstudio"), how: "the default (~/.lmstudio)" };
}

export function lmstudioLocation(over: StoreOverrides, e: StoreEnvironment): StoreLocation {
  if (over.lmstudio) return { path: over.lmstudio, how: "modelStores.lmstudio in driftlens.yaml" };
  const home = lmstudioHome(e);
  const settingsFile = path.join(home.path, "settings.json");
  const settings = readSmall(settingsFile);
  if (settings !== undefined) {
    try {
      const folder = (JSON.parse(settings) as { downloadsFolder?: unknown }).downloadsFolder;
      if (typeof folder === "string" && folder.trim()) return { path: path.resolve(expand(folder.trim(), e.home)), how: `downloadsFolder in ${settingsFile}` };
    } catch {
      // An unreadable settings.json: LM Studio's own CLI falls back to the default folder too.
    }
  }
  return { path: path.join(home.path, "models"), how: `the default (<LM Studio home>/models, home from ${home.how})` };
}

export function ollamaLocation(over: StoreOverrides, e: StoreEnvironment): StoreLocation {
  if (over.ollama) return { path: over.ollama, how: "modelStores.ollama in driftlens.yaml" };
  const env = nonEmpty(e.env.OLLAMA_MODELS);
  if (env) return { path: path.resolve(expand(env, e.home)), how: "OLLAMA_MODELS" };
  const user = path.join(e.home, ".ollama", "models");
  if (e.platform === "linux" && !isDir(user)) {
    const service = "/usr/share/ollama/.ollama/models";
    if (isDir(service)) return { path: service, how: "the Linux service default" };
  }
  return { path: user, how: "the default (~/.ollama/models)" };
}

export function storeLocation(kind: StoreKind, over: StoreOverrides, e: StoreEnvironment): StoreLocation {
  return kind === "huggingface" ? huggingfaceLocation(over, e) : kind === "lmstudio" ? lmstudioLocation(over, e) : ollamaLocation(over, e);
}

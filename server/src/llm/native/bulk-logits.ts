// The bulk_logits addon (server/native/bulk_logits.c): every logit of many positions per call,
// from the llama.cpp library node-llama-cpp ships for this platform's CPU. The only module that
// loads it. Built by extension/scripts/natives.mjs into dist/native/<platform>-<arch>/ (Node-API:
// one binary for every runtime); where it or node-llama-cpp's CPU library is missing, or the
// platform has no dlopen, `loadBulkLogits` says why and callers keep to node-llama-cpp.
import fs from "node:fs";
import path from "node:path";
import { nativeDirs } from "../../util/native-dirs";

/** A model loaded by the addon (opaque). */
export type NativeModel = { readonly __nativeModel: never };
/** A context of the addon (opaque). */
export type NativeContext = { readonly __nativeContext: never };

export interface BulkLogitsAddon {
  load(libraryFile: string, backendsDir: string): void;
  /** llama.cpp's last warning and error lines (its reason for a failure). */
  lastLog(): string;
  loadModel(file: string, vocabOnly: boolean): NativeModel;
  freeModel(model: NativeModel): void;
  modelInfo(model: NativeModel): { vocab: number; bos: number; addBos: boolean };
  /** No special tokens added, none parsed. */
  tokenize(model: NativeModel, text: string): Int32Array;
  newContext(model: NativeModel, o: { contextSize: number; sequences: number; batchSize?: number; threads: number; flashAttention?: boolean }): NativeContext;
  freeContext(ctx: NativeContext): void;
  /** Drops a sequence's cells from position `from` on. */
  removeTokens(ctx: NativeContext, seq: number, from: number): boolean;
  /** Evaluates entries (seq, pos, token) in order; rows of logits for entries with want ≠ 0 go to `out`. */
  decode(ctx: NativeContext, seq: Int32Array, pos: Int32Array, tokens: Int32Array, want: Uint8Array, out: Float32Array): Promise<void>;
}

export interface BulkLogits {
  addon: BulkLogitsAddon;
  /** The addon file and the llama.cpp library it runs (for the log). */
  binary: string;
  library: string;
}

/**
 * node-llama-cpp's prebuilt CPU binaries for this platform (@node-llama-cpp/<platform>, hoisted
 * or inside node-llama-cpp's own node_modules): their folder and libllama in it. Found by Node's
 * lookup order from this bundle's folder up (the package's exports hide its package.json).
 */
export function llamaCpuLibrary(from = __dirname): { dir: string; library: string } | string {
  const platform = `${process.platform}-${process.arch}`;
  const rel = path.join("@node-llama-cpp", platform, "bins", platform);
  let dir: string | undefined;
  for (let d = from; ; ) {
    dir = [path.join(d, "node_modules", rel), path.join(d, "node_modules", "node-llama-cpp", "node_modules", rel)].find((p) => fs.existsSync(p));
    const up = path.dirname(d);
    if (dir || up === d) break;
    d = up;
  }
  if (!dir) return `node-llama-cpp's CPU binaries for ${platform} (@node-llama-cpp/${platform}) are not installed`;
  const lib = fs.readdirSync(dir).find((n) => n.startsWith("libllama.") && n.endsWith(".so"));
  if (!lib) return `no libllama.so in ${dir}`;
  return { dir, library: path.join(dir, lib) };
}

let cached: BulkLogits | string | undefined;

/** The addon with llama.cpp loaded (once per process), or why it cannot be used here. */
export function loadBulkLogits(): BulkLogits | string {
  if (cached !== undefined) return cached;
  cached = (() => {
    if (process.platform !== "linux") return `bulk logits are built for Linux only (this is ${process.platform})`;
    const sub = path.join(`${process.platform}-${process.arch}`, "bulk_logits.node");
    const binary = nativeDirs()
      .map((d) => path.join(d, sub))
      .find((f) => fs.existsSync(f));
    if (!binary) return `the bulk_logits addon is not built (${sub}; extension/scripts/natives.mjs builds it)`;
    const lib = llamaCpuLibrary();
    if (typeof lib === "string") return lib;
    try {
      const addon = require(binary) as BulkLogitsAddon;
      addon.load(lib.library, lib.dir);
      return { addon, binary, library: lib.library };
    } catch (err) {
      return `the bulk_logits addon did not load: ${(err as Error).message.split("\n")[0]}`;
    }
  })();
  return cached;
}

// Loads a CommonJS bundle through V8's code cache. Every editor window starts a language server
// process, and compiling our bundles is a large part of its start (the 460 KB connection bundle:
// about 33 ms to load, 19 with its cache; the 2.4 MB core: about 110 ms, 60 with it). Node 22
// has this built in (module.enableCompileCache); the server also runs on Node 20 (and on the
// editor's own runtime, whichever Node that is), so this uses the same V8 feature through
// vm.Script's cachedData, which works on every Node the server supports.
//
// Safety: V8 checks the source hash, its version and flags, and rejects a stale cache (then the
// file is compiled normally and the cache rewritten). Code caches are not a security boundary, so
// the cache directory must belong to this user and not be writable by others: the extension
// passes its own global storage (DRIFTLENS_CODE_CACHE_DIR); otherwise a per-user directory under
// the system temp folder, created 0700 and used only when its owner and mode check out. Any
// problem with the cache falls back to a plain load: the cache can make a start faster, never fail it.
import crypto from "node:crypto";
import fs from "node:fs";
import Module from "node:module";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";

/** The cache directory, or undefined when none is safe to use. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.DRIFTLENS_CODE_CACHE === "off") return undefined;
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  const dir = env.DRIFTLENS_CODE_CACHE_DIR || path.join(os.tmpdir(), `driftlens-code-cache-${uid ?? os.userInfo().username}`);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(dir);
    if (!st.isDirectory()) return undefined;
    if (uid !== undefined && (st.uid !== uid || (st.mode & 0o022) !== 0)) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/** The cache file of one bundle, for this Node (V8) build: a new file or Node gets a new key. */
function cacheFileFor(dir: string, file: string, source: string): string {
  const key = crypto.createHash("sha256").update(`${file}\0${process.version}\0${process.arch}\0${source.length}\0`).update(source).digest("hex").slice(0, 24);
  return path.join(dir, `${path.basename(file, ".js")}-${key}.v8cache`);
}

/** How a load used the cache: off (no usable directory), used, written (none yet), replaced (stale or corrupt). */
export type CodeCacheUse = "off" | "used" | "written" | "replaced";

/**
 * Requires `file` (a CommonJS bundle), compiling it with V8's code cache when a cache directory
 * is usable. Returns the module's exports, like require.
 */
export function requireWithCodeCache(file: string, parent: NodeModule, dir: string | undefined = codeCacheDir()): unknown {
  return loadWithCodeCache(file, parent, dir).exports;
}

/**
 * requireWithCodeCache, also saying how the cache was used (logs, tests). `dir` undefined: no
 * cache. With `deferWrite`, a cache to write is left to `writeCache()`, for a caller that first
 * runs the code it wants cached too (V8 lazily compiles each function on its first call, and a
 * cache made afterwards holds those functions).
 */
export function loadWithCodeCache(file: string, parent: NodeModule, dir: string | undefined, opts: { deferWrite?: boolean } = {}): { exports: unknown; cache: CodeCacheUse; writeCache: () => void } {
  const nothing = () => undefined;
  if (!dir) return { exports: parent.require(file), cache: "off", writeCache: nothing };
  let source: string;
  try {
    source = fs.readFileSync(file, "utf8");
  } catch {
    return { exports: parent.require(file), cache: "off", writeCache: nothing }; // let require say what is wrong
  }
  const cacheFile = cacheFileFor(dir, file, source);
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* first start with this bundle */
  }
  // The module as Node's loader would make it, so require, __dirname and require.cache behave.
  const mod = new Module(file, parent);
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(file));
  const script = new vm.Script(Module.wrap(source), { filename: file, ...(cachedData ? { cachedData } : {}) });
  const fn = script.runInThisContext() as (exports: unknown, require: NodeRequire, module: Module, filename: string, dirname: string) => void;
  const req = ((id: string) => mod.require(id)) as NodeRequire;
  Object.assign(req, { resolve: (id: string) => (Module as unknown as { _resolveFilename(id: string, m: Module): string })._resolveFilename(id, mod), cache: require.cache, main: require.main });
  (require.cache as Record<string, Module>)[file] = mod;
  try {
    fn.call(mod.exports, mod.exports, req, mod, file, path.dirname(file));
  } catch (e) {
    delete (require.cache as Record<string, Module>)[file];
    throw e;
  }
  mod.loaded = true;
  const cache: CodeCacheUse = !cachedData ? "written" : script.cachedDataRejected ? "replaced" : "used";
  let pending = cache !== "used";
  const writeCache = () => {
    if (!pending) return;
    pending = false;
    // After running: the cache then holds the functions compiled while loading, too.
    try {
      const tmp = `${cacheFile}.${process.pid}.${Date.now()}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      fs.renameSync(tmp, cacheFile);
      // Caches of earlier builds of this bundle are dead weight.
      const prefix = `${path.basename(file, ".js")}-`;
      for (const f of fs.readdirSync(dir)) {
        if (f.startsWith(prefix) && f.endsWith(".v8cache") && path.join(dir, f) !== cacheFile) fs.rmSync(path.join(dir, f), { force: true });
      }
    } catch {
      /* a read-only or full disk: the next start compiles again */
    }
  };
  if (!opts.deferWrite) writeCache();
  return { exports: mod.exports, cache, writeCache };
}

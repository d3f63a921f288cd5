// The better-sqlite3 driver: the native module, with a binary for this runtime's ABI. A package
// carries one binary per Node ABI it targets (dist/native/<platform>-<arch>/node-<abi>/, built by
// extension/scripts/natives.mjs against each runtime's headers), and a source checkout also has
// the one npm built in node_modules. A binary is loaded only when built for this ABI: loading one
// built for another fails (NODE_MODULE_VERSION), and the caller then falls back to node:sqlite.
import fs from "node:fs";
import path from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import type { SqliteDb } from "./sqlite-api";
import { nativeDirs } from "../util/native-dirs";

/** Where a binary for this ABI would be, below a native folder. */
export function nativeSubpath(abi = process.versions.modules, platform = `${process.platform}-${process.arch}`): string {
  return path.join(platform, `node-${abi}`, "better_sqlite3.node");
}

/** node-gyp's record of the ABI a binary in node_modules was built for (config.gypi beside build/Release). */
function builtAbi(buildDir: string): string | null {
  try {
    return /"node_module_version":\s*(\d+)/.exec(fs.readFileSync(path.join(buildDir, "config.gypi"), "utf8"))?.[1] ?? null;
  } catch {
    return null;
  }
}

export interface LoadedBinding {
  binary: string;
  version: string;
  addon: unknown;
}

let loaded: LoadedBinding | undefined;

/**
 * Loads a better-sqlite3 binary built for this runtime (once per process). Throws an Error whose
 * message says which binaries were looked for and why none could be used.
 */
export function loadBetterSqlite3(): LoadedBinding {
  if (loaded) return loaded;
  const abi = process.versions.modules;
  const pkgFile = require.resolve("better-sqlite3/package.json");
  const version = (JSON.parse(fs.readFileSync(pkgFile, "utf8")) as { version: string }).version;
  const candidates = nativeDirs().map((d) => path.join(d, nativeSubpath(abi)));
  const buildDir = path.join(path.dirname(pkgFile), "build");
  const npmBuilt = builtAbi(buildDir);
  const skipped: string[] = [];
  if (npmBuilt === abi) candidates.push(path.join(buildDir, "Release", "better_sqlite3.node"));
  else if (npmBuilt) skipped.push(`node_modules has a binary for ABI ${npmBuilt}`);
  for (const binary of candidates) {
    if (!fs.existsSync(binary)) continue;
    try {
      loaded = { binary, version, addon: require(binary) };
      return loaded;
    } catch (e) {
      skipped.push(`${binary} did not load: ${(e as Error).message.split("\n").join(" ")}`);
    }
  }
  throw new Error(`no better-sqlite3 binary for Node ${process.version} (ABI ${abi}, ${process.platform}-${process.arch})${skipped.length ? ` (${skipped.join("; ")})` : ""}`);
}

/** Opens a database with better-sqlite3; its Database is an SqliteDb as it stands. */
export function openBetterSqlite3(file: string, opts: { readonly: boolean; fileMustExist: boolean }): SqliteDb {
  const binding = loadBetterSqlite3();
  const Database = require("better-sqlite3") as typeof BetterSqlite3;
  // better-sqlite3 also takes the loaded addon itself (its typings name only a path).
  const db = new Database(file, { readonly: opts.readonly, fileMustExist: opts.fileMustExist, nativeBinding: binding.addon as string });
  return db as unknown as SqliteDb;
}

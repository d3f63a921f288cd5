// The Node runtimes Driftlens supports (20, 22, 24), installed from npm into .cache/runtimes/ with
// a better-sqlite3 binary built for each in dist/native/ (extension/scripts/natives.mjs; cached,
// a few minutes the first time). Tests that run code on each runtime call ensureRuntimes().
import { spawnSync } from "node:child_process";
import path from "node:path";
import { REPO_ROOT } from "./paths";

export interface Runtime {
  major: number;
  version: string;
  abi: string;
  /** The runtime's `node` executable. */
  node: string;
  /** The better-sqlite3 binary built for it, in dist/native/. */
  binary: string;
}

let cached: Runtime[] | undefined;

/** Every supported runtime with its binary (installs and builds what is missing). */
export function ensureRuntimes(): Runtime[] {
  if (cached) return cached;
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "extension", "scripts", "natives.mjs"), "--json"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 20 * 60_000 });
  if (r.status !== 0) throw new Error(`extension/scripts/natives.mjs failed (exit ${r.status ?? r.signal}): the Node runtimes or their better-sqlite3 binaries could not be installed; see its output above`);
  cached = JSON.parse(r.stdout) as Runtime[];
  return cached;
}

export function runtime(major: number): Runtime {
  const rt = ensureRuntimes().find((r) => r.major === major);
  if (!rt) throw new Error(`no Node ${major} runtime among ${ensureRuntimes().map((r) => r.major).join(", ")}`);
  return rt;
}

/** This process's environment without the variables that pick a driver or native folder (a child chooses for itself). */
export function neutralEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DRIFTLENS_SQLITE_DRIVER;
  delete env.DRIFTLENS_NATIVE_DIR;
  return { ...env, ...extra };
}

// Which Node runs the language server. By default the editor's own runtime, the one running this
// extension host (process.execPath: Electron in VS Code desktop, started with ELECTRON_RUN_AS_NODE=1;
// code-server's own Node), so a user needs no Node.js of their own. "driftlens.server.nodePath"
// overrides it. The server's only native need is SQLite for the store: a better-sqlite3 binary
// built for the runtime's ABI (the package carries one per supported Node ABI in
// dist/native/<platform>-<arch>/node-<abi>/), else the runtime's built-in node:sqlite (Node 22.13+,
// and the Electron versions built on it). A configured Node that can run neither is reported and the
// editor's runtime used instead; the store itself says, in the server log, which driver runs.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface NodeRuntime {
  /** Executable path; for the extension host's own runtime, process.execPath. */
  path: string;
  version: string;
  abi: string;
  /** True for the extension host's own runtime (needs ELECTRON_RUN_AS_NODE on Electron). */
  isHost: boolean;
}

export type SqliteDriverName = "better-sqlite3" | "node:sqlite";

export interface RuntimeChoice {
  runtime: NodeRuntime;
  /** The store's driver on that runtime as far as the extension can tell; null when it has none. */
  sqlite: SqliteDriverName | null;
  /** ABIs the extension has better-sqlite3 binaries for. */
  nativeAbis: string[];
  /** Set when the configured runtime was unusable, or the chosen one has no SQLite driver: what happened and what to do. */
  problem?: string;
  tried: NodeRuntime[];
}

const ABI_TO_NODE: Record<string, string> = { "108": "18", "115": "20", "120": "21", "127": "22", "131": "23", "137": "24", "141": "25" };

/**
 * ABIs of the better-sqlite3 binaries the extension carries: dist/native/<platform>-<arch>/node-<abi>/,
 * and in a source checkout the one npm built in node_modules (its ABI from node-gyp's config.gypi).
 */
export function nativeAbis(extensionRoot: string, platform = `${process.platform}-${process.arch}`): string[] {
  const abis = new Set<string>();
  const dir = path.join(extensionRoot, "dist", "native", platform);
  try {
    for (const e of fs.readdirSync(dir)) {
      const m = /^node-(\d+)$/.exec(e);
      if (m && fs.existsSync(path.join(dir, e, "better_sqlite3.node"))) abis.add(m[1]!);
    }
  } catch {
    /* no native folder */
  }
  try {
    const gypi = fs.readFileSync(path.join(extensionRoot, "node_modules", "better-sqlite3", "build", "config.gypi"), "utf8");
    const m = /"node_module_version":\s*(\d+)/.exec(gypi);
    if (m && fs.existsSync(path.join(extensionRoot, "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node"))) abis.add(m[1]!);
  } catch {
    /* no npm build */
  }
  return [...abis].sort((a, b) => Number(a) - Number(b));
}

export function findOnPath(name: string, envPath = process.env.PATH ?? ""): string | null {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return null;
}

export type ProbeCache = { get(key: string): NodeRuntime | undefined; set(key: string, v: NodeRuntime): void };

/** The probe cache's key for a Node executable (path, size, mtime), or null when it does not exist. */
function probeKey(nodePath: string): string | null {
  try {
    const st = fs.statSync(nodePath);
    return `${nodePath}:${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
}

/** A cached probe: the runtime, null when the executable is gone, undefined when never probed. */
export function cachedProbe(nodePath: string, cache?: ProbeCache): NodeRuntime | null | undefined {
  const key = probeKey(nodePath);
  return key === null ? null : cache?.get(key);
}

/** Asks a Node executable for its version and ABI (cached by path, size and mtime). */
export function probe(nodePath: string, cache?: ProbeCache): Promise<NodeRuntime | null> {
  const key = probeKey(nodePath);
  if (key === null) return Promise.resolve(null);
  const hit = cache?.get(key);
  if (hit) return Promise.resolve(hit);
  return new Promise((resolve) => {
    execFile(nodePath, ["-p", "process.versions.modules + ' ' + process.version"], { timeout: 10_000, env: serverEnvironment(process.env, {}, { trusted: false, hostRuntime: true }) }, (err, stdout) => {
      const m = /^(\d+) (v[\d.]+)/.exec(String(stdout).trim());
      if (err || !m) return resolve(null);
      const rt: NodeRuntime = { path: nodePath, abi: m[1]!, version: m[2]!, isHost: false };
      cache?.set(key, rt);
      resolve(rt);
    });
  });
}

function versionParts(version: string): [number, number] {
  const m = /^v(\d+)\.(\d+)/.exec(version);
  return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
}

/** Whether a Node version has node:sqlite without a flag (22.13+, 23.4+, 24 and later). */
export function hasNodeSqlite(version: string): boolean {
  const [major, minor] = versionParts(version);
  return major > 23 || (major === 23 && minor >= 4) || (major === 22 && minor >= 13);
}

/** The store's driver on `rt`: a binary for its ABI first (as the store chooses), then node:sqlite. */
export function sqliteDriverFor(rt: NodeRuntime, abis: string[]): SqliteDriverName | null {
  if (abis.includes(rt.abi)) return "better-sqlite3";
  return hasNodeSqlite(rt.version) ? "node:sqlite" : null;
}

export function hostRuntime(): NodeRuntime {
  return { path: process.execPath, version: process.version, abi: process.versions.modules, isHost: true };
}

function describe(rt: NodeRuntime): string {
  return `${rt.isHost ? "the editor's own runtime" : rt.path} (Node ${rt.version}, ABI ${rt.abi})`;
}

type ChooseOptions = { extensionRoot: string; configured: string; cache?: ProbeCache; host?: NodeRuntime };

/**
 * Picks the runtime from cached probes alone, synchronously (so the extension can spawn the
 * server before anything else); undefined when the configured Node was never probed.
 */
export function chooseRuntimeCached(opts: ChooseOptions): RuntimeChoice | undefined {
  return decide(opts, (c) => cachedProbe(c, opts.cache));
}

export async function chooseRuntime(opts: ChooseOptions): Promise<RuntimeChoice> {
  const choice = chooseRuntimeCached(opts);
  if (choice) return choice;
  const rt = await probe(opts.configured, opts.cache);
  return decide(opts, () => rt)!;
}

/** The choice, given what the configured Node is (undefined: not known yet, and then no choice). */
function decide(opts: ChooseOptions, lookup: (nodePath: string) => NodeRuntime | null | undefined): RuntimeChoice | undefined {
  const abis = nativeAbis(opts.extensionRoot);
  const host = opts.host ?? hostRuntime();
  const tried: NodeRuntime[] = [];
  let problem: string | undefined;
  if (opts.configured) {
    const rt = lookup(opts.configured);
    if (rt === undefined) return undefined;
    if (rt) tried.push(rt);
    const driver = rt && versionParts(rt.version)[0] >= 20 ? sqliteDriverFor(rt, abis) : null;
    if (rt && driver) return { runtime: rt, sqlite: driver, nativeAbis: abis, tried };
    const why = !rt
      ? "it does not run as Node.js (check the path)"
      : versionParts(rt.version)[0] < 20
        ? "Driftlens needs Node 20 or newer"
        : `Driftlens has no better-sqlite3 binary for ABI ${rt.abi} (it has ${abis.map((a) => `${a} = Node ${ABI_TO_NODE[a] ?? "?"}`).join(", ") || "none"}) and that Node has no built-in node:sqlite (Node 22.13 or newer)`;
    problem = `"driftlens.server.nodePath" is ${rt ? describe(rt) : opts.configured}, which cannot run the language server: ${why}. Using ${describe(host)} instead; clear the setting, or point it at Node 20, 22 or 24.`;
  }
  tried.push(host);
  const driver = sqliteDriverFor(host, abis);
  if (!driver) {
    const hostProblem =
      `The language server runs on ${describe(host)}, for which Driftlens has no SQLite driver (no better-sqlite3 binary for ABI ${host.abi}, no built-in node:sqlite): ` +
      `diagnostics work, runs and history do not. Set "driftlens.server.nodePath" to Node 20, 22 or 24.`;
    problem = problem ? `${problem} ${hostProblem}` : hostProblem;
  }
  return { runtime: host, sqlite: driver, nativeAbis: abis, tried, ...(problem ? { problem } : {}) };
}

/**
 * The language server's environment: the extension host's, the user's `driftlens.server.extraEnv`
 * on top, whether the workspace is trusted, and where to keep the server's code cache.
 * NODE_EXTRA_CA_CERTS is kept on Node 22 and later, which read that certificate bundle only
 * when a TLS connection needs it: the server talks to served variants (driftlens.yaml
 * `endpoints:`), which may be HTTPS behind a private CA. It is dropped on Node 20 and older, and
 * where the runtime is not known yet (the runtime probe), unless extraEnv sets it: those parse the
 * bundle at every process start (about 40 ms of CPU measured on a 200 KB system bundle, most of a
 * bare `node` start); an HTTPS endpoint behind a private CA then needs it in extraEnv.
 */
export function serverEnvironment(
  base: NodeJS.ProcessEnv,
  extraEnv: Record<string, string>,
  opts: { trusted: boolean; hostRuntime: boolean; codeCacheDir?: string; runtimeVersion?: string },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  if (!opts.runtimeVersion || versionParts(opts.runtimeVersion)[0] < 22) delete env.NODE_EXTRA_CA_CERTS;
  // Where the server keeps the V8 code cache of its bundles (server/src/util/code-cache.ts).
  if (opts.codeCacheDir) env.DRIFTLENS_CODE_CACHE_DIR = opts.codeCacheDir;
  Object.assign(env, extraEnv);
  env.DRIFTLENS_TRUSTED = opts.trusted ? "1" : "0";
  // The extension host's own runtime is Electron in VS Code desktop: make it behave as Node.
  if (opts.hostRuntime) env.ELECTRON_RUN_AS_NODE = "1";
  return env;
}

/**
 * Starts `node dist/server.js --stdio` at once, before the language client is even built, so the
 * Node process boots while the client prepares its initialize request (the process waits on
 * stdin). The client is handed the process through a ServerOptions function.
 */
export function spawnServer(runtime: NodeRuntime, serverJs: string, env: NodeJS.ProcessEnv, cwd: string | undefined): ChildProcess {
  return spawn(runtime.path, [serverJs, "--stdio", `--clientProcessId=${process.pid}`], { env, cwd, stdio: "pipe", windowsHide: true });
}

// Which Node runs the language server. The server loads native modules (better-sqlite3) built for
// one Node ABI (process.versions.modules); VS Code desktop runs extensions on Electron, code-server
// on its own Node 24, and npm built the binary with the system Node. So: try the configured Node,
// then the first `node` on PATH, then the extension host's own runtime, and take the first whose
// ABI matches the binary. When none does, say which ABI is needed and how to fix it.
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

export interface RuntimeChoice {
  runtime: NodeRuntime | null;
  /** ABI the native modules were built for, null when unknown (then any Node >= 20 is taken). */
  expectedAbi: string | null;
  /** Set when no candidate matches: what happened and what to do. */
  problem?: string;
  tried: NodeRuntime[];
}

const ABI_TO_NODE: Record<string, string> = { "108": "18", "115": "20", "120": "21", "127": "22", "131": "23", "137": "24", "141": "25" };

/** The ABI better-sqlite3 was compiled for, from node-gyp's config.gypi beside the binary. */
export function nativeAbi(extensionRoot: string): string | null {
  const gypi = path.join(extensionRoot, "node_modules", "better-sqlite3", "build", "config.gypi");
  try {
    const m = /"node_module_version":\s*(\d+)/.exec(fs.readFileSync(gypi, "utf8"));
    return m?.[1] ?? null;
  } catch {
    return null;
  }
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

function major(version: string): number {
  return Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
}

type ChooseOptions = { extensionRoot: string; configured: string; cache?: ProbeCache; envPath?: string };

/**
 * Picks the runtime from cached probes alone, synchronously (so the extension can spawn the
 * server before anything else); undefined when a candidate it needs was never probed.
 */
export function chooseRuntimeCached(opts: ChooseOptions): RuntimeChoice | undefined {
  return decide(opts, (c) => cachedProbe(c, opts.cache));
}

export async function chooseRuntime(opts: ChooseOptions): Promise<RuntimeChoice> {
  // Probe the candidates in order, each only when the ones before it did not match.
  const known = new Map<string, NodeRuntime | null>();
  for (;;) {
    let missing: string | undefined;
    const choice = decide(opts, (c) => {
      if (known.has(c)) return known.get(c);
      missing ??= c;
      return undefined;
    });
    if (choice) return choice;
    known.set(missing!, await probe(missing!, opts.cache));
  }
}

/** The choice, given what each candidate is (undefined: not known yet, and then no choice). */
function decide(opts: ChooseOptions, lookup: (nodePath: string) => NodeRuntime | null | undefined): RuntimeChoice | undefined {
  const expectedAbi = nativeAbi(opts.extensionRoot);
  const host: NodeRuntime = { path: process.execPath, version: process.version, abi: process.versions.modules, isHost: true };
  const tried: NodeRuntime[] = [];
  const candidates: string[] = [];
  if (opts.configured) candidates.push(opts.configured);
  const onPath = findOnPath("node", opts.envPath);
  if (onPath && !candidates.includes(onPath)) candidates.push(onPath);
  const ok = (rt: NodeRuntime) => major(rt.version) >= 20 && (expectedAbi === null || rt.abi === expectedAbi);
  for (const c of candidates) {
    const rt = lookup(c);
    if (rt === undefined) return undefined;
    if (!rt) continue;
    tried.push(rt);
    if (ok(rt)) return { runtime: rt, expectedAbi, tried };
  }
  tried.push(host);
  if (ok(host)) return { runtime: host, expectedAbi, tried };
  const want = expectedAbi ? `ABI ${expectedAbi} (Node ${ABI_TO_NODE[expectedAbi] ?? "?"}.x)` : "Node 20 or newer";
  const seen = tried.map((t) => `${t.isHost ? "VS Code's own runtime" : t.path} is ${t.version} (ABI ${t.abi})`).join("; ");
  const problem =
    `Driftlens cannot start its language server: its native module better-sqlite3 needs ${want}, and ${seen}. ` +
    `Fix: install Node ${expectedAbi ? ABI_TO_NODE[expectedAbi] ?? "20" : "20"} and set "driftlens.server.nodePath" to it, ` +
    `or rebuild the module for the Node you have: cd "${opts.extensionRoot}" && npm rebuild better-sqlite3.`;
  return { runtime: tried[0] ?? host, expectedAbi, problem, tried };
}

/**
 * The language server's environment: the extension host's, the user's `driftlens.server.extraEnv`
 * on top, whether the workspace is trusted, and where to keep the server's code cache.
 * NODE_EXTRA_CA_CERTS is dropped unless extraEnv sets it: Node 20 reads and parses that certificate bundle at every process start (about 40 ms
 * of CPU measured on a 200 KB system bundle, most of a bare `node` start), and neither the server
 * nor the engine worker it starts opens a TLS connection (models are local files; node-llama-cpp
 * runs with `build: "never"`, so it never downloads).
 */
export function serverEnvironment(
  base: NodeJS.ProcessEnv,
  extraEnv: Record<string, string>,
  opts: { trusted: boolean; hostRuntime: boolean; codeCacheDir?: string },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  delete env.NODE_EXTRA_CA_CERTS;
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

// Real llama.cpp servers for tests and benchmarks: llama-server built by test/tools/llama-tools.sh
// from the exact llama.cpp source node-llama-cpp ships (cached under .cache/llama), started on a
// free loopback port with one thread, and stopped when the test process exits.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { REPO_ROOT } from "./paths";

let binDir: string | undefined;

/** The folder holding llama-server (built on first use; about 10 minutes on 2 cores, then cached). */
export function llamaBinDir(): string {
  if (binDir) return binDir;
  // An explicit folder (e.g. a llama.cpp build of your own) wins over the cached build.
  if (process.env.DRIFTLENS_LLAMA_BIN) return (binDir = process.env.DRIFTLENS_LLAMA_BIN);
  const script = path.join(REPO_ROOT, "test", "tools", "llama-tools.sh");
  const quick = spawnSync("bash", [script, "--path"], { encoding: "utf8" });
  if (quick.status === 0 && quick.stdout.trim()) return (binDir = quick.stdout.trim());
  const built = spawnSync("bash", [script], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 60 * 60 * 1000 });
  if (built.status !== 0 || !built.stdout.trim()) throw new Error(`test/tools/llama-tools.sh failed (exit ${built.status}); llama-server is needed for the served-model tests`);
  return (binDir = built.stdout.trim().split("\n").pop()!);
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

export interface LlamaServer {
  /** Base URL with /v1, as a user writes it in driftlens.yaml. */
  url: string;
  port: number;
  proc: ChildProcess;
  /** The server's output so far (for failure messages). */
  log(): string;
  /** SIGKILL (a crash: no shutdown, sockets reset). */
  kill(): void;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

export interface LlamaServerOptions {
  model: string;
  /** Parallel slots (-np); default 1. */
  slots?: number;
  /** Context per slot times slots (-c); default 512 per slot. */
  contextSize?: number;
  /** Extra arguments (e.g. ["--api-key", "k"], ["--lora", "a.gguf"]). */
  args?: string[];
  port?: number;
}

/** Starts llama.cpp's rpc-server (a remote compute device for llama-server --rpc) on a free loopback port. */
export async function startRpcServer(): Promise<{ address: string; log(): string; stop(): void }> {
  const port = await freePort();
  const proc = spawn(path.join(llamaBinDir(), "rpc-server"), ["--host", "127.0.0.1", "--port", String(port), "-t", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  proc.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  running.add(proc);
  proc.on("exit", () => running.delete(proc));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (up) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`rpc-server did not start (exit ${proc.exitCode})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address: `127.0.0.1:${port}`, log: () => out, stop: () => void proc.kill("SIGKILL") };
}

/** Starts llama-server on a free loopback port with one thread and waits until /health says ok. */
export async function startLlamaServer(opts: LlamaServerOptions): Promise<LlamaServer> {
  const bin = path.join(llamaBinDir(), "llama-server");
  const port = opts.port ?? (await freePort());
  const slots = opts.slots ?? 1;
  const args = [
    "-m", opts.model,
    "--host", "127.0.0.1",
    "--port", String(port),
    // One thread for generation and for prompt processing: the 2-core machines are shared.
    "-t", "1",
    "-tb", "1",
    "-c", String(opts.contextSize ?? 512 * slots),
    "-np", String(slots),
    "--no-webui",
    ...(opts.args ?? []),
  ];
  const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(proc);
  let out = "";
  const take = (b: Buffer) => {
    out += b.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on("data", take);
  proc.stderr!.on("data", take);
  proc.on("exit", () => running.delete(proc));
  const url = `http://127.0.0.1:${port}/v1`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`llama-server exited (${proc.exitCode ?? proc.signalCode}) before it was ready:\n${out.slice(-3000)}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`llama-server did not become ready in 60 s:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    proc,
    log: () => out,
    kill: () => void proc.kill("SIGKILL"),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
        setTimeout(() => proc.kill("SIGKILL"), 3000).unref();
      }),
  };
}

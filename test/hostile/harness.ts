// The hostile suite's harness: hostile inputs generated at test time into temporary folders (big
// eval sets, GGUF headers that claim huge arrays, a GGUF whose chat template never ends, FIFOs),
// and a way to run a command while watching it: wall time, and the peak resident memory of the
// process and each of its descendants (VmHWM from /proc), with a hard timeout that counts as a hang.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { buildLlamaGguf } from "../../server/src/modelgen/llama";
import { buildQuickstartModel } from "../../server/src/modelgen/quickstart";
import { DIST, tempDir } from "../helpers/paths";

export const CLI = path.join(DIST, "cli.js");
/** The bound every command and the language server must stay within. */
export const ONE_GB = 1024 * 1024 * 1024;

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Largest peak RSS of any one process of the tree, bytes. */
  peakRss: number;
  timedOut: boolean;
  /** Pids seen in the tree (the command and its descendants). */
  pids: number[];
}

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const c = fs.readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim();
      if (c) for (const x of c.split(/\s+/)) out.push(Number(x));
    }
  } catch {
    // gone
  }
  return out;
}

/** VmHWM (peak RSS) of a live process, bytes; 0 when it is gone. */
export function peakRssOf(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Watches a process tree: the largest VmHWM of any of its processes while they live. */
export function watchTree(rootPid: number, everyMs = 25): { stop(): { peakRss: number; pids: number[] } } {
  const peaks = new Map<number, number>();
  const tick = () => {
    const queue = [rootPid];
    while (queue.length) {
      const pid = queue.pop()!;
      const rss = peakRssOf(pid);
      if (rss > 0) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, rss));
      queue.push(...children(pid));
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { peakRss: Math.max(0, ...peaks.values()), pids: [...peaks.keys()] };
    },
  };
}

/**
 * Runs `node dist/cli.js ...args` in `cwd`, measured. A command still running after `timeoutMs`
 * is killed (with its descendants) and reported as timed out: a hang.
 */
export function runCli(cwd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; onStderr?: (chunk: string, elapsedMs: number) => void } = {}): Promise<Measured> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const watch = watchTree(child.pid!);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    opts.onStderr?.(d.toString(), performance.now() - t0);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }, opts.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const { peakRss, pids } = watch.stop();
      resolve({ code, signal, stdout, stderr, wallMs: performance.now() - t0, peakRss, timedOut, pids });
    });
  });
}

export function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

/** A workspace with the quickstart-style capital prompt, a driftlens.yaml and the given files. */
export function workspace(files: Record<string, string | Buffer> = {}, config?: string): string {
  const dir = tempDir("driftlens-hostile-");
  const all: Record<string, string | Buffer> = {
    "capital.prompt": '---\nconfig: {temperature: 0, maxOutputTokens: 6}\ninput:\n  schema:\n    country: string\n---\n{{role "user"}}What is the capital of {{country}}?\n',
    "driftlens.yaml": config ?? "models: {}\nengine: {gpu: cpu, threads: 1, contextSize: 512}\n",
    ...files,
  };
  for (const [name, content] of Object.entries(all)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return dir;
}

/** A block-style YAML eval set of `n` cases for capital.prompt. */
export function yamlEvalSet(n: number): string {
  const out: string[] = ["prompt: capital.prompt", "cases:"];
  for (let i = 0; i < n; i++) {
    out.push(`  - id: case-${i}`, `    vars: {country: "Country number ${i}"}`, `    assert: [{type: icontains, value: "city ${i}"}]`, `    tags: [t${i % 7}]`, `    why: generated case ${i}`);
  }
  return out.join("\n") + "\n";
}

/** The same cases written as a JSON document (YAML flow style). */
export function jsonEvalSet(n: number): string {
  const cases = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `case-${i}`, vars: { country: `Country number ${i}` }, assert: [{ type: "icontains", value: `city ${i}` }], tags: [`t${i % 7}`], why: `generated case ${i}` }));
  return `{"prompt": "capital.prompt", "cases": [\n${cases.join(",\n")}\n]}\n`;
}

/** Writes a JSONL eval set of about `bytes` to `file` without holding it in memory. */
export function writeJsonlEvalSet(file: string, bytes: number): number {
  const fd = fs.openSync(file, "w");
  let n = 0;
  let written = 0;
  try {
    const head = '{"prompt": "capital.prompt"}\n';
    fs.writeSync(fd, head);
    written += head.length;
    const batch: string[] = [];
    while (written < bytes) {
      const line = `{"id": "case-${n}", "vars": {"country": "Country number ${n}"}, "assert": [{"type": "icontains", "value": "city ${n}"}], "tags": ["t${n % 7}"], "why": "generated case ${n}"}\n`;
      batch.push(line);
      written += line.length;
      n++;
      if (batch.length === 5000) {
        fs.writeSync(fd, batch.join(""));
        batch.length = 0;
      }
    }
    if (batch.length) fs.writeSync(fd, batch.join(""));
  } finally {
    fs.closeSync(fd);
  }
  return n;
}

/**
 * A GGUF whose metadata claims an array of `elements` u8 values, and really holds them (the file
 * is sparse: the zeros cost no disk). Before the caps, reading it allocated the whole array.
 */
export function hugeArrayGguf(file: string, elements: number): void {
  const parts: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  const u64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return b;
  };
  const key = Buffer.from("general.hostile");
  parts.push(Buffer.from("GGUF"), u32(3), u64(0), u64(1), u64(key.length), key, u32(9), u32(0), u64(elements));
  const head = Buffer.concat(parts);
  fs.writeFileSync(file, head);
  fs.truncateSync(file, head.length + elements);
}

/** A real (quickstart) llama GGUF with the given chat template. */
export function ggufWithTemplate(file: string, template: string): void {
  const m = buildQuickstartModel();
  const g = buildLlamaGguf({ ...m.hparams, name: "tiny-template" }, m.vocab, m.weights, "F32");
  g.set("tokenizer.chat_template", "string", template);
  g.write(file);
}

/** A plain quickstart GGUF (no chat template). */
export function plainGguf(file: string): void {
  const m = buildQuickstartModel();
  buildLlamaGguf({ ...m.hparams, name: "tiny-plain" }, m.vocab, m.weights, "F32").write(file);
}

/** Makes a FIFO (named pipe) at `file`. */
export function mkfifo(file: string): void {
  const r = spawnSync("mkfifo", [file]);
  if (r.status !== 0) throw new Error(`mkfifo ${file} failed: ${r.stderr}`);
}

/** Whether a process is alive (and not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** Polls `pred` every 25 ms until it holds or `ms` pass; resolves with whether it held. */
export async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return pred();
}

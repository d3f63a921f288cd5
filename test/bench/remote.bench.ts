// Served-model benchmarks, on real llama-server processes (one thread each, loopback) serving the
// engine benchmark's ~64 MB Q8_0 model, measured in the same run:
//   remote.overhead_ratio     tokens/s of an eval through Driftlens (runEvals: scheduler, store,
//                             assertions) over one llama-server ÷ a bare fetch loop sending the same
//                             requests (/tokenize, /completion) with the same concurrency
//   remote.scaling_2x_ratio   the same eval over 2 endpoints ÷ over 1 (each server 1 thread)
//   remote.failover_ms        from an endpoint's SIGKILL to its in-flight case being dispatched to
//                             another endpoint (which has a free slot), worst of several kills
// Both sides of each ratio run interleaved, several times; the ratio is the median of the paired
// ratios (the machines are shared: a pair measured back to back shares the load).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Workspace } from "../../server/src/artifacts";
import { setFingerprintCache } from "../../server/src/artifacts/fingerprint";
import { runEvals, type RunnerWorkspace } from "../../server/src/eval/runner";
import { RoutingEngine } from "../../server/src/llm/remote/router";
import type { PoolEvent } from "../../server/src/llm/remote/scheduler";
import type { GenerateRequest, RemoteModelSpec } from "../../server/src/llm/types";
import { writeRandomLlama, type RandomLlamaDims } from "../../server/src/modelgen/random";
import { Store } from "../../server/src/store/store";
import { startLlamaServer, type LlamaServer } from "../helpers/llama-server";
import { main, median, report, selected, settle } from "./harness";

const NAMES = ["remote.overhead_ratio", "remote.scaling_2x_ratio", "remote.failover_ms"];
// 64 cases: spreading an eval over endpoints is for evals that take a while (thousands of cases).
// With 16 cases the 2-endpoint run lasted about 0.7 s, and the run's fixed start and finish (the
// endpoint probe, about 14 ms, and the run's store record, about 12 ms, among them: the same with
// 1 or 2 endpoints) weighed on it twice as much as on the 1-endpoint run: the ratio was 1.76 while
// the endpoints were kept 1.92x as busy.
const CASES = 64;
const MAX_TOKENS = 32;
const ROUNDS = 5;
/** The engine benchmark's model (same file, cached in the OS temp dir). */
const DIMS: RandomLlamaDims = { nEmbd: 512, nLayer: 8, nHead: 8, nFf: 1536, vocabSize: 32000, type: "Q8_0", seed: 7 };

function benchModel(): string {
  const dir = path.join(os.tmpdir(), "driftlens-bench-models");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `random-${DIMS.nEmbd}x${DIMS.nLayer}-ff${DIMS.nFf}-v${DIMS.vocabSize}-${DIMS.type}-s${DIMS.seed}.gguf`);
  if (!fs.existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    writeRandomLlama(tmp, DIMS);
    fs.renameSync(tmp, file);
  }
  return file;
}

const TEXTS = Array.from({ length: CASES }, (_, i) => `Case ${i}: the ${["water", "people", "number", "word", "time", "way"][i % 6]} of ${i * 7} and more`);

/** A workspace with one prompt and CASES cases; driftlens.yaml names the served variants. */
function workspace(variants: Record<string, string[]>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "driftlens-bench-remote-"));
  fs.writeFileSync(path.join(dir, "p.prompt"), `---\nconfig:\n  temperature: 0\n  maxOutputTokens: ${MAX_TOKENS}\ninput:\n  schema:\n    text: string\n---\n{{text}}\n`);
  fs.writeFileSync(path.join(dir, "p.eval.yaml"), `prompt: p.prompt\ncases:\n${TEXTS.map((t, i) => `  - id: c${i}\n    vars: {text: ${JSON.stringify(t)}}\n    assert: [{type: contains, value: zz}]\n`).join("")}`);
  fs.writeFileSync(
    path.join(dir, "driftlens.yaml"),
    `models:\n  bench:\n    variants:\n${Object.entries(variants)
      .map(([n, eps]) => `      ${n}: {endpoints: [${eps.join(", ")}]}`)
      .join("\n")}\nstore: .driftlens/store.db\n`,
  );
  return dir;
}

/**
 * One eval of every case on `variant` through runEvals; returns generated tokens, wall ms, and the
 * endpoints' occupancy: the time requests were in flight on them ÷ wall time (1 per endpoint kept
 * busy all the time), which what other processes do to the cores does not change.
 */
async function driftlens(dir: string, variant: string, onPoolEvent?: (v: string, e: PoolEvent) => void): Promise<{ tokens: number; wallMs: number; occupancy: number; cpuMs: number }> {
  const started = new Map<string, number>();
  let busyMs = 0;
  const track = (v: string, e: PoolEvent) => {
    if (e.type === "dispatch") started.set(e.job, e.at);
    if (e.type === "done") busyMs += e.at - (started.get(e.job) ?? e.at);
    onPoolEvent?.(v, e);
  };
  const ws = new Workspace(dir);
  const store = Store.open(path.join(dir, ".driftlens", "store.db"));
  setFingerprintCache(store.fingerprintCache());
  const router = new RoutingEngine(() => Promise.reject(new Error("no local engine in this benchmark")), { onPoolEvent: track });
  try {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = await runEvals({
      workspace: ws as unknown as RunnerWorkspace,
      store,
      engine: async () => router,
      targets: [{ promptFile: path.join(dir, "p.prompt"), evalSetFile: path.join(dir, "p.eval.yaml") }],
      variants: [variant],
      noCache: true,
    });
    const wallMs = performance.now() - t0;
    const cpuMs = cpuMsSince(c0);
    const run = r.runs[0]!;
    if (run.status !== "complete") throw new Error(`${variant}: ${run.error}`);
    return { tokens: run.cases.reduce((n, c) => n + c.tokens.length, 0), wallMs, occupancy: busyMs / wallMs, cpuMs };
  } finally {
    store.close();
  }
}

const post = async (url: string, body: unknown) => {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json() as Promise<Record<string, unknown>>;
};

/** This process's CPU time (user + system) since `c0`, in ms. */
function cpuMsSince(c0: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
}

/**
 * The same requests Driftlens sends for these cases, from a bare loop with the same concurrency
 * (1 per server): with several servers, case i goes to server i mod n, each server's loop runs
 * at the same time (the hardware's own ceiling for spreading the eval, with no scheduler).
 */
async function bare(bases: string | string[]): Promise<{ tokens: number; wallMs: number; cpuMs: number }> {
  const list = Array.isArray(bases) ? bases : [bases];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const counts = await Promise.all(list.map((b, j) => bareLoop(b, TEXTS.filter((_, i) => i % list.length === j))));
  return { tokens: counts.reduce((a, b) => a + b, 0), wallMs: performance.now() - t0, cpuMs: cpuMsSince(c0) };
}

async function bareLoop(base: string, texts: string[]): Promise<number> {
  let tokens = 0;
  for (const text of texts) {
    const t = await post(`${base}/tokenize`, { content: text, add_special: true, parse_special: false });
    const r = await post(`${base}/completion`, {
      prompt: t.tokens,
      n_predict: MAX_TOKENS,
      stop: [],
      temperature: 0,
      seed: 1,
      top_k: 0,
      top_p: 1,
      min_p: 0,
      repeat_penalty: 1,
      typical_p: 1,
      n_probs: 5,
      post_sampling_probs: false,
      return_tokens: true,
      cache_prompt: true,
    });
    tokens += (r.tokens as number[]).length;
  }
  return tokens;
}

const tps = (x: { tokens: number; wallMs: number }) => (x.tokens * 1000) / x.wallMs;

main("remote", async () => {
  if (!NAMES.some((n) => selected(n))) return;
  const model = benchModel();
  const servers: LlamaServer[] = [];
  try {
    const [s1, s2] = await Promise.all([startLlamaServer({ model, contextSize: 1024 }), startLlamaServer({ model, contextSize: 1024 })]);
    servers.push(s1, s2);
    const dir = workspace({ one: [s1.url], two: [s1.url, s2.url] });
    const base1 = s1.url.replace(/\/v1$/, "");
    const base2 = s2.url.replace(/\/v1$/, "");
    await driftlens(dir, "bench/one"); // warm-up: model pages, connections
    await bare(base1);

    if (selected("remote.overhead_ratio")) {
      const ours: number[] = [];
      const theirs: number[] = [];
      const cpu: [number, number][] = [];
      for (let i = 0; i < ROUNDS; i++) {
        await settle(10_000);
        const o = await driftlens(dir, "bench/one");
        const t = await bare(base1);
        ours.push(tps(o));
        theirs.push(tps(t));
        cpu.push([o.cpuMs / CASES, t.cpuMs / CASES]);
      }
      const ratios = ours.map((o, i) => o / theirs[i]!);
      report(
        "remote.overhead_ratio",
        median(ratios),
        "ratio",
        0.95,
        "higher",
        `${CASES} cases × ${MAX_TOKENS} tokens, 64 MB Q8_0 model, one llama-server (1 thread, 1 slot), concurrency 1; Driftlens ${ours.map((x) => x.toFixed(1)).join("/")} tok/s vs bare ${theirs.map((x) => x.toFixed(1)).join("/")} tok/s; paired ratios ${ratios.map((x) => x.toFixed(3)).join(", ")}; this process's CPU per case, Driftlens vs bare: ${cpu.map(([a, b]) => `${a.toFixed(1)}/${b.toFixed(1)}`).join(", ")} ms; load average ${os.loadavg()[0]!.toFixed(1)}`,
      );
    }

    if (selected("remote.scaling_2x_ratio")) {
      const one: number[] = [];
      const two: number[] = [];
      const occ: [number, number][] = [];
      // Two servers need both cores: a pair is measured once the machine is quiet (other work on
      // a 2-core machine takes a core from the 2-endpoint run, not from the 1-endpoint run).
      const busy: number[] = [];
      const bareRatios: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        // Up to a minute for a quiet moment: on a machine shared by several people it comes and goes.
        busy.push(await settle(60_000));
        const t = await driftlens(dir, "bench/two");
        const o = await driftlens(dir, "bench/one");
        two.push(tps(t));
        one.push(tps(o));
        occ.push([t.occupancy, o.occupancy]);
        // The hardware's own ceiling, right after: bare loops on both servers ÷ on one.
        bareRatios.push(tps(await bare([base1, base2])) / tps(await bare(base1)));
      }
      const ratios = two.map((t, i) => t / one[i]!);
      report(
        "remote.scaling_2x_ratio",
        median(ratios),
        "ratio",
        1.8,
        "higher",
        `the same eval over 2 llama-servers (1 thread each) ÷ over 1, ${os.availableParallelism()} cores; 2 endpoints ${two.map((x) => x.toFixed(1)).join("/")} tok/s vs 1 endpoint ${one.map((x) => x.toFixed(1)).join("/")} tok/s; paired ratios ${ratios.map((x) => x.toFixed(3)).join(", ")}; CPU busy before each pair ${busy.map((b) => `${Math.round(b * 100)}%`).join(", ")}; endpoints kept busy (requests in flight ÷ wall, 2 vs 1 endpoint; what Driftlens controls, independent of other load on the cores) ${occ.map(([a, b]) => `${a.toFixed(2)}/${b.toFixed(2)}`).join(", ")}, median parallelism ${median(occ.map(([a, b]) => a / b)).toFixed(2)}; bare loops without Driftlens (one per server, the same cases) on 2 servers ÷ 1: ${bareRatios.map((x) => x.toFixed(3)).join(", ")} (median ${median(bareRatios).toFixed(3)}); load average ${os.loadavg()[0]!.toFixed(1)}`,
      );
    }

    if (selected("remote.failover_ms")) {
      // Two cases, one per endpoint (the survivor has 2 slots, so it has a free one), long
      // generations; the second endpoint is SIGKILLed while both are in flight.
      const survivor = await startLlamaServer({ model, contextSize: 2048, slots: 2 });
      servers.push(survivor);
      const times: number[] = [];
      for (let trial = 0; trial < 3; trial++) {
        const victim = await startLlamaServer({ model, contextSize: 1024 });
        servers.push(victim);
        const remote: RemoteModelSpec = { endpoints: [survivor.url, victim.url], template: "auto", timeoutMs: 60_000, adapters: [] };
        const reqs: GenerateRequest[] = ["a", "b"].map((id, i) => ({
          id,
          model: { variant: "bench/failover", modelPath: survivor.url, adapters: [], remote },
          messages: [{ role: "user", text: TEXTS[i]! }],
          params: { temperature: 0, maxTokens: 400, stop: [], seed: 1 },
          topLogprobs: 0,
        }));
        const events: PoolEvent[] = [];
        let killedAt = 0;
        let onVictim: string | undefined;
        const router = new RoutingEngine(() => Promise.reject(new Error("no local engine")), {
          onPoolEvent: (_v, e) => {
            events.push(e);
            if (e.type === "dispatch" && e.endpoint === victim.url) onVictim = e.job;
            if (!killedAt && onVictim && events.filter((x) => x.type === "dispatch").length >= 2) {
              setTimeout(() => {
                killedAt = performance.now();
                victim.kill();
              }, 400);
              killedAt = -1;
            }
          },
        });
        let failures = 0;
        await router.generateMany(reqs, (r) => void ("failure" in r && failures++));
        const moved = events.find((e) => e.type === "dispatch" && e.job === onVictim && e.endpoint === survivor.url && e.at > killedAt);
        if (failures || !moved || killedAt <= 0) throw new Error(`failover trial ${trial}: ${failures} failed cases, kill at ${killedAt}, events ${JSON.stringify(events)}`);
        times.push(moved.at - killedAt);
      }
      report(
        "remote.failover_ms",
        Math.max(...times),
        "ms",
        2000,
        "lower",
        `SIGKILL of an endpoint mid-generation → its case dispatched to the other endpoint (free slot); trials ${times.map((t) => t.toFixed(1)).join(", ")} ms (worst reported)`,
      );
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
});

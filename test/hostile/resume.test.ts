// SIGKILL at any point of a run: before the run exists, while the model loads, while the thread
// count is measured, after some results. The rerun accounts for every case (generated + cached
// + resumed = cases, `resumed` being the cases taken over from the killed run) and each case says
// where its result came from, in the text, JSON, JUnit and markdown reports. A measurement the
// kill interrupted keeps the counts it had measured.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { formatJunit, formatMarkdown, formatText } from "../../server/src/eval/format";
import type { EvalReport } from "../../server/src/eval/runner";
import { Store } from "../../server/src/store/store";
import { tempDir, TINY_RANDOM_GGUF } from "../helpers/paths";
import { CLI, runCli, waitFor, workspace } from "./harness";

const N = 24;

function resumeWorkspace(): string {
  const cases = Array.from({ length: N }, (_, i) => `  - id: c${i}\n    vars: {country: "Country ${i}"}\n    assert: [{type: not-contains, value: "zzzz"}]\n    tags: [t${i % 3}]\n    why: load`).join("\n");
  return workspace(
    { "capitals.eval.yaml": `prompt: capital.prompt\ncases:\n${cases}\n` },
    `models:\n  tiny:\n    variants:\n      rnd: ${JSON.stringify(TINY_RANDOM_GGUF)}\nengine: {gpu: cpu, threads: auto, contextSize: 512}\nstore: .driftlens/store.db\n`,
  );
}

/** Results stored so far for running runs, or -1 when no run exists yet (read through a second connection). */
function stored(store: string): number {
  if (!fs.existsSync(store)) return -1;
  let s: Store | undefined;
  try {
    s = Store.open(store, { readonly: true });
    const runs = s.listRuns();
    if (runs.length === 0) return -1;
    return runs.reduce((n, r) => n + s!.resultCount(r.id), 0);
  } catch {
    return -1;
  } finally {
    s?.close();
  }
}

interface Point {
  name: string;
  /** Resolves when it is time to kill. */
  when: (dir: string, cacheDir: string) => Promise<boolean>;
}

const store = (dir: string) => path.join(dir, ".driftlens", "store.db");
const threadsPartial = (cacheDir: string) => {
  try {
    return Object.values(JSON.parse(fs.readFileSync(path.join(cacheDir, "engine-threads.json"), "utf8")) as { partial?: boolean }[]).some((e) => e.partial);
  } catch {
    return false;
  }
};

const POINTS: Point[] = [
  { name: "in the first moments (before the run exists)", when: async () => (await new Promise((r) => setTimeout(r, 150)), true) },
  { name: "while the model loads (the run exists, nothing generated)", when: async (dir) => waitFor(() => stored(store(dir)) === 0, 60_000) },
  { name: "while the thread count is measured", when: async (_dir, cache) => waitFor(() => threadsPartial(cache), 60_000) },
  { name: "after some results", when: async (dir) => waitFor(() => stored(store(dir)) >= 5, 120_000) },
];

describe("resume accounting after SIGKILL", () => {
  for (const point of POINTS) {
    test(`killed ${point.name}: the rerun accounts for every case, in every format`, async () => {
      const dir = resumeWorkspace();
      const cacheDir = tempDir("driftlens-threads-");
      const env = { ...process.env, DRIFTLENS_CACHE_DIR: cacheDir };
      const child = spawn(process.execPath, [CLI, "eval", "--format", "json"], { cwd: dir, env, stdio: "ignore" });
      const exited = new Promise((r) => child.once("exit", r));
      const reached = await point.when(dir, cacheDir);
      child.kill("SIGKILL");
      await exited;
      assert.ok(reached, `the run never got ${point.name}`);
      const before = Math.max(0, stored(store(dir)));

      const rerun = await runCli(dir, ["eval", "--format", "json", "--out", "report.json"], { env: { DRIFTLENS_CACHE_DIR: cacheDir }, timeoutMs: 180_000 });
      assert.ok(rerun.code === 0 || rerun.code === 1, rerun.stderr);
      const report = JSON.parse(fs.readFileSync(path.join(dir, "report.json"), "utf8")) as EvalReport;
      const run = report.runs[0]!;
      assert.equal(run.status, "complete");
      const s = run.summary;
      assert.equal(s.generated + s.cached + s.resumed, s.cases, JSON.stringify(s));
      assert.equal(s.cases, N);
      assert.equal(s.resumed, before, `${before} results were stored when the run was killed`);
      const bySource = { generated: 0, cached: 0, resumed: 0 };
      for (const c of run.cases) bySource[c.source]++;
      assert.deepEqual(bySource, { generated: s.generated, cached: s.cached, resumed: s.resumed });
      if (before > 0) assert.equal(run.resumed, true);

      // Text (stdout of the rerun), JUnit and markdown say the same.
      assert.match(rerun.stdout, new RegExp(`${s.generated} generated, ${s.cached} cached${s.resumed ? `, ${s.resumed} resumed` : ""}`));
      assert.equal(formatText(report, dir), rerun.stdout);
      const junit = formatJunit(report);
      assert.match(junit, new RegExp(`<property name="resumed" value="${s.resumed}"/>`));
      assert.equal((junit.match(/<property name="source" value="resumed"\/>/g) ?? []).length, s.resumed);
      assert.equal((junit.match(/<property name="source" value="(generated|cached|resumed)"\/>/g) ?? []).length, N);
      const md = formatMarkdown(report);
      assert.match(md, /\| Generated \| Cached \| Resumed \|/);
      assert.match(md, new RegExp(`\\| ${s.generated} \\| ${s.cached} \\| ${s.resumed} \\|`));

      if (point.name.includes("thread count")) {
        // The kill left the counts measured so far; the rerun finished the measurement.
        const cache = JSON.parse(fs.readFileSync(path.join(cacheDir, "engine-threads.json"), "utf8")) as Record<string, { partial?: boolean; measured?: Record<string, number> }>;
        for (const e of Object.values(cache)) assert.equal(e.partial, undefined);
      }
    });
  }

  test("the thread measurement is cached per machine and model size: a rerun starts without it", async () => {
    const dir = resumeWorkspace();
    const cacheDir = tempDir("driftlens-threads-");
    const firstCase = async (source: string) => {
      fs.rmSync(path.join(dir, ".driftlens"), { recursive: true, force: true });
      let at: number | undefined;
      const r = await runCli(dir, ["eval", "--format", "json"], {
        env: { DRIFTLENS_CACHE_DIR: cacheDir, DRIFTLENS_DEBUG: "1" },
        timeoutMs: 180_000,
        onStderr: (chunk, ms) => {
          if (at === undefined && /(^|\n)[1-9]\d*\/\d+ cases/.test(chunk)) at = ms;
        },
      });
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      assert.match(r.stderr, new RegExp(`threads \\d+ \\(${source}\\)`));
      return at ?? r.wallMs;
    };
    const cold = await firstCase("auto-measured");
    const cache = JSON.parse(fs.readFileSync(path.join(cacheDir, "engine-threads.json"), "utf8")) as Record<string, { threads: number; measured?: Record<string, number> }>;
    const keys = Object.keys(cache);
    assert.equal(keys.length, 1);
    assert.match(keys[0]!, /\|cpu\|4MB$/, "keyed by CPU, cores, backend and model size class");
    const warm = await firstCase("auto-cached");
    // Timings are reported, not asserted (the machine may be busy); benchmarks hold speed goals.
    console.log(`time to first case: ${cold.toFixed(0)} ms measuring threads, ${warm.toFixed(0)} ms with the cached count`);
  });
});

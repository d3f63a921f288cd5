// demo.wall_ms — the whole `driftlens demo` from a clean cache (no models, no store), process
// start included, on a fresh copy of examples/quickstart. Goal: ≤ 60,000 ms.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { main, report, selected } from "./harness";

const ROOT = process.env.DRIFTLENS_REPO_ROOT ?? process.cwd();

main("demo", async () => {
  if (!selected("demo.wall_ms")) return;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "driftlens-demo-bench-"));
  try {
    const ws = path.join(tmp, "quickstart");
    fs.cpSync(path.join(ROOT, "examples", "quickstart"), ws, {
      recursive: true,
      filter: (src) => !/[\\/](models|\.driftlens|demo-report)([\\/]|$)/.test(path.relative(ROOT, src)),
    });
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [path.join(ROOT, "dist", "cli.js"), "demo", "--workspace", ws, "--out", path.join(tmp, "report")], {
      encoding: "utf8",
      timeout: 600_000,
    });
    const ms = performance.now() - t0;
    if (r.status !== 0) {
      report("demo.wall_ms", null, "ms", 60_000, "lower", `demo exited ${r.status ?? r.signal}: ${(r.stderr ?? "").trim().split("\n").slice(-2).join(" | ")}`);
      process.exitCode = 1;
      return;
    }
    const steps = (r.stderr.match(/\] .* done \([^)]*\)/g) ?? []).map((l) => l.replace(/^\] /, "")).length;
    const json = JSON.parse(fs.readFileSync(path.join(tmp, "report", "report.json"), "utf8")) as { steps: { name: string; ms: number }[]; backend: string; threads: number };
    const detail = json.steps.map((s) => `${s.name} ${Math.round(s.ms)}`).join(", ");
    report("demo.wall_ms", Math.round(ms), "ms", 60_000, "lower", `clean cache, process start included; ${steps} steps (${detail} ms); backend ${json.backend}, ${json.threads} thread(s)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

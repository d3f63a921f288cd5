// `npm run bench`: runs every benchmark file (test/bench/*.bench.ts, bundled to dist/test/bench),
// each in its own process, prints a table and writes bench-results.json at the repository root:
// an array of {name, value, unit, goal, ok, notes}.
//   npm run bench                     all benchmarks
//   npm run bench -- --only NAME      one benchmark (e.g. lsp.prompt_edit_p95_ms) or a prefix (lsp.)
//
// Contract for a bench file: it exports nothing; run as a script it measures, then prints one line
// per result: `BENCH_RESULT {"name":..,"value":..,"unit":..,"goal":..,"ok":..,"notes":..}`.
// It reads DRIFTLENS_BENCH_ONLY and measures only what matches (see test/bench/harness.ts).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const argv = process.argv.slice(2);
let only = "";
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--only") only = argv[++i] ?? "";
  else if (argv[i].startsWith("--only=")) only = argv[i].slice(7);
  else {
    console.error(`bench: unknown argument '${argv[i]}' (use --only NAME)`);
    process.exit(2);
  }
}

// The bulk_logits addon `driftlens kld` reads logits through (built once, cached; kld.bench.ts
// says in its notes which path a run took).
spawnSync(process.execPath, [path.join(root, "extension/scripts/natives.mjs"), "--bulk-logits"], { stdio: ["ignore", "ignore", "inherit"] });

const dir = path.join(root, "dist/test/bench");
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".bench.js")).sort() : [];
// Every file runs; with --only each measures just the matching benchmarks (harness.ts `selected`)
// and checks that before any expensive setup.
const selected = files;
if (selected.length === 0) {
  console.error("bench: no benchmark files in dist/test/bench (run the build)");
  process.exit(2);
}

const results = [];
let failedFiles = 0;
for (const f of selected) {
  process.stderr.write(`bench: ${f} …\n`);
  const r = spawnSync(process.execPath, ["--expose-gc", path.join(dir, f)], {
    cwd: root,
    env: { ...process.env, DRIFTLENS_BENCH_ONLY: only, DRIFTLENS_REPO_ROOT: root },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  for (const line of (r.stdout ?? "").split("\n")) {
    if (line.startsWith("BENCH_RESULT ")) results.push(JSON.parse(line.slice("BENCH_RESULT ".length)));
  }
  if (r.status !== 0) {
    failedFiles++;
    results.push({ name: f.replace(/\.bench\.js$/, "") + ".error", value: null, unit: "", goal: null, ok: false, notes: `exited ${r.status ?? r.signal}` });
  }
}

const fmt = (v) => (v === null || v === undefined ? "-" : typeof v === "number" ? String(Math.round(v * 1000) / 1000) : String(v));
const rows = results.map((r) => [r.name, fmt(r.value), r.unit ?? "", fmt(r.goal), r.ok === null ? "-" : r.ok ? "ok" : "MISS", r.notes ?? ""]);
const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((row) => row[i].length), 6));
for (const row of [["name", "value", "unit", "goal", "ok", "notes"], ...rows]) {
  console.log(row.map((c, i) => (i < 5 ? c.padEnd(widths[i]) : c)).join("  "));
}
if (only && results.length === 0) {
  console.error(`bench: no benchmark is named '${only}'`);
  process.exit(2);
}
fs.writeFileSync(path.join(root, "bench-results.json"), JSON.stringify(results, null, 2) + "\n");
console.log(`\nwrote bench-results.json (${results.length} results)`);
process.exit(failedFiles ? 1 : 0);

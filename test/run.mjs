// The test command (`npm test`): type-check, build every bundle (tests included), then run the
// suites with node's test runner. Suites: unit (engine, pure), lsp (bundled server over stdio),
// hostile (generated hostile inputs: bounds on time, memory and file access), differential
// (assertions side by side with promptfoo's, installed on first use by test/differential/setup.sh),
// e2e (real VS Code in headless Chromium; needs the e2e toolchain that .ci/run installs).
//   npm test                  all suites
//   npm test -- unit lsp      only those suites
//   npm test -- unit/store    only test files whose path contains "unit/store"
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const filters = process.argv.slice(2);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// A filtered run skips the whole-project type check and builds only the matching tests, so one
// unfinished file elsewhere does not block it; the full run (CI) checks everything.
if (filters.length === 0) run(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json", "--noEmit"]);
run(process.execPath, [path.join(root, "esbuild.config.mjs")], {
  env: { ...process.env, DRIFTLENS_TEST_FILTER: filters.join(",") },
});

function list(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? list(p) : e.name.endsWith(".test.js") ? [p] : [];
  });
}

const suites = ["unit", "lsp", "hostile", "differential", "e2e"];
const files = list(path.join(root, "dist/test"))
  .map((p) => path.relative(path.join(root, "dist/test"), p))
  .filter((rel) => suites.some((s) => rel.startsWith(s + path.sep)))
  .filter((rel) => filters.length === 0 || filters.some((f) => rel.includes(f)))
  .sort((a, b) => suites.indexOf(a.split(path.sep)[0]) - suites.indexOf(b.split(path.sep)[0]) || a.localeCompare(b));

if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ") || "(all)"}`);
  process.exit(1);
}
run(process.execPath, ["--test", "--test-reporter=spec", ...files.map((f) => path.join("dist/test", f))], {
  env: { ...process.env, DRIFTLENS_REPO_ROOT: root },
});

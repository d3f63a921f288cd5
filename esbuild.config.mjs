// Builds every bundle Driftlens ships (extension, language server, engine worker, CLI, webviews)
// plus the test bundles, and checks that native modules stayed external.
//   node esbuild.config.mjs            build everything
//   node esbuild.config.mjs --watch    rebuild on change
//   node esbuild.config.mjs --no-tests skip test bundles (packaging)
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";

const root = path.dirname(new URL(import.meta.url).pathname);
const args = new Set(process.argv.slice(2));
const watch = args.has("--watch");
const withTests = !args.has("--no-tests");

/** Native modules: loaded from node_modules at run time, never bundled (native addons and an ESM-only package). */
const NATIVE = ["better-sqlite3", "node-llama-cpp"];
const external = [...NATIVE, "vscode", "@node-llama-cpp/*", "playwright-core", "esbuild"];

/** Node bundles: [entry, outfile]. Entries that do not exist yet are skipped. */
const nodeEntries = [
  ["extension/src/loader.ts", "dist/extension.js"],
  ["extension/src/extension.ts", "dist/extension-main.js"],
  ["server/src/server.ts", "dist/server.js"],
  ["server/src/server-lsp.ts", "dist/server-lsp.js"],
  ["server/src/server-core.ts", "dist/server-core.js"],
  ["server/src/cli.ts", "dist/cli.js"],
  ["server/src/cli-main.ts", "dist/cli-main.js"],
  ["server/src/llm/worker.ts", "dist/engine-worker.js"],
  ["server/src/eval/assertions/pattern-worker.ts", "dist/pattern-worker.js"],
];
const webEntries = [
  ["webviews/src/compare/main.ts", "dist/webviews/compare.js"],
  ["webviews/src/delta/main.ts", "dist/webviews/delta.js"],
];

function listTests(dir) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTests(p));
    else if (/\.(test|bench)\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

const exists = ([entry]) => fs.existsSync(path.join(root, entry));
const common = {
  bundle: true,
  sourcemap: "linked",
  logLevel: "warning",
  metafile: true,
  absWorkingDir: root,
};

const builds = [];
for (const [entry, outfile] of nodeEntries.filter(exists)) {
  builds.push({
    ...common,
    entryPoints: [entry],
    outfile,
    platform: "node",
    format: "cjs",
    target: "node20",
    external,
    banner: entry.endsWith("cli.ts") ? { js: "#!/usr/bin/env node" } : undefined,
  });
}
for (const [entry, outfile] of webEntries.filter(exists)) {
  builds.push({ ...common, entryPoints: [entry], outfile, platform: "browser", format: "iife", target: "es2022", minify: !watch });
}
if (withTests) {
  // DRIFTLENS_TEST_FILTER (comma-separated substrings) builds only the matching test files.
  const filter = (process.env.DRIFTLENS_TEST_FILTER ?? "").split(",").filter(Boolean);
  const tests = listTests(path.join(root, "test"))
    .map((p) => path.relative(root, p))
    .filter((p) => filter.length === 0 || filter.some((f) => p.includes(f)));
  if (filter.length === 0) fs.rmSync(path.join(root, "dist/test"), { recursive: true, force: true });
  if (tests.length) {
    builds.push({
      ...common,
      entryPoints: tests,
      outdir: "dist/test",
      outbase: "test",
      platform: "node",
      format: "cjs",
      target: "node20",
      external,
    });
  }
}

/** Fails the build when a native module was pulled into a bundle instead of staying external. */
function checkExternals(metafile, label) {
  const bad = Object.keys(metafile.inputs).filter((p) => NATIVE.some((n) => p.includes(`node_modules/${n}/`)));
  if (bad.length) {
    throw new Error(`${label}: native module bundled (must stay external): ${bad.slice(0, 3).join(", ")}`);
  }
}

if (watch) {
  for (const b of builds) {
    const ctx = await esbuild.context(b);
    await ctx.watch();
  }
  console.log(`watching ${builds.length} bundles`);
} else {
  const results = await Promise.all(builds.map((b) => esbuild.build(b)));
  results.forEach((r, i) => checkExternals(r.metafile, builds[i].outfile ?? builds[i].outdir));
  const cli = path.join(root, "dist/cli.js");
  if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
  console.log(`built ${builds.length} bundle groups; native modules external`);
}

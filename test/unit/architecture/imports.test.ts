// The architecture invariants of docs/architecture.md that a test can hold, read from the source
// files' import statements (static `import … from`, `import "…"`, `export … from`, dynamic
// `import("…")`, `require("…")`, and type positions `import("…").T`):
//   1. every folder of server/src imports only the folders its floor allows (imports point down);
//   2. the LSP-free engine (artifacts/, eval/, store/, llm/, gguf/, …) imports no editor or LSP module;
//   3. only store/ imports a SQLite driver; only llm/ imports node-llama-cpp;
//   4. the extension and the webviews reach the server only through its contracts (protocol/).
// To see it fail: add `import "vscode-languageserver/node";` to server/src/stats/stats.ts (or
// `import "../features/hover";` to server/src/artifacts/hash.ts) and run
// `npm test -- unit/architecture`: the test names the file, the import and the rule it breaks.
// A new folder under server/src fails until it is given a floor here and in docs/architecture.md.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../../helpers/paths";

const SERVER_SRC = path.join(REPO_ROOT, "server/src");

/**
 * Which server/src folders each folder may import (besides itself). A top-level file such as
 * server/src/cli.ts counts as its own unit, named by its file name without extension.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  util: [],
  protocol: [],
  gguf: ["util"],
  stats: ["util"],
  store: ["util"],
  llm: ["protocol", "util", "gguf"],
  artifacts: ["util", "gguf", "stats", "protocol", "llm/types"],
  modelgen: ["util", "gguf"],
  eval: ["util", "gguf", "stats", "protocol", "artifacts", "store", "llm"],
  demo: ["util", "stats", "eval"],
  features: ["util", "gguf", "stats", "protocol", "artifacts", "store", "llm", "eval", "modelgen"],
  cli: ["util", "gguf", "stats", "protocol", "artifacts", "store", "llm", "eval", "modelgen", "demo"],
  // The launcher: forks the engine worker early (llm/worker-fork) and loads cli-main.
  cli_entry: ["cli", "util", "llm", "cli-main"],
  "cli-main": ["cli", "util"],
  // The launcher: answers initialize early (server-early, from the static features/capabilities)
  // and loads server-lsp or server-core lazily through util/code-cache.
  server: ["util", "server-early", "features/capabilities", "server-lsp"],
  "server-early": [],
  "server-lsp": ["util", "protocol", "features", "server-core", "server-early"],
  "server-core": ["util", "protocol", "features", "artifacts", "store", "llm", "eval"],
};

/** Packages that belong to the editor or the LSP: never below features/ and the entry points. */
const EDITOR_PACKAGES = /^(vscode|vscode-languageserver|vscode-languageserver-textdocument|vscode-languageclient|vscode-jsonrpc)(\/|$)/;
const EDITOR_FREE = ["util", "protocol", "gguf", "stats", "store", "llm", "artifacts", "modelgen", "eval", "demo", "cli", "cli_entry"];
/** Native modules, each behind one folder. */
const NATIVE_HOME: [RegExp, string][] = [
  [/^(better-sqlite3|node:sqlite)$/, "store"],
  [/^node-llama-cpp(\/|$)/, "llm"],
];

const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"'\n]+)["']/g;

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|cts)$/.test(e.name) && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/** Module specifiers a file imports, with the line of each; comments are stripped first. */
function importsOf(file: string): { spec: string; line: number }[] {
  const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " ")).replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const out: { spec: string; line: number }[] = [];
  for (const m of text.matchAll(IMPORT_RE)) out.push({ spec: m[1]!, line: text.slice(0, m.index).split("\n").length });
  return out;
}

/** The floor a server/src file belongs to: its top folder, or its own name for top-level files. */
function unitOf(file: string): string {
  const rel = path.relative(SERVER_SRC, file).split(path.sep);
  if (rel.length === 1) return rel[0] === "cli.ts" ? "cli_entry" : rel[0]!.replace(/\.ts$/, "");
  return rel[0]!;
}

/** The server/src unit a relative import lands in ("llm/types" and "features/capabilities" for those files, else the folder). */
function targetUnit(file: string, spec: string): string | undefined {
  const abs = path.resolve(path.dirname(file), spec);
  const rel = path.relative(SERVER_SRC, abs);
  if (rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
  const parts = rel.split(path.sep);
  if (parts.length === 1) return parts[0] === "cli" ? "cli_entry" : parts[0];
  if (parts[0] === "llm" && parts[1] === "types") return "llm/types";
  if (parts[0] === "features" && parts[1] === "capabilities") return "features/capabilities";
  return parts[0];
}

function allowed(from: string, to: string): boolean {
  if (from === to || to.split("/")[0] === from) return true;
  const may = MAY_IMPORT[from] ?? [];
  if (may.includes(to)) return true;
  // A folder allowed whole also allows its single-file entries (e.g. "llm" covers "llm/types").
  return to.includes("/") && may.includes(to.split("/")[0]!);
}

test("every folder of server/src has a floor in the table (and in docs/architecture.md)", () => {
  const units = new Set(sourceFiles(SERVER_SRC).map(unitOf));
  const missing = [...units].filter((u) => !(u in MAY_IMPORT));
  assert.deepEqual(missing, [], `server/src units without a floor: ${missing.join(", ")}: add each to MAY_IMPORT in this test and to the code map in docs/architecture.md`);
  const guide = fs.readFileSync(path.join(REPO_ROOT, "docs/architecture.md"), "utf8");
  for (const u of units) {
    const name = u === "cli_entry" ? "cli.ts" : fs.existsSync(path.join(SERVER_SRC, u)) && fs.statSync(path.join(SERVER_SRC, u)).isDirectory() ? `${u}/` : `${u}.ts`;
    assert.ok(guide.includes(`server/src/${name}`) || guide.includes(`\`${name}\``), `docs/architecture.md does not mention server/src/${name}`);
  }
});

test("imports inside server/src point down a floor", () => {
  const problems: string[] = [];
  for (const file of sourceFiles(SERVER_SRC)) {
    const from = unitOf(file);
    for (const { spec, line } of importsOf(file)) {
      if (!spec.startsWith(".")) continue;
      const to = targetUnit(file, spec);
      if (to === undefined) {
        // Outside server/src: only package.json (version strings) is fine.
        if (!/package\.json$/.test(spec)) problems.push(`${path.relative(REPO_ROOT, file)}:${line} imports ${spec}, outside server/src`);
        continue;
      }
      if (!allowed(from, to)) problems.push(`${path.relative(REPO_ROOT, file)}:${line} (${from}/) imports ${spec} (${to}/), which its floor may not import`);
    }
  }
  assert.deepEqual(problems, []);
});

test("the LSP-free engine imports nothing from the editor or the language server protocol", () => {
  const problems: string[] = [];
  for (const file of sourceFiles(SERVER_SRC)) {
    if (!EDITOR_FREE.includes(unitOf(file))) continue;
    for (const { spec, line } of importsOf(file)) {
      if (EDITOR_PACKAGES.test(spec)) problems.push(`${path.relative(REPO_ROOT, file)}:${line} imports ${spec}`);
    }
  }
  assert.deepEqual(problems, []);
});

test("native modules are imported only from their one home (store/ for SQLite, llm/ for node-llama-cpp)", () => {
  const problems: string[] = [];
  const roots = ["server/src", "extension/src", "webviews/src"].map((r) => path.join(REPO_ROOT, r));
  for (const file of roots.flatMap(sourceFiles)) {
    const inServer = file.startsWith(SERVER_SRC + path.sep);
    for (const { spec, line } of importsOf(file)) {
      for (const [re, home] of NATIVE_HOME) {
        if (re.test(spec) && !(inServer && unitOf(file) === home)) problems.push(`${path.relative(REPO_ROOT, file)}:${line} imports ${spec}; only server/src/${home}/ may`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("our own addon (bulk_logits.node) is loaded by one module, and the rest reach it through that one", () => {
  const HOME = path.join(SERVER_SRC, "llm", "native", "bulk-logits.ts");
  const problems: string[] = [];
  for (const file of ["server/src", "extension/src", "webviews/src"].flatMap((r) => sourceFiles(path.join(REPO_ROOT, r)))) {
    if (file === HOME) continue;
    const code = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
    if (/bulk_logits\.node/.test(code)) problems.push(`${path.relative(REPO_ROOT, file)} names bulk_logits.node; only server/src/llm/native/bulk-logits.ts loads it`);
  }
  assert.match(fs.readFileSync(HOME, "utf8"), /bulk_logits\.node/);
  assert.deepEqual(problems, []);
});

test("the extension and the webviews reach the server only through its contracts", () => {
  const problems: string[] = [];
  // What the client side may import from server/src: the protocol, plain-data types, and the
  // code-cache loader (the extension loads its own bundle the way the server does).
  const CLIENT_MAY = [/^server\/src\/protocol\//, /^server\/src\/artifacts\/types$/, /^server\/src\/util\/code-cache$/];
  for (const root of ["extension/src", "webviews/src"]) {
    for (const file of sourceFiles(path.join(REPO_ROOT, root))) {
      for (const { spec, line } of importsOf(file)) {
        if (!spec.startsWith(".")) continue;
        const rel = path.relative(REPO_ROOT, path.resolve(path.dirname(file), spec)).split(path.sep).join("/");
        if (rel.startsWith(root + "/")) continue;
        if (root === "extension/src" && rel.startsWith("webviews/src/protocol/")) continue;
        if (!CLIENT_MAY.some((re) => re.test(rel))) problems.push(`${path.relative(REPO_ROOT, file)}:${line} imports ${rel}`);
      }
      if (root === "webviews/src") {
        for (const { spec, line } of importsOf(file)) if (EDITOR_PACKAGES.test(spec)) problems.push(`${path.relative(REPO_ROOT, file)}:${line} imports ${spec} (webviews run in a browser frame)`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

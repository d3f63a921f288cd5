// The packaged extension: `npm run package -- --target linux-x64` builds a per-platform VSIX that
// code-server installs, and the installed copy works on what it carries (diagnostics from its
// language server on code-server's own Node 24, a run on its node-llama-cpp CPU binaries, its store
// on its own better-sqlite3 binary for ABI 137). Also checks what the VSIX leaves out.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { REPO_ROOT, tempDir } from "../helpers/paths";
import { CODE_SERVER, ensureToolchain, NODE24, openFile, openVsCode, quickstartWorkspace, runCommand, until, type Session } from "./harness";

let vsix = "";
let extensionsDir = "";
let s: Session | undefined;

before(() => {
  ensureToolchain();
  const dir = tempDir("driftlens-vsix-");
  vsix = path.join(dir, "driftlens.vsix");
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "extension/scripts/package.mjs"), "--target", "linux-x64", "--out", vsix], { cwd: REPO_ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, `npm run package failed:\n${r.stdout}\n${r.stderr}`);
  extensionsDir = path.join(dir, "extensions");
});

after(async () => {
  await s?.close();
});

test("the VSIX is small, marked linux-x64, and holds only the linux-x64 binaries: node-llama-cpp's CPU build, better-sqlite3 for Node 20, 22 and 24, and the bulk_logits addon", () => {
  const mb = fs.statSync(vsix).size / 1024 / 1024;
  assert.ok(mb < 40, `the VSIX is ${mb.toFixed(1)} MiB`);
  const list = spawnSync("unzip", ["-Z1", vsix], { encoding: "utf8" });
  assert.equal(list.status, 0, list.stderr);
  const files = list.stdout.split("\n");
  for (const want of ["extension/dist/extension.js", "extension/dist/extension-main.js", "extension/dist/server.js", "extension/dist/server-lsp.js", "extension/dist/server-core.js", "extension/dist/engine-worker.js", "extension/dist/cli.js", "extension/dist/cli-main.js", "extension/dist/native/linux-x64/bulk_logits.node", "extension/dist/webviews/compare.js", ...["115", "127", "137"].map((abi) => `extension/dist/native/linux-x64/node-${abi}/better_sqlite3.node`), "extension/node_modules/better-sqlite3/lib/index.js", "extension/syntaxes/prompt.tmLanguage.json"]) {
    assert.ok(files.includes(want), `${want} missing from the VSIX`);
  }
  assert.ok(files.some((f) => f.startsWith("extension/node_modules/@node-llama-cpp/linux-x64/")));
  assert.ok(!files.some((f) => /@node-llama-cpp\/(linux-x64-cuda|linux-x64-vulkan|linux-arm)/.test(f)), "GPU/ARM binaries were packed");
  assert.ok(!files.some((f) => f.startsWith("extension/dist/test/") || f.includes("llama/llama.cpp/") || f.startsWith("extension/node_modules/better-sqlite3/deps/") || f.startsWith("extension/node_modules/better-sqlite3/build/")));
  const manifest = spawnSync("unzip", ["-p", vsix, "extension.vsixmanifest"], { encoding: "utf8" }).stdout;
  assert.match(manifest, /TargetPlatform="linux-x64"/);
});

test("code-server installs the VSIX, and the installed extension diagnoses and runs evals", async () => {
  const r = spawnSync(NODE24, [CODE_SERVER, "--extensions-dir", extensionsDir, "--install-extension", vsix], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `install failed:\n${r.stdout}\n${r.stderr}`);
  const installed = fs.readdirSync(extensionsDir).find((d) => d.startsWith("driftlens.driftlens-"));
  assert.ok(installed, `not installed: ${fs.readdirSync(extensionsDir).join(", ")}`);
  assert.ok(fs.existsSync(path.join(extensionsDir, installed, "dist", "server.js")));

  s = await openVsCode(quickstartWorkspace(), { extensionsDir });
  const page = s.page;
  const texts = (sel: string) => page.$$eval(sel, (els) => els.map((e) => (e.textContent ?? "").replace(/\s+/g, " ").trim()));
  await openFile(page, "capital.prompt");
  await page.keyboard.press("Control+End");
  await page.keyboard.type(" {{contry}}");
  await page.keyboard.press("Control+Shift+M");
  await until("DL203 from the installed language server", async () => /contry.*DL203|DL203.*contry/.test((await texts(".markers-panel")).join(" ")), 90_000);
  await runCommand(page, "File: Revert File");
  await runCommand(page, "Driftlens: Run Evals for This Prompt");
  await until("the variant picker", async () => (await texts(".quick-input-list .monaco-list-row")).some((t) => t.includes("tiny/q4_0")), 30_000);
  await page.keyboard.press("Enter");
  await until("a CodeLens with the run result", async () => (await texts(".codelens-decoration")).some((t) => /tiny\/f32 capitals\.eval\.yaml: 60\/60/.test(t)), 180_000);
  assert.match(s.extensionLog(), new RegExp(`${installed.replace(/[.+]/g, "\\$&")}`), "the log does not show the installed copy");
  // The store runs on the installed copy's own binary for code-server's Node 24 (no node on PATH).
  const driver = /SQLite driver: .*/.exec(s.extensionLog())?.[0] ?? "";
  assert.ok(driver.includes(`binary ${fs.realpathSync(path.join(extensionsDir, installed))}/dist/native/linux-x64/node-137/better_sqlite3.node`) || driver.includes(`binary ${path.join(extensionsDir, installed)}/dist/native/linux-x64/node-137/better_sqlite3.node`), driver);
});

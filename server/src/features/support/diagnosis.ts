// Where diagnostics are computed. Parsing a 5,000-case eval set takes a second on first open and
// tens of milliseconds per edit, synchronously; on the server's main thread that would stall
// hover, completion and every other request meanwhile. So diagnostics run in a worker thread with
// its own artifact Workspaces (the main thread forwards every overlay change), and the main
// thread only schedules, publishes and answers requests. The worker runs the core bundle
// (dist/server-core.js, through the launcher dist/server.js) started with `workerData.driftlensDiagnosis`. If the worker cannot start or
// dies, diagnostics fall back to the main thread's Workspaces, so the server keeps working.
import { Worker } from "node:worker_threads";
import { artifactKind, type Diagnostic, type Range } from "../../artifacts/types";
import type { ConfigOverrides } from "../../artifacts/effective-config";
import { setConfigOverrides, type ServerWorkspace } from "./artifact-bridge";
import type { Logger } from "./context";
import type { TokenCount, TokenCounter } from "./token-counter";
import type { WorkspaceManager } from "./workspaces";

export interface DiagnosisService {
  setOverlay(root: string, file: string, text: string | undefined): void;
  /** The editor's settings over driftlens.yaml, for the checks that read the effective config (DL309). */
  setConfigOverrides(o: ConfigOverrides): void;
  /** All diagnostics of one file. Rejects with an AbortError-like Error when `signal` fires first. */
  diagnose(root: string, file: string, signal?: AbortSignal): Promise<DiagnoseResult>;
  dependents(root: string, file: string): Promise<string[]>;
  /** A key of a prompt's input contract (schema, inputs, listed eval sets); "" when unreadable. */
  promptContract(root: string, file: string): Promise<string>;
  /**
   * An eval set's outline (cases, slices, prompt) from the worker's cached parse: the editor asks
   * for symbols after every edit, and a 5,000-case parse must not run on the request thread.
   */
  evalOutline(root: string, file: string): Promise<EvalOutline>;
  /** "worker" or "main-thread" (logs, tests). */
  readonly mode: string;
  dispose(): Promise<void>;
}

export interface DiagnoseResult {
  diagnostics: Diagnostic[];
  /**
   * For an eval set: its prompt and that prompt's input contract key as this very diagnosis saw
   * them (taken in the same synchronous step), so the server knows which contract the published
   * diagnostics reflect and re-checks exactly when the contract differs.
   */
  promptContract?: { prompt: string; key: string };
}

/** Diagnoses a file and, for an eval set, records the prompt contract the check used. */
export async function diagnoseWithContract(ws: ServerWorkspace, file: string): Promise<DiagnoseResult> {
  const diagnostics = await ws.diagnose(file);
  // No await between the diagnosis and this: overlay changes cannot slip in between.
  if (artifactKind(file) !== "evalset") return { diagnostics };
  const prompt = ws.promptFor(file);
  return prompt ? { diagnostics, promptContract: { prompt, key: promptContractKey(ws, prompt) } } : { diagnostics };
}

export interface EvalOutline {
  prompt?: { declared: string; range: Range };
  slices: { name: string; range: Range; cases: number }[];
  cases: { id: string; range: Range; idRange: Range; tags: string[] }[];
}

export function evalOutline(ws: ServerWorkspace, file: string): EvalOutline {
  const doc = ws.evalSet(file);
  return {
    ...(doc.prompt ? { prompt: { declared: doc.prompt.declared, range: doc.prompt.range } } : {}),
    slices: doc.slices.map((s) => ({ name: s.name, range: s.range, cases: s.caseIds.length })),
    cases: doc.cases.map((c) => ({ id: String(c.id), range: c.range, idRange: c.idRange, tags: c.tags.map(String) })),
  };
}

/** The input contract of a prompt that its eval sets are checked against. */
export function promptContractKey(ws: ServerWorkspace, file: string): string {
  try {
    if (artifactKind(file) === "prompty") return JSON.stringify(ws.adopted(file).inputSchema ?? null);
    const doc = ws.prompt(file);
    return JSON.stringify([doc.input?.jsonSchema ?? null, doc.inputs.map((i) => [i.name, i.optional]), doc.evals.map((e) => e.path), doc.inputsOpen]);
  } catch {
    return "";
  }
}

export class InThreadDiagnosis implements DiagnosisService {
  readonly mode = "main-thread";
  constructor(private readonly workspaces: WorkspaceManager<ServerWorkspace>) {}
  private ws(root: string, file: string): ServerWorkspace {
    const e = this.workspaces.forFile(file);
    return e.root === root ? e.ws : this.workspaces.all().find((x) => x.root === root)?.ws ?? e.ws;
  }
  setConfigOverrides(o: ConfigOverrides): void {
    setConfigOverrides(o);
  }
  setOverlay(): void {
    // The main thread's Workspaces already hold the overlays.
  }
  diagnose(root: string, file: string): Promise<DiagnoseResult> {
    return diagnoseWithContract(this.ws(root, file), file);
  }
  async dependents(root: string, file: string): Promise<string[]> {
    return this.ws(root, file).dependents(file);
  }
  async promptContract(root: string, file: string): Promise<string> {
    return promptContractKey(this.ws(root, file), file);
  }
  async evalOutline(root: string, file: string): Promise<EvalOutline> {
    return evalOutline(this.ws(root, file), file);
  }
  async dispose(): Promise<void> {}
}

// ---- messages between the main thread and the worker ----
export type ToWorker =
  | { type: "overlay"; root: string; file: string; text: string | undefined }
  | { type: "settings"; overrides: ConfigOverrides }
  | { type: "diagnose" | "dependents" | "contract" | "outline"; id: number; root: string; file: string }
  | { type: "cancel"; id: number }
  /** A token count the main thread holds (TokenCounter): the worker answers DL210 from these. */
  | ({ type: "counted" } & TokenCount);
export type FromWorker =
  | { type: "result"; id: number; value?: unknown; error?: string }
  /** A text the worker had no count for (it used the estimate): count it when the user pauses. */
  | { type: "tokens"; modelPath: string; text: string }
  | { type: "log"; level: "info" | "warn" | "error"; message: string };

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  file: string;
}

/**
 * Heap limit of the diagnostics worker. A file that needs more (a hostile eval set) kills the
 * worker, not the server; a file that did so twice is not diagnosed again (see WorkerDiagnosis).
 */
export const DIAGNOSIS_HEAP_MB = 640;

export class WorkerDiagnosis implements DiagnosisService {
  readonly mode = "worker";
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly overlays = new Map<string, { root: string; text: string }>();
  private overrides: ConfigOverrides | undefined;
  private failed = false;
  private restarts = 0;

  constructor(
    private readonly script: string,
    private readonly fallback: InThreadDiagnosis,
    private readonly tokens: TokenCounter,
    private readonly log: Logger,
  ) {
    // Counts go to the worker as they are made, so a diagnosis never waits on a round trip to
    // this thread for one (and the re-check that follows a count finds it there).
    tokens.onCounted((c) => this.post({ type: "counted", ...c }));
  }

  /** Starts the worker on first use, so it does not compete with the server's own startup. */
  private ensure(): boolean {
    if (!this.worker && !this.failed && !this.disposed && !this.everStarted) {
      this.everStarted = true;
      try {
        this.start();
      } catch (e) {
        this.log.error("could not start the diagnostics worker; diagnosing on the main thread", e);
        this.failed = true;
      }
    }
    return !!this.worker && !this.failed;
  }

  private everStarted = false;
  /** Files that were being diagnosed when the worker died, and how often. */
  private readonly crashes = new Map<string, number>();

  /** A file whose diagnosis killed the worker twice gets this instead of a third attempt. */
  private refused(file: string): DiagnoseResult | undefined {
    if ((this.crashes.get(file) ?? 0) < 2) return undefined;
    return {
      diagnostics: [
        {
          file,
          range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
          severity: "warning",
          code: artifactKind(file) === "evalset" ? "DL300" : artifactKind(file) === "prompt" ? "DL200" : artifactKind(file) === "adapter" ? "DL400" : "DL100",
          message: `Driftlens could not check this file within the language server's memory budget (${DIAGNOSIS_HEAP_MB} MB); run 'driftlens check' on it in a terminal`,
        },
      ],
    };
  }

  private start(): void {
    const w = new Worker(this.script, {
      workerData: { driftlensDiagnosis: true, generation: this.restarts },
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: DIAGNOSIS_HEAP_MB },
    });
    // A worker's stdout would otherwise go to ours, which is the protocol stream: send it to the log.
    w.stdout.on("data", (d: Buffer) => this.log.info(`diagnostics worker: ${d.toString().trim()}`));
    w.stderr.on("data", (d: Buffer) => this.log.warn(`diagnostics worker: ${d.toString().trim()}`));
    w.on("message", (m: FromWorker) => this.onMessage(m));
    for (const c of this.tokens.counts()) w.postMessage({ type: "counted", ...c } satisfies ToWorker);
    if (this.overrides) w.postMessage({ type: "settings", overrides: this.overrides } satisfies ToWorker);
    w.on("error", (e) => this.log.error("diagnostics worker failed", e));
    w.on("exit", (code) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const p of this.pending.values()) {
        this.crashes.set(p.file, (this.crashes.get(p.file) ?? 0) + 1);
        p.reject(new Error(`the diagnostics worker exited (code ${code})`));
      }
      this.pending.clear();
      if (this.disposed) return;
      // Restart a few times (re-sending the overlays), then stay on the main thread.
      if (++this.restarts <= 3) {
        this.log.warn(`diagnostics worker exited (code ${code}); restarting it`);
        this.start();
        for (const [file, o] of this.overlays) this.post({ type: "overlay", root: o.root, file, text: o.text });
      } else {
        this.log.error(`diagnostics worker exited ${this.restarts} times; diagnosing on the main thread from now on`);
        this.failed = true;
      }
    });
    this.worker = w;
  }

  private disposed = false;

  private post(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    if (m.type === "log") {
      this.log[m.level](m.message);
      return;
    }
    if (m.type === "tokens") {
      // Queues the text: once counted, onCounted sends the count here and onLateCount re-checks.
      this.tokens.count(m.modelPath, m.text).catch(() => undefined);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.value);
  }

  private call<T>(type: "diagnose" | "dependents" | "contract" | "outline", root: string, file: string, signal?: AbortSignal): Promise<T> {
    if (!this.worker) return Promise.reject(new Error("no diagnostics worker"));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, file });
      this.post({ type, id, root, file });
      signal?.addEventListener(
        "abort",
        () => {
          if (!this.pending.has(id)) return;
          this.pending.delete(id);
          this.post({ type: "cancel", id });
          reject(new Error("cancelled"));
        },
        { once: true },
      );
    });
  }

  setConfigOverrides(o: ConfigOverrides): void {
    this.overrides = o;
    // This thread's workspaces too (the fallback, and the main thread's hover and runs).
    this.fallback.setConfigOverrides(o);
    // A worker not started yet gets them when it starts.
    if (this.worker) this.post({ type: "settings", overrides: o });
  }

  setOverlay(root: string, file: string, text: string | undefined): void {
    if (text === undefined) this.overlays.delete(file);
    else this.overlays.set(file, { root, text });
    if (this.ensure()) this.post({ type: "overlay", root, file, text });
  }

  diagnose(root: string, file: string, signal?: AbortSignal): Promise<DiagnoseResult> {
    const refused = this.refused(file);
    if (refused) return Promise.resolve(refused);
    if (!this.ensure()) return this.fallback.diagnose(root, file);
    return this.call<DiagnoseResult>("diagnose", root, file, signal);
  }

  dependents(root: string, file: string): Promise<string[]> {
    if (!this.ensure()) return this.fallback.dependents(root, file);
    return this.call<string[]>("dependents", root, file);
  }

  promptContract(root: string, file: string): Promise<string> {
    if (!this.ensure()) return this.fallback.promptContract(root, file);
    return this.call<string>("contract", root, file);
  }

  evalOutline(root: string, file: string): Promise<EvalOutline> {
    if (this.refused(file)) return Promise.resolve({ slices: [], cases: [] });
    if (!this.ensure()) return this.fallback.evalOutline(root, file);
    return this.call<EvalOutline>("outline", root, file);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

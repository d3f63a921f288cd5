// Server side of runs, comparisons, deltas, status, fingerprints and history (protocol/runs.ts).
// Adapts the LSP-free engine (eval/runner, eval/compare, eval/diff, store, llm/client) to custom
// LSP methods: case results stream as notifications, LSP cancellation and driftlens/cancelRun
// abort, and nothing here runs on the keystroke path. In a restricted (untrusted) workspace
// every generating method answers "refused" and no model is loaded; diagnostics are untouched.
//
// Runs read the saved files on disk (a Workspace per root of our own, without editor overlays),
// so what is recorded in the store is what is in the repository.
import path from "node:path";
import { filePartialResolver, renderPrompt, Workspace } from "../artifacts";
import { adoptedView, type AdoptedView } from "../artifacts/adopt/view";
import { storePathProblem } from "../artifacts/containment";
import { setFingerprintCache } from "../artifacts/fingerprint";
import { effectiveConfig } from "../artifacts/effective-config";
import { artifactKind } from "../artifacts/types";
import { gitToplevel, relPath, showFile } from "../eval/git";
import type { EvalTarget, RenderFn } from "../eval/runner";
import type { EngineClient } from "../llm/client";
import type { EngineSettings } from "../llm/types";
import { parseServerSettings, type ServerSettings } from "../protocol/settings";
import {
  CancelRunMethod,
  CancelRunParamsSchema,
  CaseResultMethod,
  DeltasMethod,
  DeltasParamsSchema,
  FingerprintMethod,
  FingerprintParamsSchema,
  HistoryMethod,
  HistoryParamsSchema,
  LastRunsMethod,
  LastRunsParamsSchema,
  RunMethod,
  RunParamsSchema,
  RunProgressMethod,
  StatusChangedMethod,
  StatusMethod,
  TestTreeMethod,
  type CaseResult,
  type EngineStatus,
  type Fingerprint,
  type HistoryEntry,
  type LastRunLens,
  type RunResult,
  type RunSummary,
  type TestTree,
} from "../protocol/runs";
import type { RunRecord, Store } from "../store/store";
import type { FeatureContext } from "./support/context";

// The engine side (store with its native SQLite module, runner, compare, diff, engine client) loads
// on the first request that needs it, not when the server starts: startup is on the activation path.
const engineModules = () =>
  Promise.all([import("../store/store.js"), import("../eval/runner.js"), import("../eval/compare.js"), import("../eval/diff.js"), import("../llm/client.js"), import("../eval/engine-version.js")]).then(
    ([store, runner, compare, diff, client, ev]) => ({ ...store, ...runner, ...compare, ...diff, ...client, ...ev }),
  );
let modules: ReturnType<typeof engineModules> | undefined;
const lazy = () => (modules ??= engineModules());

const REFUSED = "Driftlens generates nothing in a restricted workspace; trust the workspace to run evals.";

interface Root {
  root: string;
  ws: Workspace;
  store?: Store;
  storePath?: string;
}

interface ActiveRun {
  id: string;
  title: string;
  done: number;
  total: number;
  abort: AbortController;
}

export function register(ctx: FeatureContext): void {
  const { connection, log } = ctx;
  const TRUSTED = ctx.trusted;
  const roots = new Map<string, Root>();
  const active = new Map<string, ActiveRun>();
  let engine: EngineClient | undefined;
  let engineStarting: Promise<EngineClient> | undefined;
  let engineKey = "";
  let lastBackend: string | null = null;
  let loadedModels: string[] = [];

  /** Settings pulled fresh from the client (they change at run time). */
  async function settings(): Promise<ServerSettings> {
    try {
      const raw = await connection.workspace.getConfiguration({ section: "driftlens" });
      return parseServerSettings(raw).settings;
    } catch {
      return ctx.settings();
    }
  }

  function rootFor(file: string): Root {
    let root: string;
    try {
      root = ctx.workspaces.forFile(file).root;
    } catch {
      root = path.dirname(file);
    }
    let r = roots.get(root);
    if (!r) {
      r = { root, ws: new Workspace(root) };
      roots.set(root, r);
    }
    return r;
  }

  function allRoots(): Root[] {
    const out: Root[] = [];
    for (const e of ctx.workspaces.folderEntries()) out.push(rootFor(path.join(e.root, "driftlens.yaml")));
    return out;
  }

  function config(r: Root) {
    return r.ws.config().config;
  }

  /** driftlens.yaml under the editor's settings (artifacts/effective-config.ts). */
  function effective(r: Root, s: ServerSettings) {
    return effectiveConfig(config(r), s);
  }

  async function storeFor(r: Root, s: ServerSettings): Promise<Store> {
    const file = effective(r, s).store;
    if (r.store && r.storePath === file) return r.store;
    // driftlens.yaml is a workspace file: its store must be inside the workspace. The user's own
    // setting (a machine-overridable one, ignored in restricted workspaces) may point anywhere.
    const problem = s.store.path ? undefined : storePathProblem(r.root, file);
    if (problem) throw new Error(problem);
    const { Store, describeDriver } = await lazy();
    r.store?.close();
    const store = Store.open(file);
    log.info(`store ${file} opened; SQLite driver: ${describeDriver(store.driver)}`);
    r.store = store;
    r.storePath = file;
    setFingerprintCache(store.fingerprintCache());
    return store;
  }

  function engineSettings(r: Root, s: ServerSettings): EngineSettings {
    return effective(r, s).engine;
  }

  /** One engine worker for the server, started on first need, restarted when its settings change. */
  async function getEngine(es: EngineSettings): Promise<EngineClient> {
    const key = JSON.stringify(es);
    if (engine && key === engineKey) return engine;
    if (engineStarting && key === engineKey) return engineStarting;
    const old = engine;
    engine = undefined;
    engineKey = key;
    await old?.dispose().catch(() => undefined);
    const { EngineClient } = await lazy();
    engineStarting = EngineClient.start(es, { log: (l) => log.info(`engine: ${l}`) }).then(async (e) => {
      engine = e;
      engineStarting = undefined;
      try {
        const info = await e.info();
        lastBackend = info.backend;
        loadedModels = info.loadedModels.map((m) => m.variant);
      } catch {
        /* status only */
      }
      pushStatus();
      return e;
    });
    return engineStarting;
  }

  /**
   * The engine a run uses: served variants go to their endpoints, everything else to the shared
   * local engine worker (started only when a local variant needs it).
   */
  async function routed(es: EngineSettings) {
    const { RoutingEngine } = await import("../llm/remote/router.js");
    return new RoutingEngine(() => getEngine(es), { log: (l) => log.info(l) });
  }

  function status(): EngineStatus {
    const run = [...active.values()][0];
    return { backend: lastBackend, loadedModels, run: run ? { runId: run.id, title: run.title, done: run.done, total: run.total } : null, trusted: TRUSTED };
  }

  let statusTimer: NodeJS.Timeout | undefined;
  function pushStatus(): void {
    if (statusTimer) return;
    statusTimer = setTimeout(() => {
      statusTimer = undefined;
      void connection.sendNotification(StatusChangedMethod, status());
    }, 100);
  }

  async function refreshEngineInfo(): Promise<void> {
    if (!engine) return;
    try {
      const info = await engine.info();
      lastBackend = info.backend;
      loadedModels = info.loadedModels.map((m) => m.variant);
      pushStatus();
    } catch {
      /* status only */
    }
  }

  function renderFor(r: Root): RenderFn {
    const partials = config(r).prompts.partials;
    // Partials are read through the workspace: regular files inside it (or a listed folder) only.
    return (doc, input) => {
      // Adopted files (promptfoo, .prompt.yml, Prompty) render with their own tool's renderer.
      const adopted = (doc as { adoptedRender?: (i: Record<string, unknown>) => ReturnType<RenderFn> }).adoptedRender;
      if (adopted) return adopted(input);
      return renderPrompt(doc as Parameters<typeof renderPrompt>[0], { input }, filePartialResolver((doc as { file: string }).file, partials, (f) => r.ws.read(f)));
    };
  }

  /** The runner's view of a root: its Workspace plus the adopted files in it. */
  function view(r: Root): AdoptedView {
    return adoptedView(r.ws);
  }

  /** (prompt, eval set) pairs for a prompt, an eval set or an adopted file. */
  function targetsFor(r: Root, file: string): EvalTarget[] {
    try {
      return view(r).targetsFor(file);
    } catch {
      return [];
    }
  }

  /** The cases of an eval set (native or adopted), as the runner sees them. */
  function casesOf(r: Root, evalSetFile: string): { id: string; tags: string[]; assert: unknown[]; range: { start: { line: number } } }[] {
    return view(r).evalSet(evalSetFile).cases as never;
  }

  function lineOf(evalSetFile: string, r: Root, caseId: string): number | undefined {
    try {
      return casesOf(r, evalSetFile).find((c) => c.id === caseId)?.range.start.line;
    } catch {
      return undefined;
    }
  }

  const str = (v: unknown) => (v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v));

  connection.onRequest(RunMethod, async (raw: unknown, token): Promise<RunResult> => {
    const p = RunParamsSchema.safeParse(raw);
    if (!p.success) return { runId: "", status: "failed", message: `bad driftlens/run parameters: ${p.error.issues[0]?.message}`, summaries: [] };
    const params = p.data;
    if (!TRUSTED) return { runId: params.runId, status: "refused", message: REFUSED, summaries: [] };
    const anchor = params.file ?? params.targets?.[0]?.promptFile;
    if (!anchor) return { runId: params.runId, status: "failed", message: "nothing to run: give a prompt or an eval set", summaries: [] };
    const r = rootFor(anchor);
    const run: ActiveRun = { id: params.runId, title: path.basename(anchor), done: 0, total: 0, abort: new AbortController() };
    active.set(run.id, run);
    token.onCancellationRequested(() => run.abort.abort());
    pushStatus();
    try {
      const s = await settings();
      const cfgDoc = r.ws.config();
      const { runEvals, compareVariants, ladderForVariants } = await lazy();
      const cfgError = cfgDoc.diagnostics.find((d) => d.severity === "error");
      if (cfgError) return { runId: run.id, status: "failed", message: `${path.relative(r.root, cfgError.file) || cfgError.file}:${cfgError.range.start.line + 1}: ${cfgError.message}`, summaries: [] };
      let targets: EvalTarget[] = [];
      if (params.targets) {
        for (const t of params.targets) targets.push(...(t.evalSetFile ? [{ promptFile: t.promptFile, evalSetFile: t.evalSetFile }] : targetsFor(r, t.promptFile)));
      } else if (params.file) targets = targetsFor(r, params.file);
      if (targets.length === 0) return { runId: run.id, status: "failed", message: `no eval set covers ${path.relative(r.root, anchor)}: list eval sets in the prompt's driftlens.evals, or write one with 'prompt:' naming it`, summaries: [] };
      let caseIds = params.caseIds;
      if (params.slices?.length) {
        const wanted = new Set(params.slices);
        caseIds = targets.flatMap((t) => casesOf(r, t.evalSetFile).filter((c) => c.tags.some((tag) => wanted.has(tag))).map((c) => c.id));
      }
      let variants = params.variants?.length ? params.variants : s.run.defaultVariants.length ? s.run.defaultVariants : undefined;
      // Comparing needs each variant's reference; run those too so their outputs stream in.
      if (params.compare && variants) {
        const withRefs = [...variants];
        for (const v of variants) {
          try {
            const ref = r.ws.resolveVariant(v).referenceId;
            if (ref && !withRefs.includes(ref)) withRefs.push(ref);
          } catch {
            /* the runner reports the bad variant */
          }
        }
        variants = withRefs;
      }
      const store = await storeFor(r, s);
      const es = engineSettings(r, s);
      const render = renderFor(r);
      const report = await runEvals({
        workspace: view(r),
        store,
        engine: async () => routed(es),
        targets,
        variants,
        seed: s.run.seed,
        noCache: params.noCache,
        caseIds,
        signal: run.abort.signal,
        trusted: TRUSTED,
        render,
        memoryBudgetBytes: es.memoryBudgetBytes,
        onProgress: (pr) => {
          run.done = pr.done;
          run.total = pr.total;
          void connection.sendNotification(RunProgressMethod, { runId: run.id, done: pr.done, total: pr.total, message: pr.message });
          pushStatus();
        },
        onCaseResult: (e) => {
          const c = e.case;
          const msg: CaseResult = {
            runId: run.id,
            promptFile: e.promptFile,
            evalSetFile: e.evalSetFile,
            variant: e.variant,
            caseId: c.id,
            tags: c.tags,
            pass: c.pass,
            score: Number.isFinite(c.score) ? c.score : null,
            output: c.output,
            error: c.error,
            cached: c.cached,
            assertions: c.assertions.map((a, i) => {
              const spec = casesOf(r, e.evalSetFile).find((x) => x.id === c.id)?.assert[i] as { value?: unknown } | undefined;
              return { type: a.type, pass: a.pass, score: a.score, message: a.message, expected: str(spec?.value) };
            }),
            tokens: c.tokens.map((t) => ({ text: t.text, prob: t.prob })),
            tokensPerSecond: c.timings?.tokensPerSecond ?? null,
            timeToFirstTokenMs: c.timings?.timeToFirstTokenMs ?? null,
            wallMs: c.timings?.wallMs ?? null,
            line: e.line ?? lineOf(e.evalSetFile, r, c.id),
            ...(c.samples.length > 1 ? { passFraction: c.passFraction, samples: c.samples.map((s) => ({ output: s.output, pass: s.pass, score: Number.isFinite(s.score) ? s.score : null, ...(s.message ? { message: s.message } : {}) })) } : {}),
          };
          void connection.sendNotification(CaseResultMethod, msg);
        },
      });
      void refreshEngineInfo();
      const summaries: RunSummary[] = report.runs.map((x) => ({
        promptFile: x.promptFile,
        evalSetFile: x.evalSetFile,
        variant: x.variant,
        cases: x.summary.cases,
        passed: x.summary.passed,
        failed: x.summary.failed,
        errors: x.summary.errors,
        tokensPerSecond: Number.isFinite(x.summary.tokensPerSecond) ? x.summary.tokensPerSecond : null,
        wallMs: x.summary.wallMs,
      }));
      if (run.abort.signal.aborted) return { runId: run.id, status: "cancelled", summaries, report };
      const problems = [...report.errors.map((e) => e.message), ...report.runs.filter((x) => x.error).map((x) => x.error!)];
      let compare: unknown;
      if (params.compare && variants && variants.length > 1) {
        try {
          // Variants of one family also get the quant ladder (size vs pass rate and KLD) in the webview.
          const ladder = ladderForVariants(config(r), variants);
          if (ladder.problem) problems.push(`quant ladder: ${ladder.problem}`);
          compare = await compareVariants({
            ...(ladder.request ? { ladder: ladder.request } : {}),
            workspace: view(r) as never,
            store,
            engine: async () => routed(es) as never,
            targets,
            variants,
            gate: effective(r, s).gate,
            seed: s.run.seed,
            render,
            signal: run.abort.signal,
            trusted: TRUSTED,
            memoryBudgetBytes: es.memoryBudgetBytes,
            log: (l) => log.info(`compare: ${l}`),
          });
        } catch (e) {
          problems.push(`comparison: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      return { runId: run.id, status: "completed", summaries, report, compare, ...(problems.length ? { message: problems.join("; ") } : {}) };
    } catch (e) {
      if (run.abort.signal.aborted) return { runId: run.id, status: "cancelled", summaries: [] };
      log.error(`run ${run.id} failed`, e);
      return { runId: run.id, status: "failed", message: e instanceof Error ? e.message : String(e), summaries: [] };
    } finally {
      active.delete(run.id);
      pushStatus();
    }
  });

  connection.onRequest(CancelRunMethod, (raw: unknown) => {
    const p = CancelRunParamsSchema.safeParse(raw ?? {});
    let n = 0;
    for (const r of active.values()) {
      if (p.success && p.data.runId && p.data.runId !== r.id) continue;
      r.abort.abort();
      n++;
    }
    return { cancelled: n };
  });

  connection.onRequest(StatusMethod, () => status());

  connection.onRequest(DeltasMethod, async (raw: unknown, token) => {
    const p = DeltasParamsSchema.safeParse(raw);
    if (!p.success) return { status: "failed", message: `bad driftlens/deltas parameters: ${p.error.issues[0]?.message}` };
    if (!TRUSTED) return { status: "refused", message: REFUSED };
    const r = rootFor(p.data.file);
    const run: ActiveRun = { id: p.data.runId, title: `deltas vs ${p.data.baseRef}`, done: 0, total: 0, abort: new AbortController() };
    active.set(run.id, run);
    token.onCancellationRequested(() => run.abort.abort());
    pushStatus();
    try {
      const s = await settings();
      const store = await storeFor(r, s);
      const es = engineSettings(r, s);
      const { diffRefs } = await lazy();
      const report = await diffRefs({
        root: r.root,
        base: p.data.baseRef,
        variants: p.data.variants?.length ? p.data.variants : s.run.defaultVariants.length ? s.run.defaultVariants : undefined,
        store,
        engine: async () => routed(es),
        gate: effective(r, s).gate,
        createWorkspace: (root) => adoptedView(new Workspace(root)) as never,
        seed: s.run.seed,
        render: renderFor(r),
        signal: run.abort.signal,
        trusted: TRUSTED,
        memoryBudgetBytes: es.memoryBudgetBytes,
        onProgress: (pr) => {
          run.done = pr.done;
          run.total = pr.total;
          pushStatus();
        },
      });
      void refreshEngineInfo();
      // Only the prompt asked about (and the prompts of an eval set asked about).
      const top = await gitToplevel(r.root).catch(() => r.root);
      const wanted = new Set<string>();
      if (artifactKind(p.data.file) === "prompt") wanted.add(relPath(r.root, p.data.file));
      else for (const t of targetsFor(r, p.data.file)) wanted.add(relPath(r.root, t.promptFile));
      void top;
      const prompts = report.prompts.filter((x) => wanted.has(x.file) || (x.baseFile !== null && wanted.has(x.baseFile)) || wanted.has(relPath(r.root, path.resolve(r.root, x.file))));
      return { status: run.abort.signal.aborted ? "cancelled" : "completed", report: { ...report, prompts: prompts.length ? prompts : report.prompts } };
    } catch (e) {
      if (run.abort.signal.aborted) return { status: "cancelled" };
      log.error("deltas failed", e);
      return { status: "failed", message: e instanceof Error ? e.message : String(e) };
    } finally {
      active.delete(run.id);
      pushStatus();
    }
  });

  connection.onRequest(FingerprintMethod, async (raw: unknown): Promise<Fingerprint | null> => {
    const p = FingerprintParamsSchema.safeParse(raw);
    if (!p.success || artifactKind(p.data.file) !== "prompt") return null;
    try {
      const r = rootFor(p.data.file);
      const s = await settings();
      const { contentHash, samplingFrom, sha256, currentEngineVersion } = await lazy();
      const prompt = r.ws.prompt(p.data.file);
      const promptHash = contentHash(r.ws.read(p.data.file) ?? "");
      const evalSets = r.ws.evalSetsFor(p.data.file).map((f) => ({ file: f, hash: contentHash(r.ws.read(f) ?? "") }));
      const params = { ...samplingFrom(prompt.config as Record<string, unknown> | undefined), seed: s.run.seed };
      const ref = (prompt as { variant?: { ref?: string } | string }).variant;
      const variantRef = (typeof ref === "string" ? ref : ref?.ref) ?? prompt.model ?? s.run.defaultVariants[0] ?? r.ws.variants().find((v) => v.isReference)?.id;
      const base: Fingerprint = { hash: null, prompt: { file: p.data.file, hash: promptHash }, evalSets, model: null, adapters: [], params };
      if (!variantRef) return { ...base, problem: "no model variant: set `model:` in the prompt or configure models in driftlens.yaml" };
      let v;
      try {
        v = r.ws.resolveVariant(variantRef);
      } catch (e) {
        return { ...base, model: { variant: variantRef, file: null, hash: null }, problem: e instanceof Error ? e.message : String(e) };
      }
      const store = await storeFor(r, s);
      const exists = (f: string) => r.ws.exists(f);
      const modelHash = exists(v.modelPath) ? await store.fingerprintFile(v.modelPath) : null;
      const adapters = await Promise.all(v.adapters.map(async (a) => ({ name: a.name, scale: a.scale, hash: exists(a.path) ? await store.fingerprintFile(a.path) : null })));
      const fp: Fingerprint = { ...base, model: { variant: v.id, file: v.modelPath, hash: modelHash }, adapters };
      if (!modelHash) return { ...fp, problem: `model file ${v.modelPath} does not exist` };
      fp.hash = sha256(JSON.stringify(["fingerprint/1", promptHash, evalSets.map((e) => e.hash), modelHash, adapters.map((a) => [a.hash, a.scale]), params, currentEngineVersion()]));
      return fp;
    } catch (e) {
      log.warn(`fingerprint of ${p.data.file}: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  });

  /** Latest complete run per (eval set, variant) of a file, with its delta vs the base version's latest run. */
  connection.onRequest(LastRunsMethod, async (raw: unknown) => {
    const p = LastRunsParamsSchema.safeParse(raw);
    if (!p.success) return { lenses: [] };
    try {
      const r = rootFor(p.data.file);
      const s = await settings();
      const store = await storeFor(r, s);
      const { contentHash } = await lazy();
      const baseRef = p.data.baseRef ?? s.run.baseRef;
      const lenses: LastRunLens[] = [];
      for (const t of targetsFor(r, p.data.file)) {
        const runs = store.listRuns({ promptFile: t.promptFile, evalSetFile: t.evalSetFile, status: "complete", limit: 200 });
        const latest = new Map<string, RunRecord>();
        for (const run of runs) if (!latest.has(run.variant)) latest.set(run.variant, run);
        if (latest.size === 0) continue;
        const promptNow = contentHash(view(r).read(t.promptFile) ?? "");
        const evalNow = contentHash(view(r).read(t.evalSetFile) ?? "");
        let basePromptHash: string | null = null;
        try {
          const top = await gitToplevel(r.root);
          const text = await showFile(top, baseRef, relPath(top, t.promptFile));
          basePromptHash = text === undefined ? null : contentHash(text);
        } catch {
          basePromptHash = null;
        }
        for (const [variant, run] of latest) {
          const results = store.results(run.id);
          const passed = results.filter((x) => x.pass).length;
          let delta: LastRunLens["delta"] = null;
          const baseRun = basePromptHash && basePromptHash !== run.promptHash ? runs.find((x) => x.variant === variant && x.promptHash === basePromptHash) : undefined;
          if (baseRun) {
            const before = new Map(store.results(baseRun.id).map((x) => [x.caseId, x]));
            const flips: NonNullable<LastRunLens["delta"]>["flips"] = [];
            const slices = new Map<string, { n: number; head: number; base: number }>();
            let common = 0;
            let headPassed = 0;
            let basePassed = 0;
            for (const x of results) {
              const b = before.get(x.caseId);
              if (!b) continue;
              common++;
              headPassed += x.pass ? 1 : 0;
              basePassed += b.pass ? 1 : 0;
              if (b.pass !== x.pass) flips.push({ caseId: x.caseId, from: b.pass, to: x.pass, before: b.output, after: x.output });
              for (const tag of x.tags) {
                const sl = slices.get(tag) ?? { n: 0, head: 0, base: 0 };
                sl.n++;
                sl.head += x.pass ? 1 : 0;
                sl.base += b.pass ? 1 : 0;
                slices.set(tag, sl);
              }
            }
            void common;
            let tail: number | null = null;
            for (const sl of slices.values()) {
              const d = sl.head / sl.n - sl.base / sl.n;
              if (tail === null || d < tail) tail = d;
            }
            delta = { baseRef, passedDelta: headPassed - basePassed, tailDelta: tail, flips };
          }
          lenses.push({
            promptFile: t.promptFile,
            evalSetFile: t.evalSetFile,
            variant,
            passed,
            cases: results.length,
            at: new Date(run.finishedAt ?? run.updatedAt).toISOString(),
            delta,
            stale: run.promptHash !== promptNow || run.evalSetHash !== evalNow,
          });
        }
      }
      return { lenses };
    } catch (e) {
      log.warn(`last runs of ${p.data.file}: ${e instanceof Error ? e.message : String(e)}`);
      return { lenses: [] };
    }
  });

  connection.onRequest(HistoryMethod, async (raw: unknown) => {
    const p = HistoryParamsSchema.safeParse(raw ?? {});
    if (!p.success) return { runs: [] };
    try {
      const s = await settings();
      const rs = p.data.file ? [rootFor(p.data.file)] : allRoots();
      const out: HistoryEntry[] = [];
      for (const r of rs) {
        const store = await storeFor(r, s);
        const kind = p.data.file ? artifactKind(p.data.file) : "unknown";
        const q = kind === "prompt" || kind === "prompty" ? { promptFile: p.data.file } : kind === "evalset" || kind === "promptfoo" || kind === "ghprompt" ? { evalSetFile: p.data.file } : {};
        for (const run of store.listRuns({ ...q, limit: p.data.limit })) {
          const sum = (run.summary ?? {}) as { cases?: number; passed?: number };
          out.push({
            id: run.id,
            at: new Date(run.createdAt).toISOString(),
            variant: run.variant,
            promptFile: run.promptFile,
            evalSetFile: run.evalSetFile,
            cases: typeof sum.cases === "number" ? sum.cases : run.caseCount,
            passed: typeof sum.passed === "number" ? sum.passed : store.results(run.id).filter((x) => x.pass).length,
            complete: run.status === "complete",
            fingerprint: run.fingerprint,
          });
        }
      }
      return { runs: out.sort((a, b) => b.at.localeCompare(a.at)).slice(0, p.data.limit) };
    } catch (e) {
      log.warn(`history: ${e instanceof Error ? e.message : String(e)}`);
      return { runs: [] };
    }
  });

  connection.onRequest(TestTreeMethod, async (): Promise<TestTree> => {
    const tree: TestTree = { evalSets: [], variants: [], references: [] };
    for (const r of allRoots()) {
      try {
        for (const v of r.ws.variants()) {
          if (!tree.variants.includes(v.id)) tree.variants.push(v.id);
          if (v.isReference && !tree.references.includes(v.id)) tree.references.push(v.id);
        }
        for (const f of r.ws.listArtifacts()) {
          const kind = artifactKind(f);
          if (kind === "promptfoo" || kind === "ghprompt") {
            // A promptfoo config runs all its prompts (no single prompt file: the server finds them).
            try {
              const suite = r.ws.adopted(f);
              tree.evalSets.push({ file: f, promptFile: kind === "ghprompt" ? f : null, cases: suite.cases.map((c) => ({ id: c.id, tags: c.tags, line: c.range.start.line, ...(c.description ? { why: c.description } : {}) })) });
            } catch (e) {
              log.warn(`test tree: ${f}: ${e instanceof Error ? e.message : String(e)}`);
            }
            continue;
          }
          if (kind !== "evalset") continue;
          const doc = r.ws.evalSet(f);
          tree.evalSets.push({
            file: f,
            promptFile: r.ws.promptFor(f) ?? null,
            cases: doc.cases.map((c) => ({ id: c.id, tags: c.tags, line: c.range.start.line, ...(c.why ? { why: c.why } : {}) })),
          });
        }
      } catch (e) {
        log.warn(`test tree of ${r.root}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return tree;
  });

  // Files changed on disk: our own workspaces re-read them (they hold no editor overlays).
  ctx.events.onFilesChanged(() => {
    for (const r of roots.values()) {
      const fresh = new Workspace(r.root);
      r.ws = fresh;
    }
  });

  // The connection allows one shutdown handler (server.ts owns it); the engine worker and the
  // stores go with the process.
  process.once("exit", () => {
    for (const r of active.values()) r.abort.abort();
    void engine?.dispose().catch(() => undefined);
    for (const r of roots.values()) r.store?.close();
  });
}

// driftlens/run: runs eval sets on variants, streams each case result and the progress as
// notifications, and (when asked) compares the variants with their references afterwards.
import path from "node:path";
import type { CancellationToken } from "vscode-languageserver/node";
import type { CaseEvent, EvalReport, EvalTarget, RenderFn } from "../../eval/runner";
import type { EngineSettings } from "../../llm/types";
import type { CompareReport } from "../../protocol/reports";
import type { ServerSettings } from "../../protocol/settings";
import { CaseResultMethod, RunParamsSchema, RunProgressMethod, type CaseResult, type RunParams, type RunResult, type RunSummary } from "../../protocol/runs";
import type { Store } from "../../store/store";
import { lazy, REFUSED, type ActiveRun, type Root, type RunsState } from "./state";

const str = (v: unknown) => (v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v));

/** Runs what the params name; answers "refused" in a restricted workspace. */
export async function handleRun(state: RunsState, raw: unknown, token: CancellationToken): Promise<RunResult> {
  const p = RunParamsSchema.safeParse(raw);
  if (!p.success) return { runId: "", status: "failed", message: `bad driftlens/run parameters: ${p.error.issues[0]?.message}`, summaries: [] };
  const params = p.data;
  if (!state.trusted) return { runId: params.runId, status: "refused", message: REFUSED, summaries: [] };
  const anchor = params.file ?? params.targets?.[0]?.promptFile;
  if (!anchor) return { runId: params.runId, status: "failed", message: "nothing to run: give a prompt or an eval set", summaries: [] };
  const r = state.rootFor(anchor);
  const run = state.track(params.runId, path.basename(anchor), token);
  try {
    return await runAndCompare(state, r, run, params, anchor);
  } catch (e) {
    if (run.abort.signal.aborted) return { runId: run.id, status: "cancelled", summaries: [] };
    state.log.error(`run ${run.id} failed`, e);
    return { runId: run.id, status: "failed", message: e instanceof Error ? e.message : String(e), summaries: [] };
  } finally {
    state.untrack(run);
  }
}

/** The run itself, once the params are valid and the run is tracked. */
async function runAndCompare(state: RunsState, r: Root, run: ActiveRun, params: RunParams, anchor: string): Promise<RunResult> {
  const s = await state.settings();
  const cfgDoc = r.ws.config();
  const { runEvals } = await lazy();
  const cfgError = cfgDoc.diagnostics.find((d) => d.severity === "error");
  if (cfgError) return { runId: run.id, status: "failed", message: `${path.relative(r.root, cfgError.file) || cfgError.file}:${cfgError.range.start.line + 1}: ${cfgError.message}`, summaries: [] };
  const targets = targetsOf(state, r, params);
  if (targets.length === 0) return { runId: run.id, status: "failed", message: `no eval set covers ${path.relative(r.root, anchor)}: list eval sets in the prompt's driftlens.evals, or write one with 'prompt:' naming it`, summaries: [] };
  let caseIds = params.caseIds;
  if (params.slices?.length) {
    const wanted = new Set(params.slices);
    caseIds = targets.flatMap((t) => state.casesOf(r, t.evalSetFile).filter((c) => c.tags.some((tag) => wanted.has(tag))).map((c) => c.id));
  }
  let variants = params.variants?.length ? params.variants : s.run.defaultVariants.length ? s.run.defaultVariants : undefined;
  // Comparing needs each variant's reference; run those too so their outputs stream in.
  if (params.compare && variants) variants = withReferences(r, variants);
  const store = await state.storeFor(r, s);
  const es = state.engineSettings(r, s);
  const render = state.renderFor(r);
  const report = await runEvals({
    workspace: state.view(r),
    store,
    engine: async () => state.routed(es),
    targets,
    variants,
    seed: s.run.seed,
    noCache: params.noCache,
    caseIds,
    signal: run.abort.signal,
    trusted: state.trusted,
    render,
    memoryBudgetBytes: es.memoryBudgetBytes,
    onProgress: (pr) => {
      run.done = pr.done;
      run.total = pr.total;
      void state.connection.sendNotification(RunProgressMethod, { runId: run.id, done: pr.done, total: pr.total, message: pr.message });
      state.pushStatus();
    },
    onCaseResult: (e) => void state.connection.sendNotification(CaseResultMethod, toCaseResult(state, r, run.id, e)),
  });
  void state.refreshEngineInfo();
  const summaries = summariesOf(report);
  if (run.abort.signal.aborted) return { runId: run.id, status: "cancelled", summaries, report };
  const problems = [...report.errors.map((e) => e.message), ...report.runs.filter((x) => x.error).map((x) => x.error!)];
  let compare: CompareReport | undefined;
  if (params.compare && variants && variants.length > 1) compare = await compareAfterRun(state, { r, s, es, store, run, targets, variants, render, problems });
  return { runId: run.id, status: "completed", summaries, report, compare, ...(problems.length ? { message: problems.join("; ") } : {}) };
}

/** The (prompt, eval set) pairs the params name: explicit targets, else those covering the file. */
function targetsOf(state: RunsState, r: Root, params: RunParams): EvalTarget[] {
  let targets: EvalTarget[] = [];
  if (params.targets) {
    for (const t of params.targets) targets.push(...(t.evalSetFile ? [{ promptFile: t.promptFile, evalSetFile: t.evalSetFile }] : state.targetsFor(r, t.promptFile)));
  } else if (params.file) targets = state.targetsFor(r, params.file);
  return targets;
}

/** The variants plus each one's reference (once), in order. */
function withReferences(r: Root, variants: string[]): string[] {
  const withRefs = [...variants];
  for (const v of variants) {
    try {
      const ref = r.ws.resolveVariant(v).referenceId;
      if (ref && !withRefs.includes(ref)) withRefs.push(ref);
    } catch {
      /* the runner reports the bad variant */
    }
  }
  return withRefs;
}

/** One case's result as the driftlens/caseResult notification carries it. */
function toCaseResult(state: RunsState, r: Root, runId: string, e: CaseEvent): CaseResult {
  const c = e.case;
  return {
    runId,
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
      const spec = state.casesOf(r, e.evalSetFile).find((x) => x.id === c.id)?.assert[i] as { value?: unknown } | undefined;
      return { type: a.type, pass: a.pass, score: a.score, message: a.message, expected: str(spec?.value) };
    }),
    tokens: c.tokens.map((t) => ({ text: t.text, prob: t.prob })),
    tokensPerSecond: c.timings?.tokensPerSecond ?? null,
    timeToFirstTokenMs: c.timings?.timeToFirstTokenMs ?? null,
    wallMs: c.timings?.wallMs ?? null,
    line: e.line ?? state.lineOf(e.evalSetFile, r, c.id),
    ...(c.samples.length > 1 ? { passFraction: c.passFraction, samples: c.samples.map((s) => ({ output: s.output, pass: s.pass, score: Number.isFinite(s.score) ? s.score : null, ...(s.message ? { message: s.message } : {}) })) } : {}),
  };
}

/** One summary per (prompt, eval set, variant) run of the report. */
function summariesOf(report: EvalReport): RunSummary[] {
  return report.runs.map((x) => ({
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
}

/** What a comparison after a run needs from it. */
interface CompareInputs {
  r: Root;
  s: ServerSettings;
  es: EngineSettings;
  store: Store;
  run: ActiveRun;
  targets: EvalTarget[];
  variants: string[];
  render: RenderFn;
  /** Collects what went wrong (the comparison's failure is one problem, not a failed run). */
  problems: string[];
}

/** Compares the run's variants with their references (and the quant ladder of one family). */
async function compareAfterRun(state: RunsState, c: CompareInputs): Promise<CompareReport | undefined> {
  const { compareVariants, ladderForVariants } = await lazy();
  try {
    // Variants of one family also get the quant ladder (size vs pass rate and KLD) in the webview.
    const ladder = ladderForVariants(state.config(c.r), c.variants);
    if (ladder.problem) c.problems.push(`quant ladder: ${ladder.problem}`);
    return await compareVariants({
      ...(ladder.request ? { ladder: ladder.request } : {}),
      workspace: state.view(c.r),
      store: c.store,
      engine: async () => state.routed(c.es),
      targets: c.targets,
      variants: c.variants,
      gate: state.effective(c.r, c.s).gate,
      seed: c.s.run.seed,
      render: c.render,
      signal: c.run.abort.signal,
      trusted: state.trusted,
      memoryBudgetBytes: c.es.memoryBudgetBytes,
      log: (l) => state.log.info(`compare: ${l}`),
    });
  } catch (e) {
    c.problems.push(`comparison: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

// `compareVariants`: what a quantization or adapter does to the user's own evals. Runs (or reuses
// from the store's cache, through runEvals, which records every run with its full fingerprint)
// the eval sets on each variant and its reference, then compares them case by case: paired pass
// rates overall and per slice, flips, and teacher-forced divergence (kld.ts) of every case.
import fs from "node:fs";
import path from "node:path";
import type { ChatMessage, CorpusTokens, DivergenceRequest, DivergenceResult, ModelSpec, ScoreRequest, ScoreResult } from "../llm/types";
import { sha256, type Store } from "../store/store";
import { KldUnavailableError, kldSource } from "../llm/remote/score";
import { buildLadder, type LadderCorpusInput } from "./ladder";
import { caseDivergence, DEFAULT_KLD_TOP_K, fullVocabularyCase, identicalCase, poolDivergence, poolStatistics, type CaseDivergence } from "../stats/kld";
import type { CaseKld, CompareFlip, CompareReport, CompareVariant, Ladder, SliceKld } from "./report/types";
import {
  generationKey,
  precheckVariant,
  runEvals,
  toChatMessages,
  type EvalCaseReport,
  type EvalReport,
  type EvalRunReport,
  type EvalTarget,
  type RenderFn,
  type RunnerEngine,
  type RunnerVariant,
  type RunnerWorkspace,
} from "./runner";
import { caseFlip, pairedOutcome } from "./sampled-compare";
import { clean, comparePaired, type GateSettings, type PairedCase } from "../stats/stats";
import { currentEngineVersion } from "./engine-version";
import { lazyEngine, passedRunOptions, sliceRows, type LazyEngine } from "./shared-runs";
import { graderAgreement, type GraderAgreement } from "./graders/agreement";
import type { Judge } from "./graders/grade";
import { createJudge } from "./graders/judge";

export type { CompareReport } from "./report/types";
export { ladderForVariants } from "./ladder";

type MaybePromise<T> = T | Promise<T>;

/** What compare needs to know about a variant beyond what the runner uses. */
export interface CompareVariantInfo extends RunnerVariant {
  quant?: string;
  /** The family's reference; for an adapter variant, its base. */
  referenceId?: string;
  family?: string;
  /** Context size the variant runs with (full-vocabulary divergence uses a context of this size). */
  contextSize?: number;
}

export interface CompareWorkspace extends RunnerWorkspace {
  resolveVariant(ref: string): MaybePromise<CompareVariantInfo>;
}

/** The engine calls compare makes: generation (through runEvals) and teacher forcing. */
export interface CompareEngine extends RunnerEngine {
  score(req: ScoreRequest, signal?: AbortSignal): Promise<ScoreResult>;
  /** Full-vocabulary divergence (needed with `fullVocabulary` and for a ladder's corpus). */
  divergence?(req: DivergenceRequest, signal?: AbortSignal): Promise<DivergenceResult>;
  /** Corpus tokenization (needed for a ladder's corpus). */
  corpusTokens?(modelPath: string, text: string): Promise<CorpusTokens>;
  info(): Promise<{ backend: string; threads: number; engineVersion?: string; loadedModels?: { modelPath: string; bytes: number }[] }>;
}

export interface CompareOptions {
  workspace: CompareWorkspace;
  store: Store;
  /** The engine, or a function starting it (compare needs it for divergence even on a cached run). */
  engine: CompareEngine | (() => Promise<CompareEngine>);
  targets: EvalTarget[];
  /** Variants to compare (refs); their references are run too. */
  variants: string[];
  /** Compare every variant against this one instead of its own reference. */
  reference?: string;
  gate: GateSettings;
  /** KL divergence over the reference's top-K (default 20). */
  topK?: number;
  /** KL divergence over the whole vocabulary instead of top-K + rest (exact; slower with large vocabularies). */
  fullVocabulary?: boolean;
  seed?: number;
  noCache?: boolean;
  /** Renders a prompt with a case's vars; the same one runEvals uses. */
  render?: RenderFn;
  signal?: AbortSignal;
  onProgress?: Parameters<typeof runEvals>[0]["onProgress"];
  /** Progress lines for the divergence phase. */
  log?: (line: string) => void;
  trusted?: boolean;
  memoryBudgetBytes?: number;
  gitCommit?: string;
  /** Eval set paths in the report are relative to this folder (the workspace root). */
  root?: string;
  /** Samples per case (cases with their own `repeat` keep it). */
  repeat?: number;
  /** Judge of every model-graded assertion (overrides the configured graders). */
  grader?: string;
  /** Grade every model-graded assertion again with this variant and report how the graders agree. */
  crossGrader?: string;
  /** Also build the quant ladder of this family (report.ladder). */
  ladder?: { family: string; corpus?: LadderCorpusInput; maxKld?: number };
}

export class CompareError extends Error {}

const NO_SCORE: ScoreResult = { id: "", positions: [], wallMs: 0 };

/** Case key across eval sets: the same id may exist in two sets. */
const keyOf = (run: EvalRunReport, c: { id: string }) => `${run.evalSetFile}\u0000${run.promptFile}\u0000${c.id}`;

function toSpec(v: RunnerVariant): ModelSpec {
  return { variant: v.id, modelPath: v.modelPath, adapters: v.adapters.map((a) => ({ path: a.path, scale: a.scale })), ...(v.remote ? { remote: v.remote } : {}) };
}

export async function compareVariants(opts: CompareOptions): Promise<CompareReport> {
  const topK = checkedTopK(opts);
  const failures = new Failures();
  const resolution = await resolveVariants(opts, failures);
  const engine = lazyEngine(opts.engine);
  const report = await runAllVariants(opts, resolution.order, engine.get);
  const runsOf = runsOfVariant(report, resolution.resolved);
  const { pairs, order } = dropFailed(report, runsOf, resolution, failures);
  const messagesFor = messageSource(opts.workspace, opts.render);
  const ctx: CompareContext = {
    opts,
    topK,
    engine,
    messagesFor,
    scoring: referenceScoring(engine.get, messagesFor, topK, opts.signal),
    runsOf,
    display: (file) => (opts.root ? path.relative(opts.root, file).split(path.sep).join("/") : file),
    memory: new Map(),
  };

  const variantsOut: CompareVariant[] = [];
  for (const id of order) {
    const cand = resolution.resolved.get(id)!;
    const reportRef = resolution.reportRef;
    const ref = pairs.find((p) => p.cand.id === id)?.ref ?? (id === reportRef.id ? reportRef : resolution.resolved.get(cand.referenceId ?? id) ?? cand);
    variantsOut.push(await compareVariant(ctx, cand, ref));
  }
  return finishReport(ctx, { report, order, resolution, variantsOut, failures });
}

/** Rejects options compare cannot run with; returns the top-K the divergence uses. */
function checkedTopK(opts: CompareOptions): number {
  const topK = opts.topK ?? DEFAULT_KLD_TOP_K;
  if (!Number.isInteger(topK) || topK < 1) throw new CompareError(`--top-k must be a positive integer, not ${topK}`);
  if (opts.variants.length === 0) throw new CompareError("nothing to compare: give --family or --variant (or configure models in driftlens.yaml)");
  if (opts.targets.length === 0) throw new CompareError("no eval sets to run: give --evals FILE, or add eval sets that name their prompt");
  return topK;
}

/**
 * Variants that could not be resolved or run, each named once. A variant that fails is named in
 * the report and the others are compared as usual: one broken model file must not hide the rest.
 */
class Failures {
  readonly list: { variant: string; error: string }[] = [];
  private readonly failed = new Set<string>();

  add(variant: string, error: string): void {
    if (this.failed.has(variant)) return;
    this.failed.add(variant);
    this.list.push({ variant, error });
  }

  has(variant: string): boolean {
    return this.failed.has(variant);
  }

  /** Every error, joined (the message when nothing is left to compare). */
  joined(): string {
    return this.list.map((f) => f.error).join("; ");
  }
}

interface VariantPair {
  cand: CompareVariantInfo;
  ref: CompareVariantInfo;
}

/** Every variant asked for, paired with the reference it is compared against. */
interface Resolution {
  /** Resolved variants, by the ref they were asked by and by id. */
  resolved: Map<string, CompareVariantInfo>;
  pairs: VariantPair[];
  /** The report's reference: the forced one, else the first pair's (usually the family's). */
  reportRef: CompareVariantInfo;
  /** Variant ids to run: the report's reference, then each pair's reference and candidate, once each. */
  order: string[];
}

/** Resolves every variant and the reference each is compared against (a failure is recorded, not thrown). */
async function resolveVariants(opts: CompareOptions, failures: Failures): Promise<Resolution> {
  const resolved = new Map<string, CompareVariantInfo>();
  const resolve = async (ref: string): Promise<CompareVariantInfo> => {
    const hit = resolved.get(ref);
    if (hit) return hit;
    let v: CompareVariantInfo;
    try {
      v = await opts.workspace.resolveVariant(ref);
    } catch (e) {
      throw new CompareError(e instanceof Error ? e.message : String(e));
    }
    resolved.set(ref, v);
    resolved.set(v.id, v);
    return v;
  };
  const forced = opts.reference ? await resolve(opts.reference) : undefined;
  const pairs: VariantPair[] = [];
  for (const ref of opts.variants) {
    try {
      const cand = await resolve(ref);
      const refId = forced?.id ?? cand.referenceId ?? cand.id;
      pairs.push({ cand, ref: await resolve(refId) });
    } catch (e) {
      failures.add(ref, e instanceof Error ? e.message : String(e));
    }
  }
  if (pairs.length === 0) throw new CompareError(failures.joined() || "nothing to compare");
  const reportRef = forced ?? pairs[0]!.ref;
  const order: string[] = [];
  for (const id of [reportRef.id, ...pairs.flatMap((p) => [p.ref.id, p.cand.id])]) if (!order.includes(id)) order.push(id);
  return { resolved, pairs, reportRef, order };
}

/** Runs (or reuses from the store) every eval on every variant involved. */
function runAllVariants(opts: CompareOptions, order: string[], getEngine: () => Promise<CompareEngine>): Promise<EvalReport> {
  return runEvals({
    workspace: opts.workspace,
    store: opts.store,
    engine: getEngine,
    targets: opts.targets,
    variants: order,
    ...passedRunOptions(opts),
    ...(opts.gitCommit ? { gitCommit: opts.gitCommit } : {}),
  });
}

/** The runs of a variant, by its id (a run names the ref it was asked by). */
function runsOfVariant(report: EvalReport, resolved: Map<string, CompareVariantInfo>): (id: string) => EvalRunReport[] {
  return (id) => report.runs.filter((r) => r.variant === id || resolved.get(r.variant)?.id === id);
}

/**
 * Records every variant whose runs failed, and every candidate whose reference failed, and leaves
 * them out; throws when nothing is left to compare.
 */
function dropFailed(report: EvalReport, runsOf: (id: string) => EvalRunReport[], res: Resolution, failures: Failures): { pairs: VariantPair[]; order: string[] } {
  // A target that could not run at all (an unreadable prompt) affects every variant alike.
  if (report.errors.length && report.runs.length === 0) throw new CompareError(report.errors.map((e) => e.message).join("; "));
  for (const e of report.errors) failures.add(`(${path.basename(e.evalSetFile)})`, e.message);
  for (const id of res.order) {
    const bad = runsOf(id).find((r) => r.status !== "complete");
    if (bad) failures.add(id, bad.error ?? `variant ${id}: the run of ${bad.evalSetFile} did not complete`);
    else if (runsOf(id).length === 0) failures.add(id, `variant ${id}: nothing was run`);
  }
  // A candidate whose reference failed has nothing to be compared with.
  for (const p of res.pairs) if (failures.has(p.ref.id) && !failures.has(p.cand.id)) failures.add(p.cand.id, `variant ${p.cand.id}: its reference ${p.ref.id} failed, so it cannot be compared`);
  const pairs = res.pairs.filter((p) => !failures.has(p.cand.id));
  const order = res.order.filter((id) => !failures.has(id));
  if (order.length === 0 || pairs.length === 0) throw new CompareError(failures.joined());
  return { pairs, order };
}

type MessagesFor = (run: EvalRunReport, caseId: string) => Promise<ChatMessage[]>;

/**
 * Messages per case, for teacher forcing (rendering does not depend on the variant). The same
 * renderer runEvals used, so the forced tokens follow exactly the generating prompt.
 */
function messageSource(ws: CompareWorkspace, optsRender: RenderFn | undefined): MessagesFor {
  const wsRender = ws.render?.bind(ws);
  const render: RenderFn | undefined = optsRender ?? (wsRender ? (doc, input) => wsRender(doc.file ?? "", { input }) : undefined);
  const messagesCache = new Map<string, Promise<ChatMessage[]>>();
  const evalCache = new Map<string, Promise<Map<string, Record<string, unknown>>>>();
  const varsOf = (file: string) => {
    let p = evalCache.get(file);
    if (!p) {
      p = Promise.resolve(ws.evalSet(file)).then((es) => new Map(es.cases.map((c) => [String(c.id), c.vars ?? {}])));
      evalCache.set(file, p);
    }
    return p;
  };
  return (run, caseId) => {
    const key = keyOf(run, { id: caseId });
    let p = messagesCache.get(key);
    if (!p) {
      p = (async () => {
        if (!render) throw new CompareError("internal: compare needs the prompt renderer to teacher-force outputs");
        const prompt = await ws.prompt(run.promptFile);
        const vars = (await varsOf(run.evalSetFile)).get(caseId) ?? {};
        return toChatMessages(await render(prompt, vars));
      })();
      messagesCache.set(key, p);
    }
    return p;
  };
}

/** Teacher-forced scores: the reference's, once per (reference, case), shared by its candidates. */
interface Scoring {
  scoreRef(ref: CompareVariantInfo, run: EvalRunReport, c: EvalCaseReport): Promise<ScoreResult>;
  /** `p`, or no positions when the served side gives no prompt logprobs (the reason kept in noKl under pairKey). */
  scoreOrNoKl(pairKey: string, p: Promise<ScoreResult>): Promise<ScoreResult>;
  /** Candidate id → why it has no KL. */
  noKl: Map<string, string>;
}

function referenceScoring(getEngine: () => Promise<CompareEngine>, messagesFor: MessagesFor, topK: number, signal: AbortSignal | undefined): Scoring {
  const refScores = new Map<string, Promise<ScoreResult>>();
  // A served variant whose server gives no prompt logprobs has no KL; the comparison goes on.
  const noKl = new Map<string, string>();
  const scoreOrNoKl = (pairKey: string, p: Promise<ScoreResult>): Promise<ScoreResult> =>
    p.catch((e: unknown) => {
      if (!(e instanceof KldUnavailableError)) throw e;
      noKl.set(pairKey, e.message);
      return NO_SCORE;
    });
  const scoreRef = (ref: CompareVariantInfo, run: EvalRunReport, c: EvalCaseReport): Promise<ScoreResult> => {
    const key = `${ref.id}\u0000${keyOf(run, c)}`;
    let p = refScores.get(key);
    if (!p) {
      p = (async () =>
        (await getEngine()).score({ id: c.id, model: toSpec(ref), messages: await messagesFor(run, c.id), tokens: c.tokens.map((t) => t.token), topK }, signal))();
      refScores.set(key, p);
    }
    return p;
  };
  return { scoreRef, scoreOrNoKl, noKl };
}

/** What comparing one variant needs from the whole comparison. */
interface CompareContext {
  opts: CompareOptions;
  topK: number;
  engine: LazyEngine<CompareEngine>;
  messagesFor: MessagesFor;
  scoring: Scoring;
  runsOf: (id: string) => EvalRunReport[];
  /** An eval set's path as the report shows it (relative to the workspace root). */
  display: (file: string) => string;
  /** Model file → bytes loaded, as last seen; kept across variants. */
  memory: Map<string, number>;
}

/** One variant against its reference: paired statistics and gate, KL divergence, speed, memory. */
async function compareVariant(ctx: CompareContext, cand: CompareVariantInfo, ref: CompareVariantInfo): Promise<CompareVariant> {
  const isReference = ref.id === cand.id;
  const candRuns = ctx.runsOf(cand.id);
  const refRuns = ctx.runsOf(ref.id);
  const { paired, flips, divergences } = await pairCases(ctx, cand, ref, candRuns, refRuns);
  ctx.opts.log?.(`${cand.id}: ${paired.length} cases compared with ${ref.id}`);
  const cmp = comparePaired(cand.id, paired, ctx.opts.gate);
  const kl = klStatistics(divergences);
  const speed = speedOf(candRuns);
  await recordMemory(ctx, cand, candRuns, refRuns);
  return {
    variant: cand.id,
    quant: cand.quant ?? null,
    isReference,
    comparedTo: ref.id,
    fileBytes: fileBytes(cand.modelPath),
    cases: cmp.overall.cases,
    passRate: cmp.overall.headPassRate,
    referencePassRate: cmp.overall.basePassRate,
    delta: cmp.overall.delta,
    ci: cmp.overall.ci,
    pValue: cmp.overall.pValue,
    slices: sliceRows(cmp.slices),
    kld: kl.pooled.kld,
    kldStats: poolStatistics(divergences),
    top1Agreement: kl.pooled.top1Agreement,
    meanDeltaP: kl.pooled.meanDeltaP,
    divergedCases: kl.pooled.divergedCases,
    kldSlices: kl.kldSlices,
    kldCases: kl.kldCases,
    flips: flips.sort((a, b) => (a.evalSet < b.evalSet ? -1 : a.evalSet > b.evalSet ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    gate: isReference ? { passed: true, reasons: [], warnings: [] } : { passed: cmp.passed, reasons: cmp.reasons, warnings: cmp.warnings },
    tokensPerSecond: speed.tokensPerSecond,
    timeToFirstTokenMs: speed.timeToFirstTokenMs,
    memoryBytes: ctx.memory.get(cand.modelPath) ?? null,
    runFingerprints: candRuns.map((r) => r.fingerprint).filter((x): x is string => x !== null),
    ...servedKl(cand, ref, isReference, ctx.scoring.noKl.get(cand.id), ctx.topK, [...candRuns, ...refRuns]),
  };
}

type EvalSetDivergence = CaseDivergence & { evalSet: string; tags: string[] };

/** Pairs each candidate case with the reference's: pass/fail outcome, flip, and divergence. */
async function pairCases(
  ctx: CompareContext,
  cand: CompareVariantInfo,
  ref: CompareVariantInfo,
  candRuns: EvalRunReport[],
  refRuns: EvalRunReport[],
): Promise<{ paired: PairedCase[]; flips: CompareFlip[]; divergences: EvalSetDivergence[] }> {
  const refCases = new Map<string, { run: EvalRunReport; c: EvalCaseReport }>();
  for (const run of refRuns) for (const c of run.cases) refCases.set(keyOf(run, c), { run, c });
  const paired: PairedCase[] = [];
  const flips: CompareFlip[] = [];
  const divergences: EvalSetDivergence[] = [];
  const newMemos: [string, unknown][] = [];
  for (const run of candRuns) {
    for (const c of run.cases) {
      const r = refCases.get(keyOf(run, c));
      if (!r) continue;
      const label = candRuns.length > 1 || refRuns.length > 1 ? `${run.evalSetFile}#${c.id}` : c.id;
      paired.push({ id: label, tags: c.tags, ...pairedOutcome(r.c, c) });
      const flip = caseFlip(r.c, c);
      if (flip) flips.push({ id: c.id, ...flip, tags: c.tags, evalSet: ctx.display(run.evalSetFile) });
      const d = await divergenceOfCase(ctx, { cand, ref, run, c, refRun: r.run, refCase: r.c }, newMemos);
      divergences.push({ ...d, evalSet: ctx.display(run.evalSetFile), tags: c.tags });
    }
  }
  ctx.opts.store.putMemos(newMemos);
  return { paired, flips, divergences };
}

/** A candidate case and the reference case it is paired with. */
interface CasePair {
  cand: CompareVariantInfo;
  ref: CompareVariantInfo;
  run: EvalRunReport;
  c: EvalCaseReport;
  refRun: EvalRunReport;
  refCase: EvalCaseReport;
}

/** A case's divergence: none for the reference itself or a failed case, else from the store's memo or scored (and queued in newMemos). */
async function divergenceOfCase(ctx: CompareContext, x: CasePair, newMemos: [string, unknown][]): Promise<CaseDivergence> {
  const isReference = x.ref.id === x.cand.id;
  if (isReference || x.refCase.error || x.c.error) return identicalCase(x.c.id, isReference ? x.c.tokens.length : 0);
  // Teacher forcing is deterministic given both runs (their fingerprints cover prompt,
  // rendered cases, model and adapter files, sampling, seed and engine version): a case's
  // divergence is kept in the store, so reopening a comparison scores nothing again.
  const method = ctx.opts.fullVocabulary ? "full" : ctx.topK;
  const memoKey = x.refRun.fingerprint && x.run.fingerprint ? `kld/2:${sha256(JSON.stringify([x.refRun.fingerprint, x.run.fingerprint, x.c.id, method]))}` : undefined;
  const memo = memoKey && !ctx.opts.noCache ? ctx.opts.store.getMemo<CaseDivergence>(memoKey) : undefined;
  if (memo && memo.id === x.c.id && Array.isArray(memo.perPosition) && memo.kld) return memo;
  const d = await scoreCase(ctx, x, ctx.scoring.noKl.has(x.cand.id));
  // Scoring this case may have found out the pair has no KL (a server without prompt logprobs):
  // then there is nothing to keep.
  if (memoKey && !ctx.scoring.noKl.has(x.cand.id)) newMemos.push([memoKey, d]);
  return d;
}

/**
 * Scores one case pair by teacher forcing: the whole vocabulary, or top-K + rest (nothing when the
 * pair has no KL; `none` says whether that was known before this case).
 */
async function scoreCase(ctx: CompareContext, x: CasePair, none: boolean): Promise<CaseDivergence> {
  const { cand, ref, c } = x;
  const refTokens = x.refCase.tokens.map((t) => t.token);
  const candTokens = c.tokens.map((t) => t.token);
  const signal = ctx.opts.signal;
  if (ctx.opts.fullVocabulary === true && !none) {
    return caseDivergenceOf({
      engine: await ctx.engine.get(),
      reference: ref,
      candidate: cand,
      messages: await ctx.messagesFor(x.refRun, c.id),
      refTokens,
      candTokens,
      id: c.id,
      topK: ctx.topK,
      fullVocabulary: true,
      refScore: () => ctx.scoring.scoreRef(ref, x.refRun, x.refCase),
      ...(signal ? { signal } : {}),
    });
  }
  const { noKl, scoreOrNoKl } = ctx.scoring;
  const refScore = noKl.has(cand.id) ? NO_SCORE : await scoreOrNoKl(cand.id, ctx.scoring.scoreRef(ref, x.refRun, x.refCase));
  const probe = refScore.positions.map((pos) => pos.top.map((t) => t.token));
  const candScore = noKl.has(cand.id)
    ? NO_SCORE
    : await scoreOrNoKl(cand.id, (await ctx.engine.get()).score({ id: c.id, model: toSpec(cand), messages: await ctx.messagesFor(x.refRun, c.id), tokens: refTokens, topK: 1, probe }, signal));
  // Asked again: scoring either side may just have found out the pair has no KL.
  const noneNow = noKl.has(cand.id);
  return caseDivergence(c.id, noneNow ? [] : refScore.positions, noneNow ? [] : candScore.positions, refTokens, candTokens, ctx.topK);
}

/** Pooled KL divergence of a variant, per slice (largest mean first) and per case (largest first). */
function klStatistics(divergences: EvalSetDivergence[]): { pooled: ReturnType<typeof poolDivergence>; kldSlices: SliceKld[]; kldCases: CaseKld[] } {
  const pooled = poolDivergence(divergences);
  const sliceNames = [...new Set(divergences.flatMap((d) => d.tags))].sort();
  const kldSlices: SliceKld[] = sliceNames.map((name) => {
    const inSlice = divergences.filter((d) => d.tags.includes(name));
    const p = poolDivergence(inSlice);
    const stats = poolStatistics(inSlice);
    return { name, ...p.kld, stderr: stats.kld.stderr, positions: p.positions, top1Agreement: p.top1Agreement, stats };
  });
  kldSlices.sort((a, b) => b.mean - a.mean || (a.name < b.name ? -1 : 1));
  const kldCases: CaseKld[] = divergences
    .map((d) => ({
      id: d.id,
      evalSet: d.evalSet,
      positions: d.positions,
      ...d.kld,
      top1Agreement: d.top1Agreement,
      meanDeltaP: d.meanDeltaP,
      firstDivergence: d.firstDivergence,
    }))
    .sort((a, b) => b.mean - a.mean || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { pooled, kldSlices, kldCases };
}

/** Speed, from the generations themselves (cached results keep their original timings). */
function speedOf(candRuns: EvalRunReport[]): { tokensPerSecond: number | null; timeToFirstTokenMs: number | null } {
  const allCases = candRuns.flatMap((r) => r.cases).filter((c) => !c.error && c.tokens.length > 0);
  return {
    tokensPerSecond: allCases.length ? clean(allCases.reduce((a, c) => a + (c.timings?.tokensPerSecond ?? 0), 0) / allCases.length) : null,
    timeToFirstTokenMs: allCases.length ? clean(allCases.reduce((a, c) => a + (c.timings?.timeToFirstTokenMs ?? 0), 0) / allCases.length) : null,
  };
}

/**
 * Notes in ctx.memory the loaded models right after this variant was scored (an LRU budget may
 * unload it later), and keeps them in the store by model content. A comparison served from the
 * store starts no engine: then the memory the engine reported when it last had this model file
 * (by content) loaded.
 */
async function recordMemory(ctx: CompareContext, cand: CompareVariantInfo, candRuns: EvalRunReport[], refRuns: EvalRunReport[]): Promise<void> {
  const memoryKey = (modelPath: string) => {
    const fp = candRuns.find((x) => x.modelPath === modelPath)?.modelFingerprint ?? refRuns.find((x) => x.modelPath === modelPath)?.modelFingerprint;
    return fp ? `model-bytes/1:${fp}` : undefined;
  };
  const started = ctx.engine.started();
  if (started) {
    const now = await (await started).info().catch(() => undefined);
    const seen: [string, unknown][] = [];
    for (const m of now?.loadedModels ?? []) {
      ctx.memory.set(m.modelPath, m.bytes);
      const k = memoryKey(m.modelPath);
      if (k) seen.push([k, m.bytes]);
    }
    ctx.opts.store.putMemos(seen);
  }
  if (!ctx.memory.has(cand.modelPath)) {
    const k = memoryKey(cand.modelPath);
    const bytes = k ? ctx.opts.store.getMemo<number>(k) : undefined;
    if (typeof bytes === "number") ctx.memory.set(cand.modelPath, bytes);
  }
}

/** A model file's size, or null when it cannot be read (a served variant has none). */
function fileBytes(p: string): number | null {
  try {
    return fs.statSync(p).size;
  } catch {
    return null;
  }
}

/** The report: every variant, the overall gate (failed variants fail it), grader agreement and the ladder. */
async function finishReport(
  ctx: CompareContext,
  x: { report: EvalReport; order: string[]; resolution: Resolution; variantsOut: CompareVariant[]; failures: Failures },
): Promise<CompareReport> {
  const { opts, display } = ctx;
  const { resolved, reportRef } = x.resolution;
  const failures = x.failures.list;
  const reasons = [...x.variantsOut.flatMap((v) => v.gate.reasons), ...failures.map((f) => `${f.variant} could not be compared: ${f.error}`)];
  const agreement = opts.crossGrader
    ? await crossGrade(opts, opts.crossGrader, x.report.runs.filter((r) => x.order.some((id) => r.variant === id || resolved.get(r.variant)?.id === id)), ctx.engine.get, ctx.messagesFor)
    : undefined;
  if (agreement) for (const d of agreement.disagreements) d.evalSet = display(d.evalSet);
  const out: CompareReport = {
    reference: reportRef.id,
    evalSets: [...new Set(opts.targets.map((t) => display(t.evalSetFile)))],
    topK: ctx.topK,
    kldMethod: opts.fullVocabulary ? "full-vocabulary" : "top-K",
    gate: { ...opts.gate, passed: reasons.length === 0, reasons },
    variants: x.variantsOut,
    ...(failures.length ? { failures } : {}),
    ...(agreement ? { graderAgreement: agreement } : {}),
  };
  if (opts.ladder) out.ladder = await ladderOf(out, opts.ladder, opts, [...resolved.values()], ctx.engine.get);
  return out;
}

/** Divergence of one candidate case from the reference's output: top-K + rest, or the whole vocabulary. */
async function caseDivergenceOf(x: {
  engine: CompareEngine;
  reference: CompareVariantInfo;
  candidate: CompareVariantInfo;
  messages: ChatMessage[];
  refTokens: number[];
  candTokens: number[];
  id: string;
  topK: number;
  fullVocabulary: boolean;
  refScore: () => Promise<ScoreResult>;
  signal?: AbortSignal;
}): Promise<CaseDivergence> {
  if (x.fullVocabulary) {
    if (!x.engine.divergence) throw new CompareError("this engine cannot compute full-vocabulary divergence");
    const res = await x.engine.divergence(
      {
        id: x.id,
        reference: toSpec(x.reference),
        candidates: [toSpec(x.candidate)],
        sequences: [{ messages: x.messages, forced: x.refTokens }],
        contextSize: Math.max(x.reference.contextSize ?? 0, x.candidate.contextSize ?? 0) || 2048,
        storage: "exact",
      },
      x.signal,
    );
    const seq = res.sequences[0]!;
    return fullVocabularyCase(x.id, seq.candidates[0]!, seq.nllBase, x.refTokens, x.candTokens);
  }
  const refScore = await x.refScore();
  const probe = refScore.positions.map((pos) => pos.top.map((t) => t.token));
  const candScore = await x.engine.score({ id: x.id, model: toSpec(x.candidate), messages: x.messages, tokens: x.refTokens, topK: 1, probe }, x.signal);
  return caseDivergence(x.id, refScore.positions, candScore.positions, x.refTokens, x.candTokens, x.topK);
}

/** The quant ladder of a finished comparison (corpus figures from the engine or the store). */
async function ladderOf(
  report: CompareReport,
  ladder: NonNullable<CompareOptions["ladder"]>,
  opts: CompareOptions,
  variants: CompareVariantInfo[],
  getEngine: () => Promise<CompareEngine>,
): Promise<Ladder> {
  return buildLadder({
    report,
    family: ladder.family,
    specs: new Map(variants.map((v) => [v.id, toSpec(v)])),
    ...(ladder.corpus ? { corpus: ladder.corpus } : {}),
    ...(ladder.maxKld !== undefined ? { maxKld: ladder.maxKld } : {}),
    engine: async () => {
      const e = await getEngine();
      if (!e.divergence || !e.corpusTokens) throw new CompareError("this engine cannot compute corpus KL divergence");
      return { divergence: e.divergence.bind(e), corpusTokens: e.corpusTokens.bind(e) };
    },
    store: opts.store,
    ...(opts.noCache ? { noCache: true } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

/** `--cross-grader`: every model-graded verdict of the compared runs, again by `other`. */
async function crossGrade(
  opts: CompareOptions,
  other: string,
  runs: EvalRunReport[],
  getEngine: () => Promise<CompareEngine>,
  messagesFor: (run: EvalRunReport, caseId: string) => Promise<ChatMessage[]>,
): Promise<GraderAgreement> {
  const ws = opts.workspace;
  try {
    await ws.resolveVariant(other);
  } catch (e) {
    throw new CompareError(`--cross-grader ${other}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let configGrader: string | undefined;
  try {
    configGrader = ws.grader ? await ws.grader() : undefined;
  } catch {
    configGrader = undefined;
  }
  const base = {
    resolveVariant: (r: string) => ws.resolveVariant(r),
    store: opts.store,
    getEngine,
    engineVersion: currentEngineVersion(),
    generationKey,
    precheck: (v: RunnerVariant) => precheckVariant(v, opts.memoryBudgetBytes),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const sets = new Map<string, Promise<Awaited<ReturnType<CompareWorkspace["evalSet"]>>>>();
  const evalSet = (file: string) => {
    let p = sets.get(file);
    if (!p) sets.set(file, (p = Promise.resolve(ws.evalSet(file))));
    return p;
  };
  const judges = new Map<string, Judge>();
  const graderOf = async (file: string) => {
    const g = (await evalSet(file)).grader;
    return typeof g === "string" ? g : g?.ref;
  };
  const esGraders = new Map<string, string | undefined>();
  for (const r of runs) if (!esGraders.has(r.evalSetFile)) esGraders.set(r.evalSetFile, await graderOf(r.evalSetFile));
  return graderAgreement({
    runs,
    evalSet: async (file) => {
      const es = await evalSet(file);
      return { cases: es.cases, defaultAssert: es.defaultAssert ?? [] };
    },
    promptText: async (run, id) => (await messagesFor(run, id)).map((m) => m.text).join("\n\n"),
    configured: (file) => {
      let j = judges.get(file);
      if (!j) judges.set(file, (j = createJudge({ ...base, ...(opts.grader ? { override: opts.grader } : {}), defaults: [esGraders.get(file), configGrader] })));
      return j;
    },
    other: createJudge({ ...base, override: other, defaults: [] }),
    otherRef: other,
  });
}

/**
 * How a pair with a served side was scored (source and the K actually used), or why it has no KL.
 * Local pairs get neither field.
 */
function servedKl(cand: CompareVariantInfo, ref: CompareVariantInfo, isReference: boolean, unavailable: string | undefined, topK: number, runs: EvalRunReport[]): Partial<CompareVariant> {
  if (isReference || (!cand.remote && !ref.remote)) return {};
  if (unavailable) return { kldUnavailable: unavailable };
  const kindOf = (v: CompareVariantInfo) => (runs.find((r) => r.variant === v.id)?.backend ?? "").replace(/^remote /, "");
  const describe = (v: CompareVariantInfo, role: string) => {
    if (!v.remote) return undefined;
    const s = kldSource(kindOf(v) as Parameters<typeof kldSource>[0], undefined, topK);
    return "source" in s ? `${role} ${v.id}: ${s.source}` : undefined;
  };
  const refSide = ref.remote ? kldSource(kindOf(ref) as Parameters<typeof kldSource>[0], undefined, topK) : undefined;
  const k = refSide && "topK" in refSide ? refSide.topK : topK;
  return { kldSource: [describe(ref, "reference"), describe(cand, "candidate")].filter(Boolean).join("; "), kldTopK: k };
}

/** The fields of a compare report that vary run to run (for tests and tools that diff reports). */
export const COMPARE_TIMING_FIELDS = ["tokensPerSecond", "timeToFirstTokenMs", "memoryBytes"] as const;

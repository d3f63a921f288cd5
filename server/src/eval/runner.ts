// The eval runner: prompt × eval set × variants → stored runs and an EvalReport (the JSON of `driftlens eval`).
//
// For each target and variant it computes the behavioural fingerprint, resumes an interrupted run
// with that fingerprint or starts a new one, answers each case from the generation cache when it
// can, sends only the misses to the engine (started lazily: a fully cached run never starts it,
// so it loads no model), evaluates assertions, and writes each result as it finishes, so a kill
// loses at most the cases in flight. A run is marked complete only when every case has a result.
// A variant whose model cannot be used fails alone, with the variant and file named.
import type { CaseSource, EvalCaseReport, EvalReport, EvalRunReport, EvalRunSummary, EvalSampleReport } from "../protocol/reports";
import fs from "node:fs";
import path from "node:path";
import { checkTensorBounds, ggufFacts, ggufFileInfo, readGgufHeader } from "../gguf/reader";
import { identifyRemote, type RemoteIdentity } from "../llm/remote/probe";
import { endpointsOf, servedEndpointReports, type EndpointReport } from "../llm/remote/report";
import { servedStructuredKey, structuredWarning } from "../llm/remote/structured";
import type { ChatMessage, EngineFailure, GenerateRequest, GenerateResult, RemoteModelSpec, SamplingParams } from "../llm/types";
import { normalizeTokens } from "../store/token-codec";
import { contentHash, sha256, type AdapterFingerprint, type CachedGeneration, type CaseResultRecord, type RunRecord, type Store, type StoredToken } from "../store/store";
import { structuredOutputOf, type StructuredOutputSpec } from "../artifacts/structured";
import { combine, evaluateAssertions, type Assertion, type CaseEvaluation } from "./assertions";
import { prepareAssertion } from "../artifacts/assertions";
import { currentEngineVersion } from "./engine-version";
import type { Judge } from "./graders/grade";
import { createJudge, graderIdentity } from "./graders/judge";
import { combineSamples, passFractionOf, repeatFor, sampleRequestId, sampleSeed } from "./samples";
import { checkStructuredOutput } from "./structured-check";
import { inShard } from "./shard";
import { isStoreError, storeErrorMessage } from "./store-errors";

type MaybePromise<T> = T | Promise<T>;

// ---- what the runner needs from its collaborators (structural, so tests and callers can plug in) ----

export interface RunnerCase {
  id: string | number;
  vars?: Record<string, unknown>;
  assert?: Assertion[];
  tags?: (string | number)[];
  threshold?: number;
  range?: { start: { line: number } };
  /** promptfoo configs: the test's output transform, and whether its assertions may have their own. */
  transform?: string;
  assertionTransforms?: boolean;
  /** Samples to draw for this case. */
  repeat?: number;
}

export interface RunnerEvalSet {
  file?: string;
  text?: string;
  cases: RunnerCase[];
  /** Named slices: tag lists (or {tags}); every tag is also a slice of its own. */
  slices?: unknown;
  /** Assertions applied to every case. */
  defaultAssert?: Assertion[];
  diagnostics?: { severity: string; message: string; range?: { start: { line: number } } }[];
  /** Samples per case (cases may override). */
  repeat?: number;
  /** Judge of the model-graded assertions. */
  grader?: { ref: string } | string;
}

export interface RunnerPrompt {
  file?: string;
  text?: string;
  model?: string;
  variant?: { ref: string } | string;
  /** Several variants of its own (an adopted file's providers, mapped through driftlens.yaml). */
  variants?: string[];
  config?: Record<string, unknown>;
  diagnostics?: { severity: string; message: string; range?: { start: { line: number } } }[];
  /** Partials the template uses. */
  partials?: { name: string }[];
  /** Dotprompt output: `format: json` (with a schema) generates under a grammar. */
  output?: { format?: string; schema?: unknown; jsonSchema?: Record<string, unknown> };
  /** `driftlens.constrain: false`: a JSON prompt generates free text (still validated). */
  constrain?: boolean;
}

export interface RunnerVariant {
  id: string;
  modelPath: string;
  adapters: { name: string; file?: string; path: string; scale: number }[];
  isReference?: boolean;
  /** A served model: generated on its endpoints, fingerprinted by what they report. */
  remote?: RemoteModelSpec;
}

/**
 * The variants a prompt runs on: those asked for, else the prompt's own (`model:`, or a Driftlens
 * variant key), else every family's reference variant.
 */
export async function variantRefsFor(ws: Pick<RunnerWorkspace, "variants">, prompt: RunnerPrompt, requested?: readonly string[]): Promise<string[]> {
  if (requested?.length) return [...requested];
  if (prompt.variants?.length) return [...prompt.variants];
  const own = typeof prompt.variant === "string" ? prompt.variant : (prompt.variant?.ref ?? prompt.model);
  if (own) return [own];
  return (await ws.variants()).filter((v) => v.isReference).map((v) => v.id);
}

/** The part of Workspace (server/src/artifacts) the runner uses. */
export interface RunnerWorkspace {
  prompt(file: string): MaybePromise<RunnerPrompt>;
  evalSet(file: string): MaybePromise<RunnerEvalSet>;
  resolveVariant(ref: string): MaybePromise<RunnerVariant>;
  variants(): MaybePromise<RunnerVariant[]>;
  /** A file's text, with unsaved editor overlays (Workspace.read); undefined when it may not be read. */
  read?(file: string): string | undefined;
  /** Why read() gave nothing (Workspace.readProblem). */
  readProblem?(file: string): string | undefined;
  /** The file of a partial used by a prompt (Workspace.partialFile). */
  partialFile?(name: string, promptFile: string): string | undefined;
  /** Renders a prompt file with data (Workspace.render); used when runEvals gets no `render`. */
  render?(promptFile: string, data: { input?: Record<string, unknown> }): Promise<RenderedLike>;
  /** driftlens.yaml's embedding model (absolute GGUF path), undefined when none; throws when it is wrong. */
  embeddingModel?(): MaybePromise<string | undefined>;
  /** driftlens.yaml's default grader (family/variant) for model-graded assertions. */
  grader?(): MaybePromise<string | undefined>;
}

/** A rendered prompt as renderPrompt returns it (only what the runner reads). */
export interface RenderedLike {
  messages: { role: string; content: ({ text?: string } | { media?: unknown })[] }[];
  config?: Record<string, unknown>;
}

export type RenderFn = (prompt: RunnerPrompt, input: Record<string, unknown>) => Promise<RenderedLike>;

/** The part of EngineClient the runner uses. */
export interface RunnerEngine {
  /** Resolves when every request is answered; for served variants, with per-endpoint reports (llm/remote). */
  generateMany(reqs: GenerateRequest[], onResult: (r: GenerateResult | { id: string; failure: EngineFailure }) => void, signal?: AbortSignal): Promise<unknown>;
  info(): Promise<{ backend: string; threads: number; engineVersion?: string }>;
  /** Embedding vectors (for `similar` with driftlens.yaml's `embedding.model`). */
  embed?(modelPath: string, texts: string[]): Promise<number[][]>;
}

export interface EvalTarget {
  promptFile: string;
  evalSetFile: string;
}

export interface EvalProgress {
  done: number;
  total: number;
  generated: number;
  cached: number;
  failed: number;
  /** Generated tokens per second over this call so far. */
  tokensPerSecond: number;
  /** Estimated time left, ms (null before anything was generated). */
  etaMs: number | null;
  variant?: string;
  promptFile?: string;
  message?: string;
}

export interface CaseEvent {
  runId: string;
  promptFile: string;
  evalSetFile: string;
  variant: string;
  case: EvalCaseReport;
  line?: number;
}

export interface RunEvalsOptions {
  workspace: RunnerWorkspace;
  store: Store;
  /** The engine, or a function starting it (called only when some case is not cached). */
  engine: RunnerEngine | (() => Promise<RunnerEngine>);
  targets: EvalTarget[];
  /** Variant refs; default: the prompt's driftlens.variant or model, else each family's reference. */
  variants?: string[];
  /** Run seed (default 0); each case's seed is derived from it and the case id. */
  seed?: number;
  /** Ignore the generation cache (results are still written to it). */
  noCache?: boolean;
  /** Only these case ids (the run's fingerprint includes the selection). */
  caseIds?: string[];
  /** Only shard `index` (1-based) of `count`: a deterministic split of every eval set's cases (eval/shard.ts). */
  shard?: { index: number; count: number };
  signal?: AbortSignal;
  onProgress?: (p: EvalProgress) => void;
  onCaseResult?: (e: CaseEvent) => void;
  /** Renders a prompt with a case's vars (default: the artifacts renderer). */
  render?: RenderFn;
  /** Whether `javascript` assertions may run. */
  trusted?: boolean;
  /**
   * Embeddings for `similar` assertions. Default: the engine's, with the workspace's embedding
   * model (driftlens.yaml `embedding.model`) when one is configured; none otherwise.
   */
  embed?: (texts: string[]) => Promise<number[][]>;
  /** Top alternatives recorded per token (default 5). */
  topLogprobs?: number;
  /** Memory budget, bytes: a model file larger than this fails before loading. */
  memoryBudgetBytes?: number;
  /** Engine version for fingerprints and cache keys (default: computed without starting the engine). */
  engineVersion?: string;
  /** Git commit recorded with artifact versions: one for all files, or per absolute file path. */
  gitCommit?: string | Record<string, string>;
  /** Samples per case for cases that set no `repeat` of their own (overrides the eval set's). */
  repeat?: number;
  /** Judge of every model-graded assertion (overrides assertions', eval sets' and driftlens.yaml's graders). */
  grader?: string;
}

// ---- the report (`driftlens eval --format json`; fields are only ever added, never renamed) ----
// Its one home is the wire contract, server/src/protocol/reports.ts (zod, types by z.infer).
export type { CaseSource, EvalCaseReport, EvalReport, EvalRunReport, EvalRunSummary, EvalSampleReport } from "../protocol/reports";

/** A configuration problem that stops the whole call (no targets, no variants). */
export class EvalConfigError extends Error {}

// ---- helpers ----

/** Per-case seed: 31 bits of sha256(run seed, case id), stable across runs and machines. */
export function caseSeed(runSeed: number, caseId: string): number {
  return parseInt(sha256(`${runSeed}\u0000${caseId}`).slice(0, 8), 16) >>> 1;
}

/** Sampling parameters from a rendered prompt's config (Dotprompt/Genkit names), with defaults. */
export function samplingFrom(config: Record<string, unknown> | undefined): Omit<SamplingParams, "seed"> {
  const c = config ?? {};
  const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
  const stop = Array.isArray(c.stopSequences) ? c.stopSequences.map(String) : Array.isArray(c.stop) ? (c.stop as unknown[]).map(String) : [];
  const p: Omit<SamplingParams, "seed"> = {
    temperature: num(c.temperature) ?? 0,
    maxTokens: Math.max(1, Math.floor(num(c.maxOutputTokens) ?? num(c.maxTokens) ?? 64)),
    stop,
  };
  const topK = num(c.topK);
  const topP = num(c.topP);
  if (topK !== undefined) p.topK = topK;
  if (topP !== undefined) p.topP = topP;
  return p;
}

export function toChatMessages(r: RenderedLike): ChatMessage[] {
  const roles = new Set(["system", "user", "model", "tool"]);
  return r.messages.map((m) => ({
    role: (roles.has(m.role) ? m.role : m.role === "assistant" ? "model" : "user") as ChatMessage["role"],
    text: m.content.map((p) => ("text" in p && typeof p.text === "string" ? p.text : "")).join(""),
  }));
}

/** Generation cache key: everything that determines a generation's output. */
export function generationKey(input: {
  messages: ChatMessage[];
  modelFingerprint: string;
  adapters: { fingerprint: string; scale: number }[];
  params: SamplingParams;
  engineVersion: string;
  topLogprobs: number;
  /** The output grammar's key (structured output): absent for free text, so free-text keys are unchanged. */
  structured?: string;
}): string {
  return sha256(
    JSON.stringify([
      "gen/1",
      input.messages.map((m) => [m.role, m.text]),
      input.modelFingerprint,
      input.adapters.map((a) => [a.fingerprint, a.scale]),
      [input.params.temperature, input.params.topK ?? null, input.params.topP ?? null, input.params.maxTokens, input.params.stop, input.params.seed],
      input.engineVersion,
      input.topLogprobs,
      ...(input.structured ? [input.structured] : []),
    ]),
  );
}

function errorsOf(diags: RunnerPrompt["diagnostics"]): string[] {
  return (diags ?? []).filter((d) => d.severity === "error").map((d) => `${d.range ? `line ${d.range.start.line + 1}: ` : ""}${d.message}`);
}

interface SliceDef {
  tags: string[];
  caseIds: string[];
}

function sliceDefs(slices: unknown): Record<string, SliceDef> {
  const out: Record<string, SliceDef> = {};
  if (!slices || typeof slices !== "object") return out;
  const entries: [string, unknown][] = Array.isArray(slices)
    ? slices.map((s) => [String((s as { name?: unknown }).name ?? ""), s] as [string, unknown])
    : Object.entries(slices as Record<string, unknown>);
  for (const [name, def] of entries) {
    if (!name) continue;
    if (Array.isArray(def)) out[name] = { tags: def.map(String), caseIds: [] };
    else if (def && typeof def === "object") {
      const d = def as { tags?: unknown; caseIds?: unknown };
      out[name] = { tags: Array.isArray(d.tags) ? d.tags.map(String) : [], caseIds: Array.isArray(d.caseIds) ? d.caseIds.map(String) : [] };
    }
  }
  return out;
}

/** Pass rates per slice: every tag is a slice, plus the eval set's named slices. */
function slicesFor(cases: EvalCaseReport[], defs: Record<string, SliceDef>): EvalRunReport["slices"] {
  const out: EvalRunReport["slices"] = {};
  for (const c of cases) {
    const names = new Set(c.tags);
    for (const [name, d] of Object.entries(defs)) if (d.caseIds.includes(c.id) || c.tags.some((t) => d.tags.includes(t))) names.add(name);
    for (const name of names) {
      const s = (out[name] ??= { cases: 0, passed: 0, passRate: 0 });
      s.cases++;
      if (c.pass) s.passed++;
      // Summed pass fractions for now (divided below): with one sample each, the pass count.
      s.passRate += c.passFraction;
    }
  }
  for (const s of Object.values(out)) s.passRate = s.cases ? s.passRate / s.cases : 0;
  return out;
}

function summarize(cases: EvalCaseReport[], genTokens: number, genMs: number, wallMs: number): EvalRunSummary {
  let passed = 0;
  let errors = 0;
  const from = { generated: 0, cached: 0, resumed: 0 };
  for (const c of cases) {
    if (c.pass) passed++;
    if (c.error !== undefined) errors++;
    from[c.source]++;
  }
  return {
    cases: cases.length,
    passed,
    failed: cases.length - passed,
    errors,
    // Mean pass fraction: the share of passing samples per case, averaged over cases.
    passRate: cases.length ? cases.reduce((a, c) => a + c.passFraction, 0) / cases.length : 0,
    ...from,
    tokensPerSecond: genMs > 0 ? genTokens / (genMs / 1000) : 0,
    wallMs,
  };
}

function toCaseReport(r: CaseResultRecord, source: CaseSource = r.cached ? "cached" : "generated"): EvalCaseReport {
  const firstFailure = (x: { error?: string | null; assertions: { pass: boolean; message: string }[] }) => x.error ?? x.assertions.find((a) => !a.pass)?.message;
  const sample = (x: { output: string; pass: boolean; score: number; error?: string | null; assertions: { pass: boolean; message: string }[] }): EvalSampleReport => {
    const m = x.pass ? undefined : firstFailure(x);
    return { output: x.output, pass: x.pass, score: x.score, ...(m ? { message: m } : {}) };
  };
  return {
    id: r.caseId,
    pass: r.pass,
    score: r.score,
    passFraction: passFractionOf(r),
    samples: r.samples && r.samples.length > 1 ? r.samples.map(sample) : [sample(r)],
    output: r.output,
    tokens: r.tokens,
    cached: r.cached,
    source,
    assertions: r.assertions.map((a) => ({ type: a.type, pass: a.pass, score: a.score, message: a.message })),
    tags: r.tags,
    ...(r.error !== null ? { error: r.error } : {}),
    timings: r.timings,
  };
}

const VARIANT_FAILURES = new Set<EngineFailure["kind"]>(["model-missing", "model-corrupt", "adapter-mismatch", "out-of-memory", "crashed"]);

/**
 * Checks a variant's files before any model is loaded: present, a readable GGUF whose tensors fit
 * in the file, within the memory budget, adapters that are LoRA files for the same architecture.
 * Returns a message naming the variant and the file, or undefined when all is well.
 */
export function precheckVariant(v: RunnerVariant, memoryBudgetBytes?: number): string | undefined {
  const check = (file: string, what: string): { arch?: string; isLora: boolean } | string => {
    if (!fs.existsSync(file)) return `variant ${v.id}: ${what} ${file} does not exist; fix its path in driftlens.yaml or create the file`;
    // The process-wide header cache: in the language server the header was usually parsed for
    // diagnostics or hover already, and a run must not parse a large vocabulary again on the
    // thread that answers hover.
    const info = ggufFileInfo(file);
    if (!info.header || !info.facts) return `variant ${v.id}: ${what} ${file} is not a readable GGUF file (${info.error ?? "no header"}); re-download or regenerate it`;
    const bounds = checkTensorBounds(info.header);
    if (bounds.length) return `variant ${v.id}: ${what} ${file} is truncated or corrupt (${bounds[0]}); re-download or regenerate it`;
    return { arch: info.facts.architecture, isLora: info.facts.isLora };
  };
  const base = check(v.modelPath, "model file");
  if (typeof base === "string") return base;
  if (memoryBudgetBytes !== undefined && memoryBudgetBytes > 0) {
    const size = fs.statSync(v.modelPath).size;
    if (size > memoryBudgetBytes) {
      return `variant ${v.id}: model file ${v.modelPath} (${(size / 2 ** 20).toFixed(0)} MiB) is larger than the engine memory budget (${(memoryBudgetBytes / 2 ** 20).toFixed(0)} MiB); raise engine.memoryBudget in driftlens.yaml or use a smaller quantization`;
    }
  }
  for (const a of v.adapters) {
    const ad = check(a.path, `adapter ${a.name} file`);
    if (typeof ad === "string") return ad;
    if (!ad.isLora) return `variant ${v.id}: adapter ${a.name} file ${a.path} is not a LoRA adapter GGUF`;
    if (ad.arch && base.arch && ad.arch !== base.arch) {
      return `variant ${v.id}: adapter ${a.name} (${a.path}) is for architecture '${ad.arch}' but the model ${v.modelPath} is '${base.arch}'; use an adapter trained for this base model`;
    }
  }
  return undefined;
}

let defaultRender: RenderFn | undefined;

/** Registers the artifacts renderer (server/src/artifacts) used when runEvals gets no `render`. */
export function setDefaultRender(fn: RenderFn): void {
  defaultRender = fn;
}

/** What the runner keeps of a parsed eval set (memoized by content). */
interface MemoEvalSet {
  cases: RunnerCase[];
  slices: unknown;
  defaultAssert: Assertion[];
  errors: string[];
  repeat?: number;
  grader?: string;
}

/** Identifies this build: memoized parses and renders from another build are not reused. */
const BUILD_ID = (() => {
  try {
    const st = fs.statSync(__filename);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return "unknown";
  }
})();

/**
 * The texts of the partials a prompt uses, followed transitively ({{> name}} inside partials), for
 * the render memo key; undefined when they cannot be resolved (then nothing is memoized).
 */
function partialTexts(ws: RunnerWorkspace, promptFile: string, prompt: RunnerPrompt): [string, string | null][] | undefined {
  const names = (prompt.partials ?? []).map((p) => p.name);
  if (names.length === 0) return [];
  if (!ws.partialFile || !ws.read) return undefined;
  const out: [string, string | null][] = [];
  const seen = new Set<string>();
  const queue = [...names];
  while (queue.length) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const file = ws.partialFile(name, promptFile);
    const text = file ? (ws.read(file) ?? null) : null;
    out.push([name, text]);
    if (text) for (const m of text.matchAll(/\{\{~?>\s*([^\s}]+)/g)) queue.push(m[1]!.replace(/^["']|["']$/g, ""));
    if (seen.size > 200) return undefined;
  }
  return out;
}

// ---- the runner ----

interface PreparedCase {
  id: string;
  ord: number;
  tags: string[];
  vars: Record<string, unknown>;
  assert: Assertion[];
  threshold?: number;
  line?: number;
  transform?: string;
  assertionTransforms?: boolean;
  messages?: ChatMessage[];
  params?: Omit<SamplingParams, "seed">;
  renderError?: string;
  /** Samples to draw (1: the case as before). */
  repeat: number;
}

/** A target loaded and rendered once (rendering does not depend on the variant), with the variants it runs on. */
interface PreparedTarget {
  target: EvalTarget;
  prompt: RunnerPrompt;
  evalSet: MemoEvalSet;
  promptHash: string;
  evalSetHash: string;
  renderHash: string;
  cases: PreparedCase[];
  variants: string[];
  /** JSON prompts: the grammar and schema outputs are generated under and validated against. */
  structured?: StructuredOutputSpec;
  /** The graders of the model-graded assertions, with their files' fingerprints (run fingerprint). */
  graders: unknown[];
  judge?: Judge;
}

/** What every phase of one runEvals call shares: its options, resolved once, and the lazily started engine. */
interface RunSession {
  opts: RunEvalsOptions;
  ws: RunnerWorkspace;
  store: Store;
  seed: number;
  topLogprobs: number;
  engineVersion: string;
  render: RenderFn;
  getEngine: () => Promise<RunnerEngine>;
  embed: ((texts: string[]) => Promise<number[][]>) | undefined;
  /** driftlens.yaml's default grader. */
  configGrader: string | undefined;
}

/** Progress counters across every target × variant of one call. */
interface ProgressCounts {
  done: number;
  generated: number;
  cached: number;
  failed: number;
  genTokens: number;
  genDone: number;
}

/** The counters and the function that reports them (with the variant and prompt a message is about). */
interface Progress {
  counts: ProgressCounts;
  emit: (variant?: string, promptFile?: string, message?: string) => void;
}

export async function runEvals(opts: RunEvalsOptions): Promise<EvalReport> {
  const session = await openSession(opts);
  const report: EvalReport = { runs: [], errors: [] };
  const prepared = await prepareTargets(session, report.errors);
  const progress = createProgress(opts.onProgress, prepared.reduce((n, p) => n + p.cases.length * p.variants.length, 0));
  progress.emit(undefined, undefined, "starting");
  for (const p of prepared) {
    const defs = sliceDefs(p.evalSet.slices);
    for (const ref of p.variants) {
      if (opts.signal?.aborted) break;
      report.runs.push(await runVariantOrStoreFailure(session, progress, p, ref, defs));
    }
  }
  return report;
}

/** Resolves runEvals' options once: defaults, the renderer, the lazy engine, embeddings, the configured grader. */
async function openSession(opts: RunEvalsOptions): Promise<RunSession> {
  const ws = opts.workspace;
  const wsRender = ws.render?.bind(ws);
  const render: RenderFn | undefined = opts.render ?? (wsRender ? (doc, input) => wsRender(doc.file ?? "", { input }) : defaultRender);
  if (!render) throw new EvalConfigError("no prompt renderer is available (internal: pass `render` to runEvals)");
  let enginePromise: Promise<RunnerEngine> | undefined;
  const getEngine = (): Promise<RunnerEngine> => (enginePromise ??= typeof opts.engine === "function" ? opts.engine() : Promise.resolve(opts.engine));
  const embed = opts.embed ?? (await workspaceEmbedder(ws, getEngine));
  let configGrader: string | undefined;
  try {
    configGrader = ws.grader ? await ws.grader() : undefined;
  } catch {
    // an unreadable driftlens.yaml is reported by its own diagnostics; assertions then say no grader is set
  }
  return {
    opts,
    ws,
    store: opts.store,
    seed: opts.seed ?? 0,
    topLogprobs: opts.topLogprobs ?? 5,
    engineVersion: opts.engineVersion ?? currentEngineVersion(),
    render,
    getEngine,
    embed,
    configGrader,
  };
}

/** Progress reporting: counters, and an emitter that turns them into EvalProgress for the listener. */
function createProgress(onProgress: RunEvalsOptions["onProgress"], total: number): Progress {
  const t0 = performance.now();
  const counts: ProgressCounts = { done: 0, generated: 0, cached: 0, failed: 0, genTokens: 0, genDone: 0 };
  const emit = (variant?: string, promptFile?: string, message?: string) => {
    if (!onProgress) return;
    const elapsed = performance.now() - t0;
    const perGen = counts.genDone > 0 ? elapsed / counts.genDone : null;
    const remaining = total - counts.done;
    const update: EvalProgress = {
      done: counts.done,
      total,
      generated: counts.generated,
      cached: counts.cached,
      failed: counts.failed,
      tokensPerSecond: elapsed > 0 ? counts.genTokens / (elapsed / 1000) : 0,
      etaMs: remaining === 0 ? 0 : perGen === null ? null : perGen * remaining,
      ...(variant ? { variant } : {}),
      ...(promptFile ? { promptFile } : {}),
      ...(message ? { message } : {}),
    };
    try {
      onProgress(update);
    } catch {
      // a listener's failure is the listener's; the run goes on
    }
  };
  return { counts, emit };
}

// ---- planning: targets, their cases and variants ----

/**
 * Loads and renders every target once; a target that cannot run is reported in `errors` and left
 * out. Parsed eval sets and rendered messages are memoized in the store for the next call.
 */
async function prepareTargets(s: RunSession, errors: EvalReport["errors"]): Promise<PreparedTarget[]> {
  const prepared: PreparedTarget[] = [];
  const memos: [string, unknown][] = [];
  for (const target of s.opts.targets) {
    const p = await prepareTarget(s, target, memos);
    if (typeof p === "string") errors.push({ promptFile: target.promptFile, evalSetFile: target.evalSetFile, message: p });
    else prepared.push(p);
  }
  try {
    s.store.putMemos(memos);
  } catch (e) {
    // Memos only save work next time; a store that cannot take them fails the runs below, by name.
    if (!isStoreError(e)) throw e;
  }
  return prepared;
}

/** One target ready to run, or the message saying why it cannot (memos to store are added to `memos`). */
async function prepareTarget(s: RunSession, target: EvalTarget, memos: [string, unknown][]): Promise<PreparedTarget | string> {
  const { opts, ws, store } = s;
  const loaded = await loadTarget(s, target, memos);
  if (typeof loaded === "string") return loaded;
  const { prompt, evalSet, promptText, evalText } = loaded;
  const pErr = errorsOf(prompt.diagnostics);
  if (pErr.length) return `${target.promptFile} has errors: ${pErr.slice(0, 3).join("; ")}`;
  if (evalSet.errors.length && evalSet.cases.length === 0) return `${target.evalSetFile} has errors: ${evalSet.errors.slice(0, 3).join("; ")}`;
  const commitOf = (file: string) => (typeof opts.gitCommit === "string" ? opts.gitCommit : opts.gitCommit?.[file]);
  let promptHash: string;
  let evalSetHash: string;
  try {
    promptHash = store.recordArtifact({ path: target.promptFile, content: promptText, kind: "prompt", gitCommit: commitOf(target.promptFile) }).hash;
    evalSetHash = store.recordArtifact({ path: target.evalSetFile, content: evalText, kind: "evalset", gitCommit: commitOf(target.evalSetFile) }).hash;
  } catch (e) {
    if (!isStoreError(e)) throw e;
    return storeErrorMessage(store.file, e);
  }
  const cases = await prepareCases(s, target.promptFile, prompt, promptText, evalSet, memos);
  const variants = await variantRefsFor(ws, prompt, opts.variants);
  if (variants.length === 0) return `no model variant to run ${target.promptFile} on: set 'model:' in the prompt, pass --variant, or configure models in driftlens.yaml`;
  const renderHash = sha256(JSON.stringify(cases.map((c) => [c.id, c.messages ?? null, c.params ?? null, c.renderError ?? null])));
  const structured = structuredOutputOf(prompt);
  const { graders, judge } = await judgeFor(s, evalSet);
  return { target, prompt, evalSet, promptHash, evalSetHash, renderHash, cases, variants, ...(structured ? { structured } : {}), graders, ...(judge ? { judge } : {}) };
}

/** Reads a target's prompt and eval set (the parsed eval set memoized by its text), or says why it cannot. */
async function loadTarget(
  s: RunSession,
  target: EvalTarget,
  memos: [string, unknown][],
): Promise<{ prompt: RunnerPrompt; evalSet: MemoEvalSet; promptText: string; evalText: string } | string> {
  const { ws, store } = s;
  const failRead = (file: string): never => {
    throw new Error(ws.readProblem?.(file) ?? `${file} does not exist or is not readable`);
  };
  const readFile = (file: string, doc?: { text?: string }): string => {
    // The workspace decides what may be read (regular files inside it); its refusal is final.
    if (ws.read) return ws.read(file) ?? failRead(file);
    return typeof doc?.text === "string" ? doc.text : fs.readFileSync(file, "utf8");
  };
  try {
    const prompt = await ws.prompt(target.promptFile);
    const promptText = readFile(target.promptFile, prompt);
    const evalText = readFile(target.evalSetFile);
    // A parsed eval set is a pure function of its text: an unchanged one is not parsed again.
    const esKey = sha256(JSON.stringify(["evalset/1", BUILD_ID, target.evalSetFile, evalText]));
    let evalSet = store.getMemo<MemoEvalSet>(esKey);
    if (!evalSet) {
      evalSet = memoEvalSet(await ws.evalSet(target.evalSetFile));
      memos.push([esKey, evalSet]);
    }
    return { prompt, evalSet, promptText, evalText };
  } catch (e) {
    // A store that cannot be read is the store's problem, not the prompt's.
    return isStoreError(e) ? storeErrorMessage(store.file, e) : `cannot read ${target.promptFile} / ${target.evalSetFile}: ${(e as Error).message}`;
  }
}

/** What the runner keeps of a parsed eval set (plain data, so it can be memoized). */
function memoEvalSet(doc: RunnerEvalSet): MemoEvalSet {
  return {
    cases: doc.cases.map((c) => ({
      id: c.id,
      vars: c.vars ?? {},
      assert: c.assert ?? [],
      tags: c.tags ?? [],
      ...(c.threshold !== undefined ? { threshold: c.threshold } : {}),
      ...(c.range ? { range: { start: { line: c.range.start.line } } } : {}),
      ...(c.transform !== undefined ? { transform: c.transform } : {}),
      ...(c.assertionTransforms ? { assertionTransforms: true } : {}),
      ...(c.repeat !== undefined ? { repeat: c.repeat } : {}),
    })),
    slices: doc.slices ?? null,
    defaultAssert: doc.defaultAssert ?? [],
    errors: errorsOf(doc.diagnostics),
    ...(doc.repeat !== undefined ? { repeat: doc.repeat } : {}),
    ...(doc.grader !== undefined ? { grader: typeof doc.grader === "string" ? doc.grader : doc.grader.ref } : {}),
  };
}

/**
 * The cases to run (selected by id and shard, first of duplicate ids), each rendered. Rendered
 * messages are a pure function of the prompt text, its partials and the vars, so with the
 * workspace's own renderer they are memoized (a custom `render` is always called).
 */
async function prepareCases(s: RunSession, promptFile: string, prompt: RunnerPrompt, promptText: string, evalSet: MemoEvalSet, memos: [string, unknown][]): Promise<PreparedCase[]> {
  const { opts, store } = s;
  const caseFilter = opts.caseIds ? new Set(opts.caseIds) : undefined;
  const partials = opts.render ? undefined : partialTexts(s.ws, promptFile, prompt);
  const seen = new Set<string>();
  const cases: PreparedCase[] = [];
  let ord = 0;
  for (const c of evalSet.cases) {
    const id = String(c.id);
    const myOrd = ord++;
    if (caseFilter && !caseFilter.has(id)) continue;
    if (opts.shard && !inShard(myOrd, opts.shard)) continue;
    if (seen.has(id)) continue; // duplicate ids are a diagnostic of the eval set; the first wins
    seen.add(id);
    const pc: PreparedCase = {
      id,
      ord: myOrd,
      tags: (c.tags ?? []).map(String),
      vars: c.vars ?? {},
      assert: [...(evalSet.defaultAssert ?? []), ...(c.assert ?? [])],
      ...(c.threshold !== undefined ? { threshold: c.threshold } : {}),
      ...(c.range ? { line: c.range.start.line } : {}),
      ...(c.transform !== undefined ? { transform: c.transform } : {}),
      ...(c.assertionTransforms ? { assertionTransforms: true } : {}),
      repeat: repeatFor(c.repeat, opts.repeat, evalSet.repeat),
    };
    const rKey = partials ? sha256(JSON.stringify(["render/1", BUILD_ID, promptFile, promptText, partials, pc.vars])) : undefined;
    const hit = rKey ? store.getMemo<{ messages: ChatMessage[]; config: Record<string, unknown> }>(rKey) : undefined;
    if (hit) {
      pc.messages = hit.messages;
      pc.params = samplingFrom(hit.config);
    } else {
      try {
        const r = await s.render(prompt, pc.vars);
        const config = { ...(prompt.config ?? {}), ...(r.config ?? {}) };
        pc.messages = toChatMessages(r);
        pc.params = samplingFrom(config);
        if (rKey) memos.push([rKey, { messages: pc.messages, config }]);
      } catch (e) {
        pc.renderError = `case ${id}: the prompt could not be rendered: ${(e as Error).message}`;
      }
    }
    cases.push(pc);
  }
  return cases;
}

/** The graders of an eval set's model-graded assertions (for the fingerprint) and the judge that asks them. */
async function judgeFor(s: RunSession, evalSet: MemoEvalSet): Promise<{ graders: unknown[]; judge?: Judge }> {
  const { opts, ws, store } = s;
  const judgeOpts = { override: opts.grader, defaults: [evalSet.grader, s.configGrader], resolveVariant: (ref: string) => ws.resolveVariant(ref), store };
  const graders = await graderIdentity([...evalSet.defaultAssert, ...evalSet.cases.flatMap((c) => c.assert ?? [])], judgeOpts);
  if (!graders.length) return { graders };
  const judge = createJudge({
    ...judgeOpts,
    getEngine: s.getEngine,
    engineVersion: s.engineVersion,
    generationKey,
    precheck: (v) => precheckVariant(v, opts.memoryBudgetBytes),
    ...(opts.noCache ? { noCache: true } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return { graders, judge };
}

// ---- one target × variant ----

/**
 * Runs one variant; a store failure (read-only, full disk, corrupt) fails this run by name. The
 * others are still tried and report the same cause if it persists: no work is skipped silently.
 */
async function runVariantOrStoreFailure(s: RunSession, progress: Progress, p: PreparedTarget, ref: string, defs: Record<string, SliceDef>): Promise<EvalRunReport> {
  try {
    return await runVariant(s, progress, p, ref, defs);
  } catch (e) {
    if (!isStoreError(e)) throw e;
    const n = p.cases.length;
    const error = `variant ${ref}: ${storeErrorMessage(s.store.file, e)}`;
    progress.emit(ref, p.target.promptFile, error);
    return { ...emptyRunReport(s, p, ref, error), summary: { ...summarize([], 0, 0, 0), cases: n, failed: n, errors: n } };
  }
}

/** A failed run report with nothing known yet but the target and the variant ref (and why, when known now). */
function emptyRunReport(s: RunSession, p: PreparedTarget, ref: string, error?: string): EvalRunReport {
  return {
    id: null,
    fingerprint: null,
    variant: ref,
    promptFile: p.target.promptFile,
    evalSetFile: p.target.evalSetFile,
    status: "failed",
    ...(error !== undefined ? { error } : {}),
    promptHash: p.promptHash,
    evalSetHash: p.evalSetHash,
    modelFingerprint: null,
    modelPath: null,
    adapters: [],
    params: {},
    seed: s.seed,
    engineVersion: s.engineVersion,
    backend: null,
    threads: null,
    resumed: false,
    summary: summarize([], 0, 0, 0),
    slices: {},
    cases: [],
  };
}

/** A variant resolved and fingerprinted: what its run is keyed by. */
interface IdentifiedVariant {
  variant: RunnerVariant;
  served: RemoteIdentity | undefined;
  modelFingerprint: string;
  adapters: AdapterFingerprint[];
}

/** One variant's run in progress: its identity, stored run, results so far and generation totals. */
interface VariantRun extends IdentifiedVariant {
  s: RunSession;
  progress: Progress;
  p: PreparedTarget;
  /** The report as known so far (the run's identity, params, endpoints). */
  base: EvalRunReport;
  run: RunRecord;
  runId: string;
  resumed: boolean;
  /** Results by case id: those of a resumed run, then each as it is written. */
  byId: Map<string, CaseResultRecord>;
  /** Results already stored belong to the interrupted run this call took over. */
  takenOver: Set<string>;
  genTokens: number;
  genMs: number;
  backend: string | null;
  threads: number | null;
  startedAt: number;
}

/** Runs one prompt × eval set on one variant: identify, open (or resume) its run, cache pass, generation pass, record. */
async function runVariant(s: RunSession, progress: Progress, p: PreparedTarget, ref: string, defs: Record<string, SliceDef>): Promise<EvalRunReport> {
  const startedAt = performance.now();
  const base = emptyRunReport(s, p, ref);
  const id = await identifyVariant(s, ref, base);
  if (typeof id === "string") {
    progress.counts.done += p.cases.length;
    progress.counts.failed += p.cases.length;
    progress.emit(ref, p.target.promptFile, id);
    const n = p.cases.length;
    return { ...base, error: id, summary: { ...summarize([], 0, 0, performance.now() - startedAt), cases: n, failed: n, errors: n } };
  }
  const warning = id.served && p.structured?.constrained ? structuredWarning(id.variant.id, id.served.live[0]!.kind, id.served.template, { grammar: p.structured.grammar.gbnf, schema: p.structured.schema }) : undefined;
  if (warning) base.warnings = [warning];
  const vr = openRun(s, progress, p, id, base, startedAt);
  countResumed(vr);
  const { misses, openCases } = await cachePass(vr);
  const { runError, cancelled } = await generationPass(vr, misses, openCases);
  if (!vr.resumed && vr.backend !== null && vr.run.backend === null && !misses.length) s.store.setRunEngine(vr.runId, vr.backend, vr.threads);
  return finishRun(vr, defs, runError, cancelled);
}

/**
 * Resolves a variant ref and fingerprints its model and adapters (a served model by what its
 * endpoints report), filling `base` as it learns; a message naming the variant when it cannot.
 */
async function identifyVariant(s: RunSession, ref: string, base: EvalRunReport): Promise<IdentifiedVariant | string> {
  let variant: RunnerVariant;
  try {
    variant = await s.ws.resolveVariant(ref);
  } catch (e) {
    return `variant ${ref}: ${(e as Error).message}`;
  }
  base.variant = variant.id;
  base.modelPath = variant.modelPath;
  // A served model is fingerprinted by what its endpoints report (asked now, so a changed
  // server is noticed); no endpoint answering fails the variant, naming each and why.
  let served: RemoteIdentity | undefined;
  if (variant.remote) {
    try {
      served = await identifyRemote(variant.id, variant.remote, { fresh: true, ...(s.opts.signal ? { signal: s.opts.signal } : {}) });
    } catch (e) {
      return (e as Error).message;
    }
    base.endpoints = servedEndpointReports(served);
  }
  let modelFingerprint: string;
  const adapters: AdapterFingerprint[] = [];
  try {
    if (!served && !fs.existsSync(variant.modelPath)) throw new Error(`model file ${variant.modelPath} does not exist; fix its path in driftlens.yaml or create the file`);
    modelFingerprint = served ? served.fingerprint : await s.store.fingerprintFile(variant.modelPath);
    for (const a of variant.adapters) {
      if (!fs.existsSync(a.path)) throw new Error(`adapter ${a.name} file ${a.path} does not exist; fix 'file:' in ${a.file ?? "its adapter config"}`);
      adapters.push({ name: a.name, file: a.file ?? a.path, fingerprint: await s.store.fingerprintFile(a.path), scale: a.scale });
    }
  } catch (e) {
    return `variant ${variant.id}: ${(e as Error).message}`;
  }
  base.modelFingerprint = modelFingerprint;
  base.adapters = adapters;
  return { variant, served, modelFingerprint, adapters };
}

/** The run-level params: the prompt's (every case shares the prompt's config), plus structured output and repeats when used. */
function runParamsFor(p: PreparedTarget, topLogprobs: number): Record<string, unknown> {
  const runParams = { ...samplingFrom(p.prompt.config), topLogprobs } as Record<string, unknown>;
  // Added only when used, so the fingerprints of free-text, single-sample runs stay as they were.
  if (p.structured) runParams.structured = { format: p.structured.format, constrained: p.structured.constrained, grammar: p.structured.key.slice(0, 16) };
  const repeats = p.cases.map((c) => c.repeat);
  if (repeats.some((r) => r > 1)) runParams.repeat = repeats.every((r) => r === repeats[0]) ? repeats[0] : repeats;
  return runParams;
}

/** The behavioural fingerprint of a run: everything that determines its results. */
function runFingerprint(s: RunSession, p: PreparedTarget, id: IdentifiedVariant, runParams: Record<string, unknown>): string {
  const { opts } = s;
  return sha256(
    JSON.stringify([
      "run/1",
      p.promptHash,
      p.evalSetHash,
      id.modelFingerprint,
      id.adapters.map((a) => [a.fingerprint, a.scale]),
      runParams,
      s.seed,
      s.engineVersion,
      opts.caseIds ? [...opts.caseIds].sort() : null,
      // What the cases render to: covers partials, which the prompt's own hash does not.
      p.renderHash,
      // Who judges the model-graded assertions (only when there are some).
      ...(p.graders.length ? [["graders", p.graders]] : []),
      ...(opts.shard ? [["shard", opts.shard.index, opts.shard.count]] : []),
    ]),
  );
}

/** Resumes the interrupted run with this fingerprint, or starts a new one, and reads its stored results. */
function openRun(s: RunSession, progress: Progress, p: PreparedTarget, id: IdentifiedVariant, base: EvalRunReport, startedAt: number): VariantRun {
  const { store } = s;
  const runParams = runParamsFor(p, s.topLogprobs);
  base.params = runParams;
  const fingerprint = runFingerprint(s, p, id, runParams);
  base.fingerprint = fingerprint;
  let run: RunRecord | undefined = store.claimResumableRun(fingerprint);
  const resumed = run !== undefined;
  run ??= store.createRun({
    fingerprint,
    variant: id.variant.id,
    promptFile: p.target.promptFile,
    evalSetFile: p.target.evalSetFile,
    promptHash: p.promptHash,
    evalSetHash: p.evalSetHash,
    modelFingerprint: id.modelFingerprint,
    adapters: id.adapters,
    params: runParams,
    seed: s.seed,
    engineVersion: s.engineVersion,
    caseCount: p.cases.length,
    meta: { modelPath: id.variant.modelPath, noCache: Boolean(s.opts.noCache) },
  });
  base.id = run.id;
  base.resumed = resumed;
  const byId = new Map<string, CaseResultRecord>();
  for (const r of store.results(run.id)) byId.set(r.caseId, r);
  return {
    ...id,
    s,
    progress,
    p,
    base,
    run,
    runId: run.id,
    resumed,
    byId,
    takenOver: new Set(byId.keys()),
    genTokens: 0,
    genMs: 0,
    backend: run.backend,
    threads: run.threads,
    startedAt,
  };
}

/** The resume pass: stored results of a resumed run count as done. */
function countResumed(vr: VariantRun): void {
  const { counts } = vr.progress;
  for (const pc of vr.p.cases) {
    const r = vr.byId.get(pc.id);
    if (r) {
      counts.done++;
      if (!r.pass) counts.failed++;
    }
  }
  if (vr.byId.size) vr.progress.emit(vr.variant.id, vr.p.target.promptFile, `resuming ${vr.byId.size} stored results`);
}

/** Makes a written result known: to the run's results, the progress, and the case listener. */
function publish(vr: VariantRun, rec: CaseResultRecord, pc: PreparedCase): void {
  const { counts, emit } = vr.progress;
  vr.byId.set(rec.caseId, rec);
  counts.done++;
  if (!rec.pass) counts.failed++;
  try {
    vr.s.opts.onCaseResult?.({ runId: vr.runId, promptFile: vr.p.target.promptFile, evalSetFile: vr.p.target.evalSetFile, variant: vr.variant.id, case: toCaseReport(rec), ...(pc.line !== undefined ? { line: pc.line } : {}) });
  } catch {
    // a listener's failure is the listener's; the run goes on
  }
  emit(vr.variant.id, vr.p.target.promptFile);
}

/** Judges one output: the case's assertions, and for a JSON prompt its schema. */
async function evaluate(vr: VariantRun, pc: PreparedCase, text: string, latencyMs: number, stopReason?: string): Promise<CaseEvaluation> {
  const { p, s } = vr;
  const ev = await evaluateAssertions(pc.assert, text, {
    vars: pc.vars,
    latencyMs,
    trusted: s.opts.trusted ?? false,
    ...(s.embed ? { embed: s.embed } : {}),
    ...(pc.threshold !== undefined ? { threshold: pc.threshold } : {}),
    ...(pc.transform !== undefined ? { transform: pc.transform } : {}),
    ...(pc.assertionTransforms ? { assertionTransforms: true } : {}),
    extra: { caseId: pc.id, tags: pc.tags, variant: vr.variant.id, prompt: p.target.promptFile },
    ...(p.judge ? { judge: p.judge, prompt: (pc.messages ?? []).map((m) => m.text).join("\n\n") } : {}),
  });
  // A JSON prompt's output is parsed and validated against its schema, like an assertion.
  return p.structured ? combine([...ev.assertions, await checkStructuredOutput(text, p.structured, stopReason)], pc.threshold) : ev;
}

type GenerationFacts = Pick<CachedGeneration, "text" | "tokens" | "timeToFirstTokenMs" | "wallMs" | "tokensPerSecond" | "promptTokens">;

/** The generation of a case that produced none (not rendered, or failed on its own). */
const EMPTY_GENERATION: GenerationFacts = { text: "", tokens: [], timeToFirstTokenMs: 0, wallMs: 0, tokensPerSecond: 0, promptTokens: 0 };

/** A case result record from a generation and its evaluation. */
function caseRecord(pc: PreparedCase, gen: GenerationFacts, ev: CaseEvaluation, cached: boolean, key: string | null, error: string | null): CaseResultRecord {
  return {
    caseId: pc.id,
    ord: pc.ord,
    pass: error === null && ev.pass,
    score: error === null ? ev.score : 0,
    output: gen.text,
    // As the store will read them back, so a fresh result equals its cached copy.
    tokens: normalizeTokens(gen.tokens),
    assertions: ev.assertions.map((a) => ({ type: a.type, pass: a.pass, score: a.score, message: a.message, weight: a.weight })),
    tags: pc.tags,
    cached,
    genKey: key,
    error,
    timings: { timeToFirstTokenMs: gen.timeToFirstTokenMs, wallMs: gen.wallMs, tokensPerSecond: gen.tokensPerSecond, promptTokens: gen.promptTokens },
  };
}

/** A sample the cache could not answer: the request to send and where its result goes. */
interface Miss {
  pc: PreparedCase;
  key: string;
  /** Sample index. */
  i: number;
  req: GenerateRequest;
}

/** A case with samples still to generate. */
interface OpenCase {
  recs: (CaseResultRecord | undefined)[];
  seeds: number[];
  left: number;
  /** A sample failed on its own (e.g. prompt longer than the context): the case is recorded as an error. */
  failed: boolean;
  generated: boolean;
}

/**
 * The cache pass. Each sample of a case is its own generation (a case drawn once: one sample); a
 * case is recorded once all its samples are in. Returns the samples left to generate.
 */
async function cachePass(vr: VariantRun): Promise<{ misses: Miss[]; openCases: Map<string, OpenCase> }> {
  const { s, p, runId } = vr;
  const misses: Miss[] = [];
  const openCases = new Map<string, OpenCase>();
  const pendingHits: { rec: CaseResultRecord; pc: PreparedCase }[] = [];
  const flushHits = () => {
    if (!pendingHits.length) return;
    s.store.putResults(
      runId,
      pendingHits.map((h) => h.rec),
    );
    for (const h of pendingHits) publish(vr, h.rec, h.pc);
    pendingHits.length = 0;
  };
  for (const pc of p.cases) {
    if (vr.byId.has(pc.id)) continue;
    if (pc.renderError || !pc.messages || !pc.params) {
      const rec = caseRecord(pc, EMPTY_GENERATION, { pass: false, score: 0, assertions: [] }, false, null, pc.renderError ?? "not rendered");
      s.store.putResult(runId, rec);
      publish(vr, rec, pc);
      continue;
    }
    if (s.opts.signal?.aborted) break;
    const oc = await lookUpSamples(vr, pc, misses);
    if (oc.left > 0) {
      openCases.set(pc.id, oc);
      continue;
    }
    // Cache hits are written in batches (cheap to redo if a kill loses one); each is published
    // only once written.
    pendingHits.push({ rec: combineSamples(oc.recs as CaseResultRecord[], oc.seeds), pc });
    if (pendingHits.length >= 250) flushHits();
  }
  flushHits();
  return { misses, openCases };
}

/** Answers a case's samples from the generation cache (evaluated now); the others are added to `misses`. */
async function lookUpSamples(vr: VariantRun, pc: PreparedCase, misses: Miss[]): Promise<OpenCase> {
  const { s, p, variant } = vr;
  const { opts } = s;
  const structuredKey = !p.structured?.constrained ? undefined : variant.remote ? servedStructuredKey(p.structured.key, p.structured.schema) : p.structured.key;
  const structuredReq = p.structured?.constrained ? { structured: { grammar: p.structured.grammar.gbnf, schema: p.structured.schema } } : {};
  // Under a grammar no alternatives are recorded: asking for them makes llama.cpp check the whole
  // vocabulary against the grammar at every token (2-3x slower; the engine README has the numbers).
  const outTopLogprobs = p.structured?.constrained ? 0 : s.topLogprobs;
  const oc: OpenCase = { recs: new Array<CaseResultRecord | undefined>(pc.repeat), seeds: [], left: pc.repeat, failed: false, generated: false };
  for (let i = 0; i < pc.repeat; i++) {
    const params: SamplingParams = { ...pc.params!, seed: sampleSeed(s.seed, pc.id, i) };
    oc.seeds.push(params.seed);
    const key = generationKey({ messages: pc.messages!, modelFingerprint: vr.modelFingerprint, adapters: vr.adapters, params, engineVersion: s.engineVersion, topLogprobs: outTopLogprobs, ...(structuredKey ? { structured: structuredKey } : {}) });
    const hit = opts.noCache ? undefined : s.store.getGeneration(key);
    if (hit) {
      const ev = await evaluate(vr, pc, hit.text, hit.wallMs, hit.stopReason);
      // Cancelled while a grader judged it: the verdict may be missing, so the case is not recorded.
      // Without graders every verdict is computed locally and complete, so it is recorded as before.
      if (opts.signal?.aborted && p.judge) break;
      oc.recs[i] = caseRecord(pc, hit, ev, true, key, ev.error ?? null);
      oc.left--;
      vr.progress.counts.cached++;
      vr.backend ??= hit.backend;
      vr.threads ??= hit.threads;
      continue;
    }
    misses.push({
      pc,
      key,
      i,
      req: {
        id: sampleRequestId(pc.id, i),
        model: { variant: variant.id, modelPath: variant.modelPath, adapters: variant.adapters.map((a) => ({ path: a.path, scale: a.scale })), ...(variant.remote ? { remote: variant.remote } : {}) },
        messages: pc.messages!,
        params,
        topLogprobs: outTopLogprobs,
        ...structuredReq,
      },
    });
  }
  return oc;
}

/** What the generation pass learns while the engine answers. */
interface GenerationState {
  runError: string | undefined;
  cancelled: boolean;
  writeError: Error | undefined;
  generatedKeys: string[];
  writes: Promise<void>[];
}

/**
 * The generation pass: starts the engine (only now, and only for misses), generates every missing
 * sample, evaluates and writes each case as its last sample arrives. Returns why the run failed,
 * if it did, and whether it was cancelled.
 */
async function generationPass(vr: VariantRun, misses: Miss[], openCases: Map<string, OpenCase>): Promise<{ runError: string | undefined; cancelled: boolean }> {
  const { s, variant, served } = vr;
  const { opts, store } = s;
  const st: GenerationState = { runError: undefined, cancelled: false, writeError: undefined, generatedKeys: [], writes: [] };
  if (!misses.length || opts.signal?.aborted) return { runError: undefined, cancelled: Boolean(opts.signal?.aborted) };
  st.runError = served ? undefined : precheckVariant(variant, opts.memoryBudgetBytes);
  if (st.runError) return { runError: st.runError, cancelled: false };
  try {
    const engine = await s.getEngine();
    try {
      // A served run starts no local engine: its backend is the server kind.
      vr.backend = served ? `remote ${served.live[0]!.kind}` : (await engine.info()).backend;
    } catch {
      // reported below if generation fails too
    }
    const byReq = new Map(misses.map((m) => [m.req.id, m]));
    const batch = await engine
      .generateMany(
        misses.map((m) => m.req),
        (r) => {
          const m = byReq.get(r.id);
          if (!m) return;
          byReq.delete(r.id);
          const oc = openCases.get(m.pc.id)!;
          if ("failure" in r) onSampleFailure(vr, st, m, oc, r.failure);
          else if (r.stopReason === "cancelled") st.cancelled = true;
          else
            st.writes.push(
              onSampleGenerated(vr, st, m, oc, r).catch((e: unknown) => {
                // Never an unhandled rejection: a store failure fails the run with the reason.
                st.writeError ??= e as Error;
              }),
            );
        },
        opts.signal,
      )
      .catch((e: unknown) => {
        const f = (e as { failure?: EngineFailure }).failure;
        if (f?.kind === "cancelled") st.cancelled = true;
        else st.runError ??= `variant ${variant.id}: ${f?.message ?? (e as Error).message}`;
      });
    vr.base.endpoints = endpointsOf(batch) ?? vr.base.endpoints;
    await Promise.all(st.writes);
    if (st.writeError) st.runError ??= `variant ${variant.id}: ${storeErrorMessage(store.file, st.writeError)}`;
    if (opts.signal?.aborted) st.cancelled = true;
    // After a failure the engine may be gone; asking would start a fresh one for nothing.
    if (st.generatedKeys.length && !st.runError && !served) await recordEngine(vr, engine, st.generatedKeys);
  } catch (e) {
    const f = (e as { failure?: EngineFailure }).failure;
    st.runError ??= `variant ${variant.id}: ${f?.message ?? (e as Error).message}`;
  }
  return { runError: st.runError, cancelled: st.cancelled };
}

/**
 * A sample the engine could not generate: a variant failure (model, adapter, memory, crash) fails
 * the run; a failure of this case alone (e.g. its prompt exceeds the context) is recorded as its error.
 */
function onSampleFailure(vr: VariantRun, st: GenerationState, m: Miss, oc: OpenCase, failure: EngineFailure): void {
  const { variant } = vr;
  if (failure.kind === "cancelled") st.cancelled = true;
  else if (VARIANT_FAILURES.has(failure.kind)) st.runError ??= failure.message.includes(variant.id) ? failure.message : `variant ${variant.id}: ${failure.message}`;
  else if (!oc.failed) {
    oc.failed = true;
    const rec = caseRecord(m.pc, EMPTY_GENERATION, { pass: false, score: 0, assertions: [] }, false, null, `case ${m.pc.id}: ${failure.message}`);
    try {
      vr.s.store.putResult(vr.runId, rec);
      publish(vr, rec, m.pc);
    } catch (e) {
      st.writeError ??= e as Error;
    }
  }
}

/** A generated sample: evaluated, cached, and when it is the case's last, the case is written and published. */
async function onSampleGenerated(vr: VariantRun, st: GenerationState, m: Miss, oc: OpenCase, r: GenerateResult): Promise<void> {
  const { s, p } = vr;
  const { store } = s;
  const counts = vr.progress.counts;
  const ev = await evaluate(vr, m.pc, r.text, r.wallMs, r.stopReason);
  const g = {
    key: m.key,
    text: r.text,
    tokens: r.tokens,
    promptTokens: r.promptTokens,
    template: r.template,
    stopReason: r.stopReason,
    timeToFirstTokenMs: r.timeToFirstTokenMs,
    wallMs: r.wallMs,
    tokensPerSecond: r.tokensPerSecond,
    backend: vr.backend,
    threads: vr.threads,
    engineVersion: s.engineVersion,
  };
  if (s.opts.signal?.aborted && p.judge) {
    // The output is good (cached), a grader's verdict may not be: the case waits for the rerun.
    // Without graders the verdicts are complete and the case is recorded (the rerun
    // then generates only what is missing).
    store.putGeneration(g);
    st.cancelled = true;
    return;
  }
  oc.recs[m.i] = caseRecord(m.pc, r, ev, false, m.key, ev.error ?? null);
  oc.left--;
  oc.generated = true;
  st.generatedKeys.push(m.key);
  vr.genTokens += r.tokens.length;
  vr.genMs += r.wallMs;
  counts.generated++;
  counts.genTokens += r.tokens.length;
  if (oc.failed || oc.left > 0) {
    // More samples to come (or the case already failed): keep this one in the cache.
    store.putGeneration(g);
    return;
  }
  const rec = combineSamples(oc.recs as CaseResultRecord[], oc.seeds);
  store.putGenerationAndResult(g, vr.runId, rec);
  counts.genDone++;
  publish(vr, rec, m.pc);
}

/** Records the engine's backend and threads with the run and the generations it made. */
async function recordEngine(vr: VariantRun, engine: RunnerEngine, generatedKeys: string[]): Promise<void> {
  try {
    const info = await engine.info();
    vr.backend = info.backend;
    vr.threads = info.threads > 0 ? info.threads : null;
    vr.s.store.setRunEngine(vr.runId, vr.backend, vr.threads);
    vr.s.store.setGenerationsEngine(generatedKeys, vr.backend, vr.threads);
  } catch {
    // the run keeps what it knew
  }
}

/**
 * Recording and the run summary: the run's case reports, slices and summary; the stored run is
 * marked complete only when every case has a result, else failed (or cancelled, to be resumed).
 */
function finishRun(vr: VariantRun, defs: Record<string, SliceDef>, runError: string | undefined, cancelled: boolean): EvalRunReport {
  const { s, p, runId, progress } = vr;
  const { store } = s;
  const cases = p.cases.flatMap((pc) => {
    const r = vr.byId.get(pc.id);
    if (!r) return [];
    const c = toCaseReport(r, vr.takenOver.has(pc.id) ? "resumed" : undefined);
    // Only a case in error can have been refused; asking again costs nothing for the others.
    if (c.error !== undefined && pc.assert.some((a) => prepareAssertion(asChecked(a, pc.assertionTransforms), pc.vars).error !== undefined)) c.configError = true;
    return [c];
  });
  const wallMs = performance.now() - vr.startedAt;
  const summary = summarize(cases, vr.genTokens, vr.genMs, wallMs);
  const out: EvalRunReport = { ...vr.base, backend: vr.backend, threads: vr.threads, summary, slices: slicesFor(cases, defs), cases, status: "complete" };
  if (cases.length === p.cases.length && !runError) {
    store.completeRun(runId, summary);
    return out;
  }
  const missing = p.cases.length - cases.length;
  if (runError) {
    store.failRun(runId, runError, summary);
    progress.counts.done += missing;
    progress.counts.failed += missing;
    progress.emit(vr.variant.id, p.target.promptFile, runError);
    return { ...out, status: "failed", error: runError, summary: { ...summary, cases: p.cases.length, failed: summary.failed + missing, errors: summary.errors + missing } };
  }
  const msg = cancelled ? `cancelled with ${missing} of ${p.cases.length} cases not run; run the same command again to resume` : `${missing} cases got no result`;
  store.failRun(runId, msg, summary);
  return { ...out, status: cancelled ? "cancelled" : "failed", error: msg };
}

/** Absolute path helper for callers that accept workspace-relative targets. */
/**
 * `similar`'s embeddings from the workspace's configured embedding model through the engine, each
 * text embedded once per run (outputs and expected values repeat across cases and variants).
 * Undefined when no embedding model is configured, so `similar` says how to configure one. A wrong
 * setting (missing file, unknown family/variant) fails each `similar` with the reason, not the run.
 * Cached generations still get evaluated: this only starts the engine when a `similar` asks.
 */
async function workspaceEmbedder(ws: RunnerWorkspace, getEngine: () => Promise<RunnerEngine>): Promise<((texts: string[]) => Promise<number[][]>) | undefined> {
  if (!ws.embeddingModel) return undefined;
  let modelPath: string | undefined;
  let problem: string | undefined;
  try {
    modelPath = await ws.embeddingModel();
  } catch (e) {
    problem = e instanceof Error ? e.message : String(e);
  }
  if (!modelPath && problem === undefined) return undefined;
  const cache = new Map<string, Promise<number[]>>();
  return async (texts) => {
    if (problem !== undefined || !modelPath) throw new Error(problem ?? "no embedding model");
    const path = modelPath;
    const missing = [...new Set(texts.filter((t) => !cache.has(t)))];
    if (missing.length) {
      const batch = (async () => {
        const engine = await getEngine();
        if (!engine.embed) throw new Error("this engine cannot compute embeddings");
        return engine.embed(path, missing);
      })();
      missing.forEach((t, i) => {
        const p = batch.then((vecs) => {
          const v = vecs[i];
          if (!v) throw new Error("the embedding model returned fewer vectors than texts");
          return v;
        });
        // A failed embedding is not cached: the next case may try again (e.g. after an engine crash).
        p.catch(() => cache.delete(t));
        cache.set(t, p);
      });
    }
    return Promise.all(texts.map((t) => cache.get(t)!));
  };
}

export function resolveTarget(root: string, t: EvalTarget): EvalTarget {
  return { promptFile: path.resolve(root, t.promptFile), evalSetFile: path.resolve(root, t.evalSetFile) };
}

export { contentHash };

/**
 * An assertion as `driftlens check` sees it: an assertion's own transform (promptfoo configs) runs
 * before it and is no part of what is checked.
 */
function asChecked(a: Assertion, assertionTransforms: boolean | undefined): unknown {
  if (!assertionTransforms || a === null || typeof a !== "object" || !("transform" in a)) return a;
  const { transform: _t, ...rest } = a as Assertion & { transform?: unknown };
  return rest;
}

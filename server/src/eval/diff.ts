// `diffRefs`: what a prompt or eval-set change did to the evals, between two git revisions.
//
// Each side is a Workspace whose artifact files are overlaid with their contents at that revision
// (read with `git cat-file --batch`, i.e. `git show REF:path`, never checked out), so nothing on
// disk is touched and unchanged files are shared. The eval sets covering every changed prompt run
// on both sides through runEvals (cached by content: an unchanged case costs no generation, and
// every run lands in the store with its fingerprint), and the results are paired case by case.
import fs from "node:fs";
import path from "node:path";
import { diffWords } from "diff";
import type { Store } from "../store/store";
import { changedFiles, gitToplevel, GitError, relPath, absPath, resolveRef, showFiles, type FileChange } from "./git";
import type { DiffCase, DiffFlip, DiffPrompt, DiffReport, WordDiffPart } from "./report/types";
import { runEvals, variantRefsFor, type EvalReport, type EvalRunReport, type EvalTarget, type RenderFn, type RunnerEngine, type RunnerWorkspace } from "./runner";
import { caseFlip, pairedOutcome } from "./sampled-compare";
import { lazyEngine, passedRunOptions, sliceRows } from "./shared-runs";
import { comparePaired, type GateSettings } from "../stats/stats";

export type { DiffReport } from "./report/types";

type MaybePromise<T> = T | Promise<T>;

/** The part of Workspace (server/src/artifacts) diff uses; files are absolute paths. */
export interface DiffWorkspace extends RunnerWorkspace {
  setOverlay(file: string, text: string | undefined): void;
  evalSetsFor(promptFile: string): MaybePromise<string[]>;
  promptFor(evalSetFile: string): MaybePromise<string | undefined | null>;
  /** Every artifact file (absolute); with partialFile, lets a changed partial reach its users. */
  listArtifacts?(): string[];
  partialFile?(name: string, promptFile: string): string | undefined;
  /** Adopted files (artifacts/adopt/view.ts): the prompts a promptfoo config, .prompt.yml or .prompty stands for. */
  targetsFor?(file: string): { promptFile: string; evalSetFile: string }[];
  /** The files an adopted file read (test CSVs, prompt files, samples). */
  suite?(file: string): { references: string[] };
}

export interface DiffOptions {
  /** The workspace root (the folder of driftlens.yaml); may be below the repository's top. */
  root: string;
  /** Base revision (default HEAD). */
  base?: string;
  /** Head revision (default: the working tree). */
  head?: string;
  /** Variants to run on (default: each prompt's own). */
  variants?: string[];
  store: Store;
  engine: RunnerEngine | (() => Promise<RunnerEngine>);
  gate: GateSettings;
  /** A fresh Workspace for `root` (one per side). */
  createWorkspace: (root: string) => DiffWorkspace;
  seed?: number;
  noCache?: boolean;
  render?: RenderFn;
  signal?: AbortSignal;
  onProgress?: Parameters<typeof runEvals>[0]["onProgress"];
  trusted?: boolean;
  memoryBudgetBytes?: number;
  /** Samples per case (cases with their own `repeat` keep it). */
  repeat?: number;
  /** Judge of every model-graded assertion. */
  grader?: string;
}

/** A usage/config problem (exit 2): missing revision, not a repository, a run that could not start. */
export class DiffError extends Error {}

export const PROMPT_RE = /\.prompt$/;
export const EVALSET_RE = /\.eval\.(ya?ml|jsonl)$/;
const CONFIG_RE = /(^|\/)driftlens\.ya?ml$/;
const ADAPTER_RE = /\.adapter\.ya?ml$/;
/** Files of other tools Driftlens runs (promptfoo configs, GitHub .prompt.yml, Prompty). */
export const ADOPTED_RE = /(^|\/)promptfooconfig\.(ya?ml|json)$|\.prompt\.ya?ml$|\.prompty$/;
/** Files an adopted file may read (tests, prompts, vars, samples): overlaid at each revision too. */
const DATA_RE = /\.(csv|txt|json|jsonl|ya?ml|md|j2|png|jpe?g|gif|webp)$/i;
const isArtifact = (p: string) => PROMPT_RE.test(p) || EVALSET_RE.test(p) || ADAPTER_RE.test(p) || CONFIG_RE.test(p) || ADOPTED_RE.test(p);

const PARTIAL_RE = /(^|\/)_[^/]+\.prompt$/;

/** Prompts (absolute paths) whose template uses the partial file `partial`. */
function usersOfPartial(ws: DiffWorkspace, partial: string): string[] {
  if (!ws.listArtifacts || !ws.partialFile) return [];
  const out: string[] = [];
  for (const f of ws.listArtifacts()) {
    if (!PROMPT_RE.test(f) || PARTIAL_RE.test(f.split(path.sep).join("/"))) continue;
    try {
      const doc = ws.prompt(f) as { partials?: { name: string }[] };
      if (doc instanceof Promise) continue;
      if ((doc.partials ?? []).some((p) => ws.partialFile!(p.name, f) === partial)) out.push(f);
    } catch {
      // unreadable prompt: not a user we can run
    }
  }
  return out;
}

export function wordDiff(a: string, b: string): WordDiffPart[] {
  return diffWords(a, b).map((p) => ({ op: p.added ? "+" : p.removed ? "-" : "=", text: p.value }));
}

export async function diffRefs(opts: DiffOptions): Promise<DiffReport> {
  const root = path.resolve(opts.root);
  const { top, baseCommit, headCommit } = await resolveRevisions(root, opts);
  const inRoot = (rel: string) => {
    const abs = absPath(top, rel);
    return abs === root || abs.startsWith(root + path.sep);
  };
  const changed = classifyChanges(top, inRoot, await changedFiles(top, baseCommit, headCommit));
  if (changed.relevant.length === 0 && !changed.configChanged && !changed.adoptedChanged && changed.dataChanged.size === 0) return diffReport(opts, baseCommit, headCommit, []);

  // Both sides as overlaid workspaces.
  const sides: Sides = {
    top,
    root,
    baseWs: await workspaceAt(opts, top, root, inRoot, baseCommit),
    headWs: await workspaceAt(opts, top, root, inRoot, headCommit),
    renamedTo: renames(changed.changes),
  };
  const subjects = new Subjects();
  await subjectsOfChanges(sides, changed.relevant, subjects);
  subjectsOfAdopted(sides, changed, subjects);
  if (changed.configChanged && sides.headWs.listArtifacts) await subjectsOfConfig(sides, opts, subjects);
  const jobs = await pairEvalSets(sides, subjects);

  const { baseReport, headReport } = await runBothSides(opts, sides, jobs);
  const prompts: DiffPrompt[] = [];
  for (const job of jobs) {
    const s = job.subject;
    for (const pr of pairRuns(runsFor(headReport, s.head, job.headEval), runsFor(baseReport, s.base, job.baseEval))) {
      prompts.push(comparePrompt(opts.gate, root, job, pr.base, pr.head));
    }
  }
  return diffReport(opts, baseCommit, headCommit, prompts);
}

/** The report over the compared prompts: the gate passes when no prompt gives a reason to fail it. */
function diffReport(opts: DiffOptions, baseCommit: string, headCommit: string | undefined, prompts: DiffPrompt[]): DiffReport {
  const reasons = prompts.flatMap((p) => p.gate.reasons);
  return {
    base: { ref: opts.base ?? "HEAD", commit: baseCommit },
    head: { ref: opts.head ?? "working tree", commit: headCommit ?? null },
    prompts,
    gate: { passed: reasons.length === 0, reasons, warnings: prompts.flatMap((p) => p.gate.warnings), ...opts.gate },
  };
}

/** The repository's top and the two revisions as commits (head undefined: the working tree). */
async function resolveRevisions(root: string, opts: DiffOptions): Promise<{ top: string; baseCommit: string; headCommit: string | undefined }> {
  try {
    const top = await gitToplevel(root);
    const baseCommit = await resolveRef(top, opts.base ?? "HEAD");
    const headCommit = opts.head !== undefined ? await resolveRef(top, opts.head) : undefined;
    return { top, baseCommit, headCommit };
  } catch (e) {
    if (e instanceof GitError) throw new DiffError(e.message);
    throw e;
  }
}

/** The changes between the revisions, sorted by what they can affect. */
interface ChangeKinds {
  /** Changed artifact files under the workspace root. */
  changes: FileChange[];
  /** Changed prompts and eval sets. */
  relevant: FileChange[];
  /**
   * driftlens.yaml or an adapter config changed: a prompt whose variants now resolve to other
   * model or adapter files (or scales) behaves differently without a line of it changing.
   */
  configChanged: boolean;
  adoptedChanged: boolean;
  /** Changed files an adopted file may reference (a promptfoo test CSV), absolute: their adopted files changed. */
  dataChanged: Set<string>;
}

function classifyChanges(top: string, inRoot: (rel: string) => boolean, allChanges: FileChange[]): ChangeKinds {
  const changes = allChanges.filter((c) => [c.basePath, c.headPath].some((p) => p !== undefined && inRoot(p) && isArtifact(p)));
  const dataChanged = new Set(allChanges.flatMap((c) => [c.basePath, c.headPath]).filter((p): p is string => p !== undefined && inRoot(p) && !isArtifact(p) && DATA_RE.test(p)).map((p) => absPath(top, p)));
  const adoptedChanged = changes.some((c) => [c.basePath, c.headPath].some((p) => p !== undefined && ADOPTED_RE.test(p)));
  const relevant = changes.filter((c) => [c.basePath, c.headPath].some((p) => p !== undefined && (PROMPT_RE.test(p) || EVALSET_RE.test(p))));
  const configChanged = changes.some((c) => [c.basePath, c.headPath].some((p) => p !== undefined && (CONFIG_RE.test(p) || ADAPTER_RE.test(p))));
  return { changes, relevant, configChanged, adoptedChanged, dataChanged };
}

/** A fresh workspace whose artifact (and data) files read as they were at `commit` (undefined: the working tree). */
async function workspaceAt(opts: DiffOptions, top: string, root: string, inRoot: (rel: string) => boolean, commit: string | undefined): Promise<DiffWorkspace> {
  const ws = opts.createWorkspace(root);
  if (commit === undefined) return ws;
  const differing = (await changedFiles(top, commit)).filter((c) => [c.basePath, c.headPath].some((p) => p !== undefined && inRoot(p) && (isArtifact(p) || DATA_RE.test(p))));
  const atCommit = differing.flatMap((c) => (c.basePath ? [c.basePath] : []));
  const contents = await showFiles(top, commit, atCommit);
  for (const c of differing) {
    if (c.basePath) ws.setOverlay(absPath(top, c.basePath), contents.get(c.basePath) ?? "");
    // A file that exists only on disk did not exist at the commit: an empty overlay hides it.
    if (c.headPath && c.headPath !== c.basePath && !c.basePath) ws.setOverlay(absPath(top, c.headPath), "");
    else if (c.status === "renamed" && c.headPath) ws.setOverlay(absPath(top, c.headPath), "");
  }
  return ws;
}

/** Renamed files: head path → base path (relative to the repository's top). */
function renames(changes: FileChange[]): Map<string, string> {
  const renamedTo = new Map<string, string>();
  for (const c of changes) if (c.status === "renamed" && c.basePath && c.headPath) renamedTo.set(c.headPath, c.basePath);
  return renamedTo;
}

/** The two sides of a diff. */
interface Sides {
  top: string;
  root: string;
  baseWs: DiffWorkspace;
  headWs: DiffWorkspace;
  /** Head path → base path of every renamed file (relative to the top). */
  renamedTo: Map<string, string>;
}

/** A prompt to compare, with its (absolute) path on each side. */
interface Subject {
  head?: string;
  base?: string;
  status: DiffPrompt["status"];
}

/** The prompts to compare, by path; a prompt found twice keeps its most specific status. */
class Subjects {
  private readonly byKey = new Map<string, Subject>();

  add(s: Subject): void {
    const key = s.head ?? s.base!;
    const prev = this.byKey.get(key);
    if (!prev || prev.status === "evals-changed") this.byKey.set(key, s);
  }

  has(file: string): boolean {
    return this.byKey.has(file);
  }

  /** Every subject, by path. */
  sorted(): Subject[] {
    return [...this.byKey.values()].sort((a, b) => ((a.head ?? a.base)! < (b.head ?? b.base)! ? -1 : 1));
  }
}

/** Whether a prompt file exists (and is not empty) on a side. */
async function exists(ws: DiffWorkspace, file: string): Promise<boolean> {
  try {
    const p = await ws.prompt(file);
    return typeof p.text === "string" ? p.text.trim().length > 0 : true;
  } catch {
    return false;
  }
}

/** The prompts changed prompts, partials and eval sets stand for, with their path on each side (renames followed). */
async function subjectsOfChanges(sides: Sides, relevant: FileChange[], subjects: Subjects): Promise<void> {
  const { top, root, headWs, baseWs, renamedTo } = sides;
  for (const c of relevant) {
    const h = c.headPath;
    const b = c.basePath;
    if ((h && PARTIAL_RE.test(h)) || (b && PARTIAL_RE.test(b))) {
      // A partial changed: every prompt that uses it (on either side) is compared.
      for (const [ws, rel] of [[headWs, h], [baseWs, b]] as const) {
        if (!rel) continue;
        for (const user of usersOfPartial(ws, absPath(top, rel))) {
          const userRel = relPath(top, user);
          const baseRel = [...renamedTo].find(([hp]) => hp === userRel)?.[1] ?? userRel;
          const headRel = [...renamedTo].find(([, bp]) => bp === userRel)?.[0] ?? userRel;
          subjects.add({ head: absPath(top, ws === headWs ? userRel : headRel), base: absPath(top, ws === headWs ? baseRel : userRel), status: "modified" });
        }
      }
    } else if ((h && PROMPT_RE.test(h)) || (b && PROMPT_RE.test(b))) {
      subjects.add({
        ...(h ? { head: absPath(top, h) } : {}),
        ...(b ? { base: absPath(top, b) } : {}),
        status: c.status === "added" ? "added" : c.status === "deleted" ? "deleted" : c.status === "renamed" ? "renamed" : "modified",
      });
    } else {
      // An eval set changed: compare the prompt it covers (on each side).
      const hp = h ? await headWs.promptFor(absPath(top, h)) : undefined;
      const bp = b ? await baseWs.promptFor(absPath(top, b)) : undefined;
      const headPrompt = hp ? path.resolve(root, hp) : undefined;
      const basePrompt = bp ? path.resolve(root, bp) : headPrompt ? absPath(top, renamedTo.get(relPath(top, headPrompt)) ?? relPath(top, headPrompt)) : undefined;
      if (!headPrompt && !basePrompt) continue;
      subjects.add({ ...(headPrompt ? { head: headPrompt } : {}), ...(basePrompt ? { base: basePrompt } : {}), status: "evals-changed" });
    }
  }
}

/**
 * Adopted files that changed, or whose referenced files changed: each of their prompts, paired
 * by id (`config#key`), is compared; "modified" when the prompt itself changed.
 */
function subjectsOfAdopted(sides: Sides, changed: ChangeKinds, subjects: Subjects): void {
  const { top, headWs, baseWs } = sides;
  const adoptedFiles = new Set<string>();
  for (const c of changed.changes) for (const p of [c.basePath, c.headPath]) if (p && ADOPTED_RE.test(p)) adoptedFiles.add(absPath(top, p));
  if (changed.dataChanged.size) {
    for (const ws of [headWs, baseWs]) {
      for (const f of ws.listArtifacts?.() ?? []) {
        if (!ADOPTED_RE.test(f.split(path.sep).join("/"))) continue;
        try {
          if (ws.suite?.(f).references.some((r) => changed.dataChanged.has(r))) adoptedFiles.add(f);
        } catch {
          // unreadable on this side
        }
      }
    }
  }
  for (const f of adoptedFiles) {
    const h = adoptedPrompts(headWs, f);
    const b = adoptedPrompts(baseWs, f);
    for (const id of new Set([...h.keys(), ...b.keys()])) {
      const hv = h.get(id);
      const bv = b.get(id);
      subjects.add({ ...(hv !== undefined ? { head: id } : {}), ...(bv !== undefined ? { base: id } : {}), status: hv === undefined ? "deleted" : bv === undefined ? "added" : hv !== bv ? "modified" : "evals-changed" });
    }
  }
}

/** The prompts an adopted file stands for on one side: prompt id → its text. */
function adoptedPrompts(ws: DiffWorkspace, file: string): Map<string, string> {
  const out = new Map<string, string>();
  try {
    for (const t of ws.targetsFor?.(file) ?? []) out.set(t.promptFile, ws.read?.(t.promptFile) ?? "");
    if (/\.prompty$/.test(file) && ws.read?.(file)) out.set(file, ws.read(file) ?? "");
  } catch {
    // not there on this side
  }
  return out;
}

/** driftlens.yaml or an adapter config changed: every prompt whose variants now run on other model or adapter files (or scales). */
async function subjectsOfConfig(sides: Sides, opts: DiffOptions, subjects: Subjects): Promise<void> {
  const { top, headWs, baseWs, renamedTo } = sides;
  const candidates: string[] = [];
  for (const file of headWs.listArtifacts!()) {
    if (ADOPTED_RE.test(file.split(path.sep).join("/"))) {
      // An adopted file's prompts run on the variants its providers map to.
      try {
        for (const t of headWs.targetsFor?.(file) ?? []) if (!candidates.includes(t.promptFile)) candidates.push(t.promptFile);
      } catch {
        // unreadable: nothing to compare
      }
    } else candidates.push(file);
  }
  for (const file of candidates) {
    const adopted = !PROMPT_RE.test(file);
    if ((!adopted && PARTIAL_RE.test(file.split(path.sep).join("/"))) || subjects.has(file)) continue;
    const baseFile = adopted ? file : absPath(top, renamedTo.get(relPath(top, file)) ?? relPath(top, file));
    if (!(await exists(headWs, file)) || !(await exists(baseWs, baseFile))) continue;
    if ((await variantIdentity(opts, headWs, file)) !== (await variantIdentity(opts, baseWs, baseFile))) subjects.add({ head: file, base: baseFile, status: "config-changed" });
  }
}

/** What a prompt runs on at one side: each variant's model and adapter files (by content) and scales. */
async function variantIdentity(opts: DiffOptions, ws: DiffWorkspace, file: string): Promise<string> {
  const fileIdentity = async (f: string) => (fs.existsSync(f) ? opts.store.fingerprintFile(f) : `missing ${f}`);
  const out: unknown[] = [];
  try {
    for (const ref of await variantRefsFor(ws, await ws.prompt(file), opts.variants)) {
      try {
        const v = await ws.resolveVariant(ref);
        out.push([v.id, await fileIdentity(v.modelPath), await Promise.all(v.adapters.map(async (a) => [await fileIdentity(a.path), a.scale]))]);
      } catch (e) {
        out.push([ref, `unresolved: ${(e as Error).message}`]);
      }
    }
  } catch (e) {
    out.push(`unreadable: ${(e as Error).message}`);
  }
  return JSON.stringify(out);
}

/** A subject's eval set on each side (one of them absent when the set exists on one side only). */
interface Job {
  subject: Subject;
  headEval?: string;
  baseEval?: string;
}

/** Eval sets per subject and side, paired by path (renames followed); subjects on neither side dropped. */
async function pairEvalSets(sides: Sides, subjects: Subjects): Promise<Job[]> {
  const { top, root, headWs, baseWs, renamedTo } = sides;
  const jobs: Job[] = [];
  for (const s of subjects.sorted()) {
    if (s.head && !(await exists(headWs, s.head))) delete s.head;
    if (s.base && !(await exists(baseWs, s.base))) delete s.base;
    if (!s.head && !s.base) continue;
    const headSets = s.head ? (await headWs.evalSetsFor(s.head)).map((f) => path.resolve(root, f)) : [];
    const baseSets = s.base ? (await baseWs.evalSetsFor(s.base)).map((f) => path.resolve(root, f)) : [];
    const usedBase = new Set<string>();
    for (const he of headSets) {
      const mapped = absPath(top, renamedTo.get(relPath(top, he)) ?? relPath(top, he));
      const be = baseSets.includes(mapped) ? mapped : undefined;
      if (be) usedBase.add(be);
      jobs.push({ subject: s, headEval: he, ...(be ? { baseEval: be } : {}) });
    }
    for (const be of baseSets) if (!usedBase.has(be)) jobs.push({ subject: s, baseEval: be });
  }
  return jobs;
}

/** Runs both sides (one runEvals call each; the engine starts once, only if something is not cached). */
async function runBothSides(opts: DiffOptions, sides: Sides, jobs: Job[]): Promise<{ baseReport: EvalReport; headReport: EvalReport }> {
  const getEngine = lazyEngine(opts.engine).get;
  const uniq = (ts: EvalTarget[]) => [...new Map(ts.map((t) => [`${t.promptFile}\u0000${t.evalSetFile}`, t])).values()];
  const baseReport = await runSide(
    opts,
    getEngine,
    sides.baseWs,
    uniq(jobs.flatMap((j) => (j.subject.base && j.baseEval ? [{ promptFile: j.subject.base, evalSetFile: j.baseEval }] : []))),
  );
  const headReport = await runSide(
    opts,
    getEngine,
    sides.headWs,
    uniq(jobs.flatMap((j) => (j.subject.head && j.headEval ? [{ promptFile: j.subject.head, evalSetFile: j.headEval }] : []))),
  );
  return { baseReport, headReport };
}

/** One side's evals; any error or incomplete run is a DiffError. */
async function runSide(opts: DiffOptions, getEngine: () => Promise<RunnerEngine>, ws: DiffWorkspace, targets: EvalTarget[]): Promise<EvalReport> {
  if (targets.length === 0) return { runs: [], errors: [] };
  const r = await runEvals({
    workspace: ws,
    store: opts.store,
    engine: getEngine,
    targets,
    ...(opts.variants?.length ? { variants: opts.variants } : {}),
    ...passedRunOptions(opts),
  });
  if (r.errors.length) throw new DiffError(r.errors.map((e) => e.message).join("; "));
  const bad = r.runs.find((x) => x.status !== "complete");
  if (bad) throw new DiffError(bad.error ?? `variant ${bad.variant}: the run of ${bad.evalSetFile} did not complete`);
  return r;
}

/** The runs of one prompt on one eval set. */
function runsFor(r: EvalReport, promptFile?: string, evalSetFile?: string): EvalRunReport[] {
  return promptFile && evalSetFile ? r.runs.filter((x) => x.promptFile === promptFile && x.evalSetFile === evalSetFile) : [];
}

/** Pairs runs by variant; when the prompt's own model changed, its single runs pair up. */
function pairRuns(headRuns: EvalRunReport[], baseRuns: EvalRunReport[]): { head?: EvalRunReport; base?: EvalRunReport }[] {
  const pairs: { head?: EvalRunReport; base?: EvalRunReport }[] = [];
  if (headRuns.length === 1 && baseRuns.length === 1) pairs.push({ head: headRuns[0]!, base: baseRuns[0]! });
  else {
    for (const h of headRuns) pairs.push({ head: h, ...(baseRuns.find((b) => b.variant === h.variant) ? { base: baseRuns.find((b) => b.variant === h.variant)! } : {}) });
    for (const b of baseRuns) if (!headRuns.some((h) => h.variant === b.variant)) pairs.push({ base: b });
  }
  return pairs;
}

/** One prompt on one variant and eval set, base against head: per-case deltas, flips, statistics and gate. */
function comparePrompt(gate: GateSettings, root: string, job: Job, base: EvalRunReport | undefined, head: EvalRunReport | undefined): DiffPrompt {
  const s = job.subject;
  const rel = (abs: string) => relPath(root, abs);
  const file = rel(s.head ?? s.base!);
  const variant = head && base && head.variant !== base.variant ? `${base.variant} → ${head.variant}` : (head ?? base)!.variant;
  const label = `${file} on ${variant}`;
  const baseCases = new Map((base?.cases ?? []).map((c) => [c.id, c]));
  const headCases = new Map((head?.cases ?? []).map((c) => [c.id, c]));
  const common = (head?.cases ?? []).filter((c) => baseCases.has(c.id));
  const added = base && head ? (head.cases ?? []).filter((c) => !baseCases.has(c.id)).map((c) => c.id) : [];
  const removed = base && head ? (base.cases ?? []).filter((c) => !headCases.has(c.id)).map((c) => c.id) : [];
  const pairsOf = common.map((h) => ({ id: h.id, tags: h.tags, ...pairedOutcome(baseCases.get(h.id)!, h) }));
  const cmp = comparePaired(label, pairsOf, gate);
  const compared = Boolean(base && head);
  return {
    file,
    baseFile: s.base ? rel(s.base) : null,
    status: !head ? "deleted" : !base ? (s.status === "evals-changed" ? "evals-changed" : "added") : s.status,
    variant,
    evalSet: rel((job.headEval ?? job.baseEval)!),
    baseEvalSet: job.baseEval ? rel(job.baseEval) : null,
    baseHash: base?.promptHash ?? null,
    headHash: head?.promptHash ?? null,
    // On the common cases when both sides ran (so an eval-set change cannot fake a delta).
    basePassRate: compared ? cmp.overall.basePassRate : base ? base.summary.passRate : null,
    headPassRate: compared ? cmp.overall.headPassRate : head ? head.summary.passRate : null,
    delta: compared ? cmp.overall.delta : null,
    ci: compared ? cmp.overall.ci : null,
    pValue: compared ? cmp.overall.pValue : null,
    cases: common.length,
    slices: compared ? sliceRows(cmp.slices) : [],
    flips: flipsOf(common, baseCases),
    evalSetChanged: Boolean(base && head && (base.evalSetHash !== head.evalSetHash || added.length > 0 || removed.length > 0)),
    added,
    removed,
    caseResults: caseResults(base, head, baseCases, headCases),
    gate: compared ? { passed: cmp.passed, reasons: cmp.reasons, warnings: cmp.warnings } : { passed: true, reasons: [], warnings: [] },
  };
}

type RunCase = EvalRunReport["cases"][number];

/** The cases of both sides whose outcome flipped, with a word diff of their outputs. */
function flipsOf(common: RunCase[], baseCases: Map<string, RunCase>): DiffFlip[] {
  return common
    .filter((h) => caseFlip(baseCases.get(h.id)!, h) !== null)
    .map((h) => {
      const b = baseCases.get(h.id)!;
      return {
        id: h.id,
        ...caseFlip(b, h)!,
        tags: h.tags,
        baseOutput: b.output,
        headOutput: h.output,
        outputDiff: wordDiff(b.output, h.output),
      };
    });
}

/** Every case's outcome on each side: head's cases first, then those only the base has. */
function caseResults(base: EvalRunReport | undefined, head: EvalRunReport | undefined, baseCases: Map<string, RunCase>, headCases: Map<string, RunCase>): DiffCase[] {
  const firstFailure = (c: RunCase) => c.error ?? c.assertions.find((a) => !a.pass)?.message ?? null;
  return [
    ...(head?.cases ?? []).map((h) => {
      const b = baseCases.get(h.id);
      return {
        id: h.id,
        tags: h.tags,
        base: b ? (b.pass ? "pass" : "fail") : null,
        head: h.pass ? "pass" : "fail",
        headOutput: h.output,
        headMessage: h.pass ? null : firstFailure(h),
        ...(h.samples.length > 1 || (b?.samples.length ?? 1) > 1 ? { basePassFraction: b ? b.passFraction : null, headPassFraction: h.passFraction } : {}),
      } satisfies DiffCase;
    }),
    ...(base?.cases ?? [])
      .filter((b) => !headCases.has(b.id))
      .map((b) => ({ id: b.id, tags: b.tags, base: b.pass ? "pass" : "fail", head: null, headOutput: null, headMessage: null }) satisfies DiffCase),
  ];
}

export type { FileChange };

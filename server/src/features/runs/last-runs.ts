// driftlens/lastRuns: the CodeLens data of a file: the latest complete run per (eval set, variant),
// whether the files changed since, and its delta against the base version's latest run.
import { gitToplevel, relPath, showFile } from "../../eval/git";
import { LastRunsParamsSchema, type LastRunLens } from "../../protocol/runs";
import type { RunRecord, Store } from "../../store/store";
import type { EvalTarget } from "../../eval/runner";
import { lazy, type Root, type RunsState } from "./state";

type ContentHash = (text: string) => string;

/** Latest complete run per (eval set, variant) of a file, with its delta vs the base version's latest run. */
export async function handleLastRuns(state: RunsState, raw: unknown): Promise<{ lenses: LastRunLens[] }> {
  const p = LastRunsParamsSchema.safeParse(raw);
  if (!p.success) return { lenses: [] };
  try {
    const r = state.rootFor(p.data.file);
    const s = await state.settings();
    const store = await state.storeFor(r, s);
    const { contentHash } = await lazy();
    const baseRef = p.data.baseRef ?? s.run.baseRef;
    const lenses: LastRunLens[] = [];
    for (const t of state.targetsFor(r, p.data.file)) lenses.push(...(await lensesOf(state, r, store, t, baseRef, contentHash)));
    return { lenses };
  } catch (e) {
    state.log.warn(`last runs of ${p.data.file}: ${e instanceof Error ? e.message : String(e)}`);
    return { lenses: [] };
  }
}

/** The lenses of one (prompt, eval set) pair: one per variant with a complete run. */
async function lensesOf(state: RunsState, r: Root, store: Store, t: EvalTarget, baseRef: string, contentHash: ContentHash): Promise<LastRunLens[]> {
  const runs = store.listRuns({ promptFile: t.promptFile, evalSetFile: t.evalSetFile, status: "complete", limit: 200 });
  const latest = new Map<string, RunRecord>();
  for (const run of runs) if (!latest.has(run.variant)) latest.set(run.variant, run);
  if (latest.size === 0) return [];
  const promptNow = contentHash(state.view(r).read(t.promptFile) ?? "");
  const evalNow = contentHash(state.view(r).read(t.evalSetFile) ?? "");
  const basePromptHash = await basePromptHashOf(r, t.promptFile, baseRef, contentHash);
  const lenses: LastRunLens[] = [];
  for (const [variant, run] of latest) {
    const results = store.results(run.id);
    const passed = results.filter((x) => x.pass).length;
    const baseRun = basePromptHash && basePromptHash !== run.promptHash ? runs.find((x) => x.variant === variant && x.promptHash === basePromptHash) : undefined;
    const delta: LastRunLens["delta"] = baseRun ? deltaAgainst(results, store.results(baseRun.id), baseRef) : null;
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
  return lenses;
}

/** The hash of the prompt as it is at the base ref; null when git or the file there is missing. */
async function basePromptHashOf(r: Root, promptFile: string, baseRef: string, contentHash: ContentHash): Promise<string | null> {
  try {
    const top = await gitToplevel(r.root);
    const text = await showFile(top, baseRef, relPath(top, promptFile));
    return text === undefined ? null : contentHash(text);
  } catch {
    return null;
  }
}

type CaseRow = ReturnType<Store["results"]>[number];

/** Passed count change, the worst slice's pass-rate change and the flipped cases, over the cases both runs have. */
function deltaAgainst(results: CaseRow[], baseResults: CaseRow[], baseRef: string): NonNullable<LastRunLens["delta"]> {
  const before = new Map(baseResults.map((x) => [x.caseId, x]));
  const flips: NonNullable<LastRunLens["delta"]>["flips"] = [];
  const slices = new Map<string, { n: number; head: number; base: number }>();
  let headPassed = 0;
  let basePassed = 0;
  for (const x of results) {
    const b = before.get(x.caseId);
    if (!b) continue;
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
  let tail: number | null = null;
  for (const sl of slices.values()) {
    const d = sl.head / sl.n - sl.base / sl.n;
    if (tail === null || d < tail) tail = d;
  }
  return { baseRef, passedDelta: headPassed - basePassed, tailDelta: tail, flips };
}

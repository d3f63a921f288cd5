// driftlens/deltas: what changed in a prompt's results since a base git ref (eval/diff.ts), for the
// prompt asked about (or the prompts of the eval set asked about).
import path from "node:path";
import type { CancellationToken } from "vscode-languageserver/node";
import { Workspace } from "../../artifacts";
import { adoptedView } from "../../artifacts/adopt/view";
import { artifactKind } from "../../artifacts/types";
import { relPath } from "../../eval/git";
import { DeltasParamsSchema } from "../../protocol/runs";
import { lazy, REFUSED, type Root, type RunsState } from "./state";

/** Diffs the file's results against the base ref; answers "refused" in a restricted workspace. */
export async function handleDeltas(state: RunsState, raw: unknown, token: CancellationToken) {
  const p = DeltasParamsSchema.safeParse(raw);
  if (!p.success) return { status: "failed", message: `bad driftlens/deltas parameters: ${p.error.issues[0]?.message}` };
  if (!state.trusted) return { status: "refused", message: REFUSED };
  const r = state.rootFor(p.data.file);
  const run = state.track(p.data.runId, `deltas vs ${p.data.baseRef}`, token);
  try {
    const s = await state.settings();
    const store = await state.storeFor(r, s);
    const es = state.engineSettings(r, s);
    const { diffRefs } = await lazy();
    const report = await diffRefs({
      root: r.root,
      base: p.data.baseRef,
      variants: p.data.variants?.length ? p.data.variants : s.run.defaultVariants.length ? s.run.defaultVariants : undefined,
      store,
      engine: async () => state.routed(es),
      gate: state.effective(r, s).gate,
      createWorkspace: (root) => adoptedView(new Workspace(root)),
      seed: s.run.seed,
      render: state.renderFor(r),
      signal: run.abort.signal,
      trusted: state.trusted,
      memoryBudgetBytes: es.memoryBudgetBytes,
      onProgress: (pr) => {
        run.done = pr.done;
        run.total = pr.total;
        state.pushStatus();
      },
    });
    void state.refreshEngineInfo();
    const wanted = promptsAskedAbout(state, r, p.data.file);
    const prompts = report.prompts.filter((x) => wanted.has(x.file) || (x.baseFile !== null && wanted.has(x.baseFile)) || wanted.has(relPath(r.root, path.resolve(r.root, x.file))));
    return { status: run.abort.signal.aborted ? "cancelled" : "completed", report: { ...report, prompts: prompts.length ? prompts : report.prompts } };
  } catch (e) {
    if (run.abort.signal.aborted) return { status: "cancelled" };
    state.log.error("deltas failed", e);
    return { status: "failed", message: e instanceof Error ? e.message : String(e) };
  } finally {
    state.untrack(run);
  }
}

/** Only the prompt asked about (and the prompts of an eval set asked about), relative to the root. */
function promptsAskedAbout(state: RunsState, r: Root, file: string): Set<string> {
  const wanted = new Set<string>();
  if (artifactKind(file) === "prompt") wanted.add(relPath(r.root, file));
  else for (const t of state.targetsFor(r, file)) wanted.add(relPath(r.root, t.promptFile));
  return wanted;
}

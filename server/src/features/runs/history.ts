// driftlens/history: the runs recorded in the stores (of a file, or of every workspace folder),
// newest first, and driftlens/testTree: the eval sets and variants the Test Explorer lists.
import { artifactKind } from "../../artifacts/types";
import { HistoryParamsSchema, type HistoryEntry, type TestTree } from "../../protocol/runs";
import type { Root, RunsState } from "./state";

/** The recorded runs of a file (or of every folder), newest first, at most `limit`. */
export async function handleHistory(state: RunsState, raw: unknown): Promise<{ runs: HistoryEntry[] }> {
  const p = HistoryParamsSchema.safeParse(raw ?? {});
  if (!p.success) return { runs: [] };
  try {
    const s = await state.settings();
    const rs = p.data.file ? [state.rootFor(p.data.file)] : state.allRoots();
    const out: HistoryEntry[] = [];
    for (const r of rs) {
      const store = await state.storeFor(r, s);
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
    state.log.warn(`history: ${e instanceof Error ? e.message : String(e)}`);
    return { runs: [] };
  }
}

/** Every eval set (native and adopted) with its cases, every variant and every reference, over all folders. */
export async function handleTestTree(state: RunsState): Promise<TestTree> {
  const tree: TestTree = { evalSets: [], variants: [], references: [] };
  for (const r of state.allRoots()) {
    try {
      addRoot(state, r, tree);
    } catch (e) {
      state.log.warn(`test tree of ${r.root}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return tree;
}

/** Adds one root's variants and eval sets to the tree. */
function addRoot(state: RunsState, r: Root, tree: TestTree): void {
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
        state.log.warn(`test tree: ${f}: ${e instanceof Error ? e.message : String(e)}`);
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
}

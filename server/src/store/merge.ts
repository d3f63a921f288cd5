// Merges stores written by separate runs (e.g. `driftlens eval --shard I/N` on N CI runners) into
// one: artifact versions, runs with their results, cached generations and memos. Every row is
// keyed by content or by a random run id, so merging is a union; merging a store twice adds
// nothing. A generation key two stores hold with different outputs (a nondeterministic server or
// engine) keeps the target's and is counted as a conflict. After a merge, the same eval run on the
// merged store answers every case from the cache: it reports what one unsharded run reports.
import fs from "node:fs";
import path from "node:path";
import { Store, StoreError } from "./store";

export interface MergeSummary {
  sources: string[];
  artifactVersions: number;
  runs: number;
  /** Runs the target already had (same id): a store merged twice. */
  runsSkipped: number;
  results: number;
  generations: number;
  /** Generation keys both stores had with different outputs (the target's kept). */
  conflicts: { key: string; source: string }[];
  memos: number;
}

const MEMO_BATCH = 500;

/** Merges each source store (opened read-only, never changed) into `target`. */
export function mergeStores(target: Store, sources: string[]): MergeSummary {
  const out: MergeSummary = { sources: [], artifactVersions: 0, runs: 0, runsSkipped: 0, results: 0, generations: 0, conflicts: [], memos: 0 };
  for (const file of sources) {
    const abs = path.resolve(file);
    if (abs === path.resolve(target.file)) throw new StoreError(`cannot merge store ${abs} into itself`, abs);
    if (!fs.existsSync(abs)) throw new StoreError(`store ${abs} does not exist`, abs);
    const src = Store.open(abs, { readonly: true });
    try {
      for (const v of src.allArtifactVersions()) {
        const content = src.artifactContent(v.hash);
        if (content === undefined) continue;
        if (target.recordArtifact({ path: v.path, content, kind: v.kind, gitCommit: v.gitCommit, seenAt: v.firstSeen }).isNew) out.artifactVersions++;
      }
      // Generations before runs: a merged run's results point at cache entries by key.
      for (const g of src.allGenerations()) {
        const r = target.importGeneration(g);
        if (r === "added") out.generations++;
        else if (r === "conflict") out.conflicts.push({ key: g.key, source: abs });
      }
      for (const run of src.listRuns()) {
        const results = src.results(run.id);
        if (target.importRun(run, results)) {
          out.runs++;
          out.results += results.length;
        } else out.runsSkipped++;
      }
      let batch: [string, string][] = [];
      for (const m of src.allMemos()) {
        batch.push(m);
        if (batch.length >= MEMO_BATCH) {
          out.memos += target.importMemos(batch);
          batch = [];
        }
      }
      out.memos += target.importMemos(batch);
      out.sources.push(abs);
    } finally {
      src.close();
    }
  }
  return out;
}

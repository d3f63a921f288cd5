// `driftlens eval --shard I/N` on separate checkouts (a CI matrix) and `driftlens store merge`:
// the shards split the cases without overlap, and after merging their stores one fully cached
// `driftlens eval` reports exactly what one unsharded run reports.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { evalCommand } from "../../../server/src/cli/eval";
import { storeCommand } from "../../../server/src/cli/store";
import { inShard, parseShard } from "../../../server/src/eval/shard";
import { Store } from "../../../server/src/store/store";
import { quickstartCopy, runCommand } from "../compare/quickstart";

interface Json {
  runs: { status: string; summary: Record<string, number>; slices: unknown; cases: { id: string; pass: boolean; output: string; tokens: unknown[]; assertions: unknown[]; cached: boolean; timings: unknown }[] }[];
}

/** A report as one checkout printed it, with that checkout's folder and the timing fields taken out. */
function normalized(text: string, dir: string) {
  const r = JSON.parse(text.split(dir).join("<root>")) as Json;
  return r.runs.map((run) => ({
    ...run,
    id: null,
    resumed: null,
    summary: { ...run.summary, generated: 0, cached: 0, resumed: 0, tokensPerSecond: 0, wallMs: 0 },
    cases: run.cases.map((c) => ({ ...c, cached: null, source: null, timings: null })),
  }));
}

test("--shard I/N splits every eval set's cases deterministically, without overlap, sizes within one", () => {
  assert.deepEqual(parseShard("2/3"), { index: 2, count: 3 });
  for (const bad of ["0/2", "3/2", "1/0", "a/b", "1", "1/2/3"]) assert.throws(() => parseShard(bad), /--shard/);
  for (const n of [1, 2, 3, 7]) {
    const sizes = Array.from({ length: n }, (_, i) => Array.from({ length: 60 }, (_, ord) => ord).filter((ord) => inShard(ord, { index: i + 1, count: n })));
    assert.deepEqual(sizes.flat().sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i));
    assert.ok(Math.max(...sizes.map((s) => s.length)) - Math.min(...sizes.map((s) => s.length)) <= 1);
  }
});

test("shard 1/2 and 2/2 on separate checkouts, their stores merged: a fully cached eval reports exactly what one run does", async () => {
  const one = quickstartCopy("driftlens-shard-one-");
  const full = await runCommand(evalCommand, ["capital.prompt", "--format", "json"], one);
  assert.equal(full.code, 0, full.err);
  const expected = normalized(full.out, one);

  const shards = [1, 2].map(() => quickstartCopy("driftlens-shard-"));
  const seen: string[][] = [];
  for (const [i, dir] of shards.entries()) {
    const r = await runCommand(evalCommand, ["capital.prompt", "--shard", `${i + 1}/2`, "--format", "json"], dir);
    assert.ok(r.code === 0 || r.code === 1, r.err);
    const run = (JSON.parse(r.out) as Json).runs[0]!;
    assert.equal(run.status, "complete");
    assert.equal(run.summary.cases, 30);
    seen.push(run.cases.map((c) => c.id));
  }
  assert.equal(new Set([...seen[0]!, ...seen[1]!]).size, 60, "the shards cover every case once");

  const merged = quickstartCopy("driftlens-shard-merged-");
  const m = await runCommand(storeCommand, ["merge", ...shards.map((d) => path.join(d, ".driftlens", "store.db")), "--format", "json"], merged);
  assert.equal(m.code, 0, m.err);
  const summary = JSON.parse(m.out) as { runs: number; results: number; generations: number; conflicts: unknown[] };
  assert.equal(summary.runs, 2);
  assert.equal(summary.results, 60);
  assert.equal(summary.generations, 60);
  assert.deepEqual(summary.conflicts, []);

  const rerun = await runCommand(evalCommand, ["capital.prompt", "--format", "json"], merged);
  assert.equal(rerun.code, full.code);
  const run = (JSON.parse(rerun.out) as Json).runs[0]!;
  assert.equal(run.summary.cached, 60, "every case from the merged cache");
  assert.equal(run.summary.generated, 0);
  assert.deepEqual(normalized(rerun.out, merged), expected);

  // Merging again adds nothing; the shard stores were only read.
  const again = await runCommand(storeCommand, ["merge", ...shards.map((d) => path.join(d, ".driftlens", "store.db")), "--format", "json"], merged);
  const s2 = JSON.parse(again.out) as { runs: number; runsSkipped: number; generations: number };
  assert.deepEqual([s2.runs, s2.runsSkipped, s2.generations], [0, 2, 0]);
  const shardStore = Store.open(path.join(shards[0]!, ".driftlens", "store.db"), { readonly: true });
  try {
    assert.equal(shardStore.listRuns().length, 1);
  } finally {
    shardStore.close();
  }
});

test("store merge: clear errors for a missing store, a non-store file, merging a store into itself", async () => {
  const dir = quickstartCopy("driftlens-merge-err-");
  const missing = await runCommand(storeCommand, ["merge", "nope.db"], dir);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /store .*nope\.db does not exist/);
  fs.writeFileSync(path.join(dir, "junk.db"), "not sqlite at all, just text that is long enough to be a page ".repeat(100));
  const junk = await runCommand(storeCommand, ["merge", "junk.db"], dir);
  assert.equal(junk.code, 2);
  assert.match(junk.err, /junk\.db is not a Driftlens store/);
  await runCommand(evalCommand, ["capital.prompt", "--shard", "1/60"], dir);
  const self = await runCommand(storeCommand, ["merge", ".driftlens/store.db"], dir);
  assert.equal(self.code, 2);
  assert.match(self.err, /cannot merge store .* into itself/);
  const usage = await runCommand(storeCommand, ["frobnicate"], dir);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /unknown store command 'frobnicate'/);
});

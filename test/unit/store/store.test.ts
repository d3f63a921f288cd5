import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { contentHash, normalizeContent, openSqlite, SCHEMA_VERSION, Store, StoreError, type CaseResultRecord } from "../../../server/src/store/store";
import { APPLICATION_ID, MIGRATIONS } from "../../../server/src/store/migrations";
import { decodeTokens, encodeTokens, normalizeTokens } from "../../../server/src/store/token-codec";
import { tempDir } from "../../helpers/paths";

const dir = tempDir("driftlens-store-");
let n = 0;
const fresh = () => path.join(dir, `s${n++}`, "store.db");
/** A bare SQLite connection through this process's driver (better-sqlite3 or node:sqlite). */
const rawDb = (file: string) => openSqlite(file).db;

function result(caseId: string, ord: number, extra: Partial<CaseResultRecord> = {}): CaseResultRecord {
  return {
    caseId,
    ord,
    pass: true,
    score: 1,
    output: `out ${caseId}`,
    tokens: [{ token: 1, text: "a", prob: 0.5, top: [{ token: 1, text: "a", prob: 0.5 }] }],
    assertions: [{ type: "contains", pass: true, score: 1, message: "" }],
    tags: ["t"],
    cached: false,
    genKey: null,
    error: null,
    timings: { timeToFirstTokenMs: 1, wallMs: 2, tokensPerSecond: 3, promptTokens: 4 },
    ...extra,
  };
}

const newRun = (caseCount: number, fingerprint = "fp") => ({
  fingerprint,
  variant: "tiny/f16",
  promptFile: "a.prompt",
  evalSetFile: "a.eval.yaml",
  promptHash: "p",
  evalSetHash: "e",
  modelFingerprint: "m",
  adapters: [{ name: "formal", file: "formal.adapter.yaml", fingerprint: "ad", scale: 0.5 }],
  params: { temperature: 0, maxTokens: 8 },
  seed: 42,
  engineVersion: "test",
  caseCount,
});

test("a new store is WAL, at the current schema version, and passes integrity_check", () => {
  const s = Store.open(fresh());
  assert.equal(s.schemaVersion, SCHEMA_VERSION);
  assert.equal(s.db.pragma("journal_mode", { simple: true }), "wal");
  assert.ok((s.db.pragma("busy_timeout", { simple: true }) as number) >= 5000);
  assert.equal(s.integrityCheck(), "ok");
  s.close();
});

test("reopening keeps data and does not re-run migrations", () => {
  const f = fresh();
  const s = Store.open(f);
  const run = s.createRun(newRun(1));
  s.putResult(run.id, result("c1", 0));
  s.close();
  const s2 = Store.open(f);
  assert.equal(s2.schemaVersion, SCHEMA_VERSION);
  assert.equal(s2.results(run.id).length, 1);
  assert.equal(s2.getRun(run.id)?.adapters[0]?.scale, 0.5);
  s2.close();
});

test("a file that is not SQLite gives a clear StoreError and is left untouched", () => {
  const f = fresh();
  fs.mkdirSync(path.dirname(f), { recursive: true });
  const junk = "this is not a database, it is a text file that is long enough".repeat(20);
  fs.writeFileSync(f, junk);
  assert.throws(() => Store.open(f), (e: unknown) => e instanceof StoreError && /not a Driftlens store/.test(e.message) && e.message.includes(f));
  assert.equal(fs.readFileSync(f, "utf8"), junk);
});

test("another application's SQLite database is refused, not migrated", () => {
  const f = fresh();
  fs.mkdirSync(path.dirname(f), { recursive: true });
  const db = rawDb(f);
  db.exec("CREATE TABLE mine(x); INSERT INTO mine VALUES (1)");
  db.close();
  assert.throws(() => Store.open(f), /SQLite database but not a Driftlens store/);
  const db2 = rawDb(f);
  assert.deepEqual(db2.prepare("SELECT name FROM sqlite_master").all(), [{ name: "mine" }]);
  db2.close();
});

test("a store from a newer Driftlens is refused with the versions named, data kept", () => {
  const f = fresh();
  const s = Store.open(f);
  const run = s.createRun(newRun(0));
  s.db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  s.close();
  assert.throws(() => Store.open(f), new RegExp(`newer Driftlens \\(store version ${SCHEMA_VERSION + 1}; this version reads up to ${SCHEMA_VERSION}\\)`));
  const db = rawDb(f);
  assert.equal((db.prepare("SELECT count(*) n FROM runs WHERE id = ?").get(run.id) as { n: number }).n, 1);
  db.close();
});

test("normalization: line endings, trailing whitespace and BOM do not make a new version; edits do", () => {
  assert.equal(normalizeContent("\ufeffa  \r\nb\t\r\n\r\n\n"), "a\nb\n");
  assert.equal(contentHash("a\nb\n"), contentHash("a\r\nb   \n\n"));
  assert.notEqual(contentHash("a\nb\n"), contentHash("a\n b\n"));
  const s = Store.open(fresh());
  const v1 = s.recordArtifact({ path: "x.prompt", content: "hello\r\n", kind: "prompt", seenAt: 1 });
  const v1again = s.recordArtifact({ path: "x.prompt", content: "hello  \n", kind: "prompt", gitCommit: "abc", seenAt: 5 });
  const v2 = s.recordArtifact({ path: "x.prompt", content: "hello world\n", kind: "prompt", seenAt: 2 });
  assert.equal(v1.isNew, true);
  assert.equal(v1again.isNew, false);
  assert.equal(v1again.hash, v1.hash);
  assert.equal(v2.isNew, true);
  const versions = s.artifactVersions("x.prompt");
  assert.deepEqual(
    versions.map((v) => [v.hash, v.firstSeen, v.gitCommit]),
    [
      [v1.hash, 1, "abc"],
      [v2.hash, 2, null],
    ],
  );
  assert.equal(s.artifactContent(v2.hash), "hello world\n");
  // The same content at another path is another version row sharing the blob.
  assert.equal(s.recordArtifact({ path: "y.prompt", content: "hello", kind: "prompt" }).isNew, true);
  assert.equal((s.db.prepare("SELECT count(*) n FROM blobs").get() as { n: number }).n, 2);
  s.close();
});

test("model fingerprints: sha256 of the file, cached by path+size+mtime, recomputed after a change", async () => {
  const s = Store.open(fresh());
  const f = path.join(dir, "model.bin");
  fs.writeFileSync(f, "abc");
  const h1 = await s.fingerprintFile(f);
  assert.equal(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Poison the cached value: a hit must come from the cache, not a re-hash.
  s.db.prepare("UPDATE model_fingerprints SET sha256 = 'cached'").run();
  assert.equal(await s.fingerprintFile(f), "cached");
  fs.writeFileSync(f, "abcd");
  fs.utimesSync(f, new Date(), new Date(Date.now() + 5000));
  assert.equal(await s.fingerprintFile(f), "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
  s.close();
});

test("a run is complete only when every case has a result", () => {
  const s = Store.open(fresh());
  const run = s.createRun(newRun(2));
  assert.equal(run.status, "running");
  s.putResult(run.id, result("a", 0));
  assert.throws(() => s.completeRun(run.id, {}), /has 1 of 2 case results/);
  assert.equal(s.getRun(run.id)?.status, "running");
  s.putResult(run.id, result("b", 1, { pass: false, score: 0.25 }));
  s.putResult(run.id, result("b", 1, { pass: false, score: 0.5 })); // a rewrite replaces, never duplicates
  s.completeRun(run.id, { passed: 1 });
  const done = s.getRun(run.id)!;
  assert.equal(done.status, "complete");
  assert.deepEqual(done.summary, { passed: 1 });
  const rs = s.results(run.id);
  assert.deepEqual(
    rs.map((r) => [r.caseId, r.pass, r.score]),
    [
      ["a", true, 1],
      ["b", false, 0.5],
    ],
  );
  assert.deepEqual(rs[0]!.tokens[0]!.top, [{ token: 1, text: "a", prob: 0.5 }]);
  s.close();
});

test("resume: an unfinished run whose owner is dead is claimed once; a live owner's run is not", () => {
  const s = Store.open(fresh());
  const mine = s.createRun(newRun(3, "fpA"));
  // Owned by this live process: never taken over.
  assert.equal(s.claimResumableRun("fpA"), undefined);
  s.db.prepare("UPDATE runs SET owner_pid = 2147483646 WHERE id = ?").run(mine.id); // no such process
  const claimed = s.claimResumableRun("fpA");
  assert.equal(claimed?.id, mine.id);
  assert.equal(claimed?.ownerPid, process.pid);
  assert.equal(s.claimResumableRun("fpA"), undefined);
  // Failed runs resume too; complete ones never.
  s.failRun(mine.id, "engine crashed");
  assert.equal(s.getRun(mine.id)?.error, "engine crashed");
  assert.equal(s.claimResumableRun("fpA")?.id, mine.id);
  assert.equal(s.getRun(mine.id)?.status, "running");
  s.close();
});

test("generation cache: hits return what was stored, misses are undefined", () => {
  const s = Store.open(fresh());
  const g = {
    key: "k1",
    text: "Paris",
    tokens: [{ token: 3, text: "Paris", prob: 0.9, top: [{ token: 3, text: "Paris", prob: 0.75 }] }],
    promptTokens: 10,
    template: "chat" as const,
    stopReason: "eos",
    timeToFirstTokenMs: 5,
    wallMs: 9,
    tokensPerSecond: 100,
    backend: "cpu",
    threads: 1,
    engineVersion: "e1",
  };
  s.putGeneration(g);
  assert.equal(s.getGeneration("k2"), undefined);
  const hit = s.getGeneration("k1")!;
  assert.deepEqual({ ...hit, createdAt: 0 }, { ...g, createdAt: 0 });
  assert.deepEqual([...s.getGenerations(["k1", "k2"]).keys()], ["k1"]);
  s.close();
});

test("listRuns filters and orders newest first", () => {
  const s = Store.open(fresh());
  const a = s.createRun(newRun(0, "x"));
  const b = s.createRun({ ...newRun(0, "y"), variant: "tiny/q4_0" });
  s.db.prepare("UPDATE runs SET created_at = created_at + 10 WHERE id = ?").run(b.id);
  assert.deepEqual(s.listRuns().map((r) => r.id), [b.id, a.id]);
  assert.deepEqual(s.listRuns({ variant: "tiny/f16" }).map((r) => r.id), [a.id]);
  assert.deepEqual(s.listRuns({ fingerprint: "y", limit: 1 }).map((r) => r.id), [b.id]);
  s.close();
});

test("token codec round-trips ids, exact probabilities, unicode texts and alternatives", () => {
  const tokens = [
    { token: 1, text: " Paris", prob: 0.123456789012345, top: [{ token: 1, text: " Paris", prob: 0.123456789012345 }, { token: -7, text: "é☃😀", prob: 1e-300 }] },
    { token: 2, text: "", prob: 1, top: [] },
    { token: 3, text: " Paris", prob: 0, top: [{ token: 2, text: "", prob: 0.5 }] },
  ];
  // The chosen token's probability is exact; alternatives' are single precision.
  const back = decodeTokens(encodeTokens(tokens));
  assert.deepEqual(back, normalizeTokens(tokens));
  assert.equal(back[0]!.prob, 0.123456789012345);
  assert.equal(back[0]!.top[0]!.prob, Math.fround(0.123456789012345));
  assert.deepEqual(decodeTokens(encodeTokens(back)), back, "normalized tokens round-trip exactly");
  assert.deepEqual(decodeTokens(encodeTokens([])), []);
  const big = [{ token: 2 ** 31 - 1, text: "x".repeat(300), prob: 0.5, top: [{ token: -(2 ** 31), text: "y", prob: 0.25 }] }];
  assert.deepEqual(decodeTokens(encodeTokens(big)), big);
  const s = Store.open(fresh());
  const run = s.createRun(newRun(1));
  s.putResult(run.id, result("x", 0, { tokens }));
  assert.deepEqual(s.results(run.id)[0]!.tokens, normalizeTokens(tokens));
  s.close();
});

test("a version-1 store is migrated in place to the current version, keeping its rows", () => {
  const f = fresh();
  fs.mkdirSync(path.dirname(f), { recursive: true });
  const db = rawDb(f);
  db.exec(MIGRATIONS[0]!.sql);
  db.pragma("user_version = 1");
  db.pragma(`application_id = ${APPLICATION_ID}`);
  db.prepare("INSERT INTO blobs(hash, content) VALUES ('h', 'old content')").run();
  db.close();
  const s = Store.open(f);
  assert.equal(s.schemaVersion, SCHEMA_VERSION);
  assert.equal(s.artifactContent("h"), "old content");
  s.putMemos([["k", { a: 1 }]]);
  assert.deepEqual(s.getMemo("k"), { a: 1 });
  assert.equal(s.getMemo("nope"), undefined);
  assert.equal(s.integrityCheck(), "ok");
  s.close();
});

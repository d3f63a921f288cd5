// The store's two SQLite drivers (server/src/store/driver.ts): better-sqlite3 with a binary per
// Node ABI, and the runtime's node:sqlite. They must behave alike (a differential transcript of
// the SqliteDb interface: rows, BLOBs, transactions, savepoints, error codes), be chosen as
// documented (by ABI, by DRIFTLENS_SQLITE_DRIVER, with a clear error when none can run), and read
// each other's stores with nothing lost, also while both write one store at once.
// Drivers a runtime lacks (node:sqlite on Node 20) run in a Node 24 child: this file runs itself.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { resolveDriver } from "../../../server/src/store/driver";
import { nodeSqlite } from "../../../server/src/store/driver-node-sqlite";
import { openSqlite, Store, type CaseResultRecord, type SqliteDb, type SqliteDriverName } from "../../../server/src/store/store";
import { tempDir } from "../../helpers/paths";
import { ensureRuntimes, neutralEnv, runtime } from "../../helpers/runtimes";

const CHILD = "DRIFTLENS_TEST_DRIVERS_CHILD";
const DRIVERS: SqliteDriverName[] = ["better-sqlite3", "node:sqlite"];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A value as JSON, with Buffers (and other byte arrays) as "buffer:<hex>" and the prototype of objects noted. */
function show(v: unknown): Json {
  if (v === undefined) return "undefined";
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (typeof v === "bigint") return `bigint:${v}`;
  if (Buffer.isBuffer(v)) return `buffer:${v.toString("hex")}`;
  if (v instanceof Uint8Array) return `uint8array:${Buffer.from(v).toString("hex")}`;
  if (Array.isArray(v)) return v.map(show);
  const o = v as Record<string, unknown>;
  const out: { [k: string]: Json } = Object.getPrototypeOf(o) === Object.prototype ? {} : { "(prototype)": String(Object.getPrototypeOf(o)?.constructor?.name ?? "null") };
  for (const k of Object.keys(o)) out[k] = show(o[k]);
  return out;
}

/** What a throw looked like: SQLite errors by code and message, others by class. */
function caught(fn: () => unknown): Json {
  try {
    return { returned: show(fn()) };
  } catch (e) {
    const x = e as { name?: string; code?: string; message?: string };
    return x.code?.startsWith("SQLITE_") ? { threw: x.code, message: x.message ?? "" } : { threw: x.name ?? "?" };
  }
}

/** Every part of the SqliteDb interface the store relies on, recorded step by step. */
function transcript(driver: SqliteDriverName, dir: string): Json[] {
  const t: Json[] = [];
  const open = (f: string, o: { readonly?: boolean; fileMustExist?: boolean } = {}) => openSqlite(f, { ...o, driver }).db;
  const db: SqliteDb = open(path.join(dir, "t.db"));
  t.push(show(db.pragma("journal_mode = WAL", { simple: true })), show(db.pragma("busy_timeout", { simple: true })), show(db.pragma("foreign_keys")));
  t.push(db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT UNIQUE, b BLOB, r REAL, n INTEGER)") === db);
  const ins = db.prepare("INSERT INTO t(s, b, r, n) VALUES (?, ?, ?, ?)");
  t.push(show(ins.run("a", Buffer.from([0, 1, 255]), 0.1, 2 ** 53 - 1)));
  t.push(show(ins.run(["é☃😀", Buffer.alloc(0), -1.5e-300, 7n])));
  t.push(show(db.prepare("INSERT INTO t(s, n) VALUES (@s, @n)").run({ s: "named", n: 3 })));
  t.push(show(db.prepare("SELECT * FROM t ORDER BY id").all()), show(db.prepare("SELECT * FROM t WHERE s = ?").get("a")), show(db.prepare("SELECT * FROM t WHERE s = ?").get("none")));
  t.push(show([...db.prepare("SELECT id, typeof(b) AS tb, length(b) AS lb FROM t ORDER BY id").iterate()]));
  // An iteration stopped early releases its statement: the next write goes through.
  for (const row of db.prepare("SELECT s FROM t ORDER BY id").iterate()) if (row) break;
  t.push(caught(() => db.prepare("UPDATE t SET r = r WHERE id = 1").run()));
  t.push(caught(() => ins.run("a", null, 0, 0)), caught(() => db.prepare("SELEKT 1")), caught(() => ins.run(true, null, 0, 0)));
  // A throw rolls the transaction back; nested transactions are savepoints: only the inner part undone.
  const count = () => (db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n;
  t.push(caught(() => db.transaction(() => (ins.run("x", null, 0, 0), t.push(db.inTransaction), assert.fail("undo")))()), count(), db.inTransaction);
  db.transaction(() => {
    ins.run("outer", null, 0, 0);
    t.push(caught(() => db.transaction(() => (ins.run("inner", null, 0, 0), ins.run("a", null, 0, 0)))()));
    t.push(db.inTransaction);
  }).immediate();
  t.push(show(db.prepare("SELECT s FROM t ORDER BY id").all()), db.inTransaction);
  t.push(caught(() => db.transaction(async () => ins.run("async", null, 0, 0))()), count(), db.inTransaction);
  t.push(show(db.transaction((a: number, b: number) => a + b).exclusive(2, 3)));
  t.push(show(db.pragma("user_version = 7")), show(db.pragma("user_version", { simple: true })), show(db.pragma("user_version")));
  // Two connections: a writer holding the lock, the other with no busy timeout gets SQLITE_BUSY.
  const other = open(path.join(dir, "t.db"));
  other.pragma("busy_timeout = 0");
  db.exec("BEGIN IMMEDIATE");
  t.push(caught(() => other.exec("BEGIN IMMEDIATE")), other.inTransaction);
  db.exec("COMMIT");
  other.close();
  t.push(db.open);
  db.close();
  t.push(db.open);
  // Files that are not databases, missing files, read-only handles.
  const junk = path.join(dir, "junk.db");
  fs.writeFileSync(junk, "not a database ".repeat(100));
  const j = open(junk);
  t.push(caught(() => j.pragma("user_version", { simple: true })));
  j.close();
  t.push(caught(() => open(path.join(dir, "missing.db"), { readonly: true, fileMustExist: true })), fs.existsSync(path.join(dir, "missing.db")));
  const ro = open(path.join(dir, "t.db"), { readonly: true, fileMustExist: true });
  t.push(ro.readonly, caught(() => ro.prepare("DELETE FROM t").run()), show(ro.prepare("SELECT count(*) AS n FROM t").get()));
  ro.close();
  return t;
}

function result(i: number, tag: string): CaseResultRecord {
  return {
    caseId: `${tag}-${i}`,
    ord: i,
    pass: i % 3 !== 0,
    score: i / 7,
    output: `Ausgabe ${i} — ☃ ${"x".repeat(i % 50)}`,
    tokens: [{ token: i, text: ` t${i}`, prob: 0.123456789, top: [{ token: i + 1, text: "ü", prob: 0.25 }] }],
    assertions: [{ type: "icontains", pass: true, score: 1, message: `case ${i}` }],
    tags: [i % 2 ? "odd" : "even"],
    cached: i % 5 === 0,
    genKey: `${tag}-gen-${i}`,
    error: i % 11 === 0 ? "engine said no" : null,
    timings: { timeToFirstTokenMs: 1.5, wallMs: i, tokensPerSecond: 100.25, promptTokens: 12 },
  };
}

/** Writes one of everything the store holds, labelled `tag`, with `runs` runs of `cases` results (one transaction per result). */
function writeStore(file: string, tag: string, runs: number, cases: number): void {
  const s = Store.open(file);
  try {
    s.recordArtifact({ path: `${tag}.prompt`, content: `hello ${tag}\r\n`, kind: "prompt", gitCommit: "abc" });
    s.fingerprintCache().set(`/models/${tag}.gguf`, 1234, 1700000000123.5, "f".repeat(64));
    s.putMemos([[`memo-${tag}`, { tag, list: [1, 2.5, "ß"] }]]);
    for (let r = 0; r < runs; r++) {
      const run = s.createRun({ fingerprint: `${tag}-${r}`, variant: "tiny/f32", promptFile: `${tag}.prompt`, evalSetFile: "e.eval.yaml", promptHash: "p", evalSetHash: "e", modelFingerprint: "m", adapters: [{ name: "a", file: "a.adapter.yaml", fingerprint: "af", scale: 0.5 }], params: { temperature: 0 }, seed: r, engineVersion: "test", caseCount: cases });
      for (let i = 0; i < cases; i++) {
        const res = result(i, `${tag}${r}`);
        if (i === 0) s.putGenerationAndResult({ key: res.genKey!, text: res.output, tokens: res.tokens, promptTokens: 12, template: "chat", stopReason: "eos", timeToFirstTokenMs: 1, wallMs: 2, tokensPerSecond: 3, backend: "cpu", threads: 1, engineVersion: "test" }, run.id, res);
        else s.putResult(run.id, res);
      }
      if (r % 2 === 0) s.completeRun(run.id, { passed: cases });
      else s.failRun(run.id, "stopped on purpose");
    }
  } finally {
    s.close();
  }
}

/** Everything in a store: each table's rows (in a fixed order), and what the Store API returns. */
function dumpStore(file: string): Json {
  const { db } = openSqlite(file, { readonly: true, fileMustExist: true });
  const tables: { [k: string]: Json } = {};
  try {
    for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]) {
      const cols = (db.prepare(`SELECT name FROM pragma_table_info('${name}')`).all() as { name: string }[]).map((c) => `"${c.name}"`).join(", ");
      tables[name] = show(db.prepare(`SELECT * FROM "${name}" ORDER BY ${cols}`).all());
    }
  } finally {
    db.close();
  }
  const s = Store.open(file);
  try {
    const runs = s.listRuns();
    return {
      tables,
      schemaVersion: s.schemaVersion,
      integrity: s.integrityCheck(),
      journal: show(s.db.pragma("journal_mode", { simple: true })),
      runs: runs.map((r) => show({ ...r, results: s.results(r.id), generations: s.results(r.id).map((x) => (x.genKey ? (s.getGeneration(x.genKey) ?? null) : null)) })),
    };
  } finally {
    s.close();
  }
}

type ChildOp = { op: "transcript"; dir: string } | { op: "info" } | { op: "write"; file: string; tag: string; runs: number; cases: number } | { op: "dump"; file: string };

function childMain(op: ChildOp): Json {
  if (op.op === "info") {
    try {
      return show(resolveDriver());
    } catch (e) {
      return { error: (e as Error).message };
    }
  }
  if (op.op === "transcript") return transcript(resolveDriver().name, op.dir);
  if (op.op === "write") return (writeStore(op.file, op.tag, op.runs, op.cases), "written");
  return dumpStore(op.file);
}

/** Runs this file as a child on `node` with `env` (its driver chosen there), returning what it printed. */
function child(node: string, op: ChildOp, env: NodeJS.ProcessEnv = {}): Json {
  const r = spawnSync(node, [__filename], { env: neutralEnv({ ...env, [CHILD]: JSON.stringify(op) }), encoding: "utf8", maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
  assert.equal(r.status, 0, `child ${op.op} on ${node} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as Json;
}

function childAsync(node: string, op: ChildOp, env: NodeJS.ProcessEnv): Promise<Json> {
  return new Promise((resolve, reject) => {
    const p = spawn(node, [__filename], { env: neutralEnv({ ...env, [CHILD]: JSON.stringify(op) }), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => (code === 0 ? resolve(JSON.parse(out) as Json) : reject(new Error(`child ${op.op} exited ${code}:\n${err}`))));
  });
}

const forced = (driver: SqliteDriverName) => ({ DRIFTLENS_SQLITE_DRIVER: driver === "node:sqlite" ? "node" : driver });

if (process.env[CHILD]) {
  process.stdout.write(JSON.stringify(childMain(JSON.parse(process.env[CHILD]) as ChildOp)));
} else {
  test("both drivers behave alike: rows, BLOBs, parameters, transactions, savepoints, error codes (differential)", () => {
    const node24 = runtime(24).node;
    const reference = child(node24, { op: "transcript", dir: tempDir() }, forced("better-sqlite3"));
    assert.deepEqual(child(node24, { op: "transcript", dir: tempDir() }, forced("node:sqlite")), reference, "node:sqlite differs from better-sqlite3 on Node 24");
    // And in this process, with every driver this runtime has.
    const here = DRIVERS.filter((d) => d === "better-sqlite3" || nodeSqlite());
    for (const d of here) assert.deepEqual(transcript(d, tempDir()), reference, `${d} on ${process.version} differs from better-sqlite3 on Node 24`);
    // The transcript is not vacuous: a store-relevant failure shows in it.
    const flat = JSON.stringify(reference);
    for (const want of ["SQLITE_CONSTRAINT_UNIQUE", "SQLITE_BUSY", "SQLITE_NOTADB", "SQLITE_CANTOPEN", "SQLITE_READONLY", "buffer:0001ff", "outer"]) assert.ok(flat.includes(want), `${want} missing from the transcript`);
    assert.ok(!flat.includes('"inner"'), "the failed inner transaction's row was kept");
  });

  test("the driver is chosen by ABI: a binary for each supported Node, node:sqlite where none matches, a clear error where neither runs", () => {
    for (const rt of ensureRuntimes()) {
      const info = child(rt.node, { op: "info" }) as { name: string; binary: string; abi: string };
      assert.equal(info.name, "better-sqlite3", `Node ${rt.version}`);
      assert.equal(info.abi, rt.abi);
      assert.equal(info.binary, rt.binary, `Node ${rt.version} loads its own binary from dist/native`);
    }
    const empty = tempDir();
    // A runtime the package has no binary for (a future Electron): node:sqlite, and the log says why.
    const fallback = child(runtime(24).node, { op: "info" }, { DRIFTLENS_NATIVE_DIR: empty }) as { name: string; reason: string };
    assert.equal(fallback.name, "node:sqlite");
    assert.match(fallback.reason, /no better-sqlite3 binary for Node v24\.\d+\.\d+ \(ABI 137, linux-x64\) \(node_modules has a binary for ABI 115\); using the runtime's built-in node:sqlite/);
    assert.equal((child(runtime(22).node, { op: "info" }, { DRIFTLENS_SQLITE_DRIVER: "node" }) as { name: string }).name, "node:sqlite");
    // Node 20 has no node:sqlite: forcing it, or running with no binary, is an error that says what to do.
    const n20 = runtime(20).node;
    assert.match(String((child(n20, { op: "info" }, { DRIFTLENS_SQLITE_DRIVER: "node" }) as { error: string }).error), /asks for node:sqlite, which cannot run on Node v20\.\d+\.\d+ .*needs Node 22\.13 or newer.*Unset DRIFTLENS_SQLITE_DRIVER/);
    // With no native folder, Node 20 still has the binary npm built in node_modules (a source checkout).
    const npmBuilt = child(n20, { op: "info" }, { DRIFTLENS_NATIVE_DIR: empty }) as { name: string; binary: string };
    assert.equal(npmBuilt.name, "better-sqlite3");
    assert.match(npmBuilt.binary, /node_modules\/better-sqlite3\/build\/Release\/better_sqlite3\.node$/);
    assert.match(String((child(n20, { op: "info" }, { DRIFTLENS_SQLITE_DRIVER: "sqlite4" }) as { error: string }).error), /DRIFTLENS_SQLITE_DRIVER="sqlite4" is not a SQLite driver; use better-sqlite3, node/);
  });

  test("a store written by one driver is read by the other with nothing lost, both ways", () => {
    const node24 = runtime(24).node;
    const file = path.join(tempDir(), "store.db");
    const [bs3, nsq] = [forced("better-sqlite3"), forced("node:sqlite")];
    child(node24, { op: "write", file, tag: "bs3", runs: 3, cases: 40 }, bs3);
    const first = child(node24, { op: "dump", file }, bs3) as { runs: Json[]; integrity: string; tables: { results: Json[] } };
    assert.equal(first.runs.length, 3);
    assert.equal(first.tables.results.length, 120);
    assert.deepEqual(child(node24, { op: "dump", file }, nsq), first, "node:sqlite reads the store better-sqlite3 wrote differently");
    child(node24, { op: "write", file, tag: "nsq", runs: 2, cases: 25 }, nsq);
    const second = child(node24, { op: "dump", file }, nsq) as { runs: Json[]; integrity: string; tables: { results: Json[] } };
    assert.deepEqual(child(node24, { op: "dump", file }, bs3), second, "better-sqlite3 reads the store node:sqlite wrote differently");
    assert.equal(second.integrity, "ok");
    assert.equal(second.runs.length, 5);
    assert.equal(second.tables.results.length, 170);
    // Nothing the first driver wrote was lost or changed by the second.
    const firstTables = first.tables as unknown as Record<string, Json[]>;
    const secondTables = second.tables as unknown as Record<string, Json[]>;
    for (const [name, rows] of Object.entries(firstTables)) {
      const after = new Set(secondTables[name]!.map((r) => JSON.stringify(r)));
      for (const r of rows) assert.ok(after.has(JSON.stringify(r)), `${name}: a row written by better-sqlite3 is gone: ${JSON.stringify(r).slice(0, 200)}`);
    }
    // And this process's own driver reads it too.
    assert.deepEqual(dumpStore(file), second);
  });

  test("both drivers writing one store at once: every run complete, nothing lost, integrity ok", async () => {
    const node24 = runtime(24).node;
    const file = path.join(tempDir(), "store.db");
    // Created first, so both writers find a migrated store (creating it at once is covered by the CLI tests).
    Store.open(file).close();
    await Promise.all([
      childAsync(node24, { op: "write", file, tag: "b", runs: 6, cases: 60 }, forced("better-sqlite3")),
      childAsync(node24, { op: "write", file, tag: "n", runs: 6, cases: 60 }, forced("node:sqlite")),
    ]);
    const d = dumpStore(file) as { integrity: string; runs: { fingerprint: string; status: string; results: unknown[] }[]; tables: { results: Json[] } };
    assert.equal(d.integrity, "ok");
    assert.equal(d.runs.length, 12);
    assert.equal(d.tables.results.length, 720);
    for (const r of d.runs) assert.equal(r.results.length, 60, `run ${r.fingerprint} lost results`);
    assert.deepEqual(d.runs.map((r) => r.fingerprint[0]).sort().join(""), "bbbbbbnnnnnn");
  });
}

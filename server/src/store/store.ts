// The Driftlens store: one SQLite file holding artifact versions, model fingerprints, runs with
// their behavioural fingerprint, per-case results and the generation cache. See docs/store.md for
// the schema and the guarantees. SQLite comes through a driver (driver.ts): better-sqlite3 with a
// binary for this runtime's ABI, else the runtime's node:sqlite; both behind one SqliteDb interface.
//
// Concurrency: WAL journal, a busy timeout, and every write in a BEGIN IMMEDIATE transaction, so
// the CLI and the language server (or two CLIs) can write one store at once without losing rows.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openSqlite } from "./driver";
import { hashRegularFile } from "../util/safe-file";
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from "./migrations";
import type { SqliteDb, SqliteDriverInfo, SqliteDriverName, SqliteStatement } from "./sqlite-api";
import { decodeTokens, encodeTokens } from "./token-codec";

export { SCHEMA_VERSION } from "./migrations";
export { describeDriver, openSqlite, sqliteDriver, SqliteDriverError } from "./driver";
export type { SqliteDb, SqliteDriverInfo, SqliteDriverName, SqliteStatement } from "./sqlite-api";

/** A store that cannot be opened: not SQLite, not Driftlens's, newer than this version, unreadable. */
export class StoreError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = "StoreError";
  }
}

export type RunStatus = "running" | "complete" | "failed";

export interface ArtifactVersion {
  path: string;
  hash: string;
  kind: string;
  firstSeen: number;
  gitCommit: string | null;
}

/** A token as stored: the chosen token and its top-k alternatives. Mirrors llm GeneratedToken. */
export interface StoredToken {
  token: number;
  text: string;
  prob: number;
  top: { token: number; text: string; prob: number }[];
}

export interface CachedGeneration {
  key: string;
  text: string;
  tokens: StoredToken[];
  promptTokens: number;
  template: "chat" | "completion";
  stopReason: string;
  timeToFirstTokenMs: number;
  wallMs: number;
  tokensPerSecond: number;
  backend: string | null;
  threads: number | null;
  engineVersion: string;
  createdAt: number;
}

export interface AdapterFingerprint {
  name: string;
  file: string;
  fingerprint: string;
  scale: number;
}

/** What a run is created with: its behavioural fingerprint plus where it came from. */
export interface NewRun {
  fingerprint: string;
  variant: string;
  promptFile: string;
  evalSetFile: string;
  promptHash: string;
  evalSetHash: string;
  modelFingerprint: string;
  adapters: AdapterFingerprint[];
  params: Record<string, unknown>;
  seed: number;
  engineVersion: string;
  caseCount: number;
  meta?: Record<string, unknown>;
}

export interface RunRecord extends NewRun {
  id: string;
  status: RunStatus;
  backend: string | null;
  threads: number | null;
  error: string | null;
  summary: Record<string, unknown> | null;
  ownerPid: number | null;
  ownerHost: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface AssertionRecord {
  type: string;
  pass: boolean;
  score: number;
  message: string;
  weight?: number;
}

/** One sample of a case drawn several times (repeat: N). */
export interface SampleRecord {
  output: string;
  pass: boolean;
  score: number;
  /** The sample's generation in the cache (its tokens are there). */
  genKey: string | null;
  seed: number;
  assertions: AssertionRecord[];
  error?: string;
}

export interface CaseResultRecord {
  caseId: string;
  /** Position of the case in its eval set, for stable report order. */
  ord: number;
  pass: boolean;
  score: number;
  output: string;
  tokens: StoredToken[];
  assertions: AssertionRecord[];
  tags: string[];
  cached: boolean;
  genKey: string | null;
  /** Set when the case could not be generated or evaluated (an error, not a failed assertion). */
  error: string | null;
  timings: { timeToFirstTokenMs: number; wallMs: number; tokensPerSecond: number; promptTokens: number; assertMs?: number };
  /** Every sample when the case was drawn more than once (the fields above are the case's: sample 0's output and tokens, aggregated pass and score). */
  samples?: SampleRecord[];
}

export interface ListRunsQuery {
  promptFile?: string;
  evalSetFile?: string;
  variant?: string;
  status?: RunStatus;
  fingerprint?: string;
  limit?: number;
}

/**
 * Normalization before hashing an artifact: drop a UTF-8 BOM, CRLF and CR become LF, trailing
 * spaces and tabs are trimmed from every line, trailing blank lines are dropped and the text
 * ends with exactly one LF (empty text stays empty). So an editor's line-ending or whitespace
 * setting never makes a new version; any other edit does.
 */
export function normalizeContent(text: string): string {
  let t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  t = t.replace(/\r\n?/g, "\n").replace(/[ \t]+$/gm, "").replace(/\n+$/, "");
  return t.length ? t + "\n" : "";
}

/** sha256 (hex) of the normalized content: an artifact version's id. */
export function contentHash(text: string): string {
  return sha256(normalizeContent(text));
}

export function sha256(data: string | Uint8Array): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** sha256 of a file's bytes, streamed (model files are large); regular files only, read up to their size. */
export async function sha256File(file: string): Promise<string> {
  return hashRegularFile(file);
}

/** Persistent cache for file fingerprints, keyed by path + size + mtime (Workspace plugs it in). */
export interface FingerprintCache {
  get(path: string, size: number, mtimeMs: number): string | undefined;
  set(path: string, size: number, mtimeMs: number, sha256: string): void;
}

const BUSY_TIMEOUT_MS = 15_000;

function parseJson<T>(s: string | null | undefined, fallback: T): T {
  if (s === null || s === undefined) return fallback;
  try {
    return JSON.parse(s) as T;
  } catch {
    return fallback;
  }
}

function newRunId(): string {
  return `r${Date.now().toString(36)}${crypto.randomBytes(5).toString("hex")}`;
}

/** Whether a process that owned a run on this host is still alive. */
function ownerAlive(pid: number | null, host: string | null): boolean {
  if (pid === null) return false;
  if (host !== null && host !== os.hostname()) return true; // another machine: cannot tell, assume alive
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

type Row = Record<string, unknown>;

export class Store {
  private readonly stmts = new Map<string, SqliteStatement>();

  private constructor(
    readonly db: SqliteDb,
    readonly file: string,
    /** The SQLite driver this store was opened with (better-sqlite3 or node:sqlite). */
    readonly driver: SqliteDriverInfo,
  ) {}

  /**
   * Opens (creating when absent) the store at `file` and migrates it to this version. Throws a
   * StoreError, touching nothing, when the file is not SQLite, is another application's database,
   * or was written by a newer Driftlens. `driver` forces one SQLite driver (default: the process's,
   * see driver.ts).
   */
  static open(file: string, opts: { readonly?: boolean; driver?: SqliteDriverName } = {}): Store {
    const abs = file === ":memory:" ? file : path.resolve(file);
    if (abs !== ":memory:") {
      if (opts.readonly && !fs.existsSync(abs)) throw new StoreError(`store ${abs} does not exist; run 'driftlens eval' first to create it`, abs);
      // SQLite would open a device or a pipe and write its journal beside it (/dev/null-journal).
      const st = fs.statSync(abs, { throwIfNoEntry: false });
      if (st && !st.isFile()) throw new StoreError(`store ${abs} is not a regular file (${st.isDirectory() ? "a folder" : "a device, pipe or socket"}); point 'store:' in driftlens.yaml at an SQLite file`, abs);
      try {
        fs.mkdirSync(path.dirname(abs), { recursive: true });
      } catch (e) {
        throw new StoreError(`cannot create the folder for store ${abs}: ${(e as Error).message}`, abs);
      }
    }
    let db: SqliteDb;
    let driver: SqliteDriverInfo;
    try {
      ({ db, driver } = openSqlite(abs, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, ...(opts.driver ? { driver: opts.driver } : {}) }));
    } catch (e) {
      throw new StoreError(`cannot open store ${abs}: ${(e as Error).message}`, abs);
    }
    try {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      let appId: number;
      let version: number;
      let tables: number;
      try {
        // One read transaction, so the three come from one snapshot: read one by one, another
        // process creating the store in between showed tables but no application id yet.
        ({ appId, version, tables } = db.transaction(() => ({
          appId: db.pragma("application_id", { simple: true }) as number,
          version: db.pragma("user_version", { simple: true }) as number,
          tables: (db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }).n,
        }))());
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
          throw new StoreError(`${abs} is not a Driftlens store (not an SQLite database); point 'store:' in driftlens.yaml at another file`, abs);
        }
        throw e;
      }
      if (appId !== APPLICATION_ID && (appId !== 0 || tables > 0 || version !== 0)) {
        throw new StoreError(`${abs} is an SQLite database but not a Driftlens store; point 'store:' in driftlens.yaml at another file`, abs);
      }
      if (version > SCHEMA_VERSION) {
        throw new StoreError(
          `store ${abs} was written by a newer Driftlens (store version ${version}; this version reads up to ${SCHEMA_VERSION}); upgrade Driftlens, or point 'store:' at another file`,
          abs,
        );
      }
      if (!opts.readonly) {
        if (abs !== ":memory:") db.pragma("journal_mode = WAL");
        // NORMAL in WAL mode: a process crash (even SIGKILL) loses nothing committed; only power loss
        // may drop the last transactions, never corrupts.
        db.pragma("synchronous = NORMAL");
        // Checkpoint every ~40 MB of WAL instead of every 4 MB: bulk result writes checkpoint (and
        // fsync) a tenth as often (-35% on 100k results); the WAL is reset once checkpointed.
        db.pragma("wal_autocheckpoint = 10000");
        db.pragma("foreign_keys = ON");
        const store = new Store(db, abs, driver);
        store.migrate();
        return store;
      }
      if (version < SCHEMA_VERSION) {
        throw new StoreError(`store ${abs} is at version ${version} and needs an upgrade; open it once without read-only`, abs);
      }
      return new Store(db, abs, driver);
    } catch (e) {
      db.close();
      if (e instanceof StoreError) throw e;
      throw new StoreError(`cannot open store ${abs}: ${(e as Error).message}`, abs);
    }
  }

  private migrate(): void {
    // IMMEDIATE: two processes opening a fresh store at once must not both run a migration.
    const run = this.db.transaction(() => {
      const current = this.db.pragma("user_version", { simple: true }) as number;
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        this.db.exec(m.sql);
        this.db.pragma(`user_version = ${m.version}`);
      }
      if (current < SCHEMA_VERSION) this.db.pragma(`application_id = ${APPLICATION_ID}`);
    });
    run.immediate();
  }

  get schemaVersion(): number {
    return this.db.pragma("user_version", { simple: true }) as number;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** `PRAGMA integrity_check`: "ok" or the problems found. */
  integrityCheck(): string {
    const rows = this.db.pragma("integrity_check") as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join("\n");
  }

  private stmt(sql: string): SqliteStatement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /** Runs fn in one BEGIN IMMEDIATE transaction (waits up to the busy timeout for other writers). */
  write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ---- artifact versions ----

  /** Records the content of an artifact at `path`; returns its version hash and whether it was new there. */
  recordArtifact(input: { path: string; content: string; kind: string; gitCommit?: string | null; seenAt?: number }): { hash: string; isNew: boolean } {
    const normalized = normalizeContent(input.content);
    const hash = sha256(normalized);
    const isNew = this.write(() => {
      this.stmt("INSERT OR IGNORE INTO blobs(hash, content) VALUES (?, ?)").run(hash, normalized);
      const r = this.stmt("INSERT OR IGNORE INTO artifact_versions(path, hash, kind, first_seen, git_commit) VALUES (?, ?, ?, ?, ?)").run(
        input.path,
        hash,
        input.kind,
        input.seenAt ?? Date.now(),
        input.gitCommit ?? null,
      );
      if (r.changes === 0 && input.gitCommit) {
        this.stmt("UPDATE artifact_versions SET git_commit = ? WHERE path = ? AND hash = ? AND git_commit IS NULL").run(input.gitCommit, input.path, hash);
      }
      return r.changes > 0;
    });
    return { hash, isNew };
  }

  /** Every version seen at `path`, oldest first. */
  artifactVersions(artifactPath: string): ArtifactVersion[] {
    return (this.stmt("SELECT * FROM artifact_versions WHERE path = ? ORDER BY first_seen, hash").all(artifactPath) as Row[]).map((r) => ({
      path: r.path as string,
      hash: r.hash as string,
      kind: r.kind as string,
      firstSeen: r.first_seen as number,
      gitCommit: (r.git_commit as string | null) ?? null,
    }));
  }

  /** The normalized content of a version, or undefined when this store never saw it. */
  artifactContent(hash: string): string | undefined {
    const r = this.stmt("SELECT content FROM blobs WHERE hash = ?").get(hash) as { content: string } | undefined;
    return r?.content;
  }

  // ---- model fingerprints ----

  /** The persistent cache behind fingerprintFile, for Workspace's pluggable fingerprint cache. */
  fingerprintCache(): FingerprintCache {
    return {
      get: (p, size, mtimeMs) => {
        const r = this.stmt("SELECT sha256 FROM model_fingerprints WHERE path = ? AND size = ? AND mtime_ms = ?").get(p, size, mtimeMs) as
          | { sha256: string }
          | undefined;
        return r?.sha256;
      },
      set: (p, size, mtimeMs, hash) => {
        this.write(() =>
          this.stmt("INSERT OR REPLACE INTO model_fingerprints(path, size, mtime_ms, sha256, computed_at) VALUES (?, ?, ?, ?, ?)").run(
            p,
            size,
            mtimeMs,
            hash,
            Date.now(),
          ),
        );
      },
    };
  }

  /** sha256 of a (model) file, reusing the stored value while path, size and mtime are unchanged. */
  async fingerprintFile(file: string): Promise<string> {
    const abs = path.resolve(file);
    const st = fs.statSync(abs);
    if (!st.isFile()) return sha256File(abs); // rejects, naming what the path is
    const cache = this.fingerprintCache();
    const hit = cache.get(abs, st.size, st.mtimeMs);
    if (hit) return hit;
    const hash = await sha256File(abs);
    cache.set(abs, st.size, st.mtimeMs, hash);
    return hash;
  }

  // ---- runs ----

  createRun(run: NewRun): RunRecord {
    const id = newRunId();
    const now = Date.now();
    this.write(() =>
      this.stmt(
        `INSERT INTO runs(id, fingerprint, variant, prompt_file, eval_set_file, prompt_hash, eval_set_hash, model_fingerprint,
          adapters, params, seed, engine_version, status, case_count, meta, owner_pid, owner_host, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)`,
      ).run(
        id,
        run.fingerprint,
        run.variant,
        run.promptFile,
        run.evalSetFile,
        run.promptHash,
        run.evalSetHash,
        run.modelFingerprint,
        JSON.stringify(run.adapters),
        JSON.stringify(run.params),
        run.seed,
        run.engineVersion,
        run.caseCount,
        run.meta ? JSON.stringify(run.meta) : null,
        process.pid,
        os.hostname(),
        now,
        now,
      ),
    );
    return this.getRun(id)!;
  }

  /**
   * Atomically takes over the newest unfinished run with this fingerprint whose owner process is
   * gone (killed, crashed), so it can be resumed; undefined when there is none. A run another live
   * process is still writing is never taken.
   */
  claimResumableRun(fingerprint: string): RunRecord | undefined {
    return this.write(() => {
      const rows = this.stmt("SELECT * FROM runs WHERE fingerprint = ? AND status != 'complete' ORDER BY created_at DESC").all(fingerprint) as Row[];
      for (const r of rows) {
        if (ownerAlive((r.owner_pid as number | null) ?? null, (r.owner_host as string | null) ?? null)) continue;
        this.stmt("UPDATE runs SET status = 'running', error = NULL, owner_pid = ?, owner_host = ?, updated_at = ? WHERE id = ?").run(
          process.pid,
          os.hostname(),
          Date.now(),
          r.id,
        );
        return this.getRun(r.id as string);
      }
      return undefined;
    });
  }

  getRun(id: string): RunRecord | undefined {
    const r = this.stmt("SELECT * FROM runs WHERE id = ?").get(id) as Row | undefined;
    return r ? rowToRun(r) : undefined;
  }

  listRuns(q: ListRunsQuery = {}): RunRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.promptFile !== undefined) (where.push("prompt_file = ?"), args.push(q.promptFile));
    if (q.evalSetFile !== undefined) (where.push("eval_set_file = ?"), args.push(q.evalSetFile));
    if (q.variant !== undefined) (where.push("variant = ?"), args.push(q.variant));
    if (q.status !== undefined) (where.push("status = ?"), args.push(q.status));
    if (q.fingerprint !== undefined) (where.push("fingerprint = ?"), args.push(q.fingerprint));
    const sql = `SELECT * FROM runs ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY created_at DESC, id DESC ${q.limit ? `LIMIT ${Math.floor(q.limit)}` : ""}`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(rowToRun);
  }

  /** Records what ran the run (reported by the engine once it started). */
  setRunEngine(id: string, backend: string | null, threads: number | null): void {
    this.write(() => this.stmt("UPDATE runs SET backend = ?, threads = ?, updated_at = ? WHERE id = ?").run(backend, threads, Date.now(), id));
  }

  /** Writes (or replaces) one case result in its own transaction: a kill loses at most in-flight cases. */
  putResult(runId: string, r: CaseResultRecord): void {
    this.putResults(runId, [r]);
  }

  /** Writes many case results in one transaction. */
  putResults(runId: string, records: CaseResultRecord[]): void {
    const ins = this.stmt(
      `INSERT OR REPLACE INTO results(run_id, case_id, ord, pass, score, output, tokens, assertions, tags, cached, gen_key, error, timings, created_at, samples)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const now = Date.now();
    this.write(() => {
      for (const r of records) {
        ins.run(
          runId,
          r.caseId,
          r.ord,
          r.pass ? 1 : 0,
          r.score,
          r.output,
          encodeTokens(r.tokens),
          JSON.stringify(r.assertions),
          JSON.stringify(r.tags),
          r.cached ? 1 : 0,
          r.genKey,
          r.error,
          JSON.stringify(r.timings),
          now,
          r.samples && r.samples.length > 1 ? JSON.stringify(r.samples) : null,
        );
      }
      this.stmt("UPDATE runs SET updated_at = ? WHERE id = ?").run(now, runId);
    });
  }

  results(runId: string): CaseResultRecord[] {
    return (this.stmt("SELECT * FROM results WHERE run_id = ? ORDER BY ord, case_id").all(runId) as Row[]).map(rowToResult);
  }

  resultCount(runId: string): number {
    return (this.stmt("SELECT count(*) AS n FROM results WHERE run_id = ?").get(runId) as { n: number }).n;
  }

  /**
   * Marks a run complete, in the same transaction that checks every case has a result; throws (and
   * leaves the run unfinished) otherwise, so no run is ever complete with missing cases.
   */
  completeRun(id: string, summary: object): void {
    this.write(() => {
      const run = this.stmt("SELECT case_count FROM runs WHERE id = ?").get(id) as { case_count: number } | undefined;
      if (!run) throw new Error(`run ${id} is not in the store`);
      const n = this.resultCount(id);
      if (n !== run.case_count) throw new Error(`run ${id} has ${n} of ${run.case_count} case results; it cannot be marked complete`);
      const now = Date.now();
      this.stmt("UPDATE runs SET status = 'complete', error = NULL, summary = ?, finished_at = ?, updated_at = ? WHERE id = ?").run(
        JSON.stringify(summary),
        now,
        now,
        id,
      );
    });
  }

  /** Marks a run failed with a message for the user; its stored results stay for a resume. */
  failRun(id: string, error: string, summary?: object): void {
    const now = Date.now();
    this.write(() =>
      this.stmt("UPDATE runs SET status = 'failed', error = ?, summary = COALESCE(?, summary), finished_at = ?, updated_at = ?, owner_pid = NULL WHERE id = ?").run(
        error,
        summary ? JSON.stringify(summary) : null,
        now,
        now,
        id,
      ),
    );
  }

  // ---- memo (derived data keyed by content) ----

  /** A memoized value (JSON) or undefined. */
  getMemo<T>(key: string): T | undefined {
    const r = this.stmt("SELECT value FROM memo WHERE key = ?").get(key) as { value: string } | undefined;
    if (!r) return undefined;
    try {
      return JSON.parse(r.value) as T;
    } catch {
      return undefined;
    }
  }

  /** Stores many memo entries in one transaction. */
  putMemos(entries: [string, unknown][]): void {
    if (!entries.length) return;
    const s = this.stmt("INSERT OR REPLACE INTO memo(key, value, created_at) VALUES (?, ?, ?)");
    const now = Date.now();
    this.write(() => {
      for (const [k, v] of entries) s.run(k, JSON.stringify(v), now);
    });
  }

  // ---- generation cache ----

  /** Records which backend and thread count produced these generations (known once the engine ran). */
  setGenerationsEngine(keys: string[], backend: string | null, threads: number | null): void {
    if (!keys.length) return;
    const s = this.stmt("UPDATE generations SET backend = ?, threads = ? WHERE key = ?");
    this.write(() => {
      for (const k of keys) s.run(backend, threads, k);
    });
  }

  getGeneration(key: string): CachedGeneration | undefined {
    const r = this.stmt("SELECT * FROM generations WHERE key = ?").get(key) as Row | undefined;
    return r ? rowToGeneration(r) : undefined;
  }

  /** Looks up many keys at once (one statement per key, no transaction needed for reads). */
  getGenerations(keys: string[]): Map<string, CachedGeneration> {
    const out = new Map<string, CachedGeneration>();
    const s = this.stmt("SELECT * FROM generations WHERE key = ?");
    for (const k of keys) {
      const r = s.get(k) as Row | undefined;
      if (r) out.set(k, rowToGeneration(r));
    }
    return out;
  }

  putGeneration(g: Omit<CachedGeneration, "createdAt"> & { createdAt?: number }): void {
    this.write(() => this.insertGeneration(g));
  }

  /** Stores a generation and a case result together, so a cache entry never outlives its result. */
  putGenerationAndResult(g: Omit<CachedGeneration, "createdAt">, runId: string, r: CaseResultRecord): void {
    this.write(() => {
      this.insertGeneration(g);
      this.putResults(runId, [r]);
    });
  }

  // ---- bulk reads and imports, for merging stores (store/merge.ts) ----

  /** Every artifact version this store has seen, oldest first. */
  allArtifactVersions(): ArtifactVersion[] {
    return (this.stmt("SELECT * FROM artifact_versions ORDER BY first_seen, path, hash").all() as Row[]).map((r) => ({
      path: r.path as string,
      hash: r.hash as string,
      kind: r.kind as string,
      firstSeen: r.first_seen as number,
      gitCommit: (r.git_commit as string | null) ?? null,
    }));
  }

  /** Every cached generation, one at a time (a cache can be large). */
  *allGenerations(): Generator<CachedGeneration> {
    for (const r of this.stmt("SELECT * FROM generations ORDER BY created_at, key").iterate() as IterableIterator<Row>) yield rowToGeneration(r);
  }

  /** Every memo entry as stored (JSON text). */
  *allMemos(): Generator<[string, string]> {
    for (const r of this.stmt("SELECT key, value FROM memo ORDER BY key").iterate() as IterableIterator<{ key: string; value: string }>) yield [r.key, r.value];
  }

  /**
   * Adds a generation recorded in another store: "added", "same" when this store has the key with
   * the same text and tokens, "conflict" when it has the key with another output (kept as it is).
   */
  importGeneration(g: CachedGeneration): "added" | "same" | "conflict" {
    return this.write(() => {
      const have = this.stmt("SELECT text, tokens FROM generations WHERE key = ?").get(g.key) as { text: string; tokens: Buffer } | undefined;
      if (!have) {
        this.insertGeneration(g);
        return "added";
      }
      return have.text === g.text && Buffer.compare(have.tokens, encodeTokens(g.tokens)) === 0 ? "same" : "conflict";
    });
  }

  /** Adds memo entries (JSON text) this store lacks; existing keys are kept. */
  importMemos(entries: [string, string][]): number {
    if (!entries.length) return 0;
    const s = this.stmt("INSERT OR IGNORE INTO memo(key, value, created_at) VALUES (?, ?, ?)");
    const now = Date.now();
    return this.write(() => entries.reduce((n, [k, v]) => n + s.run(k, v, now).changes, 0));
  }

  /**
   * Adds a run recorded in another store, with its results, under its own id, in one transaction;
   * false (nothing written) when this store already has a run with that id.
   */
  importRun(run: RunRecord, results: CaseResultRecord[]): boolean {
    return this.write(() => {
      const r = this.stmt(
        `INSERT OR IGNORE INTO runs(id, fingerprint, variant, prompt_file, eval_set_file, prompt_hash, eval_set_hash, model_fingerprint,
          adapters, params, seed, engine_version, backend, threads, status, case_count, error, summary, meta, owner_pid, owner_host, created_at, updated_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)`,
      ).run(
        run.id,
        run.fingerprint,
        run.variant,
        run.promptFile,
        run.evalSetFile,
        run.promptHash,
        run.evalSetHash,
        run.modelFingerprint,
        JSON.stringify(run.adapters),
        JSON.stringify(run.params),
        run.seed,
        run.engineVersion,
        run.backend,
        run.threads,
        // An unfinished run from another store has no live owner here: it is resumable, not running.
        run.status === "running" ? "failed" : run.status,
        run.caseCount,
        run.status === "running" ? (run.error ?? "interrupted in the store it was merged from; run again to resume") : run.error,
        run.summary ? JSON.stringify(run.summary) : null,
        run.meta ? JSON.stringify(run.meta) : null,
        run.ownerHost,
        run.createdAt,
        run.updatedAt,
        run.finishedAt,
      );
      if (r.changes === 0) return false;
      this.putResults(run.id, results);
      return true;
    });
  }

  private insertGeneration(g: Omit<CachedGeneration, "createdAt"> & { createdAt?: number }): void {
    this.stmt(
      `INSERT OR REPLACE INTO generations(key, text, tokens, prompt_tokens, template, stop_reason, ttft_ms, wall_ms, tokens_per_second, backend, threads, engine_version, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      g.key,
      g.text,
      encodeTokens(g.tokens),
      g.promptTokens,
      g.template,
      g.stopReason,
      g.timeToFirstTokenMs,
      g.wallMs,
      g.tokensPerSecond,
      g.backend,
      g.threads,
      g.engineVersion,
      g.createdAt ?? Date.now(),
    );
  }
}

function rowToRun(r: Row): RunRecord {
  return {
    id: r.id as string,
    fingerprint: r.fingerprint as string,
    variant: r.variant as string,
    promptFile: r.prompt_file as string,
    evalSetFile: r.eval_set_file as string,
    promptHash: r.prompt_hash as string,
    evalSetHash: r.eval_set_hash as string,
    modelFingerprint: r.model_fingerprint as string,
    adapters: parseJson(r.adapters as string, []),
    params: parseJson(r.params as string, {}),
    seed: r.seed as number,
    engineVersion: r.engine_version as string,
    caseCount: r.case_count as number,
    meta: parseJson(r.meta as string | null, undefined),
    status: r.status as RunStatus,
    backend: (r.backend as string | null) ?? null,
    threads: (r.threads as number | null) ?? null,
    error: (r.error as string | null) ?? null,
    summary: parseJson(r.summary as string | null, null),
    ownerPid: (r.owner_pid as number | null) ?? null,
    ownerHost: (r.owner_host as string | null) ?? null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
    finishedAt: (r.finished_at as number | null) ?? null,
  };
}

function rowToResult(r: Row): CaseResultRecord {
  return {
    caseId: r.case_id as string,
    ord: r.ord as number,
    pass: r.pass === 1,
    score: r.score as number,
    output: r.output as string,
    tokens: decodeTokens(r.tokens as Buffer),
    assertions: parseJson(r.assertions as string, []),
    tags: parseJson(r.tags as string, []),
    cached: r.cached === 1,
    genKey: (r.gen_key as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    timings: parseJson(r.timings as string, { timeToFirstTokenMs: 0, wallMs: 0, tokensPerSecond: 0, promptTokens: 0 }),
    ...(typeof r.samples === "string" ? { samples: parseJson<SampleRecord[]>(r.samples, []) } : {}),
  };
}

function rowToGeneration(r: Row): CachedGeneration {
  return {
    key: r.key as string,
    text: r.text as string,
    tokens: decodeTokens(r.tokens as Buffer),
    promptTokens: r.prompt_tokens as number,
    template: r.template as "chat" | "completion",
    stopReason: r.stop_reason as string,
    timeToFirstTokenMs: r.ttft_ms as number,
    wallMs: r.wall_ms as number,
    tokensPerSecond: r.tokens_per_second as number,
    backend: (r.backend as string | null) ?? null,
    threads: (r.threads as number | null) ?? null,
    engineVersion: r.engine_version as string,
    createdAt: r.created_at as number,
  };
}

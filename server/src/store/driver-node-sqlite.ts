// The node:sqlite driver: the SQLite built into Node 22.13+, 24 and the Electron versions built on
// them. Used where no better-sqlite3 binary matches the runtime's ABI (a future Electron, a Node
// the package has no binary for), or when DRIFTLENS_SQLITE_DRIVER=node asks for it. It adapts
// node:sqlite's DatabaseSync to the SqliteDb interface (better-sqlite3's API), so the store runs
// the same SQL with the same guarantees: transactions as better-sqlite3 runs them (BEGIN …
// COMMIT, ROLLBACK on a throw, nested calls as savepoints), errors with better-sqlite3's codes,
// rows as plain objects with BLOBs as Buffers.
import fs from "node:fs";
import { SqliteError, sqliteCodeName, type SqliteDb, type SqliteRunResult, type SqliteStatement, type SqliteTransaction, type SqliteTransactionFn } from "./sqlite-api";

type Row = Record<string, unknown>;

/** The part of node:sqlite this driver uses (@types/node for Node 20 has no typings for it). */
interface NodeStatementSync {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): Row | undefined;
  all(...params: unknown[]): Row[];
  iterate(...params: unknown[]): IterableIterator<Row>;
}
interface NodeDatabaseSync {
  exec(sql: string): void;
  prepare(sql: string): NodeStatementSync;
  close(): void;
  /** Node 22.16+ and 24; older versions leave it undefined (then the driver tracks transactions itself). */
  readonly isTransaction?: boolean;
}
interface NodeSqliteModule {
  DatabaseSync: new (file: string, opts?: { readOnly?: boolean; open?: boolean }) => NodeDatabaseSync;
}

let mod: NodeSqliteModule | null | undefined;

/**
 * The node:sqlite module, or null when this runtime has none (Node 20; Node 22 before 22.13
 * without --experimental-sqlite). Node 22 announces it with an ExperimentalWarning on stderr; the
 * module is used here as the fallback it is meant to be, so that one warning is not printed.
 */
export function nodeSqlite(): NodeSqliteModule | null {
  if (mod !== undefined) return mod;
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning.message;
    const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === "ExperimentalWarning" && /SQLite/i.test(text)) return;
    (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    mod = require("node:sqlite") as NodeSqliteModule;
  } catch {
    mod = null;
  } finally {
    process.emitWarning = emit;
  }
  return mod;
}

/** An error from node:sqlite as better-sqlite3 would throw it; anything else unchanged. */
function translate(e: unknown): unknown {
  const x = e as { code?: string; errcode?: number; message?: string };
  if (x && x.code === "ERR_SQLITE_ERROR" && typeof x.errcode === "number") {
    const err = new SqliteError(x.message ?? "SQLite error", sqliteCodeName(x.errcode));
    Object.assign(err, { errcode: x.errcode });
    return err;
  }
  return e;
}

/** better-sqlite3 returns plain objects and BLOBs as Buffers; node:sqlite null-prototype objects and Uint8Arrays. */
function plain(row: Row): Row {
  const out: Row = {};
  for (const k in row) {
    const v = row[k];
    out[k] = v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
  }
  return out;
}

const UNBINDABLE = "SQLite3 can only bind numbers, strings, bigints, buffers, and null";

/**
 * Parameters as better-sqlite3 takes them: arrays are spread (`run([a, b])` is `run(a, b)`), and a
 * boolean is refused (node:sqlite would store it as 0 or 1, better-sqlite3 throws a TypeError).
 */
function bind(params: unknown[]): unknown[] {
  const out = params.some(Array.isArray) ? params.flatMap((x) => (Array.isArray(x) ? x : [x])) : params;
  for (const p of out) {
    if (typeof p === "boolean") throw new TypeError(UNBINDABLE);
    if (p !== null && typeof p === "object" && !(p instanceof Uint8Array)) {
      for (const v of Object.values(p)) if (typeof v === "boolean") throw new TypeError(UNBINDABLE);
    }
  }
  return out;
}

class NodeStatement implements SqliteStatement {
  constructor(private readonly stmt: NodeStatementSync) {}

  run(...params: unknown[]): SqliteRunResult {
    try {
      const r = this.stmt.run(...bind(params));
      return { changes: Number(r.changes), lastInsertRowid: r.lastInsertRowid };
    } catch (e) {
      throw translate(e);
    }
  }

  get(...params: unknown[]): unknown {
    try {
      const r = this.stmt.get(...bind(params));
      return r === undefined ? undefined : plain(r);
    } catch (e) {
      throw translate(e);
    }
  }

  all(...params: unknown[]): unknown[] {
    try {
      return this.stmt.all(...bind(params)).map(plain);
    } catch (e) {
      throw translate(e);
    }
  }

  *iterate(...params: unknown[]): IterableIterator<unknown> {
    let it: IterableIterator<Row>;
    try {
      it = this.stmt.iterate(...bind(params));
    } catch (e) {
      throw translate(e);
    }
    try {
      for (;;) {
        let next: IteratorResult<Row>;
        try {
          next = it.next();
        } catch (e) {
          throw translate(e);
        }
        if (next.done) return;
        yield plain(next.value);
      }
    } finally {
      // A consumer that stops early (break) releases the statement, as better-sqlite3's iterator does.
      it.return?.();
    }
  }
}

class NodeSqliteDb implements SqliteDb {
  private isOpen = true;
  /** Transaction depth when node:sqlite cannot say whether a transaction is open. */
  private depth = 0;

  constructor(
    private readonly raw: NodeDatabaseSync,
    readonly name: string,
    readonly readonly: boolean,
  ) {}

  get open(): boolean {
    return this.isOpen;
  }

  get memory(): boolean {
    return this.name === ":memory:" || this.name === "";
  }

  get inTransaction(): boolean {
    const t = this.raw.isTransaction;
    return typeof t === "boolean" ? t : this.depth > 0;
  }

  prepare(sql: string): SqliteStatement {
    try {
      return new NodeStatement(this.raw.prepare(sql));
    } catch (e) {
      throw translate(e);
    }
  }

  exec(sql: string): this {
    try {
      this.raw.exec(sql);
    } catch (e) {
      throw translate(e);
    }
    return this;
  }

  pragma(source: string, options: { simple?: boolean } = {}): unknown {
    const stmt = this.prepare(`PRAGMA ${source}`);
    if (!options.simple) return stmt.all();
    const row = stmt.get() as Row | undefined;
    return row === undefined ? undefined : Object.values(row)[0];
  }

  transaction<F extends SqliteTransactionFn>(fn: F): SqliteTransaction<F> {
    const make = (begin: string) => (...args: Parameters<F>) => this.runTransaction(begin, fn, args) as ReturnType<F>;
    return Object.assign(make("BEGIN"), {
      default: make("BEGIN"),
      deferred: make("BEGIN DEFERRED"),
      immediate: make("BEGIN IMMEDIATE"),
      exclusive: make("BEGIN EXCLUSIVE"),
    });
  }

  /** As better-sqlite3: a transaction, or inside one a savepoint, so an inner throw undoes only the inner part. */
  private runTransaction(begin: string, fn: SqliteTransactionFn, args: unknown[]): unknown {
    const nested = this.inTransaction;
    const [open, commit, undo] = nested
      ? ['SAVEPOINT "driftlens nested"', 'RELEASE "driftlens nested"', 'ROLLBACK TO "driftlens nested"; RELEASE "driftlens nested"']
      : [begin, "COMMIT", "ROLLBACK"];
    this.exec(open);
    this.depth++;
    try {
      const result = fn(...args);
      if (result && typeof (result as { then?: unknown }).then === "function") throw new TypeError("Transaction function cannot return a promise");
      this.exec(commit);
      return result;
    } catch (e) {
      // A failed COMMIT (SQLITE_BUSY) leaves the transaction open: undo it as a throw in fn would.
      if (this.inTransaction) this.exec(undo);
      throw e;
    } finally {
      this.depth--;
    }
  }

  close(): void {
    if (!this.isOpen) return;
    this.raw.close();
    this.isOpen = false;
  }
}

/** Opens a database with node:sqlite; throws when this runtime has none. */
export function openNodeSqlite(file: string, opts: { readonly: boolean; fileMustExist: boolean }): SqliteDb {
  const m = nodeSqlite();
  if (!m) throw new Error(`Node ${process.version} has no built-in node:sqlite (it needs Node 22.13 or newer)`);
  const memory = file === ":memory:" || file === "";
  // better-sqlite3's behaviour, which node:sqlite lacks: refuse a missing file instead of creating it.
  if (!memory && (opts.fileMustExist || opts.readonly) && !fs.existsSync(file)) throw new SqliteError("unable to open database file", "SQLITE_CANTOPEN");
  let raw: NodeDatabaseSync;
  try {
    raw = new m.DatabaseSync(memory ? ":memory:" : file, { readOnly: opts.readonly });
  } catch (e) {
    throw translate(e);
  }
  const db = new NodeSqliteDb(raw, memory ? ":memory:" : file, opts.readonly);
  // better-sqlite3 opens with a 5 s busy timeout; node:sqlite with none.
  db.pragma("busy_timeout = 5000");
  return db;
}

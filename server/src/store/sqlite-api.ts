// The SQLite connection the store works through, whichever driver opened it: better-sqlite3 (a
// native module, one binary per Node ABI) or the runtime's built-in `node:sqlite`. The interface is
// the part of better-sqlite3's Database API the store and its tests use, so a better-sqlite3
// Database is one as it stands and the node:sqlite driver (driver-node-sqlite.ts) adapts to it:
// same statements, same transaction semantics (nested calls become savepoints), same error codes
// ("SQLITE_BUSY", "SQLITE_NOTADB", …), rows as plain objects with BLOBs as Buffers.

export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqliteStatement {
  run(...params: unknown[]): SqliteRunResult;
  /** The first row (a plain object), or undefined when there is none. */
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

// better-sqlite3's own typing of transaction functions takes any arguments.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SqliteTransactionFn = (...args: any[]) => unknown;

/** A function that runs `fn` in a transaction (BEGIN … COMMIT, ROLLBACK when it throws). */
export interface SqliteTransaction<F extends SqliteTransactionFn> {
  (...args: Parameters<F>): ReturnType<F>;
  default(...args: Parameters<F>): ReturnType<F>;
  deferred(...args: Parameters<F>): ReturnType<F>;
  /** BEGIN IMMEDIATE: takes the write lock at once (waiting up to the busy timeout). */
  immediate(...args: Parameters<F>): ReturnType<F>;
  exclusive(...args: Parameters<F>): ReturnType<F>;
}

export interface SqliteDb {
  readonly name: string;
  readonly open: boolean;
  readonly inTransaction: boolean;
  readonly readonly: boolean;
  readonly memory: boolean;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): this;
  /** `PRAGMA <source>`: every row, or with `simple` the first column of the first row. */
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<F extends SqliteTransactionFn>(fn: F): SqliteTransaction<F>;
  close(): void;
}

export type SqliteDriverName = "better-sqlite3" | "node:sqlite";

/** Which driver a process uses, and why: the language server logs it, `driftlens --version` prints it. */
export interface SqliteDriverInfo {
  name: SqliteDriverName;
  /** better-sqlite3's package version, or for node:sqlite the Node version that provides it. */
  version: string;
  /** The SQLite library's own version (each driver bundles its own). */
  sqliteVersion: string;
  /** The native binary loaded (better-sqlite3 only). */
  binary?: string;
  /** The runtime: Node version and ABI (process.versions.modules). */
  node: string;
  abi: string;
  /** Why this driver: chosen by DRIFTLENS_SQLITE_DRIVER, or why the preferred one was not used. */
  reason: string;
}

/** An error from SQLite itself, with better-sqlite3's `code` ("SQLITE_BUSY", "SQLITE_CONSTRAINT_UNIQUE", …). */
export class SqliteError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "SqliteError";
  }
}

const PRIMARY: Record<number, string> = {
  1: "ERROR", 2: "INTERNAL", 3: "PERM", 4: "ABORT", 5: "BUSY", 6: "LOCKED", 7: "NOMEM", 8: "READONLY", 9: "INTERRUPT",
  10: "IOERR", 11: "CORRUPT", 12: "NOTFOUND", 13: "FULL", 14: "CANTOPEN", 15: "PROTOCOL", 16: "EMPTY", 17: "SCHEMA",
  18: "TOOBIG", 19: "CONSTRAINT", 20: "MISMATCH", 21: "MISUSE", 22: "NOLFS", 23: "AUTH", 24: "FORMAT", 25: "RANGE",
  26: "NOTADB", 27: "NOTICE", 28: "WARNING",
};

/** Extended result codes a store can meet (sqlite3.h); others are named by their primary code. */
const EXTENDED: Record<number, string> = {
  261: "BUSY_RECOVERY", 517: "BUSY_SNAPSHOT", 773: "BUSY_TIMEOUT", 262: "LOCKED_SHAREDCACHE",
  264: "READONLY_RECOVERY", 520: "READONLY_CANTLOCK", 776: "READONLY_ROLLBACK", 1032: "READONLY_DBMOVED", 1288: "READONLY_CANTINIT", 1544: "READONLY_DIRECTORY",
  270: "CANTOPEN_NOTEMPDIR", 526: "CANTOPEN_ISDIR", 782: "CANTOPEN_FULLPATH", 1038: "CANTOPEN_CONVPATH", 1294: "CANTOPEN_DIRTYWAL", 1550: "CANTOPEN_SYMLINK",
  267: "CORRUPT_VTAB", 523: "CORRUPT_SEQUENCE", 779: "CORRUPT_INDEX",
  266: "IOERR_READ", 522: "IOERR_SHORT_READ", 778: "IOERR_WRITE", 1034: "IOERR_FSYNC", 1546: "IOERR_TRUNCATE", 1802: "IOERR_FSTAT", 3082: "IOERR_NOMEM",
  3338: "IOERR_ACCESS", 3850: "IOERR_LOCK", 4618: "IOERR_SHMOPEN", 4874: "IOERR_SHMSIZE", 5130: "IOERR_SHMLOCK", 8202: "IOERR_DATA", 8458: "IOERR_CORRUPTFS",
  516: "ABORT_ROLLBACK",
  275: "CONSTRAINT_CHECK", 531: "CONSTRAINT_COMMITHOOK", 787: "CONSTRAINT_FOREIGNKEY", 1043: "CONSTRAINT_FUNCTION", 1299: "CONSTRAINT_NOTNULL",
  1555: "CONSTRAINT_PRIMARYKEY", 1811: "CONSTRAINT_TRIGGER", 2067: "CONSTRAINT_UNIQUE", 2323: "CONSTRAINT_VTAB", 2579: "CONSTRAINT_ROWID", 3091: "CONSTRAINT_DATATYPE",
};

/** better-sqlite3's name for an SQLite result code (extended when known). */
export function sqliteCodeName(errcode: number): string {
  return `SQLITE_${EXTENDED[errcode] ?? PRIMARY[errcode & 0xff] ?? "UNKNOWN"}`;
}

// Which SQLite driver a process uses, chosen once at first use:
//   1. better-sqlite3, when a binary built for this runtime's ABI ships with Driftlens
//      (driver-better-sqlite3.ts): the fastest, and the SQLite version Driftlens was tested with;
//   2. else the runtime's built-in node:sqlite (driver-node-sqlite.ts): Node 22.13+, 24, and the
//      Electron versions built on them (VS Code desktop runs extensions on Electron, an ABI no
//      binary is built for);
//   3. else an error that says what runs and what to do.
// DRIFTLENS_SQLITE_DRIVER=better-sqlite3 or =node forces one (`npm test` runs the unit and LSP
// suites once more with node:sqlite forced).
// Both drivers read and write the same file format, so a store written by one is read by the other.
import { loadBetterSqlite3, openBetterSqlite3 } from "./driver-better-sqlite3";
import { nodeSqlite, openNodeSqlite } from "./driver-node-sqlite";
import type { SqliteDb, SqliteDriverInfo, SqliteDriverName } from "./sqlite-api";

export const DRIVER_ENV = "DRIFTLENS_SQLITE_DRIVER";

/** A driver that cannot run here, with a message that names the runtime and the way out. */
export class SqliteDriverError extends Error {
  override name = "SqliteDriverError";
}

const ALIASES: Record<string, SqliteDriverName | "auto"> = {
  "": "auto",
  auto: "auto",
  "better-sqlite3": "better-sqlite3",
  node: "node:sqlite",
  "node:sqlite": "node:sqlite",
};

let chosen: SqliteDriverInfo | undefined;

function sqliteVersionOf(open: () => SqliteDb): string {
  const db = open();
  try {
    return String((db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v);
  } finally {
    db.close();
  }
}

const probed = new Map<SqliteDriverName, Omit<SqliteDriverInfo, "reason">>();

/** What a driver is on this runtime (loaded and asked for its SQLite version once); throws when it cannot run. */
function info(name: SqliteDriverName, reason: string): SqliteDriverInfo {
  let p = probed.get(name);
  if (!p) {
    const base = { node: process.version, abi: process.versions.modules };
    const memory = { readonly: false, fileMustExist: false };
    if (name === "better-sqlite3") {
      const b = loadBetterSqlite3();
      p = { name, version: b.version, binary: b.binary, sqliteVersion: sqliteVersionOf(() => openBetterSqlite3(":memory:", memory)), ...base };
    } else {
      if (!nodeSqlite()) throw new Error(`Node ${process.version} has no built-in node:sqlite (it needs Node 22.13 or newer)`);
      p = { name, version: process.version, sqliteVersion: sqliteVersionOf(() => openNodeSqlite(":memory:", memory)), ...base };
    }
    probed.set(name, p);
  }
  return { ...p, reason };
}

/** The driver for `want` (or the automatic choice), without remembering it. */
export function resolveDriver(want: string = process.env[DRIVER_ENV] ?? ""): SqliteDriverInfo {
  const key = want.trim().toLowerCase();
  const name = Object.hasOwn(ALIASES, key) ? ALIASES[key] : undefined;
  if (!name) throw new SqliteDriverError(`${DRIVER_ENV}="${want}" is not a SQLite driver; use better-sqlite3, node, or leave it unset to choose automatically`);
  const runtime = `Node ${process.version} (ABI ${process.versions.modules}, ${process.platform}-${process.arch})`;
  if (name !== "auto") {
    try {
      return info(name, `${DRIVER_ENV}=${want}`);
    } catch (e) {
      throw new SqliteDriverError(`${DRIVER_ENV}=${want} asks for ${name}, which cannot run on ${runtime}: ${(e as Error).message}. Unset ${DRIVER_ENV} to let Driftlens choose.`);
    }
  }
  let why: string;
  try {
    return info("better-sqlite3", `a better-sqlite3 binary is built for ABI ${process.versions.modules}`);
  } catch (e) {
    why = (e as Error).message;
  }
  try {
    return info("node:sqlite", `${why}; using the runtime's built-in node:sqlite`);
  } catch (e) {
    throw new SqliteDriverError(
      `Driftlens has no SQLite driver for ${runtime}: ${why}, and ${(e as Error).message}. ` +
        `Run Driftlens with Node 20, 22 or 24 (for the language server: set "driftlens.server.nodePath"), or with any Node 22.13 or newer.`,
    );
  }
}

/** The driver this process uses (chosen on first call, then fixed). Throws SqliteDriverError when none can run. */
export function sqliteDriver(): SqliteDriverInfo {
  return (chosen ??= resolveDriver());
}

/** One line for logs: "better-sqlite3 12.11.1 (SQLite 3.53.2) on Node v24.1.0 (ABI 137): why". */
export function describeDriver(d: SqliteDriverInfo): string {
  return `${d.name}${d.name === "better-sqlite3" ? ` ${d.version}` : ""} (SQLite ${d.sqliteVersion}) on Node ${d.node} (ABI ${d.abi})${d.binary ? `, binary ${d.binary}` : ""}: ${d.reason}`;
}

/**
 * Opens an SQLite database with this process's driver, or with `driver` when given (tests read
 * one driver's file with the other). A bare connection: the Store adds its schema and pragmas.
 */
export function openSqlite(file: string, opts: { readonly?: boolean; fileMustExist?: boolean; driver?: SqliteDriverName } = {}): { db: SqliteDb; driver: SqliteDriverInfo } {
  const driver = opts.driver ? resolveDriver(opts.driver) : sqliteDriver();
  const o = { readonly: opts.readonly ?? false, fileMustExist: opts.fileMustExist ?? false };
  const db = driver.name === "better-sqlite3" ? openBetterSqlite3(file, o) : openNodeSqlite(file, o);
  return { db, driver };
}

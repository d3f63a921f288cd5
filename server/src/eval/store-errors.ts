// What a failing store write or read means to the user. SQLite's own messages ("attempt to write
// a readonly database", "database or disk is full") name neither the file nor what to do, and a
// failure while reading a prompt's memo is not the prompt's fault. Every store error the runner
// meets is turned into a sentence naming the store file, the cause and the fix.

/** SQLite result codes (primary) by name; better-sqlite3 reports `code`, node:sqlite `errcode`. */
const BY_NUMBER: Record<number, string> = { 5: "SQLITE_BUSY", 8: "SQLITE_READONLY", 10: "SQLITE_IOERR", 11: "SQLITE_CORRUPT", 13: "SQLITE_FULL", 14: "SQLITE_CANTOPEN", 26: "SQLITE_NOTADB" };

/** The SQLite error code of `e` (e.g. "SQLITE_FULL"), or undefined when it is not a SQLite error. */
export function sqliteCode(e: unknown): string | undefined {
  const err = e as { code?: unknown; errcode?: unknown } | null;
  if (!err || typeof err !== "object") return undefined;
  if (typeof err.code === "string" && err.code.startsWith("SQLITE_")) return err.code;
  if (typeof err.errcode === "number") return BY_NUMBER[err.errcode & 0xff] ?? "SQLITE_ERROR";
  return undefined;
}

/** Whether `e` came from the store (SQLite) rather than from the artifact or the engine. */
export function isStoreError(e: unknown): boolean {
  return sqliteCode(e) !== undefined || (e as { name?: unknown } | null)?.name === "StoreError";
}

/** A message naming the store file, what went wrong and what to do. */
export function storeErrorMessage(file: string, e: unknown): string {
  const code = sqliteCode(e) ?? "";
  const cause = e instanceof Error ? e.message : String(e);
  if (code.startsWith("SQLITE_READONLY")) return `the store ${file} is read-only (${cause}); make it and its folder writable, or point 'store:' in driftlens.yaml at a writable path`;
  if (code.startsWith("SQLITE_FULL")) return `the store ${file} could not be written: the disk is full (${cause}); free space and run the same command again (finished cases are kept)`;
  if (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB")) return `the store ${file} is corrupt (${cause}); move it aside (Driftlens creates a new one) or restore it from a backup`;
  if (code.startsWith("SQLITE_BUSY")) return `the store ${file} is locked by another process (${cause}); wait for it to finish and run the same command again`;
  if (code.startsWith("SQLITE_CANTOPEN")) return `the store ${file} cannot be opened (${cause}); check that its folder exists and is writable`;
  if (code.startsWith("SQLITE_IOERR")) return `the store ${file} could not be read or written (${cause}); check the disk and run the same command again`;
  return `the store ${file} failed (${cause})`;
}

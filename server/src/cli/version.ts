// `driftlens --version`: the version alone on the first line (for scripts), then what runs it
// (Node, its ABI, the SQLite driver the store would use), for bug reports.
import { describeDriver, sqliteDriver } from "../store/driver";

export function versionText(): string {
  const lines = [(require("../../../package.json") as { version: string }).version, `Node ${process.version} (ABI ${process.versions.modules}, ${process.platform}-${process.arch})`];
  try {
    lines.push(`SQLite driver: ${describeDriver(sqliteDriver())}`);
  } catch (e) {
    lines.push(`SQLite driver: none (${e instanceof Error ? e.message : String(e)})`);
  }
  return lines.join("\n") + "\n";
}

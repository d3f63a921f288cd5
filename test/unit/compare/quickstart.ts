// Shared setup for the compare/diff tests: a private copy of examples/quickstart with its generated
// model family, and a way to run a CLI command in-process (the same code path as dist/cli.js).
import fs from "node:fs";
import path from "node:path";
import { CliError, type CliIO, type Command } from "../../../server/src/cli/common";
import { ensureQuickstartModels } from "../../../server/src/modelgen/quickstart";
import { REPO_ROOT, tempDir } from "../../helpers/paths";

/** A copy of examples/quickstart (no store, no models folder) with freshly generated models. */
export function quickstartCopy(prefix = "driftlens-qs-"): string {
  const dir = fs.realpathSync(tempDir(prefix));
  const src = path.join(REPO_ROOT, "examples", "quickstart");
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    if (e.name === "models" || e.name === ".driftlens") continue;
    fs.cpSync(path.join(src, e.name), path.join(dir, e.name), { recursive: true });
  }
  ensureQuickstartModels(path.join(dir, "models"));
  return dir;
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs a command as the dispatcher does: CliError → its exit code and a one-line message. */
export async function runCommand(cmd: Command, argv: string[], cwd: string): Promise<CliResult> {
  let out = "";
  let err = "";
  const io: CliIO = { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: false, cwd };
  try {
    const code = await cmd.run(argv, io);
    return { code, out, err };
  } catch (e) {
    if (e instanceof CliError) return { code: e.exitCode, out, err: err + e.message + "\n" };
    throw e;
  }
}

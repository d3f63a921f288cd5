// `driftlens import FILE [--out DIR]`: a promptfoo config, GitHub .prompt.yml or Prompty file
// written as native Dotprompt prompts and an eval set with the same case ids (adopt/import.ts).
// What could not be carried is printed on stderr and written at the top of every file.
import fs from "node:fs";
import path from "node:path";
import { ImportError, importAdopted } from "../artifacts/adopt/import";
import { artifactKind } from "../artifacts/types";
import { Workspace } from "../artifacts/workspace";
import { workspaceRootFor } from "./check";
import { CliError, EXIT_OK, parseArgs, type CliIO, type Command } from "./common";

const USAGE = `Usage: driftlens import FILE [--out DIR] [--force]

Writes a promptfoo config (promptfooconfig.yaml), a GitHub Models .prompt.yml or a Prompty
.prompty file as native Driftlens artifacts: one Dotprompt .prompt per prompt and an eval set
(.eval.yaml) with the same case ids. Each case is rendered both ways and must give the same
messages. What Driftlens does not carry over (model-graded assertions, code, …) is printed here
and written as a comment at the top of every file.

Options:
  --out DIR   folder to write to (default: imported/ beside FILE)
  --force     overwrite files that already exist there

Exit status: 0 written, 2 the file has errors, cannot be written exactly, or a file exists.
`;

const FLAGS = { out: { type: "string" }, force: { type: "boolean" } } as const;

export const importCommand: Command = {
  summary: "write a promptfoo config, .prompt.yml or .prompty as Dotprompt + eval set",
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseArgs(argv, FLAGS);
    if (args.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (args.positionals.length !== 1) throw new CliError(args.positionals.length ? `expected one FILE, got ${args.positionals.length}` : "missing FILE (a promptfooconfig.yaml, .prompt.yml or .prompty file)");
    const file = path.resolve(io.cwd, args.positionals[0]!);
    const kind = artifactKind(file);
    if (kind !== "promptfoo" && kind !== "ghprompt" && kind !== "prompty") throw new CliError(`'${args.positionals[0]}' is not a promptfoo config (promptfooconfig.yaml), a .prompt.yml or a .prompty file`);
    if (!fs.existsSync(file)) throw new CliError(`'${args.positionals[0]}' does not exist`);
    const outDir = path.resolve(io.cwd, (args.flags.out as string | undefined) ?? path.join(path.dirname(args.positionals[0]!), "imported"));
    const ws = new Workspace(workspaceRootFor(file, false));
    let result;
    try {
      result = await importAdopted(ws, file, { outDir });
    } catch (e) {
      if (e instanceof ImportError) throw new CliError(e.message);
      throw e;
    }
    const existing = result.files.filter((f) => fs.existsSync(f.path));
    if (existing.length && args.flags.force !== true) throw new CliError(`${existing.map((f) => path.relative(io.cwd, f.path)).join(", ")} already exist${existing.length === 1 ? "s" : ""}; pass --force to overwrite or --out DIR`);
    fs.mkdirSync(outDir, { recursive: true });
    for (const f of result.files) fs.writeFileSync(f.path, f.text);
    for (const n of result.notCarried) io.err(`not carried: ${n}\n`);
    for (const f of result.files) io.out(`wrote ${path.relative(io.cwd, f.path) || f.path}\n`);
    io.out(`${result.verified} case render${result.verified === 1 ? "" : "s"} checked identical to ${path.basename(file)}${result.fallbacks.length ? ` (${result.fallbacks.length} prompt${result.fallbacks.length === 1 ? "" : "s"} carried as rendered messages)` : ""}\n`);
    return EXIT_OK;
  },
};

// `driftlens check [PATH...]`: the language server's diagnostics, for CI and terminals.
// Exit 1 when any error is reported, 0 otherwise, 2 on usage errors.
import { checkEndpoint } from "../llm/remote/check";
import fs from "node:fs";
import path from "node:path";
import { findConfigFile } from "../artifacts/config";
import { artifactKind, type Diagnostic } from "../artifacts/types";
import { Workspace, findArtifactFiles } from "../artifacts/workspace";
import { CliError, EXIT_FAIL, EXIT_OK, parseArgs, type CliIO, type Command } from "./common";

const USAGE = `Usage: driftlens check [PATH...] [--format text|json]

Reports diagnostics for every Driftlens artifact under the given files and folders (default: the
current folder): driftlens.yaml, *.prompt, *.eval.yaml, *.eval.jsonl, *.adapter.yaml. Each file is
checked in the workspace of the nearest driftlens.yaml above it.

Options:
  --format F   text (default): one line per diagnostic, file:line:column (1-based)
               json: an array of {file, range: {start: {line, character}, end: {...}}, severity,
               code, message} with 0-based lines and characters
  -h, --help   this text

Exit status: 1 if any error was reported, 0 otherwise (warnings alone pass), 2 on usage errors.
Diagnostic codes: docs/diagnostics.md.
`;

const FLAGS = { format: { type: "string", choices: ["text", "json"] } } as const;

/** The workspace root for a file or folder: the nearest folder above holding driftlens.yaml. */
export function workspaceRootFor(p: string, isDir: boolean): string {
  let dir = isDir ? p : path.dirname(p);
  for (;;) {
    if (findConfigFile(dir)) return dir;
    const up = path.dirname(dir);
    if (up === dir) return isDir ? p : path.dirname(p);
    dir = up;
  }
}

function display(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

export const checkCommand: Command = {
  summary: "report diagnostics for prompts, eval sets, adapters and driftlens.yaml",
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseArgs(argv, FLAGS);
    if (args.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    const format = (args.flags.format as string | undefined) ?? "text";
    const targets = args.positionals.length ? args.positionals : ["."];
    const files = new Map<string, string>(); // file -> root
    for (const t of targets) {
      const abs = path.resolve(io.cwd, t);
      let st: fs.Stats;
      try {
        st = fs.statSync(abs);
      } catch {
        throw new CliError(`'${t}' does not exist`);
      }
      if (st.isDirectory()) {
        for (const f of findArtifactFiles(abs)) if (!files.has(f)) files.set(f, workspaceRootFor(f, false));
      } else {
        if (artifactKind(abs) === "unknown") throw new CliError(`'${t}' is not a Driftlens artifact (driftlens.yaml, *.prompt, *.eval.yaml, *.eval.jsonl, *.adapter.yaml)`);
        files.set(abs, workspaceRootFor(abs, false));
      }
    }
    const workspaces = new Map<string, Workspace>();
    const all: Diagnostic[] = [];
    for (const [file, root] of [...files.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      let ws = workspaces.get(root);
      if (!ws) workspaces.set(root, (ws = new Workspace(root, { checkEndpoint })));
      all.push(...(await ws.diagnose(file)));
    }
    const counts = { error: 0, warning: 0, information: 0, hint: 0 };
    for (const d of all) counts[d.severity]++;
    if (format === "json") {
      io.out(JSON.stringify(all.map((d) => ({ file: display(d.file, io.cwd), range: d.range, severity: d.severity, code: d.code, message: d.message })), null, 2) + "\n");
    } else {
      for (const d of all) io.out(`${display(d.file, io.cwd)}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity} ${d.code} ${d.message}\n`);
      const parts = [`${counts.error} error${counts.error === 1 ? "" : "s"}`, `${counts.warning} warning${counts.warning === 1 ? "" : "s"}`];
      if (counts.information) parts.push(`${counts.information} information`);
      io.out(`${files.size} file${files.size === 1 ? "" : "s"} checked: ${parts.join(", ")}\n`);
    }
    return counts.error > 0 ? EXIT_FAIL : EXIT_OK;
  },
};

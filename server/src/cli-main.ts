// The `driftlens` command (dist/cli-main.js, loaded by the launcher dist/cli.js): a thin
// dispatcher. Each command lives in server/src/cli/<name>.ts and exports a `Command`; this file only
// routes argv and turns thrown errors into exit codes.
import { commands } from "./cli/commands";
import { CliError, EXIT_USAGE, type CliIO } from "./cli/common";
import { versionText } from "./cli/version";
import { terminalSafe } from "./util/terminal";

const HELP = `driftlens — prompt and adapter engineering on local GGUF models

Usage: driftlens <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}

Run 'driftlens <command> --help' for a command's options.`;

export async function main(argv: string[], raw: CliIO): Promise<number> {
  // Everything on stdout passes through here: ids, outputs and file names from the workspace may
  // hold control characters (ANSI escapes, bidi overrides) that must not reach a terminal raw.
  // stderr carries the progress bar's own line control; its messages are made safe where written.
  const io: CliIO = { ...raw, out: (s) => raw.out(terminalSafe(s)) };
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(HELP + "\n");
    return name ? 0 : EXIT_USAGE;
  }
  if (name === "--version" || name === "-v") {
    io.out(versionText());
    return 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    io.err(`driftlens: unknown command '${name}'. Run 'driftlens --help' for the list.\n`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof CliError) {
      io.err(`driftlens ${name}: ${terminalSafe(e.message)}\n`);
      return e.exitCode;
    }
    // Never a stack trace to the user; DRIFTLENS_DEBUG=1 shows it.
    io.err(`driftlens ${name}: internal error: ${terminalSafe(e instanceof Error ? e.message : String(e))}\n`);
    if (process.env.DRIFTLENS_DEBUG) io.err(`${e instanceof Error ? e.stack : ""}\n`);
    return EXIT_USAGE;
  }
}

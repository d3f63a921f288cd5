// Shared CLI plumbing: exit codes, errors, and a small strict argument parser.

export const EXIT_OK = 0;
/** Some check, case or gate failed. */
export const EXIT_FAIL = 1;
/** Usage, config or model errors. */
export const EXIT_USAGE = 2;

export interface CliIO {
  out(s: string): void;
  err(s: string): void;
  isTTY: boolean;
  cwd: string;
}

export interface Command {
  summary: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

/** A user-facing failure: printed as one line, never with a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
  }
}

export type FlagSpec = Record<string, { type: "string" | "boolean" | "number"; multiple?: boolean; choices?: readonly string[] }>;

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | boolean | number | string[] | undefined>;
  help: boolean;
}

/**
 * Parses `--name value`, `--name=value`, `--flag` and `--no-flag` against a spec. Unknown flags,
 * missing values and bad choices throw a CliError (exit 2) with a one-line reason.
 */
export function parseArgs(argv: string[], spec: FlagSpec): ParsedArgs {
  const positionals: string[] = [];
  const flags: ParsedArgs["flags"] = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let def = spec[name];
    if (!def && name.startsWith("no-") && spec[name.slice(3)]?.type === "boolean" && value === undefined) {
      flags[name.slice(3)] = false;
      continue;
    }
    if (!def) throw new CliError(`unknown option '--${name}'`);
    if (def.type === "boolean") {
      if (value !== undefined) throw new CliError(`option '--${name}' takes no value`);
      flags[name] = true;
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || (value.startsWith("--") && value.length > 2)) throw new CliError(`option '--${name}' needs a value`);
    }
    if (def.choices && !def.choices.includes(value)) {
      throw new CliError(`option '--${name}' must be one of ${def.choices.join("|")}, not '${value}'`);
    }
    let v: string | number = value;
    if (def.type === "number") {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new CliError(`option '--${name}' needs a number, not '${value}'`);
      v = n;
    }
    if (def.multiple) {
      const prev = flags[name];
      flags[name] = [...(Array.isArray(prev) ? prev : []), String(v)];
    } else flags[name] = v;
  }
  return { positionals, flags, help };
}

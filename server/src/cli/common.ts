// Shared CLI plumbing: exit codes, errors, a small strict argument parser with typed flags, the
// run-seed check and report emission every command shares.
import fs from "node:fs";
import path from "node:path";

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

export interface FlagDef {
  type: "string" | "boolean" | "number";
  multiple?: boolean;
  choices?: readonly string[];
}
export type FlagSpec = Record<string, FlagDef>;

/** The value a flag parses to: repeated flags collect strings; choices narrow a string. */
type FlagValue<D extends FlagDef> = D extends { multiple: true }
  ? string[]
  : D["type"] extends "boolean"
    ? boolean
    : D["type"] extends "number"
      ? number
      : D extends { choices: readonly (infer C)[] }
        ? C
        : string;

/** Parsed flags, typed by their spec (absent flags are undefined). */
export type Flags<S extends FlagSpec> = { [K in keyof S]?: FlagValue<S[K]> };

export interface ParsedArgs<S extends FlagSpec = FlagSpec> {
  positionals: string[];
  flags: Flags<S>;
  help: boolean;
}

/**
 * Parses `--name value`, `--name=value`, `--flag` and `--no-flag` against a spec. Unknown flags,
 * missing values and bad choices throw a CliError (exit 2) with a one-line reason.
 */
export function parseArgs<S extends FlagSpec>(argv: string[], spec: S): ParsedArgs<S> {
  const positionals: string[] = [];
  const flags: Record<string, string | boolean | number | string[] | undefined> = {};
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
  return { positionals, flags: flags as Flags<S>, help };
}

/** The largest run seed: per-case seeds derive from it as 31-bit integers. */
export const MAX_SEED = 2 ** 31 - 1;

/** Checks `--seed N` (an integer from 0 to 2^31-1); undefined when the flag was not given. */
export function runSeed(seed: number | undefined): number | undefined {
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED)) throw new CliError(`--seed must be an integer from 0 to ${MAX_SEED}, not ${seed}`);
  return seed;
}

/**
 * Prints a command's report: to stdout, or with `--out FILE` into FILE (folders created) while
 * stdout gets the short text summary (`summary`, when the command has one).
 */
export function emitReport(io: CliIO, out: string | undefined, text: string, summary?: string): void {
  if (!out) {
    io.out(text);
    return;
  }
  const file = path.resolve(io.cwd, out);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  } catch (e) {
    throw new CliError(`cannot write the report to ${out}: ${e instanceof Error ? e.message : String(e)}; choose a writable --out path`);
  }
  if (summary !== undefined) io.out(summary);
}

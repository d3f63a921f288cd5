// `driftlens render PROMPT`: the prompt as Dotprompt renders it (messages plus resolved metadata).
import fs from "node:fs";
import path from "node:path";
import { RenderError, type RenderedPrompt } from "../artifacts/render";
import { artifactKind } from "../artifacts/types";
import { Workspace } from "../artifacts/workspace";
import { workspaceRootFor } from "./check";
import { CliError, EXIT_FAIL, EXIT_OK, parseArgs, type CliIO, type Command } from "./common";

const USAGE = `Usage: driftlens render PROMPT [--input JSON | --input @file.json] [--data @file.json] [--format text|json]

Renders a .prompt file with Dotprompt and prints the messages.

Options:
  --input JSON    the input variables, as JSON or @file.json (front-matter input.default fills
                  what is not given)
  --data JSON     Dotprompt's whole data argument {input, context, messages, docs}, as JSON or
                  @file.json (so {{history}} and @context variables can be rendered); --input,
                  when also given, replaces data.input
  --format F      text (default): each message under a [role] line
                  json: what Dotprompt's render returns: messages
                  ([{role, content: [{text} | {media: {url, contentType}}], metadata?}]) plus the
                  resolved metadata (model, config, input/output with Picoschema compiled to
                  JSON Schema, ext, raw, ...)
  -h, --help      this text

Partials are read from _name.prompt beside the prompt or from prompts.partials in driftlens.yaml.
Exit status: 0 rendered, 1 the prompt cannot be rendered, 2 usage errors (bad JSON, missing file).
`;

const FLAGS = {
  input: { type: "string" },
  data: { type: "string" },
  format: { type: "string", choices: ["text", "json"] },
} as const;

function readJsonArg(name: string, value: string, cwd: string): unknown {
  let text = value;
  let where = `--${name}`;
  if (value.startsWith("@")) {
    const file = path.resolve(cwd, value.slice(1));
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      throw new CliError(`--${name}: cannot read ${value.slice(1)}`);
    }
    where = value.slice(1);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(`${where} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function renderText(r: RenderedPrompt): string {
  const out: string[] = [];
  for (const m of r.messages) {
    out.push(`[${m.role}]${m.metadata ? ` ${JSON.stringify(m.metadata)}` : ""}`);
    let line = "";
    for (const p of m.content) {
      if (typeof (p as { text?: unknown }).text === "string") line += (p as { text: string }).text;
      else if (isObject((p as { media?: unknown }).media)) {
        const media = (p as { media: { url: string; contentType?: string } }).media;
        line += `[media: ${media.url}${media.contentType ? ` (${media.contentType})` : ""}]`;
      } else line += JSON.stringify(p);
    }
    out.push(line.endsWith("\n") ? line.slice(0, -1) : line);
  }
  return out.join("\n") + "\n";
}

export const renderCommand: Command = {
  summary: "render a .prompt file with Dotprompt (messages + resolved metadata)",
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseArgs(argv, FLAGS);
    if (args.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (args.positionals.length !== 1) throw new CliError(args.positionals.length ? `expected one PROMPT, got ${args.positionals.length}` : "missing PROMPT (a .prompt file)");
    const prompt = path.resolve(io.cwd, args.positionals[0]!);
    if (artifactKind(prompt) !== "prompt") throw new CliError(`'${args.positionals[0]}' is not a .prompt file`);
    if (!fs.existsSync(prompt)) throw new CliError(`'${args.positionals[0]}' does not exist`);
    let data: Record<string, unknown> = {};
    if (typeof args.flags.data === "string") {
      const d = readJsonArg("data", args.flags.data, io.cwd);
      if (!isObject(d)) throw new CliError("--data must be a JSON object {input, context, messages, docs}");
      for (const k of Object.keys(d)) if (!["input", "context", "messages", "docs"].includes(k)) throw new CliError(`--data has unknown key '${k}' (allowed: input, context, messages, docs)`);
      data = d;
    }
    if (typeof args.flags.input === "string") {
      const i = readJsonArg("input", args.flags.input, io.cwd);
      if (!isObject(i)) throw new CliError("--input must be a JSON object of input variables");
      data = { ...data, input: i };
    }
    const ws = new Workspace(workspaceRootFor(prompt, false));
    let rendered: RenderedPrompt;
    try {
      rendered = await ws.render(prompt, data as never);
    } catch (e) {
      if (e instanceof RenderError) throw new CliError(e.message, EXIT_FAIL);
      throw new CliError(`${path.relative(io.cwd, prompt) || prompt}: cannot render: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`, EXIT_FAIL);
    }
    io.out((args.flags.format ?? "text") === "json" ? JSON.stringify(rendered, null, 2) + "\n" : renderText(rendered));
    return EXIT_OK;
  },
};

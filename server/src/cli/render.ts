// `driftlens render PROMPT`: the prompt as Dotprompt renders it (messages plus resolved metadata).
import fs from "node:fs";
import path from "node:path";
import { RenderError, type RenderedPrompt } from "../artifacts/render";
import { artifactKind } from "../artifacts/types";
import { Workspace } from "../artifacts/workspace";
import { workspaceRootFor } from "./check";
import { CliError, EXIT_FAIL, EXIT_OK, parseArgs, type CliIO, type Command } from "./common";

const USAGE = `Usage: driftlens render PROMPT [--input JSON | --input @file.json] [--data @file.json] [--format text|json]

Renders a .prompt file with Dotprompt and prints the messages. A promptfoo config, a GitHub
.prompt.yml or a .prompty file is rendered as its own tool renders it (nunjucks for promptfoo,
gh-models' {{name}} replacement, Prompty's jinja2/mustache and role lines); without --input, with
the first test's vars (promptfoo), the first testData item (.prompt.yml) or the sample (Prompty).

Options:
  --input JSON    the input variables, as JSON or @file.json (front-matter input.default fills
                  what is not given)
  --data JSON     Dotprompt's whole data argument {input, context, messages, docs}, as JSON or
                  @file.json (so {{history}} and @context variables can be rendered); --input,
                  when also given, replaces data.input
  --prompt KEY    a promptfoo config's prompt to render (its label or file; default: every prompt)
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
  prompt: { type: "string" },
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
    const kind = artifactKind(prompt);
    if (kind !== "prompt" && kind !== "promptfoo" && kind !== "ghprompt" && kind !== "prompty") throw new CliError(`'${args.positionals[0]}' is not a .prompt, promptfoo config, .prompt.yml or .prompty file`);
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
    if (kind !== "prompt") return renderAdopted(ws, prompt, data.input as Record<string, unknown> | undefined, args.flags.prompt as string | undefined, (args.flags.format ?? "text") === "json", io);
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

/** Renders an adopted file's prompts with their tool's renderer. */
async function renderAdopted(ws: Workspace, file: string, input: Record<string, unknown> | undefined, only: string | undefined, json: boolean, io: CliIO): Promise<number> {
  const suite = ws.adopted(file);
  const errors = suite.diagnostics.filter((d) => d.severity === "error");
  let prompts = suite.prompts;
  if (only !== undefined) {
    prompts = prompts.filter((p) => p.label === only);
    if (prompts.length === 0) throw new CliError(`--prompt ${only}: no such prompt (prompts: ${suite.prompts.map((p) => p.label).join(", ") || "none"})`);
  }
  if (prompts.length === 0) throw new CliError(`${path.relative(io.cwd, file) || file}: nothing to render${errors[0] ? `: ${errors[0].message}` : ""}`, EXIT_FAIL);
  const vars = input ?? suite.cases[0]?.vars ?? {};
  const out: { prompt: string; messages: RenderedPrompt["messages"]; config: Record<string, unknown> }[] = [];
  for (const p of prompts) {
    try {
      const r = await p.render(vars);
      out.push({ prompt: p.label, messages: r.messages as RenderedPrompt["messages"], config: r.config ?? p.config });
    } catch (e) {
      throw new CliError(`${p.label}: cannot render: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`, EXIT_FAIL);
    }
  }
  if (json) io.out(JSON.stringify(suite.kind === "promptfoo" ? out : out[0], null, 2) + "\n");
  else io.out(out.map((o) => (suite.kind === "promptfoo" ? `# ${o.prompt}\n` : "") + renderText({ messages: o.messages } as RenderedPrompt)).join("\n"));
  return EXIT_OK;
}

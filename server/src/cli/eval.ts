// `driftlens eval [PROMPT|EVALSET...]`: runs eval sets on model variants through runEvals, with a
// progress bar on a TTY, and prints the report as text, JSON, JUnit XML or Markdown.
// Exit 0 when every case passes, 1 when any fails, 2 on usage, config or model errors.
import fs from "node:fs";
import path from "node:path";
import { Workspace } from "../artifacts";
import { setFingerprintCache } from "../artifacts/fingerprint";
import { artifactKind } from "../artifacts/types";
import { formatReport, formatText, type EvalFormat } from "../eval/format";
import { gitToplevel, relPath, resolveRef, showFiles } from "../eval/git";
import { runEvals, type EvalTarget } from "../eval/runner";
import { EngineClient } from "../llm/client";
import { RoutingEngine } from "../llm/remote/router";
import { parseShard, type Shard } from "../eval/shard";
import { contentHash, Store, StoreError } from "../store/store";
import { CliError, emitReport, EXIT_FAIL, EXIT_OK, EXIT_USAGE, parseArgs, runSeed, type CliIO, type Command } from "./common";
import { ProgressBar } from "./progress";

const USAGE = `Usage: driftlens eval [PROMPT|EVALSET...] [options]

Runs eval sets on model variants (local GGUF files, or served models named by their endpoints in
driftlens.yaml). With no files: every prompt in the workspace with the eval sets that cover it. A
prompt runs with its covering eval sets; an eval set with its prompt.

Options:
  --variant V      a variant to run on (repeatable), e.g. tiny/q4_0 or tiny/f16+formal@0.5;
                   default: the prompt's model, else each family's reference variant
  --format F       text (default) | json | junit | markdown
  --out FILE       write the report there (stdout gets the text summary)
  --no-cache       generate every case again (results still go to the cache)
  --seed N         run seed (default 0); each case's seed derives from it and the case id
  --shard I/N      run only shard I of N (case k of each eval set is in shard k mod N + 1), e.g.
                   one per CI runner; 'driftlens store merge' combines the shards' stores
  --trust          allow 'javascript' assertions (they run code from the eval set)
  --root DIR       workspace root (default: the current folder)

Exit status: 0 every case passed, 1 some case failed, 2 usage, config or model errors.
`;

const FLAGS = {
  variant: { type: "string", multiple: true },
  format: { type: "string", choices: ["text", "json", "junit", "markdown"] },
  out: { type: "string" },
  cache: { type: "boolean" },
  seed: { type: "number" },
  shard: { type: "string" },
  trust: { type: "boolean" },
  root: { type: "string" },
} as const;

/**
 * The HEAD commit for each file whose content (normalized) is what HEAD holds, so artifact
 * versions record the commit they came from; empty outside git or when git is unavailable.
 */
async function committedVersions(root: string, files: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  try {
    const top = await gitToplevel(root);
    const head = await resolveRef(top, "HEAD");
    const rels = files.map((f) => relPath(top, f));
    const atHead = await showFiles(top, head, rels);
    files.forEach((f, i) => {
      const committed = atHead.get(rels[i]!);
      if (committed !== undefined && fs.existsSync(f) && contentHash(committed) === contentHash(fs.readFileSync(f, "utf8"))) out[f] = head;
    });
  } catch {
    // not a repository, no commits yet, or no git: versions are recorded without a commit
  }
  return out;
}

/** Works out the (prompt, eval set) pairs the arguments name. */
async function resolveTargets(ws: Workspace, root: string, files: string[]): Promise<EvalTarget[]> {
  const targets: EvalTarget[] = [];
  const add = (t: EvalTarget) => {
    if (!targets.some((x) => x.promptFile === t.promptFile && x.evalSetFile === t.evalSetFile)) targets.push(t);
  };
  const prompts: string[] = [];
  if (files.length === 0) {
    for (const f of ws.listArtifacts()) if (artifactKind(f) === "prompt") prompts.push(f);
    if (prompts.length === 0) throw new CliError(`no .prompt files under ${root}; pass a prompt or an eval set`);
  }
  for (const raw of files) {
    const file = path.resolve(root, raw);
    if (!fs.existsSync(file)) throw new CliError(`${raw}: no such file`);
    const kind = artifactKind(file);
    if (kind === "prompt") prompts.push(file);
    else if (kind === "evalset") {
      const p = await ws.promptFor(file);
      if (!p) throw new CliError(`${raw}: this eval set names no prompt; add 'prompt: FILE.prompt' to it, or list it in the prompt's driftlens.evals`);
      add({ promptFile: p, evalSetFile: file });
    } else throw new CliError(`${raw}: not a prompt (.prompt) or an eval set (.eval.yaml, .eval.jsonl)`);
  }
  const uncovered: string[] = [];
  for (const p of prompts) {
    const sets = await ws.evalSetsFor(p);
    if (sets.length === 0) uncovered.push(p);
    for (const s of sets) add({ promptFile: p, evalSetFile: s });
  }
  if (targets.length === 0) {
    throw new CliError(`no eval set covers ${uncovered.map((p) => path.relative(root, p)).join(", ")}; list eval sets in the prompt's driftlens.evals or write one with 'prompt:' naming it`);
  }
  return targets;
}

export const evalCommand: Command = {
  summary: "run eval sets on model variants (cached, resumable)",
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseArgs(argv, FLAGS);
    if (args.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    const root = path.resolve(io.cwd, (args.flags.root as string | undefined) ?? ".");
    const format = ((args.flags.format as string | undefined) ?? "text") as EvalFormat;
    const seed = runSeed(args.flags.seed);
    const out = args.flags.out as string | undefined;
    let shard: Shard | undefined;
    try {
      shard = args.flags.shard === undefined ? undefined : parseShard(args.flags.shard as string);
    } catch (e) {
      throw new CliError((e as Error).message);
    }

    const ws = new Workspace(root);
    const cfgDoc = await ws.config();
    const config = cfgDoc.config;
    const cfgErrors = cfgDoc.diagnostics.filter((d) => d.severity === "error");
    if (cfgErrors.length) {
      const d = cfgErrors[0]!;
      throw new CliError(`${path.relative(root, d.file) || d.file}:${d.range.start.line + 1}: ${d.message}${cfgErrors.length > 1 ? ` (and ${cfgErrors.length - 1} more)` : ""}`);
    }
    const targets = await resolveTargets(ws, root, args.positionals);

    let store: Store;
    try {
      store = Store.open(config.store);
    } catch (e) {
      if (e instanceof StoreError) throw new CliError(e.message);
      throw e;
    }
    setFingerprintCache(store.fingerprintCache());

    let engine: RoutingEngine | undefined;
    const progress = new ProgressBar({ write: io.err, isTTY: io.isTTY, columns: process.stderr.columns });
    try {
      const report = await runEvals({
        workspace: ws,
        store,
        // Served variants go to their endpoints; the local engine starts only for a local variant.
        engine: async () => {
          const log = process.env.DRIFTLENS_DEBUG ? (l: string) => io.err(`${l}\n`) : undefined;
          return (engine = new RoutingEngine(() => EngineClient.start(config.engine, { log }), { log: (l) => io.err(`${l}\n`) }));
        },
        targets,
        variants: (args.flags.variant as string[] | undefined) ?? undefined,
        seed,
        ...(shard ? { shard } : {}),
        noCache: args.flags.cache === false,
        trusted: args.flags.trust === true,
        memoryBudgetBytes: config.engine.memoryBudgetBytes,
        gitCommit: await committedVersions(root, [...new Set(targets.flatMap((t) => [t.promptFile, t.evalSetFile]))]),
        onProgress: (p) => {
          if (p.total > 0) progress.update({ done: p.done, total: p.total, tokensPerSecond: p.tokensPerSecond, etaMs: p.etaMs, ...(p.variant ? { label: p.variant } : {}) });
        },
      });
      progress.done();
      emitReport(io, out, formatReport(report, format, root), formatText(report, root));
      const modelErrors = report.errors.length > 0 || report.runs.some((r) => r.status !== "complete");
      if (modelErrors) return EXIT_USAGE;
      return report.runs.every((r) => r.summary.failed === 0) ? EXIT_OK : EXIT_FAIL;
    } finally {
      await engine?.dispose();
      store.close();
    }
  },
};

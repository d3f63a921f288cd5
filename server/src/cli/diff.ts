// `driftlens diff`: what prompt and eval-set changes between two git revisions did to the evals,
// with the regression gate from driftlens.yaml. Exit 0 the gate passes, 1 it fails, 2 usage/config
// errors or a revision that does not exist.
import path from "node:path";
import { Workspace } from "../artifacts";
import { diffRefs, DiffError } from "../eval/diff";
import { renderDiff, type ReportFormat } from "../eval/report";
import { CliError, emitReport, EXIT_FAIL, EXIT_OK, parseArgs, runSeed, type CliIO, type Command } from "./common";
import { openContext } from "./compare";
import { ProgressBar } from "./progress";

const USAGE = `Usage: driftlens diff [--base REF] [--head REF] [options]

Finds the prompt files and eval sets changed between two git revisions (and the prompts whose
models or adapters a driftlens.yaml or adapter-config change moved), runs the eval sets that
cover each such prompt on both versions, and reports per prompt: pass rate before and after
with a paired 95% CI and McNemar p-value, per-slice deltas, the flipped cases with both outputs
and a word diff, and eval-set changes (added/removed cases; compared on the common ones).

Options:
  --base REF       the revision to compare against (default HEAD)
  --head REF       the revision to compare (default: the working tree, untracked files included)
  --variant V      run on this variant (repeatable; default: each prompt's own model)
  --format F       text (default) | json | markdown | junit | html
  --out FILE       write the report there (stdout gets the text summary)
  --seed N         run seed (default 0)
  --no-cache       generate again even when cached
  --trust          allow 'javascript' assertions
  --root DIR       workspace root (default: the current folder)

Exit status: 0 the gate passes, 1 it fails, 2 usage or config errors, or a revision that does not exist.
`;

const FLAGS = {
  base: { type: "string" },
  head: { type: "string" },
  variant: { type: "string", multiple: true },
  format: { type: "string", choices: ["text", "json", "markdown", "junit", "html"] },
  out: { type: "string" },
  seed: { type: "number" },
  cache: { type: "boolean" },
  trust: { type: "boolean" },
  root: { type: "string" },
} as const;

export const diffCommand: Command = {
  summary: "eval regressions of prompt/eval-set changes between git revisions (the CI gate)",
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseArgs(argv, FLAGS);
    if (args.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (args.positionals.length) throw new CliError(`unexpected argument '${args.positionals[0]}'; use --base REF / --head REF`);
    const root = path.resolve(io.cwd, (args.flags.root as string | undefined) ?? ".");
    const format = ((args.flags.format as string | undefined) ?? "text") as ReportFormat;
    const seed = runSeed(args.flags.seed);
    const ctx = await openContext(root, io);
    const progress = new ProgressBar({ write: io.err, isTTY: io.isTTY, columns: process.stderr.columns });
    try {
      const report = await diffRefs({
        root,
        ...(args.flags.base !== undefined ? { base: args.flags.base as string } : {}),
        ...(args.flags.head !== undefined ? { head: args.flags.head as string } : {}),
        ...(args.flags.variant ? { variants: args.flags.variant as string[] } : {}),
        store: ctx.store,
        engine: ctx.engine,
        gate: ctx.config.gate,
        createWorkspace: (r) => new Workspace(r),
        ...(seed !== undefined ? { seed } : {}),
        noCache: args.flags.cache === false,
        trusted: args.flags.trust === true,
        memoryBudgetBytes: ctx.config.engine.memoryBudgetBytes,
        onProgress: (p) => progress.update({ done: p.done, total: p.total, tokensPerSecond: p.tokensPerSecond, etaMs: p.etaMs, ...(p.variant ? { label: p.variant } : {}) }),
      });
      progress.done();
      emitReport(io, args.flags.out as string | undefined, renderDiff(report, format), renderDiff(report, "text"));
      return report.gate.passed ? EXIT_OK : EXIT_FAIL;
    } catch (e) {
      progress.done();
      if (e instanceof DiffError) throw new CliError(e.message);
      throw e;
    } finally {
      await ctx.dispose();
    }
  },
};

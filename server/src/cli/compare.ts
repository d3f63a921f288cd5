// `driftlens compare`: quantization / adapter variants against their reference, on the workspace's
// own eval sets: paired pass rates per slice, flips, teacher-forced KL divergence, speed.
// Exit 0 when every variant is within the gate, 1 when one fails it, 2 on usage/config/model errors.
import fs from "node:fs";
import path from "node:path";
import { Workspace } from "../artifacts";
import { adoptedView } from "../artifacts/adopt/view";
import { storePathProblem } from "../artifacts/containment";
import { setFingerprintCache } from "../artifacts/fingerprint";
import { artifactKind } from "../artifacts/types";
import { CompareError, compareVariants } from "../eval/compare";
import { isStoreError, storeErrorMessage } from "../eval/store-errors";
import { ladderRequest } from "../eval/ladder";
import { renderCompare, type ReportFormat } from "../eval/report";
import type { EvalTarget } from "../eval/runner";
import { EngineClient } from "../llm/client";
import { RoutingEngine } from "../llm/remote/router";
import { Store, StoreError } from "../store/store";
import { CliError, emitReport, EXIT_FAIL, EXIT_OK, EXIT_USAGE, parseArgs, runSeed, type CliIO, type Command } from "./common";
import { ProgressBar } from "./progress";
import { terminalSafe } from "../util/terminal";
import { graderFlag, repeatFlag, SAMPLING_FLAGS, SAMPLING_USAGE } from "./sampling-flags";

const USAGE = `Usage: driftlens compare [--family F | --variant V ...] [options]

Compares model variants (quantizations, adapters) against a reference on the workspace's eval
sets: pass rate overall and per slice with paired 95% CIs and McNemar p-values (worst slice
first), the cases that flipped, teacher-forced KL divergence from the reference per case and
slice, top-1 agreement, tokens/s, time to first token, file size and memory.

Options:
  --family F       every variant of family F (repeatable)
  --variant V      a variant to compare (repeatable), e.g. tiny/q4_0 or tiny/f16+formal@0.5
  --reference V    compare against V (default: the family's reference; an adapter variant's base)
  --evals FILE     an eval set to run (repeatable; default: every eval set of every prompt)
  --top-k K        KL divergence over the reference's top-K tokens plus the rest (default 20)
  --full-vocab     KL divergence over the whole vocabulary instead (exact; slower with large
                   vocabularies)
  --ladder         the quant ladder of one family (--family F): variants by file size, each
                   with its gate verdict and corpus KLD (the family's \`corpus:\` in driftlens.yaml),
                   and the smallest variant that passes the gate and gate.maxKld
  --format F       text (default) | json | markdown | html | junit
  --out FILE       write the report there (stdout gets the text summary)
  --seed N         run seed (default 0)
  --no-cache       generate again even when cached
  --trust          allow 'javascript' assertions
${SAMPLING_USAGE}
  --cross-grader V grade every model-graded assertion again with variant V and report how
                   often the two graders agree (a judge's own drift)
  --root DIR       workspace root (default: the current folder)

With neither --family nor --variant: every family in driftlens.yaml.
A variant that cannot be run (a missing or corrupt model) is named in the report and the others
are compared as usual; the exit status is then 2.
Exit status: 0 every variant within the gate, 1 some variant fails it, 2 usage, config or model errors.
With --ladder: 0 when a variant is recommended, 1 when none passes.
`;

const FLAGS = {
  family: { type: "string", multiple: true },
  variant: { type: "string", multiple: true },
  reference: { type: "string" },
  evals: { type: "string", multiple: true },
  "top-k": { type: "number" },
  "full-vocab": { type: "boolean" },
  ladder: { type: "boolean" },
  format: { type: "string", choices: ["text", "json", "markdown", "html", "junit"] },
  out: { type: "string" },
  seed: { type: "number" },
  cache: { type: "boolean" },
  trust: { type: "boolean" },
  root: { type: "string" },
  ...SAMPLING_FLAGS,
  "cross-grader": { type: "string" },
} as const;

/** What compare and diff share: the workspace, its config, the store, a lazy engine. */
export interface CliContext {
  root: string;
  ws: Workspace;
  config: Awaited<ReturnType<Workspace["config"]>>["config"];
  store: Store;
  engine: () => Promise<RoutingEngine>;
  dispose(): Promise<void>;
}

export async function openContext(root: string, io: CliIO, workspace?: Workspace, opts: { store?: string } = {}): Promise<CliContext> {
  const ws = workspace ?? new Workspace(root);
  const cfgDoc = await ws.config();
  const config = cfgDoc.config;
  const cfgErrors = cfgDoc.diagnostics.filter((d) => d.severity === "error");
  if (cfgErrors.length) {
    const d = cfgErrors[0]!;
    throw new CliError(`${path.relative(root, d.file) || d.file}:${d.range.start.line + 1}: ${d.message}${cfgErrors.length > 1 ? ` (and ${cfgErrors.length - 1} more)` : ""}`);
  }
  const storeFile = opts.store ?? config.store;
  // A store driftlens.yaml names must be in the workspace; one the user passes is theirs to choose.
  const storeProblem = opts.store ? undefined : storePathProblem(root, storeFile);
  if (storeProblem) throw new CliError(storeProblem);
  let store: Store;
  try {
    store = Store.open(storeFile);
  } catch (e) {
    if (e instanceof StoreError) throw new CliError(e.message);
    throw e;
  }
  setFingerprintCache(store.fingerprintCache());
  let engine: Promise<RoutingEngine> | undefined;
  return {
    root,
    ws,
    config,
    store,
    // Served variants go to their endpoints; the local engine starts only for a local variant.
    engine: () => (engine ??= Promise.resolve(new RoutingEngine(() => EngineClient.start(config.engine, { log: process.env.DRIFTLENS_DEBUG ? (l) => io.err(`${terminalSafe(l)}\n`) : undefined }), { log: (l) => io.err(`${terminalSafe(l)}\n`) }))),
    async dispose() {
      if (engine) await (await engine).dispose().catch(() => undefined);
      store.close();
    },
  };
}

async function targetsFor(ws: Workspace, root: string, evals: string[] | undefined): Promise<EvalTarget[]> {
  const targets: EvalTarget[] = [];
  const add = (t: EvalTarget) => {
    if (!targets.some((x) => x.promptFile === t.promptFile && x.evalSetFile === t.evalSetFile)) targets.push(t);
  };
  if (evals?.length) {
    for (const raw of evals) {
      const file = path.resolve(root, raw);
      if (!fs.existsSync(file)) throw new CliError(`--evals ${raw}: no such file`);
      if (!ws.allowed(file)) throw new CliError(`--evals ${raw} is outside the workspace ${root}; run from its workspace or pass --root`);
      const kind = artifactKind(file);
      if (kind === "promptfoo" || kind === "ghprompt" || kind === "prompty") {
        const ts = adoptedView(ws).targetsFor(file);
        if (ts.length === 0) throw new CliError(`--evals ${raw}: nothing to run in it (see 'driftlens check ${raw}')`);
        for (const t of ts) add(t);
        continue;
      }
      if (kind !== "evalset") throw new CliError(`--evals ${raw}: not an eval set (.eval.yaml, .eval.jsonl), a promptfoo config, a .prompt.yml or a .prompty file`);
      const p = await ws.promptFor(file);
      if (!p) throw new CliError(`${raw}: this eval set names no prompt; add 'prompt: FILE.prompt' to it, or list it in the prompt's driftlens.evals`);
      if (!ws.allowed(p)) throw new CliError(`${raw}: ${ws.containment().outsideMessage("its prompt", path.relative(path.dirname(file), p), p)}`);
      add({ promptFile: path.resolve(root, p), evalSetFile: file });
    }
    return targets;
  }
  for (const f of ws.listArtifacts()) {
    const kind = artifactKind(f);
    if (kind === "promptfoo" || kind === "ghprompt" || kind === "prompty") {
      for (const t of adoptedView(ws).targetsFor(f)) add(t);
      continue;
    }
    if (kind !== "prompt" || path.basename(f).startsWith("_")) continue;
    for (const s of await ws.evalSetsFor(f)) add({ promptFile: f, evalSetFile: path.resolve(root, s) });
  }
  if (targets.length === 0) throw new CliError(`no eval set covers any prompt under ${root}; pass --evals FILE or list eval sets in a prompt's driftlens.evals`);
  return targets;
}

/** The ladder's family (exactly one), its corpus text and gate.maxKld. */
function ladderFor(ctx: CliContext, families: string[], all: { family: string }[]): ReturnType<typeof ladderRequest> {
  const known = [...new Set(all.map((v) => v.family))];
  const family = families.length === 1 ? families[0]! : families.length === 0 && known.length === 1 ? known[0]! : undefined;
  if (!family) throw new CliError(`--ladder needs one family: pass --family F (known: ${known.join(", ") || "none"})`);
  try {
    return ladderRequest(ctx.config, family);
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
}

export const compareCommand: Command = {
  summary: "compare quantization/adapter variants against a reference (slices, flips, KL divergence)",
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseArgs(argv, FLAGS);
    if (args.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (args.positionals.length) throw new CliError(`unexpected argument '${args.positionals[0]}'; use --evals FILE for eval sets`);
    const root = path.resolve(io.cwd, (args.flags.root as string | undefined) ?? ".");
    const format = ((args.flags.format as string | undefined) ?? "text") as ReportFormat;
    const seed = runSeed(args.flags.seed);
    const topK = args.flags["top-k"] as number | undefined;
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 1 || topK > 1000)) throw new CliError(`--top-k must be an integer from 1 to 1000, not ${topK}`);

    const ctx = await openContext(root, io);
    try {
      const families = (args.flags.family as string[] | undefined) ?? [];
      const variantArgs = (args.flags.variant as string[] | undefined) ?? [];
      const all = await ctx.ws.variants();
      for (const f of families) if (!all.some((v) => v.family === f)) throw new CliError(`no model family '${f}' in driftlens.yaml (known: ${[...new Set(all.map((v) => v.family))].join(", ") || "none"})`);
      let variants = [...variantArgs];
      const pick = families.length ? all.filter((v) => families.includes(v.family)) : variantArgs.length ? [] : all;
      for (const v of pick) if (!variants.includes(v.id)) variants.push(v.id);
      if (variants.length === 0) throw new CliError("no variants to compare: configure models in driftlens.yaml, or pass --family / --variant");
      // The reference itself is listed first in the report, not as a candidate.
      const targets = await targetsFor(ctx.ws, root, args.flags.evals as string[] | undefined);
      const repeat = repeatFlag(args.flags.repeat);
      const grader = await graderFlag(args.flags.grader, "--grader", (r) => ctx.ws.resolveVariant(r));
      const crossGrader = await graderFlag(args.flags["cross-grader"], "--cross-grader", (r) => ctx.ws.resolveVariant(r));
      const ladder = args.flags.ladder === true ? ladderFor(ctx, families, all) : undefined;
      const progress = new ProgressBar({ write: io.err, isTTY: io.isTTY, columns: process.stderr.columns });
      let report;
      try {
        report = await compareVariants({
          workspace: adoptedView(ctx.ws),
          store: ctx.store,
          engine: ctx.engine,
          targets,
          variants,
          ...(args.flags.reference ? { reference: args.flags.reference as string } : {}),
          gate: ctx.config.gate,
          ...(topK !== undefined ? { topK } : {}),
          ...(args.flags["full-vocab"] === true ? { fullVocabulary: true } : {}),
          ...(ladder ? { ladder } : {}),
          ...(seed !== undefined ? { seed } : {}),
          noCache: args.flags.cache === false,
          trusted: args.flags.trust === true,
          memoryBudgetBytes: ctx.config.engine.memoryBudgetBytes,
          root,
          ...(repeat !== undefined ? { repeat } : {}),
          ...(grader ? { grader } : {}),
          ...(crossGrader ? { crossGrader } : {}),
          onProgress: (p) => progress.update({ done: p.done, total: p.total, tokensPerSecond: p.tokensPerSecond, etaMs: p.etaMs, ...(p.variant ? { label: p.variant } : {}) }),
        });
      } catch (e) {
        if (e instanceof CompareError) throw new CliError(e.message);
        // The store failed outside a run (a memo of the comparison): name it, not "internal error".
        if (isStoreError(e)) throw new CliError(storeErrorMessage(ctx.store.file, e));
        throw e;
      } finally {
        progress.done();
      }
      emitReport(io, args.flags.out as string | undefined, renderCompare(report, format), renderCompare(report, "text"));
      // The good variants are reported; a variant that could not be compared is a model error (2).
      if (report.failures?.length) return EXIT_USAGE;
      if (report.ladder) return report.ladder.recommended ? EXIT_OK : EXIT_FAIL;
      return report.gate.passed ? EXIT_OK : EXIT_FAIL;
    } finally {
      await ctx.dispose();
    }
  },
};

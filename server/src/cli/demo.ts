// `driftlens demo [--out DIR]`: the whole product on the embedded quickstart, with no download.
// Generates the tiny model family when it is missing or stale, runs every quickstart eval set on
// every variant (runEvals), compares the quantizations with the reference and the adapter with
// its base (compareVariants), shows what a one-word prompt edit does, and writes a
// self-contained HTML report plus a markdown summary. Exit 0 when everything ran.
import fs from "node:fs";
import path from "node:path";
import { artifactKind } from "../artifacts/types";
import { renderDemoHtml, renderDemoMarkdown, type DemoData, type DemoPromptEdit, type DemoStructured, type DemoVariantRuns } from "../demo/report";
import { CompareError, compareVariants } from "../eval/compare";
import type { CompareReport } from "../eval/report/types";
import { runEvals, type EvalReport, type EvalTarget } from "../eval/runner";
import { ensureQuickstartModels, GENERATOR_VERSION } from "../modelgen";
import { CliError, EXIT_OK, EXIT_USAGE, parseArgs, type CliIO, type Command } from "./common";
import { openContext } from "./compare";
import { formatDuration } from "./progress";
import { terminalSafe } from "../util/terminal";
import { structuredOutputOf } from "../artifacts/structured";
import { STRUCTURED_CHECK_TYPE } from "../eval/structured-check";

const USAGE = `Usage: driftlens demo [--out DIR] [--workspace DIR]

Runs Driftlens end to end on the embedded quickstart (examples/quickstart): generates the tiny
model family (F32, F16, Q8_0, Q4_0 and a LoRA adapter) if it is missing, runs every eval set on
every variant, compares the quantizations with F32 and the adapter with its base, shows what a
one-word prompt edit does, generates the JSON prompt under its output schema's grammar and without
it, and writes a self-contained HTML report and a markdown summary.

Options:
  --out DIR        where to write index.html, summary.md, report.json and the demo's store
                   (store.db); default: <workspace>/demo-report, with the workspace's store
  --workspace DIR  the quickstart workspace to use (default: the bundled examples/quickstart)
  --no-cache       generate every case again

Exit status: 0 when the demo ran (the report shows gate failures; they are the point),
2 when something could not run.
`;

const FLAGS = {
  out: { type: "string" },
  workspace: { type: "string" },
  cache: { type: "boolean" },
} as const;

const FAMILY = "tiny";
/** The edit the demo tries on the capital prompt: the keyword the model routes by disappears. */
const EDIT = { prompt: "capital.prompt", from: "capital of", to: "main city of" } as const;

/** examples/quickstart beside the bundle (dist/cli.js → ../examples/quickstart), or above the source. */
export function defaultQuickstart(): string {
  for (const up of ["..", "../..", "../../.."]) {
    const dir = path.resolve(__dirname, up, "examples", "quickstart");
    if (fs.existsSync(path.join(dir, "driftlens.yaml"))) return dir;
  }
  return path.resolve(__dirname, "..", "examples", "quickstart");
}

export const demoCommand: Command = {
  summary: "run the whole product on a generated tiny model family; writes an HTML report",
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseArgs(argv, FLAGS);
    if (args.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (args.positionals.length) throw new CliError(`unexpected argument '${args.positionals[0]}'; see 'driftlens demo --help'`);
    const t0 = performance.now();
    const root = path.resolve(io.cwd, (args.flags.workspace as string | undefined) ?? defaultQuickstart());
    if (!fs.existsSync(path.join(root, "driftlens.yaml"))) {
      throw new CliError(`${root} is not the quickstart workspace (no driftlens.yaml); pass --workspace DIR pointing at examples/quickstart`);
    }
    const outDir = path.resolve(io.cwd, (args.flags.out as string | undefined) ?? path.join(root, "demo-report"));
    const noCache = args.flags.cache === false;
    const steps: { name: string; ms: number }[] = [];
    const say = (s: string) => io.err(`demo: ${terminalSafe(s)}\n`);
    const step = async <T>(name: string, label: string, fn: () => Promise<T> | T): Promise<T> => {
      say(`${label} …`);
      const s = performance.now();
      const r = await fn();
      const ms = performance.now() - s;
      steps.push({ name, ms });
      say(`${label} done (${formatDuration(ms)})`);
      return r;
    };

    const models = await step("models", `[1/6] tiny model family in ${path.join(root, "models")}`, () => {
      try {
        return ensureQuickstartModels(path.join(root, "models"));
      } catch (e) {
        throw new CliError(`could not write the model family into ${path.join(root, "models")}: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    say(models.generated ? `generated F32, F16, Q8_0, Q4_0 and the endonyms LoRA (generator ${GENERATOR_VERSION})` : "models are up to date");

    // With --out, the demo's store goes there too: the bundled quickstart folder stays as shipped.
    const ctx = await openContext(root, io, undefined, args.flags.out !== undefined ? { store: path.join(outDir, "store.db") } : {});
    try {
      const ws = ctx.ws;
      const all = ws.variants().filter((v) => v.family === FAMILY);
      if (all.length === 0) throw new CliError(`driftlens.yaml in ${root} has no '${FAMILY}' family; restore examples/quickstart/driftlens.yaml`);
      const reference = all.find((v) => v.isReference) ?? all[0]!;
      const bases = all.filter((v) => v.adapters.length === 0);
      const adapterFiles = ws.listArtifacts().filter((f) => artifactKind(f) === "adapter");
      const adapterVariants = adapterFiles.map((f) => `${reference.id}+${ws.adapter(f).name}`);
      const variants = [...bases.map((v) => v.id), ...adapterVariants];
      const adapterEvals = new Set(adapterFiles.flatMap((f) => ws.adapter(f).evals.map((e) => path.resolve(e.path))));

      const targets: EvalTarget[] = [];
      // JSON prompts have their own step (with and without their grammar) on the reference only,
      // so the quantization and adapter comparisons stay on the free-text prompts.
      const structuredTargets: EvalTarget[] = [];
      for (const f of ws.listArtifacts()) {
        if (artifactKind(f) !== "prompt" || path.basename(f).startsWith("_")) continue;
        const list = structuredOutputOf(ws.prompt(f)) ? structuredTargets : targets;
        for (const s of ws.evalSetsFor(f)) list.push({ promptFile: f, evalSetFile: path.resolve(root, s) });
      }
      if (targets.length === 0) throw new CliError(`no eval sets in ${root}; restore examples/quickstart`);
      const quantTargets = targets.filter((t) => !adapterEvals.has(path.resolve(t.evalSetFile)));
      const capitals = targets.find((t) => path.basename(t.promptFile) === EDIT.prompt);
      const adapterTargets = targets.filter((t) => adapterEvals.has(path.resolve(t.evalSetFile)) || t === capitals);

      let lastLine = 0;
      const onProgress = (p: { done: number; total: number; variant?: string }) => {
        const now = performance.now();
        if (p.done === p.total || now - lastLine > 2000) {
          lastLine = now;
          say(`  ${p.done}/${p.total} cases${p.variant ? ` (${p.variant})` : ""}`);
        }
      };
      const common = {
        workspace: ws,
        store: ctx.store,
        engine: ctx.engine,
        noCache,
        memoryBudgetBytes: ctx.config.engine.memoryBudgetBytes,
      };

      const evals: EvalReport = await step("evals", `[2/6] ${targets.length} eval sets × ${variants.length} variants (${variants.join(", ")})`, () =>
        runEvals({ ...common, targets, variants, onProgress }),
      );
      const failedRuns = evals.runs.filter((r) => r.status !== "complete");
      for (const r of failedRuns) say(`  ✗ ${r.variant} on ${path.relative(root, r.evalSetFile)}: ${r.error ?? r.status}`);
      for (const e of evals.errors) say(`  ✗ ${path.relative(root, e.evalSetFile)}: ${e.message}`);

      const compare = (variantsToCompare: string[], tg: EvalTarget[]): Promise<CompareReport> =>
        compareVariants({
          workspace: ws,
          store: ctx.store,
          engine: ctx.engine,
          targets: tg,
          variants: variantsToCompare,
          gate: ctx.config.gate,
          noCache: false,
          memoryBudgetBytes: ctx.config.engine.memoryBudgetBytes,
          log: (l) => say(`  ${l}`),
        }).catch((e: unknown) => {
          throw e instanceof CompareError ? new CliError(e.message) : e;
        });
      const quantization = await step("quantization", `[3/6] quantization: ${bases.filter((v) => v.id !== reference.id).map((v) => v.id).join(", ")} vs ${reference.id}`, () =>
        compare(
          bases.filter((v) => v.id !== reference.id).map((v) => v.id),
          quantTargets,
        ),
      );
      for (const v of quantization.variants) if (!v.isReference) say(`  ${v.variant}: pass rate ${(v.passRate * 100).toFixed(1)}%, KLD mean ${v.kld.mean?.toExponential(2) ?? "–"}, ${v.gate.passed ? "within the gate" : "FAILS the gate: " + v.gate.reasons.join("; ")}`);
      const adapter = await step("adapter", `[4/6] adapter: ${adapterVariants.join(", ")} vs its base`, () => compare(adapterVariants, adapterTargets));
      for (const v of adapter.variants) if (!v.isReference) say(`  ${v.variant}: ${v.flips.filter((f) => f.to === "pass").length} case(s) fixed, ${v.flips.filter((f) => f.to === "fail").length} broken`);

      const promptEdit = capitals
        ? await step("prompt-edit", `[5/6] prompt edit: '${EDIT.from}' → '${EDIT.to}' in ${EDIT.prompt} on ${reference.id}`, () =>
            promptEditRun(ws, capitals, reference.id, evals, common),
          )
        : undefined;
      const structured = structuredTargets[0]
        ? await step("structured", `[6/6] structured output: ${path.basename(structuredTargets[0].promptFile)} on ${reference.id}, under its schema's grammar and without`, () =>
            structuredRun(ws, structuredTargets[0]!, reference.id, common, root),
          )
        : undefined;
      if (structured) say(`  valid JSON: ${structured.constrained.validJson}/${structured.constrained.cases} under the grammar, ${structured.free.validJson}/${structured.free.cases} without`);

      const data: DemoData = {
        generatedAt: new Date().toISOString(),
        workspace: root,
        modelsGenerated: models.generated,
        generatorVersion: GENERATOR_VERSION,
        backend: evals.runs.find((r) => r.backend)?.backend ?? null,
        threads: evals.runs.find((r) => r.threads)?.threads ?? null,
        variants: variantRuns(evals, variants, all, root),
        quantization,
        adapter,
        ...(promptEdit ? { promptEdit } : {}),
        ...(structured ? { structured } : {}),
        steps,
        totalMs: performance.now() - t0,
      };
      const html = writeDemoReport(outDir, data, evals);
      io.out(`Driftlens demo report: ${html}\nSummary (markdown): ${path.join(outDir, "summary.md")}\n`);
      if (failedRuns.length || evals.errors.length) {
        io.err(`demo: ${failedRuns.length + evals.errors.length} run(s) could not complete; see above\n`);
        return EXIT_USAGE;
      }
      return EXIT_OK;
    } finally {
      await ctx.dispose();
    }
  },
};

/** Writes index.html, summary.md and report.json into `outDir`; returns the HTML report's path. */
function writeDemoReport(outDir: string, data: DemoData, evals: EvalReport): string {
  fs.mkdirSync(outDir, { recursive: true });
  const html = path.join(outDir, "index.html");
  fs.writeFileSync(html, renderDemoHtml(data));
  fs.writeFileSync(path.join(outDir, "summary.md"), renderDemoMarkdown(data));
  // The eval runs without per-token alternatives (the store keeps those): a readable size.
  const runs = evals.runs.map((r) => ({ ...r, cases: r.cases.map(({ tokens: _tokens, ...c }) => c) }));
  fs.writeFileSync(path.join(outDir, "report.json"), JSON.stringify({ ...data, evals: { ...evals, runs } }, null, 2) + "\n");
  return html;
}

function variantRuns(evals: EvalReport, variants: string[], all: { id: string; quant?: string; modelPath: string }[], root: string): DemoVariantRuns[] {
  return variants.map((id) => {
    const base = all.find((v) => v.id === id || id.startsWith(v.id + "+"));
    let fileBytes: number | null = null;
    try {
      if (base) fileBytes = fs.statSync(base.modelPath).size;
    } catch {
      fileBytes = null;
    }
    const runs = evals.runs.filter((r) => r.variant === id || r.variant.replace(/@1$/, "") === id);
    return {
      variant: runs[0]?.variant ?? id,
      quant: base?.quant ?? null,
      fileBytes,
      evalSets: runs.map((r) => ({
        evalSet: path.relative(root, r.evalSetFile),
        prompt: path.relative(root, r.promptFile),
        cases: r.summary.cases,
        passed: r.summary.passed,
        passRate: r.summary.passRate,
        slices: r.slices,
        outputs: Object.fromEntries(r.cases.map((c) => [c.id, { output: c.output, pass: c.pass }])),
        ...(r.error ? { error: r.error } : {}),
      })),
    };
  });
}

async function promptEditRun(
  ws: { read(file: string): string | undefined; setOverlay(file: string, text: string | undefined): void },
  target: EvalTarget,
  variant: string,
  before: EvalReport,
  common: Omit<Parameters<typeof runEvals>[0], "targets" | "variants">,
): Promise<DemoPromptEdit | undefined> {
  const text = ws.read(target.promptFile);
  if (!text || !text.includes(EDIT.from)) return undefined;
  const lineOf = (t: string) => t.split("\n").find((l) => l.includes(EDIT.from) || l.includes(EDIT.to))?.trim() ?? "";
  const edited = text.replace(EDIT.from, EDIT.to);
  ws.setOverlay(target.promptFile, edited);
  let after: EvalReport;
  try {
    after = await runEvals({ ...common, targets: [target], variants: [variant] });
  } finally {
    ws.setOverlay(target.promptFile, undefined);
  }
  const base = before.runs.find((r) => r.variant === variant && r.promptFile === target.promptFile && r.evalSetFile === target.evalSetFile);
  const head = after.runs[0];
  if (!base || !head) return undefined;
  const flips: DemoPromptEdit["flips"] = [];
  for (const c of head.cases) {
    const b = base.cases.find((x) => x.id === c.id);
    if (b && b.pass !== c.pass) flips.push({ id: c.id, from: b.pass ? "pass" : "fail", to: c.pass ? "pass" : "fail", before: b.output, after: c.output });
  }
  return {
    prompt: path.basename(target.promptFile),
    variant,
    before: lineOf(text),
    after: lineOf(edited),
    basePassRate: base.summary.passRate,
    editedPassRate: head.summary.passRate,
    flips,
  };
}

/** The JSON prompt on one variant, under its grammar and (in memory) with `driftlens.constrain: false`. */
async function structuredRun(
  ws: { read(file: string): string | undefined; setOverlay(file: string, text: string | undefined): void },
  target: EvalTarget,
  variant: string,
  common: Omit<Parameters<typeof runEvals>[0], "targets" | "variants">,
  root: string,
): Promise<DemoStructured | undefined> {
  const text = ws.read(target.promptFile);
  if (!text) return undefined;
  const summarize = (r: EvalReport): DemoStructured["constrained"] | undefined => {
    const run = r.runs[0];
    if (!run || run.status !== "complete") return undefined;
    return {
      cases: run.summary.cases,
      validJson: run.cases.filter((c) => c.assertions.some((a) => a.type === STRUCTURED_CHECK_TYPE && a.pass)).length,
      passed: run.summary.passed,
      passRate: run.summary.passRate,
      examples: run.cases.slice(0, 3).map((c) => ({ id: c.id, output: c.output, pass: c.pass })),
    };
  };
  const constrained = summarize(await runEvals({ ...common, targets: [target], variants: [variant] }));
  // The opt-out, in memory: the same prompt generated as free text.
  ws.setOverlay(target.promptFile, text.replace(/^---\r?\n/, "---\ndriftlens.constrain: false\n"));
  let free: DemoStructured["free"] | undefined;
  try {
    free = summarize(await runEvals({ ...common, targets: [target], variants: [variant] }));
  } finally {
    ws.setOverlay(target.promptFile, undefined);
  }
  if (!constrained || !free) return undefined;
  return { prompt: path.basename(target.promptFile), evalSet: path.relative(root, target.evalSetFile), variant, constrained, free };
}

// `driftlens kld`: corpus KL divergence of variants from a reference with llama-perplexity's method
// and statistics, without its logits file (eval/corpus-kld.ts). Exit 0; 1 when driftlens.yaml sets
// gate.maxKld and a variant's mean KLD exceeds it; 2 on usage, config or model errors.
import fs from "node:fs";
import path from "node:path";
import { Workspace } from "../artifacts";
import { CorpusTextError, readCorpusText } from "../artifacts/corpus";
import { corpusKld, CorpusKldError, type CorpusKldReport, type TopKCandidate } from "../eval/corpus-kld";
import { kldJson, kldMarkdown, kldText } from "../eval/report/kld-report";
import { EngineClient, EngineError } from "../llm/client";
import { RoutingEngine } from "../llm/remote/router";
import { KldUnavailableError } from "../llm/remote/score";
import type { EngineSettings, ModelSpec } from "../llm/types";
import { CliError, emitReport, EXIT_FAIL, EXIT_OK, parseArgs, type CliIO, type Command } from "./common";

const USAGE = `Usage: driftlens kld --reference V --variant V [--variant V ...] --text FILE [options]

KL divergence of each variant from the reference over a text, as llama.cpp's
\`llama-perplexity --kl-divergence\` computes it, without writing its logits file: the text is
tokenized once, cut into chunks of --ctx tokens (BOS first), and the second half of every chunk is
scored over the whole vocabulary. Prints llama-perplexity's statistics: PPL(Q), PPL(ref), their
ratio and ln ratio ±, correlation; mean KLD ± and its percentiles; Δp ± and its percentiles,
RMS Δp ±, same top p ±.

Options:
  --reference V    the reference: a local variant (tiny/f32) or a .gguf file
  --variant V      a variant to measure (repeatable): a variant or a .gguf file. A served variant
                   (endpoints: in driftlens.yaml) is scored from the server's log-probabilities:
                   llama-server's n_probs (the whole vocabulary up to 1024 tokens, else the top
                   160) or vLLM's prompt_logprobs (top 20); top-K only is a lower bound, and the
                   report says which
  --text FILE      the text (UTF-8; one trailing newline is dropped, as llama-perplexity -f does)
  --ctx N          tokens per chunk (default 512, llama-perplexity's default)
  --chunks N       at most N chunks (default: every whole chunk of the text)
  --threads N      llama.cpp threads (default: engine.threads in driftlens.yaml)
  --storage S      exact (default) | llama16: keep the reference's log-probabilities as 16-bit
                   values like llama-perplexity's logits file, to reproduce its figures exactly
  --format F       text (default) | json | markdown
  --out FILE       write the report there (stdout gets the text)
  --root DIR       workspace root (default: the current folder)

Exit status: 0 done; 1 a variant's mean KLD exceeds gate.maxKld (driftlens.yaml); 2 usage, config
or model errors.
`;

const FLAGS = {
  reference: { type: "string" },
  variant: { type: "string", multiple: true },
  text: { type: "string" },
  ctx: { type: "number" },
  chunks: { type: "number" },
  threads: { type: "number" },
  storage: { type: "string", choices: ["exact", "llama16"] },
  format: { type: "string", choices: ["text", "json", "markdown"] },
  out: { type: "string" },
  root: { type: "string" },
} as const;

/** A variant ref from driftlens.yaml, or a GGUF file named directly. */
export function resolveModel(ws: Workspace, root: string, ref: string, flag: string): ModelSpec {
  if (/\.gguf$/i.test(ref)) {
    const file = path.resolve(root, ref);
    if (!fs.existsSync(file)) throw new CliError(`${flag} ${ref}: no such file`);
    return { variant: ref, modelPath: file, adapters: [] };
  }
  try {
    const v = ws.resolveVariant(ref);
    return { variant: v.id, modelPath: v.modelPath, adapters: v.adapters.map((a) => ({ path: a.path, scale: a.scale })), ...(v.remote ? { remote: v.remote } : {}) };
  } catch (e) {
    throw new CliError(`${flag} ${ref}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function intFlag(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new CliError(`--${name} must be an integer from ${min} to ${max}, not ${String(v)}`);
  return v;
}

export const kldCommand: Command = {
  summary: "corpus KL divergence of variants from a reference (llama-perplexity's statistics, no logits file)",
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseArgs(argv, FLAGS);
    if (args.help) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (args.positionals.length) throw new CliError(`unexpected argument '${args.positionals[0]}'; see driftlens kld --help`);
    const root = path.resolve(io.cwd, (args.flags.root as string | undefined) ?? ".");
    const refArg = args.flags.reference as string | undefined;
    const variantArgs = (args.flags.variant as string[] | undefined) ?? [];
    const textArg = args.flags.text as string | undefined;
    if (!refArg) throw new CliError("--reference V is required (a variant such as tiny/f32, or a .gguf file)");
    if (variantArgs.length === 0) throw new CliError("give at least one --variant V to compare with the reference");
    if (!textArg) throw new CliError("--text FILE is required (the text to score)");
    const ctxN = intFlag(args.flags.ctx, "ctx", 4, 1 << 20) ?? 512;
    const chunks = intFlag(args.flags.chunks, "chunks", 1, 1 << 30);
    const threads = intFlag(args.flags.threads, "threads", 1, 1024);
    const format = (args.flags.format as string | undefined) ?? "text";

    const ws = new Workspace(root);
    const cfgDoc = ws.config();
    const cfgError = cfgDoc.diagnostics.find((d) => d.severity === "error");
    if (cfgError) throw new CliError(`${path.relative(root, cfgError.file) || cfgError.file}:${cfgError.range.start.line + 1}: ${cfgError.message}`);
    const config = cfgDoc.config;
    const reference = resolveModel(ws, root, refArg, "--reference");
    if (reference.remote) throw new CliError(`--reference ${refArg} is a served variant: the reference's whole distribution is needed at every position, which a server does not return; use a local GGUF variant as the reference (served variants can be --variant)`);
    const models = variantArgs.map((v) => resolveModel(ws, root, v, "--variant"));
    let text: string;
    try {
      text = readCorpusText(path.resolve(io.cwd, textArg), `--text ${textArg}`);
    } catch (e) {
      if (e instanceof CorpusTextError) throw new CliError(e.message);
      throw e;
    }

    const settings: EngineSettings = { ...config.engine, ...(threads !== undefined ? { threads } : {}) };
    const debug = process.env.DRIFTLENS_DEBUG ? (l: string) => io.err(`${l}\n`) : undefined;
    const engine = new RoutingEngine(() => EngineClient.start(settings, { flatMemory: true, log: debug }), debug ? { log: debug } : {});
    let report: CorpusKldReport;
    try {
      const served = await Promise.all(models.filter((m) => m.remote).map((m) => servedCandidate(engine, m)));
      report = await corpusKld({
        engine,
        reference,
        variants: models.filter((m) => !m.remote),
        topK: served,
        text,
        ctx: ctxN,
        ...(chunks !== undefined ? { chunks } : {}),
        storage: (args.flags.storage as "exact" | "llama16" | undefined) ?? "exact",
        onChunk: (done, total) => {
          if (io.isTTY) io.err(`\rkld: chunk ${done}/${total}${done === total ? "\n" : ""}`);
        },
      });
    } catch (e) {
      if (e instanceof CorpusKldError || e instanceof EngineError || e instanceof KldUnavailableError) throw new CliError(e.message);
      throw e;
    } finally {
      await engine.dispose();
    }
    // Served variants were scored after the local ones; the report keeps the command line's order.
    const order = models.map((m) => m.variant);
    report.variants.sort((a, b) => order.indexOf(a.variant) - order.indexOf(b.variant));
    const rendered = format === "json" ? kldJson(report) : format === "markdown" ? kldMarkdown(report) : kldText(report);
    emitReport(io, args.flags.out as string | undefined, rendered, kldText(report));
    const maxKld = config.gate.maxKld;
    if (maxKld !== undefined) {
      const over = report.variants.filter((v) => v.kld.mean > maxKld);
      for (const v of over) io.err(`driftlens kld: ${v.variant}: mean KLD ${v.kld.mean.toPrecision(3)} exceeds gate.maxKld ${maxKld}\n`);
      // A top-K figure is a lower bound: under the limit, it does not show the variant is.
      for (const v of report.variants) {
        if (v.method === "top-K" && v.kld.mean <= maxKld && (v.topK ?? 0) < report.vocab) {
          io.err(`driftlens kld: ${v.variant}: mean KLD ${v.kld.mean.toPrecision(3)} is within gate.maxKld ${maxKld}, but from the top ${v.topK} of ${report.vocab} tokens only, a lower bound: the full value may exceed it (use a local GGUF of this model for a full-vocabulary figure)\n`);
        }
      }
      if (over.length) return EXIT_FAIL;
    }
    return EXIT_OK;
  },
};

/** A served variant as a top-K candidate: what its server lists per position, chunk by chunk. */
async function servedCandidate(engine: RoutingEngine, model: ModelSpec): Promise<TopKCandidate> {
  const src = await engine.corpusSource(model);
  return {
    variant: model.variant,
    topK: src.topK,
    source: src.source,
    ...(src.nVocab !== undefined ? { nVocab: src.nVocab } : {}),
    positions: async (_chunk, tokens, from, signal) => (await engine.scoreCorpus(model, tokens, from, signal)).positions,
  };
}

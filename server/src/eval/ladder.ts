// The quant ladder: which is the smallest variant of a family that keeps the user's evals and
// corpus within bounds? The family's variants (adapters aside) ordered by file size, each with its
// compare gate verdict on the evals, its corpus KL divergence from the reference (corpus-kld.ts,
// when driftlens.yaml gives the family a `corpus:`), and the recommendation: the smallest variant
// that passes the gate and whose mean KLD stays within gate.maxKld (the corpus's KLD when there is
// a corpus, else the eval outputs'). Corpus figures are kept in the store, keyed by the content of
// both model files, the text and the chunking, so reopening a ladder evaluates nothing again.
import type { DriftlensConfig } from "../artifacts/config";
import { corpusProblem, readCorpusText } from "../artifacts/corpus";
import { fingerprintFile } from "../artifacts/fingerprint";
import type { ModelSpec } from "../llm/types";
import { sha256, type Store } from "../store/store";
import { corpusKld, type CorpusEngine, type CorpusVariantStats } from "./corpus-kld";
import { currentEngineVersion } from "./engine-version";
import type { CompareReport, CompareVariant, Ladder, LadderRung } from "./report/types";

export interface LadderCorpusInput {
  /** Absolute path of the text. */
  path: string;
  /** As written in driftlens.yaml. */
  declared: string;
  text: string;
  ctx?: number;
  chunks?: number;
}

export interface LadderOptions {
  report: CompareReport;
  family: string;
  /** Model specs by variant id (the reference's included). */
  specs: Map<string, ModelSpec>;
  corpus?: LadderCorpusInput;
  maxKld?: number;
  engine: () => Promise<CorpusEngine>;
  store: Store;
  noCache?: boolean;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/**
 * What a ladder of `family` needs from driftlens.yaml: its corpus text (read, bounded) and
 * gate.maxKld. Throws an Error naming driftlens.yaml when the corpus cannot be used.
 */
export function ladderRequest(cfg: DriftlensConfig, family: string): { family: string; corpus?: LadderCorpusInput; maxKld?: number } {
  const c = cfg.models[family]?.corpus;
  let corpus: LadderCorpusInput | undefined;
  if (c) {
    const problem = corpusProblem(c);
    if (problem) throw new Error(`driftlens.yaml: family '${family}': ${problem}`);
    corpus = { path: c.path, declared: c.declared, text: readCorpusText(c.path, `driftlens.yaml: corpus of '${family}' (${c.declared})`), ...(c.ctx !== undefined ? { ctx: c.ctx } : {}), ...(c.chunks !== undefined ? { chunks: c.chunks } : {}) };
  }
  return { family, ...(corpus ? { corpus } : {}), ...(cfg.gate.maxKld !== undefined ? { maxKld: cfg.gate.maxKld } : {}) };
}

/**
 * The ladder a comparison of `variantIds` can show: when at least two base variants (no adapters)
 * of exactly one family are compared. A corpus that cannot be read leaves the ladder without
 * corpus figures and says why in `problem` (driftlens.yaml's diagnostics say it too).
 */
export function ladderForVariants(cfg: DriftlensConfig, variantIds: readonly string[]): { request?: ReturnType<typeof ladderRequest>; problem?: string } {
  const base = variantIds.filter((v) => !v.includes("+"));
  const families = [...new Set(base.map((v) => v.split("/")[0]!))];
  if (families.length !== 1 || base.length < 2 || !cfg.models[families[0]!]) return {};
  const family = families[0]!;
  try {
    return { request: ladderRequest(cfg, family) };
  } catch (e) {
    return { request: { family, ...(cfg.gate.maxKld !== undefined ? { maxKld: cfg.gate.maxKld } : {}) }, problem: e instanceof Error ? e.message : String(e) };
  }
}

type CorpusFigures = Pick<CorpusVariantStats, "kld" | "sameTop" | "ppl" | "tokens"> & { chunks: number; ctx: number };

function short(v: CorpusFigures): NonNullable<LadderRung["corpusKld"]> {
  return { mean: v.kld.mean, stderr: v.kld.stderr, p99: v.kld.p99, sameTop: v.sameTop.rate, pplRatio: v.ppl.ratio };
}

/** Corpus KLD of each candidate (from the store when known), computed in one pass for the missing ones. */
async function corpusFigures(o: LadderOptions, reference: ModelSpec, candidates: ModelSpec[]): Promise<Map<string, CorpusFigures>> {
  const corpus = o.corpus!;
  const out = new Map<string, CorpusFigures>();
  const textHash = sha256(corpus.text);
  const refFp = await fingerprintFile(reference.modelPath);
  const keyFor = async (c: ModelSpec) =>
    `corpus-kld/1:${sha256(JSON.stringify([refFp, reference.adapters, await fingerprintFile(c.modelPath), c.adapters, textHash, corpus.ctx ?? 512, corpus.chunks ?? null, currentEngineVersion()]))}`;
  const missing: { spec: ModelSpec; key: string }[] = [];
  for (const c of candidates) {
    const key = await keyFor(c);
    const hit = o.noCache ? undefined : o.store.getMemo<CorpusFigures>(key);
    if (hit && hit.kld && typeof hit.kld.mean === "number") out.set(c.variant, hit);
    else missing.push({ spec: c, key });
  }
  if (missing.length) {
    o.log?.(`corpus KLD of ${missing.map((m) => m.spec.variant).join(", ")} on ${corpus.declared}`);
    const r = await corpusKld({
      engine: await o.engine(),
      reference,
      variants: missing.map((m) => m.spec),
      text: corpus.text,
      ...(corpus.ctx !== undefined ? { ctx: corpus.ctx } : {}),
      ...(corpus.chunks !== undefined ? { chunks: corpus.chunks } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const memos: [string, unknown][] = [];
    r.variants.forEach((v, i) => {
      const f: CorpusFigures = { kld: v.kld, sameTop: v.sameTop, ppl: v.ppl, tokens: v.tokens, chunks: r.chunks, ctx: r.ctx };
      out.set(v.variant, f);
      memos.push([missing[i]!.key, f]);
    });
    o.store.putMemos(memos);
  }
  return out;
}

const fmtKld = (x: number) => (x === 0 ? "0" : Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toPrecision(3));

export async function buildLadder(o: LadderOptions): Promise<Ladder> {
  const inFamily = o.report.variants.filter((v) => v.variant.startsWith(`${o.family}/`) && !v.variant.includes("+"));
  const ref = inFamily.find((v) => v.isReference) ?? o.report.variants.find((v) => v.isReference);
  if (!ref) throw new Error(`the comparison has no reference variant of family '${o.family}'`);
  const refSpec = o.specs.get(ref.variant);
  if (!refSpec) throw new Error(`no model for the reference ${ref.variant}`);
  const others = inFamily.filter((v) => v !== ref);
  let corpus: Map<string, CorpusFigures> | undefined;
  if (o.corpus && others.length) {
    corpus = await corpusFigures(
      o,
      refSpec,
      others.map((v) => o.specs.get(v.variant)!).filter((s): s is ModelSpec => !!s),
    );
  }
  const kldSource: Ladder["kldSource"] = o.corpus ? "corpus" : "evals";
  const maxKld = o.maxKld ?? null;
  const kldOf = (v: CompareVariant) => (v === ref ? 0 : kldSource === "corpus" ? (corpus?.get(v.variant)?.kld.mean ?? NaN) : v.kld.mean);
  const rungs: LadderRung[] = [ref, ...others].map((v) => {
    const c = v === ref ? null : corpus?.get(v.variant);
    const k = kldOf(v);
    return {
      variant: v.variant,
      quant: v.quant,
      fileBytes: v.fileBytes,
      isReference: v === ref,
      passRate: v.passRate,
      delta: v === ref ? 0 : v.delta,
      gatePassed: v.gate.passed,
      gateReasons: v.gate.reasons,
      evalKld: v.kld.mean,
      corpusKld: v === ref && o.corpus ? { mean: 0, stderr: 0, p99: 0, sameTop: 1, pplRatio: 1 } : c ? short(c) : null,
      withinMaxKld: maxKld === null || k <= maxKld,
      recommended: false,
      verdict: "",
    };
  });
  rungs.sort((a, b) => (a.fileBytes ?? Infinity) - (b.fileBytes ?? Infinity) || (a.variant < b.variant ? -1 : 1));
  const best = rungs.find((r) => r.gatePassed && r.withinMaxKld);
  if (best) best.recommended = true;
  for (const r of rungs) {
    const k = r.isReference ? 0 : kldSource === "corpus" ? r.corpusKld?.mean : r.evalKld;
    if (r.recommended) r.verdict = r.isReference ? "recommended: no smaller variant passes" : "recommended: the smallest variant within the gate" + (maxKld !== null ? ` and maxKld ${maxKld}` : "");
    else if (!r.gatePassed) r.verdict = `fails the gate: ${r.gateReasons[0] ?? "see compare"}`;
    else if (!r.withinMaxKld) r.verdict = `mean ${kldSource} KLD ${fmtKld(k ?? NaN)} exceeds maxKld ${maxKld}`;
    else r.verdict = `passes; ${best?.variant ?? "a smaller variant"} is smaller`;
  }
  const first = o.corpus && corpus ? [...corpus.values()][0] : undefined;
  return {
    family: o.family,
    reference: ref.variant,
    maxKld,
    kldSource,
    corpus: o.corpus ? { text: o.corpus.declared, ctx: first?.ctx ?? o.corpus.ctx ?? 512, chunks: first?.chunks ?? 0, tokens: first?.tokens ?? 0 } : null,
    rungs,
    recommended: best?.variant ?? null,
    summary: best
      ? best.isReference
        ? `No variant smaller than the reference ${best.variant} passes; keep the reference.`
        : `${best.variant} is the smallest variant that passes the gate${maxKld !== null ? ` and keeps the mean ${kldSource} KLD within ${maxKld}` : ""}.`
      : "No variant passes the gate and maxKld.",
  };
}

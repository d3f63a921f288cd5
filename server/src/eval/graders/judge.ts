// The runner's side of model-graded assertions: which variant judges (an assertion's `grader:`,
// else the eval set's, else driftlens.yaml's; `--grader` overrides them all), and asking it. A
// verdict is a generation like any other: greedy, under the verdict grammar, through the same
// engine interface as the outputs under test (so a remote grader goes wherever remote variants
// go), and cached in the store's generation cache under a key that covers the judge's model file,
// adapters, the full judge prompt (rubric and output included) and the grammar. Changing the
// grader or the rubric therefore invalidates exactly the verdicts that depend on it. A served
// grader (a variant with endpoints) judges on its endpoints, constrained as its server allows
// (llm/remote/structured.ts), and is keyed by its served fingerprint (what the endpoints report,
// the model name and the variant's `revision`), so a new revision re-judges exactly its verdicts.
import fs from "node:fs";
import { sha256Text } from "../../artifacts/hash";
import { JSON_GRAMMAR_VERSION } from "../../artifacts/json-grammar";
import { identifyRemote } from "../../llm/remote/probe";
import { servedStructuredKey, structuredMode } from "../../llm/remote/structured";
import type { GenerateRequest, GenerateResult, SamplingParams } from "../../llm/types";
import type { Store } from "../../store/store";
import type { RunnerEngine, RunnerVariant } from "../runner";
import { GraderConfigError, type Judge, type JudgeAnswer, type JudgeRequest } from "./grade";
import { isModelGraded } from "./prompts";

/** What the judge needs from the runner. */
export interface JudgeOptions {
  resolveVariant(ref: string): RunnerVariant | Promise<RunnerVariant>;
  store: Store;
  getEngine(): Promise<RunnerEngine>;
  engineVersion: string;
  /** The generation cache key function (runner.generationKey), so verdicts share the cache's rules. */
  generationKey(input: { messages: GenerateRequest["messages"]; modelFingerprint: string; adapters: { fingerprint: string; scale: number }[]; params: SamplingParams; engineVersion: string; topLogprobs: number; structured?: string }): string;
  /** `--grader`: judges every model-graded assertion of the run. */
  override?: string;
  /** The eval set's `grader`, then driftlens.yaml's (first set wins). */
  defaults: (string | undefined)[];
  noCache?: boolean;
  signal?: AbortSignal;
  /** Checks a variant's files before the engine loads them (runner.precheckVariant). */
  precheck?(v: RunnerVariant): string | undefined;
}

interface ResolvedJudge {
  variant: RunnerVariant;
  modelFingerprint: string;
  adapters: { fingerprint: string; scale: number }[];
  /** A served grader: its endpoints judge. */
  served: boolean;
  /** Why a served grader's verdicts are not constrained (its server cannot be asked to). */
  unconstrained?: string;
}

/** Which grader an assertion gets (override > assertion > eval set > driftlens.yaml). */
export function graderRefFor(assertionGrader: unknown, opts: Pick<JudgeOptions, "override" | "defaults">): string | undefined {
  if (opts.override) return opts.override;
  if (typeof assertionGrader === "string" && assertionGrader.trim()) return assertionGrader.trim();
  return opts.defaults.find((d): d is string => typeof d === "string" && d.trim().length > 0)?.trim();
}

const NO_GRADER = "needs a grader and none is set: add `grader: family/variant` (a variant from driftlens.yaml) to the assertion, to the eval set or to driftlens.yaml, or pass --grader";

export function createJudge(opts: JudgeOptions): Judge {
  const resolved = new Map<string, Promise<ResolvedJudge>>();
  const inflight = new Map<string, Promise<string>>();
  const resolve = (ref: string): Promise<ResolvedJudge> => {
    let p = resolved.get(ref);
    if (!p) {
      p = (async () => {
        let variant: RunnerVariant;
        try {
          variant = await opts.resolveVariant(ref);
        } catch (e) {
          throw new GraderConfigError(`grader ${ref}: ${(e as Error).message}`);
        }
        if (variant.remote) {
          // Probed afresh, as a served variant under test is: a changed server is noticed.
          try {
            const id = await identifyRemote(variant.id, variant.remote, { fresh: true, ...(opts.signal ? { signal: opts.signal } : {}) });
            const kind = id.live[0]!.kind;
            const unconstrained = structuredMode(kind, id.template) === "none" ? `its server (${kind}, plain-text completions) cannot constrain the verdict to JSON; serve the judge with a chat template or set 'template: chat' on it` : undefined;
            return { variant, modelFingerprint: id.fingerprint, adapters: [], served: true, ...(unconstrained ? { unconstrained } : {}) };
          } catch (e) {
            throw new Error(`grader ${ref}: ${(e as Error).message}`);
          }
        }
        const problem = opts.precheck?.(variant);
        if (problem) throw new GraderConfigError(`grader ${problem}`);
        if (!fs.existsSync(variant.modelPath)) throw new GraderConfigError(`grader ${ref}: model file ${variant.modelPath} does not exist`);
        const modelFingerprint = await opts.store.fingerprintFile(variant.modelPath);
        const adapters = [];
        for (const a of variant.adapters) adapters.push({ fingerprint: await opts.store.fingerprintFile(a.path), scale: a.scale });
        return { variant, modelFingerprint, adapters, served: false };
      })();
      resolved.set(ref, p);
      // A served grader that did not answer may answer the next case; a configuration error stays.
      p.catch((e: unknown) => {
        if (!(e instanceof GraderConfigError)) resolved.delete(ref);
      });
    }
    return p;
  };

  return async (req: JudgeRequest): Promise<JudgeAnswer> => {
    const ref = graderRefFor(req.grader, opts);
    if (!ref) throw new GraderConfigError(`'${req.purpose}' ${NO_GRADER}`);
    const j = await resolve(ref);
    const params: SamplingParams = { temperature: 0, maxTokens: req.shape.maxBytes + 4, stop: [], seed: 0 };
    const structured = { grammar: req.shape.grammar, schema: req.shape.schema };
    const grammarKey = sha256Text(`${JSON_GRAMMAR_VERSION}\u0000${structured.grammar}`);
    const key = opts.generationKey({
      messages: req.messages,
      modelFingerprint: j.modelFingerprint,
      adapters: j.adapters,
      params,
      engineVersion: opts.engineVersion,
      topLogprobs: 0,
      structured: j.served ? servedStructuredKey(grammarKey, structured.schema) : grammarKey,
    });
    let p = inflight.get(key);
    if (!p) {
      p = (async () => {
        const hit = opts.noCache ? undefined : opts.store.getGeneration(key);
        if (hit) return hit.text;
        const engine = await opts.getEngine();
        let result: GenerateResult | undefined;
        let failure: string | undefined;
        const request: GenerateRequest = {
          id: `grader:${key.slice(0, 16)}`,
          model: { variant: j.variant.id, modelPath: j.variant.modelPath, adapters: j.variant.adapters.map((a) => ({ path: a.path, scale: a.scale })), ...(j.variant.remote ? { remote: j.variant.remote } : {}) },
          messages: req.messages,
          params,
          topLogprobs: 0,
          structured,
        };
        await engine.generateMany(
          [request],
          (r) => {
            if ("failure" in r) failure = r.failure.message;
            else result = r;
          },
          opts.signal,
        );
        if (!result) throw new Error(`grader ${ref} gave no verdict: ${failure ?? "the request was cancelled"}`);
        if (result.stopReason === "cancelled") throw new Error(`grader ${ref}: cancelled`);
        opts.store.putGeneration({
          key,
          text: result.text,
          tokens: result.tokens,
          promptTokens: result.promptTokens,
          template: result.template,
          stopReason: result.stopReason,
          timeToFirstTokenMs: result.timeToFirstTokenMs,
          wallMs: result.wallMs,
          tokensPerSecond: result.tokensPerSecond,
          backend: null,
          threads: null,
          engineVersion: opts.engineVersion,
        });
        return result.text;
      })();
      inflight.set(key, p);
      // A failure is not remembered: the next case may try again (e.g. after an engine restart).
      p.catch(() => inflight.delete(key));
    }
    return { text: await p, grader: ref, ...(j.unconstrained ? { unconstrained: j.unconstrained } : {}) };
  };
}

/**
 * The graders a target's model-graded assertions will use, with their files' fingerprints: part of
 * the run fingerprint, so a run judged by another grader (or the same grader's new model file) is
 * a new run. Empty when the eval set has no model-graded assertion.
 */
export async function graderIdentity(
  assertions: readonly { type: string; grader?: unknown }[],
  opts: Pick<JudgeOptions, "override" | "defaults" | "resolveVariant" | "store">,
): Promise<unknown[]> {
  const refs = new Set<string>();
  for (const a of assertions) {
    const base = a.type.startsWith("not-") ? a.type.slice(4) : a.type;
    if (!isModelGraded(base)) continue;
    refs.add(graderRefFor(a.grader, opts) ?? "(none)");
  }
  const out: unknown[] = [];
  for (const ref of [...refs].sort()) {
    try {
      const v = await opts.resolveVariant(ref);
      if (v.remote) {
        // A served grader: what its endpoints serve, its model name and revision.
        const fp = await identifyRemote(v.id, v.remote).then(
          (id) => id.fingerprint,
          (e: unknown) => `unreachable: ${(e as Error).message}`,
        );
        out.push([ref, "served", fp]);
        continue;
      }
      const files = [v.modelPath, ...v.adapters.map((a) => a.path)];
      out.push([ref, ...(await Promise.all(files.map((f) => (fs.existsSync(f) ? opts.store.fingerprintFile(f) : `missing ${f}`)))), v.adapters.map((a) => a.scale)]);
    } catch (e) {
      out.push([ref, `unresolved: ${(e as Error).message}`]);
    }
  }
  return out;
}

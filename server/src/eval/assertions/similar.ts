// similar, similar:cosine, similar:dot, similar:euclidean (promptfoo's src/assertions/similar.ts
// and matchesSimilarity): embeddings from the run's embedding model; the same metrics, the same
// threshold tolerance (Number.EPSILON), scores and list semantics (the best value of a list must
// reach the threshold; for not-similar, every value must stay below it).
import type { AssertionType } from "../../artifacts/assertions";
import { AssertionRuntimeError, type Handler, type HandlerInput, type Verdict } from "./types";

type Metric = "cosine" | "dot" | "euclidean";

const NO_MODEL =
  "'similar' needs an embedding model and none is configured: add `embedding: {model: <GGUF path relative to driftlens.yaml, or family/variant>}` to driftlens.yaml (see docs/assertions.md), or use levenshtein, icontains-any or a javascript assertion instead";

function metricOf(type: AssertionType): Metric {
  return type === "similar:dot" ? "dot" : type === "similar:euclidean" ? "euclidean" : "cosine";
}

function measure(a: number[], b: number[], metric: Metric): number {
  if (a.length !== b.length) throw new AssertionRuntimeError(`the embedding model returned vectors of different lengths (${a.length} and ${b.length})`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  let sq = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
    const d = a[i]! - b[i]!;
    sq += d * d;
  }
  if (metric === "dot") return dot;
  if (metric === "euclidean") return Math.sqrt(sq);
  const ma = Math.sqrt(na);
  const mb = Math.sqrt(nb);
  return ma === 0 || mb === 0 ? 0 : dot / (ma * mb);
}

/** One comparison, as promptfoo's buildSimilarityResult judges it. */
function judge(m: number, threshold: number, inverse: boolean, metric: Metric): Verdict {
  if (metric === "euclidean") {
    const pass = inverse ? m >= threshold - Number.EPSILON : m <= threshold + Number.EPSILON;
    const norm = 1 / (1 + m);
    return { pass, score: inverse ? 1 - norm : norm, message: `distance ${m.toFixed(3)} vs threshold ${threshold}` };
  }
  const pass = inverse ? m <= threshold + Number.EPSILON : m >= threshold - Number.EPSILON;
  return { pass, score: inverse ? 1 - m : m, message: `${metric === "dot" ? "dot product" : "cosine similarity"} ${m.toFixed(3)} vs threshold ${threshold}` };
}

async function similar(input: HandlerInput, embed: ((texts: string[]) => Promise<number[][]>) | undefined): Promise<Verdict> {
  if (!embed) throw new AssertionRuntimeError(NO_MODEL);
  const metric = metricOf(input.type);
  const threshold = input.assertion.threshold ?? 0.75;
  const values = Array.isArray(input.value) ? (input.value as string[]) : [String(input.value)];
  const vecs = await embed([input.output, ...values]);
  if (vecs.length !== values.length + 1) throw new AssertionRuntimeError("the embedding model returned no vectors");
  const out = vecs[0]!;
  const results = values.map((_, i) => judge(measure(vecs[i + 1]!, out, metric), threshold, input.inverse, metric));
  if (!Array.isArray(input.value)) return results[0]!;
  if (input.inverse) {
    // Every value must stay dissimilar: the first that does not decides; else the closest one.
    const failing = results.find((r) => !r.pass);
    if (failing) return failing;
    return results.reduce((best, r) => (r.score < best.score ? r : best));
  }
  const passing = results.find((r) => r.pass);
  if (passing) return passing;
  return { pass: false, score: Math.max(...results.map((r) => r.score)), message: `none of the values reached the threshold ${threshold}: ${results.map((r) => r.message).join("; ")}` };
}

const handler: Handler = { kind: "context", evaluate: (input, ctx) => similar(input, ctx.embed) };

export const similarHandlers = {
  similar: handler,
  "similar:cosine": handler,
  "similar:dot": handler,
  "similar:euclidean": handler,
} satisfies Record<string, Handler>;

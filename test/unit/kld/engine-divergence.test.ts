// Full-vocabulary divergence through the real engine worker and llama.cpp, on the generated
// quickstart family (F32, F16, Q8_0, Q4_0 written by our GGUF writer): the lockstep path against
// the teacher-forcing path that asks for every token's probability, corpus statistics ordered as
// the encodings' precision, and the failures a user can cause (different vocabularies, short text).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { corpusKld, CorpusKldError, type TopKCandidate } from "../../../server/src/eval/corpus-kld";
import { kldText } from "../../../server/src/eval/report/kld-report";
import { EngineClient, EngineError } from "../../../server/src/llm/client";
import type { EngineSettings, ModelSpec } from "../../../server/src/llm/types";
import { ensureQuickstartModels } from "../../../server/src/modelgen/quickstart";
import { REPO_ROOT, SHARED, tempDir } from "../../helpers/paths";

const settings: EngineSettings = { gpu: "cpu", threads: 1, contextSize: 256, parallelSequences: 1, memoryBudgetBytes: 4 * 1024 ** 3 };
const CORPUS = fs.readFileSync(path.join(REPO_ROOT, "examples", "quickstart", "corpus.txt"), "utf8");

describe("full-vocabulary divergence in the engine", () => {
  let client: EngineClient;
  let m: ReturnType<typeof ensureQuickstartModels>;
  const spec = (v: "f32" | "f16" | "q8_0" | "q4_0"): ModelSpec => ({ variant: `tiny/${v}`, modelPath: m[v], adapters: [] });
  before(async () => {
    m = ensureQuickstartModels(path.join(tempDir("driftlens-kld-engine-"), "models"));
    client = await EngineClient.start(settings);
  });
  after(async () => {
    await client.dispose();
  });

  test("equals KL computed from every token's probability through teacher forcing (two engine paths)", async () => {
    const messages = [{ role: "user" as const, text: "What is the capital of Iceland?" }];
    const gen = await client.generate({ id: "g", model: spec("f32"), messages, params: { temperature: 0, maxTokens: 4, stop: [], seed: 0 }, topLogprobs: 0 });
    const forced = gen.tokens.map((t) => t.token);
    assert.ok(forced.length >= 1, `no output: ${JSON.stringify(gen)}`);
    const r = await client.divergence({ id: "iceland", reference: spec("f32"), candidates: [spec("q4_0"), spec("f32")], sequences: [{ messages, forced }], contextSize: 256, storage: "exact" });
    const d = r.sequences[0]!;
    assert.equal(d.positions, forced.length);
    const V = r.vocab;
    assert.ok(V > 259, `vocabulary ${V}`);
    const all = Array.from({ length: V }, (_, i) => i);
    const probe = forced.map(() => all);
    const ref = await client.score({ id: "r", model: spec("f32"), messages, tokens: forced, topK: 1, probe });
    const cand = await client.score({ id: "c", model: spec("q4_0"), messages, tokens: forced, topK: 1, probe });
    for (let i = 0; i < forced.length; i++) {
      const p = ref.positions[i]!.probe!;
      const q = cand.positions[i]!.probe!;
      let kl = 0;
      for (let t = 0; t < V; t++) if (p[t]! > 0) kl += p[t]! * Math.log(p[t]! / q[t]!);
      // The score path normalises in float32 inside llama-addon; the divergence path in float64.
      assert.ok(Math.abs(d.candidates[0]!.kld[i]! - kl) <= 1e-5 * Math.max(1, kl), `position ${i}: ${d.candidates[0]!.kld[i]} vs ${kl}`);
      assert.ok(Math.abs(d.candidates[0]!.dp[i]! - (cand.positions[i]!.forcedProb - ref.positions[i]!.forcedProb)) < 1e-5);
      assert.ok(Math.abs(d.nllBase[i]! + Math.log(ref.positions[i]!.forcedProb)) < 1e-5);
      // The reference against a second copy of itself: identical logits, nothing at all.
      assert.equal(d.candidates[1]!.kld[i], 0);
      assert.equal(d.candidates[1]!.dp[i], 0);
      assert.equal(d.candidates[1]!.sameTop[i], true);
    }
    // Iceland is where Q4_0 flips (Reykjavik → Oslo): its first position diverges clearly.
    assert.ok(d.candidates[0]!.kld[0]! > 1e-3, `Q4_0 at Iceland: ${d.candidates[0]!.kld[0]}`);
    assert.equal(d.candidates[0]!.sameTop[0], false);
  });

  test("corpus KLD on the quickstart text grows F16 < Q8_0 < Q4_0, with llama-perplexity's chunking", async () => {
    const r = await corpusKld({ engine: client, reference: spec("f32"), variants: [spec("f16"), spec("q8_0"), spec("q4_0")], text: CORPUS, ctx: 128, chunks: 8 });
    assert.equal(r.chunks, 8);
    assert.equal(r.ctx, 128);
    // ctx/2 .. ctx−2 scored in each chunk: 63 tokens.
    assert.equal(r.tokens, 8 * 63);
    const [f16, q8, q4] = r.variants;
    assert.ok(f16!.kld.mean > 0 && f16!.kld.mean < q8!.kld.mean && q8!.kld.mean < q4!.kld.mean, r.variants.map((v) => v.kld.mean).join(" < "));
    for (const v of r.variants) {
      assert.equal(v.method, "full-vocabulary");
      assert.ok(v.kld.min >= 0 && v.kld.min <= v.kld.p1 && v.kld.p1 <= v.kld.median && v.kld.median <= v.kld.p99 && v.kld.p99 <= v.kld.max);
      assert.ok(v.kld.stderr > 0 && v.kld.stderr < v.kld.mean);
      assert.ok(v.sameTop.rate > 0.9 && v.sameTop.rate <= 1);
      assert.ok(Math.abs(v.ppl.ratio - Math.exp(v.ppl.lnRatio.mean)) < 1e-12);
      assert.ok(v.ppl.cor > 0.99, `cor ${v.ppl.cor}`);
    }
    assert.ok(r.memory.enginePeakRssBytes > 0 && r.memory.peakRssBytes > 0);
    // The same run with the reference kept as llama-perplexity keeps it (16-bit): close, not equal.
    const s = await corpusKld({ engine: client, reference: spec("f32"), variants: [spec("q4_0")], text: CORPUS, ctx: 128, chunks: 8, storage: "llama16" });
    assert.equal(s.storage, "llama16");
    const a = q4!.kld.mean;
    const b = s.variants[0]!.kld.mean;
    assert.ok(a !== b && Math.abs(a - b) < 0.02 * a, `exact ${a} vs llama16 ${b}`);
  });

  test("a candidate known only by its top-K log-probabilities (as a server reports them): a lower bound, marked top-K", async () => {
    const K = 50;
    // The Q4_0 model's own top-K per position, read through teacher forcing (empty prompt = BOS).
    const topK: TopKCandidate = {
      variant: "tiny/q4_0 (top-50)",
      topK: K,
      async positions(_chunk, tokens, from) {
        const s = await client.score({ id: "k", model: spec("q4_0"), messages: [{ role: "user", text: "" }], tokens: tokens.slice(1), topK: K });
        return s.positions.slice(from, tokens.length - 1).map((p) => ({
          ids: p.top.map((t) => t.token),
          logprobs: p.top.map((t) => Math.log(t.prob)),
          tokenLogprob: Math.log(p.forcedProb),
        }));
      },
    };
    const r = await corpusKld({ engine: client, reference: spec("f32"), variants: [spec("q4_0")], topK: [topK], text: CORPUS, ctx: 64, chunks: 4 });
    const [full, partial] = r.variants;
    assert.equal(partial!.method, "top-K");
    assert.equal(partial!.topK, K);
    assert.equal(partial!.tokens, full!.tokens);
    assert.ok(partial!.kld.mean > 0 && partial!.kld.mean <= full!.kld.mean * (1 + 1e-6), `top-${K} ${partial!.kld.mean} vs full ${full!.kld.mean}`);
    assert.ok(partial!.kld.mean > 0.5 * full!.kld.mean, "most of the mass is in the top 50");
    // The token's own probability is exact either way (float32 normalisation inside llama-addon aside).
    assert.ok(Math.abs(partial!.ppl.value - full!.ppl.value) / full!.ppl.value < 1e-4);
    assert.ok(Math.abs(partial!.dp.rms - full!.dp.rms) < 1e-4);
    assert.equal(partial!.sameTop.rate, full!.sameTop.rate);
    const text = kldText(r);
    assert.match(text, /Note: tiny\/q4_0 \(top-50\): top-50 log-probabilities only/);
  });

  test("different vocabularies and short texts are refused with a message saying what to do", async () => {
    const stories: ModelSpec = { variant: "stories", modelPath: path.join(SHARED, "models", "stories260K.gguf"), adapters: [] };
    await assert.rejects(
      corpusKld({ engine: client, reference: spec("f32"), variants: [stories], text: CORPUS, ctx: 64, chunks: 1 }),
      (e: unknown) => e instanceof EngineError && /stories has a vocabulary of 512 tokens but the reference tiny\/f32 has \d+/.test(e.message),
    );
    await assert.rejects(corpusKld({ engine: client, reference: spec("f32"), variants: [spec("q8_0")], text: "What is the capital of France? Paris", ctx: 128 }), (e: unknown) => e instanceof CorpusKldError && /at least 2 × ctx = 256/.test(e.message));
    await assert.rejects(corpusKld({ engine: client, reference: spec("f32"), variants: [], text: CORPUS }), /nothing to compare/);
    // The engine is still usable after the failures.
    const ok = await corpusKld({ engine: client, reference: spec("f32"), variants: [spec("q8_0")], text: CORPUS, ctx: 64, chunks: 1 });
    assert.equal(ok.tokens, 31);
  });
});

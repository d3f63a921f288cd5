// EngineClient.embed through the real worker and real node-llama-cpp on the tiny random GGUF:
// vectors of the model's embedding length, deterministic, identical text → cosine 1, and a missing
// model fails naming the file.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ggufFacts, readGgufHeader } from "../../../server/src/gguf/reader";
import { EngineClient, EngineError } from "../../../server/src/llm/client";
import type { EngineSettings } from "../../../server/src/llm/types";
import { TINY_RANDOM_GGUF, tempDir } from "../../helpers/paths";

const settings: EngineSettings = { gpu: "cpu", threads: 1, contextSize: 256, parallelSequences: 1, memoryBudgetBytes: 4 * 1024 ** 3 };

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

describe("EngineClient.embed on the tiny model", () => {
  let client: EngineClient;
  before(async () => {
    client = await EngineClient.start(settings);
  });
  after(async () => {
    await client.dispose();
  });

  test("one vector per text, of the model's embedding length; identical text → cosine 1; deterministic", async () => {
    const want = ggufFacts(readGgufHeader(TINY_RANDOM_GGUF)).embeddingLength;
    assert.ok(want && want > 0);
    const texts = ["The capital of France is Paris.", "Bananas are yellow.", "The capital of France is Paris."];
    const vecs = await client.embed(TINY_RANDOM_GGUF, texts);
    assert.equal(vecs.length, 3);
    for (const v of vecs) {
      assert.equal(v.length, want);
      assert.ok(v.every((x) => Number.isFinite(x)));
      assert.ok(v.some((x) => x !== 0));
    }
    assert.ok(Math.abs(cosine(vecs[0]!, vecs[2]!) - 1) < 1e-6);
    assert.deepEqual(vecs[0], vecs[2]);
    assert.notDeepEqual(vecs[0], vecs[1]);
    // Same again in a later request (the embedding context is reused): the same numbers.
    const again = await client.embed(TINY_RANDOM_GGUF, [texts[1]!, texts[0]!]);
    assert.deepEqual(again, [vecs[1], vecs[0]]);
    // The model is loaded once and shows as loaded.
    const info = await client.info();
    assert.equal(info.loadedModels.filter((m) => m.modelPath === TINY_RANDOM_GGUF).length, 1);
    assert.equal(info.threads, 1);
  });

  test("a text longer than the context is embedded from its first tokens instead of failing", async () => {
    const long = "word ".repeat(2000);
    const [v] = await client.embed(TINY_RANDOM_GGUF, [long]);
    assert.equal(v!.length, ggufFacts(readGgufHeader(TINY_RANDOM_GGUF)).embeddingLength);
  });

  test("a missing embedding model fails with kind model-missing naming the file", async () => {
    const missing = path.join(tempDir("driftlens-embed-"), "nope.gguf");
    await assert.rejects(client.embed(missing, ["x"]), (e: unknown) => e instanceof EngineError && e.failure.kind === "model-missing" && e.message.includes(missing));
  });
});

// Variants through EngineClient on the generated quickstart family (server/src/modelgen):
// LoRA adapters and compositions sharing one model load, an adapter for another architecture,
// the LRU memory budget, and the GGUF chat template.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { EngineClient, EngineError, type ManyResult } from "../../../server/src/llm/client";
import type { EngineSettings, GenerateRequest, ModelSpec } from "../../../server/src/llm/types";
import { buildLlamaGguf, buildLoraGguf } from "../../../server/src/modelgen/llama";
import { buildQuickstartModel, ensureQuickstartModels, type QuickstartPaths } from "../../../server/src/modelgen/quickstart";
import { tempDir } from "../../helpers/paths";

const settings: EngineSettings = { gpu: "auto", threads: 1, contextSize: 256, parallelSequences: 4, memoryBudgetBytes: 4 * 1024 ** 3 };

let models: QuickstartPaths;
let dir: string;

function ask(id: string, model: ModelSpec, country: string): GenerateRequest {
  return {
    id,
    model,
    messages: [{ role: "user", text: `What is the capital of ${country}?` }],
    params: { temperature: 0, maxTokens: 4, stop: [], seed: 1 },
    topLogprobs: 3,
  };
}

describe("variants on the quickstart family", () => {
  let client: EngineClient;
  before(async () => {
    dir = tempDir();
    models = ensureQuickstartModels(path.join(dir, "models"));
    client = await EngineClient.start(settings);
  });
  after(async () => {
    await client.dispose();
  });

  test("a LoRA adapter changes the answer, scale 0 does not, a composition applies both; one model load", async () => {
    const base: ModelSpec = { variant: "tiny/f32", modelPath: models.f32, adapters: [] };
    const lora = (scales: number[]): ModelSpec => ({
      variant: `tiny/f32+${scales.map((s) => `endonyms@${s}`).join("+")}`,
      modelPath: models.f32,
      adapters: scales.map((scale) => ({ path: models.lora, scale })),
    });
    const b = await client.generate(ask("b", base, "Italy"));
    const l1 = await client.generate(ask("l1", lora([1]), "Italy"));
    const l0 = await client.generate(ask("l0", lora([0]), "Italy"));
    const comp = await client.generate(ask("c", lora([0.75, 0.75]), "Italy"));
    assert.match(b.text, /Rome/);
    assert.match(l1.text, /Roma/);
    assert.equal(l0.text, b.text);
    assert.match(comp.text, /Roma/);
    // The adapter moves probability: the base's own answer is less likely under the adapter.
    assert.ok(l1.tokens[0]!.top.some((t) => /Rome/.test(t.text)));
    const info = await client.info();
    assert.deepEqual(
      info.loadedModels.map((m) => m.modelPath),
      [models.f32],
    );
  });

  test("an adapter for another architecture fails with variant and file; the rest of the batch completes", async () => {
    // A LoRA on output.weight shaped for a model with n_embd 8 and a 300-token vocabulary.
    const bad = path.join(dir, "wrong-shape.lora.gguf");
    const rank = 2;
    buildLoraGguf({
      name: "wrong-shape",
      alpha: rank,
      pairs: [{ target: "output.weight", rank, nIn: 8, nOut: 300, a: new Float32Array(8 * rank).fill(0.1), b: new Float32Array(rank * 300).fill(0.1) }],
    }).write(bad);
    await client.info(); // the worker is up before counting restarts
    const startsBefore = client.starts;
    const got = new Map<string, ManyResult>();
    await client.generateMany(
      [
        ask("ok", { variant: "tiny/q8_0", modelPath: models.q8_0, adapters: [] }, "France"),
        ask("bad", { variant: "tiny/f32+wrong", modelPath: models.f32, adapters: [{ path: bad, scale: 1 }] }, "France"),
      ],
      (r) => got.set(r.id, r),
    );
    const ok = got.get("ok")!;
    assert.ok(!("failure" in ok));
    assert.match(ok.text, /Paris/);
    const r = got.get("bad")!;
    assert.ok("failure" in r);
    assert.equal(r.failure.kind, "adapter-mismatch", r.failure.message);
    assert.ok(r.failure.message.includes("tiny/f32+wrong") && r.failure.message.includes(bad), r.failure.message);
    assert.equal(r.failure.file, bad);
    assert.equal(client.starts, startsBefore, "the worker survived");
  });
});

describe("memory budget", () => {
  test("a model larger than the budget is refused by name; LRU unloads the least recently used", async () => {
    const fs = await import("node:fs");
    const f32 = fs.statSync(models.f32).size;
    const q8 = fs.statSync(models.q8_0).size;
    const q4 = fs.statSync(models.q4_0).size;
    // Room for the f32 model, or for q8_0 + q4_0, never for f32 and another.
    const budget = Math.max(f32, q8 + q4) + 1;
    const client = await EngineClient.start({ ...settings, memoryBudgetBytes: budget });
    try {
      await client.generate(ask("a", { variant: "tiny/q8_0", modelPath: models.q8_0, adapters: [] }, "Spain"));
      await client.generate(ask("b", { variant: "tiny/q4_0", modelPath: models.q4_0, adapters: [] }, "Spain"));
      assert.deepEqual((await client.info()).loadedModels.map((m) => m.modelPath).sort(), [models.q4_0, models.q8_0].sort());
      await client.generate(ask("c", { variant: "tiny/q8_0", modelPath: models.q8_0, adapters: [] }, "Spain")); // q8_0 now most recent
      await client.generate(ask("d", { variant: "tiny/f32", modelPath: models.f32, adapters: [] }, "Spain"));
      assert.deepEqual(
        (await client.info()).loadedModels.map((m) => m.modelPath),
        [models.f32],
      );
    } finally {
      await client.dispose();
    }
    const small = await EngineClient.start({ ...settings, memoryBudgetBytes: Math.floor(f32 / 2) });
    try {
      await assert.rejects(small.generate(ask("x", { variant: "tiny/f32", modelPath: models.f32, adapters: [] }, "Spain")), (e: unknown) => {
        assert.ok(e instanceof EngineError);
        assert.equal(e.failure.kind, "out-of-memory");
        assert.ok(e.message.includes("tiny/f32") && e.message.includes(models.f32) && /budget/.test(e.message), e.message);
        return true;
      });
      // A model that fits still runs on the same engine.
      const ok = await small.generate(ask("y", { variant: "tiny/q4_0", modelPath: models.q4_0, adapters: [] }, "Spain"));
      assert.ok(ok.tokens.length > 0);
    } finally {
      await small.dispose();
    }
  });
});

describe("chat template", () => {
  test("a GGUF with a chat template is prompted through it; without one, plain completion", async () => {
    const m = buildQuickstartModel();
    const chatModel = path.join(dir, "tiny-chat.gguf");
    const g = buildLlamaGguf({ ...m.hparams, name: "tiny-chat" }, m.vocab, m.weights, "F32");
    g.set(
      "tokenizer.chat_template",
      "string",
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    );
    g.write(chatModel);
    const client = await EngineClient.start(settings);
    try {
      const plain = await client.generate(ask("p", { variant: "tiny/f32", modelPath: models.f32, adapters: [] }, "France"));
      const chat = await client.generate(ask("c", { variant: "tiny/chat", modelPath: chatModel, adapters: [] }, "France"));
      assert.equal(plain.template, "completion");
      assert.equal(chat.template, "chat");
      const bare = await client.countTokens(chatModel, "What is the capital of France?");
      assert.equal(plain.promptTokens, bare + 1); // BOS + the message text
      assert.ok(chat.promptTokens > bare + 4, `chat prompt ${chat.promptTokens} tokens vs text ${bare}`); // role markers around it
    } finally {
      await client.dispose();
    }
  });
});

// EngineClient through the real worker (dist/engine-worker.js) and real node-llama-cpp on the
// converter-made tiny model: determinism, sampling, probabilities, teacher forcing, stops,
// cancellation, crash supervision and failures that name variant and file.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { EngineClient, EngineError, resolveWorkerPath, type ManyResult } from "../../../server/src/llm/client";
import type { EngineSettings, GenerateRequest, GenerateResult } from "../../../server/src/llm/types";
import { DIST, TINY_RANDOM_GGUF, tempDir } from "../../helpers/paths";

const settings: EngineSettings = { gpu: "auto", threads: 1, contextSize: 512, parallelSequences: 4, memoryBudgetBytes: 4 * 1024 ** 3 };

function req(over: Partial<Omit<GenerateRequest, "params">> & { params?: Partial<GenerateRequest["params"]> } = {}): GenerateRequest {
  const { params, ...rest } = over;
  return {
    id: "case-1",
    model: { variant: "tiny/random", modelPath: TINY_RANDOM_GGUF, adapters: [] },
    messages: [{ role: "user", text: "What is the capital of France?" }],
    topLogprobs: 5,
    ...rest,
    params: { temperature: 0, maxTokens: 12, stop: [], seed: 1, ...params },
  };
}

describe("EngineClient on the tiny model", () => {
  let client: EngineClient;
  before(async () => {
    client = await EngineClient.start(settings);
  });
  after(async () => {
    await client.dispose();
  });

  test("greedy output is deterministic and reports the plain-completion template", async () => {
    const a = await client.generate(req());
    const b = await client.generate(req());
    assert.equal(a.tokens.length, 12);
    assert.equal(a.stopReason, "maxTokens");
    assert.ok(a.text.length > 0);
    assert.equal(a.text, b.text);
    assert.deepEqual(
      a.tokens.map((t) => t.token),
      b.tokens.map((t) => t.token),
    );
    assert.equal(a.template, "completion"); // this GGUF has no chat template
    assert.equal(a.text, a.tokens.map((t) => t.text).join(""));
  });

  test("seeded sampling is reproducible and the seed matters", async () => {
    const s = (seed: number) => client.generate(req({ params: { temperature: 1, seed, maxTokens: 10 } }));
    const a = await s(42);
    const b = await s(42);
    const c = await s(43);
    assert.deepEqual(
      a.tokens.map((t) => t.token),
      b.tokens.map((t) => t.token),
    );
    assert.notDeepEqual(
      a.tokens.map((t) => t.token),
      c.tokens.map((t) => t.token),
    );
  });

  test("top-k alternatives: sorted, sum ≤ 1, greedy choice is top-1 with the same probability", async () => {
    const r = await client.generate(req({ topLogprobs: 7 }));
    for (const t of r.tokens) {
      assert.equal(t.top.length, 7);
      const sum = t.top.reduce((s, a) => s + a.prob, 0);
      assert.ok(sum <= 1 + 1e-6, `sum ${sum}`);
      for (let i = 1; i < t.top.length; i++) assert.ok(t.top[i - 1]!.prob >= t.top[i]!.prob);
      assert.equal(t.top[0]!.token, t.token);
      assert.ok(Math.abs(t.top[0]!.prob - t.prob) < 1e-9);
      assert.ok(t.prob > 0 && t.prob <= 1);
    }
    // Greedy without alternatives takes the fast path: same tokens, probability not computed.
    const none = await client.generate(req({ topLogprobs: 0 }));
    assert.ok(none.tokens.every((t) => t.top.length === 0 && t.prob === -1));
    assert.deepEqual(
      none.tokens.map((t) => t.token),
      r.tokens.map((t) => t.token),
    );
    assert.equal(none.text, r.text);
  });

  test("score() on the model's own greedy output: forced token is top-1 at every position", async () => {
    const g = await client.generate(req({ params: { maxTokens: 10 } }));
    const forced = g.tokens.map((t) => t.token);
    const probe = g.tokens.map((t) => t.top.map((a) => a.token));
    const s = await client.score({ id: "s1", model: req().model, messages: req().messages, tokens: forced, topK: 5, probe });
    assert.equal(s.positions.length, forced.length);
    s.positions.forEach((p, i) => {
      assert.equal(p.top[0]!.token, forced[i]);
      assert.ok(Math.abs(p.forcedProb - g.tokens[i]!.prob) < 1e-5, `position ${i}: ${p.forcedProb} vs ${g.tokens[i]!.prob}`);
      assert.equal(p.probe!.length, probe[i]!.length);
      // The probe holds the generation's own top-5: same probabilities as the scored top-5.
      p.probe!.forEach((q, j) => assert.ok(Math.abs(q - g.tokens[i]!.top[j]!.prob) < 1e-5));
    });
    // A token the model did not choose gets a lower probability than the top-1.
    const other = forced.map((t) => (t === 100 ? 101 : 100));
    const s2 = await client.score({ id: "s2", model: req().model, messages: req().messages, tokens: other, topK: 1 });
    assert.ok(s2.positions[0]!.forcedProb < s2.positions[0]!.top[0]!.prob);
  });

  test("stop sequences cut the text before the stop; maxTokens limits the count", async () => {
    const full = await client.generate(req({ params: { maxTokens: 12 } }));
    // A stop string taken from the middle of the greedy output.
    const i = full.tokens.slice(0, 4).reduce((s, t) => s + t.text.length, 0);
    const stop = full.text.slice(i, i + 3).trim() || full.text.slice(i, i + 3);
    const at = full.text.indexOf(stop);
    const r = await client.generate(req({ params: { maxTokens: 12, stop: [stop] } }));
    assert.equal(r.stopReason, "stop");
    assert.equal(r.text, full.text.slice(0, at));
    assert.ok(r.tokens.length < full.tokens.length);
    const three = await client.generate(req({ params: { maxTokens: 3 } }));
    assert.equal(three.tokens.length, 3);
    assert.equal(three.stopReason, "maxTokens");
  });

  test("cancellation through an AbortSignal ends the generation early", async () => {
    const ac = new AbortController();
    let seen = 0;
    const r = await client.generate(req({ params: { maxTokens: 400 } }), () => {
      if (++seen === 2) ac.abort();
    }, ac.signal);
    assert.equal(r.stopReason, "cancelled");
    assert.ok(r.tokens.length >= 2 && r.tokens.length < 400, `${r.tokens.length} tokens`);
  });

  test("cancel() stops every running request", async () => {
    let seen = 0;
    const r = await client.generate(req({ params: { maxTokens: 100000 } }), () => {
      if (++seen === 3) client.cancel();
    });
    assert.equal(r.stopReason, "cancelled");
    assert.ok(r.tokens.length >= 3 && r.tokens.length < 400, `${r.tokens.length} tokens`);
    // The engine is usable afterwards.
    assert.equal((await client.generate(req({ params: { maxTokens: 2 } }))).tokens.length, 2);
  });

  test("streamed tokens are the result's tokens", async () => {
    const streamed: number[] = [];
    const r = await client.generate(req(), (t) => streamed.push(t.token));
    assert.deepEqual(
      streamed,
      r.tokens.map((t) => t.token),
    );
  });

  test("countTokens uses the model's vocabulary", async () => {
    const r = await client.generate(req({ params: { maxTokens: 1 } }));
    const n = await client.countTokens(TINY_RANDOM_GGUF, "What is the capital of France?");
    assert.equal(n + 1, r.promptTokens); // + BOS
    assert.equal(await client.countTokens(TINY_RANDOM_GGUF, ""), 0);
  });

  test("generateMany: a corrupt and a missing model fail with variant and file; the others complete", async () => {
    const dir = tempDir();
    const truncated = path.join(dir, "truncated.gguf");
    fs.writeFileSync(truncated, fs.readFileSync(TINY_RANDOM_GGUF).subarray(0, 5000));
    // Header intact, tensor data cut short.
    const cutData = path.join(dir, "cut-data.gguf");
    const whole = fs.readFileSync(TINY_RANDOM_GGUF);
    fs.writeFileSync(cutData, whole.subarray(0, Math.floor(whole.length * 0.9)));
    const notGguf = path.join(dir, "not-a-model.gguf");
    fs.writeFileSync(notGguf, "hello, I am not a model");
    const missing = path.join(dir, "missing.gguf");
    await client.info(); // the worker is up before counting restarts
    const startsBefore = client.starts;
    const reqs = [
      req({ id: "good-1" }),
      req({ id: "trunc", model: { variant: "tiny/trunc", modelPath: truncated, adapters: [] } }),
      req({ id: "junk", model: { variant: "tiny/junk", modelPath: notGguf, adapters: [] } }),
      req({ id: "cut", model: { variant: "tiny/cut", modelPath: cutData, adapters: [] } }),
      req({ id: "gone", model: { variant: "tiny/gone", modelPath: missing, adapters: [] } }),
      req({ id: "good-2", messages: [{ role: "user", text: "What is the capital of Spain?" }] }),
    ];
    const got = new Map<string, ManyResult>();
    await client.generateMany(reqs, (r) => got.set(r.id, r));
    assert.equal(got.size, 6);
    for (const id of ["good-1", "good-2"]) assert.ok(!("failure" in got.get(id)!), id);
    const expect: [string, string, string, string][] = [
      ["trunc", "tiny/trunc", truncated, "model-corrupt"],
      ["junk", "tiny/junk", notGguf, "model-corrupt"],
      ["cut", "tiny/cut", cutData, "model-corrupt"],
      ["gone", "tiny/gone", missing, "model-missing"],
    ];
    for (const [id, variant, file, kind] of expect) {
      const r = got.get(id)!;
      assert.ok("failure" in r, id);
      assert.equal(r.failure.kind, kind, r.failure.message);
      assert.ok(r.failure.message.includes(variant) && r.failure.message.includes(file), r.failure.message);
    }
    // llama.cpp's own reason is passed on, not just "Failed to load model".
    const cut = got.get("cut")!;
    assert.ok("failure" in cut && /llama\.cpp: .*(bounds|corrupt|incomplete)/.test(cut.failure.message), "failure" in cut ? cut.failure.message : "");
    assert.equal(client.starts, startsBefore, "the worker survived the failures");
    // Single requests fail the same way, as an EngineError.
    await assert.rejects(client.generate(req({ model: { variant: "tiny/gone", modelPath: missing, adapters: [] } })), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.failure.kind, "model-missing");
      assert.ok(e.message.includes("tiny/gone") && e.message.includes(missing));
      return true;
    });
  });

  test("a prompt longer than the context fails by name; the output is capped by the context", async () => {
    const long = "capital ".repeat(600);
    await assert.rejects(client.generate(req({ messages: [{ role: "user", text: long }] })), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.ok(/does not fit the context of \d+ tokens/.test(e.message) && e.message.includes("tiny/random") && e.message.includes(TINY_RANDOM_GGUF), e.message);
      return true;
    });
    const n = await client.countTokens(TINY_RANDOM_GGUF, "capital ".repeat(250));
    const r = await client.generate(req({ messages: [{ role: "user", text: "capital ".repeat(250) }], params: { maxTokens: 10000 } }));
    assert.equal(r.promptTokens + r.tokens.length, 512, `prompt ${r.promptTokens} (text ${n}) + ${r.tokens.length} generated`);
    assert.equal(r.stopReason, "maxTokens");
  });

  test("generateMany returns each request once with the same output as generate()", async () => {
    const texts = ["France", "Spain", "Italy", "Peru", "Chad"].map((c) => `What is the capital of ${c}?`);
    const reqs = texts.map((t, i) => req({ id: `c${i}`, messages: [{ role: "user", text: t }] }));
    const many = new Map<string, GenerateResult>();
    const streamed = new Map<string, number[]>();
    await client.generateMany(
      reqs,
      (r) => {
        assert.ok(!("failure" in r));
        many.set(r.id, r as GenerateResult);
      },
      undefined,
      (id, t) => streamed.set(id, [...(streamed.get(id) ?? []), t.token]),
    );
    assert.equal(many.size, reqs.length);
    for (const r of reqs) {
      assert.equal(many.get(r.id)!.text, (await client.generate(r)).text);
      assert.deepEqual(
        streamed.get(r.id),
        many.get(r.id)!.tokens.map((t) => t.token),
      );
    }
  });
});

describe("EngineClient supervision", () => {
  test("a worker killed with SIGKILL mid-generation: pending request rejects as crashed; the next one succeeds", async () => {
    const client = await EngineClient.start(settings);
    try {
      const first = await client.generate(req({ params: { maxTokens: 2 } }));
      assert.equal(client.starts, 1);
      let killed = false;
      const pending = client.generate(req({ params: { maxTokens: 100000 } }), () => {
        if (!killed) {
          killed = true;
          process.kill(client.pid!, "SIGKILL");
        }
      });
      await assert.rejects(pending, (e: unknown) => {
        assert.ok(e instanceof EngineError);
        assert.equal(e.failure.kind, "crashed");
        assert.ok(e.message.includes("tiny/random") && e.message.includes(TINY_RANDOM_GGUF), e.message);
        assert.ok(e.message.includes("SIGKILL"), e.message);
        return true;
      });
      const again = await client.generate(req({ params: { maxTokens: 2 } }));
      assert.equal(client.starts, 2);
      assert.equal(again.text, first.text);
    } finally {
      await client.dispose();
    }
  });

  test("a native abort during generateMany reports every unanswered request as crashed", async () => {
    const client = await EngineClient.start(settings);
    try {
      const reqs = [req({ id: "a", params: { maxTokens: 100000 } }), req({ id: "b" })];
      const got: ManyResult[] = [];
      let asked = false;
      // Once the worker is generating, make it abort like a native crash.
      const run = client.generateMany(reqs, (r) => got.push(r), undefined, () => {
        if (!asked) {
          asked = true;
          client.crashForTest();
        }
      });
      await assert.rejects(run, (e: unknown) => e instanceof EngineError && e.failure.kind === "crashed");
      assert.ok(asked);
      assert.equal(got.length, 2);
      for (const r of got) {
        assert.ok("failure" in r);
        assert.equal(r.failure.kind, "crashed");
        assert.ok(r.failure.message.includes(TINY_RANDOM_GGUF));
      }
      assert.equal((await client.generate(req({ params: { maxTokens: 1 } }))).tokens.length, 1);
    } finally {
      await client.dispose();
    }
  });
});

describe("threads auto", () => {
  test("measures on first use (≤ cores), then reads the per-machine cache", async () => {
    const cache = tempDir();
    const auto: EngineSettings = { ...settings, threads: "auto" };
    const a = await EngineClient.start(auto, { env: { DRIFTLENS_CACHE_DIR: cache } });
    try {
      assert.equal((await a.info()).threadsSource, "auto-pending");
      await a.generate(req({ params: { maxTokens: 2 } }));
      const info = await a.info();
      assert.equal(info.threadsSource, "auto-measured");
      assert.ok(info.threads >= 1 && info.threads <= os.availableParallelism(), `threads ${info.threads}`);
      assert.ok(fs.existsSync(path.join(cache, "engine-threads.json")));
      assert.equal(info.backend, info.backend === "cpu" ? "cpu" : info.backend);
      assert.equal(info.sequences, info.backend === "cpu" ? 1 : settings.parallelSequences);
      assert.equal(info.loadedModels[0]!.modelPath, TINY_RANDOM_GGUF);
    } finally {
      await a.dispose();
    }
    const b = await EngineClient.start(auto, { env: { DRIFTLENS_CACHE_DIR: cache } });
    try {
      await b.generate(req({ params: { maxTokens: 2 } }));
      const info = await b.info();
      assert.equal(info.threadsSource, "auto-cached");
    } finally {
      await b.dispose();
    }
    const c = await EngineClient.start({ ...settings, threads: 1 });
    try {
      await c.generate(req({ params: { maxTokens: 1 } }));
      const info = await c.info();
      assert.deepEqual([info.threads, info.threadsSource], [1, "setting"]);
    } finally {
      await c.dispose();
    }
  });
});

describe("forced backend", () => {
  test("a GPU backend this machine lacks is a clear error; cpu is reported as cpu", async () => {
    const missing = process.platform === "darwin" ? "cuda" : "metal";
    const a = await EngineClient.start({ ...settings, gpu: missing });
    try {
      await assert.rejects(a.info(), (e: unknown) => {
        assert.ok(e instanceof EngineError);
        assert.ok(e.message.includes(`engine.gpu`) && e.message.includes(missing), e.message);
        return true;
      });
    } finally {
      await a.dispose();
    }
    const b = await EngineClient.start({ ...settings, gpu: "cpu" });
    try {
      assert.equal((await b.info()).backend, "cpu");
      assert.equal((await b.info()).sequences, 1);
    } finally {
      await b.dispose();
    }
  });
});

describe("engine worker start-up", () => {
  test("a worker that dies while starting is retried once, then reported", async () => {
    const bad = path.join(tempDir(), "dies.js");
    fs.writeFileSync(bad, "process.stderr.write('cannot start\\n'); process.exit(3);\n");
    const c = await EngineClient.start(settings, { workerPath: bad });
    try {
      await assert.rejects(c.info(), (e: unknown) => {
        assert.ok(e instanceof EngineError);
        assert.equal(e.failure.kind, "crashed");
        assert.match(e.message, /during start-up \(exit code 3\)/);
        return true;
      });
      assert.equal(c.starts, 2);
    } finally {
      await c.dispose();
    }
  });
});

describe("engine worker location", () => {
  test("found from a test bundle below dist/test; an explicit override must exist", () => {
    assert.equal(resolveWorkerPath(), path.join(DIST, "engine-worker.js"));
    const saved = process.env.DRIFTLENS_ENGINE_WORKER;
    try {
      process.env.DRIFTLENS_ENGINE_WORKER = path.join(tempDir(), "nowhere.js");
      assert.throws(() => resolveWorkerPath(), /DRIFTLENS_ENGINE_WORKER/);
    } finally {
      if (saved === undefined) delete process.env.DRIFTLENS_ENGINE_WORKER;
      else process.env.DRIFTLENS_ENGINE_WORKER = saved;
    }
  });
});

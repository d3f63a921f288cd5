// Served generation against the in-process engine, side by side on the same GGUF files: a real
// llama-server (built from the llama.cpp source node-llama-cpp ships, one thread) and
// node-llama-cpp must give the same greedy tokens, text, stop reason and top-k probabilities.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { EngineClient } from "../../../server/src/llm/client";
import { RoutingEngine } from "../../../server/src/llm/remote/router";
import type { GenerateRequest, GenerateResult, RemoteModelSpec } from "../../../server/src/llm/types";
import { ensureQuickstartModels } from "../../../server/src/modelgen/quickstart";
import { startLlamaServer, startRpcServer, type LlamaServer } from "../../helpers/llama-server";
import { SHARED, tempDir } from "../../helpers/paths";
import { TEST_ENGINE_SETTINGS } from "../eval/helpers";

const STORIES = path.join(SHARED, "models", "stories260K.gguf");
let qsDir: string;
let stories: LlamaServer;
let quick: LlamaServer;
let local: EngineClient;

before(async () => {
  qsDir = tempDir("driftlens-remote-gen-");
  ensureQuickstartModels(qsDir);
  [stories, quick] = await Promise.all([startLlamaServer({ model: STORIES }), startLlamaServer({ model: path.join(qsDir, "tiny-f32.gguf") })]);
  local = await EngineClient.start(TEST_ENGINE_SETTINGS);
});

after(async () => {
  await local?.dispose();
  await Promise.all([stories?.stop(), quick?.stop()]);
});

const spec = (url: string): RemoteModelSpec => ({ endpoints: [url], template: "auto", timeoutMs: 30_000, adapters: [] });

function request(id: string, modelPath: string, texts: string[], params: Partial<GenerateRequest["params"]> = {}, topLogprobs = 5): GenerateRequest {
  return {
    id,
    model: { variant: "t/v", modelPath, adapters: [] },
    messages: texts.map((text, i) => ({ role: i === 0 && texts.length > 1 ? "system" : "user", text })),
    params: { temperature: 0, maxTokens: 24, stop: [], seed: 7, ...params },
    topLogprobs,
  };
}

async function both(reqs: GenerateRequest[], url: string): Promise<{ local: Map<string, GenerateResult>; served: Map<string, GenerateResult> }> {
  const l = new Map<string, GenerateResult>();
  const s = new Map<string, GenerateResult>();
  await local.generateMany(reqs, (r) => {
    assert.ok(!("failure" in r), JSON.stringify(r));
    l.set(r.id, r);
  });
  const router = new RoutingEngine(() => Promise.reject(new Error("a served run must not start the local engine")));
  await router.generateMany(
    reqs.map((r) => ({ ...r, model: { ...r.model, remote: spec(url) } })),
    (r) => {
      assert.ok(!("failure" in r), JSON.stringify(r));
      s.set(r.id, r);
    },
  );
  assert.equal(router.localStarted, false);
  return { local: l, served: s };
}

function assertSame(a: GenerateResult, b: GenerateResult): void {
  assert.equal(b.text, a.text, `${a.id}: text`);
  assert.deepEqual(
    b.tokens.map((t) => t.token),
    a.tokens.map((t) => t.token),
    `${a.id}: token ids`,
  );
  assert.deepEqual(
    b.tokens.map((t) => t.text),
    a.tokens.map((t) => t.text),
    `${a.id}: token pieces`,
  );
  assert.equal(b.stopReason, a.stopReason, `${a.id}: stop reason`);
  assert.equal(b.promptTokens, a.promptTokens, `${a.id}: prompt tokens`);
  assert.equal(b.template, a.template);
  for (let i = 0; i < a.tokens.length; i++) {
    const x = a.tokens[i]!;
    const y = b.tokens[i]!;
    assert.ok(Math.abs(x.prob - y.prob) < 1e-3, `${a.id} token ${i}: p ${x.prob} local vs ${y.prob} served`);
    assert.deepEqual(
      y.top.map((t) => t.token),
      x.top.map((t) => t.token),
      `${a.id} token ${i}: top-k ids`,
    );
    for (let j = 0; j < x.top.length; j++) assert.ok(Math.abs(x.top[j]!.prob - y.top[j]!.prob) < 1e-3, `${a.id} token ${i} alt ${j}`);
  }
}

test("greedy outputs through llama-server equal the in-process engine's on the same GGUF (stories260K: plain text, BOS, stops, max tokens)", async () => {
  const reqs = [
    request("once", STORIES, ["Once upon a time"]),
    request("lily", STORIES, ["Lily and Tom went to the park."]),
    request("two-messages", STORIES, ["A story:", "The little dog"]),
    request("stop", STORIES, ["Once upon a time"], { stop: ["girl"] }),
    request("short", STORIES, ["The sun"], { maxTokens: 3 }),
    request("special-text", STORIES, ["She said </s> and <s> then"]),
    request("no-probs", STORIES, ["One day"], {}, 0),
  ];
  const { local: l, served: s } = await both(reqs, stories.url);
  for (const r of reqs) {
    if (r.id === "no-probs") {
      // Without alternatives the local fast path records no probability; the text and ids still match.
      assert.equal(s.get(r.id)!.text, l.get(r.id)!.text);
      assert.deepEqual(s.get(r.id)!.tokens.map((t) => t.token), l.get(r.id)!.tokens.map((t) => t.token));
      assert.ok(s.get(r.id)!.tokens.every((t) => t.top.length === 0));
      continue;
    }
    assertSame(l.get(r.id)!, s.get(r.id)!);
  }
  assert.equal(l.get("stop")!.stopReason, "stop", "the stop case really stopped on a stop string");
  assert.equal(l.get("short")!.stopReason, "maxTokens");
  assert.match(l.get("once")!.text, /^, there was a little girl/);
  assert.equal(s.get("once")!.endpoint, stories.url);
});

test("greedy outputs through llama-server equal the in-process engine's on a generated quickstart model (one word, then end of generation)", async () => {
  const f32 = path.join(qsDir, "tiny-f32.gguf");
  const countries = ["France", "Iceland", "Japan", "Peru", "Kenya", "Italy"];
  const reqs = countries.map((c) => request(c, f32, [`What is the capital of ${c}?`], { maxTokens: 8 }));
  const { local: l, served: s } = await both(reqs, quick.url);
  for (const r of reqs) assertSame(l.get(r.id)!, s.get(r.id)!);
  assert.equal(l.get("France")!.text.trim(), "Paris");
  assert.ok(reqs.every((r) => l.get(r.id)!.stopReason === "eos"), "every answer ends on end-of-generation, which the served result leaves out as the local one does");
});

test("llama.cpp's RPC backend (rpc-server + llama-server --rpc, the scale path docs/scale.md gives) serves the same greedy outputs", async () => {
  const rpc = await startRpcServer();
  const probes = rpc.log().split("Accepted client connection").length;
  const viaRpc = await startLlamaServer({ model: STORIES, args: ["--rpc", rpc.address, "-ngl", "99"] });
  try {
    const reqs = [request("once", STORIES, ["Once upon a time"]), request("lily", STORIES, ["Lily and Tom went to the park."])];
    const { local: l, served: s } = await both(reqs, viaRpc.url);
    for (const r of reqs) assertSame(l.get(r.id)!, s.get(r.id)!);
    assert.ok(rpc.log().split("Accepted client connection").length > probes, `llama-server connected to the rpc-server: ${rpc.log()}`);
  } finally {
    await viaRpc.stop();
    rpc.stop();
  }
});

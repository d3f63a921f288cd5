// The endpoint scheduler under failure: HTTP 429 with Retry-After, 5xx, a hung endpoint, a request
// the server rejects. Real llama-server processes serve; the faults come from MOCK proxies in front
// of them (llama-server cannot be told to answer 429 or 500).
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { RoutingEngine } from "../../../server/src/llm/remote/router";
import type { EndpointReport } from "../../../server/src/llm/remote/scheduler";
import type { EngineFailure, GenerateRequest, GenerateResult, RemoteModelSpec } from "../../../server/src/llm/types";
import { startLlamaServer, type LlamaServer } from "../../helpers/llama-server";
import { startMockServer, type MockServer } from "../../helpers/mock-server";
import { STORIES } from "./helpers";

let real: LlamaServer;
let other: LlamaServer;
const mocks: MockServer[] = [];

before(async () => {
  [real, other] = await Promise.all([startLlamaServer({ model: STORIES, contextSize: 96 }), startLlamaServer({ model: STORIES, contextSize: 96 })]);
});

after(async () => {
  await Promise.all(mocks.map((m) => m.close()));
  await Promise.all([real?.stop(), other?.stop()]);
});

const OPENINGS = ["Once upon a time", "Lily and Tom", "The little dog", "One day, a girl", "Tim had a red ball", "The sun was hot", "Mom said", "A big bird"];

async function generate(endpoints: string[], texts: string[], extra: Partial<RemoteModelSpec> = {}) {
  const remote: RemoteModelSpec = { endpoints, template: "auto", timeoutMs: 30_000, adapters: [], ...extra };
  const reqs: GenerateRequest[] = texts.map((t, i) => ({
    id: `c${i}`,
    model: { variant: "story/served", modelPath: endpoints[0]!, adapters: [], remote },
    messages: [{ role: "user", text: t }],
    params: { temperature: 0, maxTokens: 16, stop: [], seed: 1 },
    topLogprobs: 2,
  }));
  const results = new Map<string, GenerateResult | { id: string; failure: EngineFailure }>();
  const router = new RoutingEngine(() => Promise.reject(new Error("no local engine in these tests")));
  const batch = await router.generateMany(reqs, (r) => results.set(r.id, r));
  return { results, endpoints: batch!.endpoints };
}

const ok = (r: GenerateResult | { id: string; failure: EngineFailure } | undefined): r is GenerateResult => r !== undefined && !("failure" in r);
const byUrl = (eps: EndpointReport[], url: string) => eps.find((e) => e.url === url)!;

test("HTTP 429 honours Retry-After: the endpoint waits as told, is not counted as failing, and every case completes", async () => {
  const m = await startMockServer({ upstream: real, personality: "llama-server", fault: { paths: ["/completion"], count: 2, answer: 429, retryAfterSeconds: 1 } });
  mocks.push(m);
  const { results, endpoints } = await generate([m.url], OPENINGS.slice(0, 3));
  assert.ok([...results.values()].every(ok), JSON.stringify([...results.values()]));
  const e = byUrl(endpoints, m.url);
  assert.equal(e.failed, false);
  assert.equal(e.cases, 3);
  const completions = m.requests.filter((r) => r.path === "/completion");
  const firstLimited = completions.find((r) => r.status === 429)!;
  const firstServed = completions.find((r) => r.status === 200)!;
  assert.ok(firstServed.at - firstLimited.at >= 950, `retried ${Math.round(firstServed.at - firstLimited.at)} ms after the 429 with Retry-After: 1`);
});

test("an endpoint answering 5xx: its cases go elsewhere at once, and the report names it and why", async () => {
  const m = await startMockServer({ upstream: real, personality: "llama-server", fault: { paths: ["/completion"], count: 1000, answer: 500 } });
  mocks.push(m);
  const { results, endpoints } = await generate([m.url, other.url], OPENINGS);
  assert.equal([...results.values()].filter(ok).length, OPENINGS.length);
  const bad = byUrl(endpoints, m.url);
  assert.equal(bad.failed, true);
  assert.match(bad.error ?? "", /HTTP 500: internal error \(mock\)/);
  assert.equal(bad.cases, 0);
  assert.ok(bad.retries >= 1);
  assert.equal(byUrl(endpoints, other.url).cases, OPENINGS.length);
});

test("a failing endpoint is retried with backoff (200 ms, 400 ms), then dropped; with none left the cases fail naming it", async () => {
  const m = await startMockServer({ upstream: real, personality: "llama-server", fault: { paths: ["/completion"], count: 1000, answer: 500 } });
  mocks.push(m);
  const { results, endpoints } = await generate([m.url], OPENINGS.slice(0, 2));
  for (const r of results.values()) {
    assert.ok("failure" in r);
    assert.equal(r.failure.kind, "crashed");
    assert.match(r.failure.message, /every endpoint failed .*HTTP 500/);
  }
  const bad = byUrl(endpoints, m.url);
  assert.equal(bad.failed, true);
  assert.equal(bad.retries, 3, "dropped after three failures in a row");
  const times = m.requests.filter((r) => r.path === "/completion").map((r) => r.at);
  assert.equal(times.length, 3);
  assert.ok(times[1]! - times[0]! >= 190 && times[2]! - times[1]! >= 390, `backoff between attempts: ${times.map((t) => Math.round(t - times[0]!)).join(", ")} ms`);
});

test("an endpoint that does not answer times out; its cases run elsewhere and the report names it", async () => {
  const m = await startMockServer({ upstream: real, personality: "llama-server", fault: { paths: ["/completion"], count: 1000, answer: "hang" } });
  mocks.push(m);
  const { results, endpoints } = await generate([m.url, other.url], OPENINGS.slice(0, 4), { timeoutMs: 700 });
  assert.equal([...results.values()].filter(ok).length, 4);
  const bad = byUrl(endpoints, m.url);
  assert.equal(bad.failed, true);
  assert.match(bad.error ?? "", /did not answer within 1 s/);
  assert.equal(bad.cases, 0);
  assert.equal(byUrl(endpoints, other.url).cases, 4);
});

test("a request the server rejects (prompt beyond its context) fails alone; the endpoint stays", async () => {
  const long = Array.from({ length: 60 }, () => "Once upon a time there was a dog.").join(" ");
  const { results, endpoints } = await generate([real.url], [OPENINGS[0]!, long, OPENINGS[1]!]);
  assert.ok(ok(results.get("c0")) && ok(results.get("c2")));
  const bad = results.get("c1") as { failure: EngineFailure };
  assert.equal(bad.failure.kind, "other");
  assert.match(bad.failure.message, /HTTP 400.*context/i);
  assert.equal(byUrl(endpoints, real.url).failed, false);
  assert.equal(byUrl(endpoints, real.url).cases, 2);
});

test("no endpoint answers: every case fails as the variant's failure, naming each endpoint and why", async () => {
  const { results, endpoints } = await generate(["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"], OPENINGS.slice(0, 2));
  for (const r of results.values()) {
    assert.ok("failure" in r);
    assert.equal(r.failure.kind, "crashed");
    assert.match(r.failure.message, /no endpoint answers: .*127\.0\.0\.1:1.*127\.0\.0\.1:2/);
  }
  assert.ok(endpoints.every((e) => e.failed));
});

test("a hostile endpoint answering an endless body is cut off at 64 MiB: it fails with the reason, memory stays bounded", async () => {
  // Not a mock of a model server: a listener that streams JSON-looking bytes forever.
  const chunk = Buffer.alloc(1 << 20, 0x20);
  const hostile = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    const pump = () => {
      while (res.write(chunk)) if (res.destroyed) return;
      res.once("drain", pump);
    };
    res.on("close", () => res.destroy());
    pump();
  });
  await new Promise<void>((r) => hostile.listen(0, "127.0.0.1", () => r()));
  try {
    const url = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/v1`;
    const before = process.memoryUsage().rss;
    const { results } = await generate([url], OPENINGS.slice(0, 1));
    const r = results.get("c0")!;
    assert.ok("failure" in r);
    assert.match(r.failure.message, /answered more than 67108864 bytes; Driftlens stopped reading/);
    assert.ok(process.memoryUsage().rss - before < 512 * 1024 * 1024, "memory stayed bounded");
  } finally {
    hostile.closeAllConnections();
    await new Promise<void>((r) => hostile.close(() => r()));
  }
});

// `driftlens kld` with served variants: stories260K (../shared, a real trained model) as the local
// reference, its Q4_0 (made by llama-quantize from the same llama.cpp source) served by a REAL
// llama-server, and measured three ways: as a local file (full vocabulary, the figures the parity
// suite checks against llama-perplexity), through llama-server's n_probs (the whole 512-token
// vocabulary, so the same figures), and through vLLM's prompt_logprobs shape (a MOCK vLLM in front
// of the same llama-server: top 20, a lower bound on the KL). A server without prompt logprobs (MOCK
// Ollama) and a served reference are refused with what to do.
//
// Tolerances: the served side runs llama.cpp built here with native CPU flags, the local side
// node-llama-cpp's prebuilt binary; their logits differ in the last float bits (KL of a file against
// itself served: < 1e-5 nats, see kld.test.ts), which moves these figures by far less than the
// parity suite's 2% / 1e-4; a position off by one or a wrong tail bucket moves them by far more.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { kldCommand } from "../../../server/src/cli/kld";
import { ensureQuickstartModels } from "../../../server/src/modelgen/quickstart";
import { llamaBinDir, startLlamaServer, type LlamaServer } from "../../helpers/llama-server";
import { startMockServer, type MockServer } from "../../helpers/mock-server";
import { FIXTURES, tempDir } from "../../helpers/paths";
import { runCommand } from "../compare/quickstart";
import { served, servedWorkspace, STORIES, type ServedWorkspace } from "./helpers";

const TEXT = path.join(FIXTURES, "kld", "tinystories.txt");
const CTX = 128;
const CHUNKS = 4;

let q4: string;
let server: LlamaServer;
let vllm: MockServer;
let ollama: MockServer;
let proxies: MockServer[];
let other: LlamaServer;
let ws: ServedWorkspace;

before(async () => {
  q4 = path.join(tempDir("driftlens-served-kld-"), "stories-q4_0.gguf");
  execFileSync(path.join(llamaBinDir(), "llama-quantize"), [STORIES, q4, "q4_0", "1"], { stdio: "ignore" });
  server = await startLlamaServer({ model: q4, slots: 2 });
  vllm = await startMockServer({ upstream: server, personality: "vllm" });
  ollama = await startMockServer({ upstream: server, personality: "ollama" });
  // Two endpoints of one variant (plain proxies that count requests): a run spreads chunks over both.
  proxies = await Promise.all([0, 1].map(() => startMockServer({ upstream: server, personality: "llama-server" })));
  // Another model with another vocabulary (the quickstart's generated tiny model).
  other = await startLlamaServer({ model: ensureQuickstartModels(tempDir("driftlens-served-kld-qs-")).q4_0 });
  ws = servedWorkspace({
    q4: JSON.stringify(q4),
    served_q4: served([server.url]),
    vllm_q4: served([vllm.url], "model: mock-model, template: completion"),
    ollama_q4: served([ollama.url], "model: mock-model, template: completion"),
    pair_q4: served(proxies.map((p) => p.url)),
    other: served([other.url]),
  });
});

after(async () => {
  await Promise.all([vllm?.close(), ollama?.close(), ...(proxies ?? []).map((p) => p.close())]);
  await Promise.all([server?.stop(), other?.stop()]);
});

interface Variant {
  variant: string;
  method: string;
  topK?: number;
  source?: string;
  ppl: { value: number; reference: number };
  kld: Record<string, number>;
  sameTop: { rate: number };
}

async function kld(variants: string[], format = "json") {
  return runCommand(kldCommand, ["--reference", "story/local", ...variants.flatMap((v) => ["--variant", v]), "--text", TEXT, "--ctx", String(CTX), "--chunks", String(CHUNKS), "--threads", "1", "--format", format], ws.root);
}

const PERCENTILES = ["mean", "max", "p99", "p95", "p90", "median", "p10", "p5", "p1", "min"];
const rel = (x: number, y: number) => Math.abs(x - y) / Math.max(Math.abs(y), 1e-12);

test("llama-server's n_probs over the whole vocabulary gives the local file's figures; vLLM's top 20 a lower bound with the same PPL", async (t) => {
  const r = await kld(["story/q4", "story/served_q4", "story/vllm_q4"]);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as { tokens: number; vocab: number; variants: Variant[] };
  assert.equal(j.tokens, CHUNKS * (CTX - 1 - CTX / 2));
  assert.equal(j.vocab, 512);
  assert.deepEqual(
    j.variants.map((v) => v.variant),
    ["story/q4", "story/served_q4", "story/vllm_q4"],
    "the command line's order",
  );
  const [local, srv, vl] = j.variants as [Variant, Variant, Variant];
  for (const v of j.variants) t.diagnostic(`${v.variant}: PPL ${v.ppl.value} (ref ${v.ppl.reference}); KLD mean ${v.kld.mean} p99 ${v.kld.p99} median ${v.kld.median} max ${v.kld.max}; same top ${v.sameTop.rate}`);
  assert.equal(local.method, "full-vocabulary");
  assert.ok(local.kld.mean! > 1e-3, `Q4_0 diverges measurably from F32 on stories260K (${local.kld.mean})`);

  assert.equal(srv.method, "top-K");
  assert.equal(srv.topK, 512);
  assert.match(srv.source ?? "", /llama-server \/completion n_probs per position \(top 512, the whole vocabulary\)/);
  assert.ok(rel(srv.ppl.value, local.ppl.value) < 1e-3, `PPL ${srv.ppl.value} vs ${local.ppl.value}`);
  assert.equal(srv.ppl.reference, local.ppl.reference, "the same reference pass");
  for (const k of PERCENTILES) {
    const x = srv.kld[k]!;
    const y = local.kld[k]!;
    assert.ok(Math.abs(x - y) <= 1e-4 || rel(x, y) <= 0.02, `KLD ${k}: served ${x} vs local ${y}`);
  }
  assert.ok(Math.abs(srv.sameTop.rate - local.sameTop.rate) <= 0.005, `same top ${srv.sameTop.rate} vs ${local.sameTop.rate}`);

  assert.equal(vl.topK, 20);
  assert.match(vl.source ?? "", /vLLM prompt_logprobs \(top 20\)/);
  // The next token's log-probability is always listed: PPL is exact.
  assert.ok(rel(vl.ppl.value, local.ppl.value) < 1e-3, `PPL ${vl.ppl.value} vs ${local.ppl.value}`);
  // KL over 20 ids + one bucket for the rest never exceeds the full KL (the log-sum inequality).
  assert.ok(vl.kld.mean! <= local.kld.mean! * 1.02 + 1e-6, `top-20 mean KLD ${vl.kld.mean} vs full ${local.kld.mean}`);
  assert.ok(vl.kld.mean! >= 0.5 * local.kld.mean!, `top-20 mean KLD ${vl.kld.mean} keeps most of the full ${local.kld.mean} on a 512-token vocabulary`);
  assert.ok(Math.abs(vl.sameTop.rate - local.sameTop.rate) <= 0.005, `same top ${vl.sameTop.rate} vs ${local.sameTop.rate}`);

  const text = await kld(["story/served_q4", "story/vllm_q4"], "text");
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /Note: story\/served_q4: the whole vocabulary from llama-server \/completion n_probs per position \(top 512, the whole vocabulary\)/);
  assert.match(text.out, /Note: story\/vllm_q4: top-20 log-probabilities only from vLLM prompt_logprobs \(top 20\) \(KL over those ids \+ the rest of the mass, a lower bound\)/);
});

test("a served variant with two endpoints spreads its chunks over both, with the one-endpoint figures", async () => {
  const before = proxies.map((p) => p.requests.filter((q) => q.path === "/completion").length);
  const r = await kld(["story/served_q4", "story/pair_q4"]);
  assert.equal(r.code, 0, r.err);
  const [one, two] = (JSON.parse(r.out) as { variants: Variant[] }).variants as [Variant, Variant];
  const counts = proxies.map((p, i) => p.requests.filter((q) => q.path === "/completion").length - before[i]!);
  assert.equal(counts[0]! + counts[1]!, CHUNKS * (CTX - 1 - CTX / 2), `one /completion per scored position (${counts})`);
  assert.ok(counts.every((c) => c > 0), `both endpoints served chunks (${counts})`);
  for (const k of PERCENTILES) assert.ok(Math.abs(two.kld[k]! - one.kld[k]!) <= 1e-6 || rel(two.kld[k]!, one.kld[k]!) < 1e-3, `KLD ${k}: ${two.kld[k]} vs ${one.kld[k]}`);
});

test("gate.maxKld: a top-K figure under the limit is flagged as a lower bound; a whole-vocabulary one is not", async () => {
  const yaml = path.join(ws.root, "driftlens.yaml");
  const before = fs.readFileSync(yaml, "utf8");
  fs.writeFileSync(yaml, `${before}gate: {maxKld: 1}\n`);
  try {
    const r = await kld(["story/served_q4", "story/vllm_q4"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /story\/vllm_q4: mean KLD [0-9.e-]+ is within gate\.maxKld 1, but from the top 20 of 512 tokens only, a lower bound/);
    assert.doesNotMatch(r.err, /story\/served_q4/);
  } finally {
    fs.writeFileSync(yaml, before);
  }
});

test("a server without prompt logprobs, a served reference or another model's vocabulary is refused with what to do", async () => {
  const o = await kld(["story/ollama_q4"]);
  assert.equal(o.code, 2);
  assert.match(o.err, /story\/ollama_q4: no KL: this server \(Ollama\) returns no prompt logprobs/);
  const ref = await runCommand(kldCommand, ["--reference", "story/served_q4", "--variant", "story/q4", "--text", TEXT, "--ctx", String(CTX), "--chunks", "1"], ws.root);
  assert.equal(ref.code, 2);
  assert.match(ref.err, /--reference story\/served_q4 is a served variant: .*use a local GGUF variant as the reference/);
  const vocab = await kld(["story/other"]);
  assert.equal(vocab.code, 2);
  assert.match(vocab.err, /story\/other has a vocabulary of \d+ tokens and the reference story\/local one of 512: .*compare variants of the same model/);
});

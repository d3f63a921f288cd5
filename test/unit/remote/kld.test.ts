// Teacher-forced KL between served and local variants of the quickstart family (real llama-server
// processes on the generated F32 and Q4_0 files), either side the reference, scored on exactly the
// positions a local comparison scores; vLLM's prompt_logprobs shape and a server without prompt
// logprobs through MOCK proxies in front of a real llama-server.
//
// Tolerances, and why:
// - Served and local on the same file: both run the same llama.cpp version, but the server is built
//   here with native CPU flags and node-llama-cpp ships its own prebuilt binary, so logits differ
//   in the last float bits: KL below 1e-5 nats (Q4_0 vs F32 on this model is ~1e-2, 1,000x more).
// - Served vs local across quantizations against the local-vs-local figure: within 2% of it
//   (relative) plus 1e-6. The same float noise moves the figure by far less than 1%; a scoring bug
//   (a position off by one, a wrong probe, a missing tail bucket) moves it by orders of magnitude.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { compareCommand } from "../../../server/src/cli/compare";
import type { CompareReport, CompareVariant } from "../../../server/src/eval/report/types";
import { startLlamaServer, type LlamaServer } from "../../helpers/llama-server";
import { startMockServer, type MockServer } from "../../helpers/mock-server";
import { quickstartCopy, runCommand } from "../compare/quickstart";

let dir: string;
let f32: LlamaServer;
let q4: LlamaServer;
let vllm: MockServer;
let ollama: MockServer;

before(async () => {
  dir = quickstartCopy("driftlens-remote-kld-");
  [f32, q4] = await Promise.all([startLlamaServer({ model: path.join(dir, "models", "tiny-f32.gguf") }), startLlamaServer({ model: path.join(dir, "models", "tiny-q4_0.gguf") })]);
  vllm = await startMockServer({ upstream: f32, personality: "vllm" });
  ollama = await startMockServer({ upstream: f32, personality: "ollama" });
  const yaml = fs.readFileSync(path.join(dir, "driftlens.yaml"), "utf8");
  fs.writeFileSync(
    path.join(dir, "driftlens.yaml"),
    yaml.replace(
      "      q4_0: models/tiny-q4_0.gguf\n",
      [
        "      q4_0: models/tiny-q4_0.gguf",
        `      served_f32: {endpoints: [${f32.url}]}`,
        `      served_q4_0: {endpoints: [${q4.url}]}`,
        `      vllm_f32: {endpoints: [${vllm.url}], model: mock-model, template: completion}`,
        `      ollama_f32: {endpoints: [${ollama.url}], model: mock-model, template: completion}`,
        "",
      ].join("\n"),
    ),
  );
});

after(async () => {
  await Promise.all([vllm?.close(), ollama?.close()]);
  await Promise.all([f32?.stop(), q4?.stop()]);
});

async function compare(args: string[]): Promise<CompareReport> {
  const r = await runCommand(compareCommand, [...args, "--evals", "capitals.eval.yaml", "--format", "json"], dir);
  assert.ok(r.code === 0 || r.code === 1, r.err);
  return JSON.parse(r.out) as CompareReport;
}

const variantOf = (r: CompareReport, id: string): CompareVariant => r.variants.find((v) => v.variant === id)!;
const positions = (v: CompareVariant) => Object.fromEntries(v.kldCases.map((c) => [c.id, c.positions]));

test("served vs local on the same file: KL near zero with the served side as reference or as candidate, on the local positions", async () => {
  const local = await compare(["--variant", "tiny/f16", "--reference", "tiny/f32"]);
  const servedRef = await compare(["--variant", "tiny/f32", "--reference", "tiny/served_f32"]);
  const servedCand = await compare(["--variant", "tiny/served_f32", "--reference", "tiny/f32"]);
  const a = variantOf(servedRef, "tiny/f32");
  const b = variantOf(servedCand, "tiny/served_f32");
  for (const v of [a, b]) {
    assert.ok(v.kld.max < 1e-5, `${v.variant} vs ${v.comparedTo}: max KL ${v.kld.max}`);
    assert.equal(v.top1Agreement, 1);
    assert.equal(v.divergedCases, 0);
    assert.equal(v.flips.length, 0);
    assert.deepEqual(positions(v), positions(variantOf(local, "tiny/f16")), "the same positions as a local comparison");
    assert.match(v.kldSource ?? "", /llama-server \/completion n_probs per position \(the whole vocabulary up to 1024 tokens/);
  }
});

test("served vs local across quantizations is within 2% of the local-vs-local KL, either side the reference", async () => {
  const ll = variantOf(await compare(["--variant", "tiny/q4_0", "--reference", "tiny/f32"]), "tiny/q4_0");
  const rl = variantOf(await compare(["--variant", "tiny/q4_0", "--reference", "tiny/served_f32"]), "tiny/q4_0");
  const lr = variantOf(await compare(["--variant", "tiny/served_q4_0", "--reference", "tiny/f32"]), "tiny/served_q4_0");
  assert.ok(ll.kld.mean > 1e-4, `Q4_0 diverges measurably from F32 (${ll.kld.mean})`);
  for (const v of [rl, lr]) {
    const tol = 0.02 * ll.kld.mean + 1e-6;
    assert.ok(Math.abs(v.kld.mean - ll.kld.mean) <= tol, `${v.variant} vs ${v.comparedTo}: mean KL ${v.kld.mean} vs local ${ll.kld.mean}`);
    assert.ok(Math.abs(v.kld.max - ll.kld.max) <= 0.02 * ll.kld.max + 1e-6, `max KL ${v.kld.max} vs ${ll.kld.max}`);
    assert.equal(v.top1Agreement, ll.top1Agreement);
    assert.equal(v.divergedCases, ll.divergedCases);
    assert.deepEqual(positions(v), positions(ll));
    assert.deepEqual(
      v.flips.map((f) => f.id),
      ll.flips.map((f) => f.id),
      "the same flips (iceland) as locally",
    );
  }
});

test("vLLM's prompt_logprobs (MOCK vLLM in front of a real llama-server): KL as local, and the K used is reported when capped at 20", async () => {
  const ll = variantOf(await compare(["--variant", "tiny/q4_0", "--reference", "tiny/f32"]), "tiny/q4_0");
  const v = variantOf(await compare(["--variant", "tiny/q4_0", "--reference", "tiny/vllm_f32"]), "tiny/q4_0");
  assert.deepEqual(positions(v), positions(ll), "the same positions as a local comparison");
  assert.ok(Math.abs(v.kld.mean - ll.kld.mean) <= 0.02 * ll.kld.mean + 1e-6, `mean KL ${v.kld.mean} vs local ${ll.kld.mean}`);
  assert.match(v.kldSource ?? "", /vLLM prompt_logprobs \(top 20\)/);
  assert.equal(v.kldTopK, 20);
  const wide = await runCommand(compareCommand, ["--variant", "tiny/q4_0", "--reference", "tiny/vllm_f32", "--evals", "capitals.eval.yaml", "--top-k", "32"], dir);
  assert.match(wide.out, /reference top-20, not 32/);
  // As a candidate, vLLM's ≤ 20 alternatives hold every reference top-20 id on this model.
  const cand = variantOf(await compare(["--variant", "tiny/vllm_f32", "--reference", "tiny/q4_0"]), "tiny/vllm_f32");
  const back = variantOf(await compare(["--variant", "tiny/f32", "--reference", "tiny/q4_0"]), "tiny/f32");
  assert.ok(Math.abs(cand.kld.mean - back.kld.mean) <= 0.02 * back.kld.mean + 1e-6, `vLLM candidate ${cand.kld.mean} vs local ${back.kld.mean}`);
});

test("a server without prompt logprobs (MOCK Ollama /v1): 'no KL' with the reason, and the rest of the comparison", async () => {
  const r = await compare(["--variant", "tiny/ollama_f32", "--reference", "tiny/q4_0"]);
  const v = variantOf(r, "tiny/ollama_f32");
  assert.match(v.kldUnavailable ?? "", /no KL: this server \(Ollama\) returns no prompt logprobs/);
  assert.equal(v.cases, 60);
  assert.deepEqual(
    v.flips.map((f) => f.id),
    ["iceland"],
    "pass rates and flips are still compared",
  );
  const text = await runCommand(compareCommand, ["--variant", "tiny/ollama_f32", "--reference", "tiny/q4_0", "--evals", "capitals.eval.yaml"], dir);
  assert.match(text.out, /no KL: this server \(Ollama\) returns no prompt logprobs/);
  const md = await runCommand(compareCommand, ["--variant", "tiny/ollama_f32", "--reference", "tiny/q4_0", "--evals", "capitals.eval.yaml", "--format", "markdown"], dir);
  assert.match(md.out, /\| no KL \|/);
});

// LoRA adapters on a served variant, applied by the server by name: a real llama-server on the
// quickstart F32 model, started with the quickstart's endonyms adapter loaded but not applied
// (`--lora FILE --lora-init-without-apply`), as docs/scale.md tells users to start it. Driftlens
// names the adapter per request (llama-server's `lora: [{id, scale}]`), so one server answers both
// `tiny/served` and `tiny/served+endonyms`, each exactly as the in-process engine answers the same
// variant on the same files; an adapter the server has not loaded fails with the reason.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { evalCommand } from "../../../server/src/cli/eval";
import { startLlamaServer, type LlamaServer } from "../../helpers/llama-server";
import { quickstartCopy, runCommand } from "../compare/quickstart";

interface Json {
  runs: { variant: string; status: string; error?: string; summary: { passed: number; failed: number; errors?: number }; cases: { id: string; output: string; pass: boolean; tokens: { token: number }[]; error?: string }[] }[];
}

let dir: string;
let server: LlamaServer;

before(async () => {
  dir = quickstartCopy("driftlens-remote-lora-");
  server = await startLlamaServer({
    model: path.join(dir, "models", "tiny-f32.gguf"),
    args: ["--lora", path.join(dir, "models", "endonyms.lora.gguf"), "--lora-init-without-apply"],
  });
  const yaml = fs.readFileSync(path.join(dir, "driftlens.yaml"), "utf8");
  fs.writeFileSync(path.join(dir, "driftlens.yaml"), yaml.replace("      q4_0: models/tiny-q4_0.gguf\n", `      q4_0: models/tiny-q4_0.gguf\n      served: {endpoints: [${server.url}]}\n`));
});

after(async () => {
  await server?.stop();
});

async function evalOn(variants: string[], codes = [0, 1]): Promise<Json> {
  const r = await runCommand(evalCommand, ["endonyms.eval.yaml", ...variants.flatMap((v) => ["--variant", v]), "--format", "json", "--no-cache"], dir);
  assert.ok(codes.includes(r.code), `exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as Json;
}

const byId = (run: Json["runs"][number]) => Object.fromEntries(run.cases.map((c) => [c.id, [c.pass, c.output, c.tokens.map((t) => t.token)]]));

test("an adapter named on a served variant is applied by the server: the same answers as the local engine with and without it", async () => {
  const report = await evalOn(["tiny/f32", "tiny/served", "tiny/f32+endonyms@1", "tiny/served+endonyms@1"]);
  const run = (v: string) => {
    const r = report.runs.find((x) => x.variant === v);
    assert.ok(r, `a run of ${v} (runs: ${report.runs.map((x) => x.variant).join(", ")})`);
    assert.equal(r.status, "complete", `${v}: ${r.error ?? ""}`);
    return r;
  };
  assert.deepEqual(byId(run("tiny/served")), byId(run("tiny/f32")));
  assert.deepEqual(byId(run("tiny/served+endonyms@1")), byId(run("tiny/f32+endonyms@1")));
  // The adapter really changed the answers (the base model gives the English names by design).
  const italy = (v: string) => run(v).cases.find((c) => c.id === "italy-endonym")!;
  assert.match(italy("tiny/served+endonyms@1").output, /Roma/);
  assert.doesNotMatch(italy("tiny/served").output, /Roma/);
  assert.ok(run("tiny/served+endonyms@1").summary.passed > run("tiny/served").summary.passed);
});

test("an adapter the server has not loaded: the variant fails with the reason, nothing is generated in its name", async () => {
  const report = await evalOn(["tiny/served+formal"], [2]);
  const r = report.runs[0]!;
  assert.equal(r.status, "failed");
  assert.match(r.error ?? "", /no endpoint can apply its adapters: http:\/\/127\.0\.0\.1:\d+\/v1 has no LoRA adapter 'formal' loaded \(it has endonyms\.lora\.gguf\)/);
  assert.equal(r.cases.filter((c) => c.output).length, 0, "no base-model output stored under the adapter's name");
});

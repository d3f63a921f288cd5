// Memory of `driftlens kld` stays flat as the text grows: peak resident memory of the engine
// process and of the CLI process for 4 chunks and for 64 chunks differ by less than 10%, on
// stories260K (512-token vocabulary) and on the converter-made tiny model with LLaMA-2's
// 32,000-token vocabulary, where anything kept per position and vocabulary entry would show at once.
// Real processes: node dist/cli.js kld --format json, which reports both peaks.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { DIST, FIXTURES, SHARED, TINY_RANDOM_GGUF } from "../../helpers/paths";

const TEXT = path.join(FIXTURES, "kld", "tinystories.txt");

function peaks(model: string, ctx: number, chunks: number): { engine: number; cli: number; tokens: number } {
  const r = spawnSync(process.execPath, [path.join(DIST, "cli.js"), "kld", "--reference", model, "--variant", model, "--text", TEXT, "--ctx", String(ctx), "--chunks", String(chunks), "--threads", "1", "--format", "json"], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.chunks, chunks);
  return { engine: j.memory.enginePeakRssBytes, cli: j.memory.peakRssBytes, tokens: j.tokens };
}

for (const [name, model, ctx] of [
  ["stories260K (512-token vocabulary)", path.join(SHARED, "models", "stories260K.gguf"), 64],
  ["llama-2-tiny-random (32,000-token vocabulary)", TINY_RANDOM_GGUF, 8],
] as const) {
  test(`peak memory of driftlens kld, 4 vs 64 chunks, within 10%: ${name}`, (t) => {
    const small = peaks(model, ctx, 4);
    const large = peaks(model, ctx, 64);
    assert.equal(large.tokens, 16 * small.tokens);
    const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
    t.diagnostic(`engine ${mib(small.engine)} → ${mib(large.engine)}; cli ${mib(small.cli)} → ${mib(large.cli)}; ${small.tokens} → ${large.tokens} scored tokens`);
    assert.ok(Math.abs(large.engine - small.engine) / small.engine < 0.1, `engine: ${mib(small.engine)} at 4 chunks, ${mib(large.engine)} at 64`);
    assert.ok(Math.abs(large.cli - small.cli) / small.cli < 0.1, `cli: ${mib(small.cli)} at 4 chunks, ${mib(large.cli)} at 64`);
  });
}

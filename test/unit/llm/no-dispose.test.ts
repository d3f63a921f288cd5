// A caller that forgets EngineClient.dispose() (a CLI command returning early) must still exit:
// an idle worker does not keep the parent's event loop alive. This file runs itself as the child.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { EngineClient } from "../../../server/src/llm/client";
import { TINY_RANDOM_GGUF } from "../../helpers/paths";

const CHILD = "DRIFTLENS_TEST_NO_DISPOSE_CHILD";

if (process.env[CHILD]) {
  void (async () => {
    const client = await EngineClient.start({ gpu: "auto", threads: 1, contextSize: 256, parallelSequences: 1, memoryBudgetBytes: 1e9 });
    const r = await client.generate({
      id: "x",
      model: { variant: "tiny/random", modelPath: TINY_RANDOM_GGUF, adapters: [] },
      messages: [{ role: "user", text: "hello" }],
      params: { temperature: 0, maxTokens: 3, stop: [], seed: 1 },
      topLogprobs: 0,
    });
    process.stdout.write(`generated ${r.tokens.length} pid ${client.pid}\n`);
    // no dispose(): the process must end by itself
  })();
} else {
  test("a client that is never disposed lets its process exit, and the worker goes with it", () => {
    const r = spawnSync(process.execPath, [__filename], { env: { ...process.env, [CHILD]: "1" }, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.error, undefined, "the child did not exit on its own within 60 s");
    assert.equal(r.status, 0, r.stderr);
    const m = /generated 3 pid (\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    // The worker saw its parent go and exited (give it a moment).
    const pid = Number(m[1]);
    const deadline = Date.now() + 10_000;
    let alive = true;
    while (alive && Date.now() < deadline) {
      try {
        process.kill(pid, 0);
        spawnSync("sleep", ["0.1"]);
      } catch {
        alive = false;
      }
    }
    assert.equal(alive, false, `worker ${pid} still running`);
  });
}

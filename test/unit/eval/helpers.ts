// Shared set-up for eval runner and CLI tests: a temporary workspace from test/fixtures/eval/basic
// with a driftlens.yaml naming the real tiny GGUF plus broken variants (missing file, truncated
// file, a file over the memory budget, an adapter for another architecture).
import fs from "node:fs";
import path from "node:path";
import type { RunnerEngine } from "../../../server/src/eval/runner";
import { GgufWriter } from "../../../server/src/gguf/writer";
import { EngineClient } from "../../../server/src/llm/client";
import type { EngineSettings } from "../../../server/src/llm/types";
import { GgmlType } from "../../../server/src/gguf/constants";
import { FIXTURES, TINY_RANDOM_GGUF, tempDir } from "../../helpers/paths";

export interface TestWorkspace {
  root: string;
  prompt: string;
  evalSet: string;
  store: string;
  files: { missing: string; corrupt: string; big: string; wrongAdapter: string };
  /** A budget the tiny model fits in and the padded "big" copy does not. */
  memoryBudgetBytes: number;
}

export function makeWorkspace(prefix = "driftlens-eval-"): TestWorkspace {
  const root = tempDir(prefix);
  const src = path.join(FIXTURES, "eval", "basic");
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(root, f));
  const models = path.join(root, "models");
  fs.mkdirSync(models);
  const tiny = fs.readFileSync(TINY_RANDOM_GGUF);
  const missing = path.join(models, "missing.gguf");
  const corrupt = path.join(models, "corrupt.gguf");
  fs.writeFileSync(corrupt, tiny.subarray(0, Math.floor(tiny.length / 2)));
  const big = path.join(models, "big.gguf");
  fs.writeFileSync(big, Buffer.concat([tiny, Buffer.alloc(4 * 1024 * 1024)]));
  // A LoRA adapter whose header says gpt2: llama-architecture bases must refuse it.
  const wrongAdapter = path.join(models, "wrong.lora.gguf");
  const g = new GgufWriter();
  g.set("general.architecture", "string", "gpt2");
  g.set("general.type", "string", "adapter");
  g.set("adapter.type", "string", "lora");
  g.set("adapter.lora.alpha", "f32", 1);
  g.addTensor("output.weight.lora_a", [8, 2], GgmlType.F32, new Uint8Array(8 * 2 * 4));
  g.addTensor("output.weight.lora_b", [2, 32000], GgmlType.F32, new Uint8Array(2 * 32000 * 4));
  g.write(wrongAdapter);
  fs.writeFileSync(path.join(root, "wrong.adapter.yaml"), `file: models/wrong.lora.gguf\nbase: {model: tiny/rnd}\nscale: 1\n`);
  fs.writeFileSync(
    path.join(root, "driftlens.yaml"),
    [
      "models:",
      "  tiny:",
      "    reference: rnd",
      "    variants:",
      `      rnd: ${JSON.stringify(TINY_RANDOM_GGUF)}`,
      "      missing: models/missing.gguf",
      "      corrupt: models/corrupt.gguf",
      "      big: models/big.gguf",
      "engine: {gpu: cpu, threads: 1, contextSize: 512, parallelSequences: 1, memoryBudget: 3MiB}",
      "store: .driftlens/store.db",
      "",
    ].join("\n"),
  );
  return {
    root,
    prompt: path.join(root, "capital.prompt"),
    evalSet: path.join(root, "capitals.eval.yaml"),
    store: path.join(root, ".driftlens", "store.db"),
    files: { missing, corrupt, big, wrongAdapter },
    memoryBudgetBytes: 3 * 1024 * 1024,
  };
}

/** Engine settings for runner tests on the tiny model: CPU, one thread, explicit everything. */
export const TEST_ENGINE_SETTINGS: EngineSettings = { gpu: "cpu", threads: 1, contextSize: 512, parallelSequences: 1, memoryBudgetBytes: 4 * 1024 ** 3 };

/**
 * The runner's engine factory over real EngineClients; `clients` are those it started, in order
 * (their count is the number of engine starts: a fully cached run must start none); dispose()
 * stops them all.
 */
export function engineFactory(settings: EngineSettings = TEST_ENGINE_SETTINGS): { engine: () => Promise<RunnerEngine>; clients: readonly EngineClient[]; dispose: () => Promise<void> } {
  const clients: EngineClient[] = [];
  return {
    engine: async () => {
      const c = await EngineClient.start(settings);
      clients.push(c);
      return c;
    },
    clients,
    dispose: async () => {
      for (const c of clients) await c.dispose();
    },
  };
}

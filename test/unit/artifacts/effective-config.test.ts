// The editor's settings over driftlens.yaml, merged in one place (artifacts/effective-config.ts).
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { parseConfigText } from "../../../server/src/artifacts/config";
import { effectiveConfig } from "../../../server/src/artifacts/effective-config";
import { parseServerSettings } from "../../../server/src/protocol/settings";

const root = path.resolve("/ws");
const yaml = `engine:\n  gpu: cpu\n  threads: 3\n  contextSize: 1024\ngate:\n  maxPassRateDrop: 0.05\n  maxSliceDrop: 0.2\n  alpha: 0.1\nstore: .driftlens/runs.db\n`;
const cfg = parseConfigText(root, yaml, path.join(root, "driftlens.yaml")).config;

test("unset settings keep driftlens.yaml's values", () => {
  const merged = effectiveConfig(cfg, parseServerSettings({}).settings);
  assert.deepEqual(merged.gate, { maxPassRateDrop: 0.05, maxSliceDrop: 0.2, alpha: 0.1 });
  assert.deepEqual(merged.engine, cfg.engine);
  assert.equal(merged.store, path.join(root, ".driftlens/runs.db"));
  assert.equal(effectiveConfig(cfg, undefined), cfg);
});

test("each set setting wins, key by key", () => {
  const { settings } = parseServerSettings({ gate: { maxSliceDrop: 0.05 }, engine: { threads: 0, memoryBudgetMb: 256 }, store: { path: "other/s.db" } });
  const merged = effectiveConfig(cfg, settings);
  assert.deepEqual(merged.gate, { maxPassRateDrop: 0.05, maxSliceDrop: 0.05, alpha: 0.1 });
  assert.equal(merged.engine.threads, "auto", "threads 0 asks for a measured count");
  assert.equal(merged.engine.memoryBudgetBytes, 256 * 1024 * 1024);
  assert.equal(merged.engine.gpu, "cpu");
  assert.equal(merged.engine.contextSize, 1024);
  assert.equal(merged.store, path.join(root, "other/s.db"));
});

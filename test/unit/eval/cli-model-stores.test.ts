// `driftlens eval` and `driftlens check` (the bundled CLI, the real engine) on models kept in a
// Hugging Face cache, an LM Studio folder and an Ollama store, found through the stores' own
// environment variables: the quickstart model runs from each store (Q4_0 from Ollama flips the
// Iceland case exactly as the quickstart's Q4_0 does, so the blob really is what ran); a variant
// whose manifest names a missing blob is DL141 in `check` and exit 2 with the same message in
// `eval`; and the read-only stores are byte-for-byte unchanged afterwards.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import { buildFakeStores, makeReadOnly, snapshotTree, type FakeStores } from "../../helpers/model-stores";
import { DIST, tempDir } from "../../helpers/paths";

const CLI = path.join(DIST, "cli.js");

interface JsonReport {
  runs: { variant: string; status: string; modelPath?: string; error?: string; summary: { cases: number; passed: number; failed: number }; cases: { id: string; output: string; pass: boolean }[] }[];
  errors: unknown[];
}

let fake: FakeStores;
let root: string;
let env: NodeJS.ProcessEnv;
let snapshots: Record<string, ReturnType<typeof snapshotTree>>;
const storeRoots = () => [fake.hub, path.dirname(fake.lmstudio), fake.ollama];

function run(cmd: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, cmd, ...args], { cwd: root, encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  const dir = tempDir("driftlens-cli-stores-");
  fake = buildFakeStores(path.join(dir, "stores"));
  makeReadOnly(fake.home);
  snapshots = Object.fromEntries(storeRoots().map((r) => [r, snapshotTree(r)]));
  root = path.join(dir, "ws");
  fs.mkdirSync(root);
  fs.writeFileSync(
    path.join(root, "driftlens.yaml"),
    [
      "models:",
      "  tiny:",
      "    reference: f32",
      "    variants:",
      "      f32: {ollama: 'tiny:f32'}",
      "      q4:",
      "        ollama: tiny:q4",
      "      q8: hf:driftlens/tiny-GGUF/tiny-q8_0.gguf",
      "      broken: {ollama: 'broken:missing-blob'}",
      "  shelf:",
      "    scan: lmstudio:driftlens/tiny-GGUF",
      "engine: {gpu: cpu, threads: 1, contextSize: 256, parallelSequences: 1}",
      "",
    ].join("\n"),
  );
  fs.writeFileSync(path.join(root, "capital.prompt"), "---\nmodel: tiny/f32\nconfig: {temperature: 0, maxOutputTokens: 8}\ninput:\n  schema:\n    country: string\n---\n{{role \"user\"}}What is the capital of {{country}}?\n");
  const cases = [
    ["france", "France", "Paris"],
    ["japan", "Japan", "Tokyo"],
    ["iceland", "Iceland", "Reykjavik"],
  ];
  fs.writeFileSync(
    path.join(root, "capitals.eval.yaml"),
    `prompt: capital.prompt\ncases:\n${cases.map(([id, c, a]) => `  - id: ${id}\n    vars: {country: ${c}}\n    assert: [{type: icontains, value: ${a}}]\n    why: capital\n`).join("")}`,
  );
  env = { ...process.env, HF_HUB_CACHE: fake.hub, LMSTUDIO_HOME: path.dirname(fake.lmstudio), OLLAMA_MODELS: fake.ollama };
  for (const k of ["HF_HOME", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME"]) delete env[k];
});

describe("driftlens eval and check on models in stores", () => {
  test("the quickstart model runs from Ollama, the hub cache and LM Studio", () => {
    const report = (variant: string) => {
      const r = run("eval", ["capitals.eval.yaml", "--variant", variant, "--format", "json", "--no-cache"]);
      const j = JSON.parse(r.stdout) as JsonReport;
      assert.equal(j.runs.length, 1, r.stderr);
      assert.equal(j.runs[0]!.status, "complete", `${variant}: ${j.runs[0]!.error ?? r.stderr}`);
      return { code: r.code, run: j.runs[0]! };
    };
    const f32 = report("tiny/f32");
    assert.equal(f32.code, 0);
    assert.equal(f32.run.modelPath, path.join(fake.ollama, "blobs", `sha256-${fake.sha.f32}`));
    assert.equal(f32.run.summary.passed, 3);
    const q4 = report("tiny/q4");
    assert.equal(q4.code, 1, "Q4_0 loses the Iceland case");
    assert.equal(q4.run.modelPath, path.join(fake.ollama, "blobs", `sha256-${fake.sha.q4_0}`));
    const iceland = q4.run.cases.find((c) => c.id === "iceland")!;
    assert.equal(iceland.pass, false);
    assert.match(iceland.output, /Oslo/);
    const q8 = report("tiny/q8");
    assert.equal(q8.code, 0);
    assert.equal(q8.run.modelPath, path.join(fake.hub, "models--driftlens--tiny-GGUF", "snapshots", fake.commit, "tiny-q8_0.gguf"));
    const shelf = report("shelf/f16");
    assert.equal(shelf.code, 0);
    assert.equal(shelf.run.modelPath, path.join(fake.lmstudio, "driftlens", "tiny-GGUF", "tiny-f16.gguf"));
  });

  test("a manifest naming a missing blob: DL141 from check, exit 2 with the same message from eval", () => {
    const check = run("check", ["--format", "json"]);
    assert.equal(check.code, 1, check.stderr);
    const diags = JSON.parse(check.stdout) as { file: string; code: string; message: string; range: { start: { line: number } } }[];
    const d = diags.filter((x) => x.code === "DL141");
    assert.equal(d.length, 1, check.stdout);
    assert.equal(d[0]!.file, "driftlens.yaml");
    assert.equal(d[0]!.range.start.line, 8);
    assert.match(d[0]!.message, new RegExp(`names blob sha256-${fake.missingSha} for the model, which is missing`));
    const ev = run("eval", ["capitals.eval.yaml", "--variant", "tiny/broken"]);
    assert.equal(ev.code, 2, ev.stdout + ev.stderr);
    assert.ok((ev.stdout + ev.stderr).includes(d[0]!.message), `eval says: ${ev.stdout}${ev.stderr}`);
  });

  test("nothing in the stores was written", () => {
    for (const r of storeRoots()) assert.deepEqual(snapshotTree(r), snapshots[r], r);
  });
});

// Model stores through the bundled language server (stores found through their own environment
// variables): store problems as diagnostics on driftlens.yaml at the value naming them, hover
// showing where a variant's file came from, completion offering what the stores hold, and the
// read-only stores unchanged after all of it.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Hover, MarkupContent } from "vscode-languageserver-protocol/node";
import { buildFakeStores, makeReadOnly, snapshotTree, type FakeStores } from "../helpers/model-stores";
import { tempDir } from "../helpers/paths";
import { LspClient, positionOf, rangeOf } from "./client";

function hoverText(h: Hover | null): string {
  assert.ok(h, "a hover");
  return (h.contents as MarkupContent).value;
}

const CONFIG = [
  "models:",
  "  tiny:",
  "    reference: f32",
  "    variants:",
  "      f32: {ollama: 'tiny:f32'}",
  "      q4:",
  "        ollama: tiny:q4",
  "      q8:",
  "        hf: driftlens/tiny-GGUF",
  "        file: tiny-q8_0.gguf",
  "      broken: {ollama: broken:missing-blob}",
  "  shelf:",
  "    scan:",
  "      - hf:driftlens/tiny-GGUF",
  "      - lmstudio:driftlens/tiny-GGUF",
  "engine: {gpu: cpu, threads: 1, contextSize: 256, parallelSequences: 1}",
  "",
].join("\n");
const PROMPT = "---\nmodel: tiny/q4\n---\n{{role \"user\"}}What is the capital of France?\n";

describe("model stores in the language server", () => {
  let fake: FakeStores;
  let root: string;
  let client: LspClient;
  let configUri: string;
  let snapshot: ReturnType<typeof snapshotTree>;
  before(async () => {
    const dir = tempDir("driftlens-lsp-stores-");
    fake = buildFakeStores(path.join(dir, "stores"));
    makeReadOnly(fake.home);
    snapshot = snapshotTree(fake.home);
    root = path.join(dir, "ws");
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, "driftlens.yaml"), CONFIG);
    fs.writeFileSync(path.join(root, "capital.prompt"), PROMPT);
    client = await LspClient.start({
      folders: [root],
      settings: { diagnosticsDebounceMs: 0, scanOnStartup: false, tokenCount: "estimate" },
      env: { HF_HUB_CACHE: fake.hub, LMSTUDIO_HOME: path.dirname(fake.lmstudio), OLLAMA_MODELS: fake.ollama, HF_HOME: "", HUGGINGFACE_HUB_CACHE: "" },
    });
    configUri = await client.open(path.join(root, "driftlens.yaml"));
  });
  after(async () => {
    await client?.stop();
  });

  it("reports a manifest naming a missing blob at the model name, and nothing else", async () => {
    const d = await client.waitForCode(configUri, "DL141");
    assert.deepEqual(d.range, rangeOf(CONFIG, "broken:missing-blob"));
    assert.match(d.message, new RegExp(`ollama:broken:missing-blob: manifest .* names blob sha256-${fake.missingSha} for the model, which is missing`));
    const all = client.published.get(configUri)!.diagnostics;
    assert.deepEqual(all.map((x) => x.code), ["DL141"]);
  });

  it("hover on an ollama value shows the store, tag, manifest, blob and sha256", async () => {
    const text = hoverText(await client.hover(configUri, positionOf(CONFIG, "tiny:q4", 0, 2)));
    assert.match(text, /\*\*tiny\/q4 \(reference: tiny\/f32\)\*\*/);
    assert.match(text, /quantization \| Q4_0/);
    assert.match(text, /Ollama: \*\*tiny:q4\*\*/);
    assert.match(text, /tag: q4/);
    assert.match(text, /manifest: `.*manifests\/registry\.ollama\.ai\/library\/tiny\/q4`/);
    assert.ok(text.includes(`blob: \``) && text.includes(`sha256-${fake.sha.q4_0}`), text);
    assert.ok(text.includes(`sha256: \`${fake.sha.q4_0}\` (from the store)`), text);
  });

  it("hover on a Hugging Face file and on the prompt's model ref show repo, revision and commit", async () => {
    const text = hoverText(await client.hover(configUri, positionOf(CONFIG, "tiny-q8_0.gguf", 0, 3)));
    assert.match(text, /Hugging Face cache: \*\*driftlens\/tiny-GGUF\*\*/);
    assert.ok(text.includes(`revision: main → ${fake.commit}`), text);
    assert.match(text, /file: tiny-q8_0\.gguf/);
    const promptUri = await client.open(path.join(root, "capital.prompt"));
    const p = hoverText(await client.hover(promptUri, positionOf(PROMPT, "tiny/q4", 0, 2)));
    assert.match(p, /Ollama: \*\*tiny:q4\*\*/);
  });

  it("hover on a scan entry lists each file, the variant it became, and duplicates", async () => {
    const hub = hoverText(await client.hover(configUri, positionOf(CONFIG, "hf:driftlens/tiny-GGUF", 0, 4)));
    assert.match(hub, /\*\*scan hf:driftlens\/tiny-GGUF\*\*/);
    assert.match(hub, /`hf:driftlens\/tiny-GGUF\/tiny-q4_0\.gguf` \(`Q4_0`\): variant \*\*shelf\/q4\\_0\*\*/);
    assert.match(hub, /`hf:driftlens\/tiny-GGUF\/tiny-q8_0\.gguf` \(`Q8_0`\): variant \*\*shelf\/q8\\_0\*\*/);
    const lms = hoverText(await client.hover(configUri, positionOf(CONFIG, "lmstudio:driftlens/tiny-GGUF", 0, 4)));
    assert.match(lms, /`lmstudio:driftlens\/tiny-GGUF\/tiny-q4_0\.gguf` \(`Q4_0`\): the same bytes as \*\*shelf\/q4\\_0\*\* \(listed once\)/);
    assert.match(lms, /tiny-f16\.gguf` \(`F16`\): variant \*\*shelf\/f16\*\*/);
  });

  it("completion offers the Ollama names in the store's manifests", async () => {
    const text = CONFIG.replace("        ollama: tiny:q4", "        ollama: ti");
    await client.change(configUri, text);
    const pos = positionOf(text, "ollama: ti", 0, "ollama: ti".length);
    const labels = (await client.completion(configUri, pos)).map((i) => i.label);
    for (const n of ["tiny:q4", "tiny:f32", "tiny:latest", "tinyv2:q8_0", "someone/custom:latest", "broken:missing-blob"]) assert.ok(labels.includes(n), `${n} in ${labels.join(", ")}`);
  });

  it("completion offers cached repos' files, store refs for scans and for string variants", async () => {
    const fileText = CONFIG.replace("        file: tiny-q8_0.gguf", "        file: t");
    await client.change(configUri, fileText);
    const files = (await client.completion(configUri, positionOf(fileText, "file: t", 0, 7))).map((i) => i.label);
    assert.deepEqual(files, ["tiny-q4_0.gguf", "tiny-q8_0.gguf"]);
    const scanText = CONFIG.replace("      - lmstudio:driftlens/tiny-GGUF", "      - ");
    await client.change(configUri, scanText);
    const scans = (await client.completion(configUri, { line: 14, character: 8 })).map((i) => i.label);
    for (const s of ["hf:driftlens/tiny-GGUF", "hf:driftlens/broken-GGUF", "lmstudio:driftlens/tiny-GGUF", "ollama:tiny", "ollama:tinyv2"]) assert.ok(scans.includes(s), `${s} in ${scans.join(", ")}`);
    const varText = CONFIG.replace("      broken: {ollama: broken:missing-blob}", "      other: ");
    await client.change(configUri, varText);
    const vals = (await client.completion(configUri, positionOf(varText, "other: ", 0, 7))).map((i) => i.label);
    for (const s of ["ollama:tiny:q4", "hf:driftlens/tiny-GGUF/tiny-q8_0.gguf", "lmstudio:driftlens/tiny-GGUF/tiny-f16.gguf"]) assert.ok(vals.includes(s), `${s} in ${vals.join(", ")}`);
    await client.change(configUri, CONFIG);
  });

  it("the prompt's model completion documents each variant's store", async () => {
    const text = "---\nmodel: \n---\nHi\n";
    const uri = await client.open(path.join(root, "other.prompt"), text);
    const items = await client.completion(uri, { line: 1, character: 7 });
    const q4 = items.find((i) => i.label === "tiny/q4");
    assert.equal(q4?.documentation, "ollama:tiny:q4");
    assert.equal(items.find((i) => i.label === "shelf/f16")?.documentation, "lmstudio:driftlens/tiny-GGUF/tiny-f16.gguf");
  });

  it("nothing in the stores was written", () => {
    assert.deepEqual(snapshotTree(fake.home), snapshot);
  });
});

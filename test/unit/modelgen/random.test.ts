// writeRandomLlama: valid llama GGUF files of any size that node-llama-cpp loads and runs.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ggufFacts, readGgufHeader } from "../../../server/src/gguf/reader";
import { writeRandomLlama } from "../../../server/src/modelgen";
import { tempDir } from "../../helpers/paths";
import { DirectModel } from "./llama-direct";

test("a random Q8_0 llama loads in node-llama-cpp, tokenizes words with ▁, and generates deterministically", async () => {
  const file = path.join(tempDir(), "r.gguf");
  const bytes = writeRandomLlama(file, { nEmbd: 64, nLayer: 2, nHead: 4, nFf: 128, vocabSize: 2000, type: "Q8_0" });
  assert.equal(bytes, fs.statSync(file).size);
  const f = ggufFacts(readGgufHeader(file));
  assert.equal(f.quant, "Q8_0");
  assert.equal(f.vocabSize ?? (readGgufHeader(file).metadata["tokenizer.ggml.tokens"] as string[]).length, 2000);
  const m = await DirectModel.open(file);
  try {
    const toks = m.model.tokenize("the people");
    assert.deepEqual(
      toks.map((t) => m.model.detokenize([t])).map((s) => s.trim()),
      ["the", "people"],
    );
    const a = await m.generate("the people of the water", 12);
    const b = await m.generate("the people of the water", 12);
    assert.ok(a.tokens.length > 0);
    assert.deepEqual(a, b);
  } finally {
    await m.dispose();
  }
});

test("sizes scale with the dimensions: an F16 model is about twice its Q8_0 sibling", () => {
  const dir = tempDir();
  const dims = { nEmbd: 128, nLayer: 2, nHead: 4, nFf: 256, vocabSize: 1000 };
  const q8 = writeRandomLlama(path.join(dir, "q8.gguf"), { ...dims, type: "Q8_0" });
  const f16 = writeRandomLlama(path.join(dir, "f16.gguf"), { ...dims, type: "F16" });
  assert.ok(f16 / q8 > 1.7 && f16 / q8 < 2, `${f16} / ${q8}`);
});

test("same dimensions and seed → byte-identical files; another seed → different weights", () => {
  const dir = tempDir();
  const dims = { nEmbd: 64, nLayer: 1, nHead: 2, nFf: 64, vocabSize: 600, type: "Q4_0" as const };
  writeRandomLlama(path.join(dir, "a.gguf"), dims);
  writeRandomLlama(path.join(dir, "b.gguf"), dims);
  writeRandomLlama(path.join(dir, "c.gguf"), { ...dims, seed: 2 });
  const read = (f: string) => fs.readFileSync(path.join(dir, f));
  assert.ok(read("a.gguf").equals(read("b.gguf")));
  assert.ok(!read("a.gguf").equals(read("c.gguf")));
  assert.equal(read("a.gguf").length, read("c.gguf").length);
});

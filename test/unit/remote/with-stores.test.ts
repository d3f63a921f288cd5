// A served variant in the same family as models from stores (a fake Ollama store and Hugging Face
// cache with the real quickstart GGUFs, test/helpers/model-stores.ts): each resolves as its own
// kind, the served one is never looked up in a store or de-duplicated against scanned files, and
// the network-free checks of both kinds report side by side. No endpoint is asked (the Workspace
// has no checkEndpoint), so nothing listens on the served URL.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { Workspace } from "../../../server/src/artifacts/workspace";
import { buildFakeStores, type FakeStores } from "../../helpers/model-stores";
import { tempDir } from "../../helpers/paths";

const BASE = tempDir("driftlens-remote-stores-");
let fake: FakeStores;

before(() => {
  fake = buildFakeStores(fs.mkdtempSync(path.join(BASE, "stores-")));
});

function workspace(yaml: string): { ws: Workspace; root: string } {
  const root = fs.mkdtempSync(path.join(BASE, "ws-"));
  fs.writeFileSync(path.join(root, "driftlens.yaml"), yaml);
  return { ws: new Workspace(root, { storeEnvironment: { env: {}, home: fake.home, platform: "linux" } }), root };
}

test("a served variant beside store variants and a store scan: each resolves as its kind, the served one stays served", async () => {
  const { ws, root } = workspace(
    [
      "models:",
      "  tiny:",
      "    reference: served",
      "    scan: hf:driftlens/tiny-GGUF",
      "    variants:",
      "      served:",
      "        endpoints: [http://127.0.0.1:9/v1]",
      "        model: tiny",
      "        revision: r1",
      "      local-q4: ollama:tiny:q4",
      "      f32: {ollama: 'tiny:f32'}",
      "",
    ].join("\n"),
  );
  assert.deepEqual(await ws.diagnose(path.join(root, "driftlens.yaml")), []);
  const byId = Object.fromEntries(ws.variants().map((v) => [v.id, v]));
  // The hub's q4_0 has the Ollama q4's bytes: listed once (on the Ollama variant); its q8_0 is new.
  assert.deepEqual(Object.keys(byId).sort(), ["tiny/f32", "tiny/local-q4", "tiny/q8_0", "tiny/served"]);
  const served = byId["tiny/served"]!;
  assert.deepEqual(served.remote?.endpoints, ["http://127.0.0.1:9/v1"]);
  assert.equal(served.remote?.model, "tiny");
  assert.equal(served.remote?.revision, "r1");
  assert.equal(served.origin, undefined);
  assert.equal(served.isReference, true);
  for (const id of ["tiny/f32", "tiny/local-q4", "tiny/q8_0"]) {
    assert.equal(byId[id]!.remote, undefined, id);
    assert.ok(fs.existsSync(byId[id]!.modelPath), `${id}: ${byId[id]!.modelPath}`);
    assert.equal(byId[id]!.referenceId, "tiny/served");
  }
  assert.equal(byId["tiny/local-q4"]!.origin?.store, "ollama");
  assert.ok(byId["tiny/local-q4"]!.also?.some((a) => a.origin?.store === "huggingface"), "the hub's copy of the same bytes is listed with the Ollama variant");
  const r = ws.resolveVariant("tiny/served");
  assert.equal(r.remote?.model, "tiny");
  assert.equal(r.modelPath, "http://127.0.0.1:9/v1");
});

test("served and store checks report side by side: a key in the file and a missing Ollama tag", async () => {
  const yaml = [
    "models:",
    "  tiny:",
    "    variants:",
    "      served:",
    "        endpoints: http://127.0.0.1:9/v1",
    "        apiKey: sk-not-a-real-key",
    "      gone: ollama:tiny:7b",
    "",
  ].join("\n");
  const { ws, root } = workspace(yaml);
  const diags = await ws.diagnose(path.join(root, "driftlens.yaml"));
  const codes = diags.map((d) => d.code).sort();
  assert.deepEqual(codes, ["DL125", "DL140"], JSON.stringify(diags));
  assert.throws(() => ws.resolveVariant("tiny/gone"), /not in Ollama's store/);
  assert.equal(ws.resolveVariant("tiny/served").remote?.endpoints[0], "http://127.0.0.1:9/v1");
});
